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
from .profile import DISQUALIFIED, TIERS, Binding, Profile, Trait, TierRule, resolve_profile
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

    Shared between sessions (st.cache_resource); thread-safe.
    """

    MAX_CACHED_TRAITS = 256

    def __init__(self, connect, specs: list[ColumnSpec]):
        """connect: a zero-argument callable returning a context manager that yields a DuckDB
        connection on the dataset (e.g. lambda: store.open_dataset(id))."""
        self._connect = connect
        self.specs = specs
        self.outcome_specs = _outcome_columns(specs)
        self._lock = threading.Lock()
        self._matches: OrderedDict[str, np.ndarray] = OrderedDict()
        self._options: dict = {}
        by_role = {s.role: s for s in specs}
        display = [by_role[r] for r in DISPLAY_ROLES if r in by_role]
        if "account_name" not in by_role and "account_id" not in by_role and specs:
            display.insert(0, specs[0])
        self.display_specs = display
        sel = ["row_id"] + [quote_ident(s.key) for s in display]
        o = self.outcome_specs
        won_sql = (f"CASE {quote_ident(o['won'].key)} WHEN 'won' THEN 1 WHEN 'lost' THEN 0 ELSE -1 END"
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

    def matches(self, bound: list[tuple[Trait, ColumnSpec]]) -> np.ndarray:
        """An (n_accounts, n_traits) boolean matrix for the bound traits, in their order.
        Definitions not seen before are computed together in one DuckDB query."""
        keys = [t.definition_key() for t, _ in bound]
        with self._lock:
            todo = {k: (t, s) for k, (t, s) in zip(keys, bound) if k not in self._matches}
        if todo:
            exprs = [f"{trait_condition_sql(t, s.key, s.kind)} AS m{i}" for i, (t, s) in enumerate(todo.values())]
            with self._connect() as con:
                cols = con.execute(f"SELECT {', '.join(exprs)} FROM accounts ORDER BY row_id").fetchnumpy()
            with self._lock:
                for i, k in enumerate(todo):
                    self._matches[k] = np.asarray(cols[f"m{i}"], dtype=bool)
                while len(self._matches) > self.MAX_CACHED_TRAITS:
                    self._matches.popitem(last=False)
        with self._lock:
            for k in keys:
                self._matches.move_to_end(k)
            vectors = [self._matches[k] for k in keys]
        if not vectors:
            return np.zeros((self.n, 0), dtype=bool)
        return np.column_stack(vectors)


# --------------------------------------------------------------------------- score, tiers

@dataclass
class ScoreResult:
    """Scores and tiers of every account for one profile (arrays in row order)."""

    traits: list[Trait]  # the bound traits, in matrix column order
    matrix: np.ndarray  # (n, k) bool
    weights: np.ndarray  # (k,) int
    score: np.ndarray  # (n,) float64, 0..100
    tier: np.ndarray  # (n,) int8: 0=A 1=B 2=C 3=D 4=Disqualified
    thresholds: dict[str, float]  # the A/B/C lines used (solved when the rule is a mix)
    low: int
    high: int
    failed_must: np.ndarray  # (n,) bool
    stay_away_hit: np.ndarray  # (n,) bool: matched any stay-away trait
    caution_hit: np.ndarray  # (n,) bool: matched any proceed-with-caution trait

    @property
    def step(self) -> float:
        """Score points per weight point."""
        return 100.0 / (self.high - self.low) if self.high > self.low else 0.0


def score_formula(matrix: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(score 0..100, low, high) for a boolean match matrix and integer weights."""
    w = np.asarray(weights, dtype=np.int64)
    low, high = int(np.minimum(w, 0).sum()), int(np.maximum(w, 0).sum())
    if matrix.shape[1] == 0 or high == low:
        return np.zeros(matrix.shape[0]), low, high
    total = matrix.astype(np.int8) @ w.astype(np.int8) if matrix.shape[1] <= 25 else matrix @ w
    return (total.astype(np.float64) - low) * (100.0 / (high - low)), low, high


def solve_mix_thresholds(score: np.ndarray, eligible: np.ndarray, mix: dict[str, float]) -> dict[str, float]:
    """A/B/C lines whose tiers come closest to the target mix (percent of eligible accounts).

    Scores take few distinct values, so ties keep a tier line from cutting exactly at the target;
    each line is placed on the distinct score whose share at or above it is nearest the target.
    A line that should take nobody is +inf.
    """
    s = score[eligible]
    if len(s) == 0:
        return {"A": math.inf, "B": math.inf, "C": math.inf}
    values, counts = np.unique(s, return_counts=True)
    values, counts = values[::-1], counts[::-1]
    cum = np.concatenate([[0.0], np.cumsum(counts) / len(s)])  # share with score >= values[i-1]
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


def score_accounts(matrix: np.ndarray, traits: list[Trait], rule: TierRule) -> ScoreResult:
    """Score every account and assign tiers (see the module docstring for the formula)."""
    weights = np.array([t.weight for t in traits], dtype=np.int64)
    score, low, high = score_formula(matrix, weights)
    n = matrix.shape[0]
    cls = np.array([t.trait_class for t in traits]) if traits else np.array([], dtype=str)
    must = cls == "must_have"
    stay = cls == "stay_away"
    dq_stay = np.array([t.trait_class == "stay_away" and t.disqualify for t in traits], dtype=bool)
    failed_must = ~matrix[:, must].all(axis=1) if must.any() else np.zeros(n, bool)
    stay_hit = matrix[:, stay].any(axis=1) if stay.any() else np.zeros(n, bool)
    caution_hit = matrix[:, cls == "caution"].any(axis=1) if (cls == "caution").any() else np.zeros(n, bool)
    disq = failed_must | (matrix[:, dq_stay].any(axis=1) if dq_stay.any() else False)
    if rule.mode == "mix":
        thresholds = solve_mix_thresholds(score, ~disq, rule.mix)
    else:
        thresholds = {k: float(rule.thresholds[k]) for k in ("A", "B", "C")}
    tier = assign_tiers(score, disq, thresholds)
    return ScoreResult(traits, matrix, weights, score, tier, thresholds, low, high,
                       failed_must, stay_hit, caution_hit)


def score_profile(accounts: AccountMatrix, profile: Profile) -> tuple[ScoreResult, Binding]:
    """Bind the profile to the dataset's columns and score every account."""
    binding = resolve_profile(profile, accounts.specs)
    matrix = accounts.matches(binding.traits)
    return score_accounts(matrix, [t for t, _ in binding.traits], profile.tier_rule), binding


# --------------------------------------------------------------------------- reasons

def _signed(w: int) -> str:
    return f"+{w}" if w > 0 else (f"{MINUS}{-w}" if w < 0 else "0")


def _reason_order(traits: list[Trait]) -> list[int]:
    """Largest absolute weight first; positive before negative on ties."""
    return sorted(range(len(traits)), key=lambda i: (-abs(traits[i].weight), -traits[i].weight, i))


def explain_accounts(result: ScoreResult, rows: np.ndarray) -> pd.DataFrame:
    """Reasons, flags and next-tier hints for the given row positions (vectorised per trait).

    Columns: reasons ('+5 Industry in fintech · −2 Region EMEA (caution)'), flags
    ('Disqualified: fails must-have …', 'Stay away: …', 'Caution: …'), next_step
    ('Would reach B with: Tech has Snowflake (+3)').
    """
    rows = np.asarray(rows, dtype=np.int64)
    m = result.matrix[rows]
    n = len(rows)
    traits = result.traits
    reasons = np.full(n, "", dtype=object)
    flags = np.full(n, "", dtype=object)
    sep = " · "
    for i in _reason_order(traits):
        t = traits[i]
        if t.weight == 0 and t.trait_class not in ("caution", "stay_away"):
            continue
        hit = m[:, i]
        suffix = {"caution": " (caution)", "stay_away": " (stay away)"}.get(t.trait_class, "")
        piece = f"{_signed(t.weight)} {t.label}{suffix}"
        reasons = np.where(hit, np.where(reasons == "", piece, reasons + sep + piece), reasons)
    for i, t in enumerate(traits):
        hit = m[:, i]
        if t.trait_class == "must_have":
            piece, on = f"Disqualified: fails must-have “{t.label}”", ~hit
        elif t.trait_class == "stay_away":
            piece = f"{'Disqualified: ' if t.disqualify else ''}Stay away: {t.label}"
            on = hit
        elif t.trait_class == "caution":
            piece, on = f"Caution: {t.label}", hit
        else:
            continue
        flags = np.where(on, np.where(flags == "", piece, flags + sep + piece), flags)
    return pd.DataFrame({"reasons": reasons, "flags": flags, "next_step": next_tier_hints(result, rows)})


def next_tier_hints(result: ScoreResult, rows: np.ndarray) -> np.ndarray:
    """For accounts just below a tier line: the single trait change (an unmatched positive trait
    matched, or a matched negative one dropped) that lifts them over the next line, preferring
    the smallest sufficient change. Empty where no single change is enough."""
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    out = np.full(n, "", dtype=object)
    if n == 0 or result.step == 0 or not result.traits:
        return out
    score = result.score[rows]
    tier = result.tier[rows]
    lines = np.array([math.inf, result.thresholds["A"], result.thresholds["B"], result.thresholds["C"], math.inf])
    target = lines[np.clip(tier, 0, 4)]  # the line of the tier above (A has none)
    gap = np.where((tier >= 1) & (tier <= 3), target - score, np.inf)
    best_gain = np.full(n, np.inf)
    m = result.matrix[rows]
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
        text = "Would reach " + next_tier + f" {verb}: {t.label} ({_signed(t.weight)})"
        out = np.where(ok, text, out)
        best_gain = np.where(ok, gain, best_gain)
    return out


# --------------------------------------------------------------------------- summaries

def tier_summary(result: ScoreResult, accounts: AccountMatrix) -> pd.DataFrame:
    """Per tier (A, B, C, D, Disqualified): accounts, share, ARR, won/lost, win rate, churn rate."""
    tier = result.tier.astype(np.int64)
    n = max(len(tier), 1)
    count = np.bincount(tier, minlength=5)
    won = np.bincount(tier, weights=(accounts.won == 1), minlength=5)
    lost = np.bincount(tier, weights=(accounts.won == 0), minlength=5)
    churned = np.bincount(tier, weights=(accounts.churned == 1), minlength=5)
    churn_known = np.bincount(tier, weights=(accounts.churned >= 0), minlength=5)
    arr = np.bincount(tier, weights=np.nan_to_num(accounts.arr), minlength=5)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = pd.DataFrame({
            "tier": list(TIER_LABELS),
            "accounts": count,
            "share": count / n,
            "arr": arr if accounts.has["arr"] else np.nan,
            "won": won, "lost": lost,
            "win_rate": np.where(won + lost > 0, won / (won + lost), np.nan) if accounts.has["won"] else np.nan,
            "churn_rate": (np.where(churn_known > 0, churned / churn_known, np.nan)
                           if accounts.has["churned"] else np.nan),
        })
    return df


def score_histogram(result: ScoreResult, bin_width: float = 5.0) -> pd.DataFrame:
    """Counts of accounts per score bin and tier (a small frame for the chart, whatever n)."""
    nbins = int(math.ceil(100 / bin_width))
    b = np.clip((result.score // bin_width).astype(np.int64), 0, nbins - 1)
    counts = np.bincount(b * 5 + result.tier.astype(np.int64), minlength=nbins * 5).reshape(nbins, 5)
    bins, tiers = np.nonzero(counts)
    return pd.DataFrame({
        "bin_start": bins * bin_width, "bin_end": (bins + 1) * bin_width,
        "tier": np.array(TIER_LABELS, dtype=object)[tiers], "accounts": counts[bins, tiers],
    })


def ranked_rows(result: ScoreResult, mask: np.ndarray | None = None, limit: int | None = None) -> np.ndarray:
    """Row positions sorted by tier (A first, Disqualified last), then score, high to low."""
    idx = np.arange(len(result.score)) if mask is None else np.flatnonzero(mask)
    order = np.lexsort((-result.score[idx], result.tier[idx]))
    idx = idx[order]
    return idx if limit is None else idx[:limit]


def scored_table(result: ScoreResult, accounts: AccountMatrix, rows: np.ndarray) -> pd.DataFrame:
    """The accounts at `rows` with score, tier, reasons, flags and next step."""
    base = accounts.display.iloc[rows].reset_index(drop=True)
    expl = explain_accounts(result, rows)
    out = pd.DataFrame({"ICP Score": np.round(result.score[rows], 1),
                        "ICP Tier": np.array(TIER_LABELS, dtype=object)[result.tier[rows]]})
    return pd.concat([base, out, expl.rename(columns={"reasons": "Reasons", "flags": "Flags",
                                                      "next_step": "Next step"})], axis=1)
