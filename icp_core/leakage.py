"""Leakage and proxy warnings (issue 18, item 1): columns that know the outcome because they were
written after it (sales notes, tags, stages, reasons, dates after the close) make a suggestion and
a backtest look far better than the ICP will do on new accounts.

A column is flagged, with the evidence, when any of these holds (on the accounts whose outcome is
known):

- **too good alone**: its single-column held-out AUC is at least `AUC_LIMIT` (0.9). The column's
  values (categories, yes/no, or numbers in 20 quantile bins, blank its own group) are scored by
  their good-rate on the training split and ranked on the held-out split, as the backtest splits;
- **blank for one outcome**: blank for at least 80 % of one class and at most 30 % of the other;
- **reads as post-outcome**: its header names a stage, status, reason, tag, note, comment, result or
  disposition, or says closed / converted / lost / won / churn; or at least 20 % of the known
  accounts hold a value such as "Closed by …", "Converted", "Will revert …", "Not interested";
- **dated after the outcome**: for at least half of the accounts with both dates, its date falls
  after the close date.

Flagged columns are left out of the suggestion unless the user includes them by name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .roles import ColumnSpec, normalise_header
from .stats import auc_from_counts, holdout_mask

AUC_LIMIT = 0.9
BLANK_HIGH, BLANK_LOW = 0.8, 0.3
VALUE_SHARE = 0.2
AFTER_SHARE = 0.5
MIN_KNOWN = 30

_HEADER = re.compile(
    r"^((deal|sales|opportunity|opp|lead|pipeline|account|customer|contact) )?(stage|status)$"
    r"|\b(reasons?|tags?|notes?|comments?|closed|close reason|converted|conversion|churn date|churned on|lost|won"
    r"|outcome|result|disposition|last stage)\b")
_VALUES = re.compile(
    r"\b(closed|converted|won|lost|churn(ed)?|revert|not interested|already (a )?customer|disqualified|junk"
    r"|do not call|unsubscribed|ringing|switched off|wrong number|interested in)\b", re.IGNORECASE)


@dataclass
class LeakFlag:
    """One flagged column and why (each reason a sentence with its numbers)."""

    key: str
    header: str
    reasons: list[str] = field(default_factory=list)
    auc: float = math.nan

    def reading(self) -> str:
        return f"“{self.header}”: " + "; ".join(self.reasons)


def _group_codes(accounts, spec: ColumnSpec) -> np.ndarray | None:
    """Per account a group number for the single-column AUC (blank: its own group), or None."""
    if spec.kind == "list":
        return None
    if spec.kind in ("number", "year"):
        x = accounts.column_array(spec)
        ok = np.isfinite(x)
        if ok.sum() < MIN_KNOWN:
            return None
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, 21)))
        return np.where(ok, np.searchsorted(edges, np.where(ok, x, 0), side="right"), -1).astype(np.int64)
    if spec.kind in ("date", "text", "id"):
        return None
    codes, _values = accounts.column_codes(spec)
    return codes.astype(np.int64)


def single_column_auc(groups: np.ndarray, y: np.ndarray, w: np.ndarray, known: np.ndarray) -> float:
    """Held-out AUC of a column alone: each group scored by its good-rate on the training split
    (a group unseen there gets the base rate), ranked on the held-out split; max(AUC, 1 - AUC)."""
    test = holdout_mask(len(y))
    train, held = known & ~test, known & test
    g = groups - groups.min()
    size = int(g.max()) + 1
    pos_tr = np.bincount(g[train], weights=(y * w)[train], minlength=size)
    obs_tr = np.bincount(g[train], weights=w[train], minlength=size)
    base = pos_tr.sum() / max(obs_tr.sum(), 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(obs_tr > 0, pos_tr / obs_tr, base)
    pos = np.bincount(g[held], weights=(y * w)[held], minlength=size)
    neg = np.bincount(g[held], weights=((1 - y) * w)[held], minlength=size)
    auc = auc_from_counts(rate, pos, neg)
    return auc if math.isnan(auc) else max(auc, 1 - auc)


def _value_share(accounts, spec: ColumnSpec, known: np.ndarray) -> tuple[float, str]:
    """Share of the known accounts whose value reads as post-outcome, and an example value."""
    if spec.kind not in ("category", "category_folded", "text", "stage", "list"):
        return 0.0, ""
    codes, values = accounts.column_codes(spec)
    hit = np.array([bool(_VALUES.search(v)) for v in values] + [False], dtype=bool)  # one per distinct value
    on = hit[np.where(codes >= 0, codes, len(values))]
    share = float(on[known].mean()) if known.any() else 0.0
    example = next((v for v, h in zip(values, hit, strict=False) if h), "")
    return share, example


def _after_outcome(accounts, spec: ColumnSpec, close: ColumnSpec | None, known: np.ndarray) -> float:
    """Share of the known accounts with both dates whose date is after the close date."""
    if close is None or spec.kind != "date" or spec.key == close.key:
        return math.nan
    a, c = accounts.day_numbers(spec), accounts.day_numbers(close)
    both = known & np.isfinite(a) & np.isfinite(c)
    return float((a[both] > c[both]).mean()) if both.sum() >= MIN_KNOWN else math.nan


def leakage_flags(accounts, columns: list[ColumnSpec], y: np.ndarray, w: np.ndarray) -> dict[str, LeakFlag]:
    """{column key: LeakFlag} for the columns of `columns` that look like leakage or a proxy of the
    outcome (see the module docstring). y, w: outcomes.outcome_weights."""
    known = ~np.isnan(y) & (w > 0)
    if known.sum() < MIN_KNOWN:
        return {}
    yy = np.nan_to_num(y)
    good = known & (yy >= 0.5)
    other = known & (yy < 0.5)
    close = next((s for s in accounts.specs if s.role == "close_date"), None)
    flags: dict[str, LeakFlag] = {}
    for spec in columns:
        flag = LeakFlag(spec.key, spec.header)
        groups = _group_codes(accounts, spec)
        if groups is not None:
            flag.auc = single_column_auc(groups, yy, w, known)
            if flag.auc >= AUC_LIMIT:
                flag.reasons.append(f"alone it separates the outcome too well (held-out AUC {flag.auc:.2f})")
        blank = _blank_mask(accounts, spec, groups)
        if blank is not None and good.any() and other.any():
            bg, bo = float(blank[good].mean()), float(blank[other].mean())
            if max(bg, bo) >= BLANK_HIGH and min(bg, bo) <= BLANK_LOW:
                flag.reasons.append(f"blank for {bg:.0%} of good accounts and {bo:.0%} of the others")
        if _HEADER.search(normalise_header(spec.header)):
            flag.reasons.append("its name reads as written after the outcome")
        share, example = _value_share(accounts, spec, known)
        if share >= VALUE_SHARE:
            flag.reasons.append(f"{share:.0%} of values read as written after the outcome (e.g. “{example[:60]}”)")
        after = _after_outcome(accounts, spec, close, known)
        if after == after and after >= AFTER_SHARE:
            flag.reasons.append(f"{after:.0%} of its dates fall after the close date")
        if flag.reasons:
            flags[spec.key] = flag
    return flags


def _blank_mask(accounts, spec: ColumnSpec, groups: np.ndarray | None) -> np.ndarray | None:
    if groups is not None:
        return groups < 0
    if spec.kind == "date":
        return ~np.isfinite(accounts.day_numbers(spec))
    if spec.kind == "list":
        codes, _ = accounts.column_codes(spec)
        return codes < 0
    return None


def flag_columns(accounts, outcome) -> dict[str, LeakFlag]:
    """Leakage flags of every column the suggestion could use, and of the dataset's other dates."""
    from .outcomes import outcome_weights
    from .suggest import candidate_columns

    y, w = outcome_weights(accounts, outcome)
    cols = candidate_columns(accounts, outcome)
    dates = [s for s in accounts.specs if s.kind == "date" and s.source == "accounts"
             and s.role not in ("close_date", "signup_date") and s not in cols]
    return leakage_flags(accounts, cols + dates, y, w)
