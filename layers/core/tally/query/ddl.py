"""Table definitions read from the Athena DDL in `athena_queries/tables/` (the one source of truth).

The DuckDB engine builds its views of the warehouse from these definitions, and deployment renders
the same DDL with the warehouse location filled in. Table properties may name partition columns
(`${dt}`, Athena's placeholders) and the template parameters of TEMPLATE_PARAMETERS (kept as
CloudFormation references by infra/glue_tables.py, filled with their defaults by render_ddl).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlglot loads with the first DDL parsed, not with the API
    from sqlglot import exp

from tally.query.sql_files import SqlFileError, list_files, parse_athena

WAREHOUSE_PLACEHOLDER = "{{warehouse_uri}}"
#: CloudFormation parameters a DDL file may use in its table properties, with the template's
#: defaults (infra/glue_tables.py keeps them as Fn::Sub references; render_ddl fills them).
TEMPLATE_PARAMETERS: dict[str, str] = {
    "BillingStartMonth": "2018-01",
    "BillingProviders": "aws,azure,gcp,oci,openstack,other",
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


@dataclass(frozen=True)
class Column:
    name: str
    hive_type: str
    duckdb_type: str


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: tuple[Column, ...]
    partitions: tuple[Column, ...]
    file_format: str  # "parquet" or "json"
    location: str  # with WAREHOUSE_PLACEHOLDER
    properties: dict[str, str]

    @property
    def location_template(self) -> str:
        """Where one partition lives, with `${column}` for each partition column."""
        if not self.partitions:
            return self.location
        return self.properties["storage.location.template"]

    def relative_prefix(self) -> str:
        """The table's key prefix inside the warehouse (`jobs/`, `registry/resources/`)."""
        return _relative(self.location)

    def relative_partition_template(self) -> str:
        return _relative(self.location_template)


def _relative(location: str) -> str:
    if not location.startswith(WAREHOUSE_PLACEHOLDER + "/"):
        raise SqlFileError(f"table location {location!r} must start with {WAREHOUSE_PLACEHOLDER}/")
    return location.removeprefix(WAREHOUSE_PLACEHOLDER + "/")


def _column(node: exp.ColumnDef) -> Column:
    from sqlglot import exp

    kind = node.args.get("kind")
    if not isinstance(kind, exp.DataType):
        raise SqlFileError(f"column {node.name!r} has no type")
    # Hive's own spelling is decimal(38,10) (as Glue lists it); sqlglot writes decimal(38, 10).
    hive = _DECIMAL.sub(r"decimal(\1,\2)", kind.sql(dialect="hive").lower())
    return Column(node.name, hive, kind.sql(dialect="duckdb"))


def parse_table(sql: str) -> TableDef:
    from sqlglot import exp

    statement = parse_athena(sql)
    if not isinstance(statement, exp.Create) or statement.kind != "TABLE":
        raise SqlFileError("expected CREATE EXTERNAL TABLE")
    schema = statement.this
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table):
        raise SqlFileError("table definition has no column list")
    columns = tuple(_column(c) for c in schema.expressions if isinstance(c, exp.ColumnDef))
    partitions: tuple[Column, ...] = ()
    file_format = ""
    serde = ""
    location = ""
    properties: dict[str, str] = {}
    props = statement.args.get("properties")
    for prop in props.expressions if isinstance(props, exp.Properties) else []:
        if isinstance(prop, exp.PartitionedByProperty) and isinstance(prop.this, exp.Schema):
            partitions = tuple(_column(c) for c in prop.this.expressions if isinstance(c, exp.ColumnDef))
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = prop.this.name.lower()
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.this.name.lower()
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif type(prop) is exp.Property:
            properties[prop.this.name] = prop.args["value"].name
    if file_format == "textfile":
        if "json" not in serde:
            raise SqlFileError("a TEXTFILE table needs a JSON SerDe")
        file_format = "json"
    if file_format not in ("parquet", "json"):
        raise SqlFileError(f"unsupported table format {file_format!r}")
    if not location:
        raise SqlFileError("table has no LOCATION")
    table = TableDef(schema.this.name, columns, partitions, file_format, location, properties)
    if partitions:
        _check_projection(table)
    return table


def _check_projection(table: TableDef) -> None:
    if table.properties.get("projection.enabled") != "true":
        raise SqlFileError(f"{table.name}: partitioned tables use partition projection")
    template = table.properties.get("storage.location.template", "")
    for column in table.partitions:
        if "${" + column.name + "}" not in template:
            raise SqlFileError(f"{table.name}: storage.location.template lacks ${{{column.name}}}")
        if f"projection.{column.name}.type" not in table.properties:
            raise SqlFileError(f"{table.name}: no projection type for {column.name}")
    allowed = {c.name for c in table.partitions} | set(TEMPLATE_PARAMETERS)
    for key, value in table.properties.items():
        unknown = set(re.findall(r"\$\{([^}]*)\}", value)) - allowed
        if unknown:
            raise SqlFileError(
                f"{table.name}: {key} names {sorted(unknown)}, neither a partition column nor a "
                f"template parameter ({', '.join(sorted(TEMPLATE_PARAMETERS))})"
            )


@cache
def _tables(root: Path | None) -> dict[str, TableDef]:
    out: dict[str, TableDef] = {}
    for item in list_files("tables", root):
        table = parse_table(item.text)
        if table.name != item.name:
            raise SqlFileError(f"{item.path.name}: defines table {table.name!r}, not {item.name!r}")
        out[table.name] = table
    return out


def table_defs(root: Path | None = None) -> dict[str, TableDef]:
    return dict(_tables(root))


def render_ddl(sql: str, warehouse_uri: str, parameters: Mapping[str, str] | None = None) -> str:
    """The DDL with the warehouse location (e.g. `s3://bucket/prefix`) and template parameters filled.

    `parameters` override TEMPLATE_PARAMETERS; Athena's own `${partition}` placeholders stay.
    """
    values = {**TEMPLATE_PARAMETERS, **(parameters or {})}
    unknown = set(values) - set(TEMPLATE_PARAMETERS)
    if unknown:
        raise SqlFileError(f"unknown template parameters {sorted(unknown)}")
    out = sql.replace(WAREHOUSE_PLACEHOLDER, warehouse_uri.rstrip("/"))
    for name, value in values.items():
        out = out.replace("${" + name + "}", value)
    return out
