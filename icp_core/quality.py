"""The data-quality report: what was read, what parsed, what did not, and hints.

Per column: rows parsed, NULL (blank or placeholder) and unparseable (text that the
column's rule could not read), with the commonest unparseable examples. Hints point at
likely typos (`technolgy` vs `technology`, only in low-cardinality category columns, never in
names of people or places) and unknown countries; `duplicates` counts account ids and names
that appear on more than one row. Nothing is rewritten. Every check is one pass over the
table or a column's distinct values; values are paired only in columns of few values.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import cast

import duckdb

from .formatting import rows_text
from .roles import ROLES, ColumnSpec, normalise_header
from .sql import fetch_one, quote_ident

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
    rows = fetch_one(con, "SELECT count(*) FROM accounts")[0]
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
    values = fetch_one(con, "SELECT " + (", ".join(exprs) or "0") + " FROM accounts") if exprs else ()
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
            stats = _value_stats(con, dictionaries[s.key])  # counted once, before any pairing
            hints.extend(_typo_hints(con, s, dictionaries[s.key], stats=stats))
            if s.role == "industry":
                hints.extend(_industry_word_hints(con, s, dictionaries[s.key],
                                                  {h["value"] for h in hints if h["key"] == s.key}, stats=stats))
        columns.append(col)
    hints.extend(_scale_hints(con, specs, cols))
    return {
        "source": asdict(info),
        "rows_read": info.rows_read,
        "rows_loaded": int(rows),
        "rows_rejected": info.rows_rejected,
        "rejected_examples": info.rejected_examples,
        "columns": columns,
        "hints": hints,
        "duplicates": duplicate_accounts(con, specs, cols),
        "rollup": rollup,
        "opportunities_source": asdict(opp_info) if opp_info is not None else None,
    }


# A company's annual revenue or a deal's value under these is implausible as the typical value: the
# column is most likely given in thousands or millions (Maven's revenue is in $M: 1,100 means $1.1B)
_SMALL_MONEY = {"annual_revenue": 10_000.0, "arr": 100.0}


def _scale_hints(con: duckdb.DuckDBPyConnection, specs: list[ColumnSpec], cols: set[str]) -> list[dict]:
    """A hint per money column whose median is implausibly small for its unit scale of 1."""
    hints = []
    for s in specs:
        limit = _SMALL_MONEY.get(s.role)
        if limit is None or float(s.scale) != 1.0 or s.key not in cols:
            continue
        median, n = fetch_one(con, f"SELECT median({quote_ident(s.key)}), count(*) FROM accounts "
                                   f"WHERE {quote_ident(s.key)} > 0")
        if median is not None and n >= 5 and median < limit:
            hints.append({"column": s.header, "key": s.key, "kind": "scale", "value": float(median), "rows": int(n),
                          "suggestion": None, "suggestion_rows": None,
                          "message": f"{s.header}: the typical value is {float(median):,.4g}, small for "
                                     f"{ROLES[s.role].label.lower()}; if the column is in thousands or millions, set "
                                     "its Scale under Column mapping"})
    return hints


# Columns whose values are names of people or places: near-twins there are real, different
# values (Fernandez / Hernandez, Wilmington / Wellington), so they get no typo hints.
_PERSON_OR_PLACE_HEADER = re.compile(
    r"name|city|cities|town|ville|stadt|ciudad|cidade|citt|owner|contact|person|surname|vorname|nombre"
    r"|manager|address|street|suburb|county|district|municipal|village|email|phone"
    r"|\b(first|last|given|family|full|rep|agent|user|ort|place|location|zip|postal|postcode|nom|prenom)\b")

# typo hints only in columns of few distinct values: at most this many, and on average some rows each
MAX_TYPO_VALUES = 300
_MIN_ROWS_PER_VALUE = 5
# industry values are compared with INDUSTRY_WORDS only in columns of at most this many values
MAX_INDUSTRY_VALUES = 2000


def _looks_like_person_or_place(header: str) -> bool:
    return bool(_PERSON_OR_PLACE_HEADER.search(normalise_header(header or "")))


def _value_stats(con, dictionary: str) -> tuple[int, int]:
    """(distinct clean values, rows with a clean value) of a dictionary table: one linear pass."""
    d, r = con.execute(f"SELECT count(DISTINCT v), coalesce(sum(n) FILTER (WHERE v IS NOT NULL), 0) "
                       f"FROM {dictionary}").fetchone()
    return int(d), int(r)


def typo_check_applies(s: ColumnSpec, distinct: int, rows: int, max_values: int = MAX_TYPO_VALUES) -> bool:
    """Whether a column is a low-cardinality category worth checking for typos.

    Not for columns named like people or places (generic columns only: a semantic role such as
    industry says what the column is), not for more than `max_values` distinct values, and not
    when values are many relative to rows (names, cities, free text).
    """
    if distinct < 2 or distinct > max_values:
        return False
    if ROLES[s.role].group == "generic" and _looks_like_person_or_place(s.header):
        return False
    return distinct * _MIN_ROWS_PER_VALUE <= rows + 50


def _typo_hints(con, s: ColumnSpec, dictionary: str, max_values: int = MAX_TYPO_VALUES,
                stats: tuple[int, int] | None = None) -> list[dict]:
    """Near-identical values in a low-cardinality category column: the rarer is likely a typo.

    The column's distinct values are counted first; columns that fail `typo_check_applies`
    are not paired at all. Pairs are only formed between values with the same first letter,
    so the check is cheap. A value is flagged when it is the same text in another case or
    punctuation ('NEW YORK' vs 'New York'), or when it is one or two letters from a value that
    is clearly more common ('technolgy' 3 rows vs 'technology' 120 rows). Two common values a
    letter apart are both real ('Product B13' / 'Product D13').
    """
    distinct, rows = stats if stats is not None else _value_stats(con, dictionary)
    if not typo_check_applies(s, distinct, rows, max_values):
        return []
    words = _industry_forms() if s.role == "industry" else {}
    pairs = con.execute(f"""
        WITH v AS (SELECT value, n, lower(regexp_replace(value, '[^[:alnum:]]', '', 'g')) AS norm
                   FROM (SELECT v AS value, sum(n) AS n FROM {dictionary} WHERE v IS NOT NULL GROUP BY ALL))
        SELECT a.value, a.n, b.value, b.n, a.norm FROM v a JOIN v b
          ON left(a.norm, 1) = left(b.norm, 1) AND a.value <> b.value
             AND (a.n < b.n OR (a.n = b.n AND a.value > b.value))
        WHERE a.norm <> '' AND (
          -- same word in another case or punctuation: 'NEW YORK' vs 'New York'
          a.norm = b.norm
          -- a rare near-twin of a clearly commoner value: 'technolgy' vs 'technology'; not in
          -- codes with digits, where one letter is another product or plan ('Plan B2' / 'Plan C2')
          OR (length(a.value) >= 5 AND NOT regexp_matches(a.value, '[0-9]') AND abs(length(a.value) - length(b.value)) <= 2
              AND a.n * 2 <= b.n AND (a.n <= 3 OR a.n * 10 <= b.n)
              AND damerau_levenshtein(lower(a.value), lower(b.value))
                  <= CASE WHEN length(a.value) >= 9 THEN 2 ELSE 1 END
              AND NOT regexp_matches(b.value, '[0-9]')))
        ORDER BY b.n DESC, a.n DESC, a.value LIMIT 40""").fetchall()
    seen: set[str] = set()
    hints: list[dict] = []
    for rare, rare_n, common, common_n, norm in pairs:
        if rare in seen or len(hints) >= 20:
            continue
        if norm != _norm(common):
            # a valid industry word is not a typo of another one ('semiconductor' / 'semiconductors')
            if norm in words:
                continue
            # nor is a grade or code a letter from another ('Series A' / 'Series B', 'Plan S' / 'Plan M')
            if _differ_in_a_short_token(rare, common):
                continue
        seen.add(rare)
        hints.append({
            "column": s.header, "key": s.key, "kind": "typo", "value": rare, "rows": int(rare_n),
            "suggestion": common, "suggestion_rows": int(common_n),
            "message": f"{s.header}: '{rare}' ({rows_text(rare_n)}) looks like '{common}' ({rows_text(common_n)})",
        })
    return hints


def _differ_in_a_short_token(a: str, b: str) -> bool:
    """Whether two values are the same words but one of at most two characters."""
    ta, tb = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    if len(ta) != len(tb):
        return False
    diff = [(x, y) for x, y in zip(ta, tb, strict=True) if x != y]
    return len(diff) == 1 and min(len(diff[0][0]), len(diff[0][1])) <= 2


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(text).lower())


def _industry_forms() -> dict[str, str]:
    """Every accepted spelling of an industry word (normalised: lower case, letters and digits
    only; singular and plural) -> the word. 'semiconductor', 'health care' and 'e-commerce'
    are all valid."""
    forms: dict[str, str] = {}
    for word in INDUSTRY_WORDS:
        w = _norm(word)
        variants = {w, w + "s", w + "es"}
        if w.endswith("ies"):
            variants.add(w[:-3] + "y")
        if w.endswith("y"):
            variants.add(w[:-1] + "ies")
        if w.endswith("es"):
            variants.add(w[:-2])
        if w.endswith("s"):
            variants.add(w[:-1])
        for v in variants:
            forms.setdefault(v, word)
    return forms


def _industry_word_hints(con, s: ColumnSpec, dictionary: str, already: set[str],
                         stats: tuple[int, int] | None = None) -> list[dict]:
    """Industry values that are no known industry word in any spelling (singular or plural,
    with or without spaces and hyphens: 'semiconductor', 'health care' are valid) but one or two
    letters from one: 'technolgy'. The suggestion is the file's own spelling of the word when the
    file uses it (with its rows), else the known word (suggestion_rows None)."""
    distinct, _rows = stats if stats is not None else _value_stats(con, dictionary)
    if distinct < 1 or distinct > MAX_INDUSTRY_VALUES:
        return []
    forms = _industry_forms()
    rows = con.execute(f"""
        WITH v AS (SELECT value, n, regexp_replace(value, '[^0-9a-z]', '', 'g') AS norm
                   FROM (SELECT lower(v) AS value, sum(n) AS n FROM {dictionary}
                         WHERE v IS NOT NULL GROUP BY ALL)),
             f AS (SELECT unnest(?::VARCHAR[]) AS form, unnest(?::VARCHAR[]) AS word),
             w AS (SELECT DISTINCT word FROM f),
             -- industry words the file uses, with the file's commonest spelling of each
             present AS (SELECT f.word, arg_max(v.value, v.n) AS value, sum(v.n) AS n
                         FROM v JOIN f ON f.form = v.norm GROUP BY f.word),
             cand AS (SELECT v.value, v.n, arg_min(w.word, damerau_levenshtein(v.value, w.word)) AS word
                      FROM v, w
                      WHERE v.norm NOT IN (SELECT form FROM f) AND length(v.value) >= 5
                        AND abs(length(v.value) - length(w.word)) <= 2
                        AND damerau_levenshtein(v.value, w.word)
                            <= CASE WHEN length(v.value) >= 9 THEN 2 ELSE 1 END
                      GROUP BY v.value, v.n)
        SELECT c.value, c.n, coalesce(p.value, c.word), p.n FROM cand c LEFT JOIN present p USING (word)
        ORDER BY c.n DESC, c.value LIMIT 20""", [list(forms), list(forms.values())]).fetchall()
    out = []
    for value, n, word, word_n in rows:
        if value in already:
            continue
        seen = f" ({rows_text(word_n)})" if word_n is not None else ""
        out.append({
            "column": s.header, "key": s.key, "kind": "typo", "value": value, "rows": int(n),
            "suggestion": word, "suggestion_rows": int(word_n) if word_n is not None else None,
            "message": f"{s.header}: '{value}' ({rows_text(n)}) looks like a misspelling of '{word}'{seen}",
        })
    return out


_DUPLICATE_ROLES = ("account_id", "account_name")


def duplicate_accounts(con, specs: list[ColumnSpec], cols: set[str]) -> list[dict]:
    """Account ids and names that appear on more than one row of `accounts` (clean values,
    i.e. the uploaded text without blanks and placeholders), with counts: one grouping pass
    per column."""
    out = []
    for s in specs:
        if s.role not in _DUPLICATE_ROLES or s.source != "accounts" or s.key not in cols:
            continue
        col = quote_ident(s.key)
        rows = con.execute(f"""
            WITH d AS (SELECT {col} AS value, count(*) AS n FROM accounts
                       WHERE {col} IS NOT NULL GROUP BY ALL HAVING count(*) > 1)
            SELECT value, n, count(*) OVER () AS distinct_values, sum(n - 1) OVER () AS extra
            FROM d ORDER BY n DESC, value LIMIT 5""").fetchall()
        if not rows:
            continue
        values, extra = int(rows[0][2]), int(rows[0][3])
        examples = [{"value": str(v), "rows": int(n)} for v, n, _, _ in rows]
        top = examples[0]
        verb = "value appears" if values == 1 else "values appear"
        message = (f"{s.header}: {values:,} {verb} more than once ({extra:,} extra row{'s' if extra != 1 else ''}), "
                   f"e.g. '{top['value']}' ({rows_text(cast(int, top['rows']))})")
        out.append({"column": s.header, "key": s.key, "role": s.role, "duplicated_values": values,
                    "extra_rows": extra, "examples": examples, "message": message})
    return out


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
                "message": f"{s.header}: '{ex['value']}' ({rows_text(ex['rows'])}) is not a known country; did you mean '{best[0]}'?",
            })
    return hints
