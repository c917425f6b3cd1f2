"""A custom kind as a warehouse table: its Athena DDL (partition projection on `dt`, as the
built-in tables of athena_queries/tables/), the same table for DuckDB, its Glue TableInput, and
the report catalog entry that offers it (string and boolean fields as dimensions, numeric fields
as sums). Every name in them has passed `tally.kinds.spec.check_identifier`, and is quoted anyway.
"""

from __future__ import annotations

from typing import Any

from tally.kinds.spec import FieldType, KindDefinition
from tally.query.ddl import WAREHOUSE_PLACEHOLDER, TableDef, parse_table
from tally.reports.catalog import Kind, Metric, exact_sum

HIVE: dict[FieldType, str] = {
    "string": "string",
    "integer": "bigint",
    "number": "double",
    "boolean": "boolean",
    "timestamp": "timestamp",
}
SERVER_COLUMNS: tuple[tuple[str, str], ...] = (("ingested_at", "timestamp"), ("batch_id", "string"))
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#: The report metric that counts records (a field may not take its name: spec.SERVER_COLUMNS).
RECORDS_METRIC = "records"


def _projection(definition: KindDefinition) -> dict[str, str]:
    monthly = definition.spec.partition == "month"
    location = f"{WAREHOUSE_PLACEHOLDER}/{definition.table}/"
    return {
        "parquet.compression": "ZSTD",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM" if monthly else "yyyy-MM-dd",
        "projection.dt.range": "2000-01,NOW" if monthly else "2000-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "MONTHS" if monthly else "DAYS",
        "storage.location.template": location + "dt=${dt}/",
    }


def columns(definition: KindDefinition) -> list[tuple[str, str]]:
    return [(n, HIVE[t]) for n, t in definition.spec.columns().items()] + list(SERVER_COLUMNS)


def ddl(definition: KindDefinition) -> str:
    """CREATE EXTERNAL TABLE for Athena, with the warehouse placeholder of the DDL files."""
    cols = ",\n".join(f"  `{n}` {t}" for n, t in columns(definition))
    props = ",\n".join(f"  '{k}' = '{v}'" for k, v in _projection(definition).items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {definition.table} (\n{cols}\n)\n"
        "PARTITIONED BY (dt string)\nSTORED AS PARQUET\n"
        f"LOCATION '{WAREHOUSE_PLACEHOLDER}/{definition.table}/'\nTBLPROPERTIES (\n{props}\n)"
    )


def table_def(definition: KindDefinition) -> TableDef:
    """The table as the DuckDB engine registers the DDL files' tables."""
    return parse_table(ddl(definition))


def glue_table_input(definition: KindDefinition, warehouse_uri: str) -> dict[str, Any]:
    """The Glue TableInput of the kind's table (as template.yaml declares the built-in ones)."""
    root = warehouse_uri.rstrip("/")
    properties = {k: v.replace(WAREHOUSE_PLACEHOLDER, root) for k, v in _projection(definition).items()}
    return {
        "Name": definition.table,
        "Description": (definition.spec.description or f"custom kind {definition.name}")[:2048],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", **properties},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [
                {"Name": n, "Type": t, **({"Comment": c[:255]} if (c := _comment(definition, n)) else {})}
                for n, t in columns(definition)
            ],
            "Location": f"{root}/{definition.table}/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
            },
        },
    }


def _comment(definition: KindDefinition, name: str) -> str | None:
    for field in definition.spec.fields:
        if field.name == name:
            parts = [p for p in (field.description, f"unit: {field.unit}" if field.unit else None) if p]
            return "; ".join(parts) or None
    return None


def report_kind(definition: KindDefinition) -> Kind:
    """The kind's report catalog entry: one row per record (latest `ingested_at` of an identity)."""
    spec = definition.spec
    identity = ", ".join(f'"{n}"' for n in spec.full_identity())
    selected = ", ".join(f'"{n}"' for n in spec.columns())
    base = (
        f'SELECT {selected}, "{spec.event_time}" AS event_time, dt\nFROM (\n'
        f"  SELECT *, row_number() OVER (PARTITION BY {identity} ORDER BY ingested_at DESC) AS tally_rank\n"
        f'  FROM "{definition.table}"\n) AS ranked\nWHERE tally_rank = 1'
    )
    kinds = spec.columns()
    dimensions = {n: f'"{n}"' for n, t in kinds.items() if t in ("string", "boolean")}
    metrics = {RECORDS_METRIC: Metric("count(*)", "integer", "Records (each identity once)")}
    for field in spec.fields:
        unit = f" ({field.unit})" if field.unit else ""
        text = (field.description or field.name) + unit
        if field.type == "integer":
            metrics[field.name] = Metric(exact_sum(f'"{field.name}"'), "number", f"Sum of {text}", divisor=1)
        elif field.type == "number":
            metrics[field.name] = Metric(f'sum("{field.name}")', "number", f"Sum of {text}")
    return Kind(
        base=definition.table,
        base_sql=base,
        dimensions=dimensions,
        metrics=metrics,
        default_metrics=(RECORDS_METRIC,),
        boolean_dimensions=frozenset(n for n, t in kinds.items() if t == "boolean"),
        # A custom kind's records carry their site only: project, VO and person grants reach none.
        fence_columns={"site": "site"},
    )
