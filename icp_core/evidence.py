"""Evidence: what "good customer" means, data-suggested traits and weights, backtest with lift.

- `Outcome` turns the user's definition of a good customer (won vs lost, retained vs churned,
  ARR above a value, NPS promoter, short sales cycle, any column, or a weighted composite)
  into y ∈ {1, 0, NaN} per account (`outcome_labels`).
- `suggest_traits` finds, per usable column, the value set or range that best separates the
  outcome (categories merged into one "in {A, B}" trait per direction, numeric bins merged into
  one range, each technology as a flag), keeps only candidates whose rate differs from the base
  rate beyond a Bonferroni-corrected Wilson interval, then fits an L1-regularised logistic
  regression (scikit-learn) on a training split and maps its coefficients to -5..+5, keeping at
  most `max_traits` traits. No significant candidate -> "no strong traits found".
- `backtest` scores the held-out split: ROC AUC (with an interval), outcome rate per tier with
  Wilson intervals and lift over the base rate, capture of good customers and ARR by tiers A+B,
  customer base and open pipeline inside the ICP, a cumulative gains curve. It works per match
  pattern (`scoring.Patterns`), so it is live with the sliders.
- `default_outcome` picks the outcome a dataset opens on: won vs lost, retained vs churned, else a
  yes/no column whose header reads like an outcome (Converted, Won, Purchased, Churn -> not
  churned, ...), else ARR / NPS / sales cycle, else no column (the user picks one).
- `reference_auc`: cross-validated AUC of a HistGradientBoostingClassifier on the same columns,
  on a stratified sample of at most `REFERENCE_MAX_ROWS` observations, single-threaded.
- `cohort_table`: outcome rate by signup/close quarter for ICP vs non-ICP accounts.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from .formatting import format_number
from .profile import (Profile, TierRule, Trait, default_label, find_column,
                      new_trait_id, trait_ref_for, usable_columns)
from .roles import ROLES, ColumnSpec
from .dataset import AccountMatrix, Patterns
from .scoring import ScoreResult

MIN_SAMPLE = 30  # fewer known outcomes than this in a tier or class: "too few to judge"
HOLDOUT_SHARE = 0.3
HOLDOUT_SEED = 20261125


class EvidenceError(ValueError):
    """An outcome or request that cannot be evaluated; the message says why (in words that
    suit any front end: no command-line flags, no widget names)."""


class OutcomeIncomplete(EvidenceError):
    """The outcome is not fully defined yet (no column picked, no rule for a numeric column,
    no good value for a categorical one): a question for the user rather than an error."""


# --------------------------------------------------------------------------- outcomes

OUTCOME_KINDS = {
    "won": "Won vs lost (open deals excluded)",
    "retained": "Retained vs churned",
    "arr_above": "ARR above a value",
    "nps_promoter": "NPS promoter (9–10)",
    "short_cycle": "Short sales cycle",
    "column": "Another column",
    "composite": "Weighted composite",
    "pmf": "Product-market-fit score",
}

PMF_METHODS = {"percentile": "percentile rank", "minmax": "min–max"}


@dataclass
class Outcome:
    """What a good customer is. kind: won | retained | arr_above | nps_promoter | short_cycle |
    column | composite. `value`: the ARR floor or the cycle ceiling in days; `column` and
    `positive` for kind "column"; `components`: [(Outcome, weight)] for "composite"."""

    kind: str = "won"
    value: float | None = None
    column: str | None = None
    positive: str | None = None
    components: list[tuple["Outcome", float]] = field(default_factory=list)

    def key(self) -> str:
        d = asdict(self)
        d["components"] = [(c.key() if isinstance(c, Outcome) else c, w) for c, w in self.components]
        return repr(sorted(d.items()))

    def label(self) -> str:
        if self.kind == "arr_above":
            return f"ARR ≥ {format_number(self.value or 0)}"
        if self.kind == "short_cycle":
            return f"Sales cycle ≤ {format_number(self.value or 0)} days"
        if self.kind == "column":
            m = _COMPARE.match(self.positive or "")
            if m and m.group(1):  # "NPS >= 9", not "NPS = >=9"
                return f"{self.column} {_OPERATORS.get(m.group(1), m.group(1))} {m.group(2)}{m.group(3) or ''}"
            return f"{self.column} = {self.positive}" if self.positive else str(self.column)
        if self.kind == "composite":
            return " + ".join(f"{w:.0%} {c.label()}" for c, w in self.components)
        if self.kind == "pmf":
            parts = " + ".join(f"{w:.0%} {c}" for c, w in self.components)
            return f"PMF score in the top {100 - (self.value or 50):g} % ({parts})"
        return OUTCOME_KINDS[self.kind]


def available_outcomes(accounts: AccountMatrix) -> list[str]:
    """The outcome kinds this dataset can evaluate."""
    roles = {s.role for s in accounts.specs}
    out = []
    if accounts.has["won"]:
        out.append("won")
    if accounts.has["churned"]:
        out.append("retained")
    if accounts.has["arr"]:
        out.append("arr_above")
    if "nps" in roles:
        out.append("nps_promoter")
    if "sales_cycle_days" in roles:
        out.append("short_cycle")
    out += ["column", "composite"] if out else ["column"]  # a composite blends the outcomes above
    if pmf_inputs(accounts):
        out.append("pmf")
    return out


def pmf_inputs(accounts: AccountMatrix) -> list[ColumnSpec]:
    """Columns that can feed a PMF score: numbers, yes/no, churned/retained, won/lost."""
    return [s for s in accounts.specs if s.role != "ignore" and s.kind in ("number", "year", "boolean", "churn", "stage")
            and s.role not in ("account_id", "founded_year")]


# Headers that read like an outcome (matched on the lower-cased header, words split on anything
# that is not a letter or digit and on camelCase), on a yes/no column. Good when true, or, for the
# churn-like words, good when false (not churned = retained).
_GOOD_WHEN_TRUE = (r"converted|conversion|won|win|closed won|deal won|renewed|renewal|retained|active customer|"
                   r"purchased|purchase|made purchase|bought|customer|became customer|paying|paid|paying customer|"
                   r"subscribed|signed|signed up|activated|upgraded|success|successful")
_GOOD_WHEN_FALSE = (r"churn|churned|churner|cancelled|canceled|cancellation|attrition|attrited|exited|lost|"
                    r"defaulted|default|left")
_OUTCOME_HEADER = re.compile(rf"^(?:(?:is|has|was|did|has been)\s)?(?:(?P<bad>{_GOOD_WHEN_FALSE})|"
                             rf"(?P<good>{_GOOD_WHEN_TRUE}))(?:\s(?:flag|yn|y n|status|label|target|outcome|01))?$")


def _outcome_word(header: str) -> str | None:
    """'good' / 'bad' when a header reads like a yes/no outcome ('Converted', 'is_won', 'Churn?',
    'Exited'), else None."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)
    words = " ".join(re.sub(r"[^0-9a-z]+", " ", words.lower()).split())
    m = _OUTCOME_HEADER.match(words)
    if not m:
        return None
    return "bad" if m.group("bad") else "good"


def _yes_no_positive(accounts: AccountMatrix, spec: ColumnSpec, word: str) -> str | None:
    """The `positive` of a yes/no column whose good side is `word` ('good': true / 1, 'bad':
    false / 0), or None when the column is not yes/no (both values present)."""
    if spec.kind == "boolean":
        _, values = accounts.column_codes(spec)
        if {str(v).lower() for v in values} != {"true", "false"}:
            return None
        return "true" if word == "good" else "false"
    if spec.kind in ("number", "year"):
        x = accounts.column_array(spec)
        if set(np.unique(x[np.isfinite(x)]).tolist()) != {0.0, 1.0}:
            return None
        return "= 1" if word == "good" else "= 0"
    return None


def default_outcome(accounts: AccountMatrix) -> Outcome:
    """The outcome a dataset opens on, one rule for every page: won vs lost if there are deal
    stages; else retained vs churned if there is a churn column; else the first yes/no column
    whose header reads like an outcome (Converted, Won, Purchased, Renewed, Customer -> good when
    yes; Churn, Exited, Attrition, Cancelled -> good when no); else ARR above its median, NPS
    promoter, or a short sales cycle; else Outcome("column") with no column, i.e. the user picks
    one (evaluating it raises OutcomeIncomplete). Never a rule that cannot be evaluated."""
    kinds = available_outcomes(accounts)
    if "won" in kinds:
        return Outcome("won")
    if "retained" in kinds:
        return Outcome("retained")
    for spec in accounts.specs:
        if spec.role == "ignore" or spec.source != "accounts" or spec.role in ("account_id", "account_name"):
            continue
        word = _outcome_word(spec.header)
        if word is None:
            continue
        if spec.kind == "churn":
            return Outcome("column", column=spec.header, positive="false" if word == "bad" else "true")
        positive = _yes_no_positive(accounts, spec, word)
        if positive is not None:
            return Outcome("column", column=spec.header, positive=positive)
    if "arr_above" in kinds:
        arr = accounts.arr[np.isfinite(accounts.arr)]
        return Outcome("arr_above", value=float(round(np.median(arr), -2)) if len(arr) else 0.0)
    if "nps_promoter" in kinds:
        return Outcome("nps_promoter")
    if "short_cycle" in kinds:
        x = accounts.column_array(_spec_for(accounts, "sales_cycle_days"))
        return Outcome("short_cycle", value=float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0)
    return Outcome("column")


_COMPARE = re.compile(r"^\s*(>=|<=|==|≥|≤|>|<|=)?\s*(-?[\d.,]+)\s*([kKmMbB])?\s*$")
_OPERATORS = {"≥": ">=", "≤": "<=", "==": "="}
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9}
COMPARISON_EXAMPLE = ">= 9 or < 30"


def parse_comparison(text: str) -> tuple[str, float]:
    """'>= 9', '<30', '≥ 1.5M', '= 1', '12,000' (means >=) -> (operator, number)."""
    m = _COMPARE.match(text or "")
    try:
        if not m:
            raise ValueError(text)
        num = float(m.group(2).replace(",", "")) * _SUFFIX.get((m.group(3) or "").lower(), 1.0)
    except ValueError:
        raise EvidenceError(f"cannot read {text!r} as a comparison; write e.g. {COMPARISON_EXAMPLE}") from None
    return _OPERATORS.get(m.group(1), m.group(1) or ">="), num


def _spec_for(accounts: AccountMatrix, name: str) -> ColumnSpec:
    s = find_column(Trait(label="outcome", rule="missing", role=name if name in ROLES else None,
                          column=None if name in ROLES else name), accounts.specs)
    if s is None:
        s = find_column(Trait(label="outcome", rule="missing", column=name), accounts.specs)
    if s is None:
        raise EvidenceError(f"no column “{name}” in this dataset")
    return s


def _column_labels(accounts: AccountMatrix, name: str, positive: str | None) -> np.ndarray:
    from .clean import install_cleaning_macros
    import duckdb

    spec = _spec_for(accounts, name)
    kind = spec.kind
    if kind in ("number", "year"):
        x = accounts.column_array(spec)
        if not positive:
            raise OutcomeIncomplete(f"“{spec.header}” is numeric: give the good side, e.g. {COMPARISON_EXAMPLE}")
        op, num = parse_comparison(positive)
        good = {">=": x >= num, "<=": x <= num, ">": x > num, "<": x < num, "=": x == num}[op]
        return np.where(np.isnan(x), np.nan, good.astype(float))
    codes, values = accounts.column_codes(spec)
    known = codes >= 0
    if kind in ("stage", "churn", "boolean"):
        target = {"stage": "won", "churn": "false", "boolean": "true"}[kind]
        if positive:  # read the user's value with the same cleaning macro as the column
            macro = {"stage": "icp_parse_stage", "churn": "icp_parse_churn", "boolean": "icp_parse_bool"}[kind]
            con = duckdb.connect()
            try:
                install_cleaning_macros(con)
                parsed = con.execute(f"SELECT CAST({macro}(?) AS VARCHAR)", [positive]).fetchone()[0]
            finally:
                con.close()
            if parsed is None:
                raise EvidenceError(f"cannot read {positive!r} as a value of “{spec.header}”")
            target = parsed.lower()
        vals = [str(v).lower() for v in values]
        good = np.array([v == target for v in vals] + [False])[codes]
        if kind == "stage":
            undecided = np.array([v not in ("won", "lost") for v in vals] + [True])[codes]
            return np.where(~known | undecided, np.nan, good.astype(float))
        return np.where(~known, np.nan, good.astype(float))
    if not positive:
        raise OutcomeIncomplete(f"“{spec.header}” is categorical: say which value is good")
    wanted = {p.strip().lower() for p in positive.split("|")}
    good = np.array([str(v).strip().lower() in wanted for v in values] + [False])[codes]
    if not good.any():
        raise EvidenceError(f"no account has {positive!r} in “{spec.header}”")
    return np.where(~known, np.nan, good.astype(float))


def pmf_component(accounts: AccountMatrix, name: str) -> np.ndarray:
    """One PMF input as numbers per account (higher is better): numeric columns as they are,
    won = 1 / lost = 0, retained = 1 / churned = 0, booleans true = 1."""
    spec = _spec_for(accounts, name)
    if spec.kind in ("number", "year"):
        return accounts.column_array(spec)
    if spec.kind == "stage":
        return np.select([accounts.won == 1, accounts.won == 0], [1.0, 0.0], np.nan) if spec.role == "deal_stage" \
            else _column_labels(accounts, name, None)
    if spec.kind in ("churn", "boolean"):
        return _column_labels(accounts, name, None)  # retained / true is good
    raise EvidenceError(f"“{spec.header}” is not numeric or yes/no, so it cannot feed a PMF score")


def pmf_scores(accounts: AccountMatrix, components: list[tuple[str, float]], method: str = "percentile") -> np.ndarray:
    """A product-market-fit score per account in 0..1: each input normalised (percentile rank,
    or min–max), then averaged with the weights over the inputs the account has (NaN when none)."""
    if method not in PMF_METHODS:
        raise EvidenceError(f"unknown normalisation {method!r} (percentile or minmax)")
    total_w = sum(w for _, w in components if w > 0)
    if total_w <= 0:
        raise OutcomeIncomplete("a PMF score needs at least one input with a weight above 0")
    num = np.zeros(accounts.n)
    den = np.zeros(accounts.n)
    for name, w in components:
        if w <= 0:
            continue
        x = pmf_component(accounts, name)
        ok = np.isfinite(x)
        if not ok.any():
            continue
        if method == "percentile":
            ranks = pd.Series(x[ok]).rank(method="average", pct=True).to_numpy()
            norm_x = np.full(accounts.n, np.nan)
            norm_x[ok] = ranks
        else:
            lo, hi = np.nanmin(x), np.nanmax(x)
            norm_x = (x - lo) / (hi - lo) if hi > lo else np.where(ok, 1.0, np.nan)
        num += np.where(ok, norm_x * w, 0.0)
        den += np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def outcome_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    """y per account: 1 good, 0 not good, NaN unknown (open deal, no churn flag, ...)."""
    k = outcome.kind
    if k == "pmf":
        comps = [(str(c), float(w)) for c, w in outcome.components]
        score = pmf_scores(accounts, comps, outcome.positive or "percentile")
        ok = np.isfinite(score)
        if not ok.any():
            raise EvidenceError("no account has any of the PMF inputs")
        cut = np.percentile(score[ok], outcome.value if outcome.value is not None else 50)
        return np.where(ok, (score >= cut).astype(float), np.nan)
    if k == "won":
        if not accounts.has["won"]:
            raise EvidenceError("this dataset has no won/lost column (map a deal stage or add opportunities)")
        return np.select([accounts.won == 1, accounts.won == 0], [1.0, 0.0], np.nan)
    if k == "retained":
        if not accounts.has["churned"]:
            raise EvidenceError("this dataset has no churned/retained column")
        return np.select([accounts.churned == 0, accounts.churned == 1], [1.0, 0.0], np.nan)
    if k == "arr_above":
        if not accounts.has["arr"]:
            raise EvidenceError("this dataset has no ARR column")
        x = accounts.arr
        return np.where(np.isnan(x), np.nan, (x >= (outcome.value or 0)).astype(float))
    if k == "nps_promoter":
        x = accounts.column_array(_spec_for(accounts, "nps"))
        return np.where(np.isnan(x), np.nan, (x >= 9).astype(float))
    if k == "short_cycle":
        x = accounts.column_array(_spec_for(accounts, "sales_cycle_days"))
        return np.where(np.isnan(x), np.nan, (x <= (outcome.value or 0)).astype(float))
    if k == "column":
        if not outcome.column:
            raise OutcomeIncomplete("choose the column that says what a good customer is")
        return _column_labels(accounts, outcome.column, outcome.positive)
    if k == "composite":
        total_w = sum(w for _, w in outcome.components if w > 0)
        if not outcome.components or total_w <= 0:
            raise OutcomeIncomplete("a composite outcome needs at least one component with a weight above 0")
        num = np.zeros(accounts.n)
        den = np.zeros(accounts.n)
        for comp, w in outcome.components:
            if w <= 0:
                continue
            y = outcome_labels(accounts, comp)
            known = ~np.isnan(y)
            num += np.where(known, y * w, 0.0)
            den += np.where(known, w, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            blend = num / den
        return np.where(den > 0, (blend >= 0.5).astype(float), np.nan)
    raise EvidenceError(f"unknown outcome kind {k!r}")


def outcome_weights(accounts: AccountMatrix, outcome: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """(y, w): y the share of good observations per account (0..1, NaN unknown), w how many
    observations the account stands for. Usually w = 1 and y is 0 or 1. For won-vs-lost on
    opportunities rolled up to accounts (no account-level deal stage), each account stands for
    its closed deals: y = won / (won + lost), w = won + lost, so a win rate is a deal win rate."""
    own_stage = any(sp.role == "deal_stage" and sp.source == "accounts" for sp in accounts.specs)
    keys = {sp.key: sp for sp in accounts.specs}
    if outcome.kind == "won" and not own_stage and {"opp_won_count", "opp_lost_count"} <= set(keys):
        won = accounts.column_array(keys["opp_won_count"])
        lost = accounts.column_array(keys["opp_lost_count"])
        w = np.nan_to_num(won) + np.nan_to_num(lost)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(w > 0, np.nan_to_num(won) / w, np.nan)
        return y, w
    y = outcome_labels(accounts, outcome)
    return y, np.where(np.isnan(y), 0.0, 1.0)


def expand_outcomes(rows: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observations for fitting and AUCs: each account repeated once per good and once per
    other observation it stands for. Returns (account index per observation, label 0/1)."""
    pos = np.rint(w[rows] * y[rows]).astype(np.int64)
    neg = np.rint(w[rows] * (1 - y[rows])).astype(np.int64)
    idx = np.concatenate([np.repeat(rows, pos), np.repeat(rows, neg)])
    lab = np.concatenate([np.ones(pos.sum(), dtype=int), np.zeros(neg.sum(), dtype=int)])
    order = np.argsort(idx, kind="stable")
    return idx[order], lab[order]


def holdout_mask(n: int, share: float = HOLDOUT_SHARE, seed: int = HOLDOUT_SEED) -> np.ndarray:
    """The held-out (test) accounts: a fixed random share, the same on every run."""
    return np.random.default_rng(seed).random(n) < share


# --------------------------------------------------------------------------- statistics

def wilson(pos: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion pos/n."""
    if n <= 0:
        return (math.nan, math.nan)
    p = pos / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def auc_from_counts(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from grouped data: per group its score and counts of positives and negatives
    (ties count one half) — the Mann–Whitney statistic."""
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return math.nan
    values, inv = np.unique(score, return_inverse=True)
    inv = inv.ravel()
    p = np.bincount(inv, weights=pos, minlength=len(values))
    q = np.bincount(inv, weights=neg, minlength=len(values))
    neg_below = np.concatenate([[0.0], np.cumsum(q)[:-1]])
    return float((p * neg_below).sum() + 0.5 * (p * q).sum()) / float(total_pos * total_neg)


def auc_interval(auc: float, n_pos: float, n_neg: float, z: float = 1.96) -> tuple[float, float]:
    """Hanley & McNeil (1982) standard error of an AUC -> a normal interval."""
    if math.isnan(auc) or n_pos == 0 or n_neg == 0:
        return (math.nan, math.nan)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    se = math.sqrt(max(var, 0.0))
    return (max(0.0, auc - z * se), min(1.0, auc + z * se))


# --------------------------------------------------------------------------- candidates

@dataclass
class Candidate:
    """A possible trait with its evidence (on the training accounts)."""

    trait: Trait
    column: str  # header
    support: int  # accounts with a known outcome that match
    rate: float
    lift: float
    low: float  # Wilson interval of the rate (Bonferroni-corrected)
    high: float
    strong: bool  # distinguishable from the base rate
    data_weight: int = 0  # after the regression; 0 = not suggested
    coef: float = 0.0


OUTCOME_ROLES = {"deal_stage", "arr", "churned", "nps", "sales_cycle_days", "signup_date", "close_date"}


def _candidate_columns(accounts: AccountMatrix, outcome: Outcome) -> list[ColumnSpec]:
    """Columns that may describe an account before the outcome: no outcomes, no roll-ups of the
    opportunities (they are the outcome), no dates, no identifiers."""
    used = set()
    if outcome.kind == "column" and outcome.column:
        try:
            used.add(_spec_for(accounts, outcome.column).key)
        except EvidenceError:
            pass
    out = []
    for s in usable_columns(accounts.specs):
        if s.role in OUTCOME_ROLES or s.source != "accounts" or s.key in used or s.kind in ("date", "text", "id"):
            continue
        out.append(s)
    return out


def nice_bound(x: float, kind: str) -> float:
    """A range bound rounded to two significant figures (years and small integers kept)."""
    if kind == "year" or x == 0 or abs(x) < 100:
        return float(round(x)) if kind == "year" or abs(x) >= 10 else float(f"{x:.2g}")
    return float(f"{x:.2g}")


def _min_support(n_known: int) -> int:
    return max(15, int(0.02 * n_known))


def _stat(pos: float, n_obs: float, n_accounts: float, base: float, z: float) -> tuple[float, float, float, float, bool]:
    """Rate (good / observations), lift, and a Wilson interval on the number of accounts."""
    rate = pos / n_obs if n_obs else math.nan
    if not n_obs:
        return rate, math.nan, math.nan, math.nan, False
    lo, hi = wilson(rate * n_accounts, n_accounts, z)
    strong = bool(n_accounts > 0 and (lo > base or hi < base))
    return rate, (rate / base if base > 0 else math.nan), lo, hi, strong


def find_candidates(accounts: AccountMatrix, y: np.ndarray, train: np.ndarray, outcome: Outcome,
                    w: np.ndarray | None = None) -> list[Candidate]:
    """Candidate traits per column, with support, rate, lift and a significance flag, computed
    on the training accounts with a known outcome. `w`: observations per account (see
    `outcome_weights`); intervals use the number of accounts, so many deals of one account do
    not count as independent evidence."""
    w = np.where(np.isnan(y), 0.0, 1.0) if w is None else w
    known = train & ~np.isnan(y) & (w > 0)
    n_known = int(known.sum())
    if n_known == 0:
        return []
    yk = np.where(known, y * w, 0.0)  # good observations
    wk = np.where(known, w, 0.0)  # all observations
    base = float(yk.sum() / wk.sum())
    if base in (0.0, 1.0):
        return []
    min_sup = _min_support(n_known)
    columns = _candidate_columns(accounts, outcome)
    # Bonferroni over roughly the number of comparisons made
    tests = 0
    raw: list[tuple[ColumnSpec, str, dict]] = []
    for s in columns:
        if s.kind in ("number", "year"):
            x = accounts.column_array(s)
            ok = known & ~np.isnan(x)
            if ok.sum() < 2 * min_sup:
                continue
            qs = np.unique(np.quantile(x[ok], np.linspace(0, 1, 11)))
            if len(qs) < 3:
                continue
            tests += len(qs) * (len(qs) - 1) // 2
            raw.append((s, "range", {"x": x, "edges": qs}))
        elif s.kind == "list":
            opts = accounts.value_options(s, limit=30)["values"]
            tests += len(opts)
            raw.append((s, "list", {"values": [v for v, c in opts if c >= min_sup]}))
        elif s.kind in ("boolean", "churn"):
            tests += 1
            raw.append((s, "bool", {}))
        else:
            codes, values = accounts.column_codes(s)
            n_v = np.bincount(codes[known & (codes >= 0)], minlength=len(values))
            if (n_v >= min_sup).sum() < 2 and len(values) > 1:
                pass
            tests += int((n_v >= min_sup).sum())
            raw.append((s, "category", {"codes": codes, "values": values, "n": n_v}))
        tests += 1  # missingness
    z = float(norm.ppf(1 - 0.05 / (2 * max(tests, 1))))

    out: list[Candidate] = []

    def add(trait: Trait, spec: ColumnSpec, match: np.ndarray) -> None:
        n = float((match & known).sum())
        if n < min_sup or n > n_known - min_sup:
            return
        pos = float(yk[match & known].sum())
        rate, lift, lo, hi, strong = _stat(pos, float(wk[match & known].sum()), n, base, z)
        out.append(Candidate(trait, spec.header, int(n), rate, lift, lo, hi, strong))

    for s, what, d in raw:
        ref = trait_ref_for(s)
        if what == "category":
            codes, values, n_v = d["codes"], d["values"], d["n"]
            sel = known & (codes >= 0)
            pos_v = np.bincount(codes[sel], weights=yk[sel], minlength=len(values))
            obs_v = np.bincount(codes[sel], weights=wk[sel], minlength=len(values))
            hi_vals, lo_vals = [], []
            for i, v in enumerate(values):
                if n_v[i] < min_sup:
                    continue
                rate, lift, lo, hi, strong = _stat(pos_v[i], obs_v[i], n_v[i], base, z)
                if strong and rate > base:
                    hi_vals.append((lift, v))
                elif strong and rate < base:
                    lo_vals.append((lift, v))
            for group, sign in ((sorted(hi_vals, reverse=True), 1), (sorted(lo_vals), -1)):
                if not group:
                    continue
                vals = [v for _, v in group]
                idx = np.flatnonzero(np.isin(np.array(values, dtype=object), vals))
                match = np.isin(codes, idx)
                t = Trait(label=default_label(s.header, "in_set", vals), rule="in_set", values=vals, weight=sign, **ref)
                add(t, s, match)
                if len(vals) > 1:  # the strongest single value too, in case it deserves its own weight
                    v0 = vals[0]
                    i0 = values.index(v0)
                    t = Trait(label=default_label(s.header, "in_set", [v0]), rule="in_set", values=[v0],
                              weight=sign, **ref)
                    add(t, s, codes == i0)
            miss = codes < 0
            if miss.any():
                add(Trait(label=default_label(s.header, "missing"), rule="missing", weight=1, **ref), s, miss)
        elif what == "range":
            x, edges = d["x"], d["edges"]
            ok = known & ~np.isnan(x)
            bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
            nb = len(edges) - 1
            cnt = np.bincount(bins[ok], minlength=nb).astype(float)
            obs = np.bincount(bins[ok], weights=wk[ok], minlength=nb)
            pos = np.bincount(bins[ok], weights=yk[ok], minlength=nb)
            best = {1: (0.0, None), -1: (0.0, None)}
            n_ok = cnt.sum()
            for i in range(nb):
                for j in range(i, nb):
                    n = cnt[i:j + 1].sum()
                    if n < min_sup or n > n_ok - min_sup:
                        continue
                    rate = pos[i:j + 1].sum() / obs[i:j + 1].sum()
                    zstat = (rate - base) * math.sqrt(n / (base * (1 - base)))
                    sign = 1 if zstat > 0 else -1
                    if abs(zstat) > best[sign][0]:
                        best[sign] = (abs(zstat), (i, j))
            for sign, (_, ij) in best.items():
                if ij is None:
                    continue
                i, j = ij
                lo = None if i == 0 else nice_bound(float(edges[i]), s.kind)
                hi = None
                if j < nb - 1:  # bins are [edge_i, edge_i+1): the range ends below the next edge
                    below = x[~np.isnan(x) & (x < edges[j + 1]) & ((x >= lo) if lo is not None else True)]
                    hi = nice_bound(float(below.max()), s.kind) if len(below) else None
                if hi is not None and lo is not None and hi < lo:
                    hi = lo
                inside = ~np.isnan(x) & ((x >= lo) if lo is not None else True) & ((x <= hi) if hi is not None else True)
                t = Trait(label=default_label(s.header, "range", lo=lo, hi=hi, kind=s.kind), rule="range",
                          min=lo, max=hi, weight=sign, **ref)
                add(t, s, inside)
            miss = np.isnan(x)
            if miss.any():
                add(Trait(label=default_label(s.header, "missing"), rule="missing", weight=1, **ref), s, miss)
        elif what == "list":
            vals = d["values"]
            if vals:
                probe = [Trait(label=f"{s.header} has {v}", rule="contains_any", values=[v], weight=1, **ref)
                         for v in vals]
                mat = accounts.matches([(t, s) for t in probe])
                for k, t in enumerate(probe):
                    add(t, s, mat[:, k])
        elif what == "bool":
            t = Trait(label=default_label(s.header, "is_true"), rule="is_true", weight=1, **ref)
            add(t, s, accounts.matches([(t, s)])[:, 0])
    return out


# --------------------------------------------------------------------------- suggestion

@dataclass
class Suggestion:
    outcome: Outcome
    base_rate: float
    n_train: int
    candidates: list[Candidate]  # strong ones first, then weak
    traits: list[Trait]  # the suggested traits (weights -5..+5), at most max_traits
    cv_auc: float  # cross-validated AUC of the regression on the training split
    message: str  # "n strong traits found" / "no strong traits found" / why not

    @property
    def found(self) -> bool:
        return bool(self.traits)

    def profile(self, name: str = "Data-suggested ICP") -> Profile:
        return Profile(name=name, description=f"Suggested from the data for outcome: {self.outcome.label()}. "
                                             f"Training accounts: {self.n_train:,}; base rate {self.base_rate:.1%}.",
                       traits=[Trait(**{**t.to_dict()}) for t in self.traits],
                       tier_rule=TierRule(mode="mix"))


def _class_for(weight: int) -> str:
    if weight > 0:
        return "nice_to_have"
    return "stay_away" if weight <= -4 else "caution"


def suggest_traits(accounts: AccountMatrix, outcome: Outcome, max_traits: int = 12,
                   train: np.ndarray | None = None, max_fit_rows: int = 50_000) -> Suggestion:
    """Suggest up to `max_traits` traits with -5..+5 weights for `outcome` (see module doc)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from sklearn.model_selection import StratifiedGroupKFold

    y, w = outcome_weights(accounts, outcome)
    train = ~holdout_mask(accounts.n) if train is None else train
    known = train & ~np.isnan(y) & (w > 0)
    n_known = int(known.sum())
    obs = float(w[known].sum())
    n_pos = float((y * w)[known].sum())
    base = n_pos / obs if obs else math.nan
    if n_known < 2 * MIN_SAMPLE or n_pos < 10 or obs - n_pos < 10:
        return Suggestion(outcome, base, n_known, [], [], math.nan,
                          f"too few accounts with a known outcome to learn from ({n_known:,} in the training split, "
                          f"{n_pos:,.0f} good of {obs:,.0f}); no traits suggested")
    cands = find_candidates(accounts, y, train, outcome, w)
    strong = [c for c in cands if c.strong]
    weak = [c for c in cands if not c.strong]
    if not strong:
        return Suggestion(outcome, base, n_known, weak, [], math.nan,
                          "no strong traits found: no column separates good from other accounts beyond chance")
    spec_by_header = {s.header: s for s in accounts.specs}
    X_all = accounts.matches([(c.trait, spec_by_header[c.column]) for c in strong])
    rows = np.flatnonzero(known)
    if len(rows) > max_fit_rows:
        rows = np.sort(np.random.default_rng(7).choice(rows, max_fit_rows, replace=False))
    idx, yy = expand_outcomes(rows, y, w)
    X = X_all[idx].astype(np.float64)
    folds = list(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0).split(X, yy, groups=idx))
    best = None
    for C in np.logspace(-2.5, 1, 12):
        model = LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", max_iter=500)
        model.fit(X, yy)
        nz = int((np.abs(model.coef_[0]) > 1e-6).sum())
        if nz == 0:
            continue
        if nz > max_traits:
            break
        auc = float(cross_val_score(LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", max_iter=500),
                                    X, yy, cv=folds, scoring="roc_auc").mean())
        if best is None or auc > best[0] + 0.002:
            best = (auc, C, model.coef_[0].copy())
    if best is None:
        return Suggestion(outcome, base, n_known, strong + weak, [], math.nan,
                          "no strong traits found: the regression kept no trait")
    auc, _, coef = best
    scale = 5.0 / np.abs(coef).max()
    traits = []
    for c, b in sorted(zip(strong, coef), key=lambda cb: -abs(cb[1])):
        w = int(np.clip(round(b * scale), -5, 5))
        c.coef = float(b)
        if w == 0:
            continue
        c.data_weight = w
        t = Trait(**{**c.trait.to_dict(), "weight": w, "trait_class": _class_for(w)})
        traits.append(t)
    traits = traits[:max_traits]
    ordered = sorted(strong, key=lambda c: -abs(c.data_weight)) + weak
    return Suggestion(outcome, base, n_known, ordered, traits, auc,
                      f"{len(traits)} strong trait{'s' if len(traits) != 1 else ''} found "
                      f"(cross-validated AUC {auc:.2f} on {n_known:,} training accounts)")


# --------------------------------------------------------------------------- backtest

@dataclass
class Backtest:
    outcome: str
    n: int  # held-out accounts with a known outcome
    n_pos: int
    base_rate: float
    auc: float
    auc_low: float
    auc_high: float
    tiers: pd.DataFrame  # tier, accounts, known, good, rate, rate_low, rate_high, lift, too_few
    captured_good: float  # share of good (held-out) accounts in tiers A+B
    captured_arr: float  # share of all ARR in tiers A+B
    customers_in_icp: float  # share of won customers in tiers A+B
    pipeline_in_icp: float  # share of accounts with open deals in tiers A+B
    gains: pd.DataFrame  # share_targeted, share_captured
    warnings: list[str]

    def to_dict(self, reference_auc: float | None = None) -> dict:
        tiers = self.tiers.replace({np.nan: None}).to_dict("records")
        return {"outcome": self.outcome, "accounts": self.n, "good": self.n_pos, "base_rate": self.base_rate,
                "auc": self.auc, "auc_interval": [self.auc_low, self.auc_high], "tiers": tiers,
                "captured_good_ab": self.captured_good, "captured_arr_ab": self.captured_arr,
                "customers_in_icp": self.customers_in_icp, "open_pipeline_in_icp": self.pipeline_in_icp,
                "reference_auc": reference_auc, "warnings": self.warnings}


def pattern_outcomes(patterns: Patterns, y: np.ndarray, test: np.ndarray, accounts: AccountMatrix,
                     w: np.ndarray | None = None) -> dict:
    """Per-pattern counts of good / other held-out observations, customers and open deals
    (O(n), computed once per trait set and outcome, then reused by every slider move)."""
    u = len(patterns.count)
    inv = patterns.inv
    w = np.where(np.isnan(y), 0.0, 1.0) if w is None else w
    t = test & ~np.isnan(y)
    good = np.where(t, y * w, 0.0)
    other = np.where(t, (1 - y) * w, 0.0)
    return {
        "pos": np.bincount(inv, weights=good, minlength=u),
        "neg": np.bincount(inv, weights=other, minlength=u),
        "customers": np.bincount(inv, weights=(accounts.won == 1), minlength=u),
        "open": np.bincount(inv, weights=(accounts.won == 2), minlength=u),
    }


def backtest(result: ScoreResult, counts: dict, outcome_label: str = "") -> Backtest:
    """Backtest the scored profile on the held-out accounts (per pattern: fast)."""
    from .scoring import TIER_LABELS

    p = result.patterns
    pos, neg = counts["pos"], counts["neg"]
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    n = n_pos + n_neg
    base = n_pos / n if n else math.nan
    # rank: disqualified below everything else
    rank_score = np.where(result.pattern_tier == 4, -1.0, result.pattern_score)
    auc = auc_from_counts(rank_score, pos, neg)
    lo, hi = auc_interval(auc, n_pos, n_neg)
    tier = result.pattern_tier.astype(np.int64)
    t_acc = np.bincount(tier, weights=p.count, minlength=5)
    t_pos = np.bincount(tier, weights=pos, minlength=5)
    t_known = t_pos + np.bincount(tier, weights=neg, minlength=5)
    rows = []
    warnings = []
    for i, name in enumerate(TIER_LABELS):
        k = t_known[i]
        rate = t_pos[i] / k if k else math.nan
        rl, rh = wilson(t_pos[i], k)
        too_few = k < MIN_SAMPLE
        if too_few and t_acc[i] > 0:
            warnings.append(f"Tier {name} has only {int(k)} held-out accounts with a known outcome: "
                            "too few to judge its rate")
        rows.append({"tier": name, "accounts": int(t_acc[i]), "known": int(k), "good": int(t_pos[i]),
                     "rate": rate, "rate_low": rl, "rate_high": rh,
                     "lift": rate / base if base and not math.isnan(rate) else math.nan, "too_few": bool(too_few)})
    if n_pos < MIN_SAMPLE or n_neg < MIN_SAMPLE:
        warnings.insert(0, f"The held-out split has {int(n_pos)} good and {int(n_neg)} other accounts: "
                           f"fewer than {MIN_SAMPLE} on one side, so the AUC and lifts are rough")
    ab = tier <= 1
    captured = float(pos[ab].sum() / n_pos) if n_pos else math.nan
    arr = p.agg["arr"] if p.agg is not None else np.zeros(len(p.count))
    captured_arr = float(arr[ab].sum() / arr.sum()) if arr.sum() > 0 else math.nan
    cust, opn = counts["customers"], counts["open"]
    customers_in = float(cust[ab].sum() / cust.sum()) if cust.sum() else math.nan
    pipeline_in = float(opn[ab].sum() / opn.sum()) if opn.sum() else math.nan
    # cumulative gains over the held-out accounts, best score first
    order = np.argsort(-rank_score, kind="stable")
    k_cum = np.cumsum((pos + neg)[order])
    p_cum = np.cumsum(pos[order])
    gains = pd.DataFrame({"share_targeted": np.concatenate([[0.0], k_cum / n if n else k_cum]),
                          "share_captured": np.concatenate([[0.0], p_cum / n_pos if n_pos else p_cum])})
    if len(gains) > 200:
        gains = gains.iloc[np.unique(np.linspace(0, len(gains) - 1, 200).astype(int))]
    return Backtest(outcome_label, int(n), int(n_pos), base, auc, lo, hi, pd.DataFrame(rows), captured,
                    captured_arr, customers_in, pipeline_in, gains.reset_index(drop=True), warnings)


def live_backtest(accounts: AccountMatrix, result: ScoreResult, outcome: Outcome) -> Backtest:
    """Backtest of a scored profile on the fixed held-out split; the O(n) part (outcome counts
    per match pattern) is memoised per trait set and outcome, so a weight change costs O(patterns)."""
    key = ("backtest", tuple(t.definition_key() for t in result.traits), outcome.key())

    def counts() -> dict:
        y, w = outcome_weights(accounts, outcome)
        return pattern_outcomes(result.patterns, y, holdout_mask(accounts.n), accounts, w)

    return backtest(result, accounts.memo(key, counts), outcome.label())


def adopt_traits(profile: Profile, traits: list[Trait]) -> Profile:
    """Put suggested traits into a profile: a trait with the same definition (column, rule,
    values, range) takes the suggested weight and class; others are added."""
    p = profile.copy()
    by_def = {t.definition_key(): t for t in p.traits}
    for s in traits:
        existing = by_def.get(s.definition_key())
        if existing is not None:
            existing.weight, existing.trait_class = s.weight, s.trait_class
            existing.disqualify = existing.disqualify and s.trait_class == "stay_away"
        else:
            p.traits.append(Trait(**{**s.to_dict(), "id": new_trait_id()}))
    return p


# --------------------------------------------------------------------------- reference model

REFERENCE_MAX_ROWS = 5_000  # observations the black-box reference is cross-validated on (stratified sample)
REFERENCE_FOLDS = 5


def reference_rows(y: np.ndarray, w: np.ndarray, max_rows: int = REFERENCE_MAX_ROWS, seed: int = 7) -> np.ndarray:
    """Accounts with a known outcome for the reference model: all of them when they stand for at
    most `max_rows` observations (see `outcome_weights`), else a seeded sample stratified by
    good (y >= 0.5) / other, each side keeping its share of the observations. Sorted."""
    rows = np.flatnonzero(~np.isnan(y) & (w > 0))
    total = float(w[rows].sum())
    if total <= max_rows:
        return rows
    good = y[rows] >= 0.5
    rng = np.random.default_rng(seed)
    keep = []
    for side in (good, ~good):
        r = rng.permutation(rows[side])
        budget = max_rows * float(w[rows[side]].sum()) / total
        keep.append(r[np.cumsum(w[r]) <= budget])
    return np.sort(np.concatenate(keep))


def reference_auc(accounts: AccountMatrix, outcome: Outcome, max_rows: int = REFERENCE_MAX_ROWS,
                  train: np.ndarray | None = None, test: np.ndarray | None = None,
                  threads: int | None = 1) -> float:
    """A black-box reference: HistGradientBoostingClassifier on the same columns.

    Without train/test: `REFERENCE_FOLDS`-fold cross-validated AUC on the accounts with a known
    outcome, on a stratified sample of at most `max_rows` observations (`reference_rows`; on
    IBM telco, 7,043 accounts, retained: 0.8438 on the 5,000-row sample, 0.8445 on all of them).
    With train/test masks: fit on train, AUC on test (no sampling).
    `threads`: OpenMP threads per fit (1 by default: on a busy server, or with several sessions
    fitting at once, more threads than free cores made a 2 s fit take 20-45 s); None = all cores.
    """
    from contextlib import nullcontext

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    y, w = outcome_weights(accounts, outcome)
    frame = reference_features(accounts, outcome)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0, max_iter=200,
                                           early_stopping=False, learning_rate=0.05, max_leaf_nodes=15,
                                           min_samples_leaf=20)

    def limit():  # threadpool_limits applies on creation: create it where it is entered
        return threadpool_limits(limits=threads, user_api="openmp") if threads else nullcontext()

    if train is not None and test is not None:
        tr, ytr = expand_outcomes(np.flatnonzero(train & ~np.isnan(y) & (w > 0)), y, w)
        te, yte = expand_outcomes(np.flatnonzero(test & ~np.isnan(y) & (w > 0)), y, w)
        if len(np.unique(ytr)) < 2 or len(np.unique(yte)) < 2:
            return math.nan
        with limit():
            model.fit(frame.iloc[tr], ytr)
            return float(roc_auc_score(yte, model.predict_proba(frame.iloc[te])[:, 1]))
    rows = reference_rows(y, w, max_rows)
    idx, yy = expand_outcomes(rows, y, w)
    n_min = min(yy.sum(), len(yy) - yy.sum(), len(rows))
    if n_min < 5:
        return math.nan
    cv = list(StratifiedGroupKFold(n_splits=min(REFERENCE_FOLDS, int(n_min)), shuffle=True,
                                   random_state=0).split(idx, yy, idx))
    with limit():
        return float(cross_val_score(model, frame.iloc[idx], yy, cv=cv, scoring="roc_auc").mean())


def reference_features(accounts: AccountMatrix, outcome: Outcome) -> pd.DataFrame:
    """The candidate columns as a model-ready frame: numbers as floats, categories as pandas
    categoricals (top 50 values), technologies as flags (top 30)."""
    cols = {}
    for s in _candidate_columns(accounts, outcome):
        if s.kind in ("number", "year"):
            cols[s.header] = accounts.column_array(s)
        elif s.kind == "list":
            values, mat = accounts.technology_flags(s, limit=30)
            for k, v in enumerate(values):
                cols[f"{s.header}: {v}"] = mat[:, k].astype(np.float32)
        elif s.kind in ("boolean", "churn"):
            codes, values = accounts.column_codes(s)
            cols[s.header] = pd.Categorical.from_codes(codes, categories=values) if values else codes
        else:
            codes, values = accounts.column_codes(s)
            counts = np.bincount(codes[codes >= 0], minlength=len(values))
            keep = np.argsort(-counts)[:50]
            remap = np.full(len(values) + 1, -1, dtype=np.int32)
            remap[keep] = np.arange(len(keep))
            cols[s.header] = pd.Categorical.from_codes(remap[codes], categories=[values[i] for i in keep])
    if not cols:
        return pd.DataFrame({"_none": np.zeros(accounts.n)})
    return pd.DataFrame(cols)


def score_auc(accounts: AccountMatrix, profile: Profile, outcome: Outcome, rows: np.ndarray) -> float:
    """AUC of a profile's ranking (disqualified lowest) on the given accounts."""
    from sklearn.metrics import roc_auc_score

    from .scoring import score_profile

    result, _ = score_profile(accounts, profile)
    y, w = outcome_weights(accounts, outcome)
    idx, lab = expand_outcomes(np.flatnonzero(rows & ~np.isnan(y) & (w > 0)), y, w)
    rank = np.where(result.tier == 4, -1.0, result.score)
    if len(np.unique(lab)) < 2:
        return math.nan
    return float(roc_auc_score(lab, rank[idx]))


# --------------------------------------------------------------------------- cohorts

def cohort_table(accounts: AccountMatrix, result: ScoreResult, y: np.ndarray, date_spec: ColumnSpec,
                 min_accounts: int = 10) -> pd.DataFrame:
    """Outcome rate by quarter of `date_spec` for ICP (tiers A+B) vs other accounts.

    Columns: cohort, group (ICP / Not ICP), accounts (with a known outcome), rate."""
    cq = accounts.quarters(date_spec)
    icp = result.tier <= 1
    ok = (cq >= 0) & ~np.isnan(y)
    if not ok.any():
        return pd.DataFrame(columns=["cohort", "group", "accounts", "rate"])
    df = pd.DataFrame({"c": cq[ok], "icp": icp[ok], "y": y[ok]})
    g = df.groupby(["c", "icp"])["y"].agg(["size", "mean"]).reset_index()
    g = g[g["size"] >= min_accounts]
    g["cohort"] = (g["c"] // 10).astype(str) + " Q" + (g["c"] % 10).astype(str)
    g["group"] = np.where(g["icp"], "ICP (A+B)", "Not ICP")
    return g.rename(columns={"size": "accounts", "mean": "rate"})[["cohort", "group", "accounts", "rate"]]


def date_columns(accounts: AccountMatrix, outcome: Outcome | None = None) -> list[ColumnSpec]:
    """Date columns for cohorts, the fitting one first (close date for won/lost, signup date
    for retention and the rest)."""
    won = outcome is not None and outcome.kind == "won"
    order = {"close_date": 0, "signup_date": 1} if won else {"signup_date": 0, "close_date": 1}
    dates = [s for s in accounts.specs if s.kind == "date"]
    return sorted(dates, key=lambda s: order.get(s.role, 2))


