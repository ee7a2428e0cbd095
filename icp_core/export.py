"""Exports that leave the app: scored accounts for spreadsheets and CRMs.

Text written for spreadsheets is neutralised against formula injection: a cell that starts
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, so Excel,
LibreOffice and Google Sheets show it as text instead of running it.
"""

from __future__ import annotations

import io

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` where every text cell that a spreadsheet could read as a formula is
    prefixed with an apostrophe (numbers are left alone)."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            text = s.astype("string")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                values = s.astype(object).to_numpy(copy=True)
                values[risky] = "'" + text[risky].to_numpy(dtype=object)
                out[col] = values
    out.columns = ["'" + c if isinstance(c, str) and c.startswith(FORMULA_PREFIXES) else c for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so Excel reads accents right), formulas neutralised."""
    buf = io.StringIO()
    neutralise_formulas(df).to_csv(buf, index=False)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")

