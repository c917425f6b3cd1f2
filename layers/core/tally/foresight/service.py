"""The foresight service: allocations (kept in the control store), their status, usage forecasts
for capacity planning, and fair share. Built once by the composition root (Services.foresight).

Who sees what is decided by the one authorisation point (tally.people.authz): routes pass the
caller's `Fence` here, and this module turns it into allocations. An allocation is seen by admins
and finance; by the project's managers; by a site manager when every resource it names is at their
site (an allocation on all resources spans sites they do not run); and by a user who belongs to the
project: whose jobs (linked to them as in reports) were charged to it in the `membership_days`
before now. Allocations are managed by admins and finance, and by a site manager for allocations
whose every resource is at their site.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tally.foresight.fairshare import FairshareRow, FairshareSpec, run_fairshare
from tally.foresight.forecast import (
    ForecastLibraryMissingError,
    ForecastUnavailableError,
    TotalForecast,
)
from tally.foresight.forecaster import Forecaster, InProcessForecaster
from tally.foresight.model import (
    Allocation,
    AllocationError,
    AllocationForbiddenError,
    AllocationNotFoundError,
    AllocationUnit,
    ResourceRef,
    check_amount,
    check_period,
    check_resources,
    check_text,
    check_unit_currency,
)
from tally.foresight.settings import ForesightSettings
from tally.foresight.status import AllocationStatus, build_status
from tally.foresight.store import AllocationStore
from tally.foresight.usage import Clauses, allocation_daily, daily_by_resource, midnight
from tally.people.authz import Fence
from tally.query.engine import QueryEngine
from tally.reports.run import run_report
from tally.reports.spec import ReportSpec

Audit = Callable[..., None]


@dataclass(frozen=True)
class AllocationIn:
    project: str
    resources: tuple[ResourceRef, ...]
    unit: AllocationUnit
    amount: Decimal
    start: date
    end: date
    note: str = ""
    currency: str | None = None  # a money allocation's


@dataclass(frozen=True)
class ResourceForecast:
    site: str
    resource: str
    month: date
    forecast: TotalForecast
    #: Mean use per day over the history the forecast was fitted on.
    history_mean: float


def _now() -> datetime:
    return datetime.now(UTC)


class ForesightService:
    def __init__(
        self,
        engine: Callable[[], QueryEngine],
        store: AllocationStore,
        settings: ForesightSettings,
        audit: Audit,
        forecaster: Forecaster | None = None,
    ) -> None:
        self._engine = engine
        self.store = store
        self.settings = settings
        self._audit = audit
        #: In this process unless the composition root gives another (the forecaster function).
        self.forecaster: Forecaster = forecaster or InProcessForecaster()

    # -- who may see and change an allocation ----------------------------------------------------
    def member_projects(self, person_ids: set[str], at: datetime | None = None) -> set[str]:
        """Projects the people's jobs were charged to in the membership window before `at`."""
        if not person_ids:
            return set()
        end = (at or _now()) + timedelta(days=1)
        start = end - timedelta(days=self.settings.membership_days + 1)
        spec = ReportSpec("jobs", ("project",), ("jobs",), start, end, {"user": tuple(sorted(person_ids))})
        projects = run_report(self._engine(), spec).table.column("project").to_pylist()
        return {p for p in projects if p is not None}

    @staticmethod
    def manages(fence: Fence, allocation: Allocation | AllocationIn) -> bool:
        if fence.everything:
            return True
        sites = fence.sites()
        return bool(allocation.resources) and all(r.site in sites for r in allocation.resources)

    def visible(self, fence: Fence, allocations: list[Allocation]) -> list[Allocation]:
        if fence.everything:
            return allocations
        projects = fence.values("project")
        users = fence.values("user")
        members = self.member_projects(users) if users and allocations else set()
        return [
            a for a in allocations if a.project in projects or a.project in members or self.manages(fence, a)
        ]

    def visible_one(self, fence: Fence, allocation_id: str) -> Allocation:
        allocation = self.store.get(allocation_id)
        if allocation is None or not self.visible(fence, [allocation]):
            raise AllocationNotFoundError(f"no allocation {allocation_id!r}")
        return allocation

    # -- managing ----------------------------------------------------------------------------------
    @staticmethod
    def checked(body: AllocationIn) -> AllocationIn:
        start, end = check_period(body.start, body.end)
        unit = AllocationUnit(body.unit)
        return AllocationIn(
            check_text(body.project, "project"),
            check_resources(list(body.resources)),
            unit,
            check_amount(body.amount),
            start,
            end,
            check_text(body.note, "note", allow_empty=True),
            check_unit_currency(unit, body.currency),
        )

    def create(self, body: AllocationIn, fence: Fence, actor: str) -> Allocation:
        body = self.checked(body)
        self._may_manage(fence, body)
        allocation = Allocation(
            f"al-{secrets.token_hex(6)}",
            body.project,
            body.resources,
            body.unit,
            body.amount,
            body.start,
            body.end,
            _now(),
            actor,
            body.note,
            body.currency,
        )
        if not self.store.put(allocation, create_only=True):
            raise AllocationError("allocation id collision: try again")
        self._audit(actor, "allocation.create", allocation.allocation_id, **self._detail(allocation))
        return allocation

    def replace(self, allocation_id: str, body: AllocationIn, fence: Fence, actor: str) -> Allocation:
        current = self._managed(fence, allocation_id)
        body = self.checked(body)
        self._may_manage(fence, body)
        updated = replace(
            current,
            project=body.project,
            resources=body.resources,
            unit=body.unit,
            amount=body.amount,
            start=body.start,
            end=body.end,
            note=body.note,
            currency=body.currency,
        )
        self.store.put(updated)
        self._audit(actor, "allocation.replace", allocation_id, **self._detail(updated))
        return updated

    def delete(self, allocation_id: str, fence: Fence, actor: str) -> None:
        self._managed(fence, allocation_id)
        self.store.delete(allocation_id)
        self._audit(actor, "allocation.delete", allocation_id)

    def _managed(self, fence: Fence, allocation_id: str) -> Allocation:
        allocation = self.store.get(allocation_id)
        if allocation is None or not self.manages(fence, allocation):
            raise AllocationNotFoundError(f"no allocation {allocation_id!r} that this caller manages")
        return allocation

    def _may_manage(self, fence: Fence, body: AllocationIn) -> None:
        if not self.manages(fence, body):
            sites = ", ".join(sorted(fence.sites())) or "none"
            raise AllocationForbiddenError(
                f"a site manager manages allocations on resources of their own sites ({sites}) only: "
                "name resources there (an allocation on every resource is for admins and finance)"
            )

    @staticmethod
    def _detail(a: Allocation) -> dict[str, object]:
        return {
            "project": a.project,
            "resources": [r.label() for r in a.resources],
            "unit": a.unit.value,
            "amount": str(a.amount),
            "start": a.start.isoformat(),
            "end": a.end.isoformat(),
            "currency": a.currency,
        }

    # -- status ------------------------------------------------------------------------------------
    def all_allocations(self) -> list[Allocation]:
        """Every allocation, unfenced: for other services (alert rules), which decide who is told."""
        return self.store.list()

    def allocation_status(self, allocation: Allocation, at: datetime | None = None) -> AllocationStatus:
        """Used, remaining, burn rates and the forecast to the period's end, as of `at` (now).

        For other services (alert rules on "forecast to run out", "80/90/100 % used"): it reads the
        warehouse through the query engine and authorises nothing; callers decide who is told."""
        at = (at or _now()).astimezone(UTC)
        today = at.date()
        first = min(allocation.start, today - timedelta(days=self.settings.history_days))
        last = min(today + timedelta(days=1), allocation.end)
        daily = allocation_daily(self._engine(), allocation, first, last) if last > first else {}
        return build_status(
            allocation,
            daily,
            at,
            self.settings.history_days,
            self.settings.burn_window_days,
            self.forecaster,
        )

    # -- capacity planning -------------------------------------------------------------------------
    def usage_forecast(
        self, unit: AllocationUnit, month: date, fence: Clauses | None, at: datetime | None = None
    ) -> list[ResourceForecast]:
        """Per site and resource with use in the history window: the forecast total of `month`."""
        if unit is AllocationUnit.MONEY:
            raise AllocationError("usage forecasts are of usage units; money is an allocation's unit only")
        at = (at or _now()).astimezone(UTC)
        today = at.date()
        next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        if month.day != 1 or month < next_month or month > next_month.replace(year=next_month.year + 1):
            raise AllocationError(
                f"forecast a month from {next_month:%Y-%m} (next month) up to a year after it"
            )
        month_end = (month + timedelta(days=32)).replace(day=1)
        days = self.settings.history_days
        history_start = today - timedelta(days=days)
        series = daily_by_resource(
            self._engine(), unit, midnight(history_start), midnight(today), fence=fence
        )
        out = []
        for (site, resource), by_day in sorted(series.items(), key=lambda item: tuple(map(str, item[0]))):
            history = [float(by_day.get(history_start + timedelta(days=i), 0)) for i in range(days)]
            if not any(v > 0 for v in history):
                continue  # e.g. GPU-hours of a CPU cluster: nothing to plan for
            try:
                total = self.forecaster.forecast_total(
                    history, history_start, (month_end - today).days, (month - today).days
                )
            except ForecastLibraryMissingError:
                raise
            except ForecastUnavailableError:
                continue
            out.append(ResourceForecast(site, resource, month, total, sum(history) / days))
        return out

    # -- fair share --------------------------------------------------------------------------------
    def fairshare(self, spec: FairshareSpec) -> list[FairshareRow]:
        return run_fairshare(self._engine(), spec)
