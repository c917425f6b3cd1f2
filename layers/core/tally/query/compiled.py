"""The SQL files of `athena_queries/` compiled for DuckDB once, and kept until a file changes.

Parsing and transpiling the DDL and views with sqlglot costs most of a second, which a command
like `tally query "SELECT 1"` would pay on every start. The compiled form (table definitions, each
view's DuckDB SQL and the names it reads) depends only on the files' text and the sqlglot version,
so it is kept in memory per process and, given a folder, in a JSON file named by a hash of both:
a changed file or a new sqlglot gives a new name, so a stale catalog is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot

from tally.query.ddl import Column, TableDef, table_defs
from tally.query.sql_files import list_files, referenced_tables, sql_root, view_body, views_in_order
from tally.query.transpile import TranspileError, expression_to_duckdb

#: Bumped when the compiled form or the translation rules change (the hash then changes too).
FORMAT = 1


@dataclass(frozen=True)
class CompiledView:
    name: str
    sql: str  # DuckDB SQL of the view's SELECT
    reads: tuple[str, ...]  # tables and views it reads, by name


@dataclass(frozen=True)
class Catalog:
    tables: dict[str, TableDef]
    views: dict[str, CompiledView]  # in dependency order (each after the views it reads)


def catalog_key(root: Path | None = None) -> str:
    """A hash of every table and view file's name and text, the sqlglot version and FORMAT."""
    digest = hashlib.sha256(f"{FORMAT}\0{getattr(sqlglot, '__version__', '')}\0".encode())
    for section in ("tables", "views"):
        for item in list_files(section, root):
            digest.update(f"{section}/{item.name}\0".encode())
            digest.update(item.path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:32]


def _compile(root: Path | None) -> Catalog:
    tables = table_defs(root)
    views: dict[str, CompiledView] = {}
    for item in views_in_order(root):
        body = view_body(item)
        try:
            sql = expression_to_duckdb(body)
        except TranspileError as error:
            raise TranspileError(f"view {item.name}: {error}") from error
        views[item.name] = CompiledView(item.name, sql, tuple(sorted(referenced_tables(body))))
    return Catalog(tables, views)


def _to_json(catalog: Catalog) -> dict[str, Any]:
    def columns(items: tuple[Column, ...]) -> list[list[str]]:
        return [[c.name, c.hive_type, c.duckdb_type] for c in items]

    return {
        "tables": [
            {
                "name": t.name,
                "columns": columns(t.columns),
                "partitions": columns(t.partitions),
                "file_format": t.file_format,
                "location": t.location,
                "properties": t.properties,
            }
            for t in catalog.tables.values()
        ],
        "views": [{"name": v.name, "sql": v.sql, "reads": list(v.reads)} for v in catalog.views.values()],
    }


def _from_json(data: dict[str, Any]) -> Catalog:
    def columns(items: list[list[str]]) -> tuple[Column, ...]:
        return tuple(Column(name, hive, duck) for name, hive, duck in items)

    tables = {
        t["name"]: TableDef(
            t["name"],
            columns(t["columns"]),
            columns(t["partitions"]),
            t["file_format"],
            t["location"],
            dict(t["properties"]),
        )
        for t in data["tables"]
    }
    views = {v["name"]: CompiledView(v["name"], v["sql"], tuple(v["reads"])) for v in data["views"]}
    return Catalog(tables, views)


@cache
def _in_memory(root: Path, key: str) -> Catalog:
    return _compile(root)


def compiled_catalog(root: Path | None = None, cache_dir: Path | None = None) -> Catalog:
    """The compiled catalog of `root` (default: the project's athena_queries), cached by content.

    With `cache_dir` the catalog is also read from and written to `cache_dir/sql-<hash>.json`;
    a cache file that cannot be read is ignored and rewritten.
    """
    folder = root or sql_root()
    key = catalog_key(folder)
    if cache_dir is None:
        return _in_memory(folder, key)
    path = cache_dir / f"sql-{key}.json"
    try:
        return _from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    catalog = _in_memory(folder, key)
    _save(path, _to_json(catalog))
    return catalog


def _save(path: Path, data: dict[str, Any]) -> None:
    """Written whole, then renamed: a concurrent reader sees no file or a complete one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sql-", suffix=".tmp", dir=path.parent)
    except OSError:
        return  # a read-only home still answers queries, only without the saved catalog
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        Path(tmp).replace(path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
