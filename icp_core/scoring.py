"""Scoring: trait matrix -> score -> tiers -> reasons, vectorised.

Each trait's match vector (one boolean per account) is computed once per trait *definition*
in DuckDB (`traits.condition_sql`) and cached by the dataset (`dataset.AccountMatrix`); moving a weight slider only
recombines the cached vectors with numpy (`score_accounts`).

Score formula (documented in the README): with weights w_i and match m_i ∈ {0, 1},

    sum   = Σ w_i · m_i
    low   = Σ min(w_i, 0)        (the lowest sum the traits allow)
    high  = Σ max(w_i, 0)        (the highest sum)
    score = 100 · (sum − low) / (high − low)       (0 when high = low)

Every trait counts in the sum, whatever its class. An account is *Disqualified* when it fails
a must-have or matches a stay-away trait marked "disqualify"; otherwise its tier is A when
score ≥ the A line, B when ≥ the B line, C when ≥ the C line, else D.

Missing data (issue 18): an account's *evidence* is the share of the traits' absolute weight
whose column is filled for it (`traits.known`). Below the rule's `insufficient_below` line its
tier is *Insufficient data* (unless a filled column disqualifies it: a matched disqualifying
stay-away, or a must-have failed on a filled value); such accounts are left out of a target
mix and of backtests. Below `low_confidence_below` the tier carries a low-confidence flag.
ICP Status: "ok", "low confidence" or "insufficient data" (`profile.STATUSES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from .dataset import AccountMatrix, Patterns, group_patterns
from .profile import DISQUALIFIED, INSUFFICIENT, TIERS, Binding, Profile, TierRule, Trait, resolve_profile
from .traits import SEPARATOR, flag_piece, flag_raised_on_miss, reason_piece, reason_traits, signed_weight

TIER_LABELS = TIERS + (DISQUALIFIED, INSUFFICIENT)  # tier code 0..5
DISQUALIFIED_CODE = TIER_LABELS.index(DISQUALIFIED)
INSUFFICIENT_CODE = TIER_LABELS.index(INSUFFICIENT)
N_TIERS = len(TIER_LABELS)
LOW_CONFIDENCE, INSUFFICIENT_STATUS = 1, 2  # status codes (STATUSES)


# --------------------------------------------------------------------------- score, tiers

@dataclass
class ScoreResult:
    """Scores and tiers for one profile, held per match pattern and expanded to accounts on use."""

    traits: list[Trait]  # the bound traits, in matrix column order
    patterns: Patterns
    weights: np.ndarray  # (k,) int
    pattern_score: np.ndarray  # (U,) float64, 0..100
    pattern_tier: np.ndarray  # (U,) int8: 0=A 1=B 2=C 3=D 4=Disqualified 5=Insufficient data
    thresholds: dict[str, float]  # the A/B/C lines used (solved when the rule is a mix)
    low: int
    high: int
    pattern_failed_must: np.ndarray
    pattern_stay_away: np.ndarray
    pattern_caution: np.ndarray
    pattern_evidence: np.ndarray  # (U,) float: share of the traits' absolute weight that could be evaluated
    pattern_status: np.ndarray  # (U,) int8: 0 ok, 1 low confidence, 2 insufficient data (STATUSES)
    rule: TierRule

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

    @property
    def status(self) -> np.ndarray:
        return self.pattern_status[self.patterns.inv]

    @property
    def evidence(self) -> np.ndarray:
        return self.pattern_evidence[self.patterns.inv]

    @property
    def pattern_rank(self) -> np.ndarray:
        """rank_scores per pattern."""
        return rank_scores(self.pattern_tier, self.pattern_score)

    @property
    def rank(self) -> np.ndarray:
        """rank_scores per account."""
        return self.pattern_rank[self.patterns.inv]

    @property
    def pattern_judged(self) -> np.ndarray:
        """Per pattern: is it judged in backtests (everything but Insufficient data)."""
        return self.pattern_tier != INSUFFICIENT_CODE


def rank_scores(tier: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The order a profile ranks accounts in for AUCs and gains: the score, Disqualified below
    everything (-1). Insufficient data keeps its score: backtests leave it out unless asked."""
    return np.where(tier == DISQUALIFIED_CODE, -1.0, score)


def evidence_weights(weights) -> np.ndarray:
    """What each trait counts for in the evidence share: its absolute weight (each trait 1 when
    every weight is 0). Integers, so the status lines compare exactly (in the app and in SQL)."""
    w = np.abs(np.asarray(weights, dtype=np.int64))
    return w if w.sum() > 0 else np.ones(len(w), dtype=np.int64)


def evidence_known(known: np.ndarray, weights) -> tuple[np.ndarray, int]:
    """(known weight per row, total weight) of a (rows × traits) known matrix."""
    w = evidence_weights(weights)
    return known.astype(np.int64) @ w, int(w.sum())


def below_line(known_weight: np.ndarray, total: int, line_pct: float) -> np.ndarray:
    """known / total < line %, compared exactly as known · 100 < line · total (never with no traits)."""
    return known_weight * 100 < line_pct * total if total > 0 else np.zeros(len(known_weight), dtype=bool)


def status_flag(status: int, rule: TierRule) -> str:
    """The flag text of a status code ('' for ok): the same words in the app, exports and SQL."""
    if status == INSUFFICIENT_STATUS:
        return f"Insufficient data: under {rule.insufficient_below:g} % of the trait weight known"
    if status == LOW_CONFIDENCE:
        return f"Low confidence: under {rule.low_confidence_below:g} % of the trait weight known"
    return ""


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


def assign_tiers(score: np.ndarray, disqualified: np.ndarray, thresholds: dict[str, float],
                 insufficient: np.ndarray | None = None) -> np.ndarray:
    tier = np.full(score.shape, 3, dtype=np.int8)
    tier[score >= thresholds["C"]] = 2
    tier[score >= thresholds["B"]] = 1
    tier[score >= thresholds["A"]] = 0
    tier[disqualified] = DISQUALIFIED_CODE
    if insufficient is not None:
        tier[insufficient] = INSUFFICIENT_CODE
    return tier


def score_accounts(matches: "np.ndarray | Patterns", traits: list[Trait], rule: TierRule) -> ScoreResult:
    """Score every account and assign tiers (see the module docstring for the formula).

    `matches` is the (accounts × traits) boolean matrix, or the same grouped into Patterns.
    """
    # duck-typed: a Patterns from a cached AccountMatrix may predate a module reload
    patterns = (cast(Patterns, matches) if hasattr(matches, "inv")
                else group_patterns(np.asarray(matches, dtype=bool)))
    m = patterns.matrix
    weights = np.array([t.weight for t in traits], dtype=np.int64)
    score, low, high = score_formula(m, weights)
    cls = np.array([t.trait_class for t in traits]) if traits else np.array([], dtype=str)
    must = cls == "must_have"
    stay = cls == "stay_away"
    dq_stay = np.array([t.trait_class == "stay_away" and t.disqualify for t in traits], dtype=bool)
    known = patterns.known_matrix
    # over no columns, all() is True and any() is False: no must-have fails, nothing is hit
    failed_must = ~np.asarray(m[:, must].all(axis=1), dtype=bool)
    stay_hit = np.asarray(m[:, stay].any(axis=1), dtype=bool)
    caution_hit = np.asarray(m[:, cls == "caution"].any(axis=1), dtype=bool)
    disq = failed_must | np.asarray(m[:, dq_stay].any(axis=1), dtype=bool)
    # disqualified by what the account's filled columns say (a blank must-have column proves nothing)
    disq_known = (np.asarray((~m[:, must] & known[:, must]).any(axis=1), dtype=bool)
                  | np.asarray(m[:, dq_stay].any(axis=1), dtype=bool))
    known_weight, total = evidence_known(known, weights)
    evidence = known_weight / total if total else np.ones(len(known_weight))
    insufficient = below_line(known_weight, total, rule.insufficient_below) & ~disq_known
    status = np.where(insufficient, INSUFFICIENT_STATUS,
                      np.where(below_line(known_weight, total, rule.low_confidence_below), LOW_CONFIDENCE, 0)
                      ).astype(np.int8)
    if rule.mode == "mix":
        thresholds = solve_mix_thresholds(score, ~disq & ~insufficient, rule.mix, patterns.count)
    else:
        thresholds = {k: float(rule.thresholds[k]) for k in ("A", "B", "C")}
    tier = assign_tiers(score, disq, thresholds, insufficient)
    return ScoreResult(traits, patterns, weights, score, tier, thresholds, low, high,
                       failed_must, stay_hit, caution_hit, evidence, status, rule)


def score_profile(accounts: AccountMatrix, profile: Profile) -> tuple[ScoreResult, Binding]:
    """Bind the profile to the dataset's columns and score every account."""
    binding = resolve_profile(profile, accounts.specs)
    patterns = accounts.patterns(binding.traits)
    return score_accounts(patterns, [t for t, _ in binding.traits], profile.tier_rule), binding


# --------------------------------------------------------------------------- reasons

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
    return explain_patterns(result, pats).iloc[back].reset_index(drop=True)


def explain_patterns(result: ScoreResult, pats: np.ndarray) -> pd.DataFrame:
    """explain_accounts for match patterns `pats` (one row each, in that order)."""
    m = result.patterns.matrix[pats]
    n = len(pats)
    traits = result.traits
    reasons = np.full(n, "", dtype=object)
    flags = np.full(n, "", dtype=object)
    for i in reason_traits(traits):
        piece = reason_piece(traits[i])
        reasons = np.where(m[:, i], np.where(reasons == "", piece, reasons + SEPARATOR + piece), reasons)
    for i, t in enumerate(traits):
        flag = flag_piece(t)
        if flag is None:
            continue
        on = ~m[:, i] if flag_raised_on_miss(t) else m[:, i]
        flags = np.where(on, np.where(flags == "", flag, flags + SEPARATOR + flag), flags)
    status = result.pattern_status[pats]
    for code in (LOW_CONFIDENCE, INSUFFICIENT_STATUS):
        flag = status_flag(code, result.rule)
        flags = np.where(status == code, np.where(flags == "", flag, flags + SEPARATOR + flag), flags)
    hints = _pattern_hints(result, pats)
    return pd.DataFrame({"reasons": reasons, "flags": flags, "next_step": hints})


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
    target = lines[np.clip(tier, 0, 4)]  # the line of the tier above (A has none; nor tiers past D)
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
        next_tier = np.array(TIER_LABELS, dtype=object)[np.clip(tier - 1, 0, 3)]
        text = "Would reach " + next_tier + f" {verb}: {t.label} ({signed_weight(t.weight)})"
        out = np.where(ok, text, out)
        best_gain = np.where(ok, gain, best_gain)
    return out


# --------------------------------------------------------------------------- summaries

def tier_summary(result: ScoreResult, accounts: AccountMatrix) -> pd.DataFrame:
    """Per tier (A, B, C, D, Disqualified, Insufficient data): accounts, share (of all accounts), ARR,
    low-confidence accounts, won/lost, win rate, churn rate.
    Won/lost count deals when opportunities were rolled up (a deal win rate), else accounts."""
    p = result.patterns
    if p.agg is not None:  # O(patterns)
        tier, weights, agg = result.pattern_tier.astype(np.int64), p.count, p.agg
    else:  # O(accounts)
        tier, weights = result.tier.astype(np.int64), np.ones(p.n)
        agg = {"won": accounts.won_deals, "lost": accounts.lost_deals, "churned": accounts.churned == 1,
               "churn_known": accounts.churned >= 0, "arr": np.nan_to_num(accounts.arr)}
    n = max(p.n, 1)
    count = np.bincount(tier, weights=weights, minlength=N_TIERS)
    won, lost = (np.bincount(tier, weights=agg[k], minlength=N_TIERS) for k in ("won", "lost"))
    churned, churn_known = (np.bincount(tier, weights=agg[k], minlength=N_TIERS) for k in ("churned", "churn_known"))
    arr = np.bincount(tier, weights=agg["arr"], minlength=N_TIERS)
    low_conf = (np.bincount(result.pattern_tier.astype(np.int64), minlength=N_TIERS,
                            weights=p.count * (result.pattern_status == LOW_CONFIDENCE)))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = pd.DataFrame({
            "tier": list(TIER_LABELS),
            "accounts": count.astype(np.int64),
            "share": count / n,
            "low_confidence": low_conf.astype(np.int64),  # accounts of the tier with a low-confidence flag
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
        counts = np.bincount(inv * N_TIERS + tier, weights=w,
                             minlength=len(values) * N_TIERS).reshape(len(values), N_TIERS)
        starts, width = values, result.step * 0.85
    else:
        nbins = int(math.ceil(100 / bin_width))
        b = np.clip((result.pattern_score // bin_width).astype(np.int64), 0, nbins - 1)
        counts = np.bincount(b * N_TIERS + tier, weights=w, minlength=nbins * N_TIERS).reshape(nbins, N_TIERS)
        starts, width = np.arange(nbins) * bin_width, bin_width
    bins, tiers = np.nonzero(counts)
    return pd.DataFrame({
        "bin_start": starts[bins], "bin_end": np.minimum(starts[bins] + width, 100.0 + width),
        "tier": np.array(TIER_LABELS, dtype=object)[tiers], "accounts": counts[bins, tiers].astype(np.int64),
    })


def ranked_rows(result: ScoreResult, mask: np.ndarray | None = None, limit: int | None = None,
                tiers: list[int] | None = None) -> np.ndarray:
    """Account positions sorted by tier (A first, Disqualified then Insufficient data last), then score high to low,
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
    """The accounts at `rows` with score, tier, reasons, flags and next step: the Score page's table on
    screen. Scored accounts leave the app in one schema, icp_core.export.scored_frame."""
    base = accounts.display.iloc[rows].reset_index(drop=True)
    expl = explain_accounts(result, rows)
    pat = result.patterns.inv[rows]
    out = pd.DataFrame({"ICP Score": np.round(result.pattern_score[pat], 1),
                        "ICP Tier": np.array(TIER_LABELS, dtype=object)[result.pattern_tier[pat]]})
    return pd.concat([base, out, expl.rename(columns={"reasons": "Reasons", "flags": "Flags",
                                                      "next_step": "Next step"})], axis=1)


def tier_changes(before: ScoreResult, after: ScoreResult) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts whose tier differs between two scorings of the same dataset: a from → to count
    table (only moves) and the positions of the accounts that moved."""
    a, b = before.tier.astype(np.int64), after.tier.astype(np.int64)
    moved = np.flatnonzero(a != b)
    counts = np.bincount(a[moved] * N_TIERS + b[moved], minlength=N_TIERS ** 2).reshape(N_TIERS, N_TIERS)
    src, dst = np.nonzero(counts)
    labels = np.array(TIER_LABELS, dtype=object)
    table = pd.DataFrame({"from": labels[src], "to": labels[dst], "accounts": counts[src, dst]})
    return table.sort_values("accounts", ascending=False).reset_index(drop=True), moved
