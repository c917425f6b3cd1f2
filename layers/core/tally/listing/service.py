"""Record listings and a record's detail, fenced by the one authorisation point's row filter.

A listing is what a report's cell is made of: the same dimension names filter the same columns,
the same fence (tally.people.authz) is bound into the SQL. Finance reads usage in aggregate only,
so it gets no per-record rows: a listing names its people (user, login, DN) on every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tally.domain.errors import NotAllowed, NotFound, RequestRefused
from tally.listing.catalog import DEFAULT_PAGE, LISTINGS, MAX_PAGE, Listing
from tally.listing.query import Clauses, identity_query, key_fields, list_query
from tally.listing.tokens import TokenError, decode, encode, from_json, query_digest, to_json
from tally.people.authz import Fence
from tally.query.engine import Param, QueryEngine
from tally.reports.spec import MAX_FILTER_VALUES, MAX_VALUE_LENGTH, ReportError, parse_time

RESERVED = ("from", "to", "sort", "limit", "cursor")
#: The fence's dimensions a request may name, checked against the grants before any SQL runs.
FENCED_DIMENSIONS = ("site", "project", "vo", "user")


class InvalidListing(RequestRefused):
    """A listing request naming what the kind does not offer, or values out of range (422)."""


@dataclass(frozen=True)
class ListRequest:
    listing: Listing
    start: datetime
    end: datetime
    filters: dict[str, tuple[str, ...]]
    sort: str
    descending: bool
    limit: int
    cursor: str | None

    def digest(self) -> str:
        parts = [
            self.listing.kind,
            self.start,
            self.end,
            sorted(self.filters.items()),
            self.sort,
            self.descending,
        ]
        return query_digest(parts)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, object]]
    next_cursor: str | None


def listing_of(kind: str) -> Listing:
    listing = LISTINGS.get(kind)
    if listing is None:
        raise NotFound(f"no record kind {kind!r}; choose one of {', '.join(LISTINGS)}")
    return listing


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidListing(f"{name} is given {len(values)} times: give it once")
    return values[0]


def parse_request(kind: str, query: Sequence[tuple[str, str]]) -> ListRequest:
    """The query string of GET /v1/records/{kind}, checked against the kind's catalog."""
    listing = listing_of(kind)
    params: dict[str, list[str]] = {}
    for name, value in query:
        params.setdefault(name, []).append(value)
    start_text, end_text = _one(params, "from"), _one(params, "to")
    if start_text is None or end_text is None:
        raise InvalidListing("from and to are required: YYYY-MM-DD or an ISO date-time, UTC")
    try:
        start, end = parse_time(start_text, "from"), parse_time(end_text, "to")
    except ReportError as error:
        raise InvalidListing(str(error)) from error
    if end <= start:
        raise InvalidListing("`to` must be after `from`")
    filters: dict[str, tuple[str, ...]] = {}
    dimensions = listing.report.dimensions
    for name, values in params.items():
        if name in RESERVED:
            continue
        if name not in dimensions:
            raise InvalidListing(
                f"{kind} records cannot be filtered on {name!r}; choose from {', '.join(dimensions)}"
            )
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidListing(f"filter {name!r} takes 1 to {MAX_FILTER_VALUES} values")
        if any(len(v) > MAX_VALUE_LENGTH for v in values):
            raise InvalidListing(f"filter {name!r} has a value longer than {MAX_VALUE_LENGTH} characters")
        if name in listing.report.boolean_dimensions and any(v not in ("true", "false") for v in values):
            raise InvalidListing(f"filter {name!r} takes true or false")
        filters[name] = tuple(values)
    sort_text = _one(params, "sort") or f"{listing.time_field}:desc"
    sort, _, direction = sort_text.partition(":")
    if sort not in listing.sortable:
        raise InvalidListing(f"{kind} records sort by one of {', '.join(listing.sortable)}")
    if direction not in ("", "asc", "desc"):
        raise InvalidListing(f"sort {sort_text!r}: the direction after ':' is asc or desc")
    limit_text = _one(params, "limit")
    if limit_text is None:
        limit = DEFAULT_PAGE
    elif not limit_text.isdecimal() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise InvalidListing(f"limit takes a whole number from 1 to {MAX_PAGE}")
    else:
        limit = int(limit_text)
    descending = direction == "desc" if direction else sort == listing.time_field
    return ListRequest(listing, start, end, filters, sort, descending, limit, _one(params, "cursor"))


def row_fence(fence: Fence, listing: Listing) -> Clauses | None:
    """The caller's fence as (column, values) clauses of the listing's rows (None: every row)."""
    if fence.aggregated:
        raise NotAllowed("finance reads usage in aggregate (reports), not record by record")
    if fence.everything:
        return None
    columns = listing.report.fence_columns
    clauses = tuple((columns[d], values) for d, values in fence.clauses if d in columns)
    if not clauses:
        reach = ", ".join(d for d, _ in fence.clauses)
        raise NotAllowed(f"no grant of this caller reaches {listing.kind} records (its grants reach {reach})")
    return clauses


def check_requested(fence: Fence, filters: dict[str, tuple[str, ...]]) -> None:
    for dimension in FENCED_DIMENSIONS:
        fence.check_requested(dimension, list(filters.get(dimension, ())))


class RecordListingService:
    """Pages of records and one record's detail, over the query engine."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine

    def page(self, request: ListRequest, fence: Fence) -> Page:
        listing = request.listing
        check_requested(fence, request.filters)
        clauses = row_fence(fence, listing)
        after = self._after(request) if request.cursor is not None else None
        filters: dict[str, tuple[Param, ...]] = {
            name: tuple(v == "true" for v in values) if name in listing.report.boolean_dimensions else values
            for name, values in request.filters.items()
        }
        sql, params = list_query(
            listing,
            request.start,
            request.end,
            filters,
            clauses,
            request.sort,
            request.descending,
            after,
            request.limit + 1,
        )
        rows = self.engine.query(sql, params).table.to_pylist()
        more = len(rows) > request.limit
        rows = rows[: request.limit]
        items = [self._item(listing, row) for row in rows]
        next_cursor = None
        if more:
            last = rows[-1]
            fields = key_fields(listing, request.sort)
            values = [to_json(last[f], listing.fields[f].type) for f in fields]
            next_cursor = encode({"q": request.digest(), "v": values})
        return Page(items, next_cursor)

    def get(self, kind: str, record_id: str, fence: Fence) -> dict[str, object]:
        listing = listing_of(kind)
        clauses = row_fence(fence, listing)
        identity = self._identity(listing, record_id)
        sql, params = identity_query(listing, identity, clauses)
        rows = self.engine.query(sql, params).table.to_pylist()
        if not rows:
            # Absent, or outside the caller's fence: the same answer, so ids reveal nothing.
            raise NotFound(f"no {kind} record {record_id!r} this caller may read")
        detail = self._item(listing, rows[0])
        if listing.detail_table is not None:
            sql, params = identity_query(listing, identity, None, listing.detail_table)
            extra = self.engine.query(sql, params).table.to_pylist()
            for name in listing.detail_fields:
                detail[name] = extra[0][name] if extra else None
        if kind == "jobs":
            detail["normalisation_used"] = job_normalisation(rows[0])
        return detail

    @staticmethod
    def _after(request: ListRequest) -> list[Any]:
        listing = request.listing
        assert request.cursor is not None
        try:
            payload = decode(request.cursor, "cursor")
            if not isinstance(payload, dict) or set(payload) != {"q", "v"}:
                raise TokenError("not a cursor")
            if payload["q"] != request.digest():
                raise InvalidListing(
                    "this cursor belongs to another listing (kind, range, filters or sort changed): "
                    "start again without it"
                )
            fields = key_fields(listing, request.sort)
            values = payload["v"]
            if not isinstance(values, list) or len(values) != len(fields):
                raise TokenError("not a cursor")
            out = [
                from_json(v, listing.fields[f].type, "cursor") for f, v in zip(fields, values, strict=True)
            ]
        except TokenError as error:
            raise InvalidListing(f"{error}: pass next_cursor of the previous page as it was given") from error
        if any(v is None for f, v in zip(fields, out, strict=True) if f in listing.identity):
            raise InvalidListing("not a cursor: pass next_cursor of the previous page as it was given")
        return out

    @staticmethod
    def _identity(listing: Listing, record_id: str) -> list[Any]:
        try:
            values = decode(record_id, "record id")
            if not isinstance(values, list) or len(values) != len(listing.identity):
                raise TokenError("not a record id")
            out = [
                from_json(v, listing.fields[f].type, "record id")
                for f, v in zip(listing.identity, values, strict=True)
            ]
        except TokenError as error:
            raise NotFound(f"{error} of {listing.kind}: use the record_id a listing gave") from error
        if any(v is None for v in out):
            raise NotFound(f"not a record id of {listing.kind}: use the record_id a listing gave")
        return out

    @staticmethod
    def _item(listing: Listing, row: dict[str, Any]) -> dict[str, object]:
        identity = [to_json(row[f], listing.fields[f].type) for f in listing.identity]
        item: dict[str, object] = {"record_id": encode(identity)}
        for name, field in listing.fields.items():
            value = row[name]
            item[name] = _utc(value) if field.type == "timestamp" and value is not None else value
        return item


def _utc(value: datetime) -> str:
    return f"{to_json(value, 'timestamp')}Z"


def job_normalisation(row: dict[str, Any]) -> dict[str, object]:
    """The benchmark a job's normalised figures used (HEPscore23 preferred) and where it came from:
    the record's own value of that type, else the resource registry's entry valid at its end."""
    chosen = row["normalisation"]
    factor = {"HEPscore23": row["hepscore23_per_core"], "HS06": row["hs06_per_core"]}.get(chosen)
    own = row["benchmark_type"] == chosen or (chosen == "HS06" and row["benchmark_type"] == "si2k")
    return {
        "benchmark": chosen,
        "per_core": factor,
        "source": None if chosen is None else ("record" if own else "registry"),
        "normalised_core_hours": row["normalised_core_hours"],
    }
