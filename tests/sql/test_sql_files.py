"""Every SQL file parses as Athena SQL and transpiles; the DDL agrees with the writer."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from tally.adapters.warehouse import partition_key, partition_value
from tally.domain.records import KINDS, MODELS, RecordKind
from tally.domain.schema import stored_schema
from tally.query.ddl import render_ddl, table_defs
from tally.query.sql_files import list_files, parse_athena, views_in_order
from tally.query.transpile import TranspileError, to_duckdb
from tally.registry.entries import ENTRY_TYPES
from tally.registry.store import registry_key

HIVE = {pa.string(): "string", pa.int64(): "bigint", pa.float64(): "double", pa.bool_(): "boolean"}


def hive_type(t: pa.DataType) -> str:
    return "timestamp" if pa.types.is_timestamp(t) else HIVE[t]


@pytest.mark.parametrize(
    "item",
    [*list_files("tables"), *list_files("views"), *list_files("reports")],
    ids=lambda f: f"{f.section}/{f.name}",
)
def test_every_file_parses_as_athena(item: object) -> None:
    parse_athena(item.text)  # type: ignore[attr-defined]


@pytest.mark.parametrize("item", [*list_files("views"), *list_files("reports")], ids=lambda f: f.name)
def test_every_view_and_report_transpiles(item: object) -> None:
    assert to_duckdb(item.text)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_location_template_matches_the_writer(kind: RecordKind) -> None:
    table = table_defs()[kind]
    day = date(2026, 3, 7)
    uri = "s3://bucket/some/prefix"
    template = render_ddl(table.location_template, uri)
    span = MODELS[kind].partition_span
    folder = template.replace("${dt}", partition_value(day, span))
    key = partition_key(kind, day, "batch.parquet", span)
    assert folder + "batch.parquet" == f"{uri}/{key}"
    assert render_ddl(table.location, uri) == f"{uri}/{kind}/"
    # Athena's projection writes dt in the format the writer uses for the kind's span.
    java, python, unit = {"day": ("yyyy-MM-dd", "%Y-%m-%d", "DAYS"), "month": ("yyyy-MM", "%Y-%m", "MONTHS")}[
        span
    ]
    assert table.properties["projection.dt.format"] == java and day.strftime(python) in folder
    assert table.properties["projection.dt.interval.unit"] == unit


@pytest.mark.parametrize("kind", KINDS)
def test_table_columns_are_the_stored_schema(kind: RecordKind) -> None:
    table = table_defs()[kind]
    schema = stored_schema(kind)
    assert [(c.name, c.hive_type) for c in table.columns] == [(f.name, hive_type(f.type)) for f in schema]
    assert [p.name for p in table.partitions] == ["dt"]


@pytest.mark.parametrize("kind", list(ENTRY_TYPES))
def test_registry_tables_match_the_registry_files(kind: str) -> None:
    table = table_defs()[f"registry_{kind}"]
    schema = ENTRY_TYPES[kind].arrow_schema  # type: ignore[index]
    assert [(c.name, c.hive_type) for c in table.columns] == [(f.name, hive_type(f.type)) for f in schema]
    assert table.relative_prefix() + "registry.parquet" == registry_key(kind)  # type: ignore[arg-type]


def test_quarantine_template_matches_the_ingest_key_layout() -> None:
    table = table_defs()["quarantine"]
    folder = (
        table.relative_partition_template().replace("${record_kind}", "vms").replace("${dt}", "2026-01-02")
    )
    assert folder + "b.ndjson" == partition_key("quarantine/vms", date(2026, 1, 2), "b.ndjson")


def test_views_come_after_what_they_read() -> None:
    order = [f.name for f in views_in_order()]
    assert order.index("jobs_dedup") < order.index("jobs_normalised") < order.index("jobs_classified")
    assert order.index("jobs_classified") < order.index("jobs_monthly")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT sum(wall_seconds) / 3600 FROM jobs",  # integer division on Trino, not on DuckDB
        "SELECT made_up_function(site) FROM jobs",  # unknown: meaning cannot be checked
        "SELECT FROM WHERE",
        "SELECT 1; SELECT 2",
    ],
)
def test_unfaithful_or_invalid_sql_is_refused(sql: str) -> None:
    with pytest.raises(TranspileError):
        to_duckdb(sql)


def test_fractional_division_is_accepted() -> None:
    assert "/ 3600" in to_duckdb("SELECT CAST(sum(wall_seconds) AS DOUBLE) / 3600 FROM jobs")


@pytest.mark.parametrize("literal", ["3600.0", "3600.", "0.5", "36e2"])
def test_a_decimal_or_double_literal_is_not_an_integer_divisor(literal: str) -> None:
    assert f"/ {literal}" in to_duckdb(f"SELECT sum(wall_seconds) / {literal} FROM jobs")


def test_a_refused_division_names_the_cast_to_write() -> None:
    with pytest.raises(TranspileError) as caught:
        to_duckdb("SELECT sum(wall_seconds) / 3600 AS h FROM jobs")
    suggestion = "CAST(SUM(wall_seconds) AS DOUBLE) / 3600"
    assert str(caught.value).endswith(f"write {suggestion!r}")
    assert to_duckdb(f"SELECT {suggestion} AS h FROM jobs")  # and what it names is accepted


@pytest.mark.parametrize(
    ("sql", "where"),
    [("SELEC 1 FROM", "line 1, column 7, near '1'"), ("SELECT (1 + 2", "line 1, column 13")],
)
def test_a_syntax_error_is_one_plain_line(sql: str, where: str) -> None:
    with pytest.raises(TranspileError) as caught:
        to_duckdb(sql)
    message = str(caught.value)
    assert "\x1b" not in message and "\n" not in message
    assert message.startswith("not valid Athena SQL: ") and where in message
