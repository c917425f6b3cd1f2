"""Agents gone quiet: a resource that sent records (of any kind) within the look-back, but none
for the last N hours. Arrival is the server's `ingested_at`, not the records' own times, so a site
catching up on old history counts as heard from."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from tally.alerts.kinds.base import (
    MAX_HOURS,
    EvaluationContext,
    Params,
    RuleKind,
    hours_before,
    naive,
    register,
    scope_filter,
)
from tally.alerts.model import AlertRule, Condition

Hours = Annotated[float, Field(gt=0, le=MAX_HOURS)]
#: The tables agents write, and the column each names its resource by.
SOURCES = (
    ("jobs", "resource"),
    ("vms", "resource"),
    ("accelerators", "resource"),
    ("storage", "storage_system"),
)


class SilentParams(Params):
    hours: Hours = 6.0
    #: Resources heard from within this many hours are known; one silent for longer drops out.
    lookback_hours: Hours = 24.0 * 30

    @model_validator(mode="after")
    def _longer(self) -> SilentParams:
        if self.lookback_hours <= self.hours:
            raise ValueError("lookback_hours must be longer than hours")
        return self


@register
class SilentAgent(RuleKind):
    name = "silent_agent"
    description = "Resources that sent records before but none for N hours"
    params_model = SilentParams
    scopes = frozenset({"site", "resource"})

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: SilentParams = self.params(rule)
        since = hours_before(ctx.now, p.lookback_hours)
        parts, params = [], []
        for table, resource in SOURCES:
            scope_sql, scope_params = scope_filter(rule.scope, {"site": "site", "resource": resource})
            parts.append(
                f"SELECT site, {resource} AS resource, max(ingested_at) AS last_at FROM {table}\n"
                f"WHERE dt >= ? AND ingested_at >= ? AND ingested_at <= ?{scope_sql}\n"
                f"GROUP BY site, {resource}"
            )
            params += [since.date().isoformat()[:7], naive(since), naive(ctx.now), *scope_params]
        sql = (
            "WITH arrivals AS (\n" + "\nUNION ALL\n".join(parts) + "\n)\n"
            "SELECT site, resource, max(last_at) AS last_at FROM arrivals\n"
            "GROUP BY site, resource HAVING max(last_at) < ?\nORDER BY site, resource"
        )
        rows = ctx.query(sql, [*params, naive(hours_before(ctx.now, p.hours))])
        out = []
        for r in rows:
            quiet = (naive(ctx.now) - r["last_at"]).total_seconds() / 3600
            out.append(
                Condition(
                    rule_id=rule.rule_id,
                    kind=self.name,
                    subject=r["resource"],
                    summary=f"no records from {r['site']}/{r['resource']} for {quiet:.1f} h",
                    site=r["site"],
                    resource=r["resource"],
                    measures={
                        "quiet_hours": round(quiet, 3),
                        "last_record_at": r["last_at"].isoformat() + "Z",
                    },
                )
            )
        return out
