"""Ingest one batch of usage records: fence, validate, deduplicate, write, quarantine, account.

Order of effects, chosen so that a crash at any point loses nothing and double counts nothing:
data files and quarantine first (content-named, so a retry overwrites them), then the batch claim,
and only a successful claim advances sync state and counters (in SQLite, claim, sync state and
counts are one transaction). The records' keys are staged in the control store while the files
are written, and dropped when a write fails or the claim is lost.

Memory: one request costs at most about ten times the decompressed-body limit (64 MiB): the body
and its lines (see `tally.api.body`), the Arrow table, and on the slow path records validated
one at a time, at most `MAX_ERRORS_PER_RECORD` errors each, and valid rows turned into Arrow in
chunks. `tests/functional/test_server_survives.py` measures it under the worst bodies known.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import ValidationError

from tally.adapters.quarantine import QuarantineEntry, write_quarantine
from tally.domain.columnar import FieldError, failing_rows, fill_defaults, model_checks, time_window_checks
from tally.domain.control import BatchOutcome, IngestCount
from tally.domain.errors import ForeignSite, MalformedBody, TooLarge
from tally.domain.identity_keys import DIGEST_BYTES, day_prefix
from tally.domain.ports import ControlStore, StagedSync, Warehouse
from tally.domain.record_lines import MAX_RECORD_BYTES, RecordLines, check_lines
from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import TIMESTAMP, cluster_order, input_schema

# Errors listed in a response (and kept with the batch outcome); the quarantine file keeps every one.
MAX_ERRORS_IN_RESPONSE = 1000
# Errors reported for one record: a record with thousands of unknown fields gets this many and a
# count of the rest, so errors cannot outgrow the body.
MAX_ERRORS_PER_RECORD = 50
# The slow path turns validated records into Arrow this many at a time, bounding its Python objects.
SLOW_CHUNK = 5000
NON_FINITE = "Input should be a finite number"
NOT_JSON = "record is not valid JSON"
# Stages a batch's sync-state keys in the control store while its Parquet files are written: the
# writer and SQLite both release the GIL, so on two cores a batch is answered sooner
# (bench/ingest.py). A task waits at most for another batch's staged sync to settle, which the
# batch's own request does without waiting on this pool.
_BESIDE_WRITE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tally-sync-keys")


@dataclass(frozen=True)
class Principal:
    """Who is posting: the site of the API key, optionally the resources it may write, and the
    scopes it holds (checked by the routes through `tally.api.deps.require`)."""

    site: str
    key_id: str
    resources: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()


@dataclass
class IngestResult:
    batch_id: str
    kind: str
    site: str
    accepted: int
    duplicates: int
    rejected: int
    errors: list[dict[str, object]]
    errors_truncated: bool = False
    replayed: bool = False
    keys: list[str] = field(default_factory=list)


@dataclass
class _Judged:
    """A batch after validation: the valid rows (with their batch positions) and every error."""

    table: pa.Table
    indices: list[int]
    errors: list[FieldError]
    lines: RecordLines


def batch_id_for(kind: str, site: str, ndjson: bytes) -> str:
    digest = hashlib.sha256()
    for part in (kind.encode(), b"\0", site.encode(), b"\0", ndjson):
        digest.update(part)
    return digest.hexdigest()[:32]


class IngestService:
    def __init__(
        self,
        warehouse: Warehouse,
        control: ControlStore,
        max_records: int,
        future_tolerance_seconds: int,
    ) -> None:
        self.warehouse = warehouse
        self.control = control
        self.max_records = max_records
        self.future_tolerance_seconds = future_tolerance_seconds

    def ingest(
        self, kind: RecordKind, lines: RecordLines, who: Principal, now: datetime | None = None
    ) -> IngestResult:
        now = now or datetime.now(UTC)
        lines = check_lines(lines)
        if lines.count > self.max_records:
            raise TooLarge(f"batch has {lines.count} records, more than the limit of {self.max_records}")
        judged = self._judge(kind, lines, who, now)
        lines = judged.lines
        batch_id = batch_id_for(kind, who.site, lines.ndjson)
        replay = replay_of(self.control, batch_id)
        if replay is not None:
            return replay

        table, duplicates = _deduplicate(kind, judged.table)
        # The bookkeeping is staged while the data files are written, and takes effect only once
        # they are stored and the batch is claimed.
        staging = _BESIDE_WRITE.submit(self._stage, kind, who.site, table)
        try:
            keys = self._write(kind, table, batch_id, now)
            if judged.errors:
                keys.append(self._quarantine(kind, lines, judged, batch_id, who, now))
        except BaseException:
            staging.result().abandon()
            raise
        rejected = len({e.index for e in judged.errors})
        outcome = BatchOutcome(
            batch_id=batch_id,
            site=who.site,
            kind=kind,
            accepted=table.num_rows,
            duplicates=duplicates,
            rejected=rejected,
            # One more than a response lists, so a replay can still tell the list was cut.
            errors=[e.as_dict() for e in judged.errors[: MAX_ERRORS_IN_RESPONSE + 1]],
            keys=keys,
        )
        count = IngestCount(who.site, now.date(), kind, outcome.accepted, duplicates, rejected)
        if not staging.result().settle(outcome, count):
            # A concurrent post of the same batch claimed it first: its outcome is the answer, and
            # this post wrote nothing new (its files have the same content-derived names).
            return result_of(self.control.get_batch(batch_id) or outcome, replayed=True)
        return result_of(outcome, replayed=False)

    def _stage(self, kind: RecordKind, site: str, table: pa.Table) -> StagedSync:
        return self.control.stage_sync(site, kind, _sync_updates(kind, site, table))

    # -- validation -------------------------------------------------------------------------

    def _judge(self, kind: RecordKind, lines: RecordLines, who: Principal, now: datetime) -> _Judged:
        # Arrow's reader only ever sees lines that cannot crash it (see tally.domain.record_lines).
        table = _read_fast(kind, lines) if lines.arrow_safe else None
        errors: list[FieldError] = []
        if table is not None:
            _fence_table(kind, table, who)
            indices = list(range(table.num_rows))
        else:
            table, indices, errors = _validate_each(kind, lines.ndjson, who)
        table = fill_defaults(kind, table)
        checks = list(model_checks(kind)) + time_window_checks(kind, now, self.future_tolerance_seconds)
        errors.extend(failing_rows(table, checks, indices))
        if errors:
            bad = {e.index for e in errors}
            keep = [i for i, idx in enumerate(indices) if idx not in bad]
            table = table.take(pa.array(keep, pa.int64()))
            indices = [indices[i] for i in keep]
        errors.sort(key=lambda e: (e.index, e.field or ""))
        return _Judged(table, indices, errors, lines)

    # -- effects ----------------------------------------------------------------------------

    def _write(self, kind: RecordKind, table: pa.Table, batch_id: str, now: datetime) -> list[str]:
        if table.num_rows == 0:
            return []
        n = table.num_rows
        stored = table.append_column(
            pa.field("ingested_at", TIMESTAMP), pa.repeat(pa.scalar(now, TIMESTAMP), n)
        ).append_column(pa.field("batch_id", pa.string()), pa.repeat(pa.scalar(batch_id, pa.string()), n))
        model = MODELS[kind]
        return self.warehouse.write_partitioned(
            kind, stored, model.partition_time, batch_id, model.partition_span, cluster_order(kind)
        )

    def _quarantine(
        self,
        kind: RecordKind,
        lines: RecordLines,
        judged: _Judged,
        batch_id: str,
        who: Principal,
        now: datetime,
    ) -> str:
        raw_lines = lines.ndjson.split(b"\n")
        # Errors are sorted by index: one entry per rejected record, built one at a time.
        entries = (
            QuarantineEntry(
                batch_id=batch_id,
                site=who.site,
                kind=kind,
                index=index,
                received_at=now,
                errors=[(e.field, e.message) for e in group],
                # The record exactly as sent (one NDJSON line), so it can be fixed and replayed.
                record=raw_lines[index].decode("utf-8", errors="replace"),
            )
            for index, group in itertools.groupby(judged.errors, key=lambda e: e.index)
        )
        return write_quarantine(self.warehouse, kind, now, f"{batch_id}.ndjson", entries)


#: Per resource of a batch: its latest event time and its rows' control-store keys.
SyncUpdates = list[tuple[str, datetime, list[bytes]]]


def _sync_updates(kind: RecordKind, site: str, table: pa.Table) -> SyncUpdates:
    """What a stored batch moves in sync state (nothing for a batch with no rows)."""
    if not table.num_rows:
        return []
    model = MODELS[kind]
    latest = table.group_by(model.resource_field).aggregate([(model.event_time, "max")])
    identities = _identity_keys_by_resource(kind, site, table)
    return [
        (row[model.resource_field], row[f"{model.event_time}_max"], identities[row[model.resource_field]])
        for row in latest.to_pylist()
    ]


def replay_of(control: ControlStore, batch_id: str) -> IngestResult | None:
    """The answer to a batch posted again: the outcome its first post claimed, or None if new."""
    previous = control.get_batch(batch_id)
    return None if previous is None else result_of(previous, replayed=True)


def result_of(outcome: BatchOutcome, replayed: bool) -> IngestResult:
    """A claimed batch's outcome as the answer to a post (at most MAX_ERRORS_IN_RESPONSE errors)."""
    errors = outcome.errors[:MAX_ERRORS_IN_RESPONSE]
    return IngestResult(
        batch_id=outcome.batch_id,
        kind=outcome.kind,
        site=outcome.site,
        accepted=outcome.accepted,
        duplicates=outcome.duplicates,
        rejected=outcome.rejected,
        errors=errors,
        errors_truncated=len(errors) < len(outcome.errors),
        replayed=replayed,
        keys=outcome.keys,
    )


def _read_fast(kind: RecordKind, lines: RecordLines) -> pa.Table | None:
    """The whole batch as Arrow, or None when any record does not fit the schema's types."""
    options = pj.ParseOptions(explicit_schema=input_schema(kind), unexpected_field_behavior="error")
    block = max(1 << 20, min(len(lines.ndjson) + 1, 16 << 20))
    try:
        table = pj.read_json(
            io.BytesIO(lines.ndjson), read_options=pj.ReadOptions(block_size=block), parse_options=options
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # More rows than lines: some line held more than one value. NaN and Infinity, which Arrow
    # reads into float columns and JSON does not have: the slow path names their fields.
    if table.num_rows != lines.count or not _all_finite(table):
        return None
    return table


def _all_finite(table: pa.Table) -> bool:
    return all(
        pc.all(pc.is_finite(column)).as_py() is not False
        for column in table.columns
        if pa.types.is_floating(column.type)
    )


def _fence_table(kind: RecordKind, table: pa.Table, who: Principal) -> None:
    _fence(kind, pc.unique(table.column("site")).to_pylist(), who, "site")
    if who.resources:
        field_name = MODELS[kind].resource_field
        _fence(kind, pc.unique(table.column(field_name)).to_pylist(), who, field_name)


def _fence(kind: str, values: list[object], who: Principal, field_name: str) -> None:
    allowed = {who.site} if field_name == "site" else set(who.resources)
    foreign = sorted(str(v) for v in values if v is not None and v not in allowed)
    if foreign:
        what = "site" if field_name == "site" else "resource"
        raise ForeignSite(
            f"this key belongs to site {who.site!r}"
            + (f" (resources {', '.join(who.resources)})" if who.resources else "")
            + f" and cannot write {kind} records for {what} {', '.join(repr(v) for v in foreign[:5])}"
        )


def _fence_value(kind: RecordKind, value: dict[str, object], who: Principal) -> None:
    """Fence one parsed record; a value that is no string is left to validation to reject."""
    site = value.get("site")
    if isinstance(site, str):
        _fence(kind, [site], who, "site")
    if who.resources:
        field_name = MODELS[kind].resource_field
        resource = value.get(field_name)
        if isinstance(resource, str):
            _fence(kind, [resource], who, field_name)


class _NonFinite:
    """A NaN or infinite number met by the fallback parser (JSON has no such numbers)."""


_NON_FINITE_VALUE = _NonFinite()


def _float_or_marker(text: str) -> object:
    number = float(text)
    return number if math.isfinite(number) else _NON_FINITE_VALUE


def _non_finite_fields(line: bytes) -> list[str | None] | None:
    """Fields holding NaN, Infinity or an overflowing number in a line orjson refused, or None.

    Only these lines get a field-by-field reason; any other broken line is "not valid JSON".
    """
    try:
        value = json.loads(line, parse_constant=lambda _: _NON_FINITE_VALUE, parse_float=_float_or_marker)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    fields: list[str | None] = [k for k, v in value.items() if v is _NON_FINITE_VALUE]
    if not fields and _NON_FINITE_VALUE not in _leaves(value):
        return None
    return fields or [None]


def _leaves(value: object) -> Iterator[object]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def _line_errors(index: int, line: bytes) -> list[FieldError] | dict[str, object]:
    """The parsed object of one line, or the errors that keep it from being one."""
    if len(line) > MAX_RECORD_BYTES:
        return [
            FieldError(index, None, f"record is {len(line)} bytes, more than the limit of {MAX_RECORD_BYTES}")
        ]
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        fields = _non_finite_fields(line)
        if fields is not None:
            return [FieldError(index, f, NON_FINITE) for f in fields]
        head = str(line[:80], "utf-8", errors="replace")
        return [FieldError(index, None, f"{NOT_JSON}: {head!r}")]
    if not isinstance(value, dict):
        return [FieldError(index, None, f"record must be a JSON object, not {type(value).__name__}")]
    return value


def _validate_each(
    kind: RecordKind, ndjson: bytes, who: Principal
) -> tuple[pa.Table, list[int], list[FieldError]]:
    """Per-record pydantic validation: the slow path that explains what the fast path refused.

    Lines are parsed, fenced and validated one at a time, and valid records become Arrow in chunks,
    so the Python objects alive at once stay bounded whatever the batch holds.
    """
    model = MODELS[kind]
    fields = model.model_fields
    schema = input_schema(kind)
    chunks: list[pa.Table] = []
    valid: list[dict[str, object]] = []
    indices: list[int] = []
    errors: list[FieldError] = []
    unparsable = 0
    # One copy of each distinct field name and message: a batch may hold a million errors.
    texts: dict[str, str] = {}
    lines = ndjson.split(b"\n")
    for index, line in enumerate(lines):
        value = _line_errors(index, line)
        if isinstance(value, list):
            unparsable += value[0].message.startswith(NOT_JSON)
            errors.extend(value)
            continue
        _fence_value(kind, value, who)
        unknown = [k for k in value if k not in fields]
        # Null means absent, as on the fast path: a field with a default takes it.
        cleaned = {
            k: v
            for k, v in value.items()
            if k in fields
            and not (v is None and fields[k].default not in (None,) and not fields[k].is_required())
        }
        found: list[FieldError] = []
        try:
            record = model.model_validate(cleaned)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"]) or None
                found.append(
                    FieldError(
                        index,
                        loc and texts.setdefault(loc, loc),
                        texts.setdefault(err["msg"], err["msg"]),
                    )
                )
        # Unknown fields last, so a cut list still names the errors in the contract's own fields.
        found.extend(FieldError(index, k, "Extra inputs are not permitted") for k in unknown)
        if found:
            if len(found) > MAX_ERRORS_PER_RECORD:
                more = len(found) - MAX_ERRORS_PER_RECORD + 1
                found = found[: MAX_ERRORS_PER_RECORD - 1]
                found.append(FieldError(index, None, f"and {more} more errors in this record"))
            errors.extend(found)
            continue
        valid.append(record.model_dump())
        indices.append(index)
        if len(valid) == SLOW_CHUNK:
            chunks.append(pa.Table.from_pylist(valid, schema=schema))
            valid = []
    if unparsable == len(lines):
        raise MalformedBody("body is not valid JSON: no line of it parses as a JSON value")
    chunks.append(pa.Table.from_pylist(valid, schema=schema))
    return pa.concat_tables(chunks), indices, errors


def _identity_keys_by_resource(kind: RecordKind, site: str, table: pa.Table) -> dict[str, list[bytes]]:
    """Each row's control-store key (`tally.domain.identity_keys`: partition day, then a digest of
    kind, site, resource and identity), grouped by resource, in row order."""
    model = MODELS[kind]
    n = table.num_rows
    scope = [pa.repeat(pa.scalar(kind), n), pa.repeat(pa.scalar(site), n), table.column(model.resource_field)]
    # Times as integer microseconds: casting those to text is much cheaper than formatting dates.
    parts = scope + [
        pc.cast(pc.cast(column, pa.int64()) if pa.types.is_timestamp(column.type) else column, pa.string())
        for column in (table.column(name) for name in model.identity)
    ]
    joined = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x00")
    # Bytes straight from Arrow (no str round trip), each hashed in a comprehension: the one step
    # per row left in Python.
    blake2b = hashlib.blake2b
    digests = [
        blake2b(text, digest_size=DIGEST_BYTES).digest() for text in joined.cast(pa.binary()).to_pylist()
    ]
    days = pc.cast(table.column(model.partition_time), pa.date32()).cast(pa.int32())
    resources = table.column(model.resource_field)
    if pc.count_distinct(days).as_py() == 1 and pc.count_distinct(resources).as_py() == 1:
        # The usual batch: one day of one resource.
        prefix = day_prefix(days[0].as_py())
        return {resources[0].as_py(): [prefix + d for d in digests]}
    prefixes = {day: day_prefix(day) for day in pc.unique(days).to_pylist()}
    keys = [prefixes[day] + digest for day, digest in zip(days.to_pylist(), digests, strict=True)]
    # A batch holds few resources: pick each one's rows by index, in row order.
    out: dict[str, list[bytes]] = {}
    for resource in pc.unique(resources).to_pylist():
        rows = pc.indices_nonzero(pc.equal(resources, resource)).to_pylist()
        out[resource] = [keys[i] for i in rows]
    return out


def _deduplicate(kind: RecordKind, table: pa.Table) -> tuple[pa.Table, int]:
    """Keep the last record of each identity within the batch; return the table and the drop count."""
    if table.num_rows < 2:
        return table, 0
    identity = list(MODELS[kind].identity)
    numbered = table.select(identity).append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    last = numbered.group_by(identity, use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == table.num_rows:
        return table, 0
    keep = pc.sort_indices(last.column("__row_max"))
    rows = pc.take(last.column("__row_max"), keep)
    return table.take(rows), table.num_rows - last.num_rows
