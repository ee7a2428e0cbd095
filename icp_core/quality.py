"""The data-quality report: what was read, what parsed, what did not, and hints.

Per column: rows parsed, NULL (blank or placeholder) and unparseable (text that the
column's rule could not read), with the commonest unparseable examples. Hints point at
likely typos (`technolgy` vs `technology`) and unknown countries; nothing is rewritten.
"""

from __future__ import annotations

from dataclasses import asdict

import duckdb

from .clean import quote_ident
from .roles import ROLES, ColumnSpec

_TYPO_KINDS = ("category", "category_folded")

# Common industry words: an industry value one or two letters away from one is flagged.
INDUSTRY_WORDS = (
    "technology", "software", "finance", "financial services", "fintech", "banking", "insurance",
    "healthcare", "health care", "medical", "pharmaceuticals", "biotechnology", "retail",
    "e-commerce", "ecommerce", "manufacturing", "education", "edtech", "government",
    "telecommunications", "telecom", "entertainment", "media", "marketing", "advertising",
    "logistics", "transportation", "energy", "utilities", "real estate", "construction",
    "hospitality", "travel", "automotive", "agriculture", "consulting", "legal", "nonprofit",
    "non-profit", "saas", "security", "cybersecurity", "gaming", "food and beverage",
    "aerospace", "chemicals", "mining", "hardware", "semiconductors", "devtools",
)


def _parsed_sql(spec: ColumnSpec) -> str:
    col = quote_ident(spec.key)
    if spec.kind == "list":
        return f"count(CASE WHEN len({col}) > 0 THEN 1 END)"
    return f"count({col})"


def assess_quality(con: duckdb.DuckDBPyConnection, specs: list[ColumnSpec], info,
                   rollup: dict | None = None, opp_info=None) -> dict:
    """Build the quality report for table `accounts` (see module docstring)."""
    rows = con.execute("SELECT count(*) FROM accounts").fetchone()[0]
    measured = [s for s in specs if s.source == "accounts" and s.role != "ignore"]
    aggregates = ["count(*)"]
    for s in measured:
        raw = quote_ident(s.key + "__raw")
        aggregates.append(f"count(icp_nullify({raw}))")
        aggregates.append(_parsed_sql(s))
        aggregates.append(f"count({quote_ident(s.key + '__band')})" if s.kind == "number" else "0")
    counts = con.execute(f"SELECT {', '.join(aggregates)} FROM accounts").fetchone()
    columns = []
    hints: list[dict] = []
    for i, s in enumerate(measured):
        nonnull, parsed, bands = counts[1 + 3 * i: 4 + 3 * i]
        unparseable = nonnull - parsed
        col = {
            "key": s.key, "header": s.header, "role": s.role, "role_label": ROLES[s.role].label,
            "kind": s.kind, "rows": rows, "parsed": int(parsed), "null": int(rows - nonnull),
            "unparseable": int(unparseable), "bands": int(bands),
            "parsed_share": parsed / rows if rows else 0.0,
            "null_share": (rows - nonnull) / rows if rows else 0.0,
            "unparseable_share": unparseable / rows if rows else 0.0,
            "unparseable_examples": [],
        }
        if unparseable:
            col["unparseable_examples"] = _unparseable_examples(con, s)
            if s.kind == "country":
                hints.extend(_country_hints(con, s, col["unparseable_examples"]))
        if s.kind in _TYPO_KINDS:
            hints.extend(_typo_hints(con, s))
        if s.role == "industry":
            hints.extend(_industry_word_hints(con, s, {h["value"] for h in hints if h["key"] == s.key}))
        columns.append(col)
    for s in specs:
        if s.source == "opportunities":
            nonnull = con.execute(f"SELECT count({quote_ident(s.key)}) FROM accounts").fetchone()[0]
            columns.append({
                "key": s.key, "header": s.header, "role": s.role, "role_label": ROLES[s.role].label,
                "kind": s.kind, "rows": rows, "parsed": int(nonnull), "null": int(rows - nonnull),
                "unparseable": 0, "bands": 0, "parsed_share": nonnull / rows if rows else 0.0,
                "null_share": (rows - nonnull) / rows if rows else 0.0, "unparseable_share": 0.0,
                "unparseable_examples": [], "derived": True,
            })
    return {
        "source": asdict(info),
        "rows_read": info.rows_read,
        "rows_loaded": int(rows),
        "rows_rejected": info.rows_rejected,
        "rejected_examples": info.rejected_examples,
        "columns": columns,
        "hints": hints,
        "rollup": rollup,
        "opportunities_source": asdict(opp_info) if opp_info is not None else None,
    }


def _unparseable_examples(con, s: ColumnSpec, limit: int = 5) -> list[dict]:
    raw = quote_ident(s.key + "__raw")
    clean = quote_ident(s.key)
    failed = f"len({clean}) = 0 OR {clean} IS NULL" if s.kind == "list" else f"{clean} IS NULL"
    rows = con.execute(f"""
        SELECT {raw} AS value, count(*) AS n FROM accounts
        WHERE icp_nullify({raw}) IS NOT NULL AND ({failed})
        GROUP BY ALL ORDER BY n DESC, value LIMIT {int(limit)}""").fetchall()
    return [{"value": v, "rows": int(n)} for v, n in rows]


def _typo_hints(con, s: ColumnSpec, max_values: int = 300) -> list[dict]:
    """Near-identical values in a column of few distinct values: the rarer is likely a typo.

    Columns with more than `max_values` distinct values (cities, names) are not checked:
    near-twins there are mostly real, different places and names.
    """
    col = quote_ident(s.key)
    pairs = con.execute(f"""
        WITH v AS (
            SELECT {col} AS value, count(*) AS n FROM accounts WHERE {col} IS NOT NULL
            GROUP BY ALL),
        small AS (SELECT * FROM v WHERE (SELECT count(*) FROM v) <= {int(max_values)})
        SELECT a.value, a.n, b.value, b.n FROM small a JOIN small b
          ON a.value <> b.value AND (a.n < b.n OR (a.n = b.n AND a.value > b.value))
        WHERE
          -- same word in another case or punctuation: 'NEW YORK' vs 'New York'
          lower(regexp_replace(a.value, '[^[:alnum:]]', '', 'g'))
            = lower(regexp_replace(b.value, '[^[:alnum:]]', '', 'g'))
          -- a rare near-twin of a common value: 'technolgy' vs 'technology'
          OR (length(a.value) >= 5 AND a.n * 2 <= b.n
              AND damerau_levenshtein(lower(a.value), lower(b.value)) <= CASE WHEN length(a.value) >= 9 THEN 2 ELSE 1 END
              AND regexp_replace(a.value, '[^0-9]', '', 'g') = regexp_replace(b.value, '[^0-9]', '', 'g'))
        ORDER BY b.n DESC, a.n DESC LIMIT 20""").fetchall()
    seen: set[str] = set()
    hints = []
    for rare, rare_n, common, common_n in pairs:
        if rare in seen:
            continue
        seen.add(rare)
        hints.append({
            "column": s.header, "key": s.key, "kind": "typo", "value": rare, "rows": int(rare_n),
            "suggestion": common, "suggestion_rows": int(common_n),
            "message": f"{s.header}: '{rare}' ({rare_n} rows) looks like '{common}' ({common_n} rows)",
        })
    return hints


def _industry_word_hints(con, s: ColumnSpec, already: set[str]) -> list[dict]:
    """Industry values that are not a known industry word but one or two letters from one."""
    col = quote_ident(s.key)
    rows = con.execute(f"""
        WITH v AS (SELECT lower({col}) AS value, count(*) AS n FROM accounts
                   WHERE {col} IS NOT NULL GROUP BY ALL),
             w AS (SELECT unnest(?::VARCHAR[]) AS word)
        SELECT value, n, arg_min(word, damerau_levenshtein(value, word)) AS word
        FROM v, w
        WHERE value NOT IN (SELECT word FROM w) AND length(value) >= 5
          AND damerau_levenshtein(value, word) <= CASE WHEN length(value) >= 9 THEN 2 ELSE 1 END
        GROUP BY value, n ORDER BY n DESC LIMIT 20""", [list(INDUSTRY_WORDS)]).fetchall()
    return [{
        "column": s.header, "key": s.key, "kind": "typo", "value": value, "rows": int(n),
        "suggestion": word, "suggestion_rows": None,
        "message": f"{s.header}: '{value}' ({n} rows) looks like a misspelling of '{word}'",
    } for value, n, word in rows if value not in already]


def _country_hints(con, s: ColumnSpec, examples: list[dict]) -> list[dict]:
    hints = []
    for ex in examples:
        best = con.execute("""
            SELECT name, jaro_winkler_similarity(lower(name), lower(?)) AS sim
            FROM (SELECT DISTINCT name FROM icp_countries) ORDER BY sim DESC LIMIT 1""",
            [ex["value"]]).fetchone()
        if best and best[1] >= 0.88:
            hints.append({
                "column": s.header, "key": s.key, "kind": "country", "value": ex["value"],
                "rows": ex["rows"], "suggestion": best[0], "suggestion_rows": None,
                "message": f"{s.header}: '{ex['value']}' ({ex['rows']} rows) is not a known country; did you mean '{best[0]}'?",
            })
    return hints
