"""The local engine: DuckDB over the warehouse folder, running the same SQL files as Athena.

Each table of `athena_queries/tables/` becomes a DuckDB view over its files (Parquet or NDJSON),
with the DDL's column types, its partition columns as strings (as Athena projects them) and the
file as `"$path"` (Athena's hidden column). Timestamps are Athena `timestamp` values: UTC, without
a zone; decimals are the DDL's decimal(p,s), never floats. Partition columns named in the key as
`name=value` (jobs' `dt`, billing's `provider` and `billing_period`) are read as hive partitions,
whose value comes from the key even where the file holds a column of that name (as on Athena);
others (quarantine's kind folder) are cut out of the file name. Only files with the table's
extension below the partition folders are read: billing's `_manifests/*.json` never are.
The views of `athena_queries/views/` are transpiled from Trino with sqlglot, strictly (once per
SQL text: see tally.query.compiled), and created on first use, each after the views it reads.
A table with no files yet is an empty view with the right columns, swapped for the real one as
soon as files appear.

Start-up does not depend on the number of files: the DDL gives every column's type, so a Parquet
table is read with `union_by_name = false` (DuckDB binds against one file and matches the others'
columns by name) and every column is cast to its DDL type. Only when files disagree (a file
written before a column existed) does a table fall back to `union_by_name = true`, which reads
every file's schema; it stays so for the engine's life.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from tally.query.compiled import compiled_catalog
from tally.query.ddl import TableDef
from tally.query.engine import Param, QueryError, QueryResult
from tally.query.sql_files import referenced_tables
from tally.query.transpile import expression_to_duckdb, parse_statement, to_duckdb

_EXTENSIONS = {"parquet": "parquet", "json": "ndjson"}
_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _one_line(error: duckdb.Error) -> str:
    """DuckDB's message on one line, without its `LINE n:` echo of the SQL and caret line."""
    lines = [line.strip() for line in str(error).splitlines()]
    kept = [line for line in lines if line and not line.startswith("LINE ") and set(line) != {"^"}]
    return " ".join(kept)


class DuckDbEngine:
    name = "duckdb"

    def __init__(
        self,
        root: Path,
        sql_root: Path | None = None,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """`cache_dir` keeps the compiled SQL catalog between processes (see tally.query.compiled)."""
        self.root = root
        catalog = compiled_catalog(sql_root, cache_dir)
        self._tables = catalog.tables
        self._views = catalog.views
        self._connection = duckdb.connect(":memory:")
        # Athena timestamps carry no zone and mean UTC; make DuckDB read and cast them as UTC.
        self._connection.execute("SET TimeZone = 'UTC'")
        # Footers read once per file (DuckDB checks the file's modification time before reuse).
        self._connection.execute("SET parquet_metadata_cache = true")
        if threads:
            self._connection.execute(f"SET threads = {int(threads)}")
        self._lock = threading.Lock()
        self._filled: dict[str, bool] = {}
        self._by_name: set[str] = set()  # tables read with union_by_name (their files disagree)
        self._created: set[str] = set()  # views of athena_queries/views created so far
        self._closure: dict[str, frozenset[str]] = {}

    def register_table(self, table: TableDef) -> None:
        """Add a table defined at run time (a custom kind's), or take its new columns."""
        with self._lock:
            if self._tables.get(table.name) == table:
                return
            self._tables = {**self._tables, table.name: table}
            self._filled.pop(table.name, None)  # registered afresh on its next use
            self._by_name.discard(table.name)

    # -- what a query reads ---------------------------------------------------------------------

    def _tables_under(self, name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        """The warehouse tables a table or view reads, directly or through other views."""
        if name in self._tables:
            return frozenset({name})
        view = self._views.get(name)
        if view is None or name in seen:
            return frozenset()
        cached = self._closure.get(name)
        if cached is None:
            out: set[str] = set()
            for read in view.reads:
                out |= self._tables_under(read, seen | {name})
            cached = self._closure[name] = frozenset(out)
        return cached

    def _prepare(self, names: Iterable[str]) -> None:
        """Register the tables (as they are now) and create the views that `names` read."""
        wanted = sorted(set(names))
        tables = sorted({t for name in wanted for t in self._tables_under(name)})
        with self._lock:
            for table in tables:
                self._refresh(self._tables[table])
            for name in wanted:
                self._create_view(name)

    def _create_view(self, name: str) -> None:
        view = self._views.get(name)
        if view is None or name in self._created:
            return
        for read in view.reads:  # the catalog's views never read each other in a cycle
            self._create_view(read)
        self._connection.execute(f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS {view.sql}")
        self._created.add(name)

    # -- warehouse tables -------------------------------------------------------------------

    def _glob(self, table: TableDef) -> str:
        template = table.relative_partition_template()
        pattern = re.sub(r"\$\{[a-z_]+\}", "*", template)
        return pattern + "*." + _EXTENSIONS[table.file_format]

    def _refresh(self, table: TableDef) -> None:
        filled = next(iter(self.root.glob(self._glob(table))), None) is not None
        if filled != self._filled.get(table.name):
            self._register(table, filled)

    def _register(self, table: TableDef, filled: bool) -> None:
        name = _quote_ident(table.name)
        if not filled:
            columns = [f"CAST(NULL AS {c.duckdb_type}) AS {_quote_ident(c.name)}" for c in table.columns]
            columns += [f"CAST(NULL AS VARCHAR) AS {_quote_ident(p.name)}" for p in table.partitions]
            columns.append('CAST(NULL AS VARCHAR) AS "$path"')
            self._connection.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(columns)} WHERE false"
            )
        else:
            by_name = table.name in self._by_name
            try:
                self._connection.execute(
                    f"CREATE OR REPLACE VIEW {name} AS {self._source_sql(table, by_name)}"
                )
            except duckdb.Error:
                if by_name or table.file_format != "parquet":
                    raise
                # The file DuckDB binds against lacks a DDL column: read every file's schema.
                self._by_name.add(table.name)
                self._connection.execute(f"CREATE OR REPLACE VIEW {name} AS {self._source_sql(table, True)}")
        self._filled[table.name] = filled

    def _widen(self, tables: frozenset[str], error: duckdb.Error) -> bool:
        """After a read error that files disagreeing on columns explain, read those tables by name.

        True when some table was switched (the query is worth running again).
        """
        message = str(error)
        candidates = [
            self._tables[t]
            for t in sorted(tables)
            if t not in self._by_name and self._filled.get(t) and self._tables[t].file_format == "parquet"
        ]
        # DuckDB names union_by_name when a later file lacks a column; a column of the DDL that
        # "is not found" means the file DuckDB bound against lacks it. A typo is neither.
        missing = _MISSING_COLUMN.search(message) if isinstance(error, duckdb.BinderException) else None
        declared = missing is not None and any(missing[1] == c.name for t in candidates for c in t.columns)
        if "union_by_name" not in message.lower() and not declared:
            return False
        with self._lock:
            for table in candidates:
                self._by_name.add(table.name)
                self._register(table, True)
        return bool(candidates)

    def _source_sql(self, table: TableDef, by_name: bool) -> str:
        path = _quote_text(f"{self.root.as_posix()}/{self._glob(table)}")
        template = table.relative_partition_template()
        hive = [p.name for p in table.partitions if f"{p.name}=${{{p.name}}}" in template]
        options = [f"union_by_name = {'true' if by_name else 'false'}", "filename = true"]
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
        # Files written before a column joined the contract lack it. Read by position, the file
        # DuckDB binds against decides, so a missing column fails the view and the table is read
        # by name (`_register`); read by name, a column that no file has yet reads as NULL (as
        # Athena reads a missing Parquet column) instead of failing.
        present = {c.name for c in table.columns}
        if by_name:
            described = self._connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
            present = {str(row[0]) for row in described}
        select = []
        for column in table.columns:
            # Every column as the DDL declares it (as Athena reads it), whatever a file was written
            # with: decimals keep their precision and scale, so sums stay exact across files, and the
            # view's types never depend on which file DuckDB bound against.
            ident = _quote_ident(column.name)
            if column.name not in present:
                select.append(f"CAST(NULL AS {column.duckdb_type}) AS {ident}")
            else:
                select.append(f"CAST({ident} AS {column.duckdb_type}) AS {ident}")
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
        tree = parse_statement(sql)
        duck_sql = expression_to_duckdb(tree)
        names = referenced_tables(tree)
        tables = frozenset(t for name in names for t in self._tables_under(name))
        started = time.perf_counter()
        try:
            try:
                self._prepare(names)
                table = self._run(duck_sql, params)
            except duckdb.Error as error:
                if not self._widen(tables, error):
                    raise
                self._prepare(names)
                table = self._run(duck_sql, params)
        except duckdb.Error as error:
            message = f"DuckDB could not run the query: {_one_line(error)}"
            raise QueryError(message, reason=str(error)) from error
        return QueryResult(table, self.name, time.perf_counter() - started)

    def _run(self, duck_sql: str, params: Sequence[Param]) -> pa.Table:
        cursor = self._connection.cursor()
        try:
            relation = cursor.sql(duck_sql, params=list(params) if params else None)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        finally:
            cursor.close()
