"""Stuck VMs: running and reporting, their CPU flat (busy, but never moving) and no progress (no
network traffic to speak of) for N hours, as a hung job spinning in a loop looks."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tally.alerts.kinds.base import (
    MAX_HOURS,
    EvaluationContext,
    Params,
    RuleKind,
    hours_before,
    naive,
    register,
    window_rows,
)
from tally.alerts.model import AlertRule, Condition
from tally.alerts.pricing import Priced, price

Hours = Annotated[float, Field(gt=0, le=MAX_HOURS)]


class StuckParams(Params):
    hours: Hours = 6.0
    #: The busy share of every sample lies within this band (max - min, percentage points).
    flat_band_percent: Annotated[float, Field(ge=0, le=100)] = 2.0
    #: A flat VM below this is idle (the idle rule's), not stuck.
    busy_above_percent: Annotated[float, Field(ge=0, le=100)] = 10.0
    #: Received plus sent bytes over the window at most this.
    max_network_bytes: Annotated[int, Field(ge=0)] = 1_000_000
    #: Measured time must cover this share of the window.
    min_coverage: Annotated[float, Field(gt=0, le=1)] = 0.9
    fresh_hours: Hours = 1.0


STUCK_VMS = """
WITH samples AS (
  SELECT provider, account, instance_id, site, resource, project, vm_name, interval_end,
    date_diff('second', interval_start, interval_end) AS seconds,
    cpu_busy_seconds * 100e0 / (date_diff('second', interval_start, interval_end) * vcpus) AS busy,
    coalesce(net_rx_bytes, 0) + coalesce(net_tx_bytes, 0) AS net
  FROM vms_dedup
  WHERE dt >= ? AND dt <= ? AND interval_start >= ? AND interval_end <= ?
    AND interval_end > interval_start AND coalesce(measurement, 'agent') = 'agent'{scope}
)
SELECT provider, account, instance_id,
  max(site) AS site, max(resource) AS resource, max(project) AS project, max(vm_name) AS vm_name,
  sum(seconds) AS seconds, min(busy) AS low, max(busy) AS high,
  CAST(sum(busy * seconds) AS DOUBLE) / sum(seconds) AS mean, sum(net) AS net, max(interval_end) AS last_seen
FROM samples
GROUP BY provider, account, instance_id
HAVING sum(seconds) >= ? AND max(busy) - min(busy) <= ?
  AND CAST(sum(busy * seconds) AS DOUBLE) / sum(seconds) >= ? AND sum(net) <= ? AND max(interval_end) >= ?
ORDER BY provider, account, instance_id
"""


@register
class StuckVm(RuleKind):
    name = "stuck_vm"
    description = "Running VMs whose CPU stayed flat with no network progress for N hours"
    params_model = StuckParams

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: StuckParams = self.params(rule)
        start = hours_before(ctx.now, p.hours)
        rows = window_rows(
            ctx,
            STUCK_VMS,
            rule.scope,
            start,
            [
                p.hours * 3600 * p.min_coverage,
                p.flat_band_percent,
                p.busy_above_percent,
                p.max_network_bytes,
                naive(hours_before(ctx.now, p.fresh_hours)),
            ],
        )
        items = [Priced("vm", r["site"], r["resource"], r["provider"], r["instance_id"]) for r in rows]
        rates = ctx.pricer.hourly_rates(items, ctx.now)
        out = []
        for r, item in zip(rows, items, strict=True):
            hours = float(r["seconds"]) / 3600
            rate = rates.get(item)
            money = price(hours, rate) if rate else None
            out.append(
                Condition(
                    rule_id=rule.rule_id,
                    kind=self.name,
                    subject=f"{r['provider']}/{r['account']}/{r['instance_id']}",
                    summary=(
                        f"VM {r['vm_name'] or r['instance_id']} ({r['provider']} {r['account']}) stuck at "
                        f"{float(r['mean']):.1f}% CPU (between {float(r['low']):.1f} and "
                        f"{float(r['high']):.1f}%) with {int(r['net'])} network bytes for {hours:.2f} h"
                    ),
                    site=r["site"],
                    resource=r["resource"],
                    project=r["project"],
                    measures={
                        "hours": round(hours, 4),
                        "cpu_percent": round(float(r["mean"]), 3),
                        "network_bytes": int(r["net"]),
                    },
                    money=money,
                )
            )
        return out
