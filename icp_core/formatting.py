"""One formatter for what people read: money, counts, percentages, plain numbers, tier colours.

Every page, the one-pager and the CLI's human-readable output go through these, so the same
amount never shows as "$138,339.00" on one screen and "$138K" on the next. Missing values
(None, NaN) show as an en dash. Charts use the Vega expressions below for the same look.
"""

from __future__ import annotations

import math

MISSING = "–"

# The tier colours of every card, chart and the one-pager (A green ... D orange, Disqualified grey).
TIER_COLORS = {"A": "#1b7f3b", "B": "#7cb342", "C": "#f2b701", "D": "#e07b39", "Disqualified": "#8d8d8d",
               "Insufficient data": "#d0d4da"}
SHORT_TIER_NAMES = {"Disqualified": "Disq.", "Insufficient data": "No data"}  # where a column is narrow

# Vega-Lite label expressions that print axis values like money() and count() do.
VEGA_MONEY_LABEL = ("datum.value == 0 ? '$0' : '$' + replace(replace(format(datum.value, '.3~s'), 'G', 'B'), "
                    "'k', 'K')")
VEGA_COUNT_LABEL = "abs(datum.value) < 10000 ? format(datum.value, ',~r') : replace(format(datum.value, '.3~s'), 'k', 'K')"
# d3-format strings for tooltips and text marks (exact values).
VEGA_MONEY_FORMAT = "$,.0f"
VEGA_PCT_FORMAT = ".0%"


def is_missing(x) -> bool:
    if x is None:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def format_number(x: float) -> str:
    """1234567 -> '1.23M', 2000 -> '2,000', 0.5 -> '0.5' (plain numbers in labels and captions)."""
    if is_missing(x):
        return MISSING
    x = float(x)
    ax = abs(x)
    if ax >= 1e9:
        return f"{x / 1e9:.3g}B"
    if ax >= 1e6:
        return f"{x / 1e6:.3g}M"
    if ax == int(ax):
        return f"{int(x):,}"
    return f"{x:,.4g}"


def compact(x: float) -> str:
    """Three significant digits with K / M / B above a thousand: 950, 12.3K, 770K, 1.2M, 3.4B."""
    x = float(x)
    ax = abs(x)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if ax >= scale * 0.9995:
            value = f"{x / scale:.3g}"
            if "e" in value:  # 1000B and up
                value = f"{x / scale:,.0f}"
            return value + suffix
    return f"{x:.3g}" if ax != int(ax) and ax < 100 else f"{round(x):,}"


def money(x, currency: str = "$") -> str:
    """Money the same way everywhere: '$950', '$12.3K', '$770K', '$1.2M', '$3.4B' ('–' when missing)."""
    if is_missing(x):
        return MISSING
    x = float(x)
    sign = "−" if x < 0 else ""
    return f"{sign}{currency}{compact(abs(x))}"


def count(n, exact_below: int = 100_000) -> str:
    """A number of accounts, rows or deals: '1,234' below `exact_below`, else compact ('250K', '1.2M')."""
    if is_missing(n):
        return MISSING
    n = float(n)
    if abs(n) < exact_below:
        return f"{round(n):,}"
    return compact(n)


def rows_text(n: int) -> str:
    """'1 row', '3,000 rows'."""
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def pct(x, digits: int = 0) -> str:
    """A share 0..1 as a percentage: 0.256 -> '26%' ('–' when missing)."""
    if is_missing(x):
        return MISSING
    return f"{float(x) * 100:.{digits}f}%"


def points(diff, digits: int = 1, unit: str = " pt") -> str:
    """A difference of two shares in percentage points, signed: 0.152 -> '+15.2 pt' ('–' when missing)."""
    if is_missing(diff):
        return MISSING
    return f"{float(diff) * 100:+.{digits}f}{unit}"


def pt_change(now, then) -> str:
    """'+4 pt' for a rate that moved since a baseline; '' when unchanged or unknown."""
    if is_missing(now) or is_missing(then) or round((float(now) - float(then)) * 100) == 0:
        return ""
    return f"{(float(now) - float(then)) * 100:+.0f} pt"
