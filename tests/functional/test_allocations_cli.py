"""`tally allocations ...`, `tally fairshare` and `tally forecast` end to end, as processes over a
warehouse with jobs posted by the ingest service."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from tally.api.body import split_lines
from tally.services.container import Services
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.records import job


def test_allocations_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    svc = Services(local_settings(home))
    svc.add_site("SITE-A")
    record = job(1, project="p1", benchmark_type="HEPscore23", benchmark_per_core=10.0)
    who = svc.authenticate(f"Bearer {svc.create_key('SITE-A').plain}")
    result = svc.ingest.ingest("jobs", split_lines("application/x-ndjson", orjson.dumps(record)), who)
    assert result.accepted == 1
    made = tally(
        home,
        "allocations",
        "add",
        "p1",
        "--unit",
        "hepscore23_core_hours",
        "--amount",
        "160",
        "--start",
        "2026-03-01",
        "--end",
        "2026-04-01",
        "--resource",
        "SITE-A/cluster1",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    allocation = json.loads(made.stdout)
    assert allocation["resources"] == [{"site": "SITE-A", "resource": "cluster1"}]
    status = tally(home, "allocations", "status", allocation["allocation_id"])
    assert status.returncode == 0, status.stderr
    # 2 h x 4 cores x HEPscore23 10: 80 of 160.
    assert json.loads(status.stdout)["used"] == 80 and json.loads(status.stdout)["percent_used"] == 50
    listed = tally(home, "allocations", "list", "--json")
    assert [a["allocation_id"] for a in json.loads(listed.stdout)] == [allocation["allocation_id"]]
    shares = tally(
        home,
        "fairshare",
        "--at",
        "2026-03-02T00:00:00Z",
        "--half-life-days",
        "1",
        "-g",
        "project",
        "--unit",
        "core_hours",
    )
    assert shares.returncode == 0, shares.stderr
    assert [(r["project"], r["usage_hours"]) for r in json.loads(shares.stdout)] == [("p1", 8.0)]
    assert json.loads(tally(home, "forecast").stdout) == []  # no use in the last eight weeks
    bad = tally(
        home,
        "allocations",
        "add",
        "p1",
        "--unit",
        "dollars",
        "--amount",
        "1",
        "--start",
        "2026-03-01",
        "--end",
        "2026-04-01",
    )
    assert bad.returncode == 1 and "use one of" in bad.stderr
    money = ("p1", "--unit", "money", "--amount", "1", "--start", "2026-03-01", "--end", "2026-04-01")
    no_currency = tally(home, "allocations", "add", *money)
    assert no_currency.returncode == 1 and "names its currency" in no_currency.stderr
    euros = tally(home, "allocations", "add", *money, "--currency", "EUR", "--json")
    assert euros.returncode == 0, euros.stderr
    assert (json.loads(euros.stdout)["unit"], json.loads(euros.stdout)["currency"]) == ("money", "EUR")
    assert tally(home, "allocations", "remove", json.loads(euros.stdout)["allocation_id"]).returncode == 0
    nan = tally(
        home,
        "allocations",
        "add",
        "p1",
        "--unit",
        "gpu_hours",
        "--amount",
        "NaN",
        "--start",
        "2026-03-01",
        "--end",
        "2026-04-01",
    )
    assert nan.returncode == 1 and "amount" in nan.stderr
    assert tally(home, "allocations", "remove", allocation["allocation_id"]).returncode == 0
    assert json.loads(tally(home, "allocations", "list", "--json").stdout) == []
