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

import contextlib
import io
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
ICP_COLUMNS = ("ICP Score", "ICP Tier", "ICP Status", "ICP Reasons", "ICP Flags", "ICP Next Step",
               "ICP Profile Version")  # ICP Status: profile.STATUSES (ok, low confidence, insufficient data)


def profile_version_label(name: str, version: int | None) -> str:
    """'Enterprise ICP v3', or 'Enterprise ICP (unsaved)' for a profile with no saved version."""
    return f"{name} v{version}" if version else f"{name} (unsaved)"


BEST_FIT_COLUMN = "ICP Best Fit"


def icp_column_names(scored, extra=()) -> list[str]:
    """The ICP columns after the file's, for a ScoreResult (one profile: ICP_COLUMNS) or a SetScore
    (an ICP set): the best-fit ICP's score, tier, reasons, flags and next step, `ICP Best Fit`
    (its name, or "none"), then `ICP Score: <name>` and `ICP Tier: <name>` per ICP; then the names of
    `extra` per-account columns (e.g. ICP Similarity), then the version."""
    if not hasattr(scored, "results"):
        return [*ICP_COLUMNS[:-1], *extra, ICP_COLUMNS[-1]]
    per_icp = [f"ICP {what}: {name}" for name in scored.names for what in ("Score", "Tier")]
    return [*ICP_COLUMNS[:-1], BEST_FIT_COLUMN, *per_icp, *extra, ICP_COLUMNS[-1]]


def icp_values(scored) -> tuple[np.ndarray, pd.DataFrame]:
    """(index per account, table): the ICP columns but the version, one table row per distinct
    combination of match patterns (a few hundred for one profile, thousands for a set), and each
    account's row in it. Reasons and hints are built once per table row, not per account."""
    from .icpset import NONE
    from .profile import STATUSES
    from .scoring import TIER_LABELS, explain_patterns

    tiers, statuses = np.array(TIER_LABELS, dtype=object), np.array(STATUSES, dtype=object)
    if not hasattr(scored, "results"):
        pats = np.arange(len(scored.pattern_score))
        expl = explain_patterns(scored, pats)
        return np.asarray(scored.patterns.inv, dtype=np.int64), pd.DataFrame({
            "ICP Score": np.round(scored.pattern_score, 1), "ICP Tier": tiers[scored.pattern_tier],
            "ICP Status": statuses[scored.pattern_status], "ICP Reasons": expl["reasons"].to_numpy(dtype=object), "ICP Flags": expl["flags"].to_numpy(dtype=object),
            "ICP Next Step": expl["next_step"].to_numpy(dtype=object)})
    combos = scored.combos  # one table row per distinct combination of the ICPs' patterns
    closest = scored.combo_closest.astype(np.int64)
    table: dict[str, np.ndarray] = {c: np.empty(len(combos.count), dtype=object) for c in ICP_COLUMNS[1:-1]}
    table = {"ICP Score": np.zeros(len(combos.count))} | table
    for i, r in enumerate(scored.results):
        on, pat = closest == i, combos.pats[:, i]
        if on.any():
            expl = explain_patterns(r, pat[on])
            table["ICP Score"][on] = np.round(r.pattern_score[pat[on]], 1)
            table["ICP Tier"][on] = tiers[r.pattern_tier[pat[on]]]
            table["ICP Status"][on] = statuses[r.pattern_status[pat[on]]]
            for col, k in (("ICP Reasons", "reasons"), ("ICP Flags", "flags"), ("ICP Next Step", "next_step")):
                table[col][on] = expl[k].to_numpy(dtype=object)
    table[BEST_FIT_COLUMN] = np.array([*scored.names, NONE], dtype=object)[
        np.where(scored.combo_best >= 0, scored.combo_best, len(scored.names))]
    for i, (r, name) in enumerate(zip(scored.results, scored.names, strict=True)):
        table[f"ICP Score: {name}"] = np.round(r.pattern_score[combos.pats[:, i]], 1)
        table[f"ICP Tier: {name}"] = tiers[r.pattern_tier[combos.pats[:, i]]]
    return combos.inv, pd.DataFrame(table)


def scored_frame(columns: pd.DataFrame, scored, rows, version_label: str, values=None,
                 extra: dict | None = None) -> pd.DataFrame:
    """The accounts at positions `rows` (`columns`: their file columns, one row each, same order)
    with the ICP columns after them (icp_column_names: ICP Score (1 decimal), ICP Tier, ICP Status, ICP Reasons,
    ICP Flags, ICP Next Step, … , ICP Profile Version). A file column named like one of those (a
    re-scored export) is replaced. values: icp_values(scored), when already built; extra: {column
    name: one value per account} written before the version (lookalike similarity, ...)."""
    rows = np.asarray(rows, dtype=np.int64)
    index, table = values if values is not None else icp_values(scored)
    extra = extra or {}
    names = icp_column_names(scored, list(extra))
    out = columns.drop(columns=[c for c in columns.columns if c in names]).reset_index(drop=True)
    picked = table.iloc[index[rows]].reset_index(drop=True)
    for name, per_account in extra.items():
        picked[name] = np.asarray(per_account)[rows]
    for name in names[:-1]:
        # text columns stay plain object arrays: no round trip through pandas' Arrow strings per export
        col = picked[name]
        out[name] = col if pd.api.types.is_numeric_dtype(col) else pd.Series(col.to_numpy(dtype=object), dtype=object)
    out[names[-1]] = pd.Series(np.full(len(rows), version_label, dtype=object), dtype=object)
    return out


@dataclass(frozen=True)
class FileColumns:
    """The accounts file's own columns on a stored dataset: original headers, raw text, file order.
    connect: a zero-argument callable giving a context manager that yields a DuckDB connection on
    the dataset (e.g. lambda: store.open_dataset(id)); specs: the dataset's column specs."""

    connect: Callable
    specs: Sequence

    @property
    def headers(self) -> list[str]:
        return [s.header for s in self.specs if s.source == "accounts"]

    def select_sql(self) -> str:
        """SQL for the columns as `c0`, `c1`, … (VARCHAR, in header order) and `__key` (the row_id:
        file order); positional names, so no header can collide with another name."""
        from .sql import quote_ident

        own = [s for s in self.specs if s.source == "accounts"]
        cols = [f"{quote_ident(s.key + '__raw')} AS c{i}" for i, s in enumerate(own)]
        return f"SELECT {', '.join(['row_id AS __key', *cols])} FROM accounts"

    def chunks(self, chunk: int = 100_000) -> Iterator[pd.DataFrame]:
        """The columns, named by their headers, as consecutive frames of at most `chunk` rows."""
        with self.connect() as con:
            cur = con.execute(f"SELECT * EXCLUDE (__key) FROM ({self.select_sql()}) ORDER BY __key")
            vectors = max(1, chunk // 2048)
            while len(frame := cur.fetch_df_chunk(vectors)):
                frame.columns = self.headers
                yield frame


def scored_export_bytes(columns: FileColumns | pd.DataFrame, result, version_label: str, fmt: str,
                        extra: dict | None = None) -> bytes:
    """Every scored account in the one schema (see scored_frame) as CSV, Excel or Parquet.
    columns: the accounts' file columns (FileColumns of a dataset, or one frame in file order).
    CSV is written by DuckDB (scored_csv_bytes); Excel and Parquet from pandas frames."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "csv":
        return scored_csv_bytes(columns, result, version_label, extra=extra)
    start, parts, values = 0, [], icp_values(result)
    for frame in columns.chunks() if isinstance(columns, FileColumns) else [columns]:
        parts.append(scored_frame(frame, result, np.arange(start, start + len(frame)), version_label, values, extra))
        start += len(frame)
    if start != result.n:
        raise ValueError(f"the file has {start:,} accounts but {result.n:,} were scored")
    return export_bytes(pd.concat(parts, ignore_index=True) if parts
                        else scored_frame(pd.DataFrame(), result, [], version_label, extra=extra), fmt)


def _csv_cell_sql(expr: str) -> str:
    """SQL for a text cell as to_csv_bytes writes it: empty text as an empty field, formula-risky
    text with a leading apostrophe."""
    from .sql import sql_list

    return (f"CASE WHEN {expr} = '' THEN NULL WHEN left({expr}, 1) IN ({sql_list(FORMULA_PREFIXES)}) "
            f"THEN '''' || {expr} ELSE {expr} END")


def _csv_header(name: str) -> str:
    return "'" + name if name.startswith(FORMULA_PREFIXES) else name


def scored_csv_bytes(columns: FileColumns | pd.DataFrame, result, version_label: str,
                     rows_per_part: int = 100_000, extra: dict | None = None) -> bytes:
    """The one schema as CSV, the same bytes to_csv_bytes(scored_frame(...)) writes (UTF-8 with BOM,
    CRLF, minimal quoting, formulas neutralised, empty text as an empty field), written by DuckDB's
    CSV writer: the file's columns joined to a table of the (few hundred) match patterns' score, tier
    and texts, in parts of `rows_per_part` accounts (DuckDB sorts one part at a time: at 1M accounts
    the export adds ~200 MiB to the process peak beyond the finished file) appended to
    one file on disk, read back once."""
    import tempfile

    import duckdb

    with contextlib.ExitStack() as stack:
        if isinstance(columns, FileColumns):
            con = stack.enter_context(columns.connect())
            source, headers = f"({columns.select_sql()})", columns.headers
            keys = con.execute("SELECT row_id FROM accounts ORDER BY row_id").fetchnumpy()["row_id"]
        else:
            con = stack.enter_context(duckdb.connect())
            headers = [str(c) for c in columns.columns]
            frame = columns.set_axis([f"c{i}" for i in range(len(headers))], axis=1).reset_index(drop=True)
            keys = np.arange(len(frame))
            con.register("__frame", frame.assign(__key=keys))
            source = "__frame"
        if len(keys) != result.n:
            raise ValueError(f"the file has {len(keys):,} accounts but {result.n:,} were scored")
        index, table = icp_values(result)
        extra = extra or {}
        per_row = pd.DataFrame({"__key": keys, "__pat": index}
                               | {f"__e{i}": np.asarray(v) for i, v in enumerate(extra.values())})
        select, out_headers = _csv_select(con, source, headers, icp_column_names(result, list(extra)), table,
                                          version_label, per_row)
        # the header line as pandas writes it (quoting included), after the BOM; DuckDB writes the rows
        header = "\ufeff" + pd.DataFrame(columns=out_headers).to_csv(index=False, lineterminator="\r\n")
        if result.n == 0:
            return header.encode()
        out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="icp_export_"))) / "scored.csv"
        con.register("__patterns", table.assign(__pat=np.arange(len(table))))
        con.register("__per_row", per_row)
        try:
            con.execute("SET preserve_insertion_order = true")
            with open(out, "wb") as whole:
                for start in range(0, result.n, rows_per_part):
                    lo, hi = keys[start], keys[min(start + rows_per_part, result.n) - 1]
                    _copy_part(con, select, source, int(lo), int(hi), out.with_suffix(".part"),
                               header if start == 0 else None)
                    with open(out.with_suffix(".part"), "rb") as part:
                        shutil.copyfileobj(part, whole, 1 << 20)
        finally:
            for name in ("__patterns", "__per_row"):
                con.unregister(name)
        return out.read_bytes()  # read once: no second copy of a file of hundreds of megabytes


def _csv_select(con, source: str, headers: list[str], icp_names: list[str], table: pd.DataFrame,
                version_label: str, per_row: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The SELECT list of the export (file columns `f.c<i>` but re-scored ICP ones, then the ICP
    columns from the values table `p`, then the version) and the headers it is written under."""
    from .sql import quote_ident, sql_literal

    types = [r[1] for r in con.execute(f"DESCRIBE SELECT * EXCLUDE (__key) FROM {source}").fetchall()]
    own = [i for i, h in enumerate(headers) if h not in icp_names]
    select = [_csv_cell_sql(f"f.c{i}") if types[i] == "VARCHAR" else f"f.c{i}" for i in own]
    extras = [c for c in per_row.columns if c.startswith("__e")]
    select += [f"p.{quote_ident(c)}" if pd.api.types.is_numeric_dtype(table[c]) else _csv_cell_sql(f"p.{quote_ident(c)}")
               for c in icp_names[:len(icp_names) - 1 - len(extras)]]
    select += [f"r.{c}" if pd.api.types.is_numeric_dtype(per_row[c]) else _csv_cell_sql(f"r.{c}") for c in extras]
    select.append(_csv_cell_sql(sql_literal(version_label)))
    return select, [_csv_header(headers[i]) for i in own] + icp_names


def _copy_part(con, select: list[str], source: str, lo: int, hi: int, path: Path, header: str | None) -> None:
    """COPY the accounts with keys lo..hi, in key order, as CSV rows to `path` (`header` first)."""
    from .sql import sql_literal

    # PREFIX/SUFFIX come as a pair; the suffix is the last row's line end, written by DuckDB itself without them
    framing = f", PREFIX {sql_literal(header)}, SUFFIX '\r\n'" if header else ""
    con.execute(f"COPY (SELECT {', '.join(select)} FROM {source} f JOIN __per_row r ON r.__key = f.__key "
                f"JOIN __patterns p ON p.__pat = r.__pat WHERE f.__key BETWEEN {lo} AND {hi} ORDER BY f.__key) "
                f"TO {sql_literal(str(path))} (FORMAT csv, HEADER false, NEW_LINE '\r\n'{framing})")
