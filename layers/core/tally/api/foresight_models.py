"""Request and answer bodies of the allocation, usage-forecast and fair-share routes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from tally.foresight.fairshare import FairshareRow
from tally.foresight.model import (
    MAX_AMOUNT,
    MAX_RESOURCES,
    MAX_TEXT,
    MIN_AMOUNT,
    Allocation,
    AllocationUnit,
    ResourceRef,
)
from tally.foresight.service import AllocationIn, ResourceForecast
from tally.foresight.status import AllocationForecast, AllocationStatus


class ResourceRefBody(BaseModel):
    site: str = Field(min_length=1, max_length=128)
    resource: str | None = Field(
        default=None, min_length=1, max_length=MAX_TEXT, description="none: every resource of the site"
    )


class AllocationBody(BaseModel):
    project: str = Field(min_length=1, max_length=MAX_TEXT, description="the project (account) of the jobs")
    resources: list[ResourceRefBody] = Field(
        default_factory=list, max_length=MAX_RESOURCES, description="empty: every resource of every site"
    )
    unit: AllocationUnit
    amount: Decimal = Field(ge=MIN_AMOUNT, le=MAX_AMOUNT, allow_inf_nan=False)
    start: date = Field(description="the period's first day (UTC)")
    end: date = Field(description="the day after the period's last (exclusive)")
    note: str = Field(default="", max_length=MAX_TEXT)
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="a money allocation's currency (ISO 4217); none for the other units",
    )

    def model(self) -> AllocationIn:
        refs = tuple(ResourceRef(r.site, r.resource) for r in self.resources)
        return AllocationIn(
            self.project, refs, self.unit, self.amount, self.start, self.end, self.note, self.currency
        )


class AllocationOut(BaseModel):
    allocation_id: str
    project: str
    resources: list[ResourceRefBody]
    unit: AllocationUnit
    amount: float
    start: date
    end: date
    note: str
    created_at: datetime
    created_by: str
    currency: str | None = Field(default=None, description="a money allocation's currency")

    @classmethod
    def of(cls, a: Allocation) -> AllocationOut:
        return cls(
            allocation_id=a.allocation_id,
            project=a.project,
            resources=[ResourceRefBody(site=r.site, resource=r.resource) for r in a.resources],
            unit=a.unit,
            amount=float(a.amount),
            start=a.start,
            end=a.end,
            note=a.note,
            created_at=a.created_at,
            created_by=a.created_by,
            currency=a.currency,
        )


class ForecastOut(BaseModel):
    method: str
    history_days: int
    expected_total: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    runs_out_on: date | None = Field(description="the day the expected use reaches the amount")
    probability_exceeds: float = Field(description="chance the use at the period's end exceeds the amount")

    @classmethod
    def of(cls, f: AllocationForecast) -> ForecastOut:
        return cls(**{name: getattr(f, name) for name in cls.model_fields})


class DailyUseOut(BaseModel):
    day: date
    used: float


class AllocationStatusOut(BaseModel):
    allocation: AllocationOut
    as_of: datetime
    used: float = Field(description="the unit's use in the period so far: the jobs report's figure")
    remaining: float
    percent_used: float
    exhausted: bool
    burn_rate_recent: float | None = Field(description="mean use per day, last burn_window_days days")
    burn_window_days: int
    burn_rate_period: float | None = Field(description="mean use per day over the period's days so far")
    elapsed_days: int
    forecast: ForecastOut | None
    forecast_note: str | None
    daily_use: list[DailyUseOut] = Field(
        default_factory=list, description="each of the period's days so far (today's so far), oldest first"
    )

    @classmethod
    def of(cls, s: AllocationStatus) -> AllocationStatusOut:
        return cls(
            allocation=AllocationOut.of(s.allocation),
            as_of=s.as_of,
            used=float(s.used),
            remaining=float(s.remaining),
            percent_used=round(s.percent_used, 6),
            exhausted=s.exhausted,
            burn_rate_recent=s.burn_rate_recent,
            burn_window_days=s.burn_window_days,
            burn_rate_period=s.burn_rate_period,
            elapsed_days=s.elapsed_days,
            forecast=ForecastOut.of(s.forecast) if s.forecast else None,
            forecast_note=s.forecast_note,
            daily_use=[DailyUseOut(day=d, used=float(v)) for d, v in s.daily],
        )


class UsageForecastOut(BaseModel):
    site: str
    resource: str
    month: date
    unit: AllocationUnit
    method: str
    history_days: int
    history_mean_per_day: float
    expected: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float

    @classmethod
    def of(cls, f: ResourceForecast, unit: AllocationUnit) -> UsageForecastOut:
        t = f.forecast
        return cls(
            site=f.site,
            resource=f.resource,
            month=f.month,
            unit=unit,
            method=t.method,
            history_days=t.history_days,
            history_mean_per_day=f.history_mean,
            expected=t.expected,
            lower_80=t.lower_80,
            upper_80=t.upper_80,
            lower_95=t.lower_95,
            upper_95=t.upper_95,
        )


def fairshare_row(r: FairshareRow) -> dict[str, str | float | None]:
    """One row: its dimensions, then `usage_hours`, `decayed_hours` (usage x 2^(-age / half-life),
    accrued over each job's run) and `share` (its part of the decayed total of the rows returned)."""
    return {**r.key, "usage_hours": r.usage_hours, "decayed_hours": r.decayed_hours, "share": r.share}


class FairshareOut(BaseModel):
    at: datetime
    half_life_days: float
    unit: str
    since: datetime
    group_by: list[str]
    rows: list[dict[str, str | float | None]]
