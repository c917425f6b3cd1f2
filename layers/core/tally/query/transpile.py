"""Athena (Trino) SQL to DuckDB, strictly: what sqlglot cannot carry over faithfully is an error.

sqlglot raises for constructs it knows it cannot express. On top of that this module refuses:
- functions sqlglot does not know (it would pass them through verbatim, with whatever meaning the
  other engine gives the name, or none);
- division unless an operand is visibly not an integer (a double, or a decimal literal such as
  `3600.0`): Trino divides integers to an integer, DuckDB's `/` returns a double, so
  `sum(x) / 3600` would silently differ. The error names the cast to write. (Trino gives a
  decimal quotient the larger scale of its operands, DuckDB a double: they agree to that scale.)
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Not DECIMAL: Trino divides decimals to a decimal of limited scale, DuckDB to a double.
_FLOAT_TYPES = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}


class TranspileError(ValueError):
    """SQL that cannot be run on DuckDB with the meaning it has on Athena."""


def _visibly_fractional(node: exp.Expr) -> bool:
    """True when the expression is a non-integer number whatever its inputs' types."""
    if isinstance(node, exp.Paren):
        return _visibly_fractional(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        # 1e0 is a DOUBLE on both engines, 1.0 a DECIMAL on Trino: neither divides as an integer.
        text = node.this.lower()
        return "e" in text or "." in text
    if isinstance(node, exp.Cast):
        return node.to.this in _FLOAT_TYPES
    if isinstance(node, exp.Div):
        return True  # checked on its own; a checked division is fractional
    if isinstance(node, exp.Avg):
        return True
    if isinstance(node, (exp.Mul, exp.Add, exp.Sub)):
        return _visibly_fractional(node.left) or _visibly_fractional(node.right)
    if isinstance(node, (exp.Sum, exp.Max, exp.Min, exp.Coalesce, exp.Nullif, exp.Abs)):
        return _visibly_fractional(node.this)
    return False


def check_portable(tree: exp.Expr) -> None:
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            raise TranspileError(
                f"function {node.name}() is not known to sqlglot, so its meaning on DuckDB cannot be "
                "checked; use a function both engines share"
            )
        if isinstance(node, exp.Div) and not (
            _visibly_fractional(node.left) or _visibly_fractional(node.right)
        ):
            dividend = exp.Cast(this=node.left.copy(), to=exp.DataType.build("DOUBLE"))
            suggestion = exp.Div(this=dividend, expression=node.right.copy())
            raise TranspileError(
                f"division {node.sql(dialect='trino')!r} may divide integers (Trino truncates, DuckDB "
                f"does not); write {suggestion.sql(dialect='trino')!r}"
            )


def _plain(error: ParseError) -> str:
    """sqlglot's first parse error as one plain line: its message underlines with ANSI codes."""
    if not error.errors:
        return _ANSI.sub("", str(error)).replace("\n", " ")
    first = error.errors[0]
    near = str(first.get("highlight") or "").strip()
    where = f" at line {first.get('line')}, column {first.get('col')}"
    return f"{first.get('description')}{where}" + (f", near {near!r}" if near else "")


def parse_trino(sql: str) -> list[exp.Expr]:
    try:
        statements = sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE)
    except ParseError as error:
        raise TranspileError(f"not valid Athena SQL: {_plain(error)}") from error
    return [s for s in statements if s is not None]


def parse_statement(sql: str) -> exp.Expr:
    """Exactly one Trino statement, parsed, or TranspileError."""
    statements = parse_trino(sql)
    if len(statements) != 1:
        raise TranspileError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


def to_duckdb(sql: str) -> str:
    """One Trino statement as DuckDB SQL, or TranspileError."""
    return expression_to_duckdb(parse_statement(sql))


def expression_to_duckdb(tree: exp.Expr) -> str:
    check_portable(tree)
    try:
        out = tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise TranspileError(f"sqlglot cannot express this on DuckDB: {error}") from error
    try:
        sqlglot.parse_one(out, read="duckdb")
    except ParseError as error:  # pragma: no cover - a sqlglot bug, kept as a guard
        raise TranspileError(f"transpiled SQL does not parse on DuckDB: {error}") from error
    return out
