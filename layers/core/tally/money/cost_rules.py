"""The tag-to-project mapping of commercial-cloud cost: which tag keys name a line's project, in
priority order, and how tag values translate to Tally projects.

Stored as one small Parquet file, `money/cost_attribution/rules.parquet` (the Athena table
`cost_attribution`, read by the `cloud_cost_attributed` view), replaced whole under a control-store
lease as the price list is. One row per rule: a `key` rule holds a tag key, its priority (0 first)
and the regular expression that finds its value in a line's tags (FOCUS KeyValueFormat JSON text,
as the importers normalise every provider's tags); a `value` rule maps one tag value to a project.
Tag keys and values match whatever their case ("Project", "project", "PROJECT" are one key).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tally.domain.ports import Leases, Warehouse
from tally.money.leases import holding

RULES_KEY = "money/cost_attribution/rules.parquet"
MAX_KEYS = 20
MAX_VALUES = 10_000
#: Printable text without quotes or backslashes: a key is matched inside JSON text, and a key that
#: needed JSON escapes would be written differently there than here.
KEY_TEXT = r'^[^"\\\x00-\x1f]{1,128}$'
Text = Annotated[str, Field(min_length=1, max_length=256)]
#: What a regular expression reads as syntax; escaped with a backslash, which RE2 and Joni read alike.
REGEX_SPECIAL = frozenset(".^$|?*+()[]{}/-")


def key_pattern(tag_key: str) -> str:
    """The pattern that captures the tag's value in a JSON object's text, whatever the key's case.
    Both engines read it the same: RE2 (DuckDB) and Joni (Athena) take (?i), escapes and groups."""
    escaped = "".join("\\" + c if c in REGEX_SPECIAL else c for c in tag_key)
    return '(?i)"' + escaped + r'"\s*:\s*"((?:[^"\\]|\\.)+)"'


class CostAttribution(BaseModel):
    """`tag_keys`: the tag keys naming a line's project, the first present one wins; `values`: tag
    value -> Tally project (a value without an entry is the project's name as tagged)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arrow_schema: ClassVar[pa.Schema] = pa.schema(
        [
            ("rule", pa.string()),
            ("priority", pa.int32()),
            ("tag_key", pa.string()),
            ("key_pattern", pa.string()),
            ("tag_value", pa.string()),
            ("project", pa.string()),
            ("updated_at", pa.timestamp("us", tz="UTC")),
        ]
    )

    tag_keys: Annotated[list[Annotated[str, Field(pattern=KEY_TEXT)]], Field(max_length=MAX_KEYS)] = []
    values: Annotated[dict[Text, Text], Field(max_length=MAX_VALUES)] = {}
    updated_at: datetime | None = None

    @field_validator("tag_keys")
    @classmethod
    def _distinct_keys(cls, keys: list[str]) -> list[str]:
        keys = [k.strip() for k in keys]
        folded = [k.casefold() for k in keys]
        if any(not k for k in keys):
            raise ValueError("a tag key is empty")
        if len(set(folded)) != len(folded):
            raise ValueError("a tag key is named twice (keys match whatever their case)")
        return keys

    @field_validator("values")
    @classmethod
    def _distinct_values(cls, values: dict[str, str]) -> dict[str, str]:
        cleaned = {k.strip(): v.strip() for k, v in values.items()}
        if any(not k or not v for k, v in cleaned.items()):
            raise ValueError("a tag value or project is empty")
        folded = [k.casefold() for k in cleaned]
        if len(set(folded)) != len(folded):
            raise ValueError("a tag value is mapped twice (values match whatever their case)")
        return cleaned

    def rows(self, now: datetime) -> list[dict[str, object]]:
        keys = [
            {"rule": "key", "priority": n, "tag_key": k, "key_pattern": key_pattern(k), "updated_at": now}
            for n, k in enumerate(self.tag_keys)
        ]
        # Values are stored case-folded: the view compares them with lower(value).
        values = [
            {"rule": "value", "tag_value": k.lower(), "project": v, "updated_at": now}
            for k, v in sorted(self.values.items())
        ]
        return [*keys, *values]


class CostRuleStore:
    def __init__(self, warehouse: Warehouse, leases: Leases) -> None:
        self.warehouse = warehouse
        self.leases = leases
        self._lock = threading.Lock()

    def get(self) -> CostAttribution:
        """The stored mapping (none stored: no tag keys, so cost is attributed by VM or untagged)."""
        if not self.warehouse.exists(RULES_KEY):
            return CostAttribution()
        rows = pq.read_table(pa.BufferReader(self.warehouse.get_bytes(RULES_KEY))).to_pylist()
        keys = sorted((r for r in rows if r["rule"] == "key"), key=lambda r: r["priority"])
        return CostAttribution(
            tag_keys=[r["tag_key"] for r in keys],
            values={r["tag_value"]: r["project"] for r in rows if r["rule"] == "value"},
            updated_at=rows[0]["updated_at"] if rows else None,
        )

    def put(self, mapping: CostAttribution, now: datetime | None = None) -> CostAttribution:
        stamp = now or datetime.now(UTC)
        table = pa.Table.from_pylist(mapping.rows(stamp), schema=CostAttribution.arrow_schema)
        with self._lock, holding(self.leases, "money/cost_attribution"):
            self.warehouse.write_parquet(RULES_KEY, table)
        return self.get()
