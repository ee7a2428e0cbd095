"""Time-honest evidence (issue 18, item 2): "had we scored these accounts at the cut date, would
tier A have won afterwards?", the AUC per quarter (drift), and the ICP share of the inflow.

**As-of split.** An outcome date column (default: the close date for won vs lost, the signup date
for retention, else the first date column) and a cut date (default: the median outcome date of the
accounts with a known outcome). Accounts whose outcome is dated on or before the cut are the past;
those after it are scored and judged. What was known at the cut is all a score may use: a date
after the cut counts as blank (a "missing" trait on a date column, a follow-up or renewal date set
later), and the data-suggested traits are learnt on the past accounts only. The report gives AUC,
lift per tier and capture for that split beside the random split's.

**Per quarter.** AUC of the score among the accounts whose outcome falls in each quarter (quarters
with at least `MIN_PER_CLASS` good and other accounts).

**Inflow.** Per month or quarter of a created date (accounts or leads) and of the opportunities'
own dates, how many arrived and the share in tiers A+B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .dataset import day_to_iso
from .roles import ColumnSpec

MIN_PER_CLASS = 10


class TimelineError(ValueError):
    """No usable dates; the message says so plainly."""


def default_outcome_date(accounts, outcome) -> ColumnSpec | None:
    dates = [s for s in accounts.specs if s.kind == "date"]
    by_role = {s.role: s for s in dates}
    order = ("signup_date", "close_date") if outcome.kind == "retained" else ("close_date", "signup_date")
    for role in order:
        if role in by_role:
            return by_role[role]
    last_close = next((s for s in dates if s.key == "opp_last_close_date"), None)
    return last_close or (dates[0] if dates else None)


@dataclass
class AsOf:
    date_column: str
    cut: str  # ISO date
    n_before: int  # accounts with a known outcome dated on or before the cut
    n_after: int
    random_auc: float  # the random held-out split's AUC (for comparison)
    backtest: object  # backtest.Backtest on the accounts after the cut, scored as of the cut
    suggested_auc: float  # the data-suggested traits learnt before the cut, judged after it (NaN: none)
    quarters: pd.DataFrame  # quarter, accounts, good, auc


def created_date(accounts) -> ColumnSpec | None:
    """The date an account or lead arrived: a created / signup / first date column, else none."""
    import re

    dates = [s for s in accounts.specs if s.kind == "date"]
    return next((s for s in dates if re.search(r"creat|sign ?up|first|added|since|lead date", s.header.lower())), None)


def default_cut(accounts, outcome, spec: ColumnSpec) -> float:
    from .outcomes import outcome_weights

    y, w = outcome_weights(accounts, outcome)
    d = accounts.day_numbers(spec)
    ok = ~np.isnan(y) & (w > 0) & np.isfinite(d)
    if ok.sum() < 2 * MIN_PER_CLASS:
        raise TimelineError(f"too few accounts with both a known outcome and a {spec.header} date "
                            f"({int(ok.sum())}) for a split in time")
    return float(np.median(d[ok]))


def as_of_matrix(accounts, bound, cut: float) -> np.ndarray:
    """The traits' match matrix as known at the cut: on a date column, a date after the cut is blank."""
    matrix = accounts.matches(bound).copy()
    for i, (t, spec) in enumerate(bound):
        if spec.kind == "date":
            days = accounts.day_numbers(spec)
            blank = ~np.isfinite(days) | (days > cut)
            matrix[:, i] = blank if t.rule == "missing" else matrix[:, i] & ~blank
    return matrix


def as_of_patterns(accounts, bound, cut: float):
    """The accounts grouped by match pattern as known at the cut: a date after the cut is blank for the
    match (as_of_matrix) and for the missing-data status (not known)."""
    from .dataset import group_patterns

    known = accounts.known_matrix(bound).copy()
    for i, (t, spec) in enumerate(bound):
        if spec.kind == "date" and t.rule != "missing":
            known[:, i] &= accounts.day_numbers(spec) <= cut
    return group_patterns(as_of_matrix(accounts, bound, cut), accounts, known)


def _auc(rank: np.ndarray, y: np.ndarray, w: np.ndarray, mask: np.ndarray) -> float:
    from .stats import auc_from_counts

    m = mask & ~np.isnan(y) & (w > 0)
    if not m.any():
        return math.nan
    yy = np.nan_to_num(y)
    return auc_from_counts(rank[m], (yy * w)[m], ((1 - yy) * w)[m])


def quarterly_auc(rank: np.ndarray, y: np.ndarray, w: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    """AUC of `rank` among the accounts whose outcome date falls in each quarter."""
    known = ~np.isnan(y) & (w > 0) & np.isfinite(days)
    if not known.any():
        return pd.DataFrame(columns=["quarter", "accounts", "good", "auc"])
    dates = pd.to_datetime(days[known], unit="D")
    quarter = np.asarray(dates.year * 10 + dates.quarter)
    rows = []
    yy = np.nan_to_num(y[known])
    for q in np.unique(quarter):
        on = quarter == q
        pos, neg = float((yy * w[known])[on].sum()), float(((1 - yy) * w[known])[on].sum())
        if pos >= MIN_PER_CLASS and neg >= MIN_PER_CLASS:
            idx = np.flatnonzero(known)[on]
            rows.append({"quarter": f"{q // 10} Q{q % 10}", "accounts": int(on.sum()), "good": round(pos),
                         "auc": _auc(rank, y, w, np.isin(np.arange(len(y)), idx))})
    return pd.DataFrame(rows, columns=["quarter", "accounts", "good", "auc"])


def as_of_backtest(accounts, profile, outcome, spec: ColumnSpec | None = None, cut: float | None = None,
                   with_suggestion: bool = True) -> AsOf:
    """Score the profile as known at the cut and judge it on the outcomes after the cut (see the
    module docstring). TimelineError when the dataset has no usable dates."""
    from .backtest import backtest, live_backtest, pattern_outcomes
    from .outcomes import outcome_weights
    from .profile import resolve_profile
    from .scoring import score_accounts, score_profile

    spec = spec or default_outcome_date(accounts, outcome)
    if spec is None:
        raise TimelineError("this dataset has no date column (created, signup or close date): there is no "
                            "time to split on, only the random split")
    cut = default_cut(accounts, outcome, spec) if cut is None else cut
    y, w = outcome_weights(accounts, outcome)
    days = accounts.day_numbers(spec)
    known = ~np.isnan(y) & (w > 0) & np.isfinite(days)
    before, after = known & (days <= cut), known & (days > cut)
    if after.sum() < 2 * MIN_PER_CLASS or before.sum() < 2 * MIN_PER_CLASS:
        raise TimelineError(f"the cut {day_to_iso(cut)} leaves {int(before.sum())} accounts before and "
                            f"{int(after.sum())} after it: too few on one side; pick another date")
    binding = resolve_profile(profile, accounts.specs)
    traits = [t for t, _ in binding.traits]
    result = score_accounts(as_of_patterns(accounts, binding.traits, cut), traits, profile.tier_rule)
    bt = backtest(result, pattern_outcomes(result.patterns, y, after, accounts, w), outcome.label())
    rank = result.rank
    suggested = suggested_as_of(accounts, outcome, spec, cut) if with_suggestion else math.nan
    suggested = math.nan if suggested is None else suggested
    random_auc = live_backtest(accounts, score_profile(accounts, profile)[0], outcome).auc
    return AsOf(spec.header, day_to_iso(cut), int(before.sum()), int(after.sum()), random_auc, bt, suggested,
                quarterly_auc(rank, y, w, days))


def suggested_as_of(accounts, outcome, spec: ColumnSpec, cut: float, cached_only: bool = False) -> float | None:
    """AUC after the cut of the traits the data suggests when it learns on the accounts before the
    cut only (NaN when it suggests none), cached per outcome, date column and cut; with
    `cached_only`, None unless it is already computed (a suggestion takes seconds on large data)."""
    from .outcomes import outcome_weights
    from .profile import resolve_profile
    from .scoring import score_accounts
    from .suggest import suggest_traits

    def compute() -> float:

        y, w = outcome_weights(accounts, outcome)
        days = accounts.day_numbers(spec)
        known = ~np.isnan(y) & (w > 0) & np.isfinite(days)
        sug = suggest_traits(accounts, outcome, train=known & (days <= cut))
        if not sug.found:
            return math.nan
        p = sug.profile()
        bound = resolve_profile(p, accounts.specs).traits
        r = score_accounts(as_of_patterns(accounts, bound, cut), [t for t, _ in bound], p.tier_rule)
        return _auc(r.rank, y, w, known & (days > cut) & r.pattern_judged[r.patterns.inv])
    key = ("suggested-as-of", outcome.key(), spec.key, cut)
    return accounts.memo_peek(key) if cached_only else accounts.memo(key, compute)


# --------------------------------------------------------------------------- inflow


def _period(days: np.ndarray, period: str) -> np.ndarray:
    dates = pd.to_datetime(days, unit="D")
    if period == "month":
        return np.asarray(dates.strftime("%Y-%m"), dtype=object)
    return np.asarray([f"{y} Q{q}" for y, q in zip(dates.year, dates.quarter, strict=True)], dtype=object)


def inflow(days: np.ndarray, in_ab: np.ndarray, period: str = "quarter", what: str = "accounts") -> pd.DataFrame:
    """Per period: how many arrived (`days`: their dates; NaN not counted), how many in A+B, the share."""
    ok = np.isfinite(days)
    if not ok.any():
        return pd.DataFrame(columns=["what", "period", "new", "in_ab", "share_ab"])
    frame = pd.DataFrame({"period": _period(days[ok], period), "ab": in_ab[ok]})
    g = frame.groupby("period", sort=True).agg(new=("ab", "size"), in_ab=("ab", "sum")).reset_index()
    g["share_ab"] = g["in_ab"] / g["new"]
    g.insert(0, "what", what)
    return g


def opportunity_days(accounts, meta: dict) -> tuple[np.ndarray, np.ndarray, str] | None:
    """See _opportunity_days; read once per dataset (the dataset's cache)."""
    return accounts.memo(("opportunity-days",), lambda: _opportunity_days(accounts, meta))


def _opportunity_days(accounts, meta: dict) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(account position, opportunity day, date header) per raw opportunity, or None when the dataset
    has no opportunities file or no date on it. The date: the opportunity's own first date column
    that is not its close date (created / engage date), else its close date."""
    from .clean import clean_expression, install_cleaning_macros
    from .ingest import account_key_sql
    from .sql import quote_ident

    opp = [ColumnSpec.from_dict(c) for c in meta.get("opportunity_columns") or []]
    rollup = (meta.get("quality") or {}).get("rollup") or {}
    dates = [s for s in opp if s.kind == "date"]
    if not opp or not dates or not rollup.get("join_on"):
        return None
    date = next((s for s in dates if s.role != "close_date"), dates[0])
    join_role = rollup["join_on"]
    okey = next((s for s in opp if s.role == join_role), None)
    akey = next((s for s in accounts.specs if s.role == join_role and s.source == "accounts"), None)
    if okey is None or akey is None:
        return None
    clean = clean_expression("date", quote_ident(date.key), 1.0, date.date_formats)
    with accounts._connect() as con:
        install_cleaning_macros(con)  # (temporary macros: a read-only connection takes them)
        # keys computed once per side (MATERIALIZED): a join on the key expressions themselves ran as a
        # nested loop (6 s for the sample's 4,527 deals)
        got = con.execute(f"""
            WITH o AS MATERIALIZED (
                SELECT {account_key_sql(quote_ident(okey.key))} AS k,
                       CAST(date_diff('day', DATE '1970-01-01', CAST({clean} AS DATE)) AS DOUBLE) AS d
                FROM raw_opportunities),
                 a AS MATERIALIZED (
                SELECT row_id, {account_key_sql(quote_ident(akey.key + '__raw'))} AS k FROM accounts)
            SELECT a.row_id - 1 AS pos, o.d FROM o JOIN a ON a.k = o.k""").fetchnumpy()
    d = got["d"]
    return (np.asarray(got["pos"], dtype=np.int64),
            np.asarray(d.filled(np.nan) if hasattr(d, "filled") else d, dtype=np.float64), date.header)
