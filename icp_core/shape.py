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
- the other columns are aggregated per account: numbers as sum and mean, dates as first and
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

from .clean import clean_expression, quote_ident
from .roles import ROLES, ColumnSpec, normalise_header

SHAPES = ("accounts", "deals", "contacts", "lines")
SHAPE_LABELS = {"accounts": "accounts", "deals": "deals / opportunities", "contacts": "leads / contacts",
                "lines": "lines (orders, invoices, subscriptions, events)"}
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
    for pos, s in enumerate(specs):
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
    exprs = ", ".join(f"count({_account_key(quote_ident(s.key))}), count(DISTINCT {_account_key(quote_ident(s.key))}), "
                      f"count(*) FILTER (WHERE regexp_full_match(trim({quote_ident(s.key)}), {code}))"
                      for _, s, _ in picked)
    counts = con.execute(f"SELECT {exprs} FROM {quote_ident(table)}").fetchall()[0]
    out = []
    for i, (_rank, s, id_like) in enumerate(picked):
        rows, distinct, codes = (int(x) for x in counts[3 * i:3 * i + 3])
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
    """How each column of the rows table becomes columns of the accounts table."""

    key: ColumnSpec
    attributes: list[ColumnSpec]  # account attributes: most frequent value
    aggregated: list[tuple[ColumnSpec, list[tuple[str, str]]]]  # (column, [(header, SQL aggregate)])
    disagreements: list[dict]


_ROW_LEVEL_ROLES = {"deal_stage", "arr", "close_date", "signup_date", "sales_cycle_days", "churned"}
_TEXTLIKE = ("id", "text")


def _disagreement_counts(con, table: str, key_sql: str, specs: list[ColumnSpec]) -> tuple[int, list[int]]:
    """(accounts with 2+ rows, per column the accounts among them whose values differ)."""
    if not specs:
        n = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {quote_ident(table)} WHERE {key_sql} IS NOT NULL "
                        f"GROUP BY {key_sql} HAVING count(*) > 1)").fetchall()[0][0]
        return int(n), []
    inner = ", ".join(f"count(DISTINCT icp_nullify({quote_ident(s.key)})) > 1 AS d{i}" for i, s in enumerate(specs))
    outer = ", ".join(f"count(*) FILTER (WHERE d{i})" for i in range(len(specs)))
    row = con.execute(f"""
        SELECT count(*), {outer} FROM (
            SELECT {inner} FROM {quote_ident(table)} WHERE {key_sql} IS NOT NULL
            GROUP BY {key_sql} HAVING count(*) > 1)""").fetchall()[0]
    return int(row[0]), [int(x) for x in row[1:]]


def plan_rollup(con, table: str, specs: list[ColumnSpec], guess: ShapeGuess) -> RollupPlan:
    key = next(s for s in specs if s.key == guess.key)
    key_sql = _account_key(quote_ident(key.key))
    others = [s for s in specs if s.key != key.key]
    multi, differ = _disagreement_counts(con, table, key_sql, others)
    attributes, aggregated, disagreements = [], [], []
    noun = ROW_NOUNS[guess.shape]
    for s, d in zip(others, differ):
        kind = ROLES[s.role].kind
        header = s.header or s.key
        row_level = (s.role in _ROW_LEVEL_ROLES or (multi and d > DISAGREE_SHARE * multi)
                     or (guess.shape == "lines" and kind == "number"
                         and re.search(r"amount|price|total|quantity|qty|value|revenue|cost|sum|mrr|arr|paid",
                                       normalise_header(header))))
        if guess.shape == "deals" and s.role in ("deal_stage", "arr", "close_date"):
            continue  # the opportunities roll-up owns these
        if not row_level:
            attributes.append(s)
            if d:
                disagreements.append({"column": header, "key": s.key, "accounts": d, "of": multi,
                                      "message": f"{header}: values differ within {d:,} of {multi:,} accounts with "
                                                 f"several {noun}; the most frequent value is kept."})
            continue
        col = quote_ident(s.key)
        v = f"icp_nullify({col})"
        converted = (guess.shape == "contacts" and re.search(r"convert|status|stage", normalise_header(header))
                     and con.execute(f"SELECT count(*) FILTER (WHERE lower({v}) LIKE '%convert%') > 0 "
                                     f"FROM {quote_ident(table)}").fetchall()[0][0])
        if converted:  # 'Closed - Converted' / 'Converted' against every other status
            aggregated.append((s, [("Converted (share)",
                                    f"avg(CASE WHEN lower({v}) LIKE '%not converted%' OR lower({v}) LIKE "
                                    f"'%unconverted%' THEN 0.0 WHEN lower({v}) LIKE '%convert%' THEN 1.0 "
                                    f"WHEN {v} IS NOT NULL THEN 0.0 END)"),
                                   (f"{header} (most frequent)", f"mode({v})")]))
            continue
        if guess.shape == "contacts" and s.role == "job_title":
            aggregated.append((s, [(f"{header} (all)", f"string_agg(DISTINCT {v}, '; ' ORDER BY {v})")]))
            continue
        if kind in _TEXTLIKE:
            if s.role == "record_id" or re.search(r"\b(id|nbr|number|no)\b|id$", normalise_header(header)):
                aggregated.append((s, [(f"{header} (distinct)", f"count(DISTINCT {v})")]))
            continue
        if kind in ("number",) or ROLES[s.role].kind == "number":
            num = clean_expression("number", col, s.scale)
            aggregated.append((s, [(f"{header} (sum)", f"sum({num})"), (f"{header} (mean)", f"avg({num})")]))
        elif kind in ("date", "year"):
            date = clean_expression(kind, col, 1.0, s.date_formats)
            aggregated.append((s, [(f"{header} (first)", f"min({date})"), (f"{header} (last)", f"max({date})")]))
        elif kind == "boolean":
            aggregated.append((s, [(f"{header} (share yes)",
                                    f"avg(CASE WHEN icp_parse_bool({v}) THEN 1.0 WHEN icp_parse_bool({v}) = FALSE "
                                    f"THEN 0.0 END)")]))
        elif guess.shape == "contacts":
            aggregated.append((s, [(f"{header} (all)", f"string_agg(DISTINCT {v}, '; ' ORDER BY {v})"),
                                   (f"{header} (most frequent)", f"mode({v})")]))
        else:
            aggregated.append((s, [(f"{header} (most frequent)", f"mode({v})"),
                                   (f"{header} (distinct)", f"count(DISTINCT {v})")]))
    return RollupPlan(key=key, attributes=attributes, aggregated=aggregated, disagreements=disagreements)


def roll_up_rows(con: duckdb.DuckDBPyConnection, rows_table: str, out_table: str, specs: list[ColumnSpec],
                 guess: ShapeGuess) -> tuple[list[str], list[str], dict]:
    """Create raw text table `out_table` with one row per account key of `rows_table`.

    Returns (column names of out_table, their headers, report). The first column is the key.
    """
    plan = plan_rollup(con, rows_table, specs, guess)
    key_sql = _account_key(quote_ident(plan.key.key))
    names, headers, select = [], [], []

    def add(header: str, sql: str) -> None:
        name = f"icp_c{len(names)}"
        names.append(name)
        headers.append(header)
        select.append(f"CAST({sql} AS VARCHAR) AS {quote_ident(name)}")

    add(plan.key.header, f"mode(icp_nullify({quote_ident(plan.key.key)}))")
    for s in plan.attributes:
        add(s.header, f"mode(icp_nullify({quote_ident(s.key)}))")
    add(f"{ROW_NOUNS[guess.shape].capitalize()} (count)", "count(*)")
    if guess.shape == "deals":
        stage = next((s for s in specs if s.role == "deal_stage"), None)
        close = next((s for s in specs if s.role == "close_date"), None)
        if stage is not None:
            raw = f"icp_nullify({quote_ident(stage.key)})"
            order = (clean_expression("date", quote_ident(close.key), 1.0, close.date_formats) if close
                     else "rowid")
            add("Latest stage", f"arg_max({raw}, {order}) FILTER (WHERE {raw} IS NOT NULL)")
    for _s, outputs in plan.aggregated:
        for header, sql in outputs:
            add(header, sql)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(out_table)} AS "
                f"SELECT {', '.join(select)} FROM {quote_ident(rows_table)} "
                f"WHERE {key_sql} IS NOT NULL GROUP BY {key_sql} ORDER BY min(rowid)")
    report = {"disagreements": plan.disagreements,
              "attributes": [s.header for s in plan.attributes],
              "aggregated": [h for _s, outs in plan.aggregated for h, _ in outs]}
    return names, headers, report
