"""Scoring: trait matrix -> score -> tiers -> reasons, vectorised.

Each trait's match vector (one boolean per account) is computed once per trait *definition*
in DuckDB (`trait_condition_sql`) and cached on the `AccountMatrix`; moving a weight slider only
recombines the cached vectors with numpy (`score_accounts`).

Score formula (documented in the README): with weights w_i and match m_i ∈ {0, 1},

    sum   = Σ w_i · m_i
    low   = Σ min(w_i, 0)        (the lowest sum the traits allow)
    high  = Σ max(w_i, 0)        (the highest sum)
    score = 100 · (sum − low) / (high − low)       (0 when high = low)

Every trait counts in the sum, whatever its class. An account is *Disqualified* when it fails
a must-have or matches a stay-away trait marked "disqualify"; otherwise its tier is A when
score ≥ the A line, B when ≥ the B line, C when ≥ the C line, else D.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clean import quote_ident
from .export import FORMULA_PREFIXES
from .profile import DISQUALIFIED, TIERS, Binding, Profile, Trait, TierRule, resolve_profile, trait_ref_for
from .roles import ColumnSpec

TIER_LABELS = TIERS + (DISQUALIFIED,)  # tier code 0..4
TIER_COLORS = {"A": "#1b7f3b", "B": "#7cb342", "C": "#f2b701", "D": "#e07b39", DISQUALIFIED: "#8d8d8d"}
MINUS = "\u2212"


# --------------------------------------------------------------------------- SQL for one trait

def sql_literal(value) -> str:
    """A SQL literal for a user value: text quoted with '' escaping, numbers via repr."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            raise ValueError("non-finite number in SQL")
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def trait_condition_sql(trait: Trait, column: str, kind: str) -> str:
    """A SQL boolean (never NULL) that is TRUE where an account matches `trait`.

    `column` is the clean column's name in the accounts table; it is quoted here, and every
    value from the profile goes in as an escaped literal.
    """
    col = quote_ident(column)
    if trait.rule == "in_set":
        values = ", ".join(sql_literal(str(v).strip().lower()) for v in trait.values)
        expr = f"lower(trim(CAST({col} AS VARCHAR))) IN ({values})"
    elif trait.rule == "contains_any":
        values = ", ".join(sql_literal(str(v).strip().lower()) for v in trait.values)
        expr = f"list_has_any(list_transform({col}, lambda x: lower(trim(x))), [{values}])"
    elif trait.rule == "range":
        parts = []
        if trait.min is not None:
            parts.append(f"{col} >= {sql_literal(trait.min)}")
        if trait.max is not None:
            parts.append(f"{col} <= {sql_literal(trait.max)}")
        expr = " AND ".join(parts)
    elif trait.rule == "is_true":
        expr = f"{col} = TRUE"
    elif trait.rule == "is_false":
        expr = f"{col} = FALSE"
    elif trait.rule == "missing":
        expr = f"{col} IS NULL" + (f" OR len({col}) = 0" if kind == "list" else "")
    else:  # validate_trait keeps this unreachable
        raise ValueError(f"unknown rule {trait.rule!r}")
    return f"coalesce(({expr}), FALSE)"


# --------------------------------------------------------------------------- the account matrix

def _outcome_columns(specs: list[ColumnSpec]) -> dict[str, ColumnSpec]:
    """The columns that carry outcomes: won/lost, churned, ARR (first by role, then roll-up)."""
    by_role = {s.role: s for s in specs}
    by_key = {s.key: s for s in specs}
    out = {}
    if "deal_stage" in by_role:
        out["won"] = by_role["deal_stage"]
    elif "opp_outcome" in by_key:
        out["won"] = by_key["opp_outcome"]
    if "churned" in by_role:
        out["churned"] = by_role["churned"]
    if "arr" in by_role:
        out["arr"] = by_role["arr"]
    elif "opp_won_value" in by_key:
        out["arr"] = by_key["opp_won_value"]
    return out


DISPLAY_ROLES = ("account_name", "account_id", "industry", "country", "employees", "annual_revenue", "arr")


class AccountMatrix:
    """One dataset's accounts in memory for scoring: outcomes, a few display columns, and the
    cached match vector of every trait definition seen so far (bounded LRU).

    Shared between sessions (st.cache_resource); thread-safe. The caches only speed things up:
    a result never depends on an entry still being cached.
    """

    MAX_CACHED_TRAITS = 256  # trait vectors kept (a profile has at most profile.MAX_TRAITS traits)
    MAX_CACHED_PATTERNS = 16

    def __init__(self, connect, specs: list[ColumnSpec]):
        """connect: a zero-argument callable returning a context manager that yields a DuckDB
        connection on the dataset (e.g. lambda: store.open_dataset(id))."""
        self._connect = connect
        self.specs = specs
        self.outcome_specs = _outcome_columns(specs)
        self._lock = threading.Lock()
        self._matches: OrderedDict[str, np.ndarray] = OrderedDict()
        self._options: dict = {}
        self._memo: OrderedDict = OrderedDict()
        self._search_text: np.ndarray | None = None
        self._patterns: OrderedDict[tuple, Patterns] = OrderedDict()
        by_role = {s.role: s for s in specs}
        display = [by_role[r] for r in DISPLAY_ROLES if r in by_role]
        if "account_name" not in by_role and "account_id" not in by_role and specs:
            display.insert(0, specs[0])
        self.display_specs = display
        sel = ["row_id"] + [quote_ident(s.key) for s in display]
        o = self.outcome_specs
        won_sql = (f"CASE {quote_ident(o['won'].key)} WHEN 'won' THEN 1 WHEN 'lost' THEN 0 WHEN 'open' THEN 2 ELSE -1 END"
                   if "won" in o else "-1")
        churn_sql = (f"CASE WHEN {quote_ident(o['churned'].key)} THEN 1 WHEN NOT {quote_ident(o['churned'].key)} "
                     f"THEN 0 ELSE -1 END" if "churned" in o else "-1")
        arr_sql = f"CAST({quote_ident(o['arr'].key)} AS DOUBLE)" if "arr" in o else "CAST(NULL AS DOUBLE)"
        with connect() as con:
            outcomes = con.execute(
                f"SELECT CAST({won_sql} AS TINYINT) AS won, CAST({churn_sql} AS TINYINT) AS churned, "
                f"{arr_sql} AS arr FROM accounts ORDER BY row_id").fetchnumpy()
            self.display = con.execute(
                f"SELECT {', '.join(dict.fromkeys(sel))} FROM accounts ORDER BY row_id").df()
        self.won = np.asarray(outcomes["won"], dtype=np.int8)
        self.churned = np.asarray(outcomes["churned"], dtype=np.int8)
        arr = outcomes["arr"]
        self.arr = np.asarray(arr.filled(np.nan) if hasattr(arr, "filled") else arr, dtype=np.float64)
        self.n = len(self.won)
        self.display.columns = ["row_id"] + [s.header for s in display][: len(self.display.columns) - 1]
        self.has = {"won": "won" in o, "churned": "churned" in o, "arr": "arr" in o}
        # won / lost deals per account: the account's own stage, or its rolled-up opportunities
        keys = {s.key: s for s in specs}
        if "won" in o and o["won"].source == "opportunities" and {"opp_won_count", "opp_lost_count"} <= set(keys):
            self.won_deals = np.nan_to_num(self.column_array(keys["opp_won_count"]))
            self.lost_deals = np.nan_to_num(self.column_array(keys["opp_lost_count"]))
        else:
            self.won_deals = (self.won == 1).astype(np.float64)
            self.lost_deals = (self.won == 0).astype(np.float64)

    def memo(self, key, compute):
        """A small shared memo for derived per-dataset results (e.g. per-pattern outcome counts)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > 32:
                self._memo.popitem(last=False)
        return value

    def column_array(self, spec: ColumnSpec) -> np.ndarray:
        """A numeric column as float64 in row order (NaN where empty), cached."""
        key = ("num", spec.key)
        with self._lock:
            if key in self._options:
                return self._options[key]
        with self._connect() as con:
            arr = con.execute(f"SELECT CAST({quote_ident(spec.key)} AS DOUBLE) AS v FROM accounts "
                              f"ORDER BY row_id").fetchnumpy()["v"]
        arr = np.asarray(arr.filled(np.nan) if hasattr(arr, "filled") else arr, dtype=np.float64)
        with self._lock:
            self._options[key] = arr
        return arr

    def column_codes(self, spec: ColumnSpec) -> tuple[np.ndarray, list[str]]:
        """A categorical column as (codes, values): codes[i] indexes values, -1 where empty.
        Values are the clean text; cached."""
        key = ("codes", spec.key)
        with self._lock:
            if key in self._options:
                return self._options[key]
        col = quote_ident(spec.key)
        with self._connect() as con:
            values = [r[0] for r in con.execute(
                f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM accounts WHERE {col} IS NOT NULL ORDER BY v").fetchall()]
            codes = con.execute(
                f"SELECT coalesce(d.i, 0) - 1 AS c FROM accounts a LEFT JOIN "
                f"(SELECT unnest(?::VARCHAR[]) AS v, unnest(range(1, len(?::VARCHAR[]) + 1)) AS i) d "
                f"ON CAST(a.{col} AS VARCHAR) = d.v ORDER BY a.row_id", [values, values]).fetchnumpy()["c"]
        out = (np.asarray(codes, dtype=np.int32), values)
        with self._lock:
            self._options[key] = out
        return out

    def search(self, text: str) -> np.ndarray:
        """Accounts whose name or id contains `text` (case-insensitive), as a boolean mask."""
        with self._lock:
            if self._search_text is None:
                cols = [self.display[s.header].astype("string").fillna("").str.lower()
                        for s in self.display_specs[:2]]
                joined = cols[0] if len(cols) == 1 else cols[0] + "\x1f" + cols[1]
                self._search_text = joined.to_numpy(dtype=object) if cols else np.full(self.n, "", dtype=object)
        needle = text.strip().lower()
        if not needle:
            return np.ones(self.n, dtype=bool)
        return pd.Series(self._search_text).str.contains(needle, regex=False).to_numpy(dtype=bool)

    def value_options(self, spec: ColumnSpec, limit: int = 200) -> dict:
        """The column's real values, to offer when building a trait: {"values": [(value, count)],
        most common first} for categories and technologies, {"quantiles": {...}} for numbers."""
        key = ("options", spec.key, spec.kind)
        with self._lock:
            if key in self._options:
                return self._options[key]
        col = quote_ident(spec.key)
        with self._connect() as con:
            if spec.kind == "list":
                rows = con.execute(f"SELECT v, count(*) AS n FROM (SELECT unnest({col}) AS v FROM accounts) "
                                   f"WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?", [limit]).fetchall()
                out = {"values": rows}
            elif spec.kind in ("number", "year"):
                q = con.execute(f"SELECT min({col}), quantile_cont({col}, [0.1, 0.25, 0.5, 0.75, 0.9]), max({col}), "
                                f"count({col}) FROM accounts").fetchone()
                out = {"quantiles": ({"min": q[0], "p10": q[1][0], "p25": q[1][1], "median": q[1][2],
                                      "p75": q[1][3], "p90": q[1][4], "max": q[2]} if q[3] else {})}
            elif spec.kind in ("boolean", "churn", "date"):
                out = {}
            else:
                rows = con.execute(f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM accounts "
                                   f"WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT ?", [limit]).fetchall()
                out = {"values": rows}
        with self._lock:
            self._options[key] = out
        return out

    def patterns(self, bound: list[tuple[Trait, ColumnSpec]]) -> Patterns:
        """The accounts grouped by match pattern for these traits (cached per set of trait
        definitions, so a weight, class or tier change reuses it)."""
        key = ("patterns",) + tuple(t.definition_key() for t, _ in bound)
        with self._lock:
            hit = self._patterns.get(key)
            if hit is not None:
                self._patterns.move_to_end(key)
                return hit
        patterns = group_patterns(self.matches(bound), self)
        with self._lock:
            self._patterns[key] = patterns
            while len(self._patterns) > self.MAX_CACHED_PATTERNS:
                self._patterns.popitem(last=False)
        return patterns

    def technology_flags(self, spec: ColumnSpec, limit: int) -> tuple[list[str], np.ndarray]:
        """The `limit` most common values of a multi-valued column and an (n_accounts, len(values))
        boolean matrix: does each account list each value (cached like any trait match)."""
        values = [v for v, _ in self.value_options(spec, limit=limit)["values"]]
        if not values:
            return [], np.zeros((self.n, 0), dtype=bool)
        ref = trait_ref_for(spec)
        return values, self.matches([(Trait(label=v, rule="contains_any", values=[v], **ref), spec) for v in values])

    def matches(self, bound: list[tuple[Trait, ColumnSpec]]) -> np.ndarray:
        """An (n_accounts, n_traits) boolean matrix for the bound traits, in their order.
        Definitions not seen before are computed together in one DuckDB query."""
        keys = [t.definition_key() for t, _ in bound]
        # Every vector needed is held in `found` (a local reference) before the matrix is built:
        # the bounded cache is only an accelerator, so another session evicting an entry
        # meanwhile (or more traits than the cache holds) can never make a lookup fail.
        with self._lock:
            found = {}
            for k in keys:
                v = self._matches.get(k)
                if v is not None:
                    self._matches.move_to_end(k)
                    found[k] = v
        todo = {k: (t, s) for k, (t, s) in zip(keys, bound) if k not in found}
        if todo:
            exprs = [f"{trait_condition_sql(t, s.key, s.kind)} AS m{i}" for i, (t, s) in enumerate(todo.values())]
            with self._connect() as con:
                cols = con.execute(f"SELECT {', '.join(exprs)} FROM accounts ORDER BY row_id").fetchnumpy()
            new = {k: np.asarray(cols[f"m{i}"], dtype=bool) for i, k in enumerate(todo)}
            found.update(new)
            with self._lock:
                for k, v in new.items():
                    self._matches[k] = v
                    self._matches.move_to_end(k)
                while len(self._matches) > self.MAX_CACHED_TRAITS:
                    self._matches.popitem(last=False)
        vectors = [found[k] for k in keys]
        if not vectors:
            return np.zeros((self.n, 0), dtype=bool)
        return np.column_stack(vectors)


# --------------------------------------------------------------------------- score, tiers

@dataclass
class Patterns:
    """Accounts grouped by which traits they match. A weight change only re-scores the distinct
    match patterns (usually a few hundred, whatever the number of accounts); per-pattern sums
    of the outcomes make tier summaries O(patterns) too."""

    matrix: np.ndarray  # (U, k) bool: the distinct match patterns
    inv: np.ndarray  # (n,) pattern of each account
    count: np.ndarray  # (U,) accounts per pattern
    order: np.ndarray  # (n,) account positions grouped by pattern, row order within a pattern
    offsets: np.ndarray  # (U + 1,) start of each pattern's accounts in `order`
    agg: dict[str, np.ndarray] | None = None  # per-pattern won, lost, churned, churn_known, arr

    @property
    def n(self) -> int:
        return len(self.inv)


def group_patterns(matrix: np.ndarray, accounts: "AccountMatrix | None" = None) -> Patterns:
    """Group the rows of a boolean match matrix into distinct patterns (with outcome sums)."""
    n, k = matrix.shape
    if k == 0:
        inv = np.zeros(n, dtype=np.int64)
        uniq = np.zeros((1 if n else 0, 0), dtype=bool)
    else:
        packed = np.packbits(matrix, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        uniq = matrix[first]
    inv = inv.astype(np.int64).ravel()
    u = len(uniq)
    count = np.bincount(inv, minlength=u)
    order = np.argsort(inv, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(count)])
    agg = None
    if accounts is not None:
        agg = {
            "won": np.bincount(inv, weights=accounts.won_deals, minlength=u),
            "lost": np.bincount(inv, weights=accounts.lost_deals, minlength=u),
            "churned": np.bincount(inv, weights=(accounts.churned == 1), minlength=u),
            "churn_known": np.bincount(inv, weights=(accounts.churned >= 0), minlength=u),
            "arr": np.bincount(inv, weights=np.nan_to_num(accounts.arr), minlength=u),
        }
    return Patterns(uniq, inv, count, order, offsets, agg)


@dataclass
class ScoreResult:
    """Scores and tiers for one profile, held per match pattern and expanded to accounts on use."""

    traits: list[Trait]  # the bound traits, in matrix column order
    patterns: Patterns
    weights: np.ndarray  # (k,) int
    pattern_score: np.ndarray  # (U,) float64, 0..100
    pattern_tier: np.ndarray  # (U,) int8: 0=A 1=B 2=C 3=D 4=Disqualified
    thresholds: dict[str, float]  # the A/B/C lines used (solved when the rule is a mix)
    low: int
    high: int
    pattern_failed_must: np.ndarray
    pattern_stay_away: np.ndarray
    pattern_caution: np.ndarray

    @property
    def step(self) -> float:
        """Score points per weight point."""
        return 100.0 / (self.high - self.low) if self.high > self.low else 0.0

    @property
    def n(self) -> int:
        return self.patterns.n

    # per-account views (O(n): for exports and tests, not for the slider path)
    @property
    def score(self) -> np.ndarray:
        return self.pattern_score[self.patterns.inv]

    @property
    def tier(self) -> np.ndarray:
        return self.pattern_tier[self.patterns.inv]

    @property
    def failed_must(self) -> np.ndarray:
        return self.pattern_failed_must[self.patterns.inv]

    @property
    def stay_away_hit(self) -> np.ndarray:
        return self.pattern_stay_away[self.patterns.inv]

    @property
    def caution_hit(self) -> np.ndarray:
        return self.pattern_caution[self.patterns.inv]


def score_formula(matrix: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(score 0..100, low, high) for a boolean match matrix and integer weights."""
    w = np.asarray(weights, dtype=np.int64)
    low, high = int(np.minimum(w, 0).sum()), int(np.maximum(w, 0).sum())
    if matrix.shape[1] == 0 or high == low:
        return np.zeros(matrix.shape[0]), low, high
    total = matrix.astype(np.int64) @ w
    return (total.astype(np.float64) - low) * (100.0 / (high - low)), low, high


def solve_mix_thresholds(score: np.ndarray, eligible: np.ndarray, mix: dict[str, float],
                         counts: np.ndarray | None = None) -> dict[str, float]:
    """A/B/C lines whose tiers come closest to the target mix (percent of eligible accounts).

    `counts` gives the number of accounts behind each entry of `score` (default one each).
    Scores take few distinct values, so ties keep a tier line from cutting exactly at the target;
    each line is placed on the distinct score whose share at or above it is nearest the target.
    A line that should take nobody is +inf.
    """
    w = np.ones(len(score), dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    s, w = score[eligible], w[eligible]
    total = w.sum()
    if total == 0:
        return {"A": math.inf, "B": math.inf, "C": math.inf}
    values, inv = np.unique(s, return_inverse=True)
    per_value = np.bincount(inv.ravel(), weights=w, minlength=len(values))
    values, per_value = values[::-1], per_value[::-1]
    cum = np.concatenate([[0.0], np.cumsum(per_value) / total])  # share with score >= values[i-1]
    lines = np.concatenate([[math.inf], values])
    out, floor_idx = {}, 0
    target = 0.0
    for tier in ("A", "B", "C"):
        target += float(mix[tier]) / 100.0
        idx = int(np.argmin(np.abs(cum[floor_idx:] - target))) + floor_idx
        out[tier] = float(lines[idx])
        floor_idx = idx
    return out


def assign_tiers(score: np.ndarray, disqualified: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    tier = np.full(score.shape, 3, dtype=np.int8)
    tier[score >= thresholds["C"]] = 2
    tier[score >= thresholds["B"]] = 1
    tier[score >= thresholds["A"]] = 0
    tier[disqualified] = 4
    return tier


def score_accounts(matches: "np.ndarray | Patterns", traits: list[Trait], rule: TierRule) -> ScoreResult:
    """Score every account and assign tiers (see the module docstring for the formula).

    `matches` is the (accounts × traits) boolean matrix, or the same grouped into Patterns.
    """
    # duck-typed: a Patterns from a cached AccountMatrix may predate a module reload
    patterns = matches if hasattr(matches, "inv") else group_patterns(np.asarray(matches, dtype=bool))
    m = patterns.matrix
    weights = np.array([t.weight for t in traits], dtype=np.int64)
    score, low, high = score_formula(m, weights)
    u = m.shape[0]
    cls = np.array([t.trait_class for t in traits]) if traits else np.array([], dtype=str)
    must = cls == "must_have"
    stay = cls == "stay_away"
    dq_stay = np.array([t.trait_class == "stay_away" and t.disqualify for t in traits], dtype=bool)
    failed_must = ~m[:, must].all(axis=1) if must.any() else np.zeros(u, bool)
    stay_hit = m[:, stay].any(axis=1) if stay.any() else np.zeros(u, bool)
    caution_hit = m[:, cls == "caution"].any(axis=1) if (cls == "caution").any() else np.zeros(u, bool)
    disq = failed_must | (m[:, dq_stay].any(axis=1) if dq_stay.any() else np.zeros(u, bool))
    if rule.mode == "mix":
        thresholds = solve_mix_thresholds(score, ~disq, rule.mix, patterns.count)
    else:
        thresholds = {k: float(rule.thresholds[k]) for k in ("A", "B", "C")}
    tier = assign_tiers(score, disq, thresholds)
    return ScoreResult(traits, patterns, weights, score, tier, thresholds, low, high,
                       failed_must, stay_hit, caution_hit)


def score_profile(accounts: AccountMatrix, profile: Profile) -> tuple[ScoreResult, Binding]:
    """Bind the profile to the dataset's columns and score every account."""
    binding = resolve_profile(profile, accounts.specs)
    patterns = accounts.patterns(binding.traits)
    return score_accounts(patterns, [t for t, _ in binding.traits], profile.tier_rule), binding


# --------------------------------------------------------------------------- reasons

def signed_weight(w: int) -> str:
    """A trait weight as shown in reasons: +5, −3 (a true minus sign), 0."""
    return f"+{w}" if w > 0 else (f"{MINUS}{-w}" if w < 0 else "0")


def lead_label(label: str) -> str:
    """A trait label placed at the start of a reason: in quotes when it starts like a formula
    (“-EMEA”), so reasons never begin with =, +, -, @, a tab or a CR."""
    return f"“{label}”" if str(label).startswith(FORMULA_PREFIXES) else str(label)


def reason_piece(t: Trait) -> str:
    """One matched trait in the reasons: 'Industry in Fintech (+5)', 'Government (−5, stay away)'.
    The label comes first, so the text never starts with a sign a spreadsheet would take for a
    formula (and get an apostrophe in CRM exports). The warehouse SQL writes the same text."""
    cls = {"caution": ", caution", "stay_away": ", stay away"}.get(t.trait_class, "")
    return f"{lead_label(t.label)} ({signed_weight(t.weight)}{cls})"


def flag_piece(t: Trait) -> str | None:
    """The flag a trait raises ('Caution: …', 'Stay away: …', 'Disqualified: fails must-have “…”'),
    or None for a nice-to-have. Raised when a caution / stay-away matches or a must-have fails."""
    if t.trait_class == "must_have":
        return f"Disqualified: fails must-have “{t.label}”"
    if t.trait_class == "stay_away":
        return f"{'Disqualified: ' if t.disqualify else ''}Stay away: {t.label}"
    if t.trait_class == "caution":
        return f"Caution: {t.label}"
    return None


def reason_traits(traits: list[Trait]) -> list[int]:
    """The traits that appear in reasons when matched, in reason order (weight 0 only for
    caution and stay-away)."""
    return [i for i in _reason_order(traits)
            if traits[i].weight != 0 or traits[i].trait_class in ("caution", "stay_away")]


def _reason_order(traits: list[Trait]) -> list[int]:
    """Largest absolute weight first; positive before negative on ties."""
    return sorted(range(len(traits)), key=lambda i: (-abs(traits[i].weight), -traits[i].weight, i))


def explain_accounts(result: ScoreResult, rows: np.ndarray) -> pd.DataFrame:
    """Reasons, flags and next-tier hints for the given row positions (vectorised per trait).

    Columns: reasons ('Industry in fintech (+5) · Region EMEA (−2, caution)'), flags
    ('Disqualified: fails must-have …', 'Stay away: …', 'Caution: …'), next_step
    ('Would reach B with: Tech has Snowflake (+3)').
    """
    rows = np.asarray(rows, dtype=np.int64)
    # reasons, flags and hints depend only on the match pattern: build the text once per
    # distinct pattern among `rows` (hundreds), then spread it over the rows (up to millions)
    pats, back = np.unique(result.patterns.inv[rows], return_inverse=True)
    m = result.patterns.matrix[pats]
    n = len(pats)
    traits = result.traits
    reasons = np.full(n, "", dtype=object)
    flags = np.full(n, "", dtype=object)
    sep = " · "
    for i in reason_traits(traits):
        piece = reason_piece(traits[i])
        reasons = np.where(m[:, i], np.where(reasons == "", piece, reasons + sep + piece), reasons)
    for i, t in enumerate(traits):
        piece = flag_piece(t)
        if piece is None:
            continue
        on = ~m[:, i] if t.trait_class == "must_have" else m[:, i]
        flags = np.where(on, np.where(flags == "", piece, flags + sep + piece), flags)
    hints = _pattern_hints(result, pats)
    return pd.DataFrame({"reasons": reasons[back], "flags": flags[back], "next_step": hints[back]})


def next_tier_hints(result: ScoreResult, rows: np.ndarray) -> np.ndarray:
    """For accounts just below a tier line: the single trait change (an unmatched positive trait
    matched, or a matched negative one dropped) that lifts them over the next line, preferring
    the smallest sufficient change. Empty where no single change is enough."""
    rows = np.asarray(rows, dtype=np.int64)
    pats, back = np.unique(result.patterns.inv[rows], return_inverse=True)
    return _pattern_hints(result, pats)[back]


def _pattern_hints(result: ScoreResult, pat: np.ndarray) -> np.ndarray:
    """next_tier_hints for match patterns `pat`."""
    n = len(pat)
    out = np.full(n, "", dtype=object)
    if n == 0 or result.step == 0 or not result.traits:
        return out
    score = result.pattern_score[pat]
    tier = result.pattern_tier[pat]
    lines = np.array([math.inf, result.thresholds["A"], result.thresholds["B"], result.thresholds["C"], math.inf])
    target = lines[np.clip(tier, 0, 4)]  # the line of the tier above (A has none)
    gap = np.where((tier >= 1) & (tier <= 3), target - score, np.inf)
    best_gain = np.full(n, np.inf)
    m = result.patterns.matrix[pat]
    for i, t in enumerate(result.traits):
        if t.disqualifies:
            continue  # must-haves are all matched here; a disqualifying stay-away is not a lever
        gain = abs(t.weight) * result.step
        if gain == 0:
            continue
        lever = ~m[:, i] if t.weight > 0 else m[:, i]
        ok = lever & (gain >= gap - 1e-9) & (gain < best_gain)
        if not ok.any():
            continue
        verb = "with" if t.weight > 0 else "without"
        next_tier = np.array(TIER_LABELS, dtype=object)[np.clip(tier - 1, 0, 4)]
        text = "Would reach " + next_tier + f" {verb}: {t.label} ({signed_weight(t.weight)})"
        out = np.where(ok, text, out)
        best_gain = np.where(ok, gain, best_gain)
    return out


# --------------------------------------------------------------------------- summaries

def tier_summary(result: ScoreResult, accounts: AccountMatrix) -> pd.DataFrame:
    """Per tier (A, B, C, D, Disqualified): accounts, share, ARR, won/lost, win rate, churn rate.
    Won/lost count deals when opportunities were rolled up (a deal win rate), else accounts."""
    p = result.patterns
    if p.agg is not None:  # O(patterns)
        tier, weights, agg = result.pattern_tier.astype(np.int64), p.count, p.agg
    else:  # O(accounts)
        tier, weights = result.tier.astype(np.int64), np.ones(p.n)
        agg = {"won": accounts.won_deals, "lost": accounts.lost_deals, "churned": accounts.churned == 1,
               "churn_known": accounts.churned >= 0, "arr": np.nan_to_num(accounts.arr)}
    n = max(p.n, 1)
    count = np.bincount(tier, weights=weights, minlength=5)
    won, lost = (np.bincount(tier, weights=agg[k], minlength=5) for k in ("won", "lost"))
    churned, churn_known = (np.bincount(tier, weights=agg[k], minlength=5) for k in ("churned", "churn_known"))
    arr = np.bincount(tier, weights=agg["arr"], minlength=5)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = pd.DataFrame({
            "tier": list(TIER_LABELS),
            "accounts": count.astype(np.int64),
            "share": count / n,
            "arr": arr if accounts.has["arr"] else np.nan,
            "won": won, "lost": lost,
            "win_rate": np.where(won + lost > 0, won / (won + lost), np.nan) if accounts.has["won"] else np.nan,
            "churn_rate": (np.where(churn_known > 0, churned / churn_known, np.nan)
                           if accounts.has["churned"] else np.nan),
        })
    return df


def score_histogram(result: ScoreResult, bin_width: float = 2.0) -> pd.DataFrame:
    """Counts of accounts per score bin and tier (a small frame for the chart, whatever n).

    When the traits allow few distinct scores (a weight point is worth ≥ 1.5 score points),
    each possible score gets its own bar starting at that score, so a tier line drawn at a
    threshold falls exactly between tiers; otherwise bins are `bin_width` wide.
    """
    tier = result.pattern_tier.astype(np.int64)
    w = result.patterns.count
    if result.step >= 1.5:
        values, inv = np.unique(np.round(result.pattern_score, 6), return_inverse=True)
        inv = inv.ravel()
        counts = np.bincount(inv * 5 + tier, weights=w, minlength=len(values) * 5).reshape(len(values), 5)
        starts, width = values, result.step * 0.85
    else:
        nbins = int(math.ceil(100 / bin_width))
        b = np.clip((result.pattern_score // bin_width).astype(np.int64), 0, nbins - 1)
        counts = np.bincount(b * 5 + tier, weights=w, minlength=nbins * 5).reshape(nbins, 5)
        starts, width = np.arange(nbins) * bin_width, bin_width
    bins, tiers = np.nonzero(counts)
    return pd.DataFrame({
        "bin_start": starts[bins], "bin_end": np.minimum(starts[bins] + width, 100.0 + width),
        "tier": np.array(TIER_LABELS, dtype=object)[tiers], "accounts": counts[bins, tiers].astype(np.int64),
    })


def ranked_rows(result: ScoreResult, mask: np.ndarray | None = None, limit: int | None = None,
                tiers: list[int] | None = None) -> np.ndarray:
    """Account positions sorted by tier (A first, Disqualified last), then score high to low,
    then file order. `tiers` keeps only those tier codes (cheap: decided per pattern); `mask`
    is an optional per-account filter (e.g. a search)."""
    p = result.patterns
    keep = np.ones(len(p.count), bool) if tiers is None else np.isin(result.pattern_tier, tiers)
    if mask is not None:  # a search: filter the accounts first, then sort the few left
        rows = np.flatnonzero(mask & keep[p.inv])
        pat = p.inv[rows]
        rows = rows[np.lexsort((rows, -result.pattern_score[pat], result.pattern_tier[pat]))]
        return rows if limit is None else rows[:limit]
    pats = np.flatnonzero(keep)
    pats = pats[np.lexsort((-result.pattern_score[pats], result.pattern_tier[pats]))]
    if limit is not None and len(pats):
        # only as many patterns as fill `limit` rows, plus any tied with the last one
        cum = np.cumsum(p.count[pats])
        j = min(int(np.searchsorted(cum, limit)), len(pats) - 1)
        last = (result.pattern_tier[pats[j]], result.pattern_score[pats[j]])
        tied = (result.pattern_tier[pats] == last[0]) & (result.pattern_score[pats] == last[1])
        pats = pats[: max(j + 1, int(np.flatnonzero(tied).max()) + 1)]
    if len(pats) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(pats) <= 2000:
        rows = np.concatenate([p.order[p.offsets[i]:p.offsets[i + 1]] for i in pats])
    else:  # many patterns: one stable sort of the accounts by their pattern's rank
        rank = np.full(len(p.count), len(p.count), dtype=np.int64)
        rank[pats] = np.arange(len(pats))
        rows = np.argsort(rank[p.inv], kind="stable")[: int(p.count[pats].sum())]
    # patterns with equal tier and score interleave: order those rows by file position
    pat = p.inv[rows]
    rows = rows[np.lexsort((rows, -result.pattern_score[pat], result.pattern_tier[pat]))]
    return rows if limit is None else rows[:limit]


def count_rows(result: ScoreResult, tiers: list[int]) -> int:
    return int(result.patterns.count[np.isin(result.pattern_tier, tiers)].sum())


def scored_table(result: ScoreResult, accounts: AccountMatrix, rows: np.ndarray) -> pd.DataFrame:
    """The accounts at `rows` with score, tier, reasons, flags and next step."""
    base = accounts.display.iloc[rows].reset_index(drop=True)
    expl = explain_accounts(result, rows)
    pat = result.patterns.inv[rows]
    out = pd.DataFrame({"ICP Score": np.round(result.pattern_score[pat], 1),
                        "ICP Tier": np.array(TIER_LABELS, dtype=object)[result.pattern_tier[pat]]})
    return pd.concat([base, out, expl.rename(columns={"reasons": "Reasons", "flags": "Flags",
                                                      "next_step": "Next step"})], axis=1)


def scored_input_frame(con, specs: list[ColumnSpec], result: ScoreResult) -> pd.DataFrame:
    """Every column of the accounts file as it was read (original headers, raw text), plus
    icp_score, icp_tier, icp_reasons and icp_flags, in file order."""
    own = [s for s in specs if s.source == "accounts"]
    cols = ", ".join(f"{quote_ident(s.key + '__raw')} AS {quote_ident(s.header)}" for s in own)
    frame = con.execute(f"SELECT {cols} FROM accounts ORDER BY row_id").df() if own else pd.DataFrame()
    rows = np.arange(len(result.score))
    expl = explain_accounts(result, rows)
    frame["icp_score"] = np.round(result.score, 2)
    frame["icp_tier"] = np.array(TIER_LABELS, dtype=object)[result.tier]
    frame["icp_reasons"] = expl["reasons"].to_numpy()
    frame["icp_flags"] = expl["flags"].to_numpy()
    return frame


def tier_changes(before: ScoreResult, after: ScoreResult) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts whose tier differs between two scorings of the same dataset: a from → to count
    table (only moves) and the positions of the accounts that moved."""
    a, b = before.tier.astype(np.int64), after.tier.astype(np.int64)
    moved = np.flatnonzero(a != b)
    counts = np.bincount(a[moved] * 5 + b[moved], minlength=25).reshape(5, 5)
    src, dst = np.nonzero(counts)
    labels = np.array(TIER_LABELS, dtype=object)
    table = pd.DataFrame({"from": labels[src], "to": labels[dst], "accounts": counts[src, dst]})
    return table.sort_values("accounts", ascending=False).reset_index(drop=True), moved
