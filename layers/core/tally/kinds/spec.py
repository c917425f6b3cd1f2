"""A custom kind's definition, the rules its names obey, and which changes to it are allowed.

Names become Parquet columns, DuckDB view names and Glue table names, so they are strict
identifiers (lower-case letter first, then letters, digits and `_`, at most 63), never an SQL
keyword, never a column Tally sets itself; nothing else can reach a query.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FieldType = Literal["string", "integer", "number", "boolean", "timestamp"]
#: Fields every custom record has: the fence (site, resource) like the built-in kinds.
IMPLICIT_FIELDS: dict[str, FieldType] = {"site": "string", "resource": "string"}
#: Columns the server sets, the layout uses, or a kind's report names (its event time, the
#: record count metric, the rank that keeps the latest record of an identity).
SERVER_COLUMNS = frozenset({"ingested_at", "batch_id", "dt", "event_time", "records", "tally_rank"})
#: SQL keywords of Trino and DuckDB that cannot be bare identifiers (and a few easily confused).
RESERVED = frozenset(
    [
        "all",
        "alter",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "between",
        "both",
        "by",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "cross",
        "cube",
        "current",
        "current_date",
        "current_time",
        "current_timestamp",
        "current_user",
        "deallocate",
        "default",
        "delete",
        "desc",
        "describe",
        "distinct",
        "drop",
        "else",
        "end",
        "escape",
        "except",
        "execute",
        "exists",
        "extract",
        "false",
        "fetch",
        "filter",
        "for",
        "foreign",
        "from",
        "full",
        "function",
        "grant",
        "group",
        "grouping",
        "having",
        "in",
        "inner",
        "insert",
        "intersect",
        "interval",
        "into",
        "is",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "normalize",
        "not",
        "null",
        "of",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "over",
        "partition",
        "pivot",
        "prepare",
        "primary",
        "qualify",
        "recursive",
        "references",
        "returning",
        "right",
        "rollup",
        "row",
        "rows",
        "select",
        "session_user",
        "set",
        "some",
        "symmetric",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "uescape",
        "union",
        "unique",
        "unnest",
        "unpivot",
        "update",
        "user",
        "using",
        "values",
        "view",
        "when",
        "where",
        "window",
        "with",
    ]
)
#: Names of the built-in tables and views a kind may not shadow.
TAKEN_NAMES = frozenset(
    {
        "jobs",
        "vms",
        "storage",
        "accelerators",
        "billing",
        "reconciliation",
        "summaries",
        "syncs",
        "grid_identities",
    }
)


def check_identifier(name: str, what: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(
            f"{what} {name[:80]!r} is not a valid name: a lower-case letter, then lower-case letters, "
            "digits or `_`, at most 63 characters"
        )
    if name in RESERVED:
        raise ValueError(f"{what} {name!r} is an SQL keyword: choose another name")
    return name


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: FieldType
    unit: str | None = Field(default=None, max_length=64, description="e.g. `seconds`, `bytes`, `kWh`.")
    description: str | None = Field(default=None, max_length=1024)
    required: bool = Field(default=False, description="A record lacking it is rejected.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        check_identifier(value, "field name")
        if value in IMPLICIT_FIELDS or value in SERVER_COLUMNS:
            raise ValueError(
                f"field name {value!r} is set by Tally: every custom record has site and resource"
            )
        return value


class KindSpec(BaseModel):
    """What a site manager sends: the kind's fields, identity, event time and partition span."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = Field(default=None, max_length=1024)
    fields: list[FieldSpec] = Field(min_length=1, max_length=200)
    identity: list[str] = Field(
        min_length=1, max_length=16, description="Fields that name one record (site and resource are added)."
    )
    event_time: str = Field(description="The timestamp field records are partitioned and synced by.")
    partition: Literal["day", "month"] = "month"

    @model_validator(mode="after")
    def _consistent(self) -> KindSpec:
        names = [f.name for f in self.fields]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"fields named twice: {', '.join(twice)}")
        by_name = {f.name: f for f in self.fields}
        unknown = [n for n in self.identity if n not in by_name and n not in IMPLICIT_FIELDS]
        if unknown:
            raise ValueError(f"identity names fields the kind does not have: {', '.join(unknown)}")
        if len(set(self.identity)) != len(self.identity):
            raise ValueError("identity names a field twice")
        event = by_name.get(self.event_time)
        if event is None or event.type != "timestamp" or not event.required:
            raise ValueError(f"event_time {self.event_time!r} must name a required timestamp field")
        for name in self.identity:
            if name in by_name and not by_name[name].required:
                raise ValueError(f"identity field {name!r} must be required")
        return self

    def columns(self) -> dict[str, FieldType]:
        """Every column of a stored record but the server's, in order."""
        return {**IMPLICIT_FIELDS, **{f.name: f.type for f in self.fields}}

    def full_identity(self) -> tuple[str, ...]:
        return ("site", "resource", *(n for n in self.identity if n not in IMPLICIT_FIELDS))


class KindDefinition(BaseModel):
    """A stored kind: its spec, who defined it and its version (one more at each accepted change)."""

    model_config = ConfigDict(frozen=True)

    name: str
    spec: KindSpec
    owner_site: str
    version: int
    updated_at: datetime

    @property
    def table(self) -> str:
        return table_name(self.name)


def table_name(name: str) -> str:
    return f"custom_{name}"


def check_kind_name(name: str) -> str:
    check_identifier(name, "kind name")
    if name in TAKEN_NAMES:
        raise ValueError(f"kind name {name!r} is a built-in table")
    return name


def incompatible(old: KindSpec, new: KindSpec) -> list[str]:
    """Why `new` cannot replace `old` (empty: it can). Old files must keep their meaning: a field may
    be added (not required: old files read it as NULL) and descriptions or units edited; nothing
    else."""
    reasons: list[str] = []
    if old.full_identity() != new.full_identity():
        reasons.append(f"identity changes from {list(old.identity)} to {list(new.identity)}")
    if old.event_time != new.event_time:
        reasons.append(f"event_time changes from {old.event_time!r} to {new.event_time!r}")
    if old.partition != new.partition:
        reasons.append(f"partition changes from {old.partition!r} to {new.partition!r}")
    after = {f.name: f for f in new.fields}
    for field in old.fields:
        now = after.get(field.name)
        if now is None:
            reasons.append(f"field {field.name!r} is removed")
        elif now.type != field.type:
            reasons.append(f"field {field.name!r} changes type from {field.type} to {now.type}")
        elif now.required and not field.required:
            reasons.append(f"field {field.name!r} becomes required (stored records may lack it)")
    before = {f.name for f in old.fields}
    for field in new.fields:
        if field.name not in before and field.required:
            reasons.append(f"new field {field.name!r} must not be required (stored records lack it)")
    return reasons
