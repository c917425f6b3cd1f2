"""Raw logs too big for the API, delivered to the landing bucket under `logs/`.

Key layout: `logs/<site>/<source>/<resource>/<file>` (e.g. `logs/NORTH-HPC/slurm/hex/2026-03.txt.gz`);
the operator's copy job (or a site given write access to its own `logs/<site>/` prefix) puts them
there. Object metadata may give the parse options: `x-amz-meta-tally-fields` (Slurm's --format list)
and `x-amz-meta-tally-timezone`. The object version the event names is read, so a retried event
reads the same bytes and writes nothing new (the ingest is content-addressed).

A file that cannot be imported (a key outside the layout, an unknown site or source, nothing
recognised) gets an error record under `quarantine/logs/_failed/` and raises, so the event ends in
the function's dead-letter queue; lines the parser cannot read are quarantined as for the API.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson

from tally.domain.control import RECORDS_WRITE
from tally.logs.parse import LOG_SOURCES, LogFormatError
from tally.services.container import Services
from tally.services.ingest import Principal

PREFIX = "logs/"
FAILED_PREFIX = "quarantine/logs/_failed"
_METADATA = "tally-"


class LogLandingError(RuntimeError):
    """A landed log could not be imported; its event should end in the dead-letter queue."""


@dataclass(frozen=True)
class LandedLog:
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def origin(self) -> str:
        return f"s3://{self.bucket}/{self.key}" + (f"?versionId={self.version_id}" if self.version_id else "")

    def parts(self) -> tuple[str, str, str]:
        """(site, source, resource) from the key, or LogLandingError."""
        pieces = self.key.removeprefix(PREFIX).split("/")
        if not self.key.startswith(PREFIX) or len(pieces) != 4 or not all(pieces):
            raise LogLandingError(f"{self.origin}: not a log key (logs/<site>/<source>/<resource>/<file>)")
        site, source, resource, _name = pieces
        if source not in LOG_SOURCES:
            raise LogLandingError(f"{self.origin}: unknown log source {source!r}")
        return site, source, resource


def landed_logs(event: Any) -> list[LandedLog]:
    """The objects an EventBridge S3 event or an S3 notification reports as created under logs/."""
    if not isinstance(event, dict):
        raise LogLandingError("event is not a JSON object")
    if event.get("source") == "aws.s3":
        if event.get("detail-type") != "Object Created":
            return []
        detail = event["detail"]
        found = [
            LandedLog(detail["bucket"]["name"], detail["object"]["key"], detail["object"].get("version-id"))
        ]
    else:
        found = [
            LandedLog(
                r["s3"]["bucket"]["name"],
                unquote_plus(r["s3"]["object"]["key"]),
                r["s3"]["object"].get("versionId"),
            )
            for r in event.get("Records") or []
            if r.get("eventSource") == "aws:s3" and str(r.get("eventName", "")).startswith("ObjectCreated")
        ]
    return [log for log in found if log.key.startswith(PREFIX) and not log.key.endswith("/")]


def import_landed(log: LandedLog, svc: Services, s3: Any) -> dict[str, object]:
    """Fetch one landed log and import it for the site its key names; raise after recording a failure."""
    try:
        site, source, resource = log.parts()
        if svc.control.get_site(site) is None:
            raise LogLandingError(f"{log.origin}: no site named {site!r}")
        args = {
            "Bucket": log.bucket,
            "Key": log.key,
            **({"VersionId": log.version_id} if log.version_id else {}),
        }
        response = s3.get_object(**args)
        meta = {k.lower().removeprefix(_METADATA): v for k, v in (response.get("Metadata") or {}).items()}
        data = response["Body"].read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        who = Principal(site, "@landing", (), frozenset({RECORDS_WRITE}))
        result = svc.logs.import_log(source, data, who, resource, meta.get("fields"), meta.get("timezone"))
    except (LogLandingError, LogFormatError, OSError, EOFError) as exc:
        _record_failure(svc, log, str(exc))
        raise LogLandingError(f"{log.origin}: {exc}") from exc
    return {
        "object": log.origin,
        "site": site,
        "source": source,
        "resource": resource,
        "log_id": result.log_id,
        "records": result.records,
        "accepted": result.accepted,
        "unparsable": result.unparsable,
        "replayed": result.replayed,
        "quarantine_key": result.quarantine_key,
    }


def _record_failure(svc: Services, log: LandedLog, reason: str) -> None:
    name = hashlib.sha256(log.origin.encode()).hexdigest()[:32]
    entry = {"object": log.origin, "failed_at": datetime.now(UTC).isoformat(), "reason": reason}
    svc.warehouse.put_bytes(f"{FAILED_PREFIX}/{name}.json", orjson.dumps(entry))
