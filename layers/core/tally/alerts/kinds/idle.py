"""Idle VMs and idle GPUs, each priced: the idle hours times the hourly rate (tally.alerts.pricing).

Idle means every sample since the last busy one is below the threshold, for at least `hours` of
measured time, and the newest sample is recent (a VM that stopped reporting is the silent rule's,
not an idle one). Samples derived from cloud events measure no CPU and are never judged idle.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from tally.alerts.kinds.base import (
    MAX_HOURS,
    EvaluationContext,
    Params,
    RuleKind,
    hours_before,
    naive,
    partitions,
    register,
    window_rows,
)
from tally.alerts.model import AlertRule, Condition
from tally.alerts.pricing import Priced, price

MICRO = Decimal("0.000001")
Hours = Annotated[float, Field(gt=0, le=MAX_HOURS)]
Percent = Annotated[float, Field(gt=0, le=100)]


class IdleParams(Params):
    #: A sample is idle below this share of its vCPUs' (or the GPU's) time busy.
    below_percent: Percent = 5.0
    #: Idle for at least this many measured hours in a row.
    hours: Hours = 24.0
    #: How far back a streak is followed (at least `hours`).
    lookback_hours: Hours = 24.0 * 7
    #: The newest sample must have ended within this many hours of the evaluation.
    fresh_hours: Hours = 1.0


IDLE_VMS = """
WITH samples AS (
  SELECT provider, account, instance_id, site, resource, project, vm_name, vcpus,
    interval_start, interval_end, cpu_busy_seconds,
    date_diff('second', interval_start, interval_end) AS seconds
  FROM vms_dedup
  WHERE dt >= ? AND dt <= ? AND interval_start >= ? AND interval_end <= ?
    AND coalesce(measurement, 'agent') = 'agent'{scope}
),
marked AS (
  SELECT samples.*,
    CASE WHEN seconds > 0 AND cpu_busy_seconds * 100e0 < ? * seconds * vcpus THEN 1 ELSE 0 END AS idle
  FROM samples
),
per_vm AS (
  SELECT provider, account, instance_id,
    max(CASE WHEN idle = 0 THEN interval_end END) AS busy_until, max(interval_end) AS last_seen
  FROM marked
  GROUP BY provider, account, instance_id
)
SELECT m.provider, m.account, m.instance_id,
  max(m.site) AS site, max(m.resource) AS resource, max(m.project) AS project,
  max(m.vm_name) AS vm_name, max(m.vcpus) AS vcpus,
  sum(m.seconds) AS idle_seconds, min(m.interval_start) AS idle_since, max(p.last_seen) AS last_seen,
  sum(m.cpu_busy_seconds) AS busy_seconds, sum(m.seconds * m.vcpus) AS vcpu_seconds
FROM marked AS m
JOIN per_vm AS p
  ON p.provider = m.provider AND p.account = m.account AND p.instance_id = m.instance_id
WHERE (p.busy_until IS NULL OR m.interval_start >= p.busy_until) AND p.last_seen >= ?
GROUP BY m.provider, m.account, m.instance_id
HAVING sum(m.seconds) >= ?
ORDER BY m.provider, m.account, m.instance_id
"""

IDLE_GPUS = """
WITH samples AS (
  SELECT site, resource, associated_kind, associated_id, model, project, "count" AS devices,
    interval_start, interval_end, allocated_seconds,
    coalesce(
      utilisation_percent,
      CASE WHEN allocated_seconds > 0 THEN active_seconds * 100e0 / allocated_seconds END
    ) AS utilisation
  FROM accelerators_dedup
  WHERE dt >= ? AND dt <= ? AND interval_start >= ? AND interval_end <= ?{scope}
),
marked AS (
  SELECT samples.*,
    CASE WHEN utilisation IS NOT NULL AND allocated_seconds > 0 AND utilisation < ? THEN 1 ELSE 0 END
      AS idle
  FROM samples
),
per_gpu AS (
  SELECT site, resource, associated_id, model,
    max(CASE WHEN idle = 0 THEN interval_end END) AS busy_until, max(interval_end) AS last_seen
  FROM marked
  GROUP BY site, resource, associated_id, model
),
hosts AS (
  SELECT DISTINCT site, resource, instance_id, provider
  FROM vms_dedup
  WHERE dt >= ? AND dt <= ? AND interval_start >= ?
)
SELECT m.site, m.resource, m.associated_id, m.model,
  max(m.associated_kind) AS associated_kind, max(m.project) AS project, max(m.devices) AS devices,
  sum(m.allocated_seconds) AS idle_seconds, sum(m.allocated_seconds * m.devices) AS device_seconds,
  min(m.interval_start) AS idle_since, max(p.last_seen) AS last_seen, max(h.provider) AS provider
FROM marked AS m
JOIN per_gpu AS p
  ON p.site = m.site AND p.resource = m.resource AND p.associated_id = m.associated_id
  AND p.model = m.model
LEFT JOIN hosts AS h
  ON m.associated_kind = 'vm' AND h.site = m.site AND h.resource = m.resource
  AND h.instance_id = m.associated_id
WHERE (p.busy_until IS NULL OR m.interval_start >= p.busy_until) AND p.last_seen >= ?
GROUP BY m.site, m.resource, m.associated_id, m.model
HAVING sum(m.allocated_seconds) >= ?
ORDER BY m.site, m.resource, m.associated_id, m.model
"""


@register
class IdleVm(RuleKind):
    name = "idle_vm"
    description = "VMs whose CPU stayed below a threshold for N hours, priced at their billed rate"
    params_model = IdleParams

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: IdleParams = self.params(rule)
        start = hours_before(ctx.now, max(p.lookback_hours, p.hours))
        rows = window_rows(
            ctx,
            IDLE_VMS,
            rule.scope,
            start,
            [p.below_percent, naive(hours_before(ctx.now, p.fresh_hours)), p.hours * 3600],
        )
        items = {
            (r["provider"], r["account"], r["instance_id"]): Priced(
                "vm", r["site"], r["resource"], r["provider"], r["instance_id"]
            )
            for r in rows
        }
        rates = ctx.pricer.hourly_rates(list(items.values()), ctx.now)
        out = []
        for r in rows:
            hours = float(r["idle_seconds"]) / 3600
            rate = rates.get(items[(r["provider"], r["account"], r["instance_id"])])
            money = price(hours, rate) if rate else None
            busy = 100 * float(r["busy_seconds"]) / float(r["vcpu_seconds"]) if r["vcpu_seconds"] else 0.0
            cost = f", {money.amount} {money.currency} at the billed rate" if money else ""
            out.append(
                Condition(
                    rule_id=rule.rule_id,
                    kind=self.name,
                    subject=f"{r['provider']}/{r['account']}/{r['instance_id']}",
                    summary=(
                        f"VM {r['vm_name'] or r['instance_id']} ({r['provider']} {r['account']}) idle for "
                        f"{hours:.2f} h at {busy:.1f}% CPU{cost}"
                    ),
                    site=r["site"],
                    resource=r["resource"],
                    project=r["project"],
                    measures={
                        "idle_hours": round(hours, 4),
                        "cpu_percent": round(busy, 3),
                        "idle_since": r["idle_since"].isoformat() + "Z",
                        "hourly_rate": str(rate.per_hour.quantize(MICRO)) if rate else None,
                    },
                    money=money,
                )
            )
        return out


@register
class IdleGpu(RuleKind):
    name = "idle_gpu"
    description = "Allocated GPUs whose utilisation stayed near 0 for N hours, priced per GPU-hour"
    params_model = IdleParams

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: IdleParams = self.params(rule)
        start = hours_before(ctx.now, max(p.lookback_hours, p.hours))
        rows = window_rows(
            ctx,
            IDLE_GPUS,
            rule.scope,
            start,
            [
                p.below_percent,
                *partitions(start, ctx.now),  # the hosts' samples
                naive(start),
                naive(hours_before(ctx.now, p.fresh_hours)),
                p.hours * 3600,
            ],
        )
        items = {
            (r["site"], r["resource"], r["associated_id"], r["model"]): Priced(
                "gpu",
                r["site"],
                r["resource"],
                r["provider"],
                r["associated_id"] if r["associated_kind"] == "vm" else None,
                r["model"],
            )
            for r in rows
        }
        rates = ctx.pricer.hourly_rates(list(items.values()), ctx.now)
        out = []
        for r in rows:
            device_hours = float(r["device_seconds"]) / 3600
            rate = rates.get(items[(r["site"], r["resource"], r["associated_id"], r["model"])])
            # A billed rate is the VM's: per hour of the whole instance, whatever its GPU count.
            hours = float(r["idle_seconds"]) / 3600 if rate and rate.source == "billed" else device_hours
            money = price(hours, rate) if rate else None
            cost = f", {money.amount} {money.currency}" if money else ""
            out.append(
                Condition(
                    rule_id=rule.rule_id,
                    kind=self.name,
                    subject=f"{r['associated_kind']}/{r['associated_id']}/{r['model']}",
                    summary=(
                        f"{r['devices']} x {r['model']} on {r['associated_kind']} {r['associated_id']} "
                        f"idle for {device_hours:.2f} GPU-hours{cost}"
                    ),
                    site=r["site"],
                    resource=r["resource"],
                    project=r["project"],
                    measures={
                        "idle_gpu_hours": round(device_hours, 4),
                        "idle_hours": round(float(r["idle_seconds"]) / 3600, 4),
                        "idle_since": r["idle_since"].isoformat() + "Z",
                    },
                    money=money,
                )
            )
        return out
