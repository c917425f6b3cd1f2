"""Custom record kinds over real HTTP: defined, posted to, evolved, refused when changed
incompatibly, and hostile names and records refused. Stored rows are read back from the Parquet
files (tests.support.warehouse), values worked out from the posted records by hand."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pyarrow.parquet as pq
import pytest

from tally.api.app import create_app
from tally.api.body import split_lines
from tally.domain.control import BatchOutcome
from tally.domain.ports import ControlStore
from tally.kinds.service import KindService
from tally.kinds.settings import KindsSettings
from tally.services.container import Services
from tally.services.ingest import Principal
from tests.functional.kind_specs import ENERGY
from tests.support.deployments import Deployment, aws_settings, local_settings
from tests.support.servers import running_app
from tests.support.warehouse import quarantined


def reading(rack: str, hour: int, kwh: float, site: str = "SITE-A", **extra: Any) -> dict[str, Any]:
    return {
        "site": site,
        "resource": "dc1",
        "rack": rack,
        "hour_start": f"2026-03-0{1 + hour // 24}T{hour % 24:02d}:00:00Z",
        "energy_kwh": kwh,
        **extra,
    }


def define(
    http: httpx.Client, name: str = "rack_energy", spec: dict[str, Any] | None = None
) -> httpx.Response:
    return http.put(f"/v1/kinds/{name}", json=spec or ENERGY)


def stored(svc: Services, name: str = "rack_energy") -> list[dict[str, Any]]:
    """Every stored row, file by file (files written before a field was added lack its column)."""
    wh = svc.warehouse
    keys = [k for k in wh.list_keys(f"custom_{name}") if k.endswith(".parquet")]
    found = [r for k in keys for r in pq.read_table(f"{wh.base}/{k}", filesystem=wh.fs).to_pylist()]
    return sorted(found, key=lambda r: (r["rack"], r["hour_start"]))


def all_keys(svc: Services) -> list[str]:
    return sorted(svc.warehouse.list_keys(""))


def test_define_show_list_and_redefine_the_same(deployment: Deployment) -> None:
    with deployment.client() as http:
        created = define(http)
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["name"], body["owner_site"], body["version"]) == ("rack_energy", "SITE-A", 1)
        assert body["spec"]["fields"][2] == {
            "name": "energy_kwh",
            "type": "number",
            "unit": "kWh",
            "description": None,
            "required": False,
        }
        again = define(http)
        assert again.status_code == 200 and again.json()["version"] == 1
        assert http.get("/v1/kinds/rack_energy").json() == body
        assert [k["name"] for k in http.get("/v1/kinds").json()] == ["rack_energy"]
        assert http.get("/v1/kinds/nothing_here").status_code == 404


def test_records_are_validated_fenced_stored_and_replayed(deployment: Deployment) -> None:
    svc = deployment.services
    with deployment.client() as http:
        assert define(http).status_code == 201
        batch = [
            reading("r1", 0, 1.5, peak_watts=1800),
            reading("r1", 1, 2.25, on_battery=True),
            reading("r2", 0, 0.5),
            reading("r2", 0, 0.75),  # same identity as the one before: the last one wins
            reading("r3", 0, 1.0, peak_watts=True),  # a boolean is no integer
            reading("r4", 0, 1.0, colour="red"),  # unknown field
            {"site": "SITE-A", "resource": "dc1", "rack": "r5"},  # no hour_start
            reading("r6", 0, float("inf")),
        ]
        body = json.dumps(batch).encode()  # writes the last one's Infinity, which JSON lacks
        answer = http.post(
            "/v1/records/custom/rack_energy", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert (result["accepted"], result["duplicates"], result["rejected"]) == (3, 1, 4)
        assert {(e["index"], e["field"]) for e in result["errors"]} >= {
            (4, "peak_watts"),
            (5, "colour"),
            (6, "hour_start"),
        }
        assert 7 in {e["index"] for e in result["errors"]}
        got = [
            (r["rack"], r["hour_start"], r["energy_kwh"], r["peak_watts"], r["on_battery"])
            for r in stored(svc)
        ]
        assert got == [
            ("r1", datetime(2026, 3, 1, 0, tzinfo=UTC), 1.5, 1800, None),
            ("r1", datetime(2026, 3, 1, 1, tzinfo=UTC), 2.25, None, True),
            ("r2", datetime(2026, 3, 1, 0, tzinfo=UTC), 0.75, None, None),
        ]
        assert all(r["site"] == "SITE-A" and r["batch_id"] == result["batch_id"] for r in stored(svc))
        kept = quarantined(svc.warehouse, "custom_rack_energy")
        assert sorted(int(str(q["index"])) for q in kept) == [4, 5, 6, 7]
        parquet = [k for k in svc.warehouse.list_keys("custom_rack_energy") if k.endswith(".parquet")]
        assert parquet == [f"custom_rack_energy/dt=2026-03/{result['batch_id']}.parquet"]
        keys = all_keys(svc)
        replay = http.post(
            "/v1/records/custom/rack_energy", content=body, headers={"Content-Type": "application/json"}
        )
        assert replay.json()["replayed"] is True and replay.json()["accepted"] == 3
        assert all_keys(svc) == keys
        # Another site's records: the whole batch is refused and nothing is written.
        foreign = http.post("/v1/records/custom/rack_energy", json=[reading("r9", 0, 1.0, site="SITE-B")])
        assert foreign.status_code == 403 and "SITE-B" in foreign.json()["detail"]
        assert all_keys(svc) == keys
        assert http.post("/v1/records/custom/undefined_kind", json=[reading("r1", 0, 1.0)]).status_code == 404


def test_a_nullable_field_may_be_added_and_incompatible_changes_are_refused(deployment: Deployment) -> None:
    svc = deployment.services
    with deployment.client() as http:
        assert define(http).status_code == 201
        assert (
            http.post("/v1/records/custom/rack_energy", json=[reading("r1", 0, 1.0)]).json()["accepted"] == 1
        )
        grown = {
            **ENERGY,
            "fields": [*ENERGY["fields"], {"name": "inlet_celsius", "type": "number", "unit": "°C"}],
        }
        evolved = define(http, spec=grown)
        assert evolved.status_code == 200 and evolved.json()["version"] == 2
        later = [reading("r1", 1, 2.0, inlet_celsius=24.5)]
        assert http.post("/v1/records/custom/rack_energy", json=later).json()["accepted"] == 1
        refused: list[tuple[dict[str, Any], str]] = [
            (
                {
                    **grown,
                    "fields": [
                        {**f, "type": "string"} if f["name"] == "peak_watts" else f for f in grown["fields"]
                    ],
                },
                "field 'peak_watts' changes type from integer to string",
            ),
            ({**grown, "identity": ["rack"]}, "identity changes"),
            ({**grown, "fields": grown["fields"][:-1]}, "field 'inlet_celsius' is removed"),
            ({**grown, "partition": "day"}, "partition changes"),
            (
                {**grown, "fields": [*grown["fields"], {"name": "pdu", "type": "string", "required": True}]},
                "new field 'pdu' must not be required",
            ),
        ]
        for spec, says in refused:
            answer = define(http, spec=spec)
            assert answer.status_code == 409, (says, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert says in answer.json()["detail"]
        assert http.get("/v1/kinds/rack_energy").json()["version"] == 2
    # Old files read the new field as NULL next to the new ones.
    by_hour = {r["hour_start"].hour: r.get("inlet_celsius") for r in stored(svc)}
    assert by_hour == {0: None, 1: 24.5}


def test_only_the_defining_site_may_change_a_kind(deployment: Deployment) -> None:
    other = deployment.services.create_key("SITE-B").plain
    with deployment.client() as http:
        assert define(http).status_code == 201
    with deployment.client(other) as http:
        answer = define(http, spec={**ENERGY, "description": "mine now"})
        assert answer.status_code == 403 and "SITE-A" in answer.json()["detail"]


BAD_NAMES = [
    "Energy",
    "1energy",
    "drop table jobs",
    "energy;drop",
    "select",
    "jobs",
    "a" * 64,
    "énergie",
    "x-y",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_hostile_kind_names_are_refused(deployment: Deployment, name: str) -> None:
    keys = all_keys(deployment.services)
    with deployment.client() as http:
        for answer in (
            define(http, name=name),
            http.get(f"/v1/kinds/{name}"),
            http.post(f"/v1/records/custom/{name}", json=[reading("r1", 0, 1.0)]),
        ):
            assert answer.status_code == 422, (name, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    assert all_keys(deployment.services) == keys


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"fields": [{"name": "from", "type": "string"}]}, "SQL keyword"),
        ({"fields": [{"name": "Rack", "type": "string"}]}, "not a valid name"),
        ({"fields": [{"name": 'a" ; drop', "type": "string"}]}, "not a valid name"),
        ({"fields": [{"name": "site", "type": "string"}]}, "set by Tally"),
        ({"fields": [{"name": "batch_id", "type": "string"}]}, "set by Tally"),
        ({"fields": [{"name": "rack", "type": "varchar"}]}, "type"),
        ({"identity": ["nope"]}, "identity names fields"),
        ({"event_time": "rack"}, "required timestamp"),
        ({"fields": [*ENERGY["fields"], ENERGY["fields"][0]]}, "fields named twice"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_hostile_definitions_are_refused(deployment: Deployment, change: dict[str, Any], says: str) -> None:
    with deployment.client() as http:
        answer = define(http, spec={**ENERGY, **change})
    assert answer.status_code == 422, answer.text
    assert says in answer.text
    assert deployment.services.kinds.definitions() == []


def test_records_need_the_scope_and_definitions_the_registry_scope(deployment: Deployment) -> None:
    svc = deployment.services
    reports_only = svc.create_key("SITE-A", scopes=("reports:read",)).plain
    records_only = svc.create_key("SITE-A", scopes=("records:write",)).plain
    with deployment.client(reports_only) as http:
        assert define(http).status_code == 403
    with deployment.client(records_only) as http:
        assert define(http).status_code == 403
    with deployment.client() as http:
        assert define(http).status_code == 201
    with deployment.client(records_only) as http:
        assert http.post("/v1/records/custom/rack_energy", json=[reading("r1", 0, 1.0)]).status_code == 200
    with deployment.client(reports_only) as http:
        assert http.post("/v1/records/custom/rack_energy", json=[reading("r1", 0, 1.0)]).status_code == 403


@pytest.fixture
def local_deployment(tmp_path: Path) -> Iterator[Deployment]:
    """Local mode only: reports run their SQL on DuckDB (moto's Athena runs none)."""
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    svc.add_site("SITE-B")
    with running_app(app) as url:
        yield Deployment(url, svc, "SITE-A", svc.create_key("SITE-A").plain)


def test_reports_offer_string_fields_as_dimensions_and_numbers_as_sums(local_deployment: Deployment) -> None:
    deployment = local_deployment
    other = deployment.services.create_key("SITE-B").plain
    with deployment.client() as http:
        assert define(http).status_code == 201
        first = [
            reading("r1", 0, 1.5, peak_watts=1800),
            reading("r1", 1, 2.0, peak_watts=2000),
            reading("r2", 0, 4.0, peak_watts=900, on_battery=True),
        ]
        assert http.post("/v1/records/custom/rack_energy", json=first).json()["accepted"] == 3
        grown = {**ENERGY, "fields": [*ENERGY["fields"], {"name": "inlet_celsius", "type": "number"}]}
        assert define(http, spec=grown).status_code == 200
        # r1 hour 1 sent again, corrected: the later record counts, once.
        later = [reading("r1", 1, 2.5, peak_watts=2100, inlet_celsius=25.0), reading("r3", 30, 0.25)]
        assert http.post("/v1/records/custom/rack_energy", json=later).json()["accepted"] == 2
    with deployment.client(other) as http:
        assert (
            http.post(
                "/v1/records/custom/rack_energy", json=[reading("r1", 2, 100.0, site="SITE-B")]
            ).status_code
            == 200
        )
    params = {
        "from": "2026-03-01",
        "to": "2026-04-01",
        "group_by": "rack",
        "metrics": "records,energy_kwh,peak_watts,inlet_celsius",
    }
    with deployment.client() as http:
        answer = http.get("/v1/reports/custom_rack_energy", params=params)
        assert answer.status_code == 200, answer.text
        got = {r["rack"]: r for r in answer.json()["rows"]}
        # r1: 1.5 + 2.5 kWh (the corrected hour), 1800 + 2100 W, 25.0 only from the new file.
        assert {
            k: (v["records"], v["energy_kwh"], v["peak_watts"], v["inlet_celsius"]) for k, v in got.items()
        } == {
            "r1": (2, 4.0, 3900, 25.0),
            "r2": (1, 4.0, 900, None),
            "r3": (1, 0.25, None, None),
        }
        battery = http.get(
            "/v1/reports/custom_rack_energy",
            params={"from": "2026-03-01", "to": "2026-04-01", "group_by": "on_battery", "on_battery": "true"},
        )
        assert battery.json()["rows"] == [{"on_battery": True, "records": 1}]
        daily = http.get(
            "/v1/reports/custom_rack_energy",
            params={"from": "2026-03-02", "to": "2026-03-03", "group_by": "day", "metrics": "energy_kwh"},
        )
        assert daily.json()["rows"] == [{"day": "2026-03-02", "energy_kwh": 0.25}]
        refused = http.get("/v1/reports/custom_rack_energy", params={**params, "group_by": "hour_start"})
        assert refused.status_code == 422 and "cannot group by 'hour_start'" in refused.json()["detail"]
        foreign = http.get("/v1/reports/custom_rack_energy", params={**params, "site": "SITE-B"})
        assert foreign.status_code == 403
        assert http.get("/v1/reports/custom_nothing", params=params).status_code == 404
        assert http.get("/v1/reports/custom_Drop%20table", params=params).status_code == 404


@pytest.mark.aws
def test_on_aws_a_kind_is_a_glue_table_with_partition_projection(moto_endpoint: str) -> None:
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="eu-west-1")
    database = f"tally_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": database})
    settings = aws_settings(
        moto_endpoint, kinds=KindsSettings(glue_database=database, glue_endpoint_url=moto_endpoint)
    )
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    key = svc.create_key("SITE-A").plain
    with (
        running_app(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        assert define(http).status_code == 201
        table = glue.get_table(DatabaseName=database, Name="custom_rack_energy")["Table"]
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert columns == [
            ("site", "string"),
            ("resource", "string"),
            ("rack", "string"),
            ("hour_start", "timestamp"),
            ("energy_kwh", "double"),
            ("peak_watts", "bigint"),
            ("on_battery", "boolean"),
            ("ingested_at", "timestamp"),
            ("batch_id", "string"),
        ]
        assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        root = settings.warehouse_uri
        assert table["StorageDescriptor"]["Location"] == f"{root}/custom_rack_energy/"
        params = table["Parameters"]
        assert (
            params["projection.enabled"],
            params["projection.dt.format"],
            params["projection.dt.interval.unit"],
        ) == (
            "true",
            "yyyy-MM",
            "MONTHS",
        )
        assert params["storage.location.template"] == f"{root}/custom_rack_energy/dt=${{dt}}/"
        # The records land where the projection looks.
        answer = http.post("/v1/records/custom/rack_energy", json=[reading("r1", 0, 1.0)]).json()
        assert svc.warehouse.exists(f"custom_rack_energy/dt=2026-03/{answer['batch_id']}.parquet")
        grown = {
            **ENERGY,
            "fields": [*ENERGY["fields"], {"name": "inlet_celsius", "type": "number", "unit": "°C"}],
        }
        assert define(http, spec=grown).status_code == 200
        table = glue.get_table(DatabaseName=database, Name="custom_rack_energy")["Table"]
        added = table["StorageDescriptor"]["Columns"][7]
        assert added == {"Name": "inlet_celsius", "Type": "double", "Comment": "unit: °C"}
        assert define(http, spec={**grown, "identity": ["rack"]}).status_code == 409


@dataclass
class _RacingControl:
    """A control store whose first batch look-up misses, as when a concurrent post of the same
    batch claims it between this post's look-up and its claim."""

    inner: ControlStore
    missed: list[str] = field(default_factory=list)

    def get_batch(self, batch_id: str) -> BatchOutcome | None:
        if not self.missed:
            self.missed.append(batch_id)
            return None
        return self.inner.get_batch(batch_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_custom_posts_count_once_and_the_loser_of_a_race_is_answered_as_a_replay(
    deployment: Deployment,
) -> None:
    svc = deployment.services
    with deployment.client() as http:
        assert define(http).status_code == 201
    body = "\n".join(json.dumps(reading(f"r{n}", n, 1.0)) for n in range(4)).encode()
    who = Principal("SITE-A", "k")
    first = svc.kinds.ingest("rack_energy", split_lines("application/x-ndjson", body), who)
    racing = KindService(svc.warehouse, _RacingControl(svc.control), 100_000, svc.kinds.catalog)
    second = racing.ingest("rack_energy", split_lines("application/x-ndjson", body), who)
    assert (first.replayed, first.accepted) == (False, 4)
    assert (second.replayed, second.accepted, second.batch_id) == (True, 4, first.batch_id)
    counts = [c for c in svc.control.get_counts("SITE-A") if c.kind == "custom_rack_energy"]
    assert [(c.accepted, c.duplicates, c.rejected) for c in counts] == [(4, 0, 0)]
