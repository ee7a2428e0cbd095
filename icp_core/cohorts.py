"""Cohorts: the outcome rate by signup / close quarter for ICP (tiers A+B) vs other accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import AccountMatrix
from .outcomes import Outcome
from .roles import ColumnSpec
from .scoring import ScoreResult


def cohort_table(accounts: AccountMatrix, result: ScoreResult, y: np.ndarray, date_spec: ColumnSpec,
                 min_accounts: int = 10) -> pd.DataFrame:
    """Outcome rate by quarter of `date_spec` for ICP (tiers A+B) vs other accounts. `y`: one
    label per account (`outcomes.account_labels`).

    Columns: cohort, group (ICP / Not ICP), accounts (with a known outcome), rate."""
    cq = accounts.quarters(date_spec)
    icp = result.tier <= 1
    ok = (cq >= 0) & ~np.isnan(y)
    if not ok.any():
        return pd.DataFrame(columns=["cohort", "group", "accounts", "rate"])
    df = pd.DataFrame({"c": cq[ok], "icp": icp[ok], "y": y[ok]})
    g = df.groupby(["c", "icp"])["y"].agg(["size", "mean"]).reset_index()
    g = g[g["size"] >= min_accounts]
    g["cohort"] = (g["c"] // 10).astype(str) + " Q" + (g["c"] % 10).astype(str)
    g["group"] = np.where(g["icp"], "ICP (A+B)", "Not ICP")
    return g.rename(columns={"size": "accounts", "mean": "rate"})[["cohort", "group", "accounts", "rate"]]


def date_columns(accounts: AccountMatrix, outcome: Outcome | None = None) -> list[ColumnSpec]:
    """Date columns for cohorts, the fitting one first (close date for won/lost, signup date
    for retention and the rest)."""
    won = outcome is not None and outcome.kind == "won"
    order = {"close_date": 0, "signup_date": 1} if won else {"signup_date": 0, "close_date": 1}
    dates = [s for s in accounts.specs if s.kind == "date"]
    return sorted(dates, key=lambda s: order.get(s.role, 2))
