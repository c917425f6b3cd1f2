"""The verifier in bounded memory: the period read in slices, judged in chunks of instances.

`engine.reconcile` holds the whole period (2,000 VMs x 30 days of 15-minute samples peaked at
4.6 GB). Here the bill and the samples come as slices (`Batches`: a callable giving the rows of the
requested columns, slice by slice, in file order), read in several passes:
1. the bill's invoice columns: its scope (accounts) and per-invoice sums, added up slice by slice;
2. the samples' identity columns: every instance in the order it first appears (the engine's
   order) and its number of samples;
3. per chunk of bill keys (about `chunk_samples` lines): their lines, aggregated per instance-day;
4. per chunk of instances (about `chunk_samples` samples; an instance is never split): their
   samples, measured per instance-day.
Instances sharing a name a bill may use (an instance id, a VM name) stay in one chunk, and a bill
line goes to the chunk of the instances it may match, so every instance-day is computed from all
its lines and samples in their order: the same numbers, byte for byte, as the whole period. Held
at once: one chunk, plus the per-instance-day aggregates (the size of the verdict table).
Steps 3 and 4 read the period once each: every slice is split by chunk (a stable sort, so each
chunk keeps its rows in file order) into one spill file per chunk (Parquet, zstd, in a temporary
directory), and each chunk is then read back from its own file. Reading the period
again for every chunk, as this did before, made the time grow with the square of the fleet at a
fixed chunk size (2,000 VMs 24-30 s, 6,000 VMs 229 s); now it grows with the fleet, for the disk
of about one copy of the period's sample and bill columns.
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tally.reconcile.billed import LINE_COLUMNS, BilledDay, billed_days_of_lines, instance_keys, select_lines
from tally.reconcile.config import ReconcileConfig
from tally.reconcile.engine import (
    INVOICE_COLUMNS,
    Outcome,
    Window,
    bill_scope,
    combine_invoice_sums,
    invoice_sums,
    judge,
)
from tally.reconcile.measured import (
    Int64s,
    MeasuredDays,
    MeasuredInstance,
    empty_measured,
    instance_identity,
    instances_at,
    measure,
)

#: Slices of a table in file order, with those of the requested columns each file has.
Batches = Callable[[Sequence[str]], Iterable[pa.Table]]

#: Samples judged at once: the service peaks at about 1 GB with it, at 2,000 VMs x 30 days as at
#: 600 (bench/billing.py --reconcile-scaling); twice the chunk, 1.6 GB.
DEFAULT_CHUNK_SAMPLES = 1_000_000

_IDENTITY_COLUMNS = ("provider", "account", "instance_id", "vm_name", "site")
_SAMPLE_COLUMNS = (
    "site",
    "provider",
    "account",
    "instance_id",
    "vm_name",
    "interval_start",
    "interval_end",
    "boot_time",
    "uptime_seconds",
    "cpu_busy_seconds",
    "vcpus",
    "ingested_at",
)


@dataclass(frozen=True)
class Fleet:
    """Every measured instance, in the order of first appearance, and its number of samples."""

    identities: list[str]
    instances: list[MeasuredInstance]
    samples: list[int]


def fleet(vms: Batches) -> Fleet:
    index: dict[str, int] = {}
    identities: list[str] = []
    instances: list[MeasuredInstance] = []
    samples: list[int] = []
    for batch in vms(_IDENTITY_COLUMNS):
        if batch.num_rows == 0:
            continue
        encoded = pc.dictionary_encode(instance_identity(batch)).combine_chunks()
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
        names: list[str] = encoded.dictionary.to_pylist()
        new = [code for code, name in enumerate(names) if name not in index]
        if new:
            first = np.full(len(names), -1, np.int64)
            first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1, dtype=np.int64)
            for code, inst in zip(new, instances_at(batch, first[new]), strict=True):
                index[names[code]] = len(identities)
                identities.append(names[code])
                instances.append(inst)
                samples.append(0)
        for code, count in enumerate(np.bincount(codes, minlength=len(names)).tolist()):
            samples[index[names[code]]] += int(count)
    return Fleet(identities, instances, samples)


@dataclass(frozen=True)
class Chunks:
    """Which chunk measures each instance, and which aggregates the lines of each bill key."""

    count: int
    of_instance: Int64s
    bill_count: int

    def of_bill(self, provider: str, key: str) -> int:
        # The judging is global, so a key's lines only need to stay together: a stable hash.
        return zlib.crc32(f"{provider}\x1f{key}".encode()) % self.bill_count


def plan_chunks(measured: Fleet, chunk_samples: int, bill_lines: int) -> Chunks:
    """Instances fill chunks of about `chunk_samples` samples in order; one is never split. Bill
    keys hash to chunks of about as many lines, never more chunks than the instances have (each
    is a pass over the bill)."""
    of_instance = np.zeros(len(measured.instances), np.int64)
    chunk, filled = 0, 0
    for i, count in enumerate(measured.samples):
        if filled and filled + count > chunk_samples:
            chunk, filled = chunk + 1, 0
        of_instance[i] = chunk
        filled += count
    bill_count = max(1, min(chunk + 1, -(-bill_lines // chunk_samples)))
    return Chunks(chunk + 1, of_instance, bill_count)


def _bill_chunk(batch: pa.Table, chunks: Chunks) -> pa.Array:
    """Per bill line, its chunk (-1 for lines of no instance, which no chunk counts)."""
    provider, key = instance_keys(batch)
    ident = pc.binary_join_element_wise(provider, key, "\x1f")
    encoded = pc.dictionary_encode(ident)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    mapped: list[int] = []
    for text in encoded.dictionary.to_pylist():
        slug, name = str(text).split("\x1f", 1)
        mapped.append(chunks.of_bill(slug, name))
    return pc.fill_null(pc.take(pa.array(mapped, pa.int64()), encoded.indices), -1)


class Spill:
    """Rows sorted into one file per chunk in a single pass, read back chunk by chunk.

    A chunk's rows keep the order they were added in. A chunk's file is a series of segments, a
    new one whenever the columns change (files of the period may differ), so reading a chunk back
    gives the pieces a filter of each slice would have given, concatenated per segment."""

    def __init__(self, directory: Path, name: str, count: int) -> None:
        self.directory = directory
        self.name = name
        self.count = count
        self._writers: dict[int, tuple[pq.ParquetWriter, pa.Schema]] = {}
        self._segments: list[list[Path]] = [[] for _ in range(count)]

    def add(self, batch: pa.Table, chunk_of_row: Int64s) -> None:
        """Each row of `batch` to the chunk `chunk_of_row` gives it (rows of chunk -1 are dropped)."""
        order = np.argsort(chunk_of_row, kind="stable")
        ranked = chunk_of_row[order]
        bounds = np.searchsorted(ranked, np.arange(self.count + 1), side="left")
        kept = int(bounds[0])
        if kept == len(order):
            return
        taken = batch.take(pa.array(order[kept:]))
        for chunk in np.nonzero(np.diff(bounds))[0].tolist():
            start, stop = int(bounds[chunk]) - kept, int(bounds[chunk + 1]) - kept
            self._write(chunk, taken.slice(start, stop - start))

    def _write(self, chunk: int, table: pa.Table) -> None:
        open_ = self._writers.get(chunk)
        if open_ is not None and not open_[1].equals(table.schema):
            open_[0].close()
            open_ = None
        if open_ is None:
            path = self.directory / f"{self.name}-{chunk}-{len(self._segments[chunk])}.parquet"
            self._segments[chunk].append(path)
            open_ = (pq.ParquetWriter(path, table.schema, compression="zstd"), table.schema)
            self._writers[chunk] = open_
        open_[0].write_table(table)

    def close(self) -> None:
        for writer, _ in self._writers.values():
            writer.close()
        self._writers.clear()

    def read(self, chunk: int) -> list[pa.Table]:
        """The chunk's segments (call `close` first); its files are removed once read."""
        tables = []
        for path in self._segments[chunk]:
            tables.append(pq.ParquetFile(path).read())  # the Arrow schema it was written with
            path.unlink()
        self._segments[chunk] = []
        return tables


def _billed_by_chunk(
    billing: Batches, chunks: Chunks, directory: Path
) -> Iterator[dict[tuple[str, str, int], BilledDay]]:
    """Per bill chunk, its lines' days: one pass over the bill into spill files, then each chunk."""
    spill = Spill(directory, "bill", chunks.bill_count)
    for batch in billing(LINE_COLUMNS):
        if batch.num_rows:
            of_row = np.asarray(_bill_chunk(batch, chunks).to_numpy(zero_copy_only=False), np.int64)
            spill.add(batch, of_row)
    spill.close()
    for chunk in range(chunks.bill_count):
        lines: list[pa.Table] = []
        for part in spill.read(chunk):
            selected = select_lines(part)
            if selected.num_rows:
                lines.append(selected)
        yield billed_days_of_lines(pa.concat_tables(lines, promote_options="permissive")) if lines else {}


def _samples_by_chunk(vms: Batches, measured: Fleet, chunks: Chunks, directory: Path) -> Spill:
    """The samples sorted into one spill file per chunk of instances, in one pass."""
    index = {name: i for i, name in enumerate(measured.identities)}
    spill = Spill(directory, "vms", chunks.count)
    for batch in vms(_SAMPLE_COLUMNS):
        if batch.num_rows == 0:
            continue
        encoded = pc.dictionary_encode(instance_identity(batch)).combine_chunks()
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
        # An identity the first pass did not see cannot be measured: the files changed.
        try:
            of_code = np.array([index[name] for name in encoded.dictionary.to_pylist()], np.int64)
        except KeyError:
            raise RuntimeError("the samples changed between two passes over the period") from None
        spill.add(batch, chunks.of_instance[of_code[codes]])
    spill.close()
    return spill


def _chunk_measured(parts: list[pa.Table], members: Int64s) -> MeasuredDays | None:
    if not parts:
        return None
    local = measure(pa.concat_tables(parts, promote_options="permissive"))
    # The chunk's instances appear in the same order as in the whole period: local i is members[i].
    if len(local.instances) != len(members):
        raise RuntimeError("the samples changed between two passes over the period")
    return MeasuredDays(
        instances=[],
        instance=members[local.instance],
        day=local.day,
        running_seconds=local.running_seconds,
        cpu_busy_seconds=local.cpu_busy_seconds,
        vcpus=local.vcpus,
        samples=local.samples,
    )


def _concat(instances: list[MeasuredInstance], parts: list[MeasuredDays]) -> MeasuredDays:
    if not parts:
        return empty_measured(instances)
    return MeasuredDays(
        instances=instances,
        instance=np.concatenate([p.instance for p in parts]),
        day=np.concatenate([p.day for p in parts]),
        running_seconds=np.concatenate([p.running_seconds for p in parts]),
        cpu_busy_seconds=np.concatenate([p.cpu_busy_seconds for p in parts]),
        vcpus=np.concatenate([p.vcpus for p in parts]),
        samples=np.concatenate([p.samples for p in parts]),
    )


def reconcile_streamed(
    billing: Batches,
    vms: Batches,
    window: Window,
    config: ReconcileConfig,
    run_id: str,
    judged_at: datetime,
    expected_invoice_totals: dict[tuple[str, str], Decimal] | None = None,
    chunk_samples: int = DEFAULT_CHUNK_SAMPLES,
) -> Outcome:
    """`engine.reconcile` of the bill and samples `billing` and `vms` give, chunk by chunk."""
    if chunk_samples <= 0:
        raise ValueError("chunk_samples must be positive")
    scope: set[tuple[str, str]] = set()
    sums: list[list[dict[str, Any]]] = []
    lines = 0
    for batch in billing(INVOICE_COLUMNS):
        if batch.num_rows:
            lines += batch.num_rows
            scope |= bill_scope(batch)
            sums.append(invoice_sums(batch, window.period))
    measured = fleet(vms)
    chunks = plan_chunks(measured, chunk_samples, lines)
    billed: dict[tuple[str, str, int], BilledDay] = {}
    days: list[MeasuredDays] = []
    with tempfile.TemporaryDirectory(prefix="tally-reconcile-") as spill_dir:
        for chunk_days in _billed_by_chunk(billing, chunks, Path(spill_dir)):
            billed.update(chunk_days)
        spill = _samples_by_chunk(vms, measured, chunks, Path(spill_dir))
        for chunk in range(chunks.count):
            members = np.nonzero(chunks.of_instance == chunk)[0].astype(np.int64)
            parts = spill.read(chunk)
            if len(members):
                part = _chunk_measured(parts, members)
                if part is not None:
                    days.append(part)
    return judge(
        billed,
        _concat(measured.instances, days),
        scope,
        combine_invoice_sums(sums),
        window,
        config,
        run_id,
        judged_at,
        expected_invoice_totals,
    )
