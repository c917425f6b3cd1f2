"""Merge the small Parquet files of each `<table>/dt=.../` partition into a few large ones.

Ingest writes one content-named file per batch and partition (a month for jobs, storage and
accelerators, a day for VM samples), so a busy partition collects thousands of small files; Athena
pays per file opened, and every small file repeats a footer and dictionaries. Compaction rewrites a
partition as files of roughly `target_file_bytes`, and removes duplicate records on the way: per
identity (the model's `identity` fields) the row with the latest `ingested_at` stays, ties broken
by the larger `batch_id`, which is exactly the rule the deduplicating views apply.

Safety, in order of effects:
1. The output files are written in full before anything is deleted. S3 PUT is atomic and the local
   warehouse renames a finished temporary file, so a reader sees an output whole or not at all.
2. Only then are the inputs deleted. Between 1 and 2 a record is visible twice (never zero times);
   the views deduplicate it, and so does the next compaction.
3. Output names are derived from the set of input keys. A run that crashes after writing some
   outputs leaves inputs and outputs side by side; the next run takes all of them as inputs, keeps
   one row per identity, writes new outputs and deletes every input. Nothing is lost, nothing
   doubled, and running it again on a compacted partition does nothing.

Files written concurrently by ingest after the listing are not inputs, so they are never deleted.
A day partition is left alone until it is `min_age_days` old (it is still growing); a month
partition is compacted from its second day on, the growing month being rewritten as it grows.
Day folders of a table whose partitions now span a month (warehouses written before jobs, storage
and accelerators moved to month partitions) are inputs of their month: compaction moves them.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from tally.adapters.warehouse import partition_key, partition_value
from tally.domain.ports import Warehouse
from tally.domain.records import KINDS, MODELS, PartitionSpan
from tally.domain.schema import cluster_order, stored_schema

MiB = 1024 * 1024
COMPACTED_PREFIX = "compacted-"
_PARTITION = re.compile(r"^(?P<table>[a-z_]+)/dt=(?P<day>\d{4}-\d{2}(?:-\d{2})?)$")

#: Tables compacted by default and their identity (dedupe key), straight from the record models.
DEFAULT_TABLES: dict[str, tuple[str, ...]] = {kind: model.identity for kind, model in MODELS.items()}


@dataclass(frozen=True)
class CompactionPolicy:
    """Sizes are compressed Parquet bytes as stored."""

    #: Outputs are sized around this (Athena and S3 both like 128-512 MB objects).
    target_file_bytes: int = 256 * MiB
    #: A file below this size is worth merging; at or above it a file is left alone.
    small_file_bytes: int = 128 * MiB
    #: Most bytes read for one merge: bounds memory (Arrow in memory is several times Parquet).
    max_input_bytes: int = 512 * MiB
    #: Partitions whose day is later than `today - min_age_days` are not touched yet.
    min_age_days: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.small_file_bytes <= self.target_file_bytes:
            raise ValueError("small_file_bytes must be positive and at most target_file_bytes")
        if self.max_input_bytes < self.small_file_bytes:
            raise ValueError("max_input_bytes must be at least small_file_bytes")
        if self.min_age_days < 0:
            raise ValueError("min_age_days must not be negative")


@dataclass(frozen=True)
class PartitionResult:
    table: str
    #: The first day of the partition.
    day: date
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    rows_in: int
    rows_out: int
    span: PartitionSpan = "day"
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def duplicates_removed(self) -> int:
        return self.rows_in - self.rows_out

    @property
    def dt(self) -> str:
        return partition_value(self.day, self.span)


@dataclass
class RunResult:
    partitions: list[PartitionResult] = field(default_factory=list)
    #: False when the run stopped early (time budget) and partitions are left for the next run.
    complete: bool = True
    #: Temporary files of interrupted writes that the run removed (see `remove_stale_temps`).
    temps_removed: list[str] = field(default_factory=list)

    @property
    def files_removed(self) -> int:
        return sum(len(p.inputs) - len(set(p.inputs) & set(p.outputs)) for p in self.partitions)

    @property
    def duplicates_removed(self) -> int:
        return sum(p.duplicates_removed for p in self.partitions)

    @property
    def bytes_in(self) -> int:
        return sum(p.bytes_in for p in self.partitions)

    @property
    def bytes_out(self) -> int:
        return sum(p.bytes_out for p in self.partitions)


def deduplicate_latest(
    table: pa.Table, identity: Iterable[str], order: Iterable[str] | None = None
) -> pa.Table:
    """One row per identity: the latest `ingested_at`, then the largest `batch_id`.

    The result is sorted by `order` (default: the identity) then the rest of the identity, a
    total order, so equal inputs give byte-equal outputs.
    """
    keys = list(identity)
    first_keys = list(order or [])
    sort_keys = first_keys + [k for k in keys if k not in first_keys]
    if table.num_rows == 0:
        return table
    newest_first = table.take(
        pc.sort_indices(table, sort_keys=[("ingested_at", "descending"), ("batch_id", "descending")])
    )
    numbered = newest_first.select(keys).append_column(
        "__row", pa.array(range(newest_first.num_rows), pa.int64())
    )
    first = numbered.group_by(keys, use_threads=False).aggregate([("__row", "min")])
    kept = newest_first.take(first.column("__row_min"))
    indices = pc.sort_indices(kept, sort_keys=[(k, "ascending", "at_start") for k in sort_keys])
    return kept.take(indices)


def _output_name(inputs: list[str], index: int) -> str:
    digest = hashlib.blake2b("\n".join(sorted(inputs)).encode(), digest_size=12).hexdigest()
    return f"{COMPACTED_PREFIX}{digest}-{index:03d}.parquet"


def _unify(tables: list[pa.Table], table_name: str) -> pa.Table:
    """Concatenate files written at different times (older files may lack newer columns)."""
    schemas = [t.schema for t in tables]
    for kind in KINDS:
        if kind == table_name:
            # The model's column order first, so outputs look like what ingest writes today.
            schemas.insert(0, stored_schema(kind))
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    return pa.concat_tables([t.cast(_widen(t.schema, schema)) for t in tables], promote_options="permissive")


def _widen(have: pa.Schema, want: pa.Schema) -> pa.Schema:
    """`have` with each column's type taken from `want` (columns missing are added by concat)."""
    return pa.schema([want.field(f.name) if f.name in want.names else f for f in have])


class Compactor:
    def __init__(
        self,
        warehouse: Warehouse,
        policy: CompactionPolicy | None = None,
        tables: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.policy = policy or CompactionPolicy()
        self.tables = dict(tables if tables is not None else DEFAULT_TABLES)

    def span(self, table: str) -> PartitionSpan:
        model = MODELS.get(table)  # type: ignore[call-overload]
        return model.partition_span if model is not None else "day"

    def partitions(self, table: str) -> dict[date, list[str]]:
        """The Parquet files of each partition of `table`, by the partition's first day (a day
        folder of a month-span table counts as part of its month)."""
        span = self.span(table)
        out: dict[date, list[str]] = {}
        for key in self.warehouse.list_keys(f"{table}/"):
            folder, _, name = key.rpartition("/")
            match = _PARTITION.match(folder)
            if match is None or match["table"] != table or not name.endswith(".parquet"):
                continue
            value = match["day"]
            if len(value) == 7:
                if span != "month":
                    continue  # not a folder this table's layout writes
                first = date.fromisoformat(f"{value}-01")
            else:
                day = date.fromisoformat(value)
                first = day.replace(day=1) if span == "month" else day
            out.setdefault(first, []).append(key)
        return out

    def run(self, today: date, out_of_time: Callable[[], bool] | None = None) -> RunResult:
        """Compact every settled partition of every table; stop early when `out_of_time()`."""
        result = RunResult()
        result.temps_removed = self.warehouse.remove_stale_temps()
        for table in sorted(self.tables):
            span = self.span(table)
            for day, keys in sorted(self.partitions(table).items()):
                if (today - day).days < self.policy.min_age_days:
                    continue
                home = partition_key(table, day, "", span)
                for group in self.plan(keys, home):
                    if out_of_time is not None and out_of_time():
                        result.complete = False
                        return result
                    result.partitions.append(self.compact(table, day, group))
        return result

    def plan(self, keys: list[str], home: str | None = None) -> list[list[str]]:
        """Which files to merge together: nothing unless there are two files and one is small,
        or a file lies outside the partition's folder `home` (a day folder of a month partition).

        Everything is rewritten together when it fits the input budget, so duplicates across
        large files disappear too; otherwise the small files are merged in budget-sized groups
        and large files are left as they are.
        """
        misplaced = {k for k in keys if home is not None and not k.startswith(home)}
        if len(keys) < 2 and not misplaced:
            return []
        sizes = self.warehouse.object_sizes(keys)
        present = sorted(sizes)
        small = [k for k in present if sizes[k] < self.policy.small_file_bytes or k in misplaced]
        if not small or (len(present) < 2 and not misplaced & set(present)):
            return []
        if sum(sizes.values()) <= self.policy.max_input_bytes:
            return [present]
        groups: list[list[str]] = []
        current: list[str] = []
        budget = 0
        for key in small:
            if current and budget + sizes[key] > self.policy.max_input_bytes:
                groups.append(current)
                current, budget = [], 0
            current.append(key)
            budget += sizes[key]
        groups.append(current)
        return [g for g in groups if len(g) >= 2 or misplaced & set(g)]

    def compact(self, table: str, day: date, inputs: list[str]) -> PartitionResult:
        """Merge `inputs` (files of one partition) into new files; delete the inputs afterwards."""
        inputs = sorted(inputs)
        sizes = self.warehouse.object_sizes(inputs)
        inputs = [k for k in inputs if k in sizes]  # a file deleted meanwhile is no longer an input
        merged = _unify([self.warehouse.read_parquet(k) for k in inputs], table)
        span = self.span(table)
        order = cluster_order(table) if table in MODELS else None
        rows = deduplicate_latest(merged, self.tables[table], order)
        # Split evenly into files of about the target size (estimated from the input bytes), so
        # no output is left small enough to be merged again by the next run.
        parts = max(1, math.ceil(sum(sizes.values()) / self.policy.target_file_bytes))
        parts = min(parts, max(1, rows.num_rows))
        per_part = math.ceil(rows.num_rows / parts) if rows.num_rows else 0
        outputs: list[str] = []
        for index in range(parts if rows.num_rows else 0):
            key = partition_key(table, day, _output_name(inputs, index), span)
            self.warehouse.write_parquet(key, rows.slice(index * per_part, per_part))
            outputs.append(key)
        written = self.warehouse.object_sizes(outputs)
        missing = [k for k in outputs if k not in written]
        if missing:
            raise RuntimeError(f"compaction outputs not found after writing, inputs kept: {missing}")
        self.warehouse.delete([k for k in inputs if k not in outputs])
        return PartitionResult(
            table,
            day,
            tuple(inputs),
            tuple(outputs),
            merged.num_rows,
            rows.num_rows,
            span,
            sum(sizes.values()),
            sum(written.values()),
        )
