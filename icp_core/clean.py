"""Parsing rules for messy CRM values, written as DuckDB SQL macros.

Every rule runs inside DuckDB, column at a time, never as a Python loop over rows.
`install_cleaning_macros(con)` defines the macros on a connection; `clean_expression`
returns the SQL expression that turns one raw text column into its clean value for a
given column kind.

Rules (each has a test in tests/test_clean.py):

* placeholders (`Select`, `N/A`, `-`, `#NAME?`, blank, ...) become NULL;
* numbers from text: `$2.5M`, `€1.2m`, `36.9 Million`, `3.5 Billion`, `2,500,000`,
  `2.500.000`, `1 234,5`, `2.10E+07`, `1.1k`, `(1,200)`;
* bands: `1,001-5,000` -> 3000.5 (midpoint, the band text is kept), `10,000+` -> 10000,
  `<50` -> 25, `$1-5M` -> 3,000,000;
* booleans: Yes/No, TRUE/FALSE, 1/0, Y/N, T/F; churn words (churned/active/...);
* deal outcomes: `Closed Won`/`Won` -> won, `Closed Lost`/`Lost` -> lost,
  `Engaging`/`Open`/`Prospecting`/... -> open (open is not lost);
* countries: ISO codes and common spellings to one canonical name (`icp_countries` table);
* categories trimmed and whitespace-collapsed; industry also case-folded;
* technologies split on `;`, `,` or `|` into a list;
* dates in the formats detected per column (`detect_date_formats`).
"""

from __future__ import annotations

import functools
from typing import Any

import duckdb
import pycountry

from .sql import fetch_one, quote_ident, sql_list, sql_literal

# Values that mean "nothing here" in CRM exports and spreadsheets (compared case-folded,
# accents stripped: "Non renseigné" = "non renseigne").
PLACEHOLDERS = (
    "", "-", "--", "---", "n/a", "n.a.", "n.a", "n / a", "none", "null", "nil", "nan", "select",
    "--select--", "-- select --", "--none--", "-none-", "(none)", "(blank)", "blank", "<blank>",
    "[blank]", "(empty)", "empty", "unknown", "(unknown)", "not set", "not available",
    "not applicable", "not specified", "unspecified", "not provided", "not disclosed",
    "undisclosed", "not known", "no data", "missing", "tbd", "?", "#name?", "#n/a", "#value!",
    "#ref!", "#div/0!", "#num!", "#null!", "#null", "undefined",
    # French, German, Spanish, Portuguese
    "non renseigne", "non communique", "n.c.", "non disponible", "inconnu",
    "keine angabe", "k.a.", "k. a.", "unbekannt", "sin datos", "no disponible", "desconocido",
    "nao informado", "nao disponivel", "desconhecido", "sem informacao",
)
# Bare "NA" is missing too (icp_nullify) except in category columns, where it can be North
# America in a region (clean_expression keeps it there).
NA_MARKERS = ("na",)

_WS = " \t\r\n\u00a0"

# Suffix words after a number and the multiplier they stand for.
SUFFIX_MULTIPLIERS = {
    "": 1.0, "%": 1.0,
    "k": 1e3, "thousand": 1e3, "thousands": 1e3, "thsd": 1e3,
    "m": 1e6, "mm": 1e6, "mn": 1e6, "mil": 1e6, "mio": 1e6, "million": 1e6, "millions": 1e6,
    "b": 1e9, "bn": 1e9, "bil": 1e9, "billion": 1e9, "billions": 1e9,
    "t": 1e12, "tn": 1e12, "trillion": 1e12,
}

# Spellings pycountry does not know, mapped to an ISO alpha-2 code.
COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "america": "US", "unitedstatesofamerica": "US", "ustates": "US",
    "uk": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northernireland": "GB", "unitedkingdom": "GB",
    "uae": "AE", "emirates": "AE", "southkorea": "KR", "korea": "KR", "republicofkorea": "KR",
    "northkorea": "KP", "russia": "RU", "holland": "NL", "thenetherlands": "NL",
    "deutschland": "DE", "czechrepublic": "CZ", "turkey": "TR", "vietnam": "VN",
    "laos": "LA", "syria": "SY", "iran": "IR", "taiwan": "TW", "hongkong": "HK",
    "macau": "MO", "ivorycoast": "CI", "cotedivoire": "CI", "drc": "CD", "drcongo": "CD",
    "capeverde": "CV", "swaziland": "SZ", "macedonia": "MK", "burma": "MM", "vatican": "VA",
    "palestine": "PS", "brunei": "BN", "moldova": "MD", "bolivia": "BO", "venezuela": "VE",
    "tanzania": "TZ", "micronesia": "FM", "espana": "ES", "brasil": "BR", "mexico": "MX",
    "suisse": "CH", "schweiz": "CH", "osterreich": "AT", "italia": "IT", "nippon": "JP",
}

# Canonical display names where pycountry's official short name reads awkwardly.
COUNTRY_DISPLAY = {
    "KR": "South Korea", "KP": "North Korea", "RU": "Russia", "IR": "Iran", "TW": "Taiwan",
    "VN": "Vietnam", "BO": "Bolivia", "VE": "Venezuela", "TZ": "Tanzania", "MD": "Moldova",
    "SY": "Syria", "LA": "Laos", "CD": "DR Congo", "BN": "Brunei", "VA": "Vatican City",
    "FM": "Micronesia", "PS": "Palestine", "TR": "Turkey", "CZ": "Czech Republic",
}

# Date formats tried per column, most common in CRM exports first.
# Values go through icp_date_text first (time zone and fractional seconds dropped); a
# date-time keeps its date only.
DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
    "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
    "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%d.%m.%Y", "%d.%m.%y", "%d-%m-%Y",
    "%m-%d-%Y", "%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y",
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%y %H:%M", "%m/%d/%y %I:%M %p",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y %H:%M",
    "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S",
    "%Y-%m",
)


def country_key(text: str) -> str:
    """The lookup key of a country spelling: case-folded ASCII letters only."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if "a" <= ch <= "z")


COUNTRY_LANGUAGES = ("fr", "de", "es", "it", "pt", "nl")  # CRMs of European teams write country names so


@functools.lru_cache(maxsize=1)
def country_lookup_rows() -> list[tuple[str, str]]:
    """(key, canonical name) for every ISO 3166 country by codes, names and aliases, and by its names
    in COUNTRY_LANGUAGES (pycountry's own translations: 'États-Unis', 'Deutschland', 'España'); an
    English spelling wins where a translation would collide with it."""
    import gettext

    rows: dict[str, str] = {}
    translated: list[tuple[str, str]] = []
    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
                    for lang in COUNTRY_LANGUAGES]
    for c in pycountry.countries:
        display = COUNTRY_DISPLAY.get(c.alpha_2, getattr(c, "common_name", None) or c.name)
        for spelling in (c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", None),
                         getattr(c, "official_name", None), display):
            if spelling:
                rows.setdefault(country_key(spelling), display)
        for t in translations:
            for name in (c.name, getattr(c, "common_name", None)):
                if name:
                    translated.append((t.gettext(name), display))
    for spelling, display in translated:
        rows.setdefault(country_key(spelling), display)
    for alias, code in COUNTRY_ALIASES.items():
        country = pycountry.countries.get(alpha_2=code)
        if country is None:
            raise ValueError(f"COUNTRY_ALIASES: unknown ISO code {code!r}")
        rows[alias] = COUNTRY_DISPLAY.get(code, getattr(country, "common_name", None) or country.name)
    # "us"/"uk" etc. from aliases win over any accidental collisions above.
    return sorted(rows.items())


_MACROS_INSTALLED_KEY = "icp_macros_v1"


def _null_and_date_macros() -> str:
    """icp_nullify, icp_nullify_keep_na and icp_date_text: placeholders to NULL, date text trimmed."""
    placeholders = sql_list(PLACEHOLDERS + NA_MARKERS)
    return f"""
    CREATE OR REPLACE TEMP MACRO icp_nullify(s) AS
        CASE WHEN s IS NULL OR strip_accents(lower(trim(CAST(s AS VARCHAR), '{_WS}'))) IN ({placeholders})
             THEN NULL ELSE trim(CAST(s AS VARCHAR), '{_WS}') END;

    -- category values keep a bare 'NA' (North America in a region column)
    CREATE OR REPLACE TEMP MACRO icp_nullify_keep_na(s) AS
        CASE WHEN lower(trim(CAST(s AS VARCHAR), '{_WS}')) IN ({sql_list(NA_MARKERS)})
             THEN trim(CAST(s AS VARCHAR), '{_WS}') ELSE icp_nullify(s) END;

    -- date text without what a date does not need: a leading apostrophe, fractional
    -- seconds and a time zone ('2024-03-15T10:22:00.123Z' -> '2024-03-15T10:22:00')
    CREATE OR REPLACE TEMP MACRO icp_date_text(s) AS
        regexp_replace(regexp_replace(s, '^''', ''),
            '([0-9]:[0-9]{{2}}(:[0-9]{{2}})?)(\\.[0-9]+)?\\s*(Z|UTC|GMT|[+-][0-9]{{2}}:?[0-9]{{2}})?$', '\\1');
"""


def _amount_macros() -> str:
    """icp_strip_amount ... icp_parse_amount: numbers as CRM exports write them."""
    suffix_cases = " ".join(
        f"WHEN {sql_literal(k)} THEN {v!r}" for k, v in SUFFIX_MULTIPLIERS.items()
    )
    number_re = r"^([0-9][0-9.,]*(e[+-]?[0-9]+)?)([a-z%]*)$"
    return f"""
    -- lower-case, currency, spaces, signs and parentheses removed: '$ 2,5 M' -> '2,5m'
    CREATE OR REPLACE TEMP MACRO icp_strip_amount(s) AS
        regexp_replace(lower(s),
            '^r\\$|[\\s\u00a0\u202f\u2009$€£¥₹₩₽¢''’_]|usd|eur|gbp|brl|mxn|inr|jpy|cad|aud|chf|sek|employees|employee|emps|people|staff|persons|fte|seats|users|^[-+−]|^\\(|\\)$', '', 'g');

    -- a bare number with any common thousands/decimal separator convention
    CREATE OR REPLACE TEMP MACRO icp_number_core(t) AS
        CASE
          WHEN regexp_full_match(t, '[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]+)?')
            THEN TRY_CAST(replace(t, ',', '') AS DOUBLE)
          -- Indian grouping (lakh, crore): '1,00,000', '20,00,00,000'
          WHEN regexp_full_match(t, '[0-9]{{1,2}}(,[0-9]{{2}})+,[0-9]{{3}}(\\.[0-9]+)?')
            THEN TRY_CAST(replace(t, ',', '') AS DOUBLE)
          WHEN regexp_full_match(t, '[0-9]{{1,3}}(\\.[0-9]{{3}})+,[0-9]+|[0-9]{{1,3}}(\\.[0-9]{{3}}){{2,}}')
            THEN TRY_CAST(replace(replace(t, '.', ''), ',', '.') AS DOUBLE)
          WHEN regexp_full_match(t, '[0-9]+,[0-9]{{1,2}}')
            THEN TRY_CAST(replace(t, ',', '.') AS DOUBLE)
          WHEN regexp_full_match(t, '[0-9.]+(e[+-]?[0-9]+)?')
            THEN TRY_CAST(t AS DOUBLE)
          ELSE NULL
        END;

    CREATE OR REPLACE TEMP MACRO icp_suffix_multiplier(x) AS
        CASE x {suffix_cases} ELSE NULL END;

    CREATE OR REPLACE TEMP MACRO icp_amount_sign(s) AS
        CASE WHEN regexp_matches(s, '^\\s*[-−(]') THEN -1.0 ELSE 1.0 END;

    CREATE OR REPLACE TEMP MACRO icp_parse_amount_text(s) AS
        icp_amount_sign(s)
        * icp_number_core(regexp_extract(icp_strip_amount(s), '{number_re}', 1))
        * icp_suffix_multiplier(regexp_extract(icp_strip_amount(s), '{number_re}', 3));

    -- numbers as CRM exports write them; NULL when the text is not a number
    CREATE OR REPLACE TEMP MACRO icp_parse_amount(s) AS
        CASE
          WHEN s IS NULL THEN NULL
          WHEN TRY_CAST(s AS DOUBLE) IS NOT NULL AND isfinite(TRY_CAST(s AS DOUBLE))
            THEN TRY_CAST(s AS DOUBLE)
          ELSE icp_parse_amount_text(s)
        END;
"""


def _flag_macros() -> str:
    """icp_parse_bool, icp_parse_churn and icp_parse_stage: yes/no flags, churn words, deal stages."""
    return """
    CREATE OR REPLACE TEMP MACRO icp_parse_bool(s) AS
        CASE
          WHEN lower(s) IN ('yes', 'y', 'true', 't', '1', '1.0', 'x', 'on', '✓', '✔', 'checked')
            THEN TRUE
          WHEN lower(s) IN ('no', 'n', 'false', 'f', '0', '0.0', 'off', 'unchecked')
            THEN FALSE
          ELSE NULL
        END;

    -- churn flags also say it in words
    CREATE OR REPLACE TEMP MACRO icp_parse_churn(s) AS
        coalesce(icp_parse_bool(s),
          CASE
            WHEN regexp_matches(lower(s), '^(churn(ed)?|cancell?ed|lost|inactive|terminated|closed|former( customer)?)$')
              THEN TRUE
            WHEN regexp_matches(lower(s), '^(active|retained|current|renewed|live|customer|stayed)$')
              THEN FALSE
          END);

    -- deal stage or won/lost flag -> 'won' | 'lost' | 'open'. Vocabularies: Salesforce
    -- (Closed Won / Closed Lost / any other stage open), HubSpot (Closed won, 'Closed: lost',
    -- 'Closed: abandoned', Appointment scheduled, Awaiting outcome ...), Pipedrive status
    -- (won / lost / open / deleted), IsWon flags (1 / true / 0 / false).
    CREATE OR REPLACE TEMP MACRO icp_parse_stage(s) AS
        CASE
          WHEN s IS NULL THEN NULL
          WHEN regexp_matches(lower(s), 'closed\\W*won|\\bwon\\b|\\bwin\\b|^(yes|y|true|t|1|1\\.0)$|signed|booked')
            THEN 'won'
          WHEN regexp_matches(lower(s), 'closed\\W*(lost|abandon|dead|cancel|no\\W*decision|disqualif|churn|unsuccess)|\\blost\\b|\\bloss\\b|disqualif|no decision|\\bdead\\b|rejected|abandon|cancell?ed|^deleted$|unsuccessful|^(no|n|false|f|0|0\\.0)$|churn')
            THEN 'lost'
          WHEN regexp_matches(lower(s), 'open|engag|prospect|qualif|propos|negotiat|discover|demo|evaluat|pipeline|progress|contact|meeting|trial|pending|commit|^new$|lead|\\bpoc\\b|pilot|quote|stage|scheduled|bought|contract|sent|review|solution|verbal|legal|procure|await|analys|decision|perception|needs|presentation|appointment|follow|outreach|nurtur|opportunit|interest|onboard|closing|forecast|\\bbest case\\b|upside|submitted|draft')
            THEN 'open'
          ELSE NULL
        END;
"""


def _text_shape_macros() -> str:
    """icp_parse_category, icp_parse_list and icp_country_key."""
    return """
    CREATE OR REPLACE TEMP MACRO icp_parse_category(s) AS
        regexp_replace(s, '\\s+', ' ', 'g');

    CREATE OR REPLACE TEMP MACRO icp_parse_list(s) AS
        list_filter(
          list_distinct(list_transform(regexp_split_to_array(s, '\\s*[;,|]\\s*'),
                                       lambda x: icp_nullify(x))),
          lambda x: x IS NOT NULL);

    CREATE OR REPLACE TEMP MACRO icp_country_key(s) AS
        regexp_replace(lower(strip_accents(s)), '[^a-z]', '', 'g');
"""


# executed in this order: later macros call earlier ones
_MACRO_GROUPS = (_null_and_date_macros, _amount_macros, _flag_macros, _text_shape_macros)


def _install_country_lookup(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temp icp_countries (key, name) table once per connection."""
    existing = fetch_one(
        con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'icp_countries' AND temporary"
    )[0]
    if not existing:
        con.execute("CREATE TEMP TABLE icp_countries (key VARCHAR PRIMARY KEY, name VARCHAR)")
        rows = country_lookup_rows()
        con.execute("INSERT INTO icp_countries SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                    [[k for k, _ in rows], [n for _, n in rows]])


def install_cleaning_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the icp_* parsing macros and the icp_countries lookup on `con` (idempotent)."""
    for macros in _MACRO_GROUPS:
        con.execute(macros())
    _install_country_lookup(con)


def clean_expression(kind: str, raw: str, scale: float = 1.0,
                     date_formats: tuple[str, ...] | list[str] = ()) -> str:
    """SQL expression giving the clean value of raw text expression `raw` for `kind`.

    `raw` must already be a safe SQL expression (a quoted identifier). Country cleaning
    needs the icp_countries lookup: it is done with a scalar subquery keyed on the text.
    """
    v = f"icp_nullify({raw})"
    if kind in ("id", "text"):
        return v
    if kind == "category":
        return f"icp_parse_category(icp_nullify_keep_na({raw}))"
    if kind == "category_folded":
        return f"lower(icp_parse_category({v}))"
    if kind == "number":
        # bands need the staged parser: see number_lookup_sql (used by ingest for columns)
        scale_sql = "" if float(scale) == 1.0 else f" * {float(scale)!r}"
        return f"(icp_parse_amount({v}){scale_sql})"
    if kind == "year":
        return (f"(CASE WHEN regexp_full_match({v}, '[0-9]{{4}}(\\.0+)?') THEN TRY_CAST(TRY_CAST({v} AS DOUBLE) AS INTEGER) "
                f"ELSE year({date_expression(v, date_formats)}) END)")
    if kind == "boolean":
        return f"icp_parse_bool({v})"
    if kind == "churn":
        return f"icp_parse_churn({v})"
    if kind == "stage":
        return f"icp_parse_stage({v})"
    if kind == "list":
        return f"icp_parse_list({v})"
    if kind == "date":
        return date_expression(v, date_formats)
    if kind == "country":
        return f"(SELECT c.name FROM icp_countries c WHERE c.key = icp_country_key({v}))"
    raise ValueError(f"unknown column kind {kind!r}")


_NUMBER_RE = r"^([0-9][0-9.,]*(e[+-]?[0-9]+)?)([a-z%]*)$"
_BAND_RE = r"^([^-–—]*?[0-9][^-–—]*?)\s*(?:-|–|—|\bto\b)\s*([^-–—]*[0-9][^-–—]*)$"
_AT_LEAST_RE = r"^\s*(?:>=?|≥|over|more than|above|at least)\s*(.*[0-9].*)$"
_BELOW_RE = r"^\s*(?:<=?|≤|under|less than|below|up to)\s*(.*[0-9].*)$"
_PLUS_RE = r"^(.*[0-9].*?)\s*\+\s*$"


def _amount_sql(text: str, split: str) -> str:
    """The amount of `text`, given `split` = its regexp_extract struct (num, exp, suffix)."""
    return (f"CASE WHEN TRY_CAST({text} AS DOUBLE) IS NOT NULL AND isfinite(TRY_CAST({text} AS DOUBLE)) "
            f"THEN TRY_CAST({text} AS DOUBLE) ELSE icp_amount_sign({text}) * icp_number_core({split}.num) "
            f"* icp_suffix_multiplier({split}.suffix) END")


def _split_sql(text: str) -> str:
    return (f"CASE WHEN TRY_CAST({text} AS DOUBLE) IS NULL THEN "
            f"regexp_extract(icp_strip_amount({text}), '{_NUMBER_RE}', ['num', 'exp', 'suffix']) END")


# Separator conventions, judged on a value's first number once currency and spaces are gone.
# Decimal comma: '1.234,56', '1234,5', '1.234.567'. Decimal point or comma thousands:
# '1,234.56', '2.5', '1,234'. '1.234' could be either: it is 1234 only in a column whose
# values are all decimal-comma or undecided, with at least one decimal-comma value.
_DECIMAL_COMMA_RE = r"[0-9]{1,3}(\.[0-9]{3})+,[0-9]+|[0-9]+,[0-9]{1,2}|[0-9]+,[0-9]{4,}|[0-9]{1,3}(\.[0-9]{3}){2,}"
_DECIMAL_POINT_RE = (r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?|[0-9]+\.[0-9]{1,2}|[0-9]+\.[0-9]{4,}"
                     r"|[0-9]{1,2}(,[0-9]{2})+,[0-9]{3}(\.[0-9]+)?")  # Indian grouping: 20,00,00,000


def number_lookup_sql(values_sql: str, group: str | None = None) -> str:
    """SQL mapping each distinct raw text `s` of `values_sql` to (key, value, is_band, g).

    Placeholders give no row. Numbers, amounts with currency and suffixes, and bands:
    'A-B' / 'A to B' give the midpoint (the suffix of B carries to A: '$1-5M'), 'A+' and
    '>A' give A, '<B' gives B/2. Work is staged so each expression stays small and runs
    once per distinct value; band shapes are only tried on values that are not a number.

    The separator convention is decided per column (all of `values_sql`, or per value of
    its column `group` when given, which the result then carries as `g`): a column whose
    values are consistently written with a decimal comma ('1.234,56', '16 500 €', '2,5')
    reads '1.500' as 1500 and '1,234' as 1.234; any other column keeps the decimal point
    ('1,234' is 1234), and values only one convention can read ('1.234,56') read so anyway.
    """
    g = quote_ident(group) if group else "1"
    return f"""
    WITH raw AS (
        SELECT DISTINCT s AS key, {g} AS g FROM ({values_sql}) WHERE s IS NOT NULL),
    toks AS (
        SELECT key, g, icp_nullify(key) AS s0,
               regexp_extract(icp_strip_amount(icp_nullify(key)), '[0-9][0-9.,]*[0-9]|[0-9]') AS t
        FROM raw),
    modes AS (
        SELECT g, bool_or(regexp_full_match(t, '{_DECIMAL_COMMA_RE}'))
                  AND NOT bool_or(regexp_full_match(t, '{_DECIMAL_POINT_RE}')) AS dc
        FROM toks WHERE s0 IS NOT NULL GROUP BY g),
    vals AS (
        SELECT t.key, t.g, CASE WHEN m.dc THEN translate(t.s0, '.,', ',.') ELSE t.s0 END AS s
        FROM toks t LEFT JOIN modes m ON m.g IS NOT DISTINCT FROM t.g),
    split_whole AS (SELECT key, g, s, {_split_sql("s")} AS m FROM vals WHERE s IS NOT NULL),
    wholes AS (SELECT key, g, s, {_amount_sql("s", "m")} AS whole FROM split_whole),
    shapes AS (
        SELECT key, g,
               regexp_extract(s, '{_BAND_RE}', ['lo', 'hi']) AS band,
               regexp_extract(lower(s), '{_AT_LEAST_RE}', 1) AS at_least,
               regexp_extract(lower(s), '{_BELOW_RE}', 1) AS below,
               regexp_extract(s, '{_PLUS_RE}', 1) AS plus
        FROM wholes WHERE whole IS NULL),
    parts AS (
        SELECT key, g, 'plus' AS part, plus AS txt FROM shapes WHERE plus <> ''
        UNION ALL SELECT key, g, 'at_least', at_least FROM shapes WHERE at_least <> ''
        UNION ALL SELECT key, g, 'below', below FROM shapes WHERE below <> ''
        UNION ALL SELECT key, g, 'lo', band.lo FROM shapes WHERE band.lo <> ''
        UNION ALL SELECT key, g, 'hi', band.hi FROM shapes WHERE band.lo <> ''),
    split AS (SELECT key, g, part, txt, {_split_sql("txt")} AS m FROM parts),
    amounts AS (SELECT key, g, part, coalesce(m.suffix, '') AS suffix, {_amount_sql("txt", "m")} AS v FROM split),
    wide AS (
        SELECT key, g,
               max(v) FILTER (WHERE part = 'plus') AS plus,
               max(v) FILTER (WHERE part = 'at_least') AS at_least,
               max(v) FILTER (WHERE part = 'below') AS below,
               max(v) FILTER (WHERE part = 'lo') AS lo,
               max(suffix) FILTER (WHERE part = 'lo') AS lo_suffix,
               max(v) FILTER (WHERE part = 'hi') AS hi,
               max(suffix) FILTER (WHERE part = 'hi') AS hi_suffix
        FROM amounts GROUP BY key, g),
    banded AS (
        SELECT key, g, coalesce(plus, at_least, below / 2,
                             -- '2012-06' is a month, not a band: a band's top is not below its bottom
                             CASE WHEN lo_scaled <= hi THEN (lo_scaled + hi) / 2 END) AS band
        FROM (SELECT *, CASE WHEN lo_suffix = '' AND hi_suffix NOT IN ('', '%')
                             THEN lo * icp_suffix_multiplier(hi_suffix) ELSE lo END AS lo_scaled
              FROM wide))
    SELECT w.key, coalesce(w.whole, b.band) AS value, w.whole IS NULL AND b.band IS NOT NULL AS is_band, w.g
    FROM wholes w LEFT JOIN banded b ON b.key = w.key AND b.g IS NOT DISTINCT FROM w.g"""


def parse_numbers(con: duckdb.DuckDBPyConnection, values: list) -> list:
    """Parse a list of texts with the number rules (for tests and previews)."""
    install_cleaning_macros(con)
    con.execute("CREATE OR REPLACE TEMP TABLE icp_parse_input AS "
                "SELECT i, v FROM (SELECT unnest(?::VARCHAR[]) AS v, unnest(range(len(?::VARCHAR[]))) AS i)",
                [values, values])
    rows = con.execute(f"""
        SELECT l.value FROM icp_parse_input p
        LEFT JOIN ({number_lookup_sql("SELECT v AS s FROM icp_parse_input")}) l ON l.key = p.v
        ORDER BY p.i""").fetchall()
    return [r[0] for r in rows]


def date_expression(v: str, date_formats) -> str:
    # two-digit-year formats first: '%m/%d/%Y' reads '2/24/26' as the year 26, while
    # '%m/%d/%y' does not read '2/24/2026' at all
    fmts = sorted(list(date_formats) or ["%Y-%m-%d"], key=lambda f: "%y" not in f)
    return f"CAST(try_strptime(icp_date_text({v}), [{sql_list(fmts)}]) AS DATE)"


def date_format_counts(con: duckdb.DuckDBPyConnection, table: str, value_col: str,
                       group_col: str) -> dict[Any, list[tuple[int, str]]]:
    """Per group, [(values parsed, format)] for the formats that parse any, best first.

    Ambiguous day/month orders are settled by which parses more values; on a tie the US
    month-first order wins (it comes first in DATE_FORMATS and the sort is stable).
    """
    v = quote_ident(value_col)
    # a four-digit-year format reading '26' as the year 26 does not count
    aggregates = ", ".join(f"coalesce(sum(n) FILTER (WHERE year(try_strptime(d, {sql_literal(fmt)})) >= 1000), 0)"
                           for fmt in DATE_FORMATS)
    # each distinct value once, and only values shaped like a date (three numbers with separators,
    # a year-month, or a month name beside a number): amounts and ids are never tried 30 times
    shaped = (r"regexp_matches(d, '^\s*([0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}|[0-9]{4}[-/][0-9]{1,2}\s*$)') "
              r"OR regexp_matches(d, '[A-Za-z]{3}')")
    rows = con.execute(
        f"SELECT g, {aggregates} FROM (SELECT g, d, count(*) AS n FROM (SELECT {quote_ident(group_col)} AS g, "
        f"icp_date_text({v}) AS d FROM {quote_ident(table)} WHERE regexp_matches({v}, '[0-9]')) "
        f"WHERE {shaped} GROUP BY ALL) GROUP BY 1"
    ).fetchall()
    out: dict[Any, list[tuple[int, str]]] = {}
    for group, *counts in rows:
        found = [(n, fmt) for n, fmt in zip(counts, DATE_FORMATS, strict=True) if n]
        found.sort(key=lambda t: -t[0])
        out[group] = found
    return out


def detect_date_formats(con: duckdb.DuckDBPyConnection, table: str, column: str,
                        sample_rows: int = 5000) -> list[str]:
    """The date formats that parse a column's sample, best first ([] when none fits)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE icp_date_sample AS SELECT 1 AS g, icp_nullify("
                f"{quote_ident(column)}) AS v FROM {quote_ident(table)} LIMIT {int(sample_rows)}")
    found = date_format_counts(con, "icp_date_sample", "v", "g").get(1, [])
    con.execute("DROP TABLE icp_date_sample")
    return [fmt for _, fmt in found]
