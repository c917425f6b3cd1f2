"""The QueryEngine interface: Athena SQL in, an Arrow table out, on DuckDB or on Athena."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import pyarrow as pa

from tally.query.ddl import TableDef

Param = str | int | float | bool | date | datetime | None


class QueryError(Exception):
    """A query that could not be run; `reason` is the engine's own explanation."""

    def __init__(self, message: str, reason: str = "", query_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.query_id = query_id


class QueryTimeoutError(QueryError):
    """A query still running when the engine stopped waiting (and cancelled it)."""


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    engine: str
    elapsed_seconds: float
    bytes_scanned: int | None = None
    query_id: str | None = None


class QueryEngine(Protocol):
    name: str

    def query(self, sql: str, params: Sequence[Param] = ()) -> QueryResult:
        """Run one Athena (Trino) SELECT with `?` placeholders bound, in order, to `params`."""
        ...

    def register_table(self, table: TableDef) -> None:
        """Make a table defined at run time (a custom kind's) queryable, or refresh its columns."""
        ...
