"""Ingest one batch of usage records: fence, validate, deduplicate, write, quarantine, account.

Order of effects, chosen so that a crash at any point loses nothing and double counts nothing:
data files and quarantine first (content-named, so a retry overwrites them), then the batch claim,
and only a successful claim advances sync state and counters.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import ValidationError

from tally.adapters.control_store import ControlStore
from tally.adapters.warehouse import Warehouse, partition_key
from tally.domain.columnar import FieldError, failing_rows, fill_defaults, model_checks, time_window_checks
from tally.domain.control import BatchOutcome, IngestCount
from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import TIMESTAMP, cluster_order, input_schema
from tally.services.body import RecordLines, exact_lines
from tally.services.problems import bad_request, forbidden, too_large

# Errors listed in a response; the quarantine file keeps every one.
MAX_ERRORS_IN_RESPONSE = 1000


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
        if lines.count > self.max_records:
            raise too_large(f"batch has {lines.count} records, more than the limit of {self.max_records}")
        judged = self._judge(kind, lines, who, now)
        lines = judged.lines
        batch_id = batch_id_for(kind, who.site, lines.ndjson)
        previous = self.control.get_batch(batch_id)
        if previous is not None:
            return _result(previous, replayed=True)

        table, duplicates = _deduplicate(kind, judged.table)
        keys = self._write(kind, table, batch_id, now)
        if judged.errors:
            keys.append(self._quarantine(kind, lines, judged, batch_id, who, now))
        rejected = len({e.index for e in judged.errors})
        outcome = BatchOutcome(
            batch_id=batch_id,
            site=who.site,
            kind=kind,
            accepted=table.num_rows,
            duplicates=duplicates,
            rejected=rejected,
            errors=[e.as_dict() for e in judged.errors],
            keys=keys,
        )
        if self.control.claim_batch(outcome):
            self._account(kind, table, outcome, now)
        return _result(outcome, replayed=False)

    # -- validation -------------------------------------------------------------------------

    def _judge(self, kind: RecordKind, lines: RecordLines, who: Principal, now: datetime) -> _Judged:
        table = _read_fast(kind, lines)
        if table is None:
            # Blank lines inside the body upset the optimistic row count: split exactly, try again.
            exact = exact_lines(lines)
            if exact.count != lines.count:
                table = _read_fast(kind, exact)
            lines = exact
        errors: list[FieldError] = []
        if table is not None:
            _fence_table(kind, table, who)
            indices = list(range(table.num_rows))
        else:
            raw = lines.parsed if lines.parsed is not None else _parse_each(lines.ndjson)
            if all(isinstance(r, _Unparsable) for r in raw):
                raise bad_request("body is not valid JSON: no line of it parses as a JSON value")
            _fence_values(kind, raw, who)
            table, indices, errors = _validate_each(kind, raw)
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
        by_index: dict[int, list[dict[str, object]]] = {}
        for error in judged.errors:
            by_index.setdefault(error.index, []).append({"field": error.field, "message": error.message})
        raw_lines = lines.ndjson.split(b"\n")
        out = io.BytesIO()
        for index, errors in by_index.items():
            entry = {
                "batch_id": batch_id,
                "site": who.site,
                "kind": kind,
                "index": index,
                "received_at": now.isoformat().replace("+00:00", "Z"),
                "errors": errors,
                # The record exactly as sent (one NDJSON line), so it can be fixed and replayed.
                "record": raw_lines[index].decode("utf-8", errors="replace"),
            }
            out.write(orjson.dumps(entry) + b"\n")
        key = partition_key(f"quarantine/{kind}", now.date(), f"{batch_id}.ndjson")
        self.warehouse.put_bytes(key, out.getvalue())
        return key

    def _account(self, kind: RecordKind, table: pa.Table, outcome: BatchOutcome, now: datetime) -> None:
        model = MODELS[kind]
        if table.num_rows:
            grouped = table.group_by(model.resource_field).aggregate(
                [(model.event_time, "max"), (model.event_time, "count")]
            )
            for row in grouped.to_pylist():
                self.control.advance_sync(
                    outcome.site,
                    kind,
                    row[model.resource_field],
                    row[f"{model.event_time}_max"],
                    row[f"{model.event_time}_count"],
                )
        self.control.add_counts(
            IngestCount(
                outcome.site, now.date(), kind, outcome.accepted, outcome.duplicates, outcome.rejected
            )
        )


def _result(outcome: BatchOutcome, replayed: bool) -> IngestResult:
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
    return table if table.num_rows == lines.count else None


def _fence_table(kind: RecordKind, table: pa.Table, who: Principal) -> None:
    _fence(kind, pc.unique(table.column("site")).to_pylist(), who, "site")
    if who.resources:
        field_name = MODELS[kind].resource_field
        _fence(kind, pc.unique(table.column(field_name)).to_pylist(), who, field_name)


def _fence_values(kind: RecordKind, raw: list[object], who: Principal) -> None:
    field_name = MODELS[kind].resource_field
    sites = {r.get("site") for r in raw if isinstance(r, dict)}
    _fence(kind, [s for s in sites if isinstance(s, str)], who, "site")
    if who.resources:
        resources = {r.get(field_name) for r in raw if isinstance(r, dict)}
        _fence(kind, [v for v in resources if isinstance(v, str)], who, field_name)


def _fence(kind: str, values: list[object], who: Principal, field_name: str) -> None:
    allowed = {who.site} if field_name == "site" else set(who.resources)
    foreign = sorted(str(v) for v in values if v is not None and v not in allowed)
    if foreign:
        what = "site" if field_name == "site" else "resource"
        raise forbidden(
            f"this key belongs to site {who.site!r}"
            + (f" (resources {', '.join(who.resources)})" if who.resources else "")
            + f" and cannot write {kind} records for {what} {', '.join(repr(v) for v in foreign[:5])}"
        )


def _parse_each(ndjson: bytes) -> list[object]:
    out: list[object] = []
    for line in ndjson.split(b"\n"):
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            out.append(_Unparsable(str(line[:80], "utf-8", errors="replace")))
    return out


class _Unparsable:
    def __init__(self, head: str) -> None:
        self.head = head


def _validate_each(kind: RecordKind, raw: list[object]) -> tuple[pa.Table, list[int], list[FieldError]]:
    """Per-record pydantic validation: the slow path that explains what the fast path refused."""
    model = MODELS[kind]
    fields = model.model_fields
    valid: list[dict[str, object]] = []
    indices: list[int] = []
    errors: list[FieldError] = []
    for index, value in enumerate(raw):
        if isinstance(value, _Unparsable):
            errors.append(FieldError(index, None, f"record is not valid JSON: {value.head!r}"))
            continue
        if not isinstance(value, dict):
            errors.append(
                FieldError(index, None, f"record must be a JSON object, not {type(value).__name__}")
            )
            continue
        # Null means absent, as on the fast path: a field with a default takes it.
        cleaned = {
            k: v
            for k, v in value.items()
            if not (
                v is None and k in fields and fields[k].default not in (None,) and not fields[k].is_required()
            )
        }
        try:
            record = model.model_validate(cleaned)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"]) or None
                message = "Extra inputs are not permitted" if err["type"] == "extra_forbidden" else err["msg"]
                errors.append(FieldError(index, loc, message))
            continue
        valid.append(record.model_dump())
        indices.append(index)
    table = pa.Table.from_pylist(valid, schema=input_schema(kind))
    return table, indices, errors


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
