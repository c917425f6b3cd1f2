"""The local engine: DuckDB over the warehouse folder, running the same SQL files as Athena.

Each table of `athena_queries/tables/` becomes a DuckDB view over its files (Parquet or NDJSON),
with the DDL's column types, its partition columns as strings (as Athena projects them) and the
file as `"$path"` (Athena's hidden column). Timestamps are Athena `timestamp` values: UTC, without
a zone; decimals are the DDL's decimal(p,s), never floats. Partition columns named in the key as
`name=value` (jobs' `dt`, billing's `provider` and `billing_period`) are read as hive partitions,
whose value comes from the key even where the file holds a column of that name (as on Athena);
others (quarantine's kind folder) are cut out of the file name. Only files with the table's
extension below the partition folders are read: billing's `_manifests/*.json` never are.
The views of `athena_queries/views/` are transpiled from Trino with sqlglot, strictly, and created
each after the views it reads.
A table with no files yet is an empty view with the right columns, swapped for the real one as
soon as files appear.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from tally.query.ddl import TableDef, table_defs
from tally.query.engine import Param, QueryError, QueryResult
from tally.query.sql_files import view_body, views_in_order
from tally.query.transpile import TranspileError, expression_to_duckdb, to_duckdb

_EXTENSIONS = {"parquet": "parquet", "json": "ndjson"}


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DuckDbEngine:
    name = "duckdb"

    def __init__(self, root: Path, sql_root: Path | None = None, threads: int | None = None) -> None:
        self.root = root
        self._tables = table_defs(sql_root)
        self._connection = duckdb.connect(":memory:")
        # Athena timestamps carry no zone and mean UTC; make DuckDB read and cast them as UTC.
        self._connection.execute("SET TimeZone = 'UTC'")
        if threads:
            self._connection.execute(f"SET threads = {int(threads)}")
        self._lock = threading.Lock()
        self._filled: dict[str, bool] = {}
        for table in self._tables.values():
            self._register(table, filled=False)
        self._refresh()
        for item in views_in_order(sql_root):
            try:
                sql = expression_to_duckdb(view_body(item))
            except TranspileError as error:
                raise TranspileError(f"view {item.name}: {error}") from error
            self._connection.execute(f"CREATE OR REPLACE VIEW {_quote_ident(item.name)} AS {sql}")

    # -- warehouse tables -------------------------------------------------------------------

    def _glob(self, table: TableDef) -> str:
        template = table.relative_partition_template()
        pattern = re.sub(r"\$\{[a-z_]+\}", "*", template)
        return pattern + "*." + _EXTENSIONS[table.file_format]

    def _refresh(self) -> None:
        with self._lock:
            for table in self._tables.values():
                filled = next(iter(self.root.glob(self._glob(table))), None) is not None
                if filled != self._filled.get(table.name):
                    self._register(table, filled)

    def _register(self, table: TableDef, filled: bool) -> None:
        self._filled[table.name] = filled
        name = _quote_ident(table.name)
        if not filled:
            columns = [f"CAST(NULL AS {c.duckdb_type}) AS {_quote_ident(c.name)}" for c in table.columns]
            columns += [f"CAST(NULL AS VARCHAR) AS {_quote_ident(p.name)}" for p in table.partitions]
            columns.append('CAST(NULL AS VARCHAR) AS "$path"')
            self._connection.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(columns)} WHERE false"
            )
            return
        self._connection.execute(f"CREATE OR REPLACE VIEW {name} AS {self._source_sql(table)}")

    def _source_sql(self, table: TableDef) -> str:
        path = _quote_text(f"{self.root.as_posix()}/{self._glob(table)}")
        template = table.relative_partition_template()
        hive = [p.name for p in table.partitions if f"{p.name}=${{{p.name}}}" in template]
        options = ["union_by_name = true", "filename = true"]
        if hive:
            types = ", ".join(f"{_quote_text(h)}: 'VARCHAR'" for h in hive)
            options += ["hive_partitioning = true", f"hive_types = {{{types}}}"]
        else:
            options.append("hive_partitioning = false")
        if table.file_format == "parquet":
            reader = f"read_parquet({path}, {', '.join(options)})"
        else:
            columns = ", ".join(f"{_quote_text(c.name)}: {_quote_text(c.duckdb_type)}" for c in table.columns)
            options += ["format = 'newline_delimited'", f"columns = {{{columns}}}"]
            reader = f"read_json({path}, {', '.join(options)})"
        # Files written before a column joined the contract lack it; when no file has it yet,
        # it reads as NULL (as Athena reads a missing Parquet column) instead of failing.
        present = {
            str(row[0]) for row in self._connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        }
        select = []
        for column in table.columns:
            ident = _quote_ident(column.name)
            if column.name not in present:
                select.append(f"CAST(NULL AS {column.duckdb_type}) AS {ident}")
            elif column.duckdb_type == "TIMESTAMP" or column.duckdb_type.startswith("DECIMAL"):
                # Decimals keep the DDL's precision and scale whatever a file was written with
                # (Athena reads them as declared), so sums stay exact and comparable across files.
                select.append(f"CAST({ident} AS {column.duckdb_type}) AS {ident}")
            else:
                select.append(ident)
        for partition in table.partitions:
            ident = _quote_ident(partition.name)
            if partition.name in hive:
                select.append(ident)
            else:
                regex = re.escape(template).replace(re.escape("${" + partition.name + "}"), "([^/]+)")
                regex = re.sub(r"\\\$\\\{[a-z_]+\\\}", "[^/]+", regex)
                select.append(f"regexp_extract(filename, {_quote_text(regex)}, 1) AS {ident}")
        select.append('filename AS "$path"')
        return f"SELECT {', '.join(select)} FROM {reader}"

    # -- queries ----------------------------------------------------------------------------

    def transpile(self, sql: str) -> str:
        return to_duckdb(sql)

    def query(self, sql: str, params: Sequence[Param] = ()) -> QueryResult:
        duck_sql = to_duckdb(sql)
        self._refresh()
        started = time.perf_counter()
        cursor = self._connection.cursor()
        try:
            relation = cursor.sql(duck_sql, params=list(params) if params else None)
            table = relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as error:
            raise QueryError(f"DuckDB could not run the query: {error}", reason=str(error)) from error
        finally:
            cursor.close()
        return QueryResult(table, self.name, time.perf_counter() - started)
