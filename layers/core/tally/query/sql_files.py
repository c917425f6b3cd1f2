"""The SQL files of `athena_queries/`: where they are, what they define, and in which order.

The folder is found from `TALLY_SQL_DIR`, else as the `athena_queries` package through
`importlib.resources`: installed from the wheel, mapped to the checkout by an editable install, or
shipped by the Lambda layer at `python/athena_queries`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlglot loads when SQL is first parsed: the API's cold start does not need it
    from sqlglot import exp

SECTIONS = ("tables", "views", "reports")


class SqlFileError(ValueError):
    """A SQL file is missing, does not parse, or does not define what its name says."""


@cache
def sql_root() -> Path:
    configured = os.environ.get("TALLY_SQL_DIR")
    if configured:
        return Path(configured)
    try:
        package = resources.files("athena_queries")
    except ModuleNotFoundError as error:
        raise SqlFileError("no athena_queries package installed: set TALLY_SQL_DIR to its path") from error
    # The files are globbed and read as paths: the package must be a folder, not inside an archive.
    if not isinstance(package, Path) or not (package / "views").is_dir():
        raise SqlFileError(f"athena_queries at {package} is not a folder of SQL: set TALLY_SQL_DIR")
    return package


@dataclass(frozen=True)
class SqlFile:
    section: str
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def list_files(section: str, root: Path | None = None) -> list[SqlFile]:
    if section not in SECTIONS:
        raise SqlFileError(f"unknown section {section!r}")
    folder = (root or sql_root()) / section
    return [SqlFile(section, p.stem, p) for p in sorted(folder.glob("*.sql"))]


def get_file(section: str, name: str, root: Path | None = None) -> SqlFile:
    for item in list_files(section, root):
        if item.name == name:
            return item
    raise SqlFileError(f"no {section} SQL named {name!r}")


def parse_athena(sql: str) -> exp.Expr:
    """One statement in the Athena dialect (Hive DDL or Trino DML), or SqlFileError."""
    import sqlglot

    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except sqlglot.errors.ParseError as error:
        raise SqlFileError(f"not valid Athena SQL: {error}") from error
    if len(statements) != 1:
        raise SqlFileError(f"expected one statement, found {len(statements)}")
    return statements[0]


def view_body(item: SqlFile) -> exp.Expr:
    """The SELECT of a `CREATE OR REPLACE VIEW <file name> AS ...` file."""
    from sqlglot import exp

    statement = parse_athena(item.text)
    if not isinstance(statement, exp.Create) or statement.kind != "VIEW":
        raise SqlFileError(f"{item.path.name}: expected CREATE OR REPLACE VIEW")
    if not statement.args.get("replace"):
        raise SqlFileError(f"{item.path.name}: use CREATE OR REPLACE VIEW so a redeploy updates it")
    name = statement.this.name if isinstance(statement.this, exp.Table) else statement.this.this.name
    if name != item.name:
        raise SqlFileError(f"{item.path.name}: defines view {name!r}, not {item.name!r}")
    body = statement.expression
    if not isinstance(body, exp.Expr):
        raise SqlFileError(f"{item.path.name}: view has no query")
    return body


def referenced_tables(query: exp.Expr) -> set[str]:
    """Names of the tables and views a query reads (CTE names excluded)."""
    from sqlglot import exp

    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    return {t.name for t in query.find_all(exp.Table) if t.name and t.name not in ctes}


def views_in_order(root: Path | None = None) -> list[SqlFile]:
    """Every view file, each after the views it reads (for deployment and for DuckDB)."""
    files = {f.name: f for f in list_files("views", root)}
    needs = {name: referenced_tables(view_body(f)) & files.keys() for name, f in files.items()}
    ordered: list[SqlFile] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise SqlFileError(f"views depend on each other in a cycle through {name!r}")
        visiting.add(name)
        for dependency in sorted(needs[name]):
            visit(dependency)
        visiting.discard(name)
        done.add(name)
        ordered.append(files[name])

    for name in sorted(files):
        visit(name)
    return ordered
