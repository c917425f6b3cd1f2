"""One billing delivery: its identity, the defaults it may carry, and what storing it did.

A delivery is one file, or the parts of one export stored together. Its id is derived from the
bytes of its files (in any order) and the defaults applied, so a retried delivery is recognised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import orjson
import pyarrow as pa

from tally.billing.focus_schema import STRING_COLUMNS
from tally.billing.model import Reject
from tally.domain.control import BillingAccount

#: Per-row errors listed in an answer; the quarantine file keeps every one.
MAX_ERRORS_IN_RESPONSE = 1000
#: Columns a caller may give defaults for (strings the file may lack; never provenance).
DEFAULTABLE_COLUMNS: frozenset[str] = frozenset(STRING_COLUMNS) - {
    "source_file",
    "source_format",
    "billing_period",
}
_HASH_CHUNK = 1 << 20

Action = Literal["stored", "replaced", "unchanged", "stale"]


class BillingStoreError(ValueError):
    """A delivery that cannot be stored as a whole (bad defaults, a partition value unfit for a key)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BillingOwnershipError(BillingStoreError):
    """The delivery holds billing accounts that belong to another owner: nothing was written."""

    def __init__(self, owner: str, foreign: list[BillingAccount]) -> None:
        names = ", ".join(f"{a.provider}/{a.billing_account_id}" for a in foreign)
        super().__init__(
            "not-owner",
            f"billing account(s) {names} belong to another owner than {owner!r}: a billing account "
            "can be restated only by the site that first stored it",
        )
        self.owner = owner
        self.foreign = foreign


@dataclass(frozen=True)
class PartitionOutcome:
    """What happened to one restatement partition (provider, billing_account_id, billing_period)."""

    provider: str
    billing_account_id: str
    billing_period: str
    rows: int
    action: Action
    keys: list[str]
    replaced_deliveries: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)


@dataclass
class BillingStoreResult:
    """The outcome of one delivery (one file, or the parts of one export stored together)."""

    delivery_id: str
    source_files: list[str]
    source_format: str
    provider: str
    billing_periods: list[str]
    source_rows: int
    accepted: int
    rejected: int
    partitions: list[PartitionOutcome]
    rejects: list[Reject]
    warnings: list[str]
    quarantine_key: str | None

    @property
    def periods_replaced(self) -> list[PartitionOutcome]:
        """Partitions whose previous data this delivery replaced."""
        return [p for p in self.partitions if p.action == "replaced"]

    @property
    def replayed(self) -> bool:
        """True when every partition already held this very delivery (a retry)."""
        return bool(self.partitions) and all(p.action == "unchanged" for p in self.partitions)

    def errors(self, limit: int = MAX_ERRORS_IN_RESPONSE) -> list[dict[str, object]]:
        """Rejected rows, one entry per row with every rule it broke (at most `limit`)."""
        return [
            {
                "source_file": r.source_file,
                "source_row": r.source_row,
                "violations": [{"rule_id": v.rule_id, "description": v.description} for v in r.violations],
            }
            for r in self.rejects[:limit]
        ]


def file_digest(data: bytes | pa.Buffer) -> str:
    """sha256 of a file's bytes (in slices of a mapped file, never copied whole)."""
    digest = hashlib.sha256()
    view = memoryview(data)
    for start in range(0, len(view), _HASH_CHUNK):
        digest.update(view[start : start + _HASH_CHUNK])
    return digest.hexdigest()


def delivery_id_for(digests: Iterable[str], defaults: Mapping[str, str]) -> str:
    """The id of a delivery: its files' content digests (in any order) and the defaults applied."""
    digest = hashlib.sha256(b"tally-billing-delivery\0")
    for part in sorted(digests):
        digest.update(part.encode() + b"\0")
    digest.update(orjson.dumps(dict(sorted(defaults.items()))))
    return digest.hexdigest()[:32]


def check_defaults(defaults: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (defaults or {}).items():
        if name not in DEFAULTABLE_COLUMNS:
            raise BillingStoreError(
                "bad-default", f"no default can be given for {name!r}: use one of the billing string columns"
            )
        if not value.strip():
            raise BillingStoreError("bad-default", f"the default for {name!r} is empty")
        out[name] = value.strip()
    return out
