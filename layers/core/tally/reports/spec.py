"""A report request, checked against the catalog before any SQL exists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from tally.reports.catalog import KINDS, TIME_DIMENSIONS, Kind, ReportKind

MAX_FILTER_VALUES = 100
MAX_VALUE_LENGTH = 1024
MAX_LIMIT = 10_000
#: The label of the row that sums everything beyond a report's top `limit` rows.
OTHER = "other"


class ReportError(ValueError):
    """A report request naming something the catalog does not offer, or values out of range."""


@dataclass(frozen=True)
class ReportSpec:
    kind: ReportKind | str  # a built-in kind, or a custom kind's table (its catalog in `custom`)
    group_by: tuple[str, ...]
    metrics: tuple[str, ...]
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    order_by: str | None = None  # a metric or a dimension of the report
    descending: bool = True
    # Top-N: the first `limit` rows by order_by (time dimensions aside), the rest summed as OTHER.
    limit: int | None = None
    custom: Kind | None = None
    # The caller's row filter (tally.people.authz): rows must match one (column, values) clause.
    # None: no fence (the CLI, run by the operator). An empty tuple matches no row.
    fence: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    @property
    def catalog(self) -> Kind:
        if self.custom is not None:
            return self.custom
        return KINDS[self.kind]  # type: ignore[index]  # not custom: a built-in kind


def parse_time(text: str, name: str) -> datetime:
    """A date (midnight UTC) or an ISO date-time (UTC when it has no offset)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ReportError(f"{name}: {text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from error
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # e.g. 9999-12-31T23:59:59-01:00 is after the year 9999 in UTC
        raise ReportError(f"{name}: {text!r} is outside the years 1 to 9999 in UTC") from error


def make_spec(
    kind: str,
    group_by: list[str],
    metrics: list[str],
    start: str,
    end: str,
    filters: dict[str, list[str]] | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    custom: Kind | None = None,
) -> ReportSpec:
    """`custom`: the catalog entry of a custom kind (`kind` is then its table's name)."""
    if custom is None and kind not in KINDS:
        raise ReportError(f"unknown report kind {kind!r}; choose one of {', '.join(KINDS)}")
    catalog = custom or KINDS[kind]  # type: ignore[index]
    allowed = [*catalog.dimensions, *catalog.time_dimensions]
    names = [n.strip() for item in group_by for n in item.split(",") if n.strip()]
    for name in names:
        if name not in allowed:
            raise ReportError(f"{kind} reports cannot group by {name!r}; choose from {', '.join(allowed)}")
    if len(set(names)) != len(names):
        raise ReportError("a dimension is named twice in group_by")
    names += [d for d in catalog.always_grouped if d not in names]
    if len([n for n in names if n in catalog.time_dimensions]) > 1:
        raise ReportError("group by at most one of day, month, quarter, year")
    chosen = [m.strip() for item in metrics for m in item.split(",") if m.strip()] or list(
        catalog.default_metrics
    )
    for metric in chosen:
        if metric not in catalog.metrics:
            raise ReportError(
                f"{kind} reports have no metric {metric!r}; choose from {', '.join(catalog.metrics)}"
            )
    if catalog.unnormalised and set(chosen) & catalog.normalised and catalog.unnormalised not in chosen:
        chosen.append(catalog.unnormalised)
    checked: dict[str, tuple[str, ...]] = {}
    for name, values in (filters or {}).items():
        if name not in catalog.dimensions:
            raise ReportError(
                f"{kind} reports cannot filter on {name!r}; choose from {', '.join(catalog.dimensions)}"
            )
        if not values or len(values) > MAX_FILTER_VALUES:
            raise ReportError(f"filter {name!r} takes 1 to {MAX_FILTER_VALUES} values")
        if any(len(v) > MAX_VALUE_LENGTH for v in values):
            raise ReportError(f"filter {name!r} has a value longer than {MAX_VALUE_LENGTH} characters")
        if name in catalog.boolean_dimensions and any(v not in ("true", "false") for v in values):
            raise ReportError(f"filter {name!r} takes true or false")
        checked[name] = tuple(values)
    start_at, end_at = parse_time(start, "from"), parse_time(end, "to")
    if end_at <= start_at:
        raise ReportError("`to` must be after `from`")
    chosen = list(dict.fromkeys(chosen))
    order, descending = _order(kind, order_by, names, chosen, limit)
    return ReportSpec(
        kind, tuple(names), tuple(chosen), start_at, end_at, checked, order, descending, limit, custom
    )


def _order(
    kind: str, order_by: str | None, names: list[str], metrics: list[str], limit: int | None
) -> tuple[str | None, bool]:
    """`name`, `name:desc` or `name:asc` checked against the report; metrics sort descending first."""
    if limit is not None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ReportError(f"limit takes 1 to {MAX_LIMIT}")
        if not [n for n in names if n not in TIME_DIMENSIONS]:
            raise ReportError("limit keeps the top rows of a dimension: group by one that is not a time")
    if not order_by:
        return (metrics[0], True) if limit is not None else (None, True)
    name, _, direction = order_by.strip().partition(":")
    if direction not in ("", "asc", "desc"):
        raise ReportError(f"order_by {order_by!r}: the direction after ':' is asc or desc")
    if name not in metrics and name not in names:
        raise ReportError(
            f"{kind} reports order by one of their metrics or dimensions: {', '.join([*names, *metrics])}"
        )
    if limit is not None and name in TIME_DIMENSIONS:
        raise ReportError("with limit, order by a metric or a dimension that is not a time")
    return name, (direction == "desc") if direction else name in metrics
