"""Matching instances between a bill and the agent: provider names and resource ids to one key.

A bill names a VM by an AWS ARN or bare instance id, an Azure resource path (a VM, or a scale-set
instance `.../virtualMachineScaleSets/<set>/virtualMachines/<n>` or a set plus `x_vm_name`), or a
GCP global name (`//compute.googleapis.com/projects/p/zones/z/instances/<id>`). The agent reports
an instance id (and optionally a VM name). Both sides go through `instance_key`, so a bill line and
a sample of the same VM get the same key whichever spelling each side used.

The views take the key from athena_queries/views/instance_keys.sql, the same rules in SQL
(tests/reconcile/test_instance_keys_view.py holds the two to one answer for every spelling).
"""

from __future__ import annotations

import re

_PROVIDER_ALIASES: dict[str, str] = {
    "aws": "aws",
    "amazon": "aws",
    "amazon web services": "aws",
    "ec2": "aws",
    "azure": "azure",
    "microsoft": "azure",
    "microsoft azure": "azure",
    "gcp": "gcp",
    "google": "gcp",
    "google cloud": "gcp",
    "gce": "gcp",
}

_AWS_INSTANCE = re.compile(r"(?:^|[:/])(i-[0-9a-z]+)$", re.IGNORECASE)
_AZURE_SCALE_SET_VM = re.compile(
    r"/providers/microsoft\.compute/virtualmachinescalesets/([^/]+)/virtualmachines/([^/]+)$",
    re.IGNORECASE,
)
_AZURE_SCALE_SET = re.compile(
    r"/providers/microsoft\.compute/virtualmachinescalesets/([^/]+)$", re.IGNORECASE
)
_AZURE_VM = re.compile(r"/providers/microsoft\.compute/virtualmachines/([^/]+)$", re.IGNORECASE)
_GCP_INSTANCE = re.compile(r"/instances/([^/]+)$", re.IGNORECASE)
_PATH_LIKE = re.compile(r"[/:]")


def provider_key(name: str | None) -> str:
    """`aws`, `azure`, `gcp`, or the name itself in lower case for any other provider."""
    text = (name or "").strip().lower()
    return _PROVIDER_ALIASES.get(text, text)


def billed_instance_key(provider: str, resource_id: str | None, vm_name: str | None = None) -> str | None:
    """The instance a bill line is for, or None when the resource is not a VM instance."""
    if not resource_id:
        return None
    text = resource_id.strip().rstrip("/")
    if provider == "aws":
        match = _AWS_INSTANCE.search(text)
        return match.group(1).lower() if match else None
    if provider == "azure":
        match = _AZURE_SCALE_SET_VM.search(text)
        if match:
            return f"{match.group(1)}_{match.group(2)}".lower()
        match = _AZURE_VM.search(text)
        if match:
            return match.group(1).lower()
        if _AZURE_SCALE_SET.search(text):
            return vm_name.strip().lower() if vm_name and vm_name.strip() else None
        return None
    if provider == "gcp":
        match = _GCP_INSTANCE.search(text)
        if match:
            return match.group(1).lower()
        return None if _PATH_LIKE.search(text) else text.lower()
    # Other providers (FOCUS exports of smaller clouds): the last segment of a path, else the id.
    return measured_instance_key(provider, text)


def measured_instance_key(provider: str, instance_id: str | None) -> str | None:
    """The key of an instance id reported by the agent (which may itself be an ARN or a path)."""
    if not instance_id or not instance_id.strip():
        return None
    text = instance_id.strip().rstrip("/")
    if provider in ("aws", "azure", "gcp") and _PATH_LIKE.search(text):
        billed = billed_instance_key(provider, text)
        if billed is not None:
            return billed
    if "/" in text:
        text = text.rsplit("/", 1)[1]
    return text.lower()


def verdict_instance_key(kind: str, provider: str, resource_id: str) -> str:
    """The key a reconciliation row is matched by across runs (stored as its `instance_key`): an
    invoice row's invoice id; an instance-day's resource id reduced to the instance as an agent's
    id is (`measured_instance_key`), so a bill's ARN or resource path and the agent's bare id of
    the same VM get one key."""
    if kind == "invoice":
        return resource_id
    return measured_instance_key(provider, resource_id) or resource_id.lower()
