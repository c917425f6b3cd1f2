"""Allocations: 80/90/100 % used (each threshold its own condition, so each fires once) and
forecast to run out before the period ends, from the foresight service's status of each allocation
whose period holds the evaluation (tally.foresight.service.ForesightService.allocation_status).

Each condition clears, and its alert resolves, when the status no longer shows it: the amount was
raised, usage was corrected, the forecast fell, or the period ended. An alert names the allocation's
project (so its managers are told) and, for an allocation on one site's resources, that site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from tally.alerts.kinds.base import EvaluationContext, Params, RuleKind, register
from tally.alerts.model import AlertError, AlertRule, Condition

if TYPE_CHECKING:
    from tally.foresight.model import Allocation
    from tally.foresight.status import AllocationForecast, AllocationStatus

Percent = Annotated[float, Field(gt=0, le=1000)]


class AllocationParams(Params):
    #: Each share of the amount used fires once (its own condition).
    used_percent: Annotated[list[Percent], Field(max_length=10)] = Field(
        default_factory=lambda: [80.0, 90.0, 100.0]
    )
    #: "expected": fire when the expected use reaches the amount before the period ends.
    runs_out: Literal["expected", "off"] = "expected"

    @field_validator("used_percent", mode="before")
    @classmethod
    def _numbers(cls, value: object) -> object:
        if isinstance(value, list) and any(isinstance(v, bool) for v in value):
            raise ValueError("a boolean is not a number")
        return value

    @field_validator("used_percent")
    @classmethod
    def _distinct(cls, value: list[float]) -> list[float]:
        return sorted(set(value))


def _percent(value: float) -> str:
    return f"{value:g}%"


@register
class AllocationUse(RuleKind):
    name = "allocation"
    description = "Allocations 80/90/100 % used, or forecast to run out before their period ends"
    params_model = AllocationParams
    scopes = frozenset({"site", "project"})

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: AllocationParams = self.params(rule)
        if ctx.foresight is None:
            raise AlertError("allocation rules need the foresight service, which this evaluator lacks")
        today = ctx.now.date()
        out: list[Condition] = []
        for allocation in sorted(ctx.foresight.all_allocations(), key=lambda a: a.allocation_id):
            if not allocation.start <= today < allocation.end:
                continue
            if rule.scope.project is not None and allocation.project != rule.scope.project:
                continue
            if rule.scope.site is not None and rule.scope.site not in allocation.sites:
                continue
            status = ctx.foresight.allocation_status(allocation, ctx.now)
            sites = allocation.sites
            unit = allocation.currency or allocation.unit.value
            site = next(iter(sites)) if len(sites) == 1 else None
            measures: dict[str, float | str | None] = {
                "allocation_id": allocation.allocation_id,
                "unit": unit,
                "amount": str(allocation.amount),
                "used": str(status.used),
                "percent_used": round(status.percent_used, 3),
                "period_end": allocation.end.isoformat(),
            }
            what = f"allocation {allocation.allocation_id} of {allocation.project}"
            for threshold in p.used_percent:
                if status.percent_used >= threshold:
                    out.append(
                        Condition(
                            rule_id=rule.rule_id,
                            kind=self.name,
                            site=site,
                            project=allocation.project,
                            subject=f"{allocation.allocation_id}/used-{_percent(threshold)}",
                            summary=(
                                f"{what} is {status.percent_used:.1f}% used ({status.used:f} of "
                                f"{allocation.amount:f} {unit}): past {_percent(threshold)}"
                            ),
                            measures={**measures, "threshold_percent": threshold},
                        )
                    )
            forecast = status.forecast
            if p.runs_out == "expected" and forecast is not None and not status.exhausted:
                out += self._runs_out(rule, allocation, status, forecast, site, what, measures)
        return out

    def _runs_out(
        self,
        rule: AlertRule,
        allocation: Allocation,
        status: AllocationStatus,
        forecast: AllocationForecast,
        site: str | None,
        what: str,
        measures: dict[str, float | str | None],
    ) -> list[Condition]:
        if forecast.runs_out_on is None:
            return []
        return [
            Condition(
                rule_id=rule.rule_id,
                kind=self.name,
                site=site,
                project=allocation.project,
                subject=f"{allocation.allocation_id}/runs-out",
                summary=(
                    f"{what} is forecast to run out on {forecast.runs_out_on:%Y-%m-%d}, before its "
                    f"period ends ({allocation.end:%Y-%m-%d}); {status.percent_used:.1f}% used so far"
                ),
                measures={
                    **measures,
                    "runs_out_on": forecast.runs_out_on.isoformat(),
                    "expected_total": round(forecast.expected_total, 6),
                    "probability_exceeds": round(forecast.probability_exceeds, 4),
                },
            )
        ]
