"""Google Compute Engine metadata server: `GET /computeMetadata/v1/?recursive=true` with the
header `Metadata-Flavor: Google`; the real server answers with the same header, which tells it
apart from anything else listening on the address."""

from __future__ import annotations

from typing import Dict

from tally_agent.vm.metadata_http import MetadataError, as_object, fetch, text

DEFAULT_URL = "http://metadata.google.internal"


def _last(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def identify(base: str, timeout: float) -> Dict[str, str]:
    where = f"{base.rstrip('/')}/computeMetadata/v1/?recursive=true"
    body, headers = fetch(where, {"Metadata-Flavor": "Google"}, timeout)
    if headers.get("metadata-flavor") != "Google":
        raise MetadataError(f"{where}: answer lacks Metadata-Flavor: Google")
    document = as_object(body, where)
    instance = document.get("instance") or {}
    project = document.get("project") or {}
    zone = _last(text(instance.get("zone")))
    return {
        "provider": "gcp",
        "account": text(project.get("projectId")),
        "instance_id": text(instance.get("id")),
        "region": zone.rsplit("-", 1)[0] if zone.count("-") >= 2 else zone,
        "instance_type": _last(text(instance.get("machineType"))),
        "image_id": _last(text(instance.get("image"))),
        "vm_name": text(instance.get("name")),
    }
