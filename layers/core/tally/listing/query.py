"""A listing request as one Athena SQL statement with `?` placeholders: the fenced, filtered rows of
a time range, ordered by the sort field then the record's identity, from a keyset position on.

The order is total (a record's identity is unique in the deduplicated views), so a page boundary
never splits or repeats rows that tie on the sort field. NULLs of the sort field come last in
either direction: each nullable key is sorted as (is null, value or a typed default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tally.listing.catalog import FieldType, Listing
from tally.listing.tokens import Value
from tally.query.engine import Param

_DEFAULTS: dict[FieldType, str] = {
    "string": "''",
    "integer": "0",
    "number": "CAST(0 AS DOUBLE)",
    "timestamp": "TIMESTAMP '1970-01-01 00:00:00'",
    "boolean": "false",
}
_PY_DEFAULTS: dict[FieldType, Value] = {
    "string": "",
    "integer": 0,
    "number": 0.0,
    "timestamp": datetime(1970, 1, 1),
    "boolean": False,
}
Clauses = tuple[tuple[str, tuple[str, ...]], ...]


def quoted(column: str) -> str:
    return f'"{column}"'


@dataclass(frozen=True)
class Key:
    expression: str
    ascending: bool


def key_fields(listing: Listing, sort: str) -> list[str]:
    """The fields whose values place a row: the sort field, then the identity's."""
    return [sort, *(f for f in listing.identity if f != sort)]


def _keys(listing: Listing, sort: str, descending: bool) -> list[Key]:
    keys: list[Key] = []
    for name in key_fields(listing, sort):
        field = listing.fields[name]
        column = quoted(field.column)
        if name in listing.identity:
            keys.append(Key(column, not descending))
        else:
            keys.append(Key(f"CASE WHEN {column} IS NULL THEN 1 ELSE 0 END", True))
            keys.append(Key(f"coalesce({column}, {_DEFAULTS[field.type]})", not descending))
    return keys


def _key_values(listing: Listing, sort: str, values: list[Value]) -> list[Param]:
    out: list[Param] = []
    for name, value in zip(key_fields(listing, sort), values, strict=True):
        if name in listing.identity:
            out.append(value)
        else:
            out.append(1 if value is None else 0)
            out.append(_PY_DEFAULTS[listing.fields[name].type] if value is None else value)
    return out


def time_bounds(start: datetime, end: datetime) -> tuple[list[str], list[Param]]:
    """Partition pruning on dt (YYYY-MM or YYYY-MM-DD, compared as text), then the exact bounds."""
    last_day = (end - timedelta(microseconds=1)).date()
    where = ["dt >= ?", "dt <= ?", "event_time >= ?", "event_time < ?"]
    params: list[Param] = [
        start.date().isoformat()[:7],
        last_day.isoformat(),
        start.replace(tzinfo=None),
        end.replace(tzinfo=None),
    ]
    return where, params


def fence_clause(fence: Clauses | None) -> tuple[list[str], list[Param]]:
    if fence is None:
        return [], []
    alternatives = [f"{quoted(c)} IN ({', '.join('?' for _ in vs)})" for c, vs in fence]
    where = ["(" + " OR ".join(alternatives) + ")" if alternatives else "1 = 0"]
    return where, [v for _, vs in fence for v in vs]


def list_query(
    listing: Listing,
    start: datetime,
    end: datetime,
    filters: dict[str, tuple[Param, ...]],
    fence: Clauses | None,
    sort: str,
    descending: bool,
    after: list[Value] | None,
    rows: int,
) -> tuple[str, list[Param]]:
    where, params = time_bounds(start, end)
    for name, values in sorted(filters.items()):
        where.append(f"{quoted(listing.filter_column(name))} IN ({', '.join('?' for _ in values)})")
        params += list(values)
    fenced, fence_params = fence_clause(fence)
    where += fenced
    params += fence_params
    keys = _keys(listing, sort, descending)
    if after is not None:
        position = _key_values(listing, sort, after)
        alternatives = []
        for i, key in enumerate(keys):
            equal = [f"{k.expression} = ?" for k in keys[:i]]
            alternatives.append(" AND ".join([*equal, f"{key.expression} {'>' if key.ascending else '<'} ?"]))
            params += [*position[:i], position[i]]
        where.append("(" + " OR ".join(f"({a})" for a in alternatives) + ")")
    select = ", ".join(f'{quoted(f.column)} AS "{name}"' for name, f in listing.fields.items())
    order = ", ".join(f"{k.expression} {'ASC' if k.ascending else 'DESC'}" for k in keys)
    sql = (
        f"SELECT {select}\nFROM (\n{listing.base.strip()}\n) AS listing_rows\n"
        f"WHERE {' AND '.join(where)}\nORDER BY {order}\nLIMIT {int(rows)}"
    )
    return sql, params


def identity_query(
    listing: Listing, identity: list[Value], fence: Clauses | None, table: str | None = None
) -> tuple[str, list[Param]]:
    """The record of this identity (within the fence), from the listing's rows or from `table`."""
    at = identity[listing.identity.index(listing.time_field)]
    assert isinstance(at, datetime)
    where, params = time_bounds(at, at + timedelta(microseconds=1))
    if table is not None:  # a table of the record's own columns: its event time is the time field
        where[2:] = [f"{quoted(listing.time_field)} >= ?", f"{quoted(listing.time_field)} < ?"]
    for name, value in zip(listing.identity, identity, strict=True):
        where.append(f"{quoted(listing.fields[name].column)} = ?")
        params.append(value)
    if table is None:
        fenced, fence_params = fence_clause(fence)
        where += fenced
        params += fence_params
        select = ", ".join(f'{quoted(f.column)} AS "{name}"' for name, f in listing.fields.items())
        source = f"(\n{listing.base.strip()}\n) AS listing_rows"
    else:
        select = ", ".join(quoted(name) for name in listing.detail_fields)
        source = table
    return f"SELECT {select}\nFROM {source}\nWHERE {' AND '.join(where)}\nLIMIT 2", params
