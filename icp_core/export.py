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
    """UTF-8 CSV (with BOM, so Excel reads accents right), formulas neutralised, CRLF line ends
    as RFC 4180 has them (so a value holding a CR or LF is always quoted)."""
    buf = io.StringIO()
    neutralise_formulas(df).to_csv(buf, index=False, lineterminator="\r\n")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")



EXPORT_FORMATS = {"csv": ("text/csv", "csv"),
                  "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
                  "parquet": ("application/vnd.apache.parquet", "parquet")}


def to_xlsx_bytes(df: pd.DataFrame, sheet: str = "ICP scores") -> bytes:
    """An Excel workbook (openpyxl), formulas neutralised, header row frozen."""
    buf = io.BytesIO()
    safe = neutralise_formulas(df)
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        safe.to_excel(xw, index=False, sheet_name=sheet[:31])
        ws = xw.sheets[sheet[:31]]
        ws.freeze_panes = "A2"
        for i, col in enumerate(safe.columns, start=1):
            width = min(60, max(10, len(str(col)) + 2, int(safe[col].astype(str).str.len().quantile(0.9)) + 2
                                if len(safe) else 10))
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
    return buf.getvalue()


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    """Parquet keeps types; text is left as it is (no spreadsheet reads it as a formula)."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def export_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return to_csv_bytes(df)
    if fmt == "xlsx":
        return to_xlsx_bytes(df)
    if fmt == "parquet":
        return to_parquet_bytes(df)
    raise ValueError(f"unknown export format {fmt!r}")


def crm_frame(display: pd.DataFrame, id_header: str | None, name_header: str | None, score, tier, reasons,
              flags, version_label: str) -> pd.DataFrame:
    """CRM-ready columns: the account id and name, then ICP Score, ICP Tier, ICP Reasons, ICP Flags
    and ICP Profile Version."""
    out = pd.DataFrame()
    if id_header:
        out["Account ID"] = display[id_header].to_numpy()
    if name_header:
        out["Account Name"] = display[name_header].to_numpy()
    out["ICP Score"] = score
    out["ICP Tier"] = tier
    out["ICP Reasons"] = reasons
    out["ICP Flags"] = flags
    out["ICP Profile Version"] = version_label
    return out


def crm_export_bytes(display: pd.DataFrame, id_header: str | None, name_header: str | None, result,
                     version_label: str, fmt: str, chunk: int = 100_000) -> bytes:
    """Every scored account in CRM-ready columns (see crm_frame) as CSV, Excel or Parquet.
    CSV is built in chunks of accounts, so a million-row export does not hold every reason
    string twice in memory."""
    import numpy as np

    from .scoring import TIER_LABELS, explain_accounts

    def frame_for(rows) -> pd.DataFrame:
        expl = explain_accounts(result, rows)
        pat = result.patterns.inv[rows]
        return crm_frame(display.iloc[rows], id_header, name_header, np.round(result.pattern_score[pat], 1),
                         np.array(TIER_LABELS, dtype=object)[result.pattern_tier[pat]], expl["reasons"].to_numpy(),
                         expl["flags"].to_numpy(), version_label)

    n = len(display)
    if fmt != "csv":
        return export_bytes(frame_for(np.arange(n)), fmt)
    out = io.BytesIO()
    out.write("\ufeff".encode("utf-8"))
    for start in range(0, max(n, 1), chunk):
        rows = np.arange(start, min(start + chunk, n))
        text = neutralise_formulas(frame_for(rows)).to_csv(index=False, header=start == 0, lineterminator="\r\n")
        out.write(text.encode("utf-8"))
    return out.getvalue()
