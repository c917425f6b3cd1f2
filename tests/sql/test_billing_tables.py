"""The billing and reconciliation tables (and billing's quarantine) against their writers.

The DDL is checked against the writers' Arrow schemas and key functions; then a warehouse written
by the real billing store and invoice verifier is read back through the DuckDB engine, and what it
returns is compared with what was written (computed here from the fixture, not by SQL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from tally.adapters.billing_table import (
    MANIFEST_PREFIX,
    QUARANTINE_PREFIX,
    data_key,
    manifest_key,
    partition_folder,
)
from tally.adapters.warehouse import FsWarehouse, open_warehouse, partition_key
from tally.billing import BillingImport, Reject
from tally.billing.focus_schema import BILLING_SCHEMA, MONEY_COLUMNS, QUANTITY_COLUMNS
from tally.billing.model import Violation
from tally.billing.upgrade import upgrade
from tally.domain.records import KINDS
from tally.query.ddl import TEMPLATE_PARAMETERS, parse_table, render_ddl, table_defs
from tally.query.duckdb_engine import DuckDbEngine
from tally.query.sql_files import SqlFileError, get_file, views_in_order
from tally.reconcile.schema import RECONCILIATION_SCHEMA
from tally.services.billing import BillingService, BillingStoreResult
from tally.services.reconcile import ReconcileService, RunSummary
from tally.settings import Settings
from tests.reconcile.fixtures import at, billing_table, hourly, line, samples
from tests.reconcile.warehouse_fixtures import store_vms

REPO = Path(__file__).resolve().parents[2]
URI = "s3://bucket/some/prefix"
BILLING_PARTITIONS = ("provider", "billing_period")
DAY = date(2026, 3, 2)
STORED_AT = datetime(2026, 4, 3, 7, 30, tzinfo=UTC)
RECONCILED_AT = datetime(2026, 4, 10, 12, tzinfo=UTC)
DELIVERY = "0123456789abcdef0123456789abcdef"


def hive_type(t: pa.DataType) -> str:
    """The Athena type of a Parquet column, as Glue spells it."""
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    names = {
        pa.string(): "string",
        pa.int64(): "bigint",
        pa.int16(): "smallint",
        pa.float64(): "double",
        pa.date32(): "date",
    }
    return names[t]


def fill(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    assert "${" not in template, template
    return template


# -- the DDL against the writers ------------------------------------------------------------------


def test_billing_columns_are_the_billing_schema_less_its_partition_keys() -> None:
    table = table_defs()["billing"]
    # The files hold provider and billing_period themselves: Athena cannot also have them as
    # data columns, so they are partition keys only.
    assert set(BILLING_PARTITIONS) <= set(BILLING_SCHEMA.names)
    expected = [(f.name, hive_type(f.type)) for f in BILLING_SCHEMA if f.name not in BILLING_PARTITIONS]
    assert [(c.name, c.hive_type) for c in table.columns] == expected
    assert [(p.name, p.hive_type) for p in table.partitions] == [
        ("provider", "string"),
        ("billing_period", "string"),
    ]
    decimals = {c.name: c.duckdb_type for c in table.columns if c.name in MONEY_COLUMNS + QUANTITY_COLUMNS}
    assert decimals == dict.fromkeys(MONEY_COLUMNS + QUANTITY_COLUMNS, "DECIMAL(38, 18)")
    assert table.file_format == "parquet"


def test_billing_location_template_matches_the_writer() -> None:
    table = table_defs()["billing"]
    folder = fill(render_ddl(table.location_template, URI), provider="azure", billing_period="2026-03")
    key = data_key("azure", "acct-1", "2026-03", DELIVERY)
    assert folder + key.rsplit("/", 1)[1] == f"{URI}/{key}"
    assert folder == f"{URI}/{partition_folder('azure', '2026-03')}/"
    assert render_ddl(table.location, URI) == f"{URI}/billing/"
    # Manifests sit in a folder starting with "_" (hidden from Athena) and are not Parquet.
    manifest = manifest_key("azure", "acct-1", "2026-03")
    assert manifest.startswith("billing/_") and not manifest.endswith(".parquet")
    assert table.properties["projection.billing_period.format"] == "yyyy-MM"
    assert table.properties["projection.billing_period.interval.unit"] == "MONTHS"


def template_default(name: str) -> str:
    """The Default of a parameter of template.yaml."""
    text = (REPO / "template.yaml").read_text()
    match = re.search(rf"^  {name}:\n(?:    .*\n)*?    Default: \"?([^\"\n]*)\"?\n", text, re.MULTILINE)
    assert match, name
    return match.group(1)


def test_template_parameters_have_the_templates_defaults() -> None:
    assert {name: template_default(name) for name in TEMPLATE_PARAMETERS} == TEMPLATE_PARAMETERS


def test_rendered_billing_ddl_has_no_template_parameters_left() -> None:
    text = get_file("tables", "billing").text
    assert "${BillingProviders}" in text and "${BillingStartMonth}" in text
    rendered = parse_table(render_ddl(text, URI, {"BillingProviders": "aws,azure"}))
    assert rendered.properties["projection.provider.values"] == "aws,azure"
    assert rendered.properties["projection.billing_period.range"] == (
        template_default("BillingStartMonth") + ",NOW+1MONTHS"
    )
    assert (
        rendered.location_template
        == f"{URI}/billing/provider=${{provider}}/billing_period=${{billing_period}}/"
    )
    with pytest.raises(SqlFileError, match="unknown template parameters"):
        render_ddl(text, URI, {"BillingRegion": "x"})


def test_a_placeholder_that_is_neither_partition_nor_parameter_is_refused() -> None:
    text = get_file("tables", "billing").text.replace("${BillingProviders}", "${BillingProvider}")
    with pytest.raises(SqlFileError, match="BillingProvider"):
        parse_table(text)


def test_reconciliation_columns_are_the_reconciliation_schema() -> None:
    table = table_defs()["reconciliation"]
    assert [(c.name, c.hive_type) for c in table.columns] == [
        (f.name, hive_type(f.type)) for f in RECONCILIATION_SCHEMA
    ]
    assert [(p.name, p.hive_type) for p in table.partitions] == [("dt", "string")]
    assert render_ddl(table.location, URI) == f"{URI}/reconciliation/"
    assert table.properties["projection.dt.format"] == "yyyy-MM-dd"


def test_quarantine_projection_lists_every_kind_written_there() -> None:
    table = table_defs()["quarantine"]
    assert table.properties["projection.record_kind.values"].split(",") == [*KINDS, "billing"]
    folder = fill(table.relative_partition_template(), record_kind="billing", dt="2026-01-02")
    assert folder + "d.ndjson" == partition_key(QUARANTINE_PREFIX, date(2026, 1, 2), "d.ndjson")


def test_new_views_come_after_what_they_read() -> None:
    order = [f.name for f in views_in_order()]
    assert order.index("vms_dedup") < order.index("vms_instance_days") < order.index("billed_vs_measured")
    assert order.index("billed_vs_measured") < order.index("cost_per_normalised_hour")


# -- a warehouse written by the real writers, read through DuckDB ---------------------------------


def bill_lines() -> list[dict[str, Any]]:
    lines = hourly(
        provider="aws", account="111", resource_id="i-0aaa", first=at(DAY), hours=24, rate="0.4123"
    )
    lines.append(
        line(
            provider="azure",
            account="sub-1",
            resource_id="/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-1",
            start=at(DAY),
            end=at(DAY, 24),
            cost="4.8000000001",
            hours="24",
            unit="Hours",
            currency="EUR",
        )
    )
    # A February line of the same account: a second billing period (another partition).
    lines.append(
        line(
            provider="aws",
            account="111",
            resource_id=None,
            start=at(date(2026, 2, 27)),
            end=at(date(2026, 2, 28)),
            cost="1.25",
            category="Tax",
        )
    )
    return lines


REJECT = Reject(
    source_file="march.csv",
    source_row=7,
    violations=(Violation("BilledCost-C-004-M", "BilledCost is not a decimal"),),
    raw={"BilledCost": "twelve"},
)


@dataclass
class Written:
    warehouse: FsWarehouse
    root: Path
    lines: list[dict[str, Any]]
    stored: BillingStoreResult
    reconciled: RunSummary

    def engine(self) -> DuckDbEngine:
        return DuckDbEngine(self.root)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    home = Path(tmp_path_factory.mktemp("billing_tables"))
    warehouse = open_warehouse(Settings(mode="local", home=home))
    assert isinstance(warehouse, FsWarehouse)
    lines = bill_lines()
    table = billing_table([dict(item) for item in lines])
    periods = {str(p) for p in table["billing_period"].to_pylist()}
    providers = frozenset(str(p) for p in table["provider"].to_pylist())
    imported = BillingImport(
        table=table,
        rejects=[REJECT],
        source_format="fixture",
        provider="mixed",
        billing_periods=periods,
        source_file="march.csv",
        source_rows=len(lines) + 1,
        providers=providers,
    )
    stored = BillingService(warehouse).store([imported], DELIVERY, origin="test", now=STORED_AT)
    vms = samples(provider="aws", account="111", instance_id="i-0aaa", start=at(DAY), end=at(DAY, 20))
    store_vms(warehouse, vms)
    reconciled = ReconcileService(warehouse).run("2026-03", RECONCILED_AT)
    return Written(warehouse, home / "warehouse", lines, stored, reconciled)


def test_the_writers_keys_fill_the_location_templates(written: Written) -> None:
    tables = table_defs()
    billing_keys = [k for p in written.stored.partitions for k in p.keys]
    assert len(billing_keys) == 3  # aws March, aws February, azure March
    for key in billing_keys:
        provider, period = re.findall(r"provider=([^/]+)/billing_period=([^/]+)/", key)[0]
        folder = fill(
            tables["billing"].relative_partition_template(), provider=provider, billing_period=period
        )
        assert key == folder + key.rsplit("/", 1)[1]
    assert written.reconciled.keys
    for key in written.reconciled.keys:
        days = set(pq.read_table(written.root / key, columns=["day"])["day"].to_pylist())
        assert len(days) == 1
        folder = fill(tables["reconciliation"].relative_partition_template(), dt=days.pop().isoformat())
        assert key == f"{folder}{written.reconciled.run_id}.parquet"
    quarantine = written.stored.quarantine_key
    assert quarantine is not None
    folder = fill(
        tables["quarantine"].relative_partition_template(),
        record_kind="billing",
        dt=STORED_AT.date().isoformat(),
    )
    assert quarantine == folder + quarantine.rsplit("/", 1)[1]


def test_billing_reads_back_every_stored_line_with_exact_decimals(written: Written) -> None:
    assert written.warehouse.list_keys(MANIFEST_PREFIX + "/")  # present, and must not be read as rows
    result = written.engine().query(
        'SELECT provider, billing_period, billing_account_id, billed_cost, consumed_quantity, "$path" '
        "FROM billing ORDER BY provider, billing_period, charge_period_start"
    )
    assert result.table.schema.field("billed_cost").type == pa.decimal128(38, 18)
    assert result.table.schema.field("consumed_quantity").type == pa.decimal128(38, 18)
    rows = result.table.to_pylist()
    assert len(rows) == len(written.lines)
    expected: dict[tuple[str, str], Decimal] = {}
    for item in written.lines:
        key = (item["provider"], item["billing_period"])
        expected[key] = expected.get(key, Decimal(0)) + item["billed_cost"]
    got: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        key = (row["provider"], row["billing_period"])
        got[key] = got.get(key, Decimal(0)) + row["billed_cost"]
        assert row["$path"].endswith(".parquet") and "/_manifests/" not in row["$path"]
    assert got == expected
    assert got[("aws", "2026-03")] == Decimal("0.4123") * 24
    assert got[("azure", "2026-03")] == Decimal("4.8000000001")


def test_sums_over_billing_stay_decimal(written: Written) -> None:
    result = written.engine().query(
        "SELECT billing_currency, sum(billed_cost) AS total FROM billing GROUP BY billing_currency ORDER BY 1"
    )
    assert pa.types.is_decimal(result.table.schema.field("total").type)
    assert result.table.to_pylist() == [
        {"billing_currency": "EUR", "total": Decimal("4.8000000001")},
        {"billing_currency": "USD", "total": Decimal("0.4123") * 24 + Decimal("1.25")},
    ]


def test_billing_partition_values_come_from_the_key(tmp_path: Path) -> None:
    """As on Athena: a file's own provider/billing_period columns never override its folder."""
    table = billing_table([dict(item) for item in bill_lines()[:2]])
    key = partition_folder("gcp", "2025-12") + "/odd.parquet"
    (tmp_path / key).parent.mkdir(parents=True)
    pq.write_table(table, tmp_path / key)
    rows = DuckDbEngine(tmp_path).query("SELECT DISTINCT provider, billing_period FROM billing").table
    assert rows.to_pylist() == [{"provider": "gcp", "billing_period": "2025-12"}]
    assert set(table["provider"].to_pylist()) == {"aws"}


def test_a_file_with_narrower_decimals_is_read_as_the_ddl_declares(tmp_path: Path) -> None:
    wide = billing_table([dict(item) for item in bill_lines()[:1]])
    narrow = wide.cast(
        pa.schema(
            [f.with_type(pa.decimal128(20, 4)) if pa.types.is_decimal(f.type) else f for f in BILLING_SCHEMA]
        )
    )
    key = tmp_path / partition_folder("aws", "2026-03") / "narrow.parquet"
    key.parent.mkdir(parents=True)
    pq.write_table(narrow, key)
    engine = DuckDbEngine(tmp_path)
    result = engine.query("SELECT billed_cost FROM billing").table
    assert result.schema.field("billed_cost").type == pa.decimal128(38, 18)
    pq.write_table(wide, key.with_name("wide.parquet"))
    result = engine.query("SELECT billed_cost FROM billing").table
    assert result.schema.field("billed_cost").type == pa.decimal128(38, 18)
    assert result.column("billed_cost").to_pylist() == [Decimal("0.4123")] * 2


def test_reconciliation_reads_back_what_the_verifier_stored(written: Written) -> None:
    stored = pa.concat_tables(pq.read_table(written.root / k) for k in written.reconciled.keys)
    result = written.engine().query(
        "SELECT run_id, kind, provider, resource_id, day, dt, verdict, cost, billed_hours, "
        "measured_hours, judged_at FROM reconciliation ORDER BY kind, day, provider, resource_id"
    )
    schema = result.table.schema
    assert (schema.field("day").type, schema.field("cost").type) == (pa.date32(), pa.decimal128(38, 18))
    rows = result.table.to_pylist()
    assert len(rows) == stored.num_rows > 0
    for row in rows:
        assert row["dt"] == row["day"].isoformat() and row["run_id"] == written.reconciled.run_id
        assert row["judged_at"] == RECONCILED_AT.replace(tzinfo=None)
    instance = {(r["provider"], r["resource_id"]): r for r in rows if r["kind"] == "instance_day"}
    aaa = instance[("aws", "i-0aaa")]
    assert (aaa["day"], aaa["billed_hours"], aaa["measured_hours"]) == (DAY, 24.0, 20.0)
    assert aaa["cost"] == Decimal("0.4123") * 24
    web = instance[
        ("azure", "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-1")
    ]
    assert web["cost"] == Decimal("4.8000000001") and web["verdict"] == "billed_not_measured"
    verdicts = sorted(stored.column("verdict").to_pylist())
    assert sorted(r["verdict"] for r in rows) == verdicts


def test_billing_rejects_read_back_through_the_quarantine_table(written: Written) -> None:
    rows = (
        written.engine()
        .query(
            'SELECT record_kind, dt, batch_id, kind, "index", errors, record FROM quarantine '
            "WHERE record_kind = 'billing'"
        )
        .table.to_pylist()
    )
    assert rows == [
        {
            "record_kind": "billing",
            "dt": STORED_AT.date().isoformat(),
            "batch_id": DELIVERY,
            "kind": "billing",
            "index": 7,
            "errors": [{"field": "BilledCost-C-004-M", "message": "BilledCost is not a decimal"}],
            "record": '{"BilledCost":"twelve"}',
        }
    ]


def test_an_empty_warehouse_has_typed_empty_tables_and_views(tmp_path: Path) -> None:
    engine = DuckDbEngine(tmp_path)
    billing = engine.query("SELECT billed_cost, provider, billing_period FROM billing").table
    assert billing.num_rows == 0 and billing.schema.field("billed_cost").type == pa.decimal128(38, 18)
    reconciliation = engine.query("SELECT day, cost, dt FROM reconciliation").table
    assert reconciliation.num_rows == 0
    assert (reconciliation.schema.field("day").type, reconciliation.schema.field("cost").type) == (
        pa.date32(),
        pa.decimal128(38, 18),
    )
    for view in ("billed_vs_measured", "cost_per_normalised_hour"):
        assert engine.query(f"SELECT * FROM {view}").table.num_rows == 0


def test_sums_keep_eighteen_places_once_old_files_are_upgraded(tmp_path: Path) -> None:
    """Files written with decimal(38,10) before the change sit beside decimal(38,18) ones. The
    DuckDB engine casts every column to its DDL type, so sums are exact even before `upgrade` (a
    bare `union_by_name` read would truncate the new files' 18 places); `upgrade` rewrites the
    old files so every reader, Athena included, sees one scale, and sums stay exact."""
    small = [Decimal("1.6E-7"), Decimal("6.6E-9"), Decimal("1.234E-11"), Decimal("0.123456789012345678")]
    big = [Decimal("9" * 19 + ".999999999999999999")] * 5  # five times ~1e19: 20 integer digits
    new = billing_table([{**bill_lines()[0], "billed_cost": c, "effective_cost": c} for c in small + big])
    old = billing_table([dict(item) for item in bill_lines()[:1]]).drop_columns(["x_exact_amounts"])
    old = old.cast(
        pa.schema(
            [f.with_type(pa.decimal128(38, 10)) if pa.types.is_decimal(f.type) else f for f in old.schema]
        )
    )
    folder = tmp_path / partition_folder("aws", "2026-03")
    folder.mkdir(parents=True)
    pq.write_table(new, folder / "new.parquet")
    pq.write_table(old, folder / "old.parquet")
    query = (
        "SELECT sum(billed_cost) AS total, sum(CASE WHEN billed_cost < 1 THEN billed_cost END) AS tiny "
        "FROM billing"
    )
    old_cost = old["billed_cost"][0].as_py()
    before = DuckDbEngine(tmp_path).query(query).table.to_pylist()[0]
    assert before["tiny"] == sum(small, Decimal(0)) + old_cost  # the engine's DDL casts
    [bare] = duckdb.execute(
        f"SELECT sum(CASE WHEN billed_cost < 1 THEN billed_cost END) AS tiny FROM read_parquet("
        f"'{folder.as_posix()}/*.parquet', union_by_name = true)"
    ).fetchall()
    assert bare[0] != sum(small, Decimal(0)) + old_cost  # the hazard the upgrade removes

    warehouse = FsWarehouse(
        pafs.LocalFileSystem(), tmp_path.as_posix(), tmp_path.as_posix(), atomic_rename=True
    )
    outcome = upgrade(warehouse)
    assert outcome.rewritten == [f"{partition_folder('aws', '2026-03')}/old.parquet"] and not outcome.failed
    assert pq.read_schema(folder / "old.parquet").equals(BILLING_SCHEMA, check_metadata=False)
    assert upgrade(warehouse).rewritten == []  # idempotent

    result = DuckDbEngine(tmp_path).query(query)
    assert result.table.schema.field("total").type == pa.decimal128(38, 18)
    row = result.table.to_pylist()[0]
    assert row["tiny"] == sum(small, Decimal(0)) + old_cost
    with localcontext(Context(prec=60)):  # Python's default 28 digits would round the expectation
        assert row["total"] == sum(small + big, Decimal(0)) + old_cost
