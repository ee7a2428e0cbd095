"""What a customer is worth per segment and per tier (issue 16, item 4), beside TAM.

Per segment, over its current customers (tam.known_customers):

    ACV             = median ARR of its customers with an ARR
    churn rate      = churned / (churned + retained) among its customers with a known churn flag
                      (the churn column, or churn events joined on the Data page), read as annual
    LTV             = ACV x gross margin / churn rate          (gross margin: the user's, default 80 %)
    CAC payback     = CAC / (ACV x gross margin / 12) months   (CAC: median of a cost / CAC column)

With fewer than MIN_CHURNED churned customers in a segment its churn rate is too noisy to divide by:
LTV is unknown there and the note says "not enough churned customers (n)".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_CHURNED = 10
CAC_HEADER = re.compile(r"(?i)\bcac\b|acquisition[\s_-]*cost|cost[\s_-]*(of|to)[\s_-]*acqui|cost[\s_-]*per[\s_-]*(customer|acquisition)")


@dataclass(frozen=True)
class WorthAssumptions:
    gross_margin: float = 0.80


def cac_column(specs):
    """The number column holding the cost to acquire a customer (header like CAC, acquisition
    cost, cost per acquisition), or None."""
    return next((s for s in specs if s.kind == "number" and CAC_HEADER.search(s.header or "")), None)


WORTH_COLUMNS = ["segment", "customers", "acv", "churned", "churn_known", "churn_rate", "ltv", "cac",
                 "payback_months", "note"]


def worth_table(segments: pd.Series | np.ndarray, customers: np.ndarray, arr: np.ndarray, churned: np.ndarray,
                cac: np.ndarray | None, a: WorthAssumptions | None = None) -> pd.DataFrame:
    """One row per segment (`segments`: a label per account) with the columns of WORTH_COLUMNS,
    then an "All customers" row. customers: bool per account; churned: 1 churned, 0 retained,
    -1 unknown per account; cac: a cost per account, or None."""
    a = a or WorthAssumptions()
    if not 0 < a.gross_margin <= 1:
        raise ValueError("the gross margin is a share between 0 and 1")
    seg = np.asarray(pd.Series(segments).astype(str))
    frame = pd.DataFrame({"segment": seg[customers], "arr": np.asarray(arr, dtype=float)[customers],
                          "churned": (np.asarray(churned) == 1)[customers],
                          "known": (np.asarray(churned) >= 0)[customers],
                          "cac": np.asarray(cac, dtype=float)[customers] if cac is not None else np.nan})
    rows = [_row(name, part, a, cac is not None) for name, part in frame.groupby("segment", sort=True)]
    rows.append(_row("All customers", frame, a, cac is not None))
    return pd.DataFrame(rows, columns=WORTH_COLUMNS)


def _median_positive(x: np.ndarray) -> float:
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.median(x)) if len(x) else math.nan


def _row(name: str, part: pd.DataFrame, a: WorthAssumptions, has_cac: bool) -> dict:
    acv = _median_positive(part["arr"].to_numpy(dtype=float))
    churned, known = int(part["churned"].sum()), int(part["known"].sum())
    rate = churned / known if known else math.nan
    notes = []
    if known == 0:
        notes.append("churn unknown")
    elif churned < MIN_CHURNED:
        notes.append(f"not enough churned customers ({churned})")
    ltv = acv * a.gross_margin / rate if known and churned >= MIN_CHURNED and rate > 0 else math.nan
    cac = _median_positive(part["cac"].to_numpy(dtype=float)) if has_cac else math.nan
    monthly = acv * a.gross_margin / 12
    payback = cac / monthly if has_cac and monthly > 0 and math.isfinite(cac) else math.nan
    if math.isnan(acv):
        notes.append("no ARR")
    return {"segment": name, "customers": len(part), "acv": acv, "churned": churned, "churn_known": known,
            "churn_rate": rate, "ltv": ltv, "cac": cac, "payback_months": payback, "note": "; ".join(notes)}
