"""Measured hours per instance and UTC day, from the agent's `vms` sampling intervals.

An interval counts for the part of it the VM was running: from the later of its start and the
boot (`boot_time`, else `interval_end - uptime_seconds` when the uptime is shorter than the
interval, i.e. the VM rebooted inside it) to its end. Copies of a sample (same identity) count once,
the last ingested winning; overlapping intervals of one instance (an agent restarted, a clock
step) are merged, so no second is counted twice. What remains is clipped to UTC days; busy CPU
seconds follow the interval's share that falls in each day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tally.reconcile.ids import measured_instance_key, provider_key

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND

Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MeasuredInstance:
    """One instance as the agent knows it (the first spelling seen of its identity)."""

    provider: str
    account: str
    instance_id: str
    key: str
    vm_name: str | None
    site: str | None


@dataclass(frozen=True)
class MeasuredDays:
    """Per (instance, day): arrays aligned by position; `instance` indexes `instances`."""

    instances: list[MeasuredInstance]
    instance: Int64s
    day: Int64s  # days since 1970-01-01
    running_seconds: Floats
    cpu_busy_seconds: Floats
    vcpus: Int64s
    samples: Int64s

    def __len__(self) -> int:
        return len(self.instance)


def _micros(column: pa.ChunkedArray | pa.Array) -> Int64s:
    """Microseconds since the epoch; null becomes 0 (callers mask nulls themselves)."""
    values = pc.fill_null(pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64()), 0)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def _floats(column: pa.ChunkedArray | pa.Array, fill: float) -> Floats:
    return np.asarray(
        pc.fill_null(column.cast(pa.float64()), fill).to_numpy(zero_copy_only=False), np.float64
    )


def _column(table: pa.Table, name: str, type_: pa.DataType) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, type_)])


def empty_measured(instances: list[MeasuredInstance] | None = None) -> MeasuredDays:
    zi = np.zeros(0, np.int64)
    zf = np.zeros(0, np.float64)
    return MeasuredDays(instances or [], zi, zi, zf, zf, zi, zi)


def measure(vms: pa.Table) -> MeasuredDays:
    """Aggregate `vms` rows (stored schema, or a subset with the needed columns) per instance-day."""
    if vms.num_rows == 0:
        return empty_measured()
    identity = instance_identity(vms)
    encoded = pc.dictionary_encode(identity).combine_chunks()
    inst = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    n_inst = len(encoded.dictionary)
    first_row = np.full(n_inst, -1, np.int64)
    order_rows = np.arange(len(inst), dtype=np.int64)
    first_row[inst[::-1]] = order_rows[::-1]  # first occurrence of each instance
    instances = instances_at(vms, first_row)

    start = _micros(vms.column("interval_start"))
    end = _micros(vms.column("interval_end"))
    uptime = _floats(_column(vms, "uptime_seconds", pa.int64()), np.inf)
    boot_col = _column(vms, "boot_time", pa.timestamp("us", tz="UTC"))
    boot_valid = np.asarray(pc.is_valid(boot_col).to_numpy(zero_copy_only=False), bool)
    boot = _micros(boot_col)
    busy = _floats(_column(vms, "cpu_busy_seconds", pa.float64()), 0.0)
    vcpus = np.asarray(
        pc.fill_null(_column(vms, "vcpus", pa.int64()), 0).to_numpy(zero_copy_only=False), np.int64
    )
    ingested_col = _column(vms, "ingested_at", pa.timestamp("us", tz="UTC"))
    ingested = _micros(ingested_col)

    # One copy per identity (instance, interval_start): the last ingested wins.
    order = np.lexsort((-ingested, start, inst))
    inst = inst[order]
    start = start[order]
    end = end[order]
    uptime = uptime[order]
    boot = boot[order]
    boot_valid = boot_valid[order]
    busy = busy[order]
    vcpus = vcpus[order]
    keep = np.ones(len(inst), bool)
    keep[1:] = (inst[1:] != inst[:-1]) | (start[1:] != start[:-1])
    inst = inst[keep]
    start = start[keep]
    end = end[keep]
    uptime = uptime[keep]
    boot = boot[keep]
    boot_valid = boot_valid[keep]
    busy = busy[keep]
    vcpus = vcpus[keep]
    length = np.maximum(end - start, 0)

    # The running part of each interval: [run_start, end).
    up_us = np.where(np.isfinite(uptime), uptime * US_PER_SECOND, np.inf)
    run_start = np.where(up_us < length, end - np.minimum(up_us, length).astype(np.int64), start)
    run_start = np.where(boot_valid & (boot > run_start), np.minimum(boot, end), run_start)

    # Merge overlaps per instance: a running maximum of ends, reset per instance by an offset.
    span = int(end.max() - min(int(start.min()), int(run_start.min()))) + 1
    origin = int(min(int(start.min()), int(run_start.min())))
    eff_start = np.empty_like(run_start)
    step = max(1, (2**62) // span)
    for lo in range(0, n_inst, step):
        sel = (inst >= lo) & (inst < lo + step)
        offset = (inst[sel] - lo) * span
        s = run_start[sel] - origin + offset
        e = end[sel] - origin + offset
        sort = np.argsort(s, kind="stable")
        cummax = np.maximum.accumulate(e[sort])
        prev = np.empty_like(cummax)
        prev[0] = np.iinfo(np.int64).min
        prev[1:] = cummax[:-1]
        merged = np.empty_like(s)
        merged[sort] = np.maximum(s[sort], prev)
        eff_start[sel] = merged - offset + origin
    eff_start = np.minimum(eff_start, end)
    share = np.where(length > 0, (end - eff_start) / np.maximum(length, 1), 0.0)
    busy_counted = busy * share

    # Clip to UTC days: an interval may run over one or more midnights.
    first_day = np.floor_divide(eff_start, US_PER_DAY)
    last_day = np.floor_divide(np.maximum(end - 1, eff_start), US_PER_DAY)
    parts_inst: list[Int64s] = []
    parts_day: list[Int64s] = []
    parts_secs: list[Floats] = []
    parts_busy: list[Floats] = []
    parts_vcpus: list[Int64s] = []
    parts_count: list[Int64s] = []
    extra = int((last_day - first_day).max()) if len(first_day) else 0
    counted = end - eff_start
    for k in range(extra + 1):
        day = first_day + k
        sel = day <= last_day
        lo = np.maximum(eff_start[sel], day[sel] * US_PER_DAY)
        hi = np.minimum(end[sel], (day[sel] + 1) * US_PER_DAY)
        secs = np.maximum(hi - lo, 0)
        frac = np.where(counted[sel] > 0, secs / np.maximum(counted[sel], 1), 0.0)
        parts_inst.append(inst[sel])
        parts_day.append(day[sel])
        parts_secs.append(secs / US_PER_SECOND)
        parts_busy.append(busy_counted[sel] * frac)
        parts_vcpus.append(vcpus[sel])
        parts_count.append(np.full(int(sel.sum()), 1 if k == 0 else 0, np.int64))
    all_inst = np.concatenate(parts_inst)
    all_day = np.concatenate(parts_day)
    base_day = int(all_day.min())
    n_days = int(all_day.max()) - base_day + 1
    cell = all_inst * n_days + (all_day - base_day)
    cells, index = np.unique(cell, return_inverse=True)
    secs_sum = np.bincount(index, weights=np.concatenate(parts_secs), minlength=len(cells))
    busy_sum = np.bincount(index, weights=np.concatenate(parts_busy), minlength=len(cells))
    count_sum = np.bincount(index, weights=np.concatenate(parts_count), minlength=len(cells)).astype(np.int64)
    vcpu_max = np.zeros(len(cells), np.int64)
    np.maximum.at(vcpu_max, index, np.concatenate(parts_vcpus))
    return MeasuredDays(
        instances=instances,
        instance=(cells // n_days).astype(np.int64),
        day=(cells % n_days + base_day).astype(np.int64),
        running_seconds=np.asarray(secs_sum, np.float64),
        cpu_busy_seconds=np.asarray(busy_sum, np.float64),
        vcpus=vcpu_max,
        samples=count_sum,
    )


def instance_identity(vms: pa.Table) -> pa.ChunkedArray:
    """Per row, the identity of its instance: provider, account and instance id, joined."""
    return pc.binary_join_element_wise(
        pc.fill_null(vms.column("provider"), ""),
        pc.fill_null(vms.column("account"), ""),
        pc.fill_null(vms.column("instance_id"), ""),
        "\x1f",
    )


def instances_at(vms: pa.Table, first_row: Int64s) -> list[MeasuredInstance]:
    """The instances as the rows at `first_row` spell them."""
    picked = vms.take(pa.array(first_row))
    names = picked.column("vm_name").to_pylist() if "vm_name" in vms.column_names else [None] * len(first_row)
    sites = picked.column("site").to_pylist() if "site" in vms.column_names else [None] * len(first_row)
    out: list[MeasuredInstance] = []
    for provider, account, instance_id, vm_name, site in zip(
        picked.column("provider").to_pylist(),
        picked.column("account").to_pylist(),
        picked.column("instance_id").to_pylist(),
        names,
        sites,
        strict=True,
    ):
        slug = provider_key(provider)
        out.append(
            MeasuredInstance(
                provider=slug,
                account=str(account or ""),
                instance_id=str(instance_id or ""),
                key=measured_instance_key(slug, instance_id) or "",
                vm_name=vm_name,
                site=site,
            )
        )
    return out
