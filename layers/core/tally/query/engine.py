"""Query errors, and the QueryEngine port (`tally.domain.ports`): Athena SQL in, Arrow out."""

from __future__ import annotations

# The port itself lives with the others in the domain; the engines and their callers import it here.
from tally.domain.ports import Param as Param
from tally.domain.ports import QueryEngine as QueryEngine
from tally.domain.ports import QueryResult as QueryResult


class QueryError(Exception):
    """A query that could not be run; `reason` is the engine's own explanation."""

    def __init__(self, message: str, reason: str = "", query_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.query_id = query_id


class QueryTimeoutError(QueryError):
    """A query still running when the engine stopped waiting (and cancelled it)."""
