"""Billing files landed in the S3 landing bucket -> the `billing` table (the billing importer).

Nothing is dropped silently. A file that cannot be imported (unknown format, truncated, unreadable)
gets an error record under quarantine/billing/ and `BillingImportFailedError` is raised, so after
Lambda's retries the event lands in the function's dead-letter queue; the landing object stays
where it is. Rejected rows of a usable file are quarantined by the billing service and reported.

Ownership: landed files are the operator's deliveries (owner `@operator`, see
tally.services.billing): an account first stored here is the operator's, and a landed file holding
an account a site stored through the API is refused (quarantined as `not-owner`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tally.adapters.s3_landing import LandedObject, S3Landing
from tally.billing import BillingImportError
from tally.observability import logger
from tally.services.billing import BillingService, BillingStoreError, check_defaults


class BillingImportFailedError(RuntimeError):
    """At least one landed file could not be imported; the event should go to the DLQ."""


def skip_reason(obj: LandedObject) -> str | None:
    name = obj.key.rsplit("/", 1)[-1]
    if obj.key.endswith("/"):
        return "folder marker"
    if name.lower().endswith("manifest.json"):
        return "export manifest (the data files are imported as they land)"
    return None


class LandedBills:
    def __init__(self, billing: BillingService, landing: S3Landing) -> None:
        self.billing = billing
        self.landing = landing

    def import_all(self, objects: Iterable[LandedObject]) -> dict[str, list[dict[str, object]]]:
        """Import each object; raise once at the end if any failed (after recording each failure)."""
        results: list[dict[str, object]] = []
        failures: list[str] = []
        for obj in objects:
            try:
                results.append(self.import_object(obj))
            except BillingImportFailedError as exc:
                failures.append(str(exc))
        if failures:
            # Raise so Lambda retries and then sends the event to the dead-letter queue.
            raise BillingImportFailedError("; ".join(failures))
        return {"imported": results}

    def import_object(self, obj: LandedObject) -> dict[str, object]:
        """Download one landed object to /tmp and import it; raise after recording a failure."""
        reason = skip_reason(obj)
        if reason:
            logger.info("billing object skipped", extra={"object": obj.origin, "reason": reason})
            return {"object": obj.uri, "skipped": reason}
        fallback_id = hashlib.sha256(obj.origin.encode()).hexdigest()[:32]
        service = self.billing
        try:
            with self.landing.download(obj) as landed:
                defaults = check_defaults(landed.metadata_defaults)
                result = service.import_files([(landed.path, obj.uri)], defaults=defaults, origin=obj.origin)
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
