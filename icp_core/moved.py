"""What a change moved (issue 17, item 4): the accounts whose tier differs between two scorings of
one dataset (the last saved version and the working profile), the ARR and open pipeline they carry,
the accounts whose score moved most, and the held-out AUC before and after with a bootstrap band.

Everything is counted per combination of the two scorings' match patterns (icpset.group_combos:
the same patterns when only weights changed), so a slider move costs O(combinations); the O(n)
grouping and the per-combination counts are kept in the dataset's cache per pair of trait sets.

The band: 90 % interval of AUC(after) - AUC(before) over BOOTSTRAP Poisson resamples of the
held-out good and other observations per combination (both AUCs on each resample). It says
"within noise" when the interval holds 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

BOOTSTRAP = 200
SEED = 0


@dataclass
class Moved:
    table: pd.DataFrame  # from, to, accounts, arr, open (accounts with open deals): one row per move
    accounts: int  # accounts that changed tier
    arr: float  # their ARR (NaN without ARR)
    pipeline: int  # of them, accounts with open deals
    top: pd.DataFrame  # row, from, to, score_before, score_after: the accounts whose score moved most
    auc_before: float
    auc_after: float
    band: tuple[float, float]  # 90 % bootstrap interval of auc_after - auc_before

    def reading(self) -> str:
        """'AUC 0.71 → 0.73 (within noise)'; '' when there is no AUC."""
        if math.isnan(self.auc_before) or math.isnan(self.auc_after):
            return ""
        lo, hi = self.band
        verdict = ("within noise" if lo <= 0 <= hi or math.isnan(lo)
                   else "better beyond noise" if lo > 0 else "worse beyond noise")
        return f"AUC {self.auc_before:.2f} → {self.auc_after:.2f} ({verdict})"


def _rank(result, pats: np.ndarray) -> np.ndarray:
    """Score per combination, disqualified below every score (as the backtest ranks)."""
    tier = result.pattern_tier[pats]
    return np.where(tier == 4, -1.0, result.pattern_score[pats])


def _counts(accounts, before, after, outcome):
    """(combos, {"arr", "open", "pos", "neg"} per combination), cached per pair of trait sets."""
    from .icpset import Combos, group_combos
    from .outcomes import outcome_weights
    from .stats import holdout_mask

    def compute() -> dict:
        c = group_combos([before.patterns, after.patterns])
        y, w = outcome_weights(accounts, outcome) if outcome is not None else (np.full(accounts.n, np.nan), None)
        test = holdout_mask(accounts.n) & ~np.isnan(y)
        w = np.ones(accounts.n) if w is None else w
        size = len(c.count)
        return {"combos": vars(c),
                "arr": np.bincount(c.inv, weights=np.nan_to_num(accounts.arr), minlength=size),
                "open": np.bincount(c.inv, weights=accounts.won == 2, minlength=size),
                "pos": np.bincount(c.inv, weights=np.where(test, y * w, 0.0), minlength=size),
                "neg": np.bincount(c.inv, weights=np.where(test, (1 - y) * w, 0.0), minlength=size)}
    key = ("moved", tuple(t.definition_key() for t in before.traits), tuple(t.definition_key() for t in after.traits),
           outcome.key() if outcome is not None else None)
    got = accounts.memo(key, compute)
    return Combos(**got["combos"]), got


def what_moved(before, after, accounts, outcome=None, top: int = 10, boot: int = BOOTSTRAP) -> Moved:
    """What changed from `before` to `after` (two ScoreResults of `accounts`); the AUCs on `outcome`."""
    from .scoring import TIER_LABELS
    from .stats import auc_from_counts

    c, n = _counts(accounts, before, after, outcome)
    tb, ta = before.pattern_tier[c.pats[:, 0]].astype(np.int64), after.pattern_tier[c.pats[:, 1]].astype(np.int64)
    sb, sa = before.pattern_score[c.pats[:, 0]], after.pattern_score[c.pats[:, 1]]
    moved = tb != ta
    labels = np.array(TIER_LABELS, dtype=object)
    key = tb * 5 + ta
    per = {name: np.bincount(key[moved], weights=w[moved], minlength=25)
           for name, w in (("accounts", c.count), ("arr", n["arr"]), ("open", n["open"]))}
    src, dst = np.nonzero(per["accounts"].reshape(5, 5))
    flat = src * 5 + dst
    table = pd.DataFrame({"from": labels[src], "to": labels[dst], "accounts": per["accounts"][flat].astype(np.int64),
                          "arr": per["arr"][flat] if accounts.has["arr"] else np.nan,
                          "open": per["open"][flat].astype(np.int64)})
    table = table.sort_values("accounts", ascending=False).reset_index(drop=True)
    # the accounts whose score moved most: the combinations with the largest change, first accounts of each
    order = np.argsort(-np.abs(sa - sb), kind="stable")
    rows, picked = [], 0
    for combo in order[: top]:
        if picked >= top or sa[combo] == sb[combo]:
            break
        members = np.flatnonzero(c.inv == combo)[: top - picked]
        rows.append(pd.DataFrame({"row": members, "from": labels[tb[combo]], "to": labels[ta[combo]],
                                  "score_before": round(float(sb[combo]), 1), "score_after": round(float(sa[combo]), 1)}))
        picked += len(members)
    top_frame = (pd.concat(rows, ignore_index=True) if rows else
                 pd.DataFrame(columns=["row", "from", "to", "score_before", "score_after"]))
    rb, ra = _rank(before, c.pats[:, 0]), _rank(after, c.pats[:, 1])
    auc_b, auc_a = auc_from_counts(rb, n["pos"], n["neg"]), auc_from_counts(ra, n["pos"], n["neg"])
    band = (math.nan, math.nan)
    if not (math.isnan(auc_b) or math.isnan(auc_a)) and boot:
        rng = np.random.default_rng(SEED)
        diffs = []
        for _ in range(boot):
            pos, neg = rng.poisson(n["pos"]), rng.poisson(n["neg"])
            diffs.append(auc_from_counts(ra, pos, neg) - auc_from_counts(rb, pos, neg))
        d = np.array(diffs)
        d = d[np.isfinite(d)]
        if len(d):
            band = (float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95)))
    arr_total = float(per["arr"].sum()) if accounts.has["arr"] else math.nan
    return Moved(table, int(per["accounts"].sum()), arr_total, int(per["open"].sum()), top_frame, auc_b, auc_a, band)
