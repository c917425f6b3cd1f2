"""Custom kinds: definitions (kept in the warehouse beside the data, edited under a control-store
lease) and the ingest of their records, with the built-in kinds' fence, idempotency and quarantine.

A record batch goes through the same steps as `tally.services.ingest`: records parsed one at a
time and fenced by the key's site and resources, validated by the kind's runtime model, deduplicated
by identity within the batch, written to `custom_<name>/dt=.../<batch-id>.parquet` (content-derived
id, so a retry writes the same keys), invalid records quarantined with their reasons, and the batch
claimed in the control store so a replay writes nothing new.
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

import orjson
import pyarrow as pa
from pydantic import BaseModel, ValidationError

from tally.adapters.warehouse import partition_key
from tally.domain.control import BatchOutcome, IngestCount
from tally.domain.errors import Conflict, MalformedBody, NotAllowed, NotFound, TooLarge
from tally.domain.leases import leased
from tally.domain.ports import ControlStore, Warehouse
from tally.domain.record_lines import MAX_RECORD_BYTES, RecordLines, check_lines
from tally.domain.schema import TIMESTAMP
from tally.kinds.model import arrow_schema, record_model
from tally.kinds.spec import KindDefinition, KindSpec, check_kind_name, incompatible
from tally.services.ingest import (
    MAX_ERRORS_IN_RESPONSE,
    IngestResult,
    Principal,
    batch_id_for,
    replay_of,
    result_of,
)

DEFINITIONS = "kinds"
LEASE_SECONDS = 60.0
WAIT_SECONDS = 10.0


def definition_key(name: str) -> str:
    return f"{DEFINITIONS}/{name}.json"


@lru_cache(maxsize=256)
def _model(name: str, version: int, spec_json: str) -> type[BaseModel]:
    """One model per kind version (building a pydantic model costs milliseconds)."""
    return record_model(name, KindSpec.model_validate_json(spec_json))


class TableCatalog(Protocol):
    """Where a kind's table is published for the query engine to find (Glue on AWS)."""

    def publish(self, definition: KindDefinition) -> None: ...


class KindService:
    def __init__(
        self,
        warehouse: Warehouse,
        control: ControlStore,
        max_records: int,
        catalog: TableCatalog | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.control = control
        self.max_records = max_records
        # None locally: DuckDB registers a kind's table from its definition at query time.
        self.catalog = catalog

    # -- definitions ----------------------------------------------------------------------------

    def get(self, name: str) -> KindDefinition | None:
        check_kind_name(name)
        key = definition_key(name)
        if not self.warehouse.exists(key):
            return None
        return KindDefinition.model_validate_json(self.warehouse.get_bytes(key))

    def definitions(self) -> list[KindDefinition]:
        keys = sorted(k for k in self.warehouse.list_keys(DEFINITIONS + "/") if k.endswith(".json"))
        return [KindDefinition.model_validate_json(self.warehouse.get_bytes(k)) for k in keys]

    def define(
        self, name: str, spec: KindSpec, site: str, now: datetime | None = None
    ) -> tuple[KindDefinition, bool]:
        """Store `spec` as kind `name` for `site`; (definition, created). A change must keep the
        stored records' meaning (see `incompatible`), and only the defining site may change it."""
        check_kind_name(name)
        with self._editing(name):
            old = self.get(name)
            if old is not None:
                if old.owner_site != site:
                    raise NotAllowed(
                        f"kind {name!r} was defined by site {old.owner_site!r}: only it may change it"
                    )
                if old.spec == spec:
                    return old, False
                reasons = incompatible(old.spec, spec)
                if reasons:
                    raise Conflict(
                        f"kind {name!r} cannot change this way, its stored records would change meaning: "
                        + "; ".join(reasons)
                        + ". Define a new kind instead."
                    )
            definition = KindDefinition(
                name=name,
                spec=spec,
                owner_site=site,
                version=(old.version + 1) if old else 1,
                updated_at=now or datetime.now(UTC),
            )
            # Published first: a definition stored is always queryable (a failed write after a
            # publish leaves Glue a version ahead, which the next definition publishes again).
            if self.catalog is not None:
                self.catalog.publish(definition)
            self.warehouse.put_bytes(definition_key(name), definition.model_dump_json(indent=2).encode())
            return definition, old is None

    def _editing(self, name: str) -> AbstractContextManager[None]:
        return leased(
            self.control,
            f"kinds/{name}",
            LEASE_SECONDS,
            WAIT_SECONDS,
            busy=lambda: Conflict(f"another definition of kind {name!r} is under way: retry"),
        )

    # -- records --------------------------------------------------------------------------------

    def ingest(
        self, name: str, lines: RecordLines, who: Principal, now: datetime | None = None
    ) -> IngestResult:
        definition = self.get(name)
        if definition is None:
            raise NotFound(f"no custom kind named {name!r}: define it with PUT /v1/kinds/{name}")
        now = now or datetime.now(UTC)
        lines = check_lines(lines)
        if lines.count > self.max_records:
            raise TooLarge(f"batch has {lines.count} records, more than the limit of {self.max_records}")
        spec = definition.spec
        model = _model(name, definition.version, spec.model_dump_json())
        table = definition.table
        valid, errors = _validate(lines.ndjson, model, who)
        if (
            len(errors)
            and not valid
            and all(str(e["message"]).startswith("record is not valid JSON") for e in errors)
        ):
            raise MalformedBody("body is not valid JSON: no line of it parses as a JSON value")
        # The batch id covers the definition's version: a batch posted again after the kind gained
        # a field is validated again, not replayed from the old definition's outcome.
        batch_id = batch_id_for(f"{table}@{definition.version}", who.site, lines.ndjson)
        replay = replay_of(self.control, batch_id)
        if replay is not None:
            return replay
        rows, duplicates = _deduplicate(valid, spec)
        keys: list[str] = []
        if rows:
            arrow = pa.Table.from_pylist(rows, schema=arrow_schema(spec))
            n = arrow.num_rows
            arrow = arrow.append_column(
                pa.field("ingested_at", TIMESTAMP), pa.repeat(pa.scalar(now, TIMESTAMP), n)
            ).append_column(pa.field("batch_id", pa.string()), pa.repeat(pa.scalar(batch_id, pa.string()), n))
            keys = self.warehouse.write_partitioned(
                table, arrow, spec.event_time, batch_id, spec.partition, spec.full_identity()
            )
        if errors:
            keys.append(self._quarantine(table, lines, errors, batch_id, who, now))
        outcome = BatchOutcome(
            batch_id=batch_id,
            site=who.site,
            kind=table,
            accepted=len(rows),
            duplicates=duplicates,
            rejected=len({e["index"] for e in errors}),
            errors=errors[: MAX_ERRORS_IN_RESPONSE + 1],
            keys=keys,
        )
        count = IngestCount(who.site, now.date(), table, outcome.accepted, duplicates, outcome.rejected)
        # A custom kind keeps no sync state: the claim and the day's counts take effect together.
        if not self.control.stage_sync(who.site, table, []).settle(outcome, count):
            # A concurrent post of the same batch claimed it first: its outcome is the answer.
            return result_of(self.control.get_batch(batch_id) or outcome, replayed=True)
        return result_of(outcome, replayed=False)

    def _quarantine(
        self,
        table: str,
        lines: RecordLines,
        errors: list[dict[str, object]],
        batch_id: str,
        who: Principal,
        now: datetime,
    ) -> str:
        raw = lines.ndjson.split(b"\n")
        by_index: dict[int, list[dict[str, object]]] = {}
        for e in errors:
            index = int(str(e["index"]))
            by_index.setdefault(index, []).append({"field": e["field"], "message": e["message"]})
        out = io.BytesIO()
        for index, found in sorted(by_index.items()):
            entry = {
                "batch_id": batch_id,
                "site": who.site,
                "kind": table,
                "index": index,
                "received_at": now.isoformat().replace("+00:00", "Z"),
                "errors": found,
                "record": raw[index].decode("utf-8", errors="replace"),
            }
            out.write(orjson.dumps(entry) + b"\n")
        key = partition_key(f"quarantine/{table}", now.date(), f"{batch_id}.ndjson")
        self.warehouse.put_bytes(key, out.getvalue())
        return key


def _fence(record: dict[str, object], who: Principal, table: str) -> None:
    site, resource = record.get("site"), record.get("resource")
    if isinstance(site, str) and site != who.site:
        raise NotAllowed(
            f"this key belongs to site {who.site!r} and cannot write {table} records for site {site!r}"
        )
    if who.resources and isinstance(resource, str) and resource not in who.resources:
        raise NotAllowed(
            f"this key belongs to site {who.site!r} (resources {', '.join(who.resources)}) and cannot "
            f"write {table} records for resource {resource!r}"
        )


def _validate(
    ndjson: bytes, model: type[BaseModel], who: Principal
) -> tuple[list[tuple[int, dict[str, object]]], list[dict[str, object]]]:
    valid: list[tuple[int, dict[str, object]]] = []
    errors: list[dict[str, object]] = []
    table = model.__name__
    for index, line in enumerate(ndjson.split(b"\n")):
        if len(line) > MAX_RECORD_BYTES:
            errors.append(
                {"index": index, "field": None, "message": f"record is more than {MAX_RECORD_BYTES} bytes"}
            )
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            errors.append(
                {"index": index, "field": None, "message": f"record is not valid JSON: {line[:80]!r}"}
            )
            continue
        if not isinstance(value, dict):
            errors.append(
                {
                    "index": index,
                    "field": None,
                    "message": f"record must be a JSON object, not {type(value).__name__}",
                }
            )
            continue
        _fence(value, who, table)
        try:
            record = model.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False)[:50]:
                loc = ".".join(str(p) for p in err["loc"]) or None
                errors.append({"index": index, "field": loc, "message": err["msg"]})
            continue
        valid.append((index, record.model_dump()))
    return valid, errors


def _deduplicate(
    valid: list[tuple[int, dict[str, object]]], spec: KindSpec
) -> tuple[list[dict[str, object]], int]:
    """The last record of each identity within the batch, in batch order; and the number dropped."""
    identity = spec.full_identity()
    last: dict[tuple[object, ...], dict[str, object]] = {}
    for _index, record in valid:
        key = tuple(record[n] for n in identity)
        last.pop(key, None)
        last[key] = record
    return list(last.values()), len(valid) - len(last)
