"""Athena (Trino) SQL to DuckDB, strictly: what sqlglot cannot carry over faithfully is an error.

sqlglot raises for constructs it knows it cannot express. On top of that this module refuses:
- functions sqlglot does not know (it would pass them through verbatim, with whatever meaning the
  other engine gives the name, or none);
- division unless an operand is visibly a double: Trino divides integers to an integer and
  decimals to a decimal of limited scale, DuckDB's `/` returns a double, so `sum(x) / 3600` or
  `x / 3600.0` would silently differ. Cast the dividend to DOUBLE.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

# Not DECIMAL: Trino divides decimals to a decimal of limited scale, DuckDB to a double.
_FLOAT_TYPES = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}


class TranspileError(ValueError):
    """SQL that cannot be run on DuckDB with the meaning it has on Athena."""


def _visibly_fractional(node: exp.Expr) -> bool:
    """True when the expression is a non-integer number whatever its inputs' types."""
    if isinstance(node, exp.Paren):
        return _visibly_fractional(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        # 1e0 is a DOUBLE on both engines; 1.0 is a DECIMAL on Trino, so it does not count.
        return "e" in node.this.lower()
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
            raise TranspileError(
                f"division {node.sql(dialect='trino')!r} may divide integers (Trino truncates, DuckDB "
                "does not); cast an operand to DOUBLE"
            )


def parse_trino(sql: str) -> list[exp.Expr]:
    try:
        statements = sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE)
    except ParseError as error:
        raise TranspileError(f"not valid Athena SQL: {error}") from error
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
