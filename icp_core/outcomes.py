"""Outcomes: what "good customer" means, turned into y ∈ {1, 0, NaN} per account.

- `Outcome` is the user's definition of a good customer (won vs lost, retained vs churned, ARR
  above a value, NPS promoter, short sales cycle, any column, a weighted composite, or a
  product-market-fit score). It is frozen and hashable (a cache key); each kind has its own,
  named fields (see the class).
- `outcome_labels` evaluates an outcome per account; `outcome_weights` also says how many
  observations each account stands for (its closed deals, for won-vs-lost on opportunities rolled
  up to accounts); `account_labels` turns those back into one label per account;
  `expand_outcomes` repeats accounts per observation for fitting and AUCs.
- `default_outcome` picks the outcome a dataset opens on: won vs lost, retained vs churned, else a
  yes/no column whose header reads like an outcome (Converted, Won, Purchased, Churn -> not
  churned, ...), else ARR / NPS / sales cycle, else no column (the user picks one).
- `pmf_scores`: a product-market-fit score per account from weighted, normalised inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from .dataset import AccountMatrix
from .formatting import format_number
from .profile import Trait, find_column
from .roles import ROLES, ColumnSpec


class EvidenceError(ValueError):
    """An outcome or request that cannot be evaluated; the message says why (in words that
    suit any front end: no command-line flags, no widget names)."""


class OutcomeIncomplete(EvidenceError):
    """The outcome is not fully defined yet (no column picked, no rule for a numeric column,
    no good value for a categorical one): a question for the user rather than an error."""


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

# The fields each kind may set; every other field stays at its default.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "arr_above": ("arr_floor",),
    "short_cycle": ("max_cycle_days",),
    "column": ("column", "good_when"),
    "composite": ("components",),
    "pmf": ("pmf_columns", "pmf_method", "pmf_top_percent"),
}


@dataclass(frozen=True)
class Outcome:
    """What a good customer is: a `kind` and that kind's own fields (and only those).

    ============  ===========================================================================
    kind          fields
    ============  ===========================================================================
    won           none: won vs lost deals, open deals unknown
    retained      none: retained vs churned
    arr_above     `arr_floor`: good when ARR ≥ this (None = 0)
    nps_promoter  none: good when NPS ≥ 9
    short_cycle   `max_cycle_days`: good when the sales cycle is at most this many days (None = 0)
    column        `column`: a header (None = not picked yet); `good_when`: the good side, as the
                  good value(s) of a category ("A|B"), a yes/no value ("true", "Closed Lost"), or a
                  comparison for a number (">= 9"); None = the column's own good side (won,
                  retained, true) for yes/no columns, not given yet for the others
    composite     `components`: ((Outcome, weight), ...); good when the weighted blend of an
                  account's known components is at least 0.5
    pmf           `pmf_columns`: ((header, weight), ...) the inputs of the score; `pmf_method`:
                  how each input is normalised (a key of PMF_METHODS); `pmf_top_percent`: good
                  customers are the top this % by PMF score
    ============  ===========================================================================

    Setting a field of another kind raises ValueError. Lists are stored as tuples (hashable)."""

    kind: str = "won"
    arr_floor: float | None = None
    max_cycle_days: float | None = None
    column: str | None = None
    good_when: str | None = None
    components: tuple[tuple[Outcome, float], ...] = ()
    pmf_columns: tuple[tuple[str, float], ...] = ()
    pmf_method: str = "percentile"
    pmf_top_percent: float = 50.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", tuple((c, w) for c, w in self.components))
        object.__setattr__(self, "pmf_columns", tuple((str(c), float(w)) for c, w in self.pmf_columns))
        object.__setattr__(self, "pmf_top_percent", float(self.pmf_top_percent))
        own = KIND_FIELDS.get(self.kind, ())
        for f in fields(self):
            if f.name != "kind" and f.name not in own and getattr(self, f.name) != f.default:
                raise ValueError(f"Outcome field {f.name!r} does not apply to kind {self.kind!r}")

    def key(self) -> str:
        """A stable text key (memo keys, session state)."""
        return repr(self)

    def label(self) -> str:
        if self.kind == "arr_above":
            return f"ARR ≥ {format_number(self.arr_floor or 0)}"
        if self.kind == "short_cycle":
            return f"Sales cycle ≤ {format_number(self.max_cycle_days or 0)} days"
        if self.kind == "column":
            m = _COMPARE.match(self.good_when or "")
            if m and m.group(1):  # "NPS >= 9", not "NPS = >=9"
                return f"{self.column} {_OPERATORS.get(m.group(1), m.group(1))} {m.group(2)}{m.group(3) or ''}"
            return f"{self.column} = {self.good_when}" if self.good_when else str(self.column)
        if self.kind == "composite":
            return " + ".join(f"{w:.0%} {c.label()}" for c, w in self.components)
        if self.kind == "pmf":
            parts = " + ".join(f"{w:.0%} {c}" for c, w in self.pmf_columns)
            return f"PMF score in the top {self.pmf_top_percent:g} % ({parts})"
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


# --------------------------------------------------------------------------- the default outcome

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


def _yes_no_good_when(accounts: AccountMatrix, spec: ColumnSpec, word: str) -> str | None:
    """The `good_when` of a yes/no column whose good side is `word` ('good': true / 1, 'bad':
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


def _outcome_column(accounts: AccountMatrix) -> Outcome | None:
    """The first yes/no accounts column whose header reads like an outcome, as an Outcome."""
    for spec in accounts.specs:
        if spec.role == "ignore" or spec.source != "accounts" or spec.role in ("account_id", "account_name"):
            continue
        word = _outcome_word(spec.header)
        if word is None:
            continue
        if spec.kind == "churn":
            return Outcome("column", column=spec.header, good_when="false" if word == "bad" else "true")
        good_when = _yes_no_good_when(accounts, spec, word)
        if good_when is not None:
            return Outcome("column", column=spec.header, good_when=good_when)
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
    by_header = _outcome_column(accounts)
    if by_header is not None:
        return by_header
    if "arr_above" in kinds:
        arr = accounts.arr[np.isfinite(accounts.arr)]
        return Outcome("arr_above", arr_floor=float(round(np.median(arr), -2)) if len(arr) else 0.0)
    if "nps_promoter" in kinds:
        return Outcome("nps_promoter")
    if "short_cycle" in kinds:
        x = accounts.column_array(outcome_column_spec(accounts, "sales_cycle_days"))
        return Outcome("short_cycle", max_cycle_days=float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0)
    return Outcome("column")


# --------------------------------------------------------------------------- comparisons

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
    assert m is not None
    return _OPERATORS.get(m.group(1), m.group(1) or ">="), num


def outcome_column_spec(accounts: AccountMatrix, name: str) -> ColumnSpec:
    """The column an outcome refers to: a role name (nps, sales_cycle_days, ...) or a header."""
    s = find_column(Trait(label="outcome", rule="missing", role=name if name in ROLES else None,
                          column=None if name in ROLES else name), accounts.specs)
    if s is None:
        s = find_column(Trait(label="outcome", rule="missing", column=name), accounts.specs)
    if s is None:
        raise EvidenceError(f"no column “{name}” in this dataset")
    return s


# --------------------------------------------------------------------------- labels of one column

def _numeric_labels(accounts: AccountMatrix, spec: ColumnSpec, good_when: str | None) -> np.ndarray:
    x = accounts.column_array(spec)
    if not good_when:
        raise OutcomeIncomplete(f"“{spec.header}” is numeric: give the good side, e.g. {COMPARISON_EXAMPLE}")
    op, num = parse_comparison(good_when)
    good = {">=": x >= num, "<=": x <= num, ">": x > num, "<": x < num, "=": x == num}[op]
    return np.where(np.isnan(x), np.nan, good.astype(float))


def _parse_yes_no(spec: ColumnSpec, good_when: str) -> str:
    """The user's good value of a yes/no column, read with the same cleaning macro as the column."""
    import duckdb

    from .clean import install_cleaning_macros

    macro = {"stage": "icp_parse_stage", "churn": "icp_parse_churn", "boolean": "icp_parse_bool"}[spec.kind]
    con = duckdb.connect()
    try:
        install_cleaning_macros(con)
        row = con.execute(f"SELECT CAST({macro}(?) AS VARCHAR)", [good_when]).fetchone()
    finally:
        con.close()
    parsed = row[0] if row else None
    if parsed is None:
        raise EvidenceError(f"cannot read {good_when!r} as a value of “{spec.header}”")
    return str(parsed).lower()


def _yes_no_labels(accounts: AccountMatrix, spec: ColumnSpec, good_when: str | None) -> np.ndarray:
    codes, values = accounts.column_codes(spec)
    known = codes >= 0
    target = _parse_yes_no(spec, good_when) if good_when else {"stage": "won", "churn": "false",
                                                               "boolean": "true"}[spec.kind]
    vals = [str(v).lower() for v in values]
    good = np.array([v == target for v in vals] + [False])[codes]
    if spec.kind == "stage":
        undecided = np.array([v not in ("won", "lost") for v in vals] + [True])[codes]
        return np.where(~known | undecided, np.nan, good.astype(float))
    return np.where(~known, np.nan, good.astype(float))


def _category_labels(accounts: AccountMatrix, spec: ColumnSpec, good_when: str | None) -> np.ndarray:
    if not good_when:
        raise OutcomeIncomplete(f"“{spec.header}” is categorical: say which value is good")
    codes, values = accounts.column_codes(spec)
    wanted = {p.strip().lower() for p in good_when.split("|")}
    good = np.array([str(v).strip().lower() in wanted for v in values] + [False])[codes]
    if not good.any():
        raise EvidenceError(f"no account has {good_when!r} in “{spec.header}”")
    return np.where(codes < 0, np.nan, good.astype(float))


def _column_labels(accounts: AccountMatrix, name: str, good_when: str | None) -> np.ndarray:
    spec = outcome_column_spec(accounts, name)
    if spec.kind in ("number", "year"):
        return _numeric_labels(accounts, spec, good_when)
    if spec.kind in ("stage", "churn", "boolean"):
        return _yes_no_labels(accounts, spec, good_when)
    return _category_labels(accounts, spec, good_when)


# --------------------------------------------------------------------------- PMF score

def pmf_component(accounts: AccountMatrix, name: str) -> np.ndarray:
    """One PMF input as numbers per account (higher is better): numeric columns as they are,
    won = 1 / lost = 0, retained = 1 / churned = 0, booleans true = 1."""
    spec = outcome_column_spec(accounts, name)
    if spec.kind in ("number", "year"):
        return accounts.column_array(spec)
    if spec.kind == "stage":
        return np.select([accounts.won == 1, accounts.won == 0], [1.0, 0.0], np.nan) if spec.role == "deal_stage" \
            else _column_labels(accounts, name, None)
    if spec.kind in ("churn", "boolean"):
        return _column_labels(accounts, name, None)  # retained / true is good
    raise EvidenceError(f"“{spec.header}” is not numeric or yes/no, so it cannot feed a PMF score")


def _normalised(x: np.ndarray, ok: np.ndarray, method: str) -> np.ndarray:
    """One PMF input in 0..1: percentile rank, or min–max (NaN where the input is missing)."""
    if method == "percentile":
        out = np.full(len(x), np.nan)
        out[ok] = pd.Series(x[ok]).rank(method="average", pct=True).to_numpy()
        return out
    lo, hi = np.nanmin(x), np.nanmax(x)
    return (x - lo) / (hi - lo) if hi > lo else np.where(ok, 1.0, np.nan)


def pmf_scores(accounts: AccountMatrix, components: list[tuple[str, float]] | tuple[tuple[str, float], ...],
               method: str = "percentile") -> np.ndarray:
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
        num += np.where(ok, _normalised(x, ok, method) * w, 0.0)
        den += np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


# --------------------------------------------------------------------------- labels per kind

def _pmf_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    score = pmf_scores(accounts, outcome.pmf_columns, outcome.pmf_method)
    ok = np.isfinite(score)
    if not ok.any():
        raise EvidenceError("no account has any of the PMF inputs")
    cut = np.percentile(score[ok], 100 - outcome.pmf_top_percent)
    return np.where(ok, (score >= cut).astype(float), np.nan)


def _won_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    if not accounts.has["won"]:
        raise EvidenceError("this dataset has no won/lost column (map a deal stage or add opportunities)")
    return np.select([accounts.won == 1, accounts.won == 0], [1.0, 0.0], np.nan)


def _retained_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    if not accounts.has["churned"]:
        raise EvidenceError("this dataset has no churned/retained column")
    return np.select([accounts.churned == 0, accounts.churned == 1], [1.0, 0.0], np.nan)


def _arr_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    if not accounts.has["arr"]:
        raise EvidenceError("this dataset has no ARR column")
    x = accounts.arr
    return np.where(np.isnan(x), np.nan, (x >= (outcome.arr_floor or 0)).astype(float))


def _nps_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    x = accounts.column_array(outcome_column_spec(accounts, "nps"))
    return np.where(np.isnan(x), np.nan, (x >= 9).astype(float))


def _cycle_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    x = accounts.column_array(outcome_column_spec(accounts, "sales_cycle_days"))
    return np.where(np.isnan(x), np.nan, (x <= (outcome.max_cycle_days or 0)).astype(float))


def _column_outcome_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    if not outcome.column:
        raise OutcomeIncomplete("choose the column that says what a good customer is")
    return _column_labels(accounts, outcome.column, outcome.good_when)


def _composite_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
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


_LABELS: dict[str, Callable[[AccountMatrix, Outcome], np.ndarray]] = {
    "pmf": _pmf_labels, "won": _won_labels, "retained": _retained_labels, "arr_above": _arr_labels,
    "nps_promoter": _nps_labels, "short_cycle": _cycle_labels, "column": _column_outcome_labels,
    "composite": _composite_labels,
}


def outcome_labels(accounts: AccountMatrix, outcome: Outcome) -> np.ndarray:
    """y per account: 1 good, 0 not good, NaN unknown (open deal, no churn flag, ...)."""
    labels = _LABELS.get(outcome.kind)
    if labels is None:
        raise EvidenceError(f"unknown outcome kind {outcome.kind!r}")
    return labels(accounts, outcome)


# --------------------------------------------------------------------------- observations per account

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


def counts_deals(w: np.ndarray) -> bool:
    """Whether `outcome_weights`' observations are closed deals (some account stands for several),
    rather than one per account."""
    return bool(len(w)) and float(np.max(w)) > 1


def account_labels(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One label per account (1 good, 0 not, NaN unknown) from `outcome_weights`' (y, w): y as it
    is when every account stands for at most one observation; with deals rolled up to accounts, an
    account is good when at least half of its closed deals were won (unknown without any)."""
    if not counts_deals(w):
        return y
    return np.where(w > 0, (y >= 0.5).astype(float), np.nan)


def expand_outcomes(rows: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observations for fitting and AUCs: each account repeated once per good and once per
    other observation it stands for. Returns (account index per observation, label 0/1)."""
    pos = np.rint(w[rows] * y[rows]).astype(np.int64)
    neg = np.rint(w[rows] * (1 - y[rows])).astype(np.int64)
    idx = np.concatenate([np.repeat(rows, pos), np.repeat(rows, neg)])
    lab = np.concatenate([np.ones(pos.sum(), dtype=int), np.zeros(neg.sum(), dtype=int)])
    order = np.argsort(idx, kind="stable")
    return idx[order], lab[order]
