"""GET /v1/reports/{kind}: numbers, formats read back with real readers, fencing, hostile input."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import openpyxl  # type: ignore[import-untyped]  # openpyxl ships no type hints
import pytest
from fastapi.testclient import TestClient

from tests.sql.scenario import Scenario, deduplicated, effective_vo, factors, utc

URL = "/v1/reports/jobs"
RANGE = {"from": "2025-12-01", "to": "2026-03-01"}


def expected_by_vo_month(scenario: Scenario, site: str) -> dict[tuple[str | None, date], dict[str, float]]:
    out: dict[tuple[str | None, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for job in deduplicated(scenario.jobs):
        if job["site"] != site:
            continue
        end = utc(job["end_time"])
        row = out[(effective_vo(job), date(end.year, end.month, 1))]
        hep, hs06 = factors(job)
        preferred = hep if hep is not None else hs06
        row["jobs"] += 1
        row["core_hours"] += job["wall_seconds"] * job["cores"] / 3600
        row["normalised_core_hours"] += job["wall_seconds"] * job["cores"] * (preferred or 0) / 3600
    return out


def get(client: TestClient, key: str, **params: Any) -> Any:
    return client.get(URL, params={**RANGE, **params}, headers={"Authorization": key})


def test_json_report_numbers(client: TestClient, keys: dict[str, str], scenario: Scenario) -> None:
    response = get(
        client, keys["alpha"], group_by="vo,month", metrics="jobs,core_hours,normalised_core_hours"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"][:2] == [{"name": "vo", "type": "string"}, {"name": "month", "type": "date"}]
    expected = expected_by_vo_month(scenario, "alpha")
    assert len(body["rows"]) == len(expected)
    for row in body["rows"]:
        want = expected[(row["vo"], date.fromisoformat(row["month"]))]
        assert row["jobs"] == want["jobs"]
        assert row["core_hours"] == pytest.approx(want["core_hours"])
        assert row["normalised_core_hours"] == pytest.approx(want["normalised_core_hours"])


def test_csv_cell_by_cell(client: TestClient, keys: dict[str, str], scenario: Scenario) -> None:
    response = get(client, keys["alpha"], group_by="vo,month", metrics="jobs,core_hours", format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["vo", "month", "jobs", "core_hours"]
    expected = expected_by_vo_month(scenario, "alpha")
    assert len(rows) - 1 == len(expected)
    for vo, month, jobs, core_hours in rows[1:]:
        want = expected[(vo or None, date.fromisoformat(month))]
        assert int(jobs) == want["jobs"]
        assert float(core_hours) == pytest.approx(want["core_hours"])


def test_xlsx_cell_by_cell(client: TestClient, keys: dict[str, str], scenario: Scenario) -> None:
    response = get(
        client, keys["alpha"], group_by="commercial,month", metrics="jobs,cpu_efficiency", format="xlsx"
    )
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0] == ("commercial", "month", "jobs", "cpu_efficiency")
    json_rows = get(client, keys["alpha"], group_by="commercial,month", metrics="jobs,cpu_efficiency").json()[
        "rows"
    ]
    assert len(cells) - 1 == len(json_rows)
    for cell_row, json_row in zip(cells[1:], json_rows, strict=True):
        commercial, month, jobs, efficiency = cell_row
        assert isinstance(commercial, bool) and commercial == json_row["commercial"]
        assert isinstance(month, datetime) and month.date() == date.fromisoformat(json_row["month"])
        assert isinstance(jobs, int | float) and jobs == json_row["jobs"]
        assert efficiency == pytest.approx(json_row["cpu_efficiency"])


def test_a_site_sees_only_its_site(client: TestClient, keys: dict[str, str]) -> None:
    rows = get(client, keys["beta"], group_by="site").json()["rows"]
    assert [r["site"] for r in rows] == ["beta"]
    assert get(client, keys["beta"], site="alpha").status_code == 403
    assert get(client, "Bearer nope").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "site; DROP TABLE jobs"},
        {"group_by": "vo) FROM jobs --"},
        {"metrics": "count(*)"},
        {"metrics": "jobs,sum(wall_seconds)"},
        {"project'; --": "x"},
        {"from": "2026-01-01' OR '1'='1"},
        {"group_by": "day,month"},
        {"commercial": "1 OR 1=1"},
    ],
)
def test_hostile_names_are_refused(client: TestClient, keys: dict[str, str], params: dict[str, str]) -> None:
    response = get(client, keys["alpha"], **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("name", "value"),
    [("to", "9999-12-31T23:59:59-01:00"), ("from", "0001-01-01T00:00:00+01:00")],
)
def test_times_outside_the_calendar_in_utc_are_refused(
    client: TestClient, keys: dict[str, str], name: str, value: str
) -> None:
    response = get(client, keys["alpha"], **{name: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith(f"{name}: '{value}' is outside the years 1 to 9999")


def test_the_last_representable_time_is_a_valid_bound(client: TestClient, keys: dict[str, str]) -> None:
    wide = get(client, keys["alpha"], metrics="jobs", **{"to": "9999-12-31T23:59:59+01:00"})
    assert wide.status_code == 200, wide.text
    narrow = get(client, keys["alpha"], metrics="jobs", **{"to": "2100-01-01"})
    assert wide.json()["rows"] == narrow.json()["rows"] != []


def test_hostile_values_are_only_values(client: TestClient, keys: dict[str, str]) -> None:
    for value in ("x' OR '1'='1", "alpha' --", "'; DROP VIEW jobs_dedup; --"):
        response = get(client, keys["alpha"], group_by="vo", vo=value)
        assert response.status_code == 200
        assert response.json()["rows"] == []
    assert get(client, keys["alpha"], group_by="vo").json()["rows"]  # the views are still there


def test_filters_and_time_bounds(client: TestClient, keys: dict[str, str], scenario: Scenario) -> None:
    body = client.get(
        URL,
        headers={"Authorization": keys["alpha"]},
        params={
            "from": "2026-01-15T12:00:00Z",
            "to": "2026-01-16",
            "vo": ["atlas", "cms"],
            "metrics": "jobs",
        },
    ).json()
    want = sum(
        1
        for j in deduplicated(scenario.jobs)
        if j["site"] == "alpha"
        and effective_vo(j) in ("atlas", "cms")
        and utc("2026-01-15T12:00:00+00:00") <= utc(j["end_time"]) < utc("2026-01-16T00:00:00+00:00")
    )
    assert body["rows"] == [{"jobs": want}]


def test_registry_crud_is_fenced(client: TestClient, keys: dict[str, str]) -> None:
    entry = {
        "resource": "new-cpu",
        "benchmark_type": "HS06",
        "benchmark_per_core": 7.5,
        "valid_from": "2026-01-01T00:00:00Z",
    }
    created = client.post("/v1/registry/resources", json=entry, headers={"Authorization": keys["beta"]})
    assert created.status_code == 201, created.text
    entry_id = created.json()["entry_id"]
    assert created.json()["site"] == "beta"
    assert (
        client.get(f"/v1/registry/resources/{entry_id}", headers={"Authorization": keys["alpha"]}).status_code
        == 404
    )
    assert (
        client.post(
            "/v1/registry/resources", json={**entry, "site": "alpha"}, headers={"Authorization": keys["beta"]}
        ).status_code
        == 403
    )
    overlap = client.post(
        "/v1/registry/resources",
        json={**entry, "valid_from": "2026-06-01T00:00:00Z"},
        headers={"Authorization": keys["beta"]},
    )
    assert overlap.status_code == 409
    bad = client.post(
        "/v1/registry/resources",
        json={**entry, "benchmark_per_core": -1},
        headers={"Authorization": keys["beta"]},
    )
    assert bad.status_code == 422
    changed = client.put(
        f"/v1/registry/resources/{entry_id}",
        json={**entry, "benchmark_per_core": 8.0},
        headers={"Authorization": keys["beta"]},
    )
    assert changed.json()["benchmark_per_core"] == 8.0
    listed = client.get("/v1/registry/resources", headers={"Authorization": keys["beta"]}).json()
    assert [e["entry_id"] for e in listed] == [entry_id]
    assert (
        client.delete(
            f"/v1/registry/resources/{entry_id}", headers={"Authorization": keys["beta"]}
        ).status_code
        == 204
    )
    assert client.get("/v1/registry/resources", headers={"Authorization": keys["beta"]}).json() == []
