"""The billing landing bucket: which objects an event reports as landed, and their download.

Two event shapes report a landed file: S3 event notifications (`Records[].s3`, keys URL-encoded)
and S3 events through EventBridge (`detail-type: Object Created`, as template.yaml enables on the
landing bucket), read through Powertools' typed event classes. The object version named in the
event is read (the landing bucket is versioned), so a retried event reads the same bytes.

Defaults for files that lack a column come from object metadata: `x-amz-meta-tally-<column>` with
dashes for underscores, e.g. `x-amz-meta-tally-billing-currency: USD`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent

_CHUNK = 8 << 20
METADATA_PREFIX = "tally-"


@dataclass(frozen=True)
class LandedObject:
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def origin(self) -> str:
        return self.uri + (f"?versionId={self.version_id}" if self.version_id else "")


def landed_objects(event: Any) -> list[LandedObject]:
    """The objects an S3 notification or an EventBridge S3 event reports as created."""
    if not isinstance(event, dict):
        raise ValueError("event is not a JSON object")
    if event.get("source") == "aws.s3":
        bridged = S3EventBridgeNotificationEvent(event)
        if bridged.detail_type != "Object Created":
            return []
        obj = bridged.detail.object
        # EventBridge carries the key as is (not URL-encoded): read it raw, not through `.key`.
        return [LandedObject(bridged.detail.bucket.name, obj["key"], obj.get("version-id"))]
    if not isinstance(event.get("Records"), list):
        raise ValueError("event is neither an S3 notification nor an EventBridge S3 event")
    out: list[LandedObject] = []
    for record in S3Event(event).records:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
            "ObjectCreated"
        ):
            continue
        created = record.s3.get_object
        # S3 notifications URL-encode the key (a space arrives as '+').
        out.append(LandedObject(record.s3.bucket.name, unquote_plus(created.key), created.version_id))
    return out


@dataclass(frozen=True)
class Download:
    path: Path  # the object's bytes in a temporary folder, under the object's own file name
    metadata_defaults: dict[str, str]  # column -> value, from `x-amz-meta-tally-<column>`


class S3Landing:
    """Reads landed objects through an S3 client (boto3's, from the container)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @contextmanager
    def download(self, obj: LandedObject) -> Iterator[Download]:
        """The object, by the version the event names, saved to /tmp for as long as the block runs."""
        args: dict[str, str] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            args["VersionId"] = obj.version_id
        response = self.client.get_object(**args)
        metadata: dict[str, str] = response.get("Metadata") or {}
        defaults = {
            k.removeprefix(METADATA_PREFIX).replace("-", "_"): v
            for k, v in metadata.items()
            if k.lower().startswith(METADATA_PREFIX)
        }
        with tempfile.TemporaryDirectory(prefix="tally-billing-") as folder:
            path = Path(folder) / (obj.key.rsplit("/", 1)[-1] or "object")
            with path.open("wb") as fh:
                body = response["Body"]
                while chunk := body.read(_CHUNK):
                    fh.write(chunk)
            yield Download(path, defaults)
