"""A batch of raw rows as a provider mapper sees it: columns looked up by canonical name, cleaned once.

Canonical names ignore case and punctuation, so `lineItem/UsageStartDate` (legacy CUR),
`line_item_usage_start_date` (CUR 2.0, Athena), `SubscriptionGuid` and `subscriptionGuid` (Azure)
or `service.description` (GCP) are found by the same key.

Azure's localised cost exports name each column in the portal's language with the English name in
parentheses (`Maßeinheit (UnitOfMeasure)`, `UsageQuantity (UsageQuantity)`); such a column is also
found by its English name. An exact name in the file wins over a parenthesised alias.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.readers import ROW_COLUMN
from tally.billing.values import clean

if TYPE_CHECKING:
    from tally.billing.rules import Checked

_NON_ALNUM = re.compile(r"[^a-z0-9]")
#: "<localised name> (<EnglishName>)": Azure's bilingual and translated export headers.
_BILINGUAL = re.compile(r"^\s*\S.*?\s*\(\s*([A-Za-z][A-Za-z0-9]*)\s*\)\s*$")


def canon(name: str) -> str:
    return _NON_ALNUM.sub("", name.lower())


def english_alias(name: str) -> str | None:
    """The English column name of a localised header (`Maßeinheit (UnitOfMeasure)` -> UnitOfMeasure)."""
    match = _BILINGUAL.match(name)
    return match.group(1) if match else None


def header_keys(names: list[str]) -> dict[str, int]:
    """Canonical key -> index of the column: exact names first, then the English aliases."""
    keys: dict[str, int] = {}
    for i, name in enumerate(names):
        keys.setdefault(canon(name), i)
    for i, name in enumerate(names):
        alias = english_alias(name)
        if alias is not None:
            keys.setdefault(canon(alias), i)
    return keys


@dataclass
class Mapped:
    """What a provider mapper returns for one batch.

    `columns` holds output columns by schema name, as cleaned strings or already typed arrays
    (the conformer converts strings). `row_index`, when set, says which input row each output row
    comes from (a mapper may emit several lines per input row, e.g. GCP credits); `subrow` numbers
    them. `quirks` are (mask, note) repairs; `violations` (rule id, detail, mask) reject rows.
    """

    columns: dict[str, pa.Array | None]
    provider: pa.Array
    row_index: pa.Array | None = None
    subrow: pa.Array | None = None
    quirks: list[tuple[pa.Array, str]] = field(default_factory=list)
    violations: list[tuple[str, str, pa.Array]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Derive `provider` from the final provider_name (after defaults), as FOCUS files name it per row.
    provider_from_name: bool = False
    #: Called with the typed columns before rules are applied (repairs needing decimals).
    repair: Callable[[Checked], None] | None = None
    #: Exact text of typed decimal columns the mapper had to round to 18 places (null where exact).
    exact: dict[str, pa.Array] = field(default_factory=dict)


@dataclass
class FileContext:
    """File-level facts a mapper may need and state it keeps across batches."""

    source_file: str
    source_format: str
    state: dict[str, object] = field(default_factory=dict)


class Frame:
    """Read access to one raw batch."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.num_rows = batch.num_rows
        self.names: list[str] = [n for n in batch.schema.names if n != ROW_COLUMN]
        names = batch.schema.names
        self._by_canon: dict[str, int] = {
            key: i for key, i in header_keys(names).items() if names[i] != ROW_COLUMN
        }
        self._clean: dict[int, pa.Array] = {}

    @property
    def source_rows(self) -> pa.Array:
        return self.batch.column(ROW_COLUMN)

    def has(self, *names: str) -> bool:
        return any(canon(n) in self._by_canon for n in names)

    def raw(self, name: str) -> pa.Array | None:
        i = self._by_canon.get(canon(name))
        return None if i is None else self.batch.column(i)

    def get(self, *names: str) -> pa.Array | None:
        """The cleaned column of the first name present (None when none is)."""
        for name in names:
            i = self._by_canon.get(canon(name))
            if i is not None:
                if i not in self._clean:
                    self._clean[i] = clean(self.batch.column(i))
                return self._clean[i]
        return None

    def coalesce(self, *names: str) -> pa.Array | None:
        """Element-wise first non-null of all the named columns that are present."""
        arrays = [a for a in (self.get(n) for n in names) if a is not None]
        if not arrays:
            return None
        return arrays[0] if len(arrays) == 1 else pc.coalesce(*arrays)

    def columns_with_prefix(self, *prefixes: str) -> list[tuple[str, pa.Array]]:
        """(original name, cleaned column) for columns whose name starts with a prefix (case-insensitive)."""
        lowered = tuple(p.lower() for p in prefixes)
        out: list[tuple[str, pa.Array]] = []
        for i, name in enumerate(self.batch.schema.names):
            if name != ROW_COLUMN and name.lower().startswith(lowered):
                if i not in self._clean:
                    self._clean[i] = clean(self.batch.column(i))
                out.append((name, self._clean[i]))
        return out
