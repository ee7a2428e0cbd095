"""Statistics shared by the evidence, segment and campaign code: Wilson intervals for rates, ROC
AUC from grouped counts with the Hanley–McNeil interval, the Bonferroni-corrected normal
quantile, and the fixed held-out split.

The Wilson interval and the AUC work on weighted (grouped) counts, which scipy's
`binomtest(...).proportion_ci` and `mannwhitneyu` (integer counts, raw samples) do not take, so
they are written out here; the normal quantile comes from scipy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

MIN_SAMPLE = 30  # fewer known outcomes than this in a tier or class: "too few to judge"
HOLDOUT_SHARE = 0.3
HOLDOUT_SEED = 20261125


def holdout_mask(n: int, share: float = HOLDOUT_SHARE, seed: int = HOLDOUT_SEED) -> np.ndarray:
    """The held-out (test) accounts: a fixed random share, the same on every run."""
    return np.random.default_rng(seed).random(n) < share


def wilson(pos: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion pos/n (pos and n may be weighted, non-integer)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = pos / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bonferroni_z(tests: int, alpha: float = 0.05) -> float:
    """The two-sided normal quantile for level `alpha` shared among `tests` comparisons."""
    return float(norm.ppf(1 - alpha / (2 * max(tests, 1))))


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


def auc_from_count_draws(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """auc_from_counts for many resamples at once: pos and neg are (draws, groups); one AUC per draw
    (NaN where a draw has no positives or no negatives)."""
    values, inv = np.unique(score, return_inverse=True)
    order = np.argsort(inv.ravel(), kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv.ravel()[order]) != 0])
    p = np.add.reduceat(pos[:, order], starts, axis=1)
    q = np.add.reduceat(neg[:, order], starts, axis=1)
    neg_below = np.cumsum(q, axis=1) - q
    total = p.sum(axis=1) * q.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, ((p * neg_below).sum(axis=1) + 0.5 * (p * q).sum(axis=1)) / total, np.nan)


def auc_interval(auc: float, n_pos: float, n_neg: float, z: float = 1.96) -> tuple[float, float]:
    """Hanley & McNeil (1982) standard error of an AUC -> a normal interval."""
    if math.isnan(auc) or n_pos == 0 or n_neg == 0:
        return (math.nan, math.nan)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    se = math.sqrt(max(var, 0.0))
    return (max(0.0, auc - z * se), min(1.0, auc + z * se))
