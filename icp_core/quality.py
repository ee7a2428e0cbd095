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


def _parsed_filter(spec: ColumnSpec, value: str) -> str:
    return f"len({value}) > 0" if spec.kind == "list" else f"{value} IS NOT NULL"


def _dictionary_counts(con, s: ColumnSpec, table: str) -> tuple[int, int, int, list[dict]]:
    """(non-empty rows, parsed rows, band rows, commonest unparseable values) from a dictionary."""
    parsed = _parsed_filter(s, "v")
    band = "sum(n) FILTER (WHERE is_band)" if s.kind == "number" else "0"
    nonnull, ok, bands = con.execute(f"""
        SELECT coalesce(sum(n) FILTER (WHERE icp_nullify(s) IS NOT NULL), 0),
               coalesce(sum(n) FILTER (WHERE icp_nullify(s) IS NOT NULL AND {parsed}), 0),
               coalesce({band}, 0)
        FROM {table}""").fetchone()
    examples = con.execute(f"""
        SELECT s, n FROM {table} WHERE icp_nullify(s) IS NOT NULL AND NOT coalesce({parsed}, FALSE)
        ORDER BY n DESC, s LIMIT 5""").fetchall()
    return int(nonnull), int(ok), int(bands), [{"value": v, "rows": int(n)} for v, n in examples]


def _column_report(s: ColumnSpec, rows: int, nonnull: int, parsed: int, bands: int,
                   examples: list[dict], derived: bool = False) -> dict:
    report = {
        "key": s.key, "header": s.header, "role": s.role, "role_label": ROLES[s.role].label,
        "kind": s.kind, "rows": rows, "parsed": parsed, "null": rows - nonnull,
        "unparseable": nonnull - parsed, "bands": bands,
        "parsed_share": parsed / rows if rows else 0.0,
        "null_share": (rows - nonnull) / rows if rows else 0.0,
        "unparseable_share": (nonnull - parsed) / rows if rows else 0.0,
        "unparseable_examples": examples,
    }
    if derived:
        report["derived"] = True
    return report


def assess_quality(con: duckdb.DuckDBPyConnection, specs: list[ColumnSpec], info,
                   rollup: dict | None = None, opp_info=None,
                   dictionaries: dict[str, str] | None = None) -> dict:
    """Build the quality report for table `accounts` (see module docstring).

    `dictionaries` maps a column key to its table of distinct raw values (s, n, v) made
    while cleaning; counts come from there. Other columns are counted on `accounts`.
    """
    dictionaries = dictionaries or {}
    rows = con.execute("SELECT count(*) FROM accounts").fetchone()[0]
    direct = [s for s in specs if s.role != "ignore" and s.key not in dictionaries]
    cols = {c[0] for c in con.execute("SELECT * FROM accounts LIMIT 0").description}
    exprs = []
    for s in direct:
        exprs.append(f"count({quote_ident(s.key)})")
        raw = s.key + "__raw"
        if raw in cols and s.kind not in ("id", "text"):
            exprs.append(f"count(icp_nullify({quote_ident(raw)}))")
        else:  # ids and free text: the clean value is the non-blank raw text, so the counts agree
            exprs.append(f"count({quote_ident(s.key)})")
    values = con.execute("SELECT " + (", ".join(exprs) or "0") + " FROM accounts").fetchone() if exprs else ()
    counted = {s.key: (values[2 * i], values[2 * i + 1]) for i, s in enumerate(direct)}
    columns = []
    hints: list[dict] = []
    for s in specs:
        if s.role == "ignore":
            continue
        if s.key in dictionaries:
            nonnull, parsed, bands, examples = _dictionary_counts(con, s, dictionaries[s.key])
        else:  # ids, free text, rolled-up values and very wide files: counted on the table
            parsed, nonnull = (int(x) for x in counted[s.key])
            nonnull = max(nonnull, parsed)
            bands, examples = 0, []
        col = _column_report(s, rows, nonnull, parsed, bands, examples, derived=s.source != "accounts")
        if examples and s.kind == "country":
            hints.extend(_country_hints(con, s, examples))
        if s.kind in _TYPO_KINDS and s.key in dictionaries:
            hints.extend(_typo_hints(con, s, dictionaries[s.key]))
        if s.role == "industry" and s.key in dictionaries:
            hints.extend(_industry_word_hints(con, s, dictionaries[s.key],
                                              {h["value"] for h in hints if h["key"] == s.key}))
        columns.append(col)
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


def _typo_hints(con, s: ColumnSpec, dictionary: str, max_values: int = 300) -> list[dict]:
    """Near-identical values in a column of few distinct values: the rarer is likely a typo.

    Columns with more than `max_values` distinct values (cities, names) are not checked:
    near-twins there are mostly real, different places and names.
    """
    pairs = con.execute(f"""
        WITH v AS (SELECT v AS value, sum(n) AS n FROM {dictionary} WHERE v IS NOT NULL GROUP BY ALL),
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


def _industry_word_hints(con, s: ColumnSpec, dictionary: str, already: set[str]) -> list[dict]:
    """Industry values that are not a known industry word but one or two letters from one."""
    rows = con.execute(f"""
        WITH v AS (SELECT lower(v) AS value, sum(n) AS n FROM {dictionary}
                   WHERE v IS NOT NULL GROUP BY ALL),
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
