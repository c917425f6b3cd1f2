"""Lambda entry point of the billing importer: a file lands in the billing landing bucket -> `billing`.

Triggers: S3 event notifications (`Records[].s3`, keys URL-encoded) and S3 events through
EventBridge (`detail-type: Object Created`, as template.yaml enables on the landing bucket). The
object version named in the event is read (the landing bucket is versioned), so a retried event
reads the same bytes, gets the same delivery id and writes the same keys: idempotent.

Nothing is dropped silently. A file that cannot be imported (unknown format, truncated, unreadable)
gets an error record under quarantine/billing/ and the invocation raises, so after Lambda's
retries the event lands in the function's dead-letter queue; the landing object stays where it is.
Rejected rows of a usable file are quarantined by the service and reported in the result.

Defaults for files that lack a column can be set as object metadata: `x-amz-meta-tally-<column>`
with dashes for underscores, e.g. `x-amz-meta-tally-billing-currency: USD`.

Ownership: landed files are the operator's deliveries (owner `@operator`, see
tally.services.billing): an account first stored here is the operator's, and a landed file holding
an account a site stored through the API is refused (quarantined as `not-owner`, sent to the DLQ).

Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE (account owners) and, only
for tests, TALLY_S3_ENDPOINT_URL and TALLY_DYNAMODB_ENDPOINT_URL.
Run it with reserved concurrency 1: restatements of one partition are not coordinated across
concurrent invocations (see tally.services.billing).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3

from tally.billing import BillingImportError
from tally.observability import lambda_entry, logger
from tally.services.billing import BillingService, BillingStoreError, check_defaults
from tally.services.container import Services
from tally.settings import Settings

_CHUNK = 8 << 20
_METADATA_PREFIX = "tally-"


class BillingImportFailedError(RuntimeError):
    """At least one landed file could not be imported; the event should go to the DLQ."""


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
        if event.get("detail-type") != "Object Created":
            return []
        detail = event["detail"]
        obj = detail["object"]
        # EventBridge carries the key as is (not URL-encoded).
        return [LandedObject(detail["bucket"]["name"], obj["key"], obj.get("version-id"))]
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("event is neither an S3 notification nor an EventBridge S3 event")
    out: list[LandedObject] = []
    for record in records:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
            "ObjectCreated"
        ):
            continue
        s3 = record["s3"]
        # S3 notifications URL-encode the key (a space arrives as '+').
        key = unquote_plus(s3["object"]["key"])
        out.append(LandedObject(s3["bucket"]["name"], key, s3["object"].get("versionId")))
    return out


@cache
def _settings() -> Settings:
    return Settings()


@cache
def _service() -> BillingService:
    return Services(_settings()).billing


def _s3() -> Any:
    settings = _settings()
    return boto3.client("s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url)


def _skip_reason(obj: LandedObject) -> str | None:
    name = obj.key.rsplit("/", 1)[-1]
    if obj.key.endswith("/"):
        return "folder marker"
    if name.lower().endswith("manifest.json"):
        return "export manifest (the data files are imported as they land)"
    return None


def import_object(obj: LandedObject, service: BillingService | None = None) -> dict[str, object]:
    """Download one landed object to /tmp and import it; raise after recording a failure."""
    service = service or _service()
    reason = _skip_reason(obj)
    if reason:
        logger.info("billing object skipped", extra={"object": obj.origin, "reason": reason})
        return {"object": obj.uri, "skipped": reason}
    fallback_id = hashlib.sha256(obj.origin.encode()).hexdigest()[:32]
    try:
        args: dict[str, str] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            args["VersionId"] = obj.version_id
        response = _s3().get_object(**args)
        metadata: dict[str, str] = response.get("Metadata") or {}
        defaults = check_defaults(
            {
                k.removeprefix(_METADATA_PREFIX).replace("-", "_"): v
                for k, v in metadata.items()
                if k.lower().startswith(_METADATA_PREFIX)
            }
        )
        with tempfile.TemporaryDirectory(prefix="tally-billing-") as folder:
            path = Path(folder) / (obj.key.rsplit("/", 1)[-1] or "object")
            with path.open("wb") as fh:
                body = response["Body"]
                while chunk := body.read(_CHUNK):
                    fh.write(chunk)
            result = service.import_files([(path, obj.uri)], defaults=defaults, origin=obj.origin)
    except (BillingImportError, BillingStoreError) as exc:
        key = service.record_failure(fallback_id, obj.uri, exc, origin=obj.origin)
        logger.error(
            "billing file refused", extra={"object": obj.origin, "error": str(exc), "quarantine": key}
        )
        raise BillingImportFailedError(f"{obj.origin}: {exc}") from exc
    except Exception as exc:
        key = service.record_failure(fallback_id, obj.uri, exc, origin=obj.origin)
        logger.exception("billing import failed", extra={"object": obj.origin, "quarantine": key})
        raise BillingImportFailedError(f"{obj.origin}: {type(exc).__name__}: {exc}") from exc
    summary: dict[str, object] = {
        "object": obj.uri,
        "delivery_id": result.delivery_id,
        "source_format": result.source_format,
        "provider": result.provider,
        "billing_periods": result.billing_periods,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "replaced": [
            f"{p.provider}/{p.billing_account_id}/{p.billing_period}" for p in result.periods_replaced
        ],
        "actions": {
            f"{p.provider}/{p.billing_account_id}/{p.billing_period}": p.action for p in result.partitions
        },
        "quarantine_key": result.quarantine_key,
    }
    if result.rejected and not result.accepted:
        logger.warning("every row of the billing file was rejected", extra=summary)
    else:
        logger.info("billing file imported", extra=summary)
    return summary


def import_landed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results: list[dict[str, object]] = []
    failures: list[str] = []
    for obj in landed_objects(event):
        try:
            results.append(import_object(obj))
        except BillingImportFailedError as exc:
            failures.append(str(exc))
    if failures:
        # Raise so Lambda retries and then sends the event to the dead-letter queue.
        raise BillingImportFailedError("; ".join(failures))
    return {"imported": results}


handler = lambda_entry(import_landed, correlation_path=None)
