"""OpenStack Nova metadata: `openstack/latest/meta_data.json`, from a mounted config drive (no
network needed) or over HTTP. The flavor is not in meta_data.json; Nova's EC2-compatible
`latest/meta-data/instance-type` names it when the HTTP service is there; with a config drive it
comes from the `[vm]` config (`instance_type = ...`) if wanted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

from tally_agent.vm.metadata_http import MetadataError, fetch, fetch_json, text

DEFAULT_URL = "http://169.254.169.254"
DEFAULT_CONFIG_DRIVE = "/mnt/config"
META_DATA = "openstack/latest/meta_data.json"


def _identity(document: Dict[str, Any]) -> Dict[str, str]:
    return {
        "provider": "openstack",
        "account": text(document.get("project_id")),
        "instance_id": text(document.get("uuid")),
        "region": text(document.get("availability_zone")),
        "instance_type": "",
        "image_id": "",
        "vm_name": text(document.get("name")),
    }


def from_config_drive(mount: str) -> Dict[str, str]:
    path = Path(mount) / META_DATA
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MetadataError(f"no config drive at {mount}") from exc
    except (OSError, ValueError) as exc:
        raise MetadataError(f"{path}: {exc}") from exc
    if not isinstance(document, dict):
        raise MetadataError(f"{path}: not a JSON object")
    return _identity(document)


def identify(base: str, timeout: float) -> Dict[str, str]:
    base = base.rstrip("/")
    identity = _identity(fetch_json(f"{base}/{META_DATA}", {}, timeout))
    if not identity["instance_type"]:
        try:
            body, _ = fetch(f"{base}/latest/meta-data/instance-type", {}, timeout)
            identity["instance_type"] = body.decode("utf-8", "replace").strip()
        except MetadataError:
            pass
    return identity
