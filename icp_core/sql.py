"""SQL text from user values: the one place identifiers and literals are quoted.

Every column name and value that comes from a user's file or profile reaches SQL through
`quote_ident` / `sql_literal` (text) or `ident` / `literal` (sqlglot expressions, for SQL that
is rendered for several dialects). Values that vary per call are bound as parameters instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sqlglot import exp

if TYPE_CHECKING:
    import duckdb


def quote_ident(name: str) -> str:
    """A column/table identifier for DuckDB, always quoted ("" doubles an embedded quote)."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(value) -> str:
    """A DuckDB literal: text quoted with '' escaping, booleans, finite numbers via repr."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            raise ValueError("non-finite number in SQL")
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values) -> str:
    """Text values as a comma-separated list of literals (for IN (...) and [...])."""
    return ", ".join(sql_literal(str(v)) for v in values)


def ident(name: str) -> exp.Identifier:
    """A quoted identifier as a sqlglot expression (rendered with each dialect's quotes)."""
    return exp.to_identifier(str(name), quoted=True)


def column(name: str) -> exp.Column:
    """A quoted column reference as a sqlglot expression."""
    return exp.Column(this=ident(name))


def literal(value) -> exp.Expression:
    """A value as a sqlglot expression that means the same in every dialect: text as a string
    literal, booleans as TRUE/FALSE, numbers as an exact double (CAST('0.1' AS DOUBLE): a bare
    0.1 is NUMERIC in PostgreSQL and DECIMAL in Spark, which would round differently)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            raise ValueError("non-finite number in SQL")
        return exp.Cast(this=exp.Literal.string(repr(float(value))), to=exp.DataType.build("DOUBLE"))
    return exp.Literal.string(str(value))


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...]:
    """The one row of a query that always returns a row (count(*), aggregates without GROUP BY).

    DuckDB types `fetchone()` as `tuple | None`; a missing row here is a bug, so it raises."""
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"query returned no row: {sql[:200]}")
    return row
