"""Data-suggested traits and weights for an outcome.

`find_candidates` finds, per usable column, candidate traits with their evidence on the training
accounts: each common category value, and the values above / below the base rate merged into one
"in {A, B}" group per direction; for numbers, the bands where the outcome rate changes (decile bins
cut into up to four runs by dynamic programming on the binomial likelihood) and the best single run
per direction, each band also with its edges moved to round numbers where the rates change there
(`_snapped`); each technology as a flag; yes/no columns as a flag; missing values as a trait.
Candidates whose rate differs from the base rate beyond a Bonferroni-corrected Wilson interval are
marked strong.

`suggest_traits` (issue 18, item 5: close to the best possible ranking) fits an L1-regularised
logistic regression (scikit-learn) on the *atoms* (single values, bands, flags, missing), strong
or not, refits the kept atoms without the L1 shrinkage (relaxed lasso), maps the coefficients to
-5..+5 and merges atoms of one column with the same weight (values into one set, adjacent bands into
one range, its edges at round numbers when they moved); beyond `max_traits` traits, the closest weights of one column merge, then the least
significant trait (Wald statistic of a joint refit) is dropped until `max_traits` are left; the
final weights become integers by the scale that ranks the training accounts best. The regularisation
is picked by the cross-validated AUC of that whole suggestion (integer score, cap included). No
strong candidate -> "no strong traits found". bench/bench_evidence.py measures it against the
planted model's own ranking (the oracle) and gradient boosting.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dataset import AccountMatrix
from .outcomes import EvidenceError, Outcome, expand_outcomes, outcome_column_spec, outcome_weights
from .profile import Profile, TierRule, Trait, default_label, trait_ref_for, usable_columns
from .roles import ColumnSpec
from .stats import MIN_SAMPLE, bonferroni_z, holdout_mask, wilson


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
    atom: bool = True  # goes to the regression (one value, one band of a number, one flag); groups do not
    segment: int = -1  # a number's band: its position among the column's bands (adjacent ones merge)
    round_bounds: tuple[float | None, float | None] | None = None  # a band's (min, max) at round numbers
    kind: str = "number"  # the column's kind (ColumnSpec.kind): how a merged range prints its bounds
    merged_into: str = ""  # the suggested trait this one is part of (same column, same weight; or its band moved)


OUTCOME_ROLES = {"deal_stage", "arr", "churned", "nps", "sales_cycle_days", "signup_date", "close_date"}


def candidate_columns(accounts: AccountMatrix, outcome: Outcome) -> list[ColumnSpec]:
    """Columns that may describe an account before the outcome: no outcomes, no roll-ups of the
    opportunities (they are the outcome), no dates, no identifiers."""
    used = set()
    if outcome.kind == "column" and outcome.column:
        try:
            used.add(outcome_column_spec(accounts, outcome.column).key)
        except EvidenceError:
            pass
    return [s for s in usable_columns(accounts.specs)
            if not (s.role in OUTCOME_ROLES or s.source != "accounts" or s.key in used
                    or s.kind in ("date", "text", "id"))]


def nice_bound(x: float, kind: str) -> float:
    """A range bound rounded to two significant figures (years and small integers kept)."""
    if kind == "year" or x == 0 or abs(x) < 100:
        return float(round(x)) if kind == "year" or abs(x) >= 10 else float(f"{x:.2g}")
    return float(f"{x:.2g}")


RANGE_BINS = 10  # quantile bins a number is cut into before its bands are found


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


# --------------------------------------------------------------------------- candidates

@dataclass
class _Split:
    """The training accounts with a known outcome, and the candidates found on them."""

    known: np.ndarray  # training accounts with a known outcome
    good: np.ndarray  # good observations per account (0 outside `known`)
    obs: np.ndarray  # all observations per account (0 outside `known`)
    n_known: int
    base: float  # base rate: good / all observations
    min_support: int
    z: float = 1.96  # Bonferroni-corrected, set once every column's comparisons are counted
    out: list[Candidate] = field(default_factory=list)

    def add(self, trait: Trait, spec: ColumnSpec, match: np.ndarray, atom: bool = True, segment: int = -1) -> bool:
        """Add `trait` as a candidate unless too few (or too many) known accounts match it."""
        hit = match & self.known
        n = float(hit.sum())
        if n < self.min_support or n > self.n_known - self.min_support:
            return False
        rate, lift, lo, hi, strong = _stat(float(self.good[hit].sum()), float(self.obs[hit].sum()), n,
                                           self.base, self.z)
        self.out.append(Candidate(trait, spec.header, int(n), rate, lift, lo, hi, strong, atom=atom, segment=segment,
                                  kind=spec.kind))
        return True

    def add_missing(self, spec: ColumnSpec, miss: np.ndarray) -> None:
        """The "value missing" trait of a column, when some accounts miss it."""
        if miss.any():
            self.add(Trait(label=default_label(spec.header, "missing"), rule="missing", weight=1,
                           **trait_ref_for(spec)), spec, miss)


# A column kind's candidates come in two steps: `prepare` reads the column and says how many
# comparisons it makes (None: skip the column), `build` adds its candidates once the
# Bonferroni-corrected z is known.
_Prepare = Callable[[AccountMatrix, ColumnSpec, _Split], tuple[int, Any] | None]
_Build = Callable[[AccountMatrix, ColumnSpec, Any, _Split], None]


def _prepare_category(accounts: AccountMatrix, spec: ColumnSpec, split: _Split) -> tuple[int, Any]:
    codes, values = accounts.column_codes(spec)
    n_v = np.bincount(codes[split.known & (codes >= 0)], minlength=len(values))
    return int((n_v >= split.min_support).sum()), (codes, values, n_v)


def _build_category(accounts: AccountMatrix, spec: ColumnSpec, data: Any, split: _Split) -> None:
    """One "in {A, B}" trait per direction (values above / below the base rate), plus the
    strongest single value of each, plus "missing"."""
    codes, values, n_v = data
    sel = split.known & (codes >= 0)
    pos_v = np.bincount(codes[sel], weights=split.good[sel], minlength=len(values))
    obs_v = np.bincount(codes[sel], weights=split.obs[sel], minlength=len(values))
    above, below = [], []
    for i, v in enumerate(values):
        if n_v[i] < split.min_support:
            continue
        rate, lift, _, _, strong = _stat(pos_v[i], obs_v[i], n_v[i], split.base, split.z)
        if strong and rate > split.base:
            above.append((lift, v))
        elif strong and rate < split.base:
            below.append((lift, v))
    ref = trait_ref_for(spec)
    for group, sign in ((sorted(above, reverse=True), 1), (sorted(below), -1)):
        if not group:
            continue
        vals = [v for _, v in group]
        idx = np.flatnonzero(np.isin(np.array(values, dtype=object), vals))
        split.add(Trait(label=default_label(spec.header, "in_set", vals), rule="in_set", values=vals,
                        weight=sign, **ref), spec, np.isin(codes, idx), atom=len(vals) == 1)
    # every common value on its own too (strong or not): a value with a weaker effect of its own
    # (Healthcare beside Fintech) gets its own weight when the regression finds it earns one
    grouped = {v for _, v in above if len(above) == 1} | {v for _, v in below if len(below) == 1}
    for i, v in enumerate(values):
        if n_v[i] >= split.min_support and v not in grouped:
            split.add(Trait(label=default_label(spec.header, "in_set", [v]), rule="in_set", values=[v],
                            weight=1, **ref), spec, codes == i)
    split.add_missing(spec, codes < 0)


def _prepare_range(accounts: AccountMatrix, spec: ColumnSpec, split: _Split) -> tuple[int, Any] | None:
    x = accounts.column_array(spec)
    ok = split.known & ~np.isnan(x)
    if ok.sum() < 2 * split.min_support:
        return None
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, RANGE_BINS + 1)))
    if len(edges) < 3:
        return None
    return len(edges) * (len(edges) - 1) // 2, (x, edges)


def _best_bins(cnt: np.ndarray, obs: np.ndarray, pos: np.ndarray, split: _Split) -> dict[int, tuple[int, int] | None]:
    """Per direction (+1 above the base rate, -1 below), the run of bins i..j with the largest
    z statistic, or None."""
    best: dict[int, tuple[float, tuple[int, int] | None]] = {1: (0.0, None), -1: (0.0, None)}
    n_ok = cnt.sum()
    base = split.base
    for i in range(len(cnt)):
        for j in range(i, len(cnt)):
            n = cnt[i:j + 1].sum()
            if n < split.min_support or n > n_ok - split.min_support:
                continue
            rate = pos[i:j + 1].sum() / obs[i:j + 1].sum()
            zstat = (rate - base) * math.sqrt(n / (base * (1 - base)))
            sign = 1 if zstat > 0 else -1
            if abs(zstat) > best[sign][0]:
                best[sign] = (abs(zstat), (i, j))
    return {sign: ij for sign, (_, ij) in best.items()}


def _best_partition(cnt: np.ndarray, obs: np.ndarray, pos: np.ndarray, split: _Split,
                    max_segments: int = 4) -> list[tuple[int, int]]:
    """The bins cut into at most `max_segments` runs (each with enough support) with the best binomial
    log-likelihood, as [(first bin, last bin)]: the bands a number's effect changes at (200-2,000
    employees win more, under 20 less, over 2,000 as the rest), found by dynamic programming."""
    def ll(a: int, b: int) -> float:  # bins a..b-1 as one rate
        p_, o = cp[b] - cp[a], co[b] - co[a]
        if o <= 0:
            return 0.0
        r = min(max(p_ / o, 1e-9), 1 - 1e-9)
        return p_ * math.log(r) + (o - p_) * math.log(1 - r)
    nb = len(cnt)
    cp, co, cn = (np.concatenate([[0.0], np.cumsum(a)]) for a in (pos, obs, cnt))
    # best[k][b]: the best log-likelihood of bins 0..b-1 in k runs; cut[k][b]: where the last run starts
    best = np.full((max_segments + 1, nb + 1), -math.inf)
    cut = np.zeros((max_segments + 1, nb + 1), dtype=np.int64)
    best[0][0] = 0.0
    for k in range(1, max_segments + 1):
        for b in range(1, nb + 1):
            for a in range(b):
                if cn[b] - cn[a] < split.min_support or not math.isfinite(best[k - 1][a]):
                    continue
                v = best[k - 1][a] + ll(a, b)
                if v > best[k][b]:
                    best[k][b], cut[k][b] = v, a
    # the fewest runs whose likelihood gain over one run fewer is worth a BIC-like penalty per cut
    n_obs = max(float(co[nb]), 2.0)
    k_best = 1
    for k in range(2, max_segments + 1):
        if math.isfinite(best[k][nb]) and best[k][nb] - best[k_best][nb] > (k - k_best) * math.log(n_obs):
            k_best = k
    if k_best == 1:
        return []
    runs, b = [], nb
    for k in range(k_best, 0, -1):
        a = int(cut[k][b])
        runs.append((a, b - 1))
        b = a
    return runs[::-1]


SNAP_MIN_GAIN = 1.0  # log-likelihood a round cut must gain over the decile edge to replace it


def _round_cuts(lo: float, hi: float) -> np.ndarray:
    """The round numbers (1, 2, 5 × a power of ten, either sign) strictly between `lo` and `hi`."""
    top = max(abs(lo), abs(hi))
    if not (math.isfinite(top) and top > 0):
        return np.empty(0)
    powers = 10.0 ** np.arange(math.floor(math.log10(top)) - 3, math.floor(math.log10(top)) + 1)
    ladder = np.outer(powers, [1.0, 2.0, 5.0]).ravel()
    cuts = np.concatenate([-ladder, ladder])
    return np.sort(cuts[(cuts > lo) & (cuts < hi)])


def _snapped(x: np.ndarray, good: np.ndarray, obs: np.ndarray, edges: np.ndarray,
             bands: list[tuple[int, int]]) -> np.ndarray:
    """`edges` with each cut between two bands moved to the round number within its neighbouring bins
    (`_round_cuts`) that best fits the two bands' rates (binomial log-likelihood), when that fits better
    than the decile edge by SNAP_MIN_GAIN: people draw bands at round numbers (under 20, 200-2,000
    employees), so where the effect changes at one, the deciles only come near it. `x`, `good`, `obs`:
    the known accounts' values, good and all observations."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cg, co = (np.concatenate([[0.0], np.cumsum(a[order])]) for a in (good, obs))

    def ll(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # sorted accounts a..b-1 as one rate
        p_, o = cg[b] - cg[a], co[b] - co[a]
        r = np.clip(p_ / np.maximum(o, 1e-12), 1e-9, 1 - 1e-9)
        return np.where(o > 0, p_ * np.log(r) + (o - p_) * np.log(1 - r), 0.0)

    out = edges.copy()
    for (i, _), (b, j) in zip(bands, bands[1:], strict=False):
        cuts = np.concatenate([[edges[b]], _round_cuts(float(edges[b - 1]), float(edges[b + 1]))])
        first = int(np.searchsorted(xs, out[i])) if i > 0 else 0
        last = int(np.searchsorted(xs, edges[j + 1])) if j + 2 < len(edges) else len(xs)
        at = np.searchsorted(xs, cuts)
        fit = ll(np.full_like(at, first), at) + ll(at, np.full_like(at, last))
        k = int(np.argmax(fit))
        if k and fit[k] - fit[0] > SNAP_MIN_GAIN:
            out[b] = cuts[k]
    return out


def _range_bounds(x: np.ndarray, edges: np.ndarray, i: int, j: int, kind: str) -> tuple[float | None, float | None]:
    """Readable bounds of bins i..j (None = open): bins are [edge_i, edge_i+1), so the range ends
    at the largest value below the next edge."""
    lo = None if i == 0 else nice_bound(float(edges[i]), kind)
    hi = None
    if j < len(edges) - 2:
        below = x[~np.isnan(x) & (x < edges[j + 1]) & ((x >= lo) if lo is not None else True)]
        hi = nice_bound(float(below.max()), kind) if len(below) else None
    if hi is not None and lo is not None and hi < lo:
        hi = lo
    return lo, hi


def _build_range(accounts: AccountMatrix, spec: ColumnSpec, data: Any, split: _Split) -> None:
    """The best range of deciles per direction, plus "missing"."""
    x, edges = data
    ok = split.known & ~np.isnan(x)
    nb = len(edges) - 1
    bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, nb - 1)
    cnt = np.bincount(bins[ok], minlength=nb).astype(float)
    obs = np.bincount(bins[ok], weights=split.obs[ok], minlength=nb)
    pos = np.bincount(bins[ok], weights=split.good[ok], minlength=nb)
    # the bands the effect changes at go to the regression (atoms, merged back when they get the same
    # weight); the best single run per direction is shown as evidence beside them
    bands = _best_partition(cnt, obs, pos, split)
    # the regression picks and weighs the bands at the deciles; a suggested band's edges then move to
    # round numbers (`_snapped`) where the rates say so. Cutting at round numbers before the fit
    # changes which traits the cross-validation keeps, and on small data that costs more than it gains
    rounded = edges if spec.kind == "year" else _snapped(x[ok], split.good[ok], split.obs[ok], edges, bands)
    runs = [(ij, True, k) for k, ij in enumerate(bands)]
    runs += [(ij, False, -1) for ij in _best_bins(cnt, obs, pos, split).values() if ij is not None and ij not in bands]
    seen = set()
    for (i, j), atom, k in runs:
        lo, hi = _range_bounds(x, edges, i, j, spec.kind)
        if (lo, hi) in seen or (lo is None and hi is None):
            continue
        seen.add((lo, hi))
        inside = ~np.isnan(x) & ((x >= lo) if lo is not None else True) & ((x <= hi) if hi is not None else True)
        if split.add(Trait(label=default_label(spec.header, "range", lo=lo, hi=hi, kind=spec.kind), rule="range",
                           min=lo, max=hi, weight=1, **trait_ref_for(spec)), spec, inside, atom=atom, segment=k) \
                and atom:
            split.out[-1].round_bounds = _range_bounds(x, rounded, i, j, spec.kind)
    split.add_missing(spec, np.isnan(x))


def _prepare_list(accounts: AccountMatrix, spec: ColumnSpec, split: _Split) -> tuple[int, Any]:
    opts = accounts.value_options(spec, limit=30)["values"]
    return len(opts), [v for v, c in opts if c >= split.min_support]


def _build_list(accounts: AccountMatrix, spec: ColumnSpec, data: Any, split: _Split) -> None:
    """One "has X" flag per technology (or other list value) common enough."""
    if not data:
        return
    ref = trait_ref_for(spec)
    probe = [Trait(label=f"{spec.header} has {v}", rule="contains_any", values=[v], weight=1, **ref) for v in data]
    mat = accounts.matches([(t, spec) for t in probe])
    for k, t in enumerate(probe):
        split.add(t, spec, mat[:, k])


def _prepare_flag(accounts: AccountMatrix, spec: ColumnSpec, split: _Split) -> tuple[int, Any]:
    return 1, None


def _build_flag(accounts: AccountMatrix, spec: ColumnSpec, data: Any, split: _Split) -> None:
    """A yes/no column as "is true"."""
    t = Trait(label=default_label(spec.header, "is_true"), rule="is_true", weight=1, **trait_ref_for(spec))
    split.add(t, spec, accounts.matches([(t, spec)])[:, 0])


_BUILDERS: dict[str, tuple[_Prepare, _Build]] = {
    "range": (_prepare_range, _build_range),
    "list": (_prepare_list, _build_list),
    "flag": (_prepare_flag, _build_flag),
    "category": (_prepare_category, _build_category),
}


def _builder_kind(spec: ColumnSpec) -> str:
    if spec.kind in ("number", "year"):
        return "range"
    if spec.kind == "list":
        return "list"
    if spec.kind in ("boolean", "churn"):
        return "flag"
    return "category"


def _training_split(y: np.ndarray, train: np.ndarray, w: np.ndarray) -> _Split | None:
    """The known training accounts, or None when there are none or all share one outcome."""
    known = train & ~np.isnan(y) & (w > 0)
    n_known = int(known.sum())
    if n_known == 0:
        return None
    good = np.where(known, y * w, 0.0)
    obs = np.where(known, w, 0.0)
    base = float(good.sum() / obs.sum())
    if base in (0.0, 1.0):
        return None
    return _Split(known, good, obs, n_known, base, _min_support(n_known))


def find_candidates(accounts: AccountMatrix, y: np.ndarray, train: np.ndarray, outcome: Outcome,
                    w: np.ndarray | None = None, exclude: frozenset[str] = frozenset()) -> list[Candidate]:
    """Candidate traits per column, with support, rate, lift and a significance flag, computed
    on the training accounts with a known outcome. `w`: observations per account (see
    `outcome_weights`); intervals use the number of accounts, so many deals of one account do
    not count as independent evidence. Significance is Bonferroni-corrected over roughly the
    number of comparisons made (value groups, bin ranges, flags, and one "missing" per column)."""
    split = _training_split(y, train, np.where(np.isnan(y), 0.0, 1.0) if w is None else w)
    if split is None:
        return []
    tests = 0
    planned: list[tuple[ColumnSpec, _Build, Any]] = []
    for spec in candidate_columns(accounts, outcome):
        if spec.key in exclude:
            continue
        prepare, build = _BUILDERS[_builder_kind(spec)]
        plan = prepare(accounts, spec, split)
        if plan is None:
            continue
        n_tests, data = plan
        tests += n_tests + 1  # + the "missing" trait
        planned.append((spec, build, data))
    split.z = bonferroni_z(tests)
    for spec, build, data in planned:
        build(accounts, spec, data, split)
    return split.out


# --------------------------------------------------------------------------- suggestion

@dataclass
class Suggestion:
    outcome: Outcome
    base_rate: float
    n_train: int
    candidates: list[Candidate]  # strong ones first, then weak
    traits: list[Trait]  # the suggested traits (weights -5..+5), at most max_traits
    cv_auc: float  # cross-validated AUC of the suggestion (integer weights) on the training split
    message: str  # "n strong traits found" / "no strong traits found" / why not
    leaks: list = field(default_factory=list)  # leakage.LeakFlag per flagged column
    excluded: list[str] = field(default_factory=list)  # headers of flagged columns left out (not allowed)

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


def _relaxed(X: np.ndarray, yy: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The kept atoms refitted without the L1 shrinkage (a relaxed lasso: L1 shrinks weak effects
    more than strong ones, which bends the weights' ratios); 0 for the others."""
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros(X.shape[1])
    if keep.any():
        coef[keep] = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(X[:, keep], yy).coef_[0]
    return coef


def _fit_coefficients(X: np.ndarray, yy: np.ndarray, groups: np.ndarray, pool: list[Candidate],
                      max_traits: int, n_known: int) -> tuple[float, np.ndarray] | None:
    """The L1 logistic regression along a path of C values picks the atoms (those of C values keeping
    1..2 × max_traits atoms: atoms of one column with the same weight merge into one trait afterwards),
    and the kept atoms are refitted without the shrinkage (`_relaxed`). Each C is judged by what it
    finally suggests: on each of five cross-validation folds, the whole suggestion (atoms, merges, the
    cap, integer weights: `_units`) is made on the other folds and the fold's accounts are ranked by its
    integer score. The C with the best mean AUC wins: judging the suggestion itself rather than the
    regression lets the cap and the rounding decide how many atoms are worth keeping. (CV AUC,
    coefficients) or None."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    folds = list(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0).split(X, yy, groups=groups))
    path: list[tuple[float, float, np.ndarray]] = []  # (CV AUC, its standard error, coefficients), sparse first
    for C in np.logspace(-2.5, 1, 16):
        # random_state fixes liblinear's coordinate order: the same data gives the same suggestion
        model = LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", max_iter=500, random_state=0)
        keep = np.abs(model.fit(X, yy).coef_[0]) > 1e-6
        nz = int(keep.sum())
        if nz == 0:
            continue
        if nz > 2 * max_traits:
            break
        aucs = []
        for tr, va in folds:
            sub = np.abs(model.fit(X[tr], yy[tr]).coef_[0]) > 1e-6
            units = _units(pool, _relaxed(X[tr], yy[tr], sub), max_traits, n_known, X[tr], yy[tr])
            if not units:
                aucs.append(0.5)
                continue
            score = _unit_matrix(X[va], units) @ np.array([wt for wt, _ in units], dtype=np.float64)
            aucs.append(float(roc_auc_score(yy[va], score)) if len(np.unique(yy[va])) == 2 else 0.5)
        path.append((float(np.mean(aucs)), float(np.std(aucs, ddof=1) / math.sqrt(len(aucs))),
                     _relaxed(X, yy, keep)))
    if not path:
        return None
    top = max(path, key=lambda p: p[0])
    return top[0], top[2]


def _unit_matrix(X: np.ndarray, units: list[tuple[int, list[int]]]) -> np.ndarray:
    """Each unit's match (any of its atoms: values of one set, adjacent bands of one range)."""
    return np.column_stack([X[:, ids].max(axis=1) for _, ids in units]).astype(np.float64)


def _integer_weights(coef: np.ndarray, X: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Integer weights -5..+5 for `coef`: of the scales that put the largest at ±3..±5 (a kept trait
    never rounds to 0), the one whose rounded weights rank the training accounts best."""
    from sklearn.metrics import roc_auc_score

    top = max(float(np.abs(coef).max()), 1e-9)
    best: tuple[float, np.ndarray] | None = None
    for largest in (5.0, 4.5, 4.0, 3.5, 3.0):
        w = np.clip(np.rint(coef * largest / top), -5, 5)
        w = np.where(w == 0, np.where(coef > 0, 1, -1), w).astype(np.int64)
        auc = float(roc_auc_score(yy, X @ w)) if len(np.unique(yy)) == 2 else 0.5
        if best is None or auc > best[0] + 1e-12:
            best = (auc, w)
    assert best is not None
    return best[1]


def _least_significant(U: np.ndarray, yy: np.ndarray) -> tuple[int, np.ndarray]:
    """(the unit whose Wald statistic is smallest, the coefficients) of a logistic fit on units `U`."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(U, yy)
    p = model.predict_proba(U)[:, 1]
    Ui = np.column_stack([np.ones(len(U)), U])
    # the L2 penalty (C = 1) is part of the curvature
    info = Ui.T @ (Ui * (p * (1 - p))[:, None]) + np.diag([0.0] + [1.0] * U.shape[1])
    var = np.diag(np.linalg.pinv(info))[1:]
    coef = model.coef_[0]
    return int(np.argmin(coef ** 2 / np.maximum(var, 1e-12))), coef


def _units(pool: list[Candidate], coef: np.ndarray, max_traits: int, n_known: int,
           X: np.ndarray | None = None, yy: np.ndarray | None = None) -> list[tuple[int, list[int]]]:
    """The suggested traits as (integer weight, atom indices into `pool`). Coefficients scaled to -5..+5
    (the largest to ±5) and rounded; atoms of one column with the same weight merged (values into one
    set, adjacent bands into one range). While there are more than `max_traits`, the two traits of one
    column whose weights differ least (by one at most) merge at their support-weighted weight. Then,
    with the atoms' matches `X` and labels `yy`: the traits are refitted together (merging changed
    what each stands for) and, while more than `max_traits`, the least significant (smallest Wald
    statistic) is dropped and the rest refitted; the final coefficients become integers by the scale
    that ranks the training accounts best (`_integer_weights`). Without `X`, the least important are
    dropped (|weight| × the spread of the match: a +1 on half the accounts moves more rankings than a
    +2 on 2 %) and the strongest is ±5."""
    if not np.any(coef):
        return []
    scale = 5.0 / np.abs(coef).max()
    rounded = np.clip(np.rint(coef * scale), -5, 5).astype(np.int64)
    units: list[tuple[int, list[int]]] = [(int(rounded[i]), [int(i)]) for i in np.flatnonzero(rounded)]

    def joinable(a: list[int], b: list[int]) -> bool:
        return _joinable([pool[i] for i in a], [pool[i] for i in b])

    def join(i: int, j: int, weight: int | None = None) -> None:
        both = sorted(units[i][1] + units[j][1], key=lambda k: pool[k].segment)
        if weight is None:
            support = np.array([pool[k].support for k in both], dtype=np.float64)
            weight = int(np.clip(round(float(coef[both] @ support) / support.sum() * scale), -5, 5))
        units[i] = (weight, both)
        del units[j]

    def closest(max_diff: int) -> tuple[int, int] | None:
        pairs = [(abs(units[i][0] - units[j][0]), i, j) for i in range(len(units)) for j in range(i + 1, len(units))
                 if abs(units[i][0] - units[j][0]) <= max_diff and joinable(units[i][1], units[j][1])]
        return min(pairs)[1:] if pairs else None

    while (ij := closest(0)) is not None:  # same weight: one trait
        join(*ij, weight=units[ij[0]][0])
    while len(units) > max_traits and (ij := closest(1)) is not None:
        join(*ij)
    units = [u for u in units if u[0]]
    if X is not None and yy is not None and units:
        U = _unit_matrix(X, units)
        worst, fitted = _least_significant(U, yy)
        while len(units) > max_traits:
            del units[worst]
            U = np.delete(U, worst, axis=1)
            worst, fitted = _least_significant(U, yy)
        weights = _integer_weights(fitted, U, yy)
        units = [(int(wt), ids) for wt, (_, ids) in zip(weights, units, strict=True)]
        while (ij := closest(0)) is not None:  # the same integer weight again: one trait
            join(*ij, weight=units[ij[0]][0])
        return units

    def importance(u: tuple[int, list[int]]) -> float:
        """How much a trait moves the ranking: |weight| × the spread of its match (√(p(1 − p)))."""
        p = min(sum(pool[k].support for k in u[1]) / max(n_known, 1), 1.0)
        return abs(u[0]) * math.sqrt(p * (1 - p))
    units = sorted(units, key=importance, reverse=True)[:max_traits]
    top = max((abs(u[0]) for u in units), default=5)
    if top < 5:  # a merge lowered the strongest trait: the strongest is ±5 again
        units = [(int(np.clip(round(wt * 5 / top), -5, 5)), g) for wt, g in units]
    return units


def _merged(group: list[Candidate], weight: int) -> Trait:
    """One trait for atoms of one column that got the same weight: values in one set, adjacent bands
    in one range (bands that are not adjacent stay apart: see _units), from the first band's lower
    edge to the last one's upper edge at round numbers (`Candidate.round_bounds`)."""
    first = group[0].trait
    base = {**first.to_dict(), "weight": weight, "trait_class": _class_for(weight)}
    base.pop("id", None)
    if first.rule == "range":  # adjacent bands, in order, with their edges at round numbers when they moved
        lo = group[0].round_bounds[0] if group[0].round_bounds else first.min
        hi = group[-1].round_bounds[1] if group[-1].round_bounds else group[-1].trait.max
        if (lo, hi) != (first.min, first.max):
            base.update(min=lo, max=hi, label=default_label(group[0].column, "range", lo=lo, hi=hi,
                                                            kind=group[0].kind))
    elif len(group) > 1:  # values in one set
        vals = [v for c in group for v in c.trait.values]
        base.update(values=vals, label=default_label(group[0].column, "in_set", vals))
    return Trait(**base)


def _joinable(a: list[Candidate], b: list[Candidate]) -> bool:
    """Can two groups of atoms be one trait: values of one column, or adjacent bands of one number."""
    if a[0].column != b[0].column or a[0].trait.rule != b[0].trait.rule:
        return False
    if a[0].trait.rule == "in_set":
        return True
    if a[0].trait.rule != "range" or a[0].segment < 0 or b[0].segment < 0:
        return False
    return a[-1].segment + 1 == b[0].segment or b[-1].segment + 1 == a[0].segment


def _weighted_traits(pool: list[Candidate], coef: np.ndarray, max_traits: int, n_known: int,
                     X: np.ndarray | None = None, yy: np.ndarray | None = None) -> list[Trait]:
    """The suggested traits (`_units`), strongest first. Sets each candidate's `coef`, `data_weight`
    (its trait's weight when it is suggested as it is, else 0) and `merged_into` (the label of the
    suggested trait it is part of, with other atoms or with its edges moved)."""
    units = _units(pool, coef, max_traits, n_known, X, yy)
    units.sort(key=lambda u: (-abs(u[0]), -u[0]))
    for c, b in zip(pool, coef, strict=True):
        c.coef, c.data_weight, c.merged_into = float(b), 0, ""
    traits = []
    for weight, ids in units:
        group = [pool[k] for k in ids]
        t = _merged(group, weight)
        traits.append(t)
        alone = len(group) == 1 and t.definition_key() == group[0].trait.definition_key()
        for c in group:
            c.data_weight = weight if alone else 0
            c.merged_into = "" if alone else t.label
    return traits


def _merged_candidates(accounts: AccountMatrix, traits: list[Trait], pool: list[Candidate], spec_by_header: dict,
                       y: np.ndarray, w: np.ndarray, known: np.ndarray, base: float) -> list[Candidate]:
    """The suggested traits that merge several atoms, as candidates of their own (their evidence on
    the training accounts), so the suggestion lists every trait it suggests."""
    atoms = {c.trait.definition_key() for c in pool}
    out = []
    for t in traits:
        if t.definition_key() in atoms:
            continue
        column = next(c.column for c in pool if c.merged_into == t.label)
        hit = accounts.matches([(t, spec_by_header[column])])[:, 0] & known
        n = float(hit.sum())
        rate, lift, lo, hi, _ = _stat(float((y * w)[hit].sum()), float(w[hit].sum()), n, base, 1.96)
        out.append(Candidate(t, column, int(n), rate, lift, lo, hi, True, data_weight=t.weight, atom=False))
    return out


def suggest_traits(accounts: AccountMatrix, outcome: Outcome, max_traits: int = 12,
                   train: np.ndarray | None = None, max_fit_rows: int = 50_000,
                   allow: frozenset[str] = frozenset()) -> Suggestion:
    """Suggest up to `max_traits` traits with -5..+5 weights for `outcome` (see module doc).
    Columns flagged as leakage or a proxy of the outcome (leakage.flag_columns) are left out unless
    `allow` names them (header or key)."""
    return _suggest(accounts, outcome, max_traits, train, max_fit_rows, allow)


def _suggest(accounts: AccountMatrix, outcome: Outcome, max_traits: int, train: np.ndarray | None,
             max_fit_rows: int, allow: frozenset[str]) -> Suggestion:
    from .leakage import flag_columns

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
    flags = flag_columns(accounts, outcome)
    leaks = list(flags.values())
    left_out = frozenset(k for k, f in flags.items() if k not in allow and f.header not in allow)
    excluded = [flags[k].header for k in left_out]
    cands = find_candidates(accounts, y, train, outcome, w, exclude=left_out)
    strong = [c for c in cands if c.strong]
    weak = [c for c in cands if not c.strong]
    if not strong:
        return Suggestion(outcome, base, n_known, weak, [], math.nan,
                          "no strong traits found: no column separates good from other accounts beyond chance",
                          leaks, excluded)
    spec_by_header = {s.header: s for s in accounts.specs}
    # every candidate goes to the regression, not only those significant alone: a weak effect
    # (a +0.3 technology) rarely passes a corrected test by itself but still improves the ranking;
    # the L1 path and its cross-validation decide what is kept
    pool = [c for c in strong + weak if c.atom]
    X_all = accounts.matches([(c.trait, spec_by_header[c.column]) for c in pool])
    rows = np.flatnonzero(known)
    if len(rows) > max_fit_rows:
        rows = np.sort(np.random.default_rng(7).choice(rows, max_fit_rows, replace=False))
    idx, yy = expand_outcomes(rows, y, w)
    X = X_all[idx].astype(np.float64)
    best = _fit_coefficients(X, yy, idx, pool, max_traits, n_known)
    if best is None:
        return Suggestion(outcome, base, n_known, strong + weak, [], math.nan,
                          "no strong traits found: the regression kept no trait", leaks, excluded)
    auc, coef = best
    traits = _weighted_traits(pool, coef, max_traits, n_known, X, yy)
    merged = _merged_candidates(accounts, traits, pool, spec_by_header, y, w, known, base)
    ordered = merged + sorted(strong + weak, key=lambda c: (not c.data_weight, not c.strong, -abs(c.data_weight)))
    return Suggestion(outcome, base, n_known, ordered, traits, auc,
                      f"{len(traits)} strong trait{'s' if len(traits) != 1 else ''} found "
                      f"(cross-validated AUC {auc:.2f} on {n_known:,} training accounts)", leaks, excluded)
