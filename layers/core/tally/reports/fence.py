"""A caller's fence (tally.people.authz) as row clauses of one report kind's base query: what the
reports API and scheduled reports (tally.subscriptions) both apply, so both see the same rows."""

from __future__ import annotations

from tally.api.problems import forbidden
from tally.people.authz import Fence
from tally.reports.catalog import Kind


def report_fence(
    fence: Fence, kind: str, catalog: Kind, by_person: bool
) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """The fence as (column, values) clauses of this report kind's base query (None: every row)."""
    if fence.aggregated and by_person:
        raise forbidden("finance reads usage in aggregate: a report by user needs another grant")
    if fence.everything:
        return None
    columns = catalog.fence_columns
    clauses = tuple((columns[d], values) for d, values in fence.clauses if d in columns)
    if not clauses:
        reach = ", ".join(d for d, _ in fence.clauses)
        raise forbidden(f"no grant of this caller reaches {kind} usage (its grants reach rows by {reach})")
    return clauses
