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
from .outcomes import Outcome, counts_deals, expand_outcomes, outcome_weights
from .profile import Profile
from .scoring import N_TIERS, TIER_LABELS, ScoreResult, score_profile
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
    insufficient: int = 0  # held-out observations of Insufficient-data accounts left out (0 when included)
    unit: str = "accounts"  # what one observation is: "accounts", or "closed deals" (deals rolled up to accounts)

    def to_dict(self, reference_auc: float | None = None) -> dict:
        tiers = self.tiers.replace({np.nan: None}).to_dict("records")
        return {"outcome": self.outcome, "accounts": self.n, "good": self.n_pos, "base_rate": self.base_rate,
                "auc": self.auc, "auc_interval": [self.auc_low, self.auc_high], "tiers": tiers,
                "captured_good_ab": self.captured_good, "captured_arr_ab": self.captured_arr,
                "customers_in_icp": self.customers_in_icp, "open_pipeline_in_icp": self.pipeline_in_icp,
                "reference_auc": reference_auc, "warnings": self.warnings,
                "insufficient_left_out": self.insufficient, "unit": self.unit}


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
        "unit": "closed deals" if counts_deals(w) else "accounts",
        "pos": np.bincount(inv, weights=good, minlength=u),
        "neg": np.bincount(inv, weights=other, minlength=u),
        "customers": np.bincount(inv, weights=(accounts.won == 1), minlength=u),
        "open": np.bincount(inv, weights=(accounts.won == 2), minlength=u),
    }


def _tier_rows(tier: np.ndarray, count: np.ndarray, pos: np.ndarray, neg: np.ndarray,
               base: float, judged: tuple[int, ...] = tuple(range(N_TIERS)),
               unit: str = "accounts") -> tuple[list[dict], list[str]]:
    """Per tier: accounts, known and good held-out observations, rate with its Wilson interval,
    lift; and a warning per tier with too few known outcomes to judge."""
    t_acc = np.bincount(tier, weights=count, minlength=N_TIERS)
    t_pos = np.bincount(tier, weights=pos, minlength=N_TIERS)
    t_known = t_pos + np.bincount(tier, weights=neg, minlength=N_TIERS)
    rows = []
    warnings = []
    for i, name in enumerate(TIER_LABELS):
        k = t_known[i]
        rate = t_pos[i] / k if k else math.nan
        rl, rh = wilson(t_pos[i], k)
        too_few = bool(k < MIN_SAMPLE and i in judged)  # a tier left out is not "too few"
        if too_few and t_acc[i] > 0:
            warnings.append(f"Tier {name} has only {int(k)} held-out {unit} with a known outcome: "
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


def backtest(result: ScoreResult, counts: dict, outcome_label: str = "",
             include_insufficient: bool = False) -> Backtest:
    """Backtest the scored profile on the held-out accounts (per pattern: fast). Accounts with
    Insufficient data are left out (their count is reported) unless `include_insufficient`."""
    p = result.patterns
    pos, neg = counts["pos"], counts["neg"]
    left_out = 0
    if not include_insufficient:
        out = ~result.pattern_judged
        left_out = int(round(float(pos[out].sum() + neg[out].sum())))
        pos, neg = np.where(out, 0.0, pos), np.where(out, 0.0, neg)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    n = n_pos + n_neg
    base = n_pos / n if n else math.nan
    rank_score = result.pattern_rank  # disqualified below everything else
    auc = auc_from_counts(rank_score, pos, neg)
    lo, hi = auc_interval(auc, n_pos, n_neg)
    tier = result.pattern_tier.astype(np.int64)
    judged = tuple(range(N_TIERS)) if include_insufficient else tuple(range(N_TIERS - 1))
    unit = counts.get("unit", "accounts")
    rows, warnings = _tier_rows(tier, p.count, pos, neg, base, judged, unit)
    if left_out:
        what = (("held-out account" if left_out == 1 else "held-out accounts") if unit == "accounts"
                else f"held-out {unit} of accounts")
        warnings.append(f"{left_out:,} {what} with insufficient data {'is' if left_out == 1 else 'are'} left out")
    if n_pos < MIN_SAMPLE or n_neg < MIN_SAMPLE:
        warnings.insert(0, f"The held-out split has {int(n_pos)} good and {int(n_neg)} other {unit}: "
                           f"fewer than {MIN_SAMPLE} on one side, so the AUC and lifts are rough")
    ab = tier <= 1
    captured = float(pos[ab].sum() / n_pos) if n_pos else math.nan
    arr = p.agg["arr"] if p.agg is not None else np.zeros(len(p.count))
    captured_arr = float(arr[ab].sum() / arr.sum()) if arr.sum() > 0 else math.nan
    cust, opn = counts["customers"], counts["open"]
    return Backtest(outcome_label, int(n), int(n_pos), base, auc, lo, hi, pd.DataFrame(rows), captured,
                    captured_arr, _share(cust[ab], cust), _share(opn[ab], opn), _gains(rank_score, pos, neg),
                    warnings, left_out, unit)


def live_backtest(accounts: AccountMatrix, result: ScoreResult, outcome: Outcome,
                  include_insufficient: bool = False) -> Backtest:
    """Backtest of a scored profile on the fixed held-out split; the O(n) part (outcome counts
    per match pattern) is memoised per trait set and outcome, so a weight change costs O(patterns)."""
    key = ("backtest", tuple(t.definition_key() for t in result.traits), outcome.key())

    def counts() -> dict:
        y, w = outcome_weights(accounts, outcome)
        return pattern_outcomes(result.patterns, y, holdout_mask(accounts.n), accounts, w)

    return backtest(result, accounts.memo(key, counts), outcome.label(), include_insufficient)


def score_auc(accounts: AccountMatrix, profile: Profile, outcome: Outcome, rows: np.ndarray) -> float:
    """AUC of a profile's ranking (disqualified lowest) on the given accounts."""
    from sklearn.metrics import roc_auc_score

    result, _ = score_profile(accounts, profile)
    y, w = outcome_weights(accounts, outcome)
    judged = result.pattern_judged[result.patterns.inv]  # Insufficient data is left out
    idx, lab = expand_outcomes(np.flatnonzero(rows & judged & ~np.isnan(y) & (w > 0)), y, w)
    rank = result.rank
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

    def row(name: str, rank: np.ndarray, in_ab: np.ndarray, judged: np.ndarray) -> dict:
        p, n = np.where(judged, pos, 0.0), np.where(judged, neg, 0.0)
        good, known = p[in_ab].sum(), p[in_ab].sum() + n[in_ab].sum()
        rate = good / known if known else math.nan
        return {"icp": name, "auc": auc_from_counts(rank, p, n), "accounts_ab": c.count[in_ab].sum() / c.count.sum(),
                "good_ab": _share(p[in_ab], p), "rate_ab": rate,
                "lift_ab": rate / base if base and not math.isnan(rate) else math.nan}

    for i, (name, r) in enumerate(zip(score.names, score.results, strict=True)):
        # each ICP is judged on its own evaluable accounts (Insufficient data left out)
        rows.append(row(name, r.pattern_rank[c.pats[:, i]], r.pattern_tier[c.pats[:, i]] <= 1,
                        r.pattern_judged[c.pats[:, i]]))
    best_key = np.min(fit_keys(score.results, c.pats), axis=0)
    judged_any = np.any([r.pattern_judged[c.pats[:, i]] for i, r in enumerate(score.results)], axis=0)
    rows.append(row("Best fit (any ICP)", -best_key, best_key <= 1000.0, judged_any))  # left out: no ICP can judge it  # A or B somewhere: A's keys ≤ 0, B's 900..1000
    return pd.DataFrame(rows)
