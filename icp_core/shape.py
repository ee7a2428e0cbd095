"""What one row of an upload is, and how rows that are not accounts become accounts.

A CRM export is not always one row per account: deals/opportunities (Salesforce `StageName`,
HubSpot `Deal Stage`), leads and contacts (people at a company) and lines (orders, invoices,
subscriptions, usage events) repeat the company they belong to. `detect_shape` decides what one
row is from the file's columns (roles, headers) and how often the best company key repeats;
`roll_up_rows` turns such rows into a raw accounts table, one row per key, before cleaning:

- the key column keeps its most frequent spelling; rows without a key are counted and dropped;
- descriptive columns that (nearly) never differ within one account (industry, country,
  segment ...) keep their header and take the account's most frequent value; accounts whose
  values disagree are counted per column and reported;
- the other columns are aggregated per account: numbers as sum and mean (years as first and last,
  probabilities and rates as a mean, codes as distinct counts, row counters left out), dates as first and
  last, categories as most frequent value and distinct count (contacts: every value present),
  plus a row count. Deals keep their raw rows as `raw_opportunities`, rolled up by the
  opportunities engine (`ingest.rollup_sql`: won/lost/open, win rate, won value, close dates),
  plus the latest stage.

Everything is SQL over the raw text table, quoted; the result is a raw text table like any
upload, so role detection, cleaning and the quality report run on it unchanged.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import duckdb

from .clean import _WS, clean_expression, number_lookup_sql
from .roles import ROLES, ColumnSpec, normalise_header
from .sql import quote_ident, sql_list

SHAPES = ("accounts", "deals", "contacts", "lines")
SHAPE_LABELS = {"accounts": "accounts", "deals": "deals / opportunities", "contacts": "leads / contacts",
                "lines": "lines (orders, invoices…)"}
ROW_NOUNS = {"accounts": "accounts", "deals": "deals", "contacts": "contacts", "lines": "lines"}

# a key repeating on more than this share of rows means the rows are not accounts
REPEAT_SHARE = 0.05
# a descriptive column whose values differ within more than this share of multi-row accounts
# is a row-level column (aggregated), not an account attribute (most frequent value kept)
DISAGREE_SHARE = 0.10

# an organisation named in a header (English, Spanish, Portuguese, German, French)
_ORG = (r"account|company|customer|client|cliente|organi[sz]ation|org|business|firm|startup|"
        r"producer|produzent|empresa|firma|unternehmen|entreprise|societe|kunde|partner|vendor|buyer|merchant")
_NOT_KEY = (r"owner|type|status|class|source|stage|date|parent|contact|opportunity|deal|emails?|linkedin|url|"
            r"phone|street|city|state|country|postal|address|manager|rep|since|segment|size|tier|industry|"
            r"website|domain|description|number of|count|revenue|employees|sector|region")
_ID_WORD = r"\b(id|code|number|no|key|nbr|num|ref)\b|id$"

_DEAL_HEADERS = re.compile(
    r"(opportunity|opp|deal)\s?(id|name|number|owner|type|stage|amount|value)?|stage\s?name|is\s?won|is\s?closed|"
    r"is deal closed|closed won|pipeline|forecast category|win probability|probability")
# a column only a deal has (an accounts file may carry a "Deal Stage" per account)
_STRONG_DEAL_HEADERS = re.compile(
    r"(opportunity|opp|deal)\s?(id|name|number|owner|type)?|stage\s?name|is\s?won|is\s?closed|is deal closed|"
    r"forecast category")
_PERSON_HEADERS = re.compile(
    r"first\s?name|last\s?name|full\s?name|given name|surname|e\s?mail( address)?|(job\s)?title|salutation|"
    r"contact\s?id|lead\s?id|lead\s?status|lead\s?source|mobile( phone)?|gender|department|seniority|persona|"
    r"(contact|person|lead)\s?(name|owner)")
_LINE_HEADERS = re.compile(
    r"(order|invoice|line|transaction|payment|subscription|event|ticket|usage|item)\s?(id|no|number|nbr|date|type|"
    r"line|amount|total)?|sku|product( name| id| code)?|quantity|qty|unit\s?price|price|refnbr|reference nbr")


@dataclass
class KeyCandidate:
    key: str
    header: str
    rows: int  # rows with a value
    distinct: int  # distinct normalised values
    id_like: bool

    @property
    def repeat_share(self) -> float:
        return 1 - self.distinct / self.rows if self.rows else 0.0


@dataclass
class ShapeGuess:
    """What one row is, the key that names its account, and why."""

    shape: str
    key: str | None  # column key in the raw table
    key_header: str | None
    rows: int
    accounts: int  # distinct keys (rows, for accounts)
    rows_without_key: int
    reason: str
    candidates: list[dict] = field(default_factory=list)  # every key candidate with its counts

    @property
    def message(self) -> str:
        if self.shape == "accounts":
            text = f"This looks like {self.rows:,} accounts, one per row"
            return text + (f" (key: {self.key_header})." if self.key_header else ".")
        noun = {"deals": "deals", "contacts": "leads / contacts", "lines": "lines"}[self.shape]
        return (f"This looks like {self.rows:,} {noun} for {self.accounts:,} accounts (key: {self.key_header}); "
                f"they are rolled up to one row per account.")

    def to_dict(self) -> dict:
        return asdict(self) | {"message": self.message}


def _account_key(expr: str) -> str:
    from .ingest import account_key_sql

    return account_key_sql(expr)


def key_candidates(con: duckdb.DuckDBPyConnection, table: str, specs: list[ColumnSpec]) -> list[KeyCandidate]:
    """Columns that can name the account a row belongs to, best first, with their counts."""
    picked: list[tuple[int, ColumnSpec, bool]] = []
    for s in specs:
        h = normalise_header(s.header or "")
        id_like = s.role == "account_id" or bool(re.search(_ID_WORD, h))
        if s.role in ("account_id", "account_name"):
            picked.append((0 if s.role == "account_id" else 1, s, s.role == "account_id"))
        elif h and re.search(rf"\b({_ORG})", h) and not re.search(rf"\b({_NOT_KEY})\b", h):
            picked.append((2 if id_like else 3, s, id_like))
    if not picked:
        return []
    picked.sort(key=lambda t: t[0])
    # values like C00037, ACC-000001, 0015g00000AbCdE: a code, not a name
    code = "'[A-Za-z]{0,8}[-_#]?[0-9][0-9A-Za-z_-]*'"
    out = []
    for _rank, s, id_like in picked:  # each distinct value normalised once, weighted by its rows
        rows, distinct, codes = (int(x) for x in con.execute(f"""
            SELECT coalesce(sum(n) FILTER (WHERE k IS NOT NULL), 0), count(DISTINCT k),
                   coalesce(sum(n) FILTER (WHERE k IS NOT NULL AND regexp_full_match(trim(v), {code})), 0)
            FROM (SELECT v, n, {_account_key('v')} AS k FROM (
                  SELECT {quote_ident(s.key)} AS v, count(*) AS n FROM {quote_ident(table)} GROUP BY 1))
            """).fetchall()[0])
        if rows:
            out.append(KeyCandidate(s.key, s.header, rows, distinct, id_like or codes >= 0.9 * rows))
    return out


def _signals(specs: list[ColumnSpec]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"deal": [], "person": [], "line": [], "stage": []}
    for s in specs:
        h = normalise_header(s.header or "")
        if not h:
            continue
        if _DEAL_HEADERS.fullmatch(h):
            out["deal"].append(s.header)
        if _PERSON_HEADERS.fullmatch(h) or s.role in ("email", "person_name", "job_title"):
            out["person"].append(s.header)
        if _LINE_HEADERS.fullmatch(h):
            out["line"].append(s.header)
        if s.role == "deal_stage":
            out["stage"].append(s.header)
    return out


def detect_shape(con: duckdb.DuckDBPyConnection, table: str, specs: list[ColumnSpec],
                 shape: str | None = None, key: str | None = None) -> ShapeGuess:
    """What one row of `table` is. `shape` / `key` (a column key or header) override detection.

    Raises ValueError with a message for the user when an override cannot be applied.
    """
    if shape is not None and shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: use one of {', '.join(SHAPES)}.")
    rows = con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchall()[0][0]
    candidates = key_candidates(con, table, specs)
    if key is not None:
        spec = next((s for s in specs if key in (s.key, s.header)), None)
        if spec is None:
            raise ValueError(f"no column {key!r} to use as the key; the columns are: "
                             + ", ".join(repr(s.header) for s in specs[:30]) + ".")
        chosen = next((c for c in candidates if c.key == spec.key), None)
        if chosen is None:
            n, d = con.execute(f"SELECT count({_account_key(quote_ident(spec.key))}), "
                               f"count(DISTINCT {_account_key(quote_ident(spec.key))}) "
                               f"FROM {quote_ident(table)}").fetchall()[0]
            if not n:
                raise ValueError(f"the key column {spec.header!r} is empty in every row.")
            chosen = KeyCandidate(spec.key, spec.header, int(n), int(d), True)
            candidates.insert(0, chosen)
    else:
        chosen = _best_key(candidates)
    signals = _signals(specs)
    reason = ""
    if shape is None:
        shape, reason = _decide(chosen, signals, rows)
    else:
        reason = "chosen by the user"
    if shape != "accounts" and chosen is None:
        raise ValueError(f"rows of {SHAPE_LABELS[shape]} need a column naming their account (an account id or "
                         "company name) to roll up by; choose the key column.")
    return ShapeGuess(
        shape=shape, key=chosen.key if chosen else None, key_header=chosen.header if chosen else None,
        rows=int(rows), accounts=(chosen.distinct if chosen and shape != "accounts" else int(rows)),
        rows_without_key=(int(rows) - chosen.rows) if chosen else 0, reason=reason,
        candidates=[asdict(c) | {"repeat_share": round(c.repeat_share, 4)} for c in candidates])


def _best_key(candidates: list[KeyCandidate]) -> KeyCandidate | None:
    """An id that repeats beats a name; among equals, the one filled in most rows."""
    if not candidates:
        return None
    well_filled = [c for c in candidates if c.rows >= 0.5 * max(x.rows for x in candidates)] or candidates
    ids = [c for c in well_filled if c.id_like]
    return (ids or well_filled)[0]


def _decide(key: KeyCandidate | None, signals: dict[str, list[str]], rows: int) -> tuple[str, str]:
    repeats = key is not None and key.repeat_share > REPEAT_SHARE and key.rows - key.distinct >= 2
    if key is None:
        return "accounts", "no column names a company or account to roll up by"
    strong = [h for h in signals["deal"] if _STRONG_DEAL_HEADERS.fullmatch(normalise_header(h))]
    if signals["stage"] and (strong or (signals["deal"] and repeats)):
        return "deals", f"deal columns ({', '.join((strong or signals['deal'])[:3])})"
    if len(signals["person"]) >= 2 or any(re.search(r"contact\s?id|lead\s?id", normalise_header(h))
                                          for h in signals["person"]):
        if repeats or len(signals["person"]) >= 3:
            return "contacts", f"person columns ({', '.join(signals['person'][:3])})"
    if not repeats:
        return "accounts", f"{key.header} names a different account on (nearly) every row"
    if signals["stage"] and not signals["line"]:
        return "deals", f"a won/lost column ({signals['stage'][0]}) and {key.header} repeating"
    share = f"{key.header} repeats: {key.rows:,} rows, {key.distinct:,} distinct"
    return "lines", share + (f"; line columns ({', '.join(signals['line'][:3])})" if signals["line"] else "")


# ---------------------------------------------------------------------------------------
# the roll-up


@dataclass
class RollupPlan:
    """How each column of the rows table becomes columns of the accounts table.

    Each output is an aggregate over one of two inputs, grouped by account (`icp_k`):
    "pairs" (icp_pairs: column `c`, present value `v` and its row count `n`, for most-frequent
    values, lists and distinct counts) or "rows" (icp_keyed, the rows themselves, joined to a
    lookup of the column's distinct values as `x.value` for numbers and dates). Every value is
    cleaned once per distinct value, never once per row."""

    key: ColumnSpec
    attributes: list[ColumnSpec]  # account attributes: most frequent value
    aggregated: list[tuple[ColumnSpec, str, list[tuple[str, str]]]]  # (column, input, [(header, SQL)])
    disagreements: list[dict]
    multi: int  # accounts with several rows


_ROW_LEVEL_ROLES = {"deal_stage", "arr", "close_date", "signup_date", "sales_cycle_days", "churned", "record_id"}
_TEXTLIKE = ("id", "text")
_MODE = "first(v ORDER BY n DESC, v)"  # the most frequent value; ties to the first in sort order
_AMOUNT_HEADER = r"amount|price|total|quantity|qty|value|revenue|cost|sum|mrr|arr|paid|units|seats"
# numbers that must not be added up across an account's rows (normalised headers):
_SERIAL_HEADER = r"^((s|sr|sl|serial|row|line|item|record|entry) ?(no|nr|num|number|#)?|no|nr|#|index|idx)$"  # row counters
_YEAR_HEADER = r"\b(year|yr|jahr|annee|ano|anno|fy|fiscal year)\b"  # 2021 + 2022 is no year: first and last
_CODE_HEADER = r"\b(code|campaign|ref|reference|zip|postal|postcode|plz|phone)\b"  # labels written as numbers
_SHARE_HEADER = r"probability|percent|pct|rate|ratio|share|score|rating|likelihood|margin"  # a mean, never a sum


def _number_aggregates(header: str, scale: str) -> list[tuple[str, str]]:
    """How a number column of several rows per account is rolled up, by what its header says it is: a
    row counter is left out, a year becomes first and last, a code is counted as distinct values, a
    probability or rate is averaged, anything else is summed and averaged."""
    name = normalise_header(header)
    if re.fullmatch(_SERIAL_HEADER, name):
        return []
    if re.search(_YEAR_HEADER, name):
        return [(f"{header} (first)", "min(x.value)"), (f"{header} (last)", "max(x.value)")]
    if re.search(_CODE_HEADER, name):
        return [(f"{header} (distinct)", "count(DISTINCT x.value)")]
    if "%" in header or re.search(_SHARE_HEADER, name):
        return [(f"{header} (mean)", f"avg(x.value{scale})")]
    return [(f"{header} (sum)", f"sum(x.value{scale})"), (f"{header} (mean)", f"avg(x.value{scale})")]


def _placeholders(con, table: str, specs: list[ColumnSpec]) -> dict[str, list[str]]:
    """Per column, its raw values that are placeholders ('N/A', '-', 'unknown' ...): icp_nullify
    runs once per distinct value here, so the roll-up can drop them with a short IN list."""
    # one scan; the check runs on each column's list of distinct values (a filter written on a
    # DISTINCT subquery is pushed below it by DuckDB and would run once per row)
    lists = ", ".join(f"list_filter(list(DISTINCT {quote_ident(s.key)}), lambda x: x IS NOT NULL AND icp_nullify(x) IS NULL)"
                      for s in specs)
    found = con.execute(f"SELECT {lists} FROM {quote_ident(table)}").fetchall()[0]
    return {s.key: list(values) for s, values in zip(specs, found, strict=True) if values}


def _present(col: str, placeholders: list[str]) -> str:
    """SQL: the trimmed text of `col`, NULL when blank or one of its placeholders (= icp_nullify)."""
    text = f"nullif(trim({col}, '{_WS}'), '')"
    if not placeholders:
        return text
    listed = sql_list(placeholders)
    return f"CASE WHEN {col} IN ({listed}) THEN NULL ELSE {text} END"


def _keyed_table(con, table: str, key: ColumnSpec) -> None:
    """icp_keyed: the rows that name an account, with its key `icp_k` (normalised once per distinct
    spelling) and file position; `table` is dropped (the roll-up consumes it: memory is bounded)."""
    col = quote_ident(key.key)
    con.execute(f"CREATE OR REPLACE TEMP TABLE icp_keys AS SELECT v, {_account_key('v')} AS k "
                f"FROM (SELECT DISTINCT {col} AS v FROM {quote_ident(table)})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE icp_keyed AS SELECT k.k AS icp_k, t.rowid AS icp_rollup_row, t.* "
                f"FROM {quote_ident(table)} t JOIN icp_keys k ON k.v = t.{col} WHERE k.k IS NOT NULL")
    con.execute(f"DROP TABLE icp_keys; DROP TABLE {quote_ident(table)}")


def _disagreement_counts(con, specs: list[ColumnSpec], ph: dict[str, list[str]]) -> tuple[int, list[int]]:
    """(accounts with 2+ rows, per column the accounts among them whose present values differ)."""
    # two present values differ exactly when the least and the greatest differ (no set per account)
    inner = ", ".join(f"min({_present(quote_ident(s.key), ph.get(s.key, []))}) <> "
                      f"max({_present(quote_ident(s.key), ph.get(s.key, []))}) AS d{i}"
                      for i, s in enumerate(specs)) or "TRUE AS d0"
    outer = ", ".join(f"count(*) FILTER (WHERE d{i})" for i in range(len(specs))) or "0"
    row = con.execute(f"SELECT count(*), {outer} FROM (SELECT {inner} FROM icp_keyed GROUP BY icp_k "
                      "HAVING count(*) > 1)").fetchall()[0]
    return int(row[0]), [int(x) for x in row[1:len(specs) + 1]]


def _forced_row_level(s: ColumnSpec, guess: ShapeGuess) -> bool:
    """A column that describes the row, never the account: outcomes, record ids, line amounts."""
    return s.role in _ROW_LEVEL_ROLES or (guess.shape == "lines" and ROLES[s.role].kind == "number"
                                          and bool(re.search(_AMOUNT_HEADER, normalise_header(s.header or ""))))


def plan_rollup(con, specs: list[ColumnSpec], guess: ShapeGuess, ph: dict[str, list[str]]) -> RollupPlan:
    """Decide, per column, attribute (most frequent value) or aggregate; icp_keyed must exist."""
    key = next(s for s in specs if s.key == guess.key)
    others = [s for s in specs if s.key != key.key]
    checked = [s for s in others if not _forced_row_level(s, guess)]
    multi, counts = _disagreement_counts(con, checked, ph)
    differ = [dict(zip([c.key for c in checked], counts, strict=True)).get(s.key, 0) for s in others]
    attributes, aggregated, disagreements = [], [], []
    noun = ROW_NOUNS[guess.shape]
    for s, d in zip(others, differ, strict=True):
        kind = ROLES[s.role].kind
        header = s.header or s.key
        present = _present(quote_ident(s.key), ph.get(s.key, []))
        row_level = _forced_row_level(s, guess) or (multi and d > DISAGREE_SHARE * multi)
        if guess.shape == "deals" and s.role in ("deal_stage", "arr", "close_date"):
            continue  # the opportunities roll-up owns these
        if not row_level:
            attributes.append(s)
            if d:
                disagreements.append({"column": header, "key": s.key, "accounts": d, "of": multi,
                                      "message": f"{header}: values differ within {d:,} of {multi:,} accounts with "
                                                 f"several {noun}; the most frequent value is kept."})
            continue
        if guess.shape == "contacts" and re.search(r"convert|status|stage", normalise_header(header)) and \
                con.execute(f"SELECT count(*) > 0 FROM (SELECT DISTINCT {quote_ident(s.key)} AS v FROM icp_keyed) "
                            "WHERE lower(v) LIKE '%convert%'").fetchall()[0][0]:
            # 'Closed - Converted' / 'Converted' against every other status
            yes = "lower(v) LIKE '%convert%' AND lower(v) NOT LIKE '%not converted%' AND lower(v) NOT LIKE '%unconv%'"
            aggregated.append((s, "pairs", [("Converted (share)", f"coalesce(sum(n) FILTER (WHERE {yes}), 0) / sum(n)"),
                                            (f"{header} (most frequent)", _MODE)]))
        elif guess.shape == "contacts" and s.role == "job_title":
            aggregated.append((s, "pairs", [(f"{header} (all)", "string_agg(v, '; ' ORDER BY v)")]))
        elif kind in _TEXTLIKE:
            if s.role == "record_id" or re.search(r"\b(id|nbr|number|no)\b|id$", normalise_header(header)):
                aggregated.append((s, "rows", [(f"{header} (distinct)", f"count(DISTINCT {present})")]))
        elif kind == "number":
            if outputs := _number_aggregates(header, "" if float(s.scale) == 1.0 else f" * {float(s.scale)!r}"):
                aggregated.append((s, "rows", outputs))
        elif kind in ("date", "year"):
            aggregated.append((s, "rows", [(f"{header} (first)", "min(x.value)"), (f"{header} (last)", "max(x.value)")]))
        elif kind == "boolean":
            aggregated.append((s, "pairs", [(f"{header} (share yes)",
                                             "sum(n) FILTER (WHERE icp_parse_bool(v)) / "
                                             "sum(n) FILTER (WHERE icp_parse_bool(v) IS NOT NULL)")]))
        elif guess.shape == "contacts":
            aggregated.append((s, "pairs", [(f"{header} (all)", "string_agg(v, '; ' ORDER BY v)"),
                                            (f"{header} (most frequent)", _MODE)]))
        else:
            aggregated.append((s, "pairs", [(f"{header} (most frequent)", _MODE), (f"{header} (distinct)", "count(*)")]))
    return RollupPlan(key=key, attributes=attributes, aggregated=aggregated, disagreements=disagreements,
                      multi=multi)


class _RollupSelect:
    """The output columns of the roll-up: a SELECT list over the accounts `b` and the LEFT JOINs
    (aliases j0, j1 ...) that compute them per account key."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.headers: list[str] = []
        self.select: list[str] = []
        self.joins: list[str] = []

    def add(self, header: str, sql: str) -> None:
        name = f"icp_c{len(self.names)}"
        self.names.append(name)
        self.headers.append(header)
        self.select.append(f"CAST({sql} AS VARCHAR) AS {quote_ident(name)}")

    def join(self, sql: str, outputs: list[tuple[str, str]]) -> None:
        """Join subquery `sql` (icp_k, a0, a1 ...): one output column per (header, _) of `outputs`."""
        alias = f"j{len(self.joins)}"
        self.joins.append(f"LEFT JOIN ({sql}) {alias} ON {alias}.icp_k = b.icp_k")
        for i, (header, _sql) in enumerate(outputs):
            self.add(header, f"{alias}.a{i}")

    def from_pairs(self, s: ColumnSpec, outputs: list[tuple[str, str]]) -> None:
        """Aggregates of column `s`'s (value, count) pairs per account, from icp_pairs."""
        aggs = ", ".join(f"{sql} AS a{i}" for i, (_h, sql) in enumerate(outputs))
        self.join(f"SELECT icp_k, {aggs} FROM icp_pairs WHERE c = '{s.key}' GROUP BY icp_k", outputs)


def _pairs_table(con, plan: RollupPlan, ph: dict[str, list[str]]) -> None:
    """icp_pairs (c, icp_k, v, n): per column read as values, each account's present values and
    how many rows hold each."""
    pair_cols = [plan.key] + plan.attributes + [s for s, src, _ in plan.aggregated if src == "pairs"]
    parts = " UNION ALL ".join(
        f"SELECT '{s.key}' AS c, icp_k, v, n FROM (SELECT icp_k, {_present(quote_ident(s.key), ph.get(s.key, []))} "
        f"AS v, count(*) AS n FROM icp_keyed GROUP BY ALL)" for s in pair_cols)  # keys: safe (roles.column_keys)
    con.execute(f"CREATE OR REPLACE TEMP TABLE icp_pairs AS SELECT c, icp_k, v, n FROM ({parts}) WHERE v IS NOT NULL")


def _add_latest_stage(out: _RollupSelect, specs: list[ColumnSpec], ph: dict[str, list[str]]) -> None:
    """Deals: each account's latest stage (by close date, else by file order)."""
    stage = next((s for s in specs if s.role == "deal_stage"), None)
    close = next((s for s in specs if s.role == "close_date"), None)
    if stage is not None:
        raw = _present(quote_ident(stage.key), ph.get(stage.key, []))
        order = (clean_expression("date", quote_ident(close.key), 1.0, close.date_formats) if close
                 else "icp_rollup_row")
        out.join(f"SELECT icp_k, arg_max({raw}, {order}) FILTER (WHERE {raw} IS NOT NULL) AS a0 "
                 f"FROM icp_keyed GROUP BY icp_k", [("Latest stage", "")])


def _rollup_number_lookup(con, plan: RollupPlan) -> None:
    """icp_rollup_lookup (g, key, value): the parsed value of each distinct text of every number
    column aggregated over rows, each with its own convention."""
    numbers = [s for s, src, _ in plan.aggregated if src == "rows" and ROLES[s.role].kind == "number"]
    if numbers:  # every number column's distinct values parsed at once, each with its own convention
        values = " UNION ALL ".join(f"SELECT DISTINCT '{s.key}' AS g, {quote_ident(s.key)} AS s FROM icp_keyed"
                                    for s in numbers)
        con.execute(f"CREATE OR REPLACE TEMP TABLE icp_rollup_lookup AS SELECT g, key, value FROM "
                    f"({number_lookup_sql(values, group='g')})")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE icp_rollup_lookup (g VARCHAR, key VARCHAR, value DOUBLE)")


def _add_aggregates(out: _RollupSelect, plan: RollupPlan) -> None:
    """The aggregated columns, in plan order: from the pairs, or (sums, means, first and last
    dates, distinct counts) in one pass over the rows, each number or date column joined to the
    lookup of its distinct values."""
    row_aggs: list[str] = []
    row_joins: list[str] = []
    row_outputs: list[tuple[str, str]] = []
    for s, src, outputs in plan.aggregated:
        if src == "pairs":
            out.from_pairs(s, outputs)
            continue
        col, kind, x = quote_ident(s.key), ROLES[s.role].kind, f"x{len(row_joins)}"
        if kind == "number":
            row_joins.append(f"LEFT JOIN (SELECT key, value FROM icp_rollup_lookup WHERE g = '{s.key}') {x} "
                             f"ON {x}.key = r.{col}")
        elif kind in ("date", "year"):  # each distinct text parsed once
            row_joins.append(f"LEFT JOIN (SELECT v AS key, {clean_expression(kind, 'v', 1.0, s.date_formats)} AS value "
                             f"FROM (SELECT DISTINCT {col} AS v FROM icp_keyed)) {x} ON {x}.key = r.{col}")
        for header, sql in outputs:
            row_aggs.append(f"{sql.replace('x.value', f'{x}.value')} AS a{len(row_outputs)}")
            row_outputs.append((header, sql))
    if row_outputs:
        out.join(f"SELECT r.icp_k, {', '.join(row_aggs)} FROM icp_keyed r {' '.join(row_joins)} GROUP BY r.icp_k",
                 row_outputs)


def roll_up_rows(con: duckdb.DuckDBPyConnection, rows_table: str, out_table: str, specs: list[ColumnSpec],
                 guess: ShapeGuess) -> tuple[list[str], list[str], dict]:
    """Create raw text table `out_table` with one row per account key of `rows_table`, which is
    consumed (dropped). Returns (column names of out_table, their headers, report); the first
    column is the key."""
    key = next(s for s in specs if s.key == guess.key)
    ph = _placeholders(con, rows_table, specs)
    _keyed_table(con, rows_table, key)
    plan = plan_rollup(con, specs, guess, ph)
    _pairs_table(con, plan, ph)
    out = _RollupSelect()
    out.from_pairs(plan.key, [(plan.key.header, _MODE)])
    for s in plan.attributes:
        out.from_pairs(s, [(s.header, _MODE)])
    out.add(f"{ROW_NOUNS[guess.shape].capitalize()} (count)", "b.rows")
    if guess.shape == "deals":
        _add_latest_stage(out, specs, ph)
    _rollup_number_lookup(con, plan)
    _add_aggregates(out, plan)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(out_table)} AS "
                f"SELECT {', '.join(out.select)} FROM (SELECT icp_k, count(*) AS rows, min(icp_rollup_row) AS first_row "
                f"FROM icp_keyed GROUP BY icp_k) b {' '.join(out.joins)} ORDER BY b.first_row")
    for t in ("icp_rollup_lookup", "icp_pairs", "icp_keyed"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    report = {"disagreements": plan.disagreements,
              "attributes": [s.header for s in plan.attributes],
              "aggregated": [h for _s, _src, outs in plan.aggregated for h, _ in outs]}
    return out.names, out.headers, report
