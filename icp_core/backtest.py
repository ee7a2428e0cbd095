"""Backtest of a scored profile against an outcome on the held-out split.

`backtest` reports ROC AUC (with a Hanley–McNeil interval), outcome rate per tier with Wilson
intervals and lift over the base rate, capture of good customers and ARR by tiers A+B, customer
base and open pipeline inside the ICP, and a cumulative gains curve. It works per match pattern
(`dataset.Patterns`), so it is live with the sliders (`live_backtest` memoises the O(n) part).
`score_auc` is the AUC of a profile's ranking on any set of accounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .dataset import AccountMatrix, Patterns
from .outcomes import Outcome, expand_outcomes, outcome_weights
from .profile import Profile
from .scoring import TIER_LABELS, ScoreResult, score_profile
from .stats import MIN_SAMPLE, auc_from_counts, auc_interval, holdout_mask, wilson


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


def _tier_rows(tier: np.ndarray, count: np.ndarray, pos: np.ndarray, neg: np.ndarray,
               base: float) -> tuple[list[dict], list[str]]:
    """Per tier: accounts, known and good held-out observations, rate with its Wilson interval,
    lift; and a warning per tier with too few known outcomes to judge."""
    t_acc = np.bincount(tier, weights=count, minlength=5)
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
    return rows, warnings


def _gains(rank_score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> pd.DataFrame:
    """Cumulative gains over the held-out accounts, best score first (at most 200 points)."""
    n_pos = float(pos.sum())
    n = n_pos + float(neg.sum())
    order = np.argsort(-rank_score, kind="stable")
    k_cum = np.cumsum((pos + neg)[order])
    p_cum = np.cumsum(pos[order])
    gains = pd.DataFrame({"share_targeted": np.concatenate([[0.0], k_cum / n if n else k_cum]),
                          "share_captured": np.concatenate([[0.0], p_cum / n_pos if n_pos else p_cum])})
    if len(gains) > 200:
        gains = gains.iloc[np.unique(np.linspace(0, len(gains) - 1, 200).astype(int))]
    return gains.reset_index(drop=True)


def _share(part: np.ndarray, whole: np.ndarray) -> float:
    return float(part.sum() / whole.sum()) if whole.sum() else math.nan


def backtest(result: ScoreResult, counts: dict, outcome_label: str = "") -> Backtest:
    """Backtest the scored profile on the held-out accounts (per pattern: fast)."""
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
    rows, warnings = _tier_rows(tier, p.count, pos, neg, base)
    if n_pos < MIN_SAMPLE or n_neg < MIN_SAMPLE:
        warnings.insert(0, f"The held-out split has {int(n_pos)} good and {int(n_neg)} other accounts: "
                           f"fewer than {MIN_SAMPLE} on one side, so the AUC and lifts are rough")
    ab = tier <= 1
    captured = float(pos[ab].sum() / n_pos) if n_pos else math.nan
    arr = p.agg["arr"] if p.agg is not None else np.zeros(len(p.count))
    captured_arr = float(arr[ab].sum() / arr.sum()) if arr.sum() > 0 else math.nan
    cust, opn = counts["customers"], counts["open"]
    return Backtest(outcome_label, int(n), int(n_pos), base, auc, lo, hi, pd.DataFrame(rows), captured,
                    captured_arr, _share(cust[ab], cust), _share(opn[ab], opn), _gains(rank_score, pos, neg),
                    warnings)


def live_backtest(accounts: AccountMatrix, result: ScoreResult, outcome: Outcome) -> Backtest:
    """Backtest of a scored profile on the fixed held-out split; the O(n) part (outcome counts
    per match pattern) is memoised per trait set and outcome, so a weight change costs O(patterns)."""
    key = ("backtest", tuple(t.definition_key() for t in result.traits), outcome.key())

    def counts() -> dict:
        y, w = outcome_weights(accounts, outcome)
        return pattern_outcomes(result.patterns, y, holdout_mask(accounts.n), accounts, w)

    return backtest(result, accounts.memo(key, counts), outcome.label())


def score_auc(accounts: AccountMatrix, profile: Profile, outcome: Outcome, rows: np.ndarray) -> float:
    """AUC of a profile's ranking (disqualified lowest) on the given accounts."""
    from sklearn.metrics import roc_auc_score

    result, _ = score_profile(accounts, profile)
    y, w = outcome_weights(accounts, outcome)
    idx, lab = expand_outcomes(np.flatnonzero(rows & ~np.isnan(y) & (w > 0)), y, w)
    rank = np.where(result.tier == 4, -1.0, result.score)
    if len(np.unique(lab)) < 2:
        return math.nan
    return float(roc_auc_score(lab, rank[idx]))


def set_backtest(accounts: AccountMatrix, score, outcome: Outcome) -> pd.DataFrame:
    """Each ICP of a set and their best-fit combination on the same held-out accounts: held-out
    AUC, share of accounts in A+B, share of the good held-out observations in A+B, the good rate
    in A+B and its lift over the base rate. The combination ranks an account by its best ICP (tier,
    then score: icpset.fit_order); its A+B are the accounts that are A or B in any ICP."""
    from .icpset import SetScore, fit_keys

    assert isinstance(score, SetScore)
    c = score.combos
    y, w = outcome_weights(accounts, outcome)
    test = holdout_mask(accounts.n) & ~np.isnan(y)
    pos = np.bincount(c.inv, weights=np.where(test, y * w, 0.0), minlength=len(c.count))
    neg = np.bincount(c.inv, weights=np.where(test, (1 - y) * w, 0.0), minlength=len(c.count))
    base = pos.sum() / (pos.sum() + neg.sum()) if pos.sum() + neg.sum() else math.nan
    rows = []

    def row(name: str, rank: np.ndarray, in_ab: np.ndarray) -> dict:
        good, known = pos[in_ab].sum(), pos[in_ab].sum() + neg[in_ab].sum()
        rate = good / known if known else math.nan
        return {"icp": name, "auc": auc_from_counts(rank, pos, neg), "accounts_ab": c.count[in_ab].sum() / c.count.sum(),
                "good_ab": _share(pos[in_ab], pos), "rate_ab": rate,
                "lift_ab": rate / base if base and not math.isnan(rate) else math.nan}

    for i, (name, r) in enumerate(zip(score.names, score.results, strict=True)):
        tier, sc = r.pattern_tier[c.pats[:, i]], r.pattern_score[c.pats[:, i]]
        rows.append(row(name, np.where(tier == 4, -1.0, sc), tier <= 1))
    best_key = np.min(fit_keys(score.results, c.pats), axis=0)
    rows.append(row("Best fit (any ICP)", -best_key, best_key <= 1000.0))  # A or B somewhere: A's keys ≤ 0, B's 900..1000
    return pd.DataFrame(rows)
