"""Warehouse SQL: a profile compiled to one query that scores a table where the CRM lives.

The query is written once in DuckDB's dialect from portable pieces (CASE, COALESCE, LOWER,
TRIM, STRPOS, ||, SUBSTR) and translated by sqlglot to Snowflake, BigQuery, PostgreSQL and
Spark SQL. It gives exactly the app's scores and tiers: the same trait conditions, the same
score arithmetic (an integer sum times the same double), the same tier lines (for a target mix,
the lines solved on the dataset the profile was scored on).

The input table has one column per trait column, named by the trait's role (`industry`,
`employees`, `technologies`, ...) or, for other columns, by `column_name(header)`; numbers
numeric, booleans boolean, technologies one ';'-separated string. `input_columns(profile)`
lists them.
"""

from __future__ import annotations

import re

import sqlglot

from .profile import Profile, Trait, normalise_header
from .clean import quote_ident
from .scoring import flag_piece, reason_piece, reason_traits

DIALECTS = {"duckdb": "duckdb", "snowflake": "snowflake", "bigquery": "bigquery", "postgres": "postgres",
            "spark": "spark"}
SEPARATOR = " · "


class SqlError(ValueError):
    pass


def column_name(trait: Trait) -> str:
    """The warehouse column a trait reads: its role, or its header as snake_case."""
    if trait.role:
        return trait.role
    name = re.sub(r"[^a-z0-9]+", "_", normalise_header(trait.column or "")).strip("_")
    return name or "column"


def input_columns(profile: Profile) -> dict[str, str]:
    """{warehouse column: what it must hold} for the profile's traits."""
    out = {}
    for t in profile.traits:
        kind = {"in_set": "text", "range": "number", "contains_any": "';'-separated text",
                "is_true": "boolean", "is_false": "boolean", "missing": "any"}[t.rule]
        out.setdefault(column_name(t), kind)
    return out


def _comment(text) -> str:
    """Text for a `-- ` SQL comment: on one line, so a newline in a name cannot end the comment."""
    return " ".join(str(text).split())


def _lit(value) -> str:
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    return "'" + str(value).replace("'", "''") + "'"


def condition(trait: Trait) -> str:
    """The trait's match as a portable boolean that is never NULL."""
    col = quote_ident(column_name(trait))
    if trait.rule == "in_set":
        values = ", ".join(_lit(str(v).strip().lower()) for v in trait.values)
        expr = f"LOWER(TRIM(CAST({col} AS VARCHAR))) IN ({values})"
    elif trait.rule == "contains_any":
        hay = f"(';' || LOWER(CAST({col} AS VARCHAR)) || ';')"
        expr = " OR ".join(f"STRPOS({hay}, {_lit(';' + str(v).strip().lower() + ';')}) > 0" for v in trait.values)
    elif trait.rule == "range":
        parts = []
        if trait.min is not None:
            parts.append(f"{col} >= {_lit(float(trait.min))}")
        if trait.max is not None:
            parts.append(f"{col} <= {_lit(float(trait.max))}")
        expr = " AND ".join(parts)
    elif trait.rule == "is_true":
        expr = f"{col} = TRUE"
    elif trait.rule == "is_false":
        expr = f"{col} = FALSE"
    else:
        expr = f"{col} IS NULL OR TRIM(CAST({col} AS VARCHAR)) = ''"
    return f"COALESCE(({expr}), FALSE)"


def profile_sql(profile: Profile, thresholds: dict[str, float], table: str = "accounts",
                dialect: str = "duckdb") -> str:
    """One SELECT that adds icp_score, icp_tier, icp_reasons and icp_flags to every row of `table`.

    `thresholds`: the A/B/C lines (ScoreResult.thresholds: the solved ones for a target mix).
    """
    if dialect not in DIALECTS:
        raise SqlError(f"unknown dialect {dialect!r} (one of {', '.join(DIALECTS)})")
    traits = profile.traits
    low = sum(min(t.weight, 0) for t in traits)
    high = sum(max(t.weight, 0) for t in traits)
    ms = [f"m{i}" for i in range(len(traits))]
    match_cols = "\n    ".join(
        f"{condition(t)} AS {m}{',' if i < len(traits) - 1 else ''}  -- {_comment(t.label)}"
        for i, (t, m) in enumerate(zip(traits, ms))) or "TRUE AS m_none"
    total = " + ".join(f"(CASE WHEN {m} THEN {t.weight} ELSE 0 END)" for t, m in zip(traits, ms) if t.weight) or "0"
    if high > low:
        score = f"CAST(({total}) - ({low}) AS DOUBLE) * {_lit(100.0 / (high - low))}"
    else:
        score = "CAST(0 AS DOUBLE)"
    disq = [f"NOT {m}" for t, m in zip(traits, ms) if t.trait_class == "must_have"]
    disq += [m for t, m in zip(traits, ms) if t.trait_class == "stay_away" and t.disqualify]
    tier_lines = []
    for k in ("A", "B", "C"):
        v = thresholds[k]
        if v != float("inf"):
            tier_lines.append(f"WHEN icp_score >= {_lit(float(v))} THEN '{k}'")
    tier = ("CASE " + (f"WHEN {' OR '.join(disq)} THEN 'Disqualified' " if disq else "")
            + " ".join(tier_lines) + " ELSE 'D' END")
    # the reason and flag texts are the app's own (scoring.reason_piece / flag_piece), as literals
    pieces = [f"CASE WHEN {ms[i]} THEN {_lit(SEPARATOR + reason_piece(traits[i]))} ELSE '' END"
              for i in reason_traits(traits)]
    reasons = f"SUBSTR({' || '.join(pieces)}, {len(SEPARATOR) + 1})" if pieces else "''"
    flags = []
    for t, m in zip(traits, ms):
        text = flag_piece(t)
        if text is not None:
            when = f"NOT {m}" if t.trait_class == "must_have" else m
            flags.append(f"CASE WHEN {when} THEN {_lit(SEPARATOR + text)} ELSE '' END")
    flag_sql = f"SUBSTR({' || '.join(flags)}, {len(SEPARATOR) + 1})" if flags else "''"
    sql = f"""WITH matched AS (
  SELECT
    t.*,
    {match_cols}
  FROM {_table(table)} AS t
),
scored AS (
  SELECT matched.*, {score} AS icp_score FROM matched
)
SELECT
  scored.*,
  {tier} AS icp_tier,
  {reasons} AS icp_reasons,
  {flag_sql} AS icp_flags
FROM scored"""
    header = (f"-- ICP profile: {_comment(profile.name)}\n-- score = 100 * (sum of matched weights - ({low})) / ({high} - ({low}))\n"
              f"-- tier lines: " + ", ".join(f"{k} >= {v:g}" for k, v in thresholds.items()) + "\n")
    if dialect == "duckdb":
        return header + sql
    try:
        out = sqlglot.transpile(sql, read="duckdb", write=DIALECTS[dialect], pretty=True)[0]
    except sqlglot.errors.SqlglotError as exc:  # pragma: no cover - the generated SQL is fixed
        raise SqlError(f"could not translate to {dialect}: {exc}") from None
    return header + out


def _table(name: str) -> str:
    """A table reference: dotted parts quoted one by one (db.schema.table)."""
    if not name or not re.fullmatch(r"[A-Za-z0-9_.\-$ ]+", name):
        raise SqlError(f"invalid table name {name!r}")
    return ".".join(quote_ident(p) for p in name.split("."))


def dbt_model(profile: Profile, thresholds: dict[str, float], source: str = "ref('accounts')") -> str:
    """The same query as a dbt model file (the input is a dbt ref/source)."""
    body = profile_sql(profile, thresholds, table="__DBT_SOURCE__", dialect="duckdb")
    # dbt renders the whole file with Jinja: every "{" from labels, values or column names is written
    # as {{ '{' }}, which renders back to "{", so user text can never open a Jinja tag
    body = body.replace("{", "{{ '{' }}").replace('"__DBT_SOURCE__"', "{{ " + source + " }}")
    return "{{ config(materialized='table') }}\n" + body + "\n"


def warehouse_view_sql(profile: Profile, specs, source_table: str = "accounts") -> str:
    """A DuckDB SELECT over the app's clean accounts table shaped like the warehouse input
    (one column per trait column; technologies joined with ';'): used to prove equality."""
    from .profile import find_column

    cols = {}
    for t in profile.traits:
        s = find_column(t, specs)
        if s is None:
            raise SqlError(f"no column for trait {t.label!r}")
        expr = (f"array_to_string(list_transform({quote_ident(s.key)}, lambda x: trim(x)), ';')" if s.kind == "list"
                else quote_ident(s.key))
        cols[column_name(t)] = expr
    select = ", ".join(f"{e} AS {quote_ident(n)}" for n, e in cols.items()) or "1 AS one"
    return f"SELECT row_id, {select} FROM {quote_ident(source_table)}"
