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
    from .scoring import rank_scores

    tier = result.pattern_tier[pats]
    return rank_scores(tier, result.pattern_score[pats])


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


MAX_DRAW_CELLS = 8_000_000  # draws × combinations kept per trait-set pair (64 MB of float64 each for pos, neg)


def _draws(accounts, before, after, outcome, n: dict, boot: int) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap's Poisson resamples of the held-out good and other counts per combination,
    (draws, combinations) each: drawn once per pair of trait sets and kept in the dataset's cache,
    so a weight move only re-ranks them (never re-draws)."""
    def compute():
        rng = np.random.default_rng(SEED)
        draws = max(20, min(boot, MAX_DRAW_CELLS // max(len(n["pos"]), 1)))
        return rng.poisson(n["pos"], size=(draws, len(n["pos"]))).astype(np.float64), \
            rng.poisson(n["neg"], size=(draws, len(n["neg"]))).astype(np.float64)
    key = ("moved-draws", tuple(t.definition_key() for t in before.traits),
           tuple(t.definition_key() for t in after.traits), outcome.key() if outcome is not None else None, boot)
    return accounts.memo(key, compute)


def what_moved(before, after, accounts, outcome=None, top: int = 10, boot: int = BOOTSTRAP) -> Moved:
    """What changed from `before` to `after` (two ScoreResults of `accounts`); the AUCs on `outcome`."""
    from .scoring import N_TIERS, TIER_LABELS
    from .stats import auc_from_count_draws, auc_from_counts

    c, n = _counts(accounts, before, after, outcome)
    tb, ta = before.pattern_tier[c.pats[:, 0]].astype(np.int64), after.pattern_tier[c.pats[:, 1]].astype(np.int64)
    sb, sa = before.pattern_score[c.pats[:, 0]], after.pattern_score[c.pats[:, 1]]
    moved = tb != ta
    labels = np.array(TIER_LABELS, dtype=object)
    key = tb * N_TIERS + ta
    per = {name: np.bincount(key[moved], weights=w[moved], minlength=N_TIERS ** 2)
           for name, w in (("accounts", c.count), ("arr", n["arr"]), ("open", n["open"]))}
    src, dst = np.nonzero(per["accounts"].reshape(N_TIERS, N_TIERS))
    flat = src * N_TIERS + dst
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
    # each side is judged as its live backtest is: on its own accounts with enough data
    jb, ja = before.pattern_judged[c.pats[:, 0]], after.pattern_judged[c.pats[:, 1]]
    auc_b = auc_from_counts(rb, n["pos"] * jb, n["neg"] * jb)
    auc_a = auc_from_counts(ra, n["pos"] * ja, n["neg"] * ja)
    band = (math.nan, math.nan)
    if not (math.isnan(auc_b) or math.isnan(auc_a)) and boot:
        pos, neg = _draws(accounts, before, after, outcome, n, boot)
        d = auc_from_count_draws(ra, pos * ja, neg * ja) - auc_from_count_draws(rb, pos * jb, neg * jb)
        d = d[np.isfinite(d)]
        if len(d):
            band = (float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95)))
    arr_total = float(per["arr"].sum()) if accounts.has["arr"] else math.nan
    return Moved(table, int(per["accounts"].sum()), arr_total, int(per["open"].sum()), top_frame, auc_b, auc_a, band)


def describe_change(before: dict, after: dict) -> str:
    """What changed between two profile dicts, in words: "Industry in Fintech: +3 → +5; tier rule:
    target mix; engagement half-life 30 → 14 days" ('' when nothing did)."""
    parts = []
    b_traits = {t["id"]: t for t in before.get("traits", [])}
    a_traits = {t["id"]: t for t in after.get("traits", [])}
    for tid, t in a_traits.items():
        old = b_traits.get(tid)
        if old is None:
            parts.append(f"added “{t['label']}” ({t['weight']:+d})")
        elif old["weight"] != t["weight"]:
            parts.append(f"{t['label']}: {old['weight']:+d} → {t['weight']:+d}")
        elif {k: v for k, v in old.items() if k != "weight"} != {k: v for k, v in t.items() if k != "weight"}:
            parts.append(f"edited “{t['label']}”")
    parts += [f"removed “{t['label']}”" for tid, t in b_traits.items() if tid not in a_traits]
    if before.get("tier_rule") != after.get("tier_rule"):
        r = after["tier_rule"]
        lines = r["thresholds"] if r["mode"] == "thresholds" else r["mix"]
        parts.append(f"tier rule: {'lines' if r['mode'] == 'thresholds' else 'target mix'} "
                     + ", ".join(f"{k} {v:g}" for k, v in lines.items()))
    if before.get("decisive") != after.get("decisive"):
        parts.append("decisive weights " + ("on" if after.get("decisive") else "off"))
    parts += _engagement_changes(before.get("engagement"), after.get("engagement"))
    if before.get("personas") != after.get("personas"):
        parts.append("persona traits changed")
    return "; ".join(parts)


def _engagement_changes(b: dict | None, a: dict | None) -> list[str]:
    if b == a:
        return []
    if b is None or a is None:
        return ["engagement " + ("set up" if a is not None else "removed")]
    parts = []
    bs = {s["id"]: s for s in b["signals"]}
    for s in a["signals"]:
        old = bs.get(s["id"])
        if old is None:
            parts.append(f"engagement: added “{s['label']}”")
        elif old["weight"] != s["weight"]:
            parts.append(f"engagement {s['label']}: {old['weight']:+d} → {s['weight']:+d}")
    gone = {s["id"] for s in a["signals"]}
    parts += [f"engagement: removed “{s['label']}”" for s in b["signals"] if s["id"] not in gone]
    if b["half_life_days"] != a["half_life_days"]:
        parts.append(f"engagement half-life {b['half_life_days']:g} → {a['half_life_days']:g} days")
    if (b["mode"], b["thresholds"], b["mix"]) != (a["mode"], a["thresholds"], a["mix"]):
        parts.append("engagement levels changed")
    if b["actions"] != a["actions"]:
        parts += [f"action {c}: “{a['actions'][c]}”" for c in a["actions"] if a["actions"][c] != b["actions"].get(c)]
    if b.get("as_of") != a.get("as_of"):
        parts.append(f"engagement as of {a.get('as_of') or 'the latest activity'}")
    return parts
