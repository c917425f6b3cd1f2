"""Money as an allocation unit, and batch jobs' GPUs priced by the tariff: over the planted month
of tests/support/allocations.py (real ingest, Parquet and DuckDB), each figure worked out by hand
there across the tariff change of 10 March."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tally.foresight.model import AllocationError, AllocationUnit, ResourceRef
from tally.foresight.service import AllocationIn
from tally.services.container import Services
from tests.support import allocations as world


@pytest.fixture
def svc(tmp_path: Path) -> Services:
    services = world.services(tmp_path)
    world.plant_usage(services)
    return services


def test_a_money_allocation_uses_the_priced_usage_across_a_tariff_change(svc: Services) -> None:
    allocation = world.allocate(svc, AllocationUnit.MONEY, "22", (ResourceRef(world.HPC),), "EUR")
    status = svc.foresight.allocation_status(allocation, world.NOW)
    assert status.used == Decimal("18.00")  # 3.90 + 6.60 + 7.50
    assert status.remaining == Decimal("4.00")
    assert status.percent_used == pytest.approx(100 * 18 / 22)
    assert status.burn_rate_recent == pytest.approx(0.60)  # 14-20 March, all at 0.015
    assert status.burn_rate_period == pytest.approx(18.00 / 20)
    forecast = status.forecast
    assert forecast is not None and forecast.method == "constant"
    assert forecast.expected_total == pytest.approx(18.00 + 11 * 0.60)
    # 18.00 + 0.60 k reaches 22 at k = 7: the seventh day from 21 March.
    assert forecast.runs_out_on == date(2026, 3, 27)

    # Before the change: 1-9 March at 0.010, with both GPU jobs' hours.
    before = svc.foresight.allocation_status(allocation, datetime(2026, 3, 9, 23, tzinfo=UTC))
    assert before.used == Decimal("9") * Decimal("0.40") + Decimal("5.10") + Decimal("2.70")


def test_only_its_currency_and_its_resources_count(svc: Services) -> None:
    francs = world.allocate(svc, AllocationUnit.MONEY, "100", (), "CHF")
    assert svc.foresight.allocation_status(francs, world.NOW).used == 0
    elsewhere = world.allocate(svc, AllocationUnit.MONEY, "100", (ResourceRef(world.HPC, "edge"),), "EUR")
    assert svc.foresight.allocation_status(elsewhere, world.NOW).used == 0
    everywhere = world.allocate(svc, AllocationUnit.MONEY, "100", (), "EUR")
    assert svc.foresight.allocation_status(everywhere, world.NOW).used == world.MONEY_USED
    # The core-hour allocation of the same usage: 390 + 440 core-hours, the jobs report's figure.
    hours = world.allocate(svc, AllocationUnit.HEPSCORE23_CORE_HOURS, "1000", (ResourceRef(world.HPC),))
    assert svc.foresight.allocation_status(hours, world.NOW).used == world.CORE_HOURS_USED


def test_the_invoice_prices_batch_job_gpus_once_and_agrees_with_the_allocation(svc: Services) -> None:
    invoice = svc.money.issue(svc.engine, world.PROJECT, "2026-03", now=world.NOW)
    lines = {(line.unit, line.tariff_id): line for line in invoice.lines}
    assert set(lines) == {("core_hour", "core-1"), ("core_hour", "core-2"), ("gpu_hour", "gpu-a100")}
    first, second = lines["core_hour", "core-1"], lines["core_hour", "core-2"]
    assert (first.quantity, first.amount) == (Decimal(390), Decimal("3.90"))
    assert (second.quantity, second.amount) == (Decimal(440), Decimal("6.60"))
    gpus = lines["gpu_hour", "gpu-a100"]
    # g1's 2 GPU-hours from its job record, g2's 1 from its accelerator record (not its job's 2).
    assert (gpus.quantity, gpus.rate, gpus.amount, gpus.records) == (
        Decimal(3),
        Decimal("2.5"),
        Decimal("7.50"),
        2,
    )
    assert gpus.gpu_model == "A100"
    assert invoice.totals == {"EUR": world.MONEY_USED}


def test_a_months_invoicing_run_issues_what_each_project_would_get(svc: Services) -> None:
    issued = svc.money.issue_month(svc.engine, "2026-03", now=world.NOW)
    by_project = {i.project: i for i in issued}
    # other: one 40 core-hour job on 7 March at 0.010; gpuidle: 36 GPU-hours at 2.50.
    assert {p: i.totals for p, i in by_project.items()} == {
        "gpuidle": {"EUR": Decimal("90.00")},
        "lattice": {"EUR": world.MONEY_USED},
        "other": {"EUR": Decimal("0.40")},
    }
    assert [i.number for i in issued] == ["INV-000001", "INV-000002", "INV-000003"]
    again = svc.money.issue_month(svc.engine, "2026-03", now=world.NOW, skip=frozenset(by_project))
    assert again == []


@pytest.mark.parametrize(
    ("unit", "currency", "message"),
    [
        (AllocationUnit.MONEY, None, "names its currency"),
        (AllocationUnit.MONEY, "XYZ", "ISO 4217"),
        (AllocationUnit.GPU_HOURS, "EUR", "has no currency"),
    ],
)
def test_a_money_allocation_names_a_currency_and_only_it_does(
    tmp_path: Path, unit: AllocationUnit, currency: str | None, message: str
) -> None:
    svc = world.services(tmp_path)
    body = AllocationIn(world.PROJECT, (), unit, Decimal(5), date(2026, 3, 1), date(2026, 4, 1), "", currency)
    with pytest.raises(AllocationError, match=message):
        svc.foresight.create(body, world.EVERYTHING, "test")
    assert svc.foresight.store.list() == []


def test_capacity_forecasts_are_of_usage_units_not_money(tmp_path: Path) -> None:
    svc = world.services(tmp_path)
    with pytest.raises(AllocationError, match="usage units"):
        svc.foresight.usage_forecast(AllocationUnit.MONEY, date(2026, 5, 1), None, world.NOW)
