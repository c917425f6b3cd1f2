"""Result types of a billing import: the accepted table, the rejects, and what the file replaces."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


class BillingImportError(ValueError):
    """The file as a whole cannot be imported (unknown format, empty, unreadable, truncated).

    `code` is stable and machine-readable (for a problem+json `type`), the message is for humans.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: a FOCUS validator rule id (e.g. "BilledCost-C-004-M") and what was wrong."""

    rule_id: str
    description: str


@dataclass(frozen=True, slots=True)
class Reject:
    """A source row that was not accepted, with every rule it broke and the raw values as read."""

    source_file: str
    source_row: int
    violations: tuple[Violation, ...]
    raw: dict[str, str | None]

    @property
    def rule_id(self) -> str:
        return self.violations[0].rule_id

    @property
    def reason(self) -> str:
        return "; ".join(f"{v.rule_id}: {v.description}" for v in self.violations)


@dataclass(frozen=True, slots=True)
class BillingImport:
    """The outcome of importing one file.

    `table` follows `BILLING_SCHEMA`. `partitions` are the (provider, billing_account_id,
    billing_period) keys present in the accepted rows: storing this import replaces exactly these
    partitions (restatement). `provider` is the only provider of the file, or "mixed" when a FOCUS
    file holds several (see `providers`).
    """

    table: pa.Table
    rejects: list[Reject]
    source_format: str
    provider: str
    billing_periods: set[str]
    source_file: str
    source_rows: int
    providers: frozenset[str] = frozenset()
    partitions: frozenset[tuple[str, str, str]] = frozenset()
    warnings: list[str] = field(default_factory=list)

    @property
    def accepted_rows(self) -> int:
        """Accepted source rows (derived credit lines do not count)."""
        import pyarrow.compute as pc

        if self.table.num_rows == 0:
            return 0
        return int(pc.sum(pc.equal(self.table["source_subrow"], 0)).as_py() or 0)
