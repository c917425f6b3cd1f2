"""Azure Instance Metadata Service: `GET /metadata/instance?api-version=...` with the header
`Metadata: true` (requests without it, or without an api-version, are refused).

The instance id is the VM's ARM resource id (what cost exports name in ResourceId), falling back
to the vmId; the account is the subscription."""

from __future__ import annotations

from typing import Any, Dict
from urllib.parse import urlencode

from tally_agent.vm.metadata_http import MetadataError, fetch_json, text

DEFAULT_URL = "http://169.254.169.254"
DEFAULT_API_VERSION = "2021-02-01"


def _image(compute: Dict[str, Any]) -> str:
    reference = (compute.get("storageProfile") or {}).get("imageReference") or {}
    if text(reference.get("id")):
        return text(reference.get("id"))
    parts = [text(reference.get(k)) for k in ("publisher", "offer", "sku", "version")]
    return ":".join(parts) if any(parts) else ""


def identify(base: str, timeout: float, api_version: str = DEFAULT_API_VERSION) -> Dict[str, str]:
    query = urlencode({"api-version": api_version, "format": "json"})
    document = fetch_json(f"{base.rstrip('/')}/metadata/instance?{query}", {"Metadata": "true"}, timeout)
    compute = document.get("compute")
    if not isinstance(compute, dict):
        raise MetadataError("Azure IMDS answer has no compute section")
    return {
        "provider": "azure",
        "account": text(compute.get("subscriptionId")),
        "instance_id": text(compute.get("resourceId")) or text(compute.get("vmId")),
        "region": text(compute.get("location")),
        "instance_type": text(compute.get("vmSize")),
        "image_id": _image(compute),
        "vm_name": text(compute.get("name")),
    }
