"""Energy, emissions, efficiency and network views over a hand-computable warehouse
(tests/support/energy_world.py says how each figure comes about)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tally.adapters.warehouse import open_warehouse
from tally.query.duckdb_engine import DuckDbEngine
from tally.registry.store import RegistryStore
from tally.settings import Settings
from tests.support.energy_world import GIB, intensity_entries, write_world

JAN = date(2026, 1, 1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDbEngine:
    home = Path(tmp_path_factory.mktemp("energy"))
    write_world(home)
    settings = Settings(mode="local", home=home)
    RegistryStore(open_warehouse(settings)).replace_all("carbon_intensity", intensity_entries())
    return DuckDbEngine(settings.local_warehouse)


def rows(engine: DuckDbEngine, sql: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = engine.query(sql).table.to_pylist()
    return out


def test_each_job_gets_the_intensity_valid_at_its_end(engine: DuckDbEngine) -> None:
    got = {
        r["local_job_id"]: (r["energy_kwh"], r["grams_co2e_per_kwh"], r["co2e_kg"])
        for r in rows(engine, "SELECT * FROM jobs_energy")
    }
    assert got.keys() == {"n1", "n2", "n3", "n4", "n5", "s1", "w1"}
    assert got["n1"] == (pytest.approx(2.0), 200.0, pytest.approx(0.4))  # before the switch
    assert got["n2"] == (pytest.approx(1.0), 50.0, pytest.approx(0.05))  # after it
    assert got["n3"] == (pytest.approx(10.0), 50.0, pytest.approx(0.5))  # ends at it: the new one
    assert got["n4"] == (None, 200.0, None)  # no energy: NULL, not 0
    assert got["s1"] == (pytest.approx(5.0), 400.0, pytest.approx(2.0))
    assert got["w1"] == (pytest.approx(1.0), None, None)  # a site with no intensity


def test_footprint_per_month_site_project_and_person(engine: DuckDbEngine) -> None:
    got = {
        (r["site"], r["project"], r["report_user"]): r
        for r in rows(engine, "SELECT * FROM jobs_footprint_monthly")
    }
    assert {r["month"] for r in got.values()} == {JAN}
    assert set(got) == {
        ("north", "p1", "alice@north"),
        ("north", "p2", "bob@north"),
        ("north", "p3", "bob@north"),
        ("south", "p1", "carol@south"),
        ("west", "p3", "dave@west"),
    }
    p1 = got[("north", "p1", "alice@north")]
    assert (p1["jobs"], p1["jobs_with_energy"], p1["jobs_without_intensity"]) == (2, 2, 0)
    assert p1["energy_kwh"] == pytest.approx(3.0)
    assert p1["co2e_kg"] == pytest.approx(0.45)
    assert p1["cpu_efficiency"] == pytest.approx((7200 + 7200) / (3600 * 4 + 3600 * 2))
    assert (p1["memory_used_bytes"], p1["memory_requested_bytes"]) == (6 * GIB, 12 * GIB)
    assert p1["memory_efficiency"] == pytest.approx(0.5)
    p2 = got[("north", "p2", "bob@north")]
    assert (p2["jobs"], p2["jobs_with_energy"]) == (2, 1)
    assert p2["energy_kwh"] == pytest.approx(10.0)
    assert p2["co2e_kg"] == pytest.approx(0.5)
    assert p2["cpu_efficiency"] == pytest.approx((900 + 28800) / (1800 + 3600 * 8))
    assert p2["memory_efficiency"] == pytest.approx(12 / 16)  # n3 has no memory figures
    p3 = got[("north", "p3", "bob@north")]
    assert (p3["jobs_with_energy"], p3["energy_kwh"], p3["co2e_kg"]) == (0, None, None)
    assert p3["memory_efficiency"] is None
    west = got[("west", "p3", "dave@west")]
    assert (west["energy_kwh"], west["co2e_kg"], west["jobs_without_intensity"]) == (
        pytest.approx(1.0),
        None,
        1,
    )


def test_network_bytes_per_vm_and_day(engine: DuckDbEngine) -> None:
    got = [
        (
            r["instance_id"],
            r["day"],
            r["samples"],
            r["samples_with_counters"],
            r["net_rx_bytes"],
            r["net_tx_bytes"],
        )
        for r in rows(engine, "SELECT * FROM vms_network_daily ORDER BY instance_id, day")
    ]
    assert got == [
        ("i-1", date(2026, 1, 10), 2, 2, 300, 30),
        ("i-1", date(2026, 1, 11), 1, 1, 5, 7),
        ("i-2", date(2026, 1, 10), 1, 0, None, None),
    ]
    days = {
        (r["instance_id"], r["day"]): (r["net_rx_bytes"], r["net_tx_bytes"])
        for r in rows(engine, "SELECT * FROM vms_instance_days")
    }
    assert days == {
        ("i-1", date(2026, 1, 10)): (300, 30),
        ("i-1", date(2026, 1, 11)): (5, 7),
        ("i-2", date(2026, 1, 10)): (None, None),
    }
