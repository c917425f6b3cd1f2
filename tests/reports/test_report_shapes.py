"""Reports people can read: top-N with the rest as "other", ordering, exact sums that CSV and
JSON write with the same digits, users told apart by site, the core hours no benchmark covered,
and tables that fit the terminal. Expected values are computed here from the records."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from tally.cli.query import fitted_table
from tally.domain.record_lines import RecordLines
from tally.query.duckdb_engine import DuckDbEngine
from tally.reports.run import run_report
from tally.reports.spec import make_spec
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.settings import Settings
from tests.sql.scenario import Scenario, deduplicated, effective_vo, factors, utc

URL = "/v1/reports/jobs"
RANGE = {"from": "2025-12-01", "to": "2026-03-01"}
SIX = Decimal("0.000001")


def get(client: TestClient, key: str, **params: Any) -> Any:
    response = client.get(URL, params={**RANGE, **params}, headers={"Authorization": key})
    return response


def site_jobs(scenario: Scenario, site: str) -> list[dict[str, Any]]:
    start, end = utc("2025-12-01T00:00:00+00:00"), utc("2026-03-01T00:00:00+00:00")
    return [j for j in deduplicated(scenario.jobs) if j["site"] == site and start <= utc(j["end_time"]) < end]


def hours(seconds: Decimal) -> Decimal:
    return (seconds / 3600).quantize(SIX, rounding=ROUND_HALF_EVEN)


def exact_json(response: Any) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def test_csv_and_json_give_the_same_exact_digits(
    client: TestClient, keys: dict[str, str], scenario: Scenario
) -> None:
    params = {"group_by": "vo,month", "metrics": "core_hours,normalised_core_hours"}
    body = exact_json(get(client, keys["alpha"], **params))
    table = list(csv.DictReader(io.StringIO(get(client, keys["alpha"], format="csv", **params).text)))
    want: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for job in site_jobs(scenario, "alpha"):
        end = utc(job["end_time"])
        vo = effective_vo(job)
        row = want[(vo or "", date(end.year, end.month, 1).isoformat())]
        hep, hs06 = factors(job)
        factor = hep if hep is not None else hs06
        row["core"] += Decimal(job["wall_seconds"] * job["cores"])
        row["normalised"] += Decimal(job["wall_seconds"] * job["cores"]) * Decimal(str(factor or 0))
    assert len(body["rows"]) == len(table) == len(want)
    for row, line in zip(body["rows"], table, strict=True):
        expected = want[(row["vo"] or "", row["month"])]
        for metric, key in (("core_hours", "core"), ("normalised_core_hours", "normalised")):
            assert row[metric] == Decimal(line[metric]) == hours(expected[key])
            assert line[metric] == format(hours(expected[key]), "f")  # the digits themselves
        assert body["columns"][-1] == {"name": "unnormalised_core_hours", "type": "number"}


def test_the_same_report_twice_gives_the_same_digits(client: TestClient, keys: dict[str, str]) -> None:
    params = {"group_by": "month", "metrics": "normalised_core_hours,cpu_efficiency"}
    first, second = (get(client, keys["alpha"], format="csv", **params).text for _ in range(2))
    assert first == second


def test_core_hours_without_a_benchmark_are_reported(
    client: TestClient, keys: dict[str, str], scenario: Scenario
) -> None:
    for site in ("alpha", "beta"):
        body = exact_json(get(client, keys[site], metrics="normalised_core_hours_hs06"))
        assert [c["name"] for c in body["columns"]] == [
            "normalised_core_hours_hs06",
            "unnormalised_core_hours",
        ]
        missing = sum(
            (
                Decimal(j["wall_seconds"] * j["cores"])
                for j in site_jobs(scenario, site)
                if factors(j) == (None, None)
            ),
            Decimal(0),
        )
        assert body["rows"][0]["unnormalised_core_hours"] == hours(missing)
    # beta's resource has no registry benchmark: most of its core hours are unnormalised.
    beta = exact_json(get(client, keys["beta"], metrics="core_hours,unnormalised_core_hours"))["rows"][0]
    assert 0 < beta["unnormalised_core_hours"] <= beta["core_hours"]


def user_of(job: dict[str, Any]) -> str | None:
    return f"{job['local_user']}@{job['site']}" if job.get("local_user") else None


def per_user(scenario: Scenario, site: str) -> dict[str | None, dict[str, int]]:
    out: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for job in site_jobs(scenario, site):
        row = out[user_of(job)]
        row["core"] += job["wall_seconds"] * job["cores"]
        row["cpu"] += job["cpu_seconds"]
        row["jobs"] += 1
    return out


def test_top_n_keeps_the_largest_and_sums_the_rest_as_other(
    client: TestClient, keys: dict[str, str], scenario: Scenario
) -> None:
    users = per_user(scenario, "alpha")
    ranked = sorted(users, key=lambda u: -users[u]["core"])
    response = get(client, keys["alpha"], group_by="user", metrics="core_hours,cpu_efficiency,jobs", limit=1)
    assert response.status_code == 200, response.text
    body = exact_json(response)
    assert body["limit"] == 1 and body["order_by"] == "core_hours:desc"
    top, other = body["rows"]
    assert top["user"] == ranked[0] and top["core_hours"] == hours(Decimal(users[ranked[0]]["core"]))
    rest = ranked[1:]
    assert other["user"] == "other"
    assert other["jobs"] == sum(users[u]["jobs"] for u in rest)
    assert other["core_hours"] == hours(Decimal(sum(users[u]["core"] for u in rest)))
    # A ratio of the rest, not a sum or mean of their ratios.
    want = sum(users[u]["cpu"] for u in rest) / sum(users[u]["core"] for u in rest)
    assert float(other["cpu_efficiency"]) == pytest.approx(want, rel=1e-12)


def test_top_n_by_time_keeps_the_same_users_in_every_month(
    client: TestClient, keys: dict[str, str], scenario: Scenario
) -> None:
    users = per_user(scenario, "alpha")
    fewest = min(users, key=lambda u: users[u]["jobs"])
    body = get(
        client, keys["alpha"], group_by="user,month", metrics="jobs", order_by="jobs:asc", limit=1
    ).json()
    months: dict[str, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    for job in site_jobs(scenario, "alpha"):
        end = utc(job["end_time"])
        label = user_of(job)
        months[date(end.year, end.month, 1).isoformat()][label if label == fewest else "other"] += 1
    got = [(r["user"], r["month"], r["jobs"]) for r in body["rows"]]
    want = [(fewest, m, n[fewest]) for m, n in sorted(months.items()) if n[fewest]]
    want += [("other", m, n["other"]) for m, n in sorted(months.items()) if n["other"]]
    assert got == want


def test_order_by_without_limit_sorts_every_row(
    client: TestClient, keys: dict[str, str], scenario: Scenario
) -> None:
    users = per_user(scenario, "alpha")
    body = get(
        client, keys["alpha"], group_by="user", metrics="jobs,core_hours", order_by="core_hours"
    ).json()
    assert [r["user"] for r in body["rows"]] == sorted(users, key=lambda u: -users[u]["core"])
    body = get(client, keys["alpha"], group_by="user", metrics="jobs", order_by="user:desc").json()
    named = sorted((u for u in users if u is not None), reverse=True)
    assert [r["user"] for r in body["rows"]] == named + [None] * (None in users)  # no user: last


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": "3"}, "limit keeps the top rows of a dimension"),
        ({"group_by": "month", "limit": "3"}, "limit keeps the top rows of a dimension"),
        ({"group_by": "user", "limit": "0"}, ""),
        ({"group_by": "user", "limit": "many"}, ""),
        ({"group_by": "user", "order_by": "wall_seconds"}, "order by one of their metrics or dimensions"),
        ({"group_by": "user", "order_by": "jobs:sideways"}, "the direction after ':' is asc or desc"),
        ({"group_by": "user,month", "order_by": "month", "limit": "2"}, "not a time"),
    ],
)
def test_bad_order_and_limit_are_422(
    client: TestClient, keys: dict[str, str], params: dict[str, str], detail: str
) -> None:
    response = get(client, keys["alpha"], metrics="jobs", **params)
    assert response.status_code == 422, response.text
    assert detail in response.text


def _ingest(services: Services, site: str, jobs: list[dict[str, Any]]) -> None:
    body = b"\n".join(orjson.dumps(j) for j in jobs)
    result = services.ingest.ingest("jobs", RecordLines(body, len(jobs)), Principal(site, "test"))
    assert not result.rejected, result.errors


def test_users_of_the_same_name_at_two_sites_are_two_people(tmp_path: Path) -> None:
    services = Services(Settings(mode="local", home=tmp_path))
    dn = "/DC=org/CN=Carol Example"

    def job(site: str, job_id: str, user: str, wall: int, global_user: str | None = None) -> dict[str, Any]:
        return {
            "site": site,
            "resource": "r",
            "batch_system": "slurm",
            "local_job_id": job_id,
            "local_user": user,
            "global_user": global_user,
            "end_time": "2026-02-10T12:00:00Z",
            "wall_seconds": wall,
            "cpu_seconds": 1,
            "cores": 1,
            "state": "COMPLETED",
        }

    for site in ("alpha", "beta"):
        services.add_site(site)
    _ingest(services, "alpha", [job("alpha", "1", "alice", 3600), job("alpha", "2", "c1", 7200, dn)])
    _ingest(services, "beta", [job("beta", "1", "alice", 10800), job("beta", "2", "c2", 14400, dn)])
    spec = make_spec("jobs", ["user"], ["core_hours"], "2026-02-01", "2026-03-01")
    table = run_report(DuckDbEngine(services.settings.local_warehouse), spec).table
    got = {r["user"]: r["core_hours"] for r in table.to_pylist()}
    assert got == {
        "alice@alpha": Decimal("1.000000"),
        "alice@beta": Decimal("3.000000"),
        dn: Decimal("6.000000"),  # one person at two sites, by their global identity
    }
    filtered = make_spec("jobs", ["site"], ["jobs"], "2026-02-01", "2026-03-01", {"user": ["alice@beta"]})
    rows = run_report(DuckDbEngine(services.settings.local_warehouse), filtered).table.to_pylist()
    assert rows == [{"site": "beta", "jobs": 1}]


def test_a_wide_table_fits_the_terminal_with_every_number_whole() -> None:
    numbers = [1234567.891234, 0.5, 98765.4321]
    table = pa.table(
        {
            "user": ["/DC=org/DC=example/OU=People/CN=someone with a long name", "b", "c"],
            "normalised_core_hours_hepscore23": pa.array(
                [Decimal(str(n)) for n in numbers], pa.decimal128(38, 6)
            ),
            "unnormalised_core_hours": [1.0, 2.0, 3.0],
            "jobs": [1000000, 2, 3],
        }
    )
    view, needed = fitted_table(table, 60)
    assert needed <= 60
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(view)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 60
    for cell in ("1,234,567.89", "0.50", "98,765.43", "1,000,000", "3.00"):
        assert any(cell in line for line in text.splitlines()), cell
    # Headers wrap at their underscores rather than being cut.
    assert "normalised" in text and "hepscore23" in text and "unnormalised" in text
    # Too narrow for the numbers alone: the width the numbers need is said, nothing is cut.
    _, needed = fitted_table(table, 30)
    assert needed > 30
