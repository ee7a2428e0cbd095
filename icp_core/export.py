"""Exports that leave the app: scored accounts for spreadsheets and CRMs.

Text written for spreadsheets is neutralised against formula injection: a cell that starts
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, so Excel,
LibreOffice and Google Sheets show it as text instead of running it.

Excel (XLSX) cannot hold the control characters XML 1.0 forbids (U+0000-U+0008, U+000B, U+000C,
U+000E-U+001F; openpyxl's ILLEGAL_CHARACTERS_RE), which ingest accepts in values and headers. The
Excel export writes each one as U+FFFD (the replacement character, `XLSX_PLACEHOLDER`) in every text
cell, column header and the sheet name; every other character stays. Tab and LF stay; CR comes back
as LF, since XML parsers normalise line ends. CSV and Parquet keep every character as it is.
"""

from __future__ import annotations

import io

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

XLSX_PLACEHOLDER = "\ufffd"
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


def replace_xml_illegal(df: pd.DataFrame, placeholder: str = XLSX_PLACEHOLDER) -> pd.DataFrame:
    """A copy of `df` where every character XML 1.0 cannot hold, in text cells (object, string and
    categorical columns; numbers and other values in mixed columns are left alone) and in text column
    headers, is replaced by `placeholder`. Vectorised per column; clean columns are left as they are."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        elif not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        hit = s.str.contains(ILLEGAL_CHARACTERS_RE, na=False).to_numpy(dtype=bool)
        if hit.any():
            values = s.astype(object).to_numpy(copy=True)
            values[hit] = s[hit].str.replace(ILLEGAL_CHARACTERS_RE, placeholder, regex=True).to_numpy(dtype=object)
            out[col] = pd.Series(values, index=out.index, dtype=s.dtype)
    out.columns = [ILLEGAL_CHARACTERS_RE.sub(placeholder, c) if isinstance(c, str) else c for c in out.columns]
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
    """An Excel workbook (openpyxl), formulas neutralised, characters XML cannot hold written as
    U+FFFD (see replace_xml_illegal), header row frozen."""
    buf = io.BytesIO()
    safe = replace_xml_illegal(neutralise_formulas(df))
    sheet = ILLEGAL_CHARACTERS_RE.sub(XLSX_PLACEHOLDER, sheet)
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


# --------------------------------------------------------------------------- scored accounts

# The one schema scored accounts leave the app in (Score page download, Share page CRM export,
# `python -m icp_core score`): every column of the accounts file as it was read (original headers,
# text as in the file, file order), then these.
ICP_COLUMNS = ("ICP Score", "ICP Tier", "ICP Reasons", "ICP Flags", "ICP Next Step", "ICP Profile Version")


def profile_version_label(name: str, version: int | None) -> str:
    """'Enterprise ICP v3', or 'Enterprise ICP (unsaved)' for a profile with no saved version."""
    return f"{name} v{version}" if version else f"{name} (unsaved)"


def scored_frame(columns: pd.DataFrame, result, rows, version_label: str) -> pd.DataFrame:
    """The accounts at positions `rows` (`columns`: their file columns, one row each, same order)
    with ICP Score (1 decimal), ICP Tier, ICP Reasons, ICP Flags, ICP Next Step and ICP Profile
    Version after them. A file column named like one of those (a re-scored export) is replaced."""
    import numpy as np

    from .scoring import TIER_LABELS, explain_accounts

    rows = np.asarray(rows, dtype=np.int64)
    expl = explain_accounts(result, rows)
    pat = result.patterns.inv[rows]
    out = columns.drop(columns=[c for c in columns.columns if c in ICP_COLUMNS]).reset_index(drop=True)
    # text columns stay plain object arrays: no round trip through pandas' Arrow strings per export
    text = {"ICP Tier": np.array(TIER_LABELS, dtype=object)[result.pattern_tier[pat]],
            "ICP Reasons": expl["reasons"].to_numpy(dtype=object), "ICP Flags": expl["flags"].to_numpy(dtype=object),
            "ICP Next Step": expl["next_step"].to_numpy(dtype=object)}
    out["ICP Score"] = np.round(result.pattern_score[pat], 1)
    for name, values in text.items():
        out[name] = pd.Series(values, dtype=object)
    out["ICP Profile Version"] = pd.Series(np.full(len(rows), version_label, dtype=object), dtype=object)
    return out


def file_column_chunks(connect, specs, chunk: int = 100_000):
    """The accounts file's own columns (original headers, raw text, file order) in frames of at
    most `chunk` rows. connect: a zero-argument callable giving a context manager that yields a
    DuckDB connection on the dataset (e.g. lambda: store.open_dataset(id))."""
    from .sql import quote_ident

    own = [s for s in specs if s.source == "accounts"]
    cols = ", ".join(f"{quote_ident(s.key + '__raw')} AS {quote_ident(s.header)}" for s in own) or "row_id"
    with connect() as con:
        cur = con.execute(f"SELECT {cols} FROM accounts ORDER BY row_id")
        vectors = max(1, chunk // 2048)
        while True:
            frame = cur.fetch_df_chunk(vectors)
            if not len(frame):
                return
            yield frame if own else frame.drop(columns=["row_id"])


def scored_export_bytes(chunks, result, version_label: str, fmt: str) -> bytes:
    """Every scored account in the one schema (see scored_frame) as CSV, Excel or Parquet.
    chunks: the accounts' file columns as consecutive frames in file order (file_column_chunks,
    or a list holding one frame). CSV is written chunk by chunk, so a million-row export does
    not hold every reason string twice in memory."""
    import numpy as np

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    start, parts = 0, []
    out = io.BytesIO()
    out.write("\ufeff".encode("utf-8"))
    for columns in chunks:
        frame = scored_frame(columns, result, np.arange(start, start + len(columns)), version_label)
        if fmt == "csv":
            text = neutralise_formulas(frame).to_csv(index=False, header=start == 0, lineterminator="\r\n")
            out.write(text.encode("utf-8"))
        else:
            parts.append(frame)
        start += len(columns)
    if start != result.n:
        raise ValueError(f"the file has {start:,} accounts but {result.n:,} were scored")
    if fmt == "csv":
        if start == 0:
            out.write(neutralise_formulas(scored_frame(pd.DataFrame(), result, [], version_label))
                      .to_csv(index=False, lineterminator="\r\n").encode("utf-8"))
        return out.getvalue()
    return export_bytes(pd.concat(parts, ignore_index=True) if parts
                        else scored_frame(pd.DataFrame(), result, [], version_label), fmt)
