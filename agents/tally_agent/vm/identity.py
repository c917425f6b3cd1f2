"""Which instance this is: from a metadata service, a config drive, or the `[vm]` config.

`provider` in `[vm]` chooses: `auto` (default: the config drive if mounted, then AWS, Azure, GCP
and OpenStack over HTTP, first answer wins), one of `aws`, `azure`, `gcp`, `openstack` (only that
service), or any other name (e.g. `opennebula`): no metadata service, everything from config.
Fields set in `[vm]` or with `-o vm.NAME=VALUE` (account, instance_id, region, instance_type,
image_id, vm_name, project, vo, global_user) override what a service said; with a named provider
and account and instance_id set, a metadata service that does not answer is only a warning.
Service URLs: `aws_url`, `azure_url`, `gcp_url`, `openstack_url`, `config_drive`;
`azure_api_version`; `metadata_timeout` (seconds).
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Tuple

from tally_agent.config import ConfigError
from tally_agent.vm import aws, azure, gcp, openstack
from tally_agent.vm.metadata_http import MetadataError

log = logging.getLogger("tally_agent")
DISCOVERED = ("provider", "account", "instance_id", "region", "instance_type", "image_id", "vm_name")
CONFIGURED = (*DISCOVERED, "project", "vo", "global_user")
REQUIRED = ("provider", "account", "instance_id")
SERVICES = ("aws", "azure", "gcp", "openstack")

Probe = Callable[[], Dict[str, str]]


def _probes(options: Dict[str, str]) -> Dict[str, List[Tuple[str, Probe]]]:
    timeout = float(options.get("metadata_timeout") or 2.0)
    drive = options.get("config_drive") or openstack.DEFAULT_CONFIG_DRIVE
    aws_url = options.get("aws_url") or aws.DEFAULT_URL
    azure_url = options.get("azure_url") or azure.DEFAULT_URL
    version = options.get("azure_api_version") or azure.DEFAULT_API_VERSION
    gcp_url = options.get("gcp_url") or gcp.DEFAULT_URL
    openstack_url = options.get("openstack_url") or openstack.DEFAULT_URL
    return {
        "aws": [("aws imds", lambda: aws.identify(aws_url, timeout))],
        "azure": [("azure imds", lambda: azure.identify(azure_url, timeout, version))],
        "gcp": [("gcp metadata", lambda: gcp.identify(gcp_url, timeout))],
        "openstack": [
            ("openstack config drive", lambda: openstack.from_config_drive(drive)),
            ("openstack metadata", lambda: openstack.identify(openstack_url, timeout)),
        ],
    }


def discover(provider: str, options: Dict[str, str]) -> Dict[str, str]:
    """What the metadata service(s) say; {} for a provider that has none."""
    probes = _probes(options)
    if provider == "auto":
        order = [
            probes["openstack"][0],
            *probes["aws"],
            *probes["azure"],
            *probes["gcp"],
            probes["openstack"][1],
        ]
    elif provider in probes:
        order = probes[provider]
    else:
        return {}
    failures: List[str] = []
    for name, probe in order:
        try:
            found = probe()
        except MetadataError as exc:
            failures.append(f"{name}: {exc}")
            log.debug("%s: %s", name, exc)
            continue
        if found.get("account") or found.get("instance_id"):
            log.info("instance identity from %s", name)
            return {k: v for k, v in found.items() if v}
        failures.append(f"{name}: no instance id or account in the answer")
    raise ConfigError(
        "no metadata service answered (" + "; ".join(failures) + "); set [vm] provider/account/instance_id"
    )


def resolve(options: Dict[str, str], cached: Dict[str, str]) -> Tuple[Dict[str, str], Dict[str, str]]:
    """(identity fields for the record, discovered fields to cache for this boot)."""
    provider = (options.get("provider") or "auto").strip().lower()
    configured = {k: options[k].strip() for k in CONFIGURED if k != "provider" and options.get(k, "").strip()}
    if provider in ("auto", *SERVICES):
        usable = cached and (provider == "auto" or cached.get("provider") == provider)
        try:
            found = dict(cached) if usable else discover(provider, options)
        except ConfigError as exc:
            # A named provider whose account and instance id are configured needs no answer.
            if provider == "auto" or not all(configured.get(k) for k in REQUIRED if k != "provider"):
                raise
            log.warning("%s; using the [vm] account and instance_id", exc)
            found = {"provider": provider}
    else:
        found = {"provider": provider}
    identity = dict(found)
    identity.update(configured)
    missing = [k for k in REQUIRED if not identity.get(k)]
    if missing:
        raise ConfigError(f"VM identity incomplete: set {', '.join(missing)} in [vm]")
    return identity, found
