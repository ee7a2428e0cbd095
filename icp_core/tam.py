"""TAM / SAM / SOM per segment.

The market is a set of accounts (the dataset itself, or a separately loaded market list such
as a firmographic universe) scored by the same ICP profile. Customers are the customer
dataset's won accounts (or, without won/lost, accounts with ARR). Per segment:

    penetration = customers / market accounts
    ACV         = median (or mean) ARR of the segment's customers; with fewer than
                  `min_customers` customers the overall ACV (or the user's override) is used
    TAM         = market accounts × ACV
    SAM         = serviceable market accounts × ACV   (after the serviceable filters)
    SOM         = SAM × attainable share

A market-only dataset (a firmographic list such as Crunchbase's, with no won/lost, churn or ARR
column) has no customers to learn from: customers and penetration are unknown (NaN, shown "–")
and the ACV is the user's own; without one, TAM, SAM and SOM are unknown too (NaN, never 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .dataset import AccountMatrix
from .formatting import MISSING, count, format_number, is_missing, money, pct
from .profile import Trait, find_column
from .scoring import TIER_LABELS, ScoreResult

EMPLOYEE_BANDS = [(0, 10, "1–10"), (11, 50, "11–50"), (51, 200, "51–200"), (201, 1000, "201–1,000"),
                  (1001, 5000, "1,001–5,000"), (5001, math.inf, "5,001+")]
REVENUE_BANDS = [(0, 1e6, "< $1M"), (1e6, 1e7, "$1M–10M"), (1e7, 1e8, "$10M–100M"), (1e8, 1e9, "$100M–1B"),
                 (1e9, math.inf, "$1B+")]
DIMENSIONS = {"tier": "ICP tier", "cluster": "Cluster", "industry": "Industry", "country": "Country",
              "region": "Region", "employee_band": "Employee band", "revenue_band": "Revenue band"}


class TamError(ValueError):
    pass


def _band(x: np.ndarray, bands) -> np.ndarray:
    """Band label per value: a value belongs to the last band whose lower bound it reaches."""
    lows = np.array([lo for lo, _, _ in bands], dtype=float)
    labels = np.array([label for _, _, label in bands] + ["(unknown)"], dtype=object)
    idx = np.searchsorted(lows, x, side="right") - 1
    idx = np.where(np.isfinite(x) & (idx >= 0), idx, len(bands))
    return labels[idx]


def segment_values(accounts: AccountMatrix, result: ScoreResult | None, dim: str,
                   clusters: np.ndarray | None = None, cluster_names: list[str] | None = None) -> np.ndarray:
    """The segment label of every account for one dimension (a DIMENSIONS key or a column)."""
    if dim == "tier":
        if result is None:
            raise TamError("segmenting by tier needs a profile")
        return np.array(TIER_LABELS, dtype=object)[result.tier]
    if dim == "cluster":
        if clusters is None:
            raise TamError("segmenting by cluster needs clusters (run them on the Clusters page)")
        names = np.array(cluster_names if cluster_names else [f"Cluster {i}" for i in range(clusters.max() + 1)],
                         dtype=object)
        return names[clusters]
    if dim in ("employee_band", "revenue_band"):
        role = "employees" if dim == "employee_band" else "annual_revenue"
        spec = next((s for s in accounts.specs if s.role == role), None)
        if spec is None:
            raise TamError(f"no {'employees' if role == 'employees' else 'annual revenue'} column for {DIMENSIONS[dim]}")
        return _band(accounts.column_array(spec), EMPLOYEE_BANDS if role == "employees" else REVENUE_BANDS)
    spec = find_column(Trait(label="segment", rule="missing", role=dim if dim in ("industry", "country", "region") else None,
                             column=None if dim in ("industry", "country", "region") else dim), accounts.specs)
    if spec is None:
        raise TamError(f"no column “{DIMENSIONS.get(dim, dim)}” in this dataset")
    if spec.kind in ("number", "year"):
        x = accounts.column_array(spec)
        q = np.unique(np.nanquantile(x, [0, 0.25, 0.5, 0.75, 1])) if np.isfinite(x).any() else np.array([0.0])
        idx = np.clip(np.searchsorted(q, x, side="right") - 1, 0, max(len(q) - 2, 0))
        labels = np.array([f"{q[i]:,.0f}–{q[i + 1]:,.0f}" if i + 1 < len(q) else f"{q[i]:,.0f}" for i in range(len(q))],
                          dtype=object)
        return np.where(np.isfinite(x), labels[idx], "(unknown)")
    codes, values = accounts.column_codes(spec)
    return np.array(list(values) + ["(unknown)"], dtype=object)[codes]


NO_CUSTOMER_DATA = "no won/lost, churn or ARR column"


def customer_mask(accounts: AccountMatrix) -> np.ndarray:
    """Current customers: won accounts; else, in a customer list with a churn flag, the ones
    not churned; else accounts with ARR above 0."""
    mask = known_customers(accounts)
    if mask is None:
        raise TamError(f"this dataset says nothing about customers ({NO_CUSTOMER_DATA})")
    return mask


def known_customers(accounts: AccountMatrix) -> np.ndarray | None:
    """customer_mask, or None when the dataset says nothing about customers (a market-only
    list): tam_table then takes the ACV from the user and leaves customers unknown."""
    if accounts.has["won"]:
        return accounts.won_deals > 0
    if accounts.has["churned"]:
        return accounts.churned == 0
    if accounts.has["arr"]:
        return np.nan_to_num(accounts.arr) > 0
    return None


@dataclass
class TamAssumptions:
    acv_stat: str = "median"  # median | mean
    min_customers: int = 5
    acv_override: float | None = None  # replaces the overall ACV fallback (and is used everywhere if forced)
    override_all: bool = False
    attainable_share: float = 0.10  # SOM = SAM × this
    serviceable_note: str = "all accounts"
    notes: list[str] = field(default_factory=list)


def _acv(values: np.ndarray, stat: str) -> float:
    v = values[np.isfinite(values) & (values > 0)]
    if len(v) == 0:
        return math.nan
    return float(np.median(v) if stat == "median" else np.mean(v))


def segment_key(segments: list[np.ndarray]) -> pd.Series:
    key = pd.Series(segments[0]).astype(str)
    for extra in segments[1:]:
        key = key + " · " + pd.Series(extra).astype(str)
    return key


def tam_table(market_segments: list[np.ndarray], serviceable: np.ndarray,
              customer_segments: list[np.ndarray] | None, customers: np.ndarray | None, customer_arr: np.ndarray | None,
              a: TamAssumptions) -> tuple[pd.DataFrame, dict]:
    """Per segment (one or two dimensions): market accounts, serviceable accounts, customers,
    penetration, ACV (and its source), TAM, SAM, SOM; plus totals. See the module docstring.

    `customers` None: the customer dataset says nothing about customers (see known_customers);
    customers and penetration are then NaN and every segment's ACV is `a.acv_override`."""
    if not market_segments:
        raise TamError("choose at least one dimension to segment by")
    market = pd.DataFrame({"segment": segment_key(market_segments), "serviceable": serviceable})
    seg = market.groupby("segment").agg(market_accounts=("segment", "size"), serviceable_accounts=("serviceable", "sum"))
    if customers is None:
        return _tam_without_customers(seg, a)
    if customer_segments is None or customer_arr is None:
        raise TamError("customers need their segments and ARR")
    c_key = segment_key(customer_segments)
    cust = pd.DataFrame({"segment": c_key[customers].to_numpy(), "arr": customer_arr[customers]})
    overall_acv = _acv(cust["arr"].to_numpy(dtype=float), a.acv_stat)
    fallback = a.acv_override if a.acv_override is not None else overall_acv
    by_seg = cust.groupby("segment")["arr"].agg(
        customers="size", acv=lambda s: _acv(s.to_numpy(dtype=float), a.acv_stat),
        customers_with_arr=lambda s: int((np.isfinite(s.to_numpy(dtype=float)) & (s.to_numpy(dtype=float) > 0)).sum()))
    seg = seg.join(by_seg, how="outer").fillna({"market_accounts": 0, "serviceable_accounts": 0, "customers": 0,
                                                "customers_with_arr": 0})
    own = seg["acv"].where(seg["customers_with_arr"] >= a.min_customers)
    if a.override_all and a.acv_override is not None:
        seg["acv_used"] = a.acv_override
        seg["acv_source"] = "your ACV"
    else:
        seg["acv_used"] = own.fillna(fallback)
        seg["acv_source"] = np.where(own.notna(), f"segment {a.acv_stat}",
                                     f"fallback: {'your ACV' if a.acv_override is not None else 'overall ' + a.acv_stat}"
                                     f" (< {a.min_customers} customers with ARR)")
    with np.errstate(invalid="ignore", divide="ignore"):
        seg["penetration"] = np.where(seg["market_accounts"] > 0, seg["customers"] / seg["market_accounts"], np.nan)
    seg = _money_columns(seg, a).astype({"customers": int})
    totals = {**_totals(seg), "customers": int(seg["customers"].sum()), "customers_known": True,
              "overall_acv": overall_acv, "fallback_acv": fallback,
              "segments_on_fallback": int((seg["acv_source"] != f"segment {a.acv_stat}").sum())}
    return seg, totals


TAM_COLUMNS = ["segment", "market_accounts", "serviceable_accounts", "customers", "penetration", "acv", "acv_used",
               "acv_source", "tam", "sam", "som"]


def _money_columns(seg: pd.DataFrame, a: TamAssumptions) -> pd.DataFrame:
    """TAM, SAM and SOM from the ACV used; segments largest TAM first; the table's columns."""
    seg["tam"] = seg["market_accounts"] * seg["acv_used"]
    seg["sam"] = seg["serviceable_accounts"] * seg["acv_used"]
    seg["som"] = seg["sam"] * a.attainable_share
    seg = seg.reset_index().sort_values("tam", ascending=False, na_position="last").reset_index(drop=True)
    return seg[TAM_COLUMNS].astype({"market_accounts": int, "serviceable_accounts": int})


def _totals(seg: pd.DataFrame) -> dict:
    """Sums over segments; a money total is NaN (unknown), not 0, when no segment has an ACV."""
    return {"market_accounts": int(seg["market_accounts"].sum()),
            "serviceable_accounts": int(seg["serviceable_accounts"].sum()),
            **{k: float(seg[k].sum(min_count=1)) for k in ("tam", "sam", "som")}}


def _tam_without_customers(seg: pd.DataFrame, a: TamAssumptions) -> tuple[pd.DataFrame, dict]:
    """A market-only dataset: no customers to count or to take an ACV from, so the ACV is the
    user's (for every segment) and customers and penetration are unknown (NaN)."""
    acv = math.nan if a.acv_override is None else float(a.acv_override)
    seg["customers"] = math.nan
    seg["penetration"] = math.nan
    seg["acv"] = math.nan
    seg["acv_used"] = acv
    seg["acv_source"] = "your ACV (customers unknown)" if a.acv_override is not None else "none: enter your ACV"
    seg = _money_columns(seg, a)
    totals = {**_totals(seg), "customers": math.nan, "customers_known": False, "overall_acv": math.nan,
              "fallback_acv": acv, "segments_on_fallback": 0}
    return seg, totals


def _known_or_dash(fmt):
    """fmt for known values; "–" for unknown ones (NaN, or the −∞ of tam_sortable)."""
    return lambda x: MISSING if is_missing(x) or not math.isfinite(float(x)) else fmt(x)


# How each column of tam_table reads on screen (formatting.py: one format for money everywhere).
DISPLAY_FORMATS = {c: _known_or_dash(f) for c, f in {
    "market_accounts": count, "serviceable_accounts": count, "customers": count, "penetration": lambda x: pct(x, 1),
    "acv": money, "acv_used": money, "tam": money, "sam": money, "som": money}.items()}


def tam_sortable(table: pd.DataFrame) -> pd.DataFrame:
    """tam_table for an on-screen grid that sorts by value and shows DISPLAY_FORMATS' text: an
    unknown number (NaN) becomes −∞, so it sorts below every known value and reads "–" (a grid
    shows a NaN cell as "None", whatever its format). Never exported: downloads use tam_table."""
    cols = [c for c in DISPLAY_FORMATS if c in table.columns]
    return table.astype({c: float for c in cols}).fillna({c: -math.inf for c in cols})


def tam_display(table: pd.DataFrame) -> pd.DataFrame:
    """tam_table as the text people read: counts, percentages and money through formatting.py,
    unknown values as "–" (never "None" or "nan"). Per column, not per row: the table has one
    row per segment (at most a few thousand)."""
    out = table.copy()
    for col, fmt in DISPLAY_FORMATS.items():
        if col in out.columns:
            out[col] = out[col].astype(object).map(fmt).astype(object)
    return out


def serviceable_mask(accounts: AccountMatrix, countries: list[str] | None = None, min_employees: float | None = None,
                     max_employees: float | None = None, tiers: list[str] | None = None,
                     result: ScoreResult | None = None) -> tuple[np.ndarray, str]:
    """Accounts the team can serve (countries served, size limits, ICP tiers) and a description."""
    ok = np.ones(accounts.n, dtype=bool)
    notes = []
    if countries:
        spec = next((s for s in accounts.specs if s.role == "country"), None)
        if spec is not None:
            codes, values = accounts.column_codes(spec)
            allowed = [i for i, v in enumerate(values) if v in set(countries)]
            ok &= np.isin(codes, allowed)
            notes.append(f"countries: {', '.join(countries)}")
    emp = next((s for s in accounts.specs if s.role == "employees"), None)
    if emp is not None and (min_employees is not None or max_employees is not None):
        x = accounts.column_array(emp)
        if min_employees is not None:
            ok &= x >= min_employees
        if max_employees is not None:
            ok &= x <= max_employees
        notes.append(f"employees {format_number(min_employees or 0)}–"
                     f"{format_number(max_employees) if max_employees is not None else '∞'}")
    if tiers and result is not None:
        ok &= np.isin(result.tier, [TIER_LABELS.index(t) for t in tiers])
        notes.append(f"tiers {', '.join(tiers)}")
    return ok, "; ".join(notes) or "all accounts"
