"""AWS EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then
every read carries it in `X-aws-ec2-metadata-token` (IMDSv1 reads without a token are refused on
instances that require v2, and v2 works everywhere)."""

from __future__ import annotations

from typing import Dict

from tally_agent.vm.metadata_http import MetadataError, as_object, fetch, text

DEFAULT_URL = "http://169.254.169.254"
TOKEN_TTL_SECONDS = 300


def identify(base: str, timeout: float) -> Dict[str, str]:
    base = base.rstrip("/")
    token_body, _ = fetch(
        f"{base}/latest/api/token",
        {"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        timeout,
        method="PUT",
        data=b"",
    )
    token = token_body.decode("ascii", "replace").strip()
    if not token:
        raise MetadataError("IMDSv2 gave an empty token")
    auth = {"X-aws-ec2-metadata-token": token}
    where = f"{base}/latest/dynamic/instance-identity/document"
    body, _ = fetch(where, auth, timeout)
    document = as_object(body, where)
    # The Name tag is readable only when the instance allows tags in metadata: optional.
    try:
        name_body, _ = fetch(f"{base}/latest/meta-data/tags/instance/Name", auth, timeout)
        name = name_body.decode("utf-8", "replace").strip()
    except MetadataError:
        name = ""
    return {
        "provider": "aws",
        "account": text(document.get("accountId")),
        "instance_id": text(document.get("instanceId")),
        "region": text(document.get("region")),
        "instance_type": text(document.get("instanceType")),
        "image_id": text(document.get("imageId")),
        "vm_name": name,
    }
