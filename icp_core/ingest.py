"""Reading uploads into DuckDB and building a dataset's clean accounts table.

Flow: `read_table` (CSV/TSV/TXT via DuckDB's CSV reader, Parquet via DuckDB, Excel via
pandas) -> raw text table -> `detect_roles` -> `build_accounts_table` (clean value beside
each raw value, opportunities rolled up and joined) -> `assess_quality` -> saved by
`store.DatasetStore`. `ingest_dataset` runs the whole flow and reports progress.
"""

from __future__ import annotations

import codecs
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from .clean import clean_expression, detect_date_formats, install_cleaning_macros, number_lookup_sql, quote_ident
from .roles import ROLES, ColumnSpec, column_keys, detect_roles
from .store import sweep_temp_workdirs

Progress = Callable[[float, str], None]


class IngestError(ValueError):
    """A file that cannot be loaded; the message is meant for the user, on one line."""


UNSUPPORTED_SUFFIXES = {".pdf", ".doc", ".docx", ".ppt", ".pptx", ".json", ".xml", ".zip", ".gz",
                        ".numbers", ".ods", ".png", ".jpg", ".jpeg", ".gif", ".html", ".htm", ".exe"}
SUPPORTED = "CSV/TSV (any common delimiter), Excel .xlsx or Parquet"

_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


@dataclass
class SourceInfo:
    """What was read from one file."""

    file_name: str
    format: str  # csv | xlsx | parquet
    encoding: str | None = None
    # lines that do not fit `encoding` (see scan_encoding), or None when every line does
    encoding_report: dict | None = None
    delimiter: str | None = None
    sheet: str | None = None
    rows_read: int = 0
    rows_rejected: int = 0
    rejected_examples: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sniff_format(path: Path) -> str:
    """'csv' | 'xlsx' | 'parquet' from the file's first bytes (the name is only a hint)."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        raise IngestError(f"{path.name} is empty (0 bytes).")
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise IngestError(
            f"{path.name} is an old Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV and upload again."
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    sample = head[:4096]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    if b"\x00" in sample or control > max(8, len(sample) // 50):
        raise IngestError(
            f"{path.name} is not a text table (binary content); upload {SUPPORTED}."
        )
    return "csv"


def detect_encoding(path: Path) -> str:
    """'utf-8' (with or without BOM), 'utf-16', 'cp1252' or 'latin-1': never a decode error."""
    return scan_encoding(path)[0]


ENCODING_EXAMPLES = 10  # line numbers kept in the report


def _legacy_encoding(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 24), b""):
                chunk.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _utf8_line_fit(path: Path) -> tuple[int, int, list[int], list[int]]:
    """(lines that are valid UTF-8 and hold non-ASCII characters, lines with bytes that are not
    UTF-8, line numbers of the first of each): lines counted from 1 (the header)."""
    good = bad = 0
    good_at: list[int] = []
    bad_at: list[int] = []
    line_no = 1
    rest = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # no line end yet: read on (a long line is bounded later)
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            elif not data:
                break
            else:
                rest = b""
            try:
                data.decode("utf-8")
                if not data.isascii():
                    lines = data.split(b"\n")
                    for i, line in enumerate(lines):
                        if not line.isascii():
                            good += 1
                            if len(good_at) < ENCODING_EXAMPLES:
                                good_at.append(line_no + i)
            except UnicodeDecodeError:
                for i, line in enumerate(data.split(b"\n")):
                    if line.isascii():
                        continue
                    try:
                        line.decode("utf-8")
                        good += 1
                        if len(good_at) < ENCODING_EXAMPLES:
                            good_at.append(line_no + i)
                    except UnicodeDecodeError:
                        bad += 1
                        if len(bad_at) < ENCODING_EXAMPLES:
                            bad_at.append(line_no + i)
            line_no += data.count(b"\n")
            if not chunk:
                break
    return good, bad, good_at, bad_at


def scan_encoding(path: Path) -> tuple[str, dict | None]:
    """The file's encoding and, when some lines do not fit it, a report of them.

    A file that is all UTF-8 is UTF-8. A file that is UTF-8 but for a few lines (more lines with
    valid UTF-8 non-ASCII characters than lines with bytes UTF-8 lacks) is read as UTF-8 with those
    bytes replaced by U+FFFD, and the lines are reported: one bad byte never turns 'Zürich' into
    'ZÃ¼rich' in the rest of the file. Otherwise the legacy code page (cp1252, else latin-1), and
    lines that were valid UTF-8 (now shown as 'Ã¼') are reported.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", None
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 24), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    good, bad, good_at, bad_at = _utf8_line_fit(path)
    if good > bad:
        return "utf-8", {
            "name": "utf-8", "lines_with_invalid_bytes": bad, "examples": bad_at,
            "lines_in_other_encoding": 0,
            "hint": (f"Read as UTF-8; {bad:,} line(s) hold bytes that are not UTF-8 (shown as \ufffd), "
                     f"e.g. line(s) {', '.join(map(str, bad_at[:5]))}. Fix them in the source file "
                     "(save it as UTF-8) and upload again."),
        }
    legacy = _legacy_encoding(path)
    report = {"name": legacy, "lines_with_invalid_bytes": 0, "examples": good_at,
              "lines_in_other_encoding": good, "hint": None}
    if good:
        report["hint"] = (f"Read as {legacy} (most non-ASCII lines are not UTF-8); {good:,} line(s) "
                          f"look like UTF-8 and may show as 'Ã¼'-style characters, e.g. line(s) "
                          f"{', '.join(map(str, good_at[:5]))}. Save the file in one encoding and upload again.")
    return legacy, report


def encoding_report(info: SourceInfo | None) -> dict | None:
    """The quality report's `encoding`: the encoding read and the lines that do not fit it."""
    if info is None or info.encoding is None:
        return None
    return info.encoding_report or {"name": info.encoding, "lines_with_invalid_bytes": 0, "examples": [],
                                    "lines_in_other_encoding": 0, "hint": None}


def _transcode_to_utf8(path: Path, encoding: str, workdir: Path, errors: str = "strict") -> Path:
    out = workdir / (path.stem + ".utf8.csv")
    with open(path, "r", encoding=encoding, errors=errors, newline="") as src, \
            open(out, "w", encoding="utf-8", newline="") as dst:
        for chunk in iter(lambda: src.read(1 << 22), ""):
            dst.write(chunk)
    return out


CSV_MAX_LINE_BYTES = 1_000_000  # a longer line is set aside as malformed, not read
_CSV_DELIMITERS = (",", ";", "\t", "|")


def _header_width(path: Path, src: Path) -> int:
    """Columns in the first line (counted with the most frequent common delimiter, outside quotes),
    read before DuckDB sees the file; refuses a first line over CSV_MAX_LINE_BYTES."""
    counts = dict.fromkeys(_CSV_DELIMITERS, 0)
    quoted = False
    seen = 0
    with open(src, "rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                break
            text = chunk.decode("utf-8", errors="replace")
            end = None
            if not quoted and '"' not in text:  # the common case: no quotes, count in C
                nl = text.find("\n")
                part = text if nl < 0 else text[:nl]
                for d in _CSV_DELIMITERS:
                    counts[d] += part.count(d)
                end = nl if nl >= 0 else None
            else:
                for i, ch in enumerate(text):
                    if ch == '"':
                        quoted = not quoted
                    elif not quoted:
                        if ch == "\n":
                            end = i
                            break
                        if ch in counts:
                            counts[ch] += 1
            seen += len(chunk) if end is None else len(text[:end].encode("utf-8"))
            if seen > CSV_MAX_LINE_BYTES:
                raise IngestError(f"{path.name}: the first line (the header) is longer than "
                                  f"{CSV_MAX_LINE_BYTES:,} bytes; is this a table?")
            if end is not None:
                break
    return max(counts.values()) + 1


def _set_aside_long_lines(src: Path, workdir: Path) -> tuple[Path, list[tuple[int, str]]]:
    """Lines longer than CSV_MAX_LINE_BYTES, as (line number, first 200 characters); when there
    are any, a copy of the file without them (DuckDB fails the whole file on one such line)."""
    long_lines: list[int] = []
    line_no, current = 1, 0
    with open(src, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                current += len(chunk)
                continue
            if current + len(parts[0]) > CSV_MAX_LINE_BYTES:
                long_lines.append(line_no)
            middle = parts[1:-1]
            if middle and max(map(len, middle)) > CSV_MAX_LINE_BYTES:
                long_lines += [line_no + 1 + i for i, p in enumerate(middle) if len(p) > CSV_MAX_LINE_BYTES]
            line_no += len(parts) - 1
            current = len(parts[-1])
    if current > CSV_MAX_LINE_BYTES:
        long_lines.append(line_no)
    if not long_lines:
        return src, []
    out = workdir / (src.stem + ".lines.csv")
    skip = set(long_lines)
    examples: dict[int, bytes] = {}
    line_no = 1
    with open(src, "rb") as fh, open(out, "wb") as dst:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            start = 0
            while start < len(chunk):
                nl = chunk.find(b"\n", start)
                stop = len(chunk) if nl < 0 else nl + 1
                if line_no in skip:
                    if len(examples.get(line_no, b"")) < 200:
                        examples[line_no] = examples.get(line_no, b"") + chunk[start:min(stop, start + 200)]
                else:
                    dst.write(chunk[start:stop])
                if nl < 0:
                    break
                line_no += 1
                start = stop
    return out, [(n, examples.get(n, b"")[:200].decode("utf-8", errors="replace")) for n in long_lines]


def _read_csv(con, path: Path, table: str, info: SourceInfo, workdir: Path) -> None:
    info.encoding, info.encoding_report = scan_encoding(path)
    if info.encoding_report and info.encoding_report.get("hint"):
        info.notes.append(info.encoding_report["hint"])
    if info.encoding == "utf-8":
        src = _transcode_to_utf8(path, "utf-8", workdir, "replace") if info.encoding_report else path
    else:
        src = _transcode_to_utf8(path, info.encoding, workdir)
    width = _header_width(path, src)
    if width > MAX_FILE_COLUMNS:  # refused before any row is read
        raise IngestError(f"{path.name} has {width:,} columns; at most {MAX_FILE_COLUMNS:,} are read per file. "
                          "Export only the columns you need (an ICP uses tens, not thousands) and upload again.")
    src, long_lines = _set_aside_long_lines(src, workdir)
    if long_lines and long_lines[0] == 1:
        raise IngestError(f"{path.name}: the first line (the header) is longer than "
                          f"{CSV_MAX_LINE_BYTES:,} bytes; is this a table?")
    # every column as text: the raw value is kept and parsing is ours
    # rows with more or fewer values than the header are rejected and reported, not padded
    options = dict(header=True, all_varchar=True, ignore_errors=True, store_rejects=True,
                   sample_size=20480, max_line_size=10 * CSV_MAX_LINE_BYTES,
                   rejects_table="icp_reject_errors", rejects_scan="icp_reject_scans")
    try:
        rel = con.read_csv(str(src), **options)
        _materialise(con, rel, table)
        delim = con.execute(
            "SELECT delimiter FROM icp_reject_scans ORDER BY scan_id DESC LIMIT 1").fetchone()
        if not delim:  # the scans table is only filled when some row was rejected
            delim = con.execute("SELECT Delimiter FROM sniff_csv(?, sample_size = 20480)",
                                [str(src)]).fetchone()
        info.delimiter = delim[0] if delim else None
    except duckdb.Error as exc:  # the sniffer found no table at all
        first = str(exc).strip().splitlines()[0]
        raise IngestError(f"{path.name} could not be read as a CSV table: {first}") from None
    rejects = con.execute("""
        SELECT line, error_type, error_message, csv_line FROM icp_reject_errors
        ORDER BY line LIMIT 1000""").fetchall()
    info.rows_rejected = con.execute(
        "SELECT count(DISTINCT line) FROM icp_reject_errors").fetchone()[0] + len(long_lines)
    found = [(_line_in_original(int(line), long_lines), _reject_reason(str(etype), str(message)), (text or "")[:200])
             for line, etype, message, text in rejects]
    found += [(n, f"line too long (over {CSV_MAX_LINE_BYTES:,} bytes)", text) for n, text in long_lines]
    for line, reason, text in sorted(found, key=lambda r: r[0])[:5]:
        info.rejected_examples.append({"line": line, "reason": reason, "text": text})
    con.execute("DROP TABLE IF EXISTS icp_reject_errors; DROP TABLE IF EXISTS icp_reject_scans")


def _line_in_original(line: int, removed: list[tuple[int, str]]) -> int:
    """A line number of the copy without the set-aside lines, as a line number of the upload."""
    for n, _text in removed:  # ascending
        if n <= line:
            line += 1
    return line


def _materialise(con, rel, table: str) -> None:
    """Copy a relation into temp table `table`."""
    con.register("icp_source_rel", rel)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS SELECT * FROM icp_source_rel")
    finally:
        con.unregister("icp_source_rel")


def _reject_reason(etype: str, message: str) -> str:
    reasons = {
        "TOO MANY COLUMNS": "more values than the header has columns",
        "MISSING COLUMNS": "fewer values than the header has columns",
        "UNQUOTED VALUE": "a quote inside an unquoted value",
        "LINE SIZE OVER MAXIMUM": "line too long",
        "INVALID UNICODE": "invalid characters",
        "INVALID ENCODING": "invalid characters",
    }
    return reasons.get(etype.upper(), message.split("\n")[0][:160])


# ---------------------------------------------------------------------------------------
# Excel: bounded before anything expands
#
# An .xlsx is a ZIP of XML parts; a few KB on disk can declare gigabytes (a ZIP bomb) or
# reference one long shared string from thousands of cells. The parts' declared sizes and
# compression ratios are checked first, then the shared strings and the sheets are scanned
# as a stream (no tree, no values kept), and only then does openpyxl read the chosen sheet,
# read-only and row by row, into DuckDB in chunks, counting cells and characters.

XLSX_MAX_TOTAL_BYTES = 1_000_000_000  # all parts together, uncompressed
XLSX_MAX_SHEET_BYTES = 1_000_000_000  # one worksheet part, uncompressed (read as a stream)
XLSX_MAX_STRINGS_BYTES = 50_000_000  # the shared strings part (openpyxl keeps it in memory)
XLSX_MAX_PART_BYTES = 20_000_000  # any other part (parsed whole by openpyxl)
XLSX_MAX_RATIO = 100  # uncompressed / compressed, for parts over XLSX_RATIO_FROM bytes
XLSX_RATIO_FROM = 1_000_000
EXCEL_MAX_ROWS = 1_048_576  # Excel's own sheet limit
EXCEL_MAX_CELLS = 10_000_000  # rows x columns read from the sheet
EXCEL_MAX_CELL_CHARS = 32_767  # Excel's own limit on one cell's text
EXCEL_MAX_CHARS = 100_000_000  # characters read from the sheet in all
_EXCEL_CHUNK_ROWS = 20_000
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def _excel_limit(path: Path, what: str) -> IngestError:
    return IngestError(f"{path.name} is refused by an Excel reading limit: {what}. "
                       "Save the sheet as CSV and upload that.")


def _xlsx_parts(path: Path, zf) -> tuple[str | None, list[str]]:
    """Check every part's declared size and ratio; return (shared strings part, worksheet parts)."""
    from xml.etree.ElementTree import fromstring

    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    if total > XLSX_MAX_TOTAL_BYTES:
        raise _excel_limit(path, f"its parts expand to {total:,} bytes; at most {XLSX_MAX_TOTAL_BYTES:,}")
    by_name = {i.filename: i for i in infos}
    ct = by_name.get("[Content_Types].xml")
    if ct is None or ct.file_size > XLSX_MAX_PART_BYTES:
        raise IngestError(f"{path.name} is a ZIP archive but not a readable Excel workbook; "
                          "upload CSV/TSV, .xlsx or Parquet.")
    types = {}
    try:
        root = fromstring(_checked_xml(path, zf.read(ct)))
        for el in root:
            if el.tag.endswith("Override") and el.get("PartName"):
                types[el.get("PartName").lstrip("/")] = el.get("ContentType")
    except IngestError:
        raise
    except Exception:
        raise IngestError(f"{path.name} is a ZIP archive but not a readable Excel workbook; "
                          "upload CSV/TSV, .xlsx or Parquet.") from None
    strings = next((n for n, t in types.items() if t == _SHARED_STRINGS_TYPE), None)
    sheets = [n for n, t in types.items() if t == _WORKSHEET_TYPE]
    for info in infos:
        name = info.filename
        cap = (XLSX_MAX_SHEET_BYTES if name in sheets else
               XLSX_MAX_STRINGS_BYTES if name == strings else XLSX_MAX_PART_BYTES)
        if info.file_size > cap:
            raise _excel_limit(path, f"part {name} expands to {info.file_size:,} bytes; at most {cap:,}")
        if info.file_size > XLSX_RATIO_FROM and info.file_size > XLSX_MAX_RATIO * max(1, info.compress_size):
            ratio = info.file_size / max(1, info.compress_size)
            raise _excel_limit(path, f"part {name} is compressed {ratio:,.0f} to 1 (a ZIP bomb?); "
                                     f"at most {XLSX_MAX_RATIO} to 1")
    return strings, sheets


def _checked_xml(path: Path, data: bytes) -> bytes:
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data[:4096].upper():
        raise _excel_limit(path, "XML with a DOCTYPE or entities is not read")
    return data


def _scan_xml(path: Path, zf, name: str, sheet: bool) -> int:
    """Stream one part through expat without keeping it; refuse it when a limit is passed.

    Shared strings: each string's length. Sheets: rows, cells per row, cells, text per cell.
    Returns the number of rows holding a value (sheets) or of strings.
    """
    import xml.parsers.expat

    state = {"rows": 0, "value_rows": 0, "row_cells": 0, "cells": 0, "has_value": False,
             "strings": 0, "chars": 0, "in_text": 0}

    def local(tag: str) -> str:
        return tag.rpartition(":")[2]

    def start(tag, attrs):
        tag = local(tag)
        if sheet:
            if tag == "c":
                state["row_cells"] += 1
                state["cells"] += 1
                if state["row_cells"] > MAX_FILE_COLUMNS:
                    raise IngestError(f"{path.name} has a row of more than {MAX_FILE_COLUMNS:,} cells; at most "
                                      f"{MAX_FILE_COLUMNS:,} columns are read per file. Export only the columns "
                                      "you need and upload again.")
                if state["cells"] > EXCEL_MAX_CELLS:
                    raise _excel_limit(path, f"the sheet has more than {EXCEL_MAX_CELLS:,} cells; "
                                             f"at most {EXCEL_MAX_CELLS:,} (rows x columns)")
                state["chars"] = 0
            elif tag == "row":
                if state["has_value"]:
                    state["value_rows"] += 1
                state["rows"] += 1
                state["row_cells"] = 0
                state["has_value"] = False
                if state["rows"] > EXCEL_MAX_ROWS:
                    raise _excel_limit(path, f"the sheet has more than {EXCEL_MAX_ROWS:,} rows; "
                                             f"at most {EXCEL_MAX_ROWS:,}")
            elif tag in ("v", "t"):
                state["in_text"] += 1
                state["has_value"] = True
        else:
            if tag == "si":
                state["strings"] += 1
                state["chars"] = 0
                if state["strings"] > EXCEL_MAX_CELLS:
                    raise _excel_limit(path, f"more than {EXCEL_MAX_CELLS:,} shared strings")
            elif tag == "t":
                state["in_text"] += 1

    def end(tag):
        if local(tag) in (("v", "t") if sheet else ("t",)):
            state["in_text"] -= 1

    def text(data):
        if state["in_text"]:
            state["chars"] += len(data)
            if state["chars"] > EXCEL_MAX_CELL_CHARS:
                raise _excel_limit(path, f"a cell holds more than {EXCEL_MAX_CELL_CHARS:,} characters; "
                                         f"at most {EXCEL_MAX_CELL_CHARS:,} per cell (Excel's own limit)")

    def doctype(*_args):
        raise _excel_limit(path, "XML with a DOCTYPE or entities is not read")

    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        with zf.open(name) as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except IngestError:
        raise
    except Exception as exc:  # broken XML or ZIP data
        raise IngestError(f"{path.name} is a ZIP archive but not a readable Excel workbook ({type(exc).__name__}); "
                          "upload CSV/TSV, .xlsx or Parquet.") from None
    if sheet:
        return state["value_rows"] + (1 if state["has_value"] else 0)
    return state["strings"]


def _excel_text(value) -> str | None:
    """A cell's value as the text pandas' read_excel(dtype=str) gave (whole floats without .0)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_excel(con, path: Path, table: str, info: SourceInfo) -> None:
    import zipfile

    import openpyxl
    import pandas as pd

    def unreadable(exc: Exception) -> IngestError:
        return IngestError(f"{path.name} is a ZIP archive but not a readable Excel workbook ({type(exc).__name__}); "
                           "upload CSV/TSV, .xlsx or Parquet.")

    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:
        raise unreadable(exc) from None
    with zf:
        strings, sheet_parts = _xlsx_parts(path, zf)
        if strings and strings in zf.NameToInfo:
            _scan_xml(path, zf, strings, sheet=False)
        value_rows = {p: _scan_xml(path, zf, p, sheet=True) for p in sheet_parts if p in zf.NameToInfo}
    fh = open(path, "rb")  # a file object: openpyxl refuses names not ending in .xlsx
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        fh.close()
        raise unreadable(exc) from None
    try:
        sheets = [ws for ws in wb.worksheets if getattr(ws, "_worksheet_path", None) is not None]
        if any(ws._worksheet_path not in value_rows for ws in sheets):
            raise unreadable(ValueError("worksheet not listed"))
        usable = [ws for ws in sheets if value_rows[ws._worksheet_path] >= 2]
        if not usable:
            raise IngestError(f"{path.name} has no sheet with a header row and data rows.")
        ws = usable[0]
        info.sheet = ws.title
        if len(usable) > 1:
            others = ", ".join(w.title for w in usable[1:])
            info.notes.append(f"read sheet '{ws.title}'; other sheets not read: {others}")
        ws.reset_dimensions()  # a declared size is not trusted: rows are as long as their cells
        try:
            _stream_sheet(con, path, ws, table, pd)
        except (IngestError, duckdb.Error):
            raise
        except Exception as exc:
            raise unreadable(exc) from None
    finally:
        wb.close()
        fh.close()


def _stream_sheet(con, path: Path, ws, table: str, pd) -> None:
    t = quote_ident(table)
    names: list[str] = []
    chunk: list[list] = []
    rows = cells = chars = 0

    def add_columns(width: int) -> None:
        for i in range(len(names), width):
            names.append(f"column{i}")
            con.execute(f"ALTER TABLE {t} ADD COLUMN {quote_ident(names[-1])} VARCHAR")

    def flush() -> None:
        if not chunk:
            return
        df = pd.DataFrame([r + [None] * (len(names) - len(r)) for r in chunk], columns=range(len(names)),
                          dtype=object)
        con.register("icp_excel_chunk", df)
        try:
            con.execute(f"INSERT INTO {t} SELECT * FROM icp_excel_chunk")
        finally:
            con.unregister("icp_excel_chunk")
        chunk.clear()

    for raw in ws.iter_rows(values_only=True):
        rows += 1
        cells += len(raw)
        if rows > EXCEL_MAX_ROWS:
            raise _excel_limit(path, f"the sheet has more than {EXCEL_MAX_ROWS:,} rows; at most {EXCEL_MAX_ROWS:,}")
        if cells > EXCEL_MAX_CELLS:
            raise _excel_limit(path, f"the sheet has more than {EXCEL_MAX_CELLS:,} cells; "
                                     f"at most {EXCEL_MAX_CELLS:,} (rows x columns)")
        values = [_excel_text(v) for v in raw]
        while values and values[-1] is None:
            values.pop()
        if not values:
            continue  # blank rows are skipped, as pandas did
        if len(values) > MAX_FILE_COLUMNS:
            raise IngestError(f"{path.name} has {len(values):,} columns; at most {MAX_FILE_COLUMNS:,} are read per "
                              "file. Export only the columns you need (an ICP uses tens, not thousands) "
                              "and upload again.")
        for v in values:
            if v is not None:
                if len(v) > EXCEL_MAX_CELL_CHARS:
                    raise _excel_limit(path, f"a cell holds {len(v):,} characters; at most "
                                             f"{EXCEL_MAX_CELL_CHARS:,} per cell (Excel's own limit)")
                chars += len(v)
        if chars > EXCEL_MAX_CHARS:
            raise _excel_limit(path, f"the sheet holds more than {EXCEL_MAX_CHARS:,} characters; "
                                     f"at most {EXCEL_MAX_CHARS:,}")
        if not names:  # the header row
            seen: dict[str, int] = {}
            for i, v in enumerate(values):
                name = f"column{i}" if v is None or not v.strip() else v
                if name in seen:
                    seen[name] += 1
                    name = f"{name}.{seen[name]}"
                seen.setdefault(name, 0)
                names.append(name)
            cols = ", ".join(f"{quote_ident(n)} VARCHAR" for n in names)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {t} ({cols})")
            continue
        if len(values) > len(names):
            flush()
            add_columns(len(values))
        chunk.append(values)
        if len(chunk) >= _EXCEL_CHUNK_ROWS:
            flush()
    flush()
    if not names:
        raise IngestError(f"{path.name} has no sheet with a header row and data rows.")


PARQUET_MAX_CELLS = 100_000_000  # rows x columns, from the file's metadata
# all values as text, as a CSV of the upload limit could hold at most (the limit applies to
# the file on disk, and a Parquet file expands)
PARQUET_MAX_TEXT_BYTES = 200_000_000
_CELL_CAP_MARK = "icp: cell over the character limit"


def _read_parquet(con, path: Path, table: str) -> None:
    """Parquet through DuckDB, bounded first by the metadata (columns, rows x columns) and
    then per value: a cell over EXCEL_MAX_CELL_CHARS characters stops the read at once
    (a few hundred bytes of dictionary-encoded Parquet can repeat one long string 20,000 times)."""
    try:
        rel = con.read_parquet(str(path))
        if len(rel.columns) > MAX_FILE_COLUMNS:
            raise IngestError(f"{path.name} has {len(rel.columns):,} columns; at most {MAX_FILE_COLUMNS:,} are read "
                              "per file. Export only the columns you need (an ICP uses tens, not thousands) "
                              "and upload again.")
        rows = con.execute("SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(?)",
                           [str(path)]).fetchall()[0][0]
        if rows * len(rel.columns) > PARQUET_MAX_CELLS:
            raise IngestError(f"{path.name} has {rows:,} rows x {len(rel.columns):,} columns; at most "
                              f"{PARQUET_MAX_CELLS:,} cells are read. Export fewer rows or columns and upload again.")
        casts, sizes, longest = [], [], []
        cap = EXCEL_MAX_CELL_CHARS
        for name, dtype in zip(rel.columns, rel.dtypes):
            col = quote_ident(name)
            text = f"array_to_string({col}, '; ')" if str(dtype).endswith("[]") else f"CAST({col} AS VARCHAR)"
            casts.append(f"CASE WHEN strlen({text}) > {cap} AND length({text}) > {cap} "
                         f"THEN error('{_CELL_CAP_MARK}') ELSE {text} END AS {col}")
            sizes.append(f"coalesce(sum(strlen({text})), 0)")
            longest.append(f"coalesce(max(length({text})), 0)")
        # what the text would weigh, summed as a stream before anything is kept: dictionary
        # encoding lets under 1 KB of Parquet repeat a 30,000-character value a million times
        text_bytes, longest_cell = rel.aggregate(f"{' + '.join(sizes)}, greatest({', '.join(longest)}, 0)"
                                                 ).fetchall()[0]
        if longest_cell > cap:
            raise duckdb.Error(_CELL_CAP_MARK)
        if text_bytes > PARQUET_MAX_TEXT_BYTES:
            raise IngestError(f"{path.name} is refused by a reading limit: its values read as text are "
                              f"{text_bytes:,} bytes; at most {PARQUET_MAX_TEXT_BYTES:,}. Export fewer rows or "
                              "columns and upload again.")
        _materialise(con, rel.project(", ".join(casts)), table)
    except duckdb.Error as exc:
        if _CELL_CAP_MARK in str(exc):
            raise IngestError(f"{path.name} is refused by a reading limit: a cell holds more than {cap:,} "
                              f"characters; at most {cap:,} per cell.") from None
        raise IngestError(f"{path.name} could not be read as Parquet: {str(exc).splitlines()[0]}") from None


def read_table(con: duckdb.DuckDBPyConnection, path: Path, table: str,
               workdir: Path) -> tuple[SourceInfo, list[str], list[str]]:
    """Load one file into temp table `table` as text columns named by safe keys.

    Returns what was read, the column keys and the original headers.
    Raises IngestError with a user-facing message when the file cannot be used.
    """
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path} does not exist.")
    if path.is_dir():
        raise IngestError(f"{path} is a folder, not a file.")
    if path.suffix.lower() in UNSUPPORTED_SUFFIXES:
        raise IngestError(f"{path.name}: {path.suffix} files are not supported; upload {SUPPORTED}.")
    fmt = sniff_format(path)
    info = SourceInfo(file_name=path.name, format=fmt)
    if fmt == "csv":
        _read_csv(con, path, table, info, workdir)
    elif fmt == "xlsx":
        _read_excel(con, path, table, info)
    else:
        _read_parquet(con, path, table)
    headers = [d[0] for d in con.execute(f"SELECT * FROM {quote_ident(table)} LIMIT 0").description]
    rows = con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
    info.rows_read = rows + info.rows_rejected
    if fmt == "csv" and len(headers) == 1 and rows == 0 and not headers[0].strip():
        raise IngestError(f"{path.name} has no header row.")
    if rows == 0:
        raise IngestError(f"{path.name} has a header row but no data rows.")
    if len(headers) > MAX_FILE_COLUMNS:
        raise IngestError(f"{path.name} has {len(headers):,} columns; at most {MAX_FILE_COLUMNS:,} are read per file. "
                          "Export only the columns you need (an ICP uses tens, not thousands) and upload again.")
    keys = _unreserved_keys(column_keys(headers), headers, info)
    if len(headers) > 200:  # wide files: one statement instead of thousands of catalog changes
        cols = ", ".join(f"{quote_ident(h)} AS {quote_ident(k)}" for h, k in zip(headers, keys))
        con.execute(f"CREATE OR REPLACE TEMP TABLE icp_renamed AS SELECT {cols} FROM {quote_ident(table)}")
        con.execute(f"DROP TABLE {quote_ident(table)}")
        con.execute(f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT * FROM icp_renamed")
        con.execute("DROP TABLE icp_renamed")
    else:
        # rename in two steps (headers may collide with other columns' keys); catalog-only, no copy
        for i, h in enumerate(headers):
            con.execute(f"ALTER TABLE {quote_ident(table)} RENAME COLUMN {quote_ident(h)} TO {quote_ident(f'icp_tmp_{i}')}")
        for i, k in enumerate(keys):
            con.execute(f"ALTER TABLE {quote_ident(table)} RENAME COLUMN {quote_ident(f'icp_tmp_{i}')} TO {quote_ident(k)}")
    # DuckDB names blank/duplicate headers itself (column0, name_1): show the user's header
    headers = [h if not _is_generated_name(h) else "" for h in headers]
    return info, keys, headers


def _unreserved_keys(keys: list[str], headers: list[str], info: SourceInfo) -> list[str]:
    """Keys with the names the app derives (the roll-up's opp_* columns) given to none of the
    file's columns: such a column keeps its data and header under the key `<name>_col`, and a
    note says so. The roll-up is then always read from its own columns."""
    reserved = {key for key, _, _ in ROLLUP_COLUMNS}
    taken = set(keys)
    out = []
    for key, header in zip(keys, headers):
        if key in reserved:
            new, n = f"{key}_col", 2
            while new in taken or new in reserved:
                new, n = f"{key}_col{n}", n + 1
            taken.add(new)
            info.notes.append(f"Column '{header}' is kept as uploaded (internal name {new}): the name {key} is "
                              "reserved for the opportunities roll-up, which is always computed from the "
                              "opportunities file.")
            key = new
        out.append(key)
    return out


def _yield_rollup_roles(specs: list[ColumnSpec]) -> None:
    """An accounts column named like a roll-up column (opp_outcome, opp_won_value, ...) does not take
    that roll-up column's role (deal stage, ARR, close date): with an opportunities file the outcome
    comes from the opportunities. It keeps a generic role; the mapping can change it."""
    rollup_roles = {key: role for key, _, role in ROLLUP_COLUMNS}
    for s in specs:
        role = rollup_roles.get(column_keys([s.header])[0]) if s.header else None
        if role and s.role == role and s.role in _ROLLUP_FALLBACK_ROLE:
            s.role = _ROLLUP_FALLBACK_ROLE[s.role]


def _is_generated_name(header: str) -> bool:
    import re

    return bool(re.fullmatch(r"column\d+", header))


# ---------------------------------------------------------------------------------------
# opportunities roll-up


def account_key_sql(expr: str) -> str:
    """Join key for account ids/names: case- and space-insensitive."""
    return f"nullif(lower(regexp_replace(icp_nullify({expr}), '\\s+', '', 'g')), '')"


ROLLUP_COLUMNS = (
    # key, header, role when the accounts file has no column of that role
    ("opp_won_count", "Won deals", "number"),
    ("opp_lost_count", "Lost deals", "number"),
    ("opp_open_count", "Open deals", "number"),
    ("opp_win_rate", "Win rate", "number"),
    ("opp_won_value", "Won value", "arr"),
    ("opp_outcome", "Account outcome (won / lost / open)", "deal_stage"),
    ("opp_first_close_date", "First close date", "date"),
    ("opp_last_close_date", "Last close date", "close_date"),
)


# generic role for a rolled-up column whose semantic role the accounts file already fills
_ROLLUP_FALLBACK_ROLE = {"arr": "number", "deal_stage": "category", "close_date": "date"}


def rollup_sql(opp_specs: list[ColumnSpec], join_role: str) -> str:
    """SELECT rolling raw opportunities up to one row per account key."""
    by_role = {s.role: s for s in opp_specs}
    key_col = quote_ident(by_role[join_role].key)
    stage = clean_expression("stage", quote_ident(by_role["deal_stage"].key))
    value = (clean_expression("number", quote_ident(by_role["arr"].key), by_role["arr"].scale)
             if "arr" in by_role else "NULL::DOUBLE")
    close = (clean_expression("date", quote_ident(by_role["close_date"].key), 1.0,
                              by_role["close_date"].date_formats)
             if "close_date" in by_role else "NULL::DATE")
    return f"""
        SELECT account_key,
               count(*) FILTER (WHERE stage = 'won') AS opp_won_count,
               count(*) FILTER (WHERE stage = 'lost') AS opp_lost_count,
               count(*) FILTER (WHERE stage = 'open' OR stage IS NULL) AS opp_open_count,
               CASE WHEN count(*) FILTER (WHERE stage IN ('won', 'lost')) > 0
                    THEN count(*) FILTER (WHERE stage = 'won')::DOUBLE
                         / count(*) FILTER (WHERE stage IN ('won', 'lost')) END AS opp_win_rate,
               coalesce(sum(value) FILTER (WHERE stage = 'won'), 0) AS opp_won_value,
               CASE WHEN count(*) FILTER (WHERE stage = 'won') > 0 THEN 'won'
                    WHEN count(*) FILTER (WHERE stage = 'open' OR stage IS NULL) > 0 THEN 'open'
                    ELSE 'lost' END AS opp_outcome,
               min(close_date) FILTER (WHERE stage IN ('won', 'lost')) AS opp_first_close_date,
               max(close_date) FILTER (WHERE stage IN ('won', 'lost')) AS opp_last_close_date
        FROM (SELECT {account_key_sql(key_col)} AS account_key, {stage} AS stage,
                     {value} AS value, {close} AS close_date
              FROM raw_opportunities)
        WHERE account_key IS NOT NULL
        GROUP BY account_key"""


def choose_join_role(account_specs: list[ColumnSpec], opp_specs: list[ColumnSpec]) -> str:
    """'account_id' when both files carry ids, else 'account_name'."""
    acc = {s.role for s in account_specs}
    opp = {s.role for s in opp_specs}
    for role in ("account_id", "account_name"):
        if role in acc and role in opp:
            return role
    missing = "an account id or name column" if not ({"account_id", "account_name"} & opp) else \
        "a matching account id or name column in the accounts file"
    raise IngestError(f"the opportunities file cannot be joined to accounts: it needs {missing}.")


def opportunity_specs_problem(opp_specs: list[ColumnSpec]) -> str | None:
    roles = {s.role for s in opp_specs}
    if "deal_stage" not in roles:
        return "the opportunities file has no deal stage / won-lost column"
    if not ({"account_id", "account_name"} & roles):
        return "the opportunities file has no account id or account name column"
    return None


# ---------------------------------------------------------------------------------------
# the clean accounts table


# kinds cleaned row by row (nearly every value distinct); all others via a dictionary
_DIRECT_KINDS = ("id", "text")
# Columns are cleaned once per distinct value and joined back, one join each; DuckDB's planner
# does not take hundreds of such joins, so a file keeps at most this many cleaned columns and the
# rest as uploaded, unused (a note says so; the mapping can swap which ones).
MAX_CLEAN_COLUMNS = 40
MAX_FILE_COLUMNS = 300


def _dictionary_sql(s: ColumnSpec, raw_table: str) -> str:
    """Distinct raw values of a column with their row count and clean value (and band flag)."""
    counts = f"SELECT {quote_ident(s.key)} AS s, count(*) AS n FROM {quote_ident(raw_table)} GROUP BY ALL"
    if s.kind == "number":
        scale = "" if float(s.scale) == 1.0 else f" * {float(s.scale)!r}"
        return (f"SELECT c.s, c.n, l.value{scale} AS v, coalesce(l.is_band, FALSE) AS is_band "
                f"FROM ({counts}) c LEFT JOIN ({number_lookup_sql(counts)}) l ON l.key = c.s")
    return f"SELECT s, n, {clean_expression(s.kind, 's', s.scale, s.date_formats)} AS v FROM ({counts})"


def build_accounts_table(con: duckdb.DuckDBPyConnection, specs: list[ColumnSpec],
                         opp_specs: list[ColumnSpec] | None = None,
                         raw_table: str = "raw_accounts") -> tuple[list[ColumnSpec], dict | None, dict]:
    """(Re)build table `accounts` from `raw_table` (+ `raw_opportunities`).

    Each source column `k` becomes `k` (clean) beside `k__raw` (text as uploaded);
    numeric columns also get `k__band` (the band text where the value was a band).
    Columns with repeated values are cleaned once per distinct value (a dictionary
    table, kept for the quality report) and joined back; ids and free text row by row.
    Opportunities are rolled up per account and joined as `opp_*` columns.
    Returns (all column specs, roll-up report or None, {key: dictionary table}).
    """
    install_cleaning_macros(con)
    account_specs = [s for s in specs if s.source == "accounts"]
    cleaned = [s for s in account_specs if s.role != "ignore" and s.kind not in _DIRECT_KINDS]
    if len(cleaned) > MAX_CLEAN_COLUMNS:
        raise IngestError(f"{len(cleaned):,} columns are mapped to a role; at most {MAX_CLEAN_COLUMNS:,} can be used "
                          "at once. Set the ones you do not need to “Ignore”.")
    select = ["a.rowid + 1 AS row_id"]  # file order; the raw table is in that order
    join = ""
    dictionaries: dict[str, str] = {}
    for i, s in enumerate(account_specs):
        raw = f"a.{quote_ident(s.key)}"
        if s.role == "ignore":
            pass
        elif s.kind in _DIRECT_KINDS:
            select.append(f"{clean_expression(s.kind, raw, s.scale, s.date_formats)} AS {quote_ident(s.key)}")
        else:
            table = f"icp_dict_{i}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {_dictionary_sql(s, raw_table)}")
            dictionaries[s.key] = table
            select.append(f"d{i}.v AS {quote_ident(s.key)}")
            if s.kind == "number":
                select.append(f"CASE WHEN d{i}.is_band THEN {raw} END AS {quote_ident(s.key + '__band')}")
            join += f" LEFT JOIN {table} d{i} ON d{i}.s = {raw}"
        select.append(f"{raw} AS {quote_ident(s.key + '__raw')}")
    report = None
    out_specs = list(account_specs)
    if opp_specs:
        join_role = choose_join_role(account_specs, opp_specs)
        acc_key = next(s for s in account_specs if s.role == join_role)
        con.execute(f"CREATE OR REPLACE TEMP TABLE icp_rollup AS {rollup_sql(opp_specs, join_role)}")
        taken = {s.role for s in account_specs}
        for key, header, role in ROLLUP_COLUMNS:
            select.append(f"coalesce(r.{key}, 0) AS {key}" if key.endswith("_count") else f"r.{key}")
            if role in taken:  # the accounts file has its own column of that role
                role = _ROLLUP_FALLBACK_ROLE.get(role, role)
            taken.add(role)
            out_specs.append(ColumnSpec(key=key, header=header, role=role, source="opportunities"))
        join += (f" LEFT JOIN icp_rollup r ON r.account_key = "
                f"{account_key_sql('a.' + quote_ident(acc_key.key))}")
        report = _rollup_report(con, opp_specs, join_role, acc_key)
    con.execute("SET preserve_insertion_order = false")  # parallel write; row_id keeps the order
    con.execute(f"CREATE OR REPLACE TABLE accounts AS SELECT {', '.join(select)} "
                f"FROM {quote_ident(raw_table)} a{join}")
    return out_specs, report, dictionaries


def _rollup_report(con, opp_specs, join_role, acc_key) -> dict:
    opp_key = next(s for s in opp_specs if s.role == join_role)
    okey = account_key_sql(quote_ident(opp_key.key))
    akey = account_key_sql(quote_ident(acc_key.key))
    total, no_account = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {okey} IS NULL) FROM raw_opportunities"
    ).fetchone()
    matched_accounts = con.execute(f"""
        SELECT count(DISTINCT r.account_key)
        FROM icp_rollup r JOIN (SELECT DISTINCT {akey} AS k FROM raw_accounts) a ON a.k = r.account_key
    """).fetchone()[0]
    # opportunity keys with no account, once: counts and the most frequent examples come from it
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE icp_unmatched AS
        SELECT any_value(icp_nullify({quote_ident(opp_key.key)})) AS example, count(*) AS n
        FROM raw_opportunities
        WHERE {okey} IS NOT NULL AND {okey} NOT IN (SELECT {akey} FROM raw_accounts WHERE {akey} IS NOT NULL)
        GROUP BY {okey}""")
    unmatched = con.execute("SELECT example, n FROM icp_unmatched ORDER BY n DESC LIMIT 10").fetchall()
    unmatched_keys = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM icp_unmatched").fetchone()
    con.execute("DROP TABLE icp_unmatched")
    accounts_total = con.execute("SELECT count(*) FROM raw_accounts").fetchone()[0]
    return {
        "join_on": join_role, "accounts_column": acc_key.header, "opportunities_column": opp_key.header,
        "opportunity_rows": int(total), "rows_without_account": int(no_account),
        "accounts_with_opportunities": int(matched_accounts), "accounts_total": int(accounts_total),
        "unmatched_keys": int(unmatched_keys[0]), "unmatched_rows": int(unmatched_keys[1]),
        "unmatched_examples": [{"account": e, "rows": int(n)} for e, n in unmatched],
        "stage_column": next(s.header for s in opp_specs if s.role == "deal_stage"),
        "value_column": next((s.header for s in opp_specs if s.role == "arr"), None),
    }


# ---------------------------------------------------------------------------------------
# the whole flow


@dataclass
class IngestResult:
    dataset_id: str
    meta: dict


def _noop(fraction: float, message: str) -> None:  # pragma: no cover - default callback
    pass


def ingest_dataset(store, accounts: Path, opportunities: Path | None = None,
                   name: str | None = None, progress: Progress = _noop,
                   display_names: tuple[str | None, str | None] = (None, None),
                   max_mb: int | None = None) -> IngestResult:
    """Load an accounts file (and optionally an opportunities file) as a new dataset.

    `store` is a `store.DatasetStore`. The database is written to a temporary file and
    moved into place only when complete, so a failed or interrupted ingest leaves nothing.
    `display_names` overrides the file names shown (uploads arrive as temp files).
    """
    from .quality import assess_quality

    limit = default_upload_limit_mb() if max_mb is None else max_mb
    for path, shown in ((accounts, display_names[0]), (opportunities, display_names[1])):
        if path is not None and Path(path).is_file():
            problem = file_size_problem(Path(path).stat().st_size, limit)
            if problem:
                raise IngestError(f"{shown or Path(path).name}: {problem} (ICP_UPLOAD_LIMIT_MB sets the limit)")
    sweep_temp_workdirs()  # spill folders of ingests killed earlier
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="icp_ingest_") as tmp:
        workdir = Path(tmp)
        with store.new_dataset_file() as (dataset_id, db_path):
            con = duckdb.connect(str(db_path))
            try:
                con.execute(f"SET temp_directory = '{workdir.as_posix()}'")
                # bounded memory: DuckDB spills to the temp folder beyond this
                con.execute(f"SET memory_limit = '{ingest_memory_limit_mb()}MB'")
                install_cleaning_macros(con)
                progress(0.05, f"Reading {display_names[0] or Path(accounts).name}")
                info, keys, headers = read_table(con, Path(accounts), "raw_accounts", workdir)
                if display_names[0]:
                    info.file_name = display_names[0]
                progress(0.35, "Detecting column roles")
                specs = detect_roles(con, "raw_accounts", keys, headers)
                used = [s for s in specs if s.role != "ignore" and s.kind not in _DIRECT_KINDS]
                if len(used) > MAX_CLEAN_COLUMNS:
                    for s in used[MAX_CLEAN_COLUMNS:]:
                        s.role = "ignore"
                    info.notes.append(f"{info.file_name} has {len(specs):,} columns: the first {MAX_CLEAN_COLUMNS:,} "
                                      f"are cleaned and usable as traits; the other {len(used) - MAX_CLEAN_COLUMNS:,} "
                                      "are kept as uploaded but not used (Column mapping: set unused columns to Ignore "
                                      "and give the ones you need a role).")
                opp_specs = None
                opp_info = None
                if opportunities is not None:
                    progress(0.45, f"Reading {display_names[1] or Path(opportunities).name}")
                    opp_info, okeys, oheaders = read_table(con, Path(opportunities), "raw_opp_t", workdir)
                    if display_names[1]:
                        opp_info.file_name = display_names[1]
                    con.execute("CREATE TABLE raw_opportunities AS SELECT * FROM raw_opp_t")
                    con.execute("DROP TABLE raw_opp_t")
                    opp_specs = detect_roles(con, "raw_opportunities", okeys, oheaders)
                    for s in opp_specs:
                        s.source = "opportunities_raw"
                    problem = opportunity_specs_problem(opp_specs)
                    if problem:
                        raise IngestError(problem + ".")
                    _yield_rollup_roles(specs)
                progress(0.6, "Cleaning values")
                all_specs, rollup, dictionaries = build_accounts_table(con, specs, opp_specs)
                progress(0.85, "Checking data quality")
                quality = assess_quality(con, all_specs, info, rollup, opp_info, dictionaries)
                quality["encoding"] = encoding_report(info)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            meta = {
                "id": dataset_id,
                "name": (name or Path(display_names[0] or accounts).stem)[:120],
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "rows": quality["rows_loaded"],
                "columns": [s.to_dict() for s in all_specs],
                "opportunity_columns": [s.to_dict() for s in (opp_specs or [])],
                "quality": quality,
                "load_seconds": round(time.perf_counter() - t0, 3),
            }
            store.write_meta(dataset_id, meta)
    progress(1.0, "Done")
    return IngestResult(dataset_id=dataset_id, meta=meta)


def remap_dataset(store, dataset_id: str, specs: list[ColumnSpec]) -> dict:
    """Apply an edited column mapping: rebuild the clean table and the quality report.

    The rebuild runs in one DuckDB transaction, so a failure leaves the dataset as it was.
    """
    meta = store.read_meta(dataset_id)
    account_specs = mapped_account_specs(meta, specs)
    with store.open_dataset(dataset_id) as con:
        rebuild_clean_table(con, meta, account_specs)
    store.write_meta(dataset_id, meta)
    return meta


def mapped_account_specs(meta: dict, specs: list[ColumnSpec]) -> list[ColumnSpec]:
    """The dataset's account columns (from meta) with the roles, scales and date formats of
    `specs`; refuses unknown roles and a semantic role given to two columns."""
    by_key = {s.key: s for s in specs}
    account_specs = []
    for d in meta["columns"]:
        old = ColumnSpec.from_dict(d)
        if old.source != "accounts":
            continue
        new = by_key.get(old.key, old)
        if new.role not in ROLES:
            raise IngestError(f"unknown role {new.role!r} for column {old.header!r}.")
        account_specs.append(ColumnSpec(key=old.key, header=old.header, role=new.role,
                                        scale=float(new.scale or 1.0), date_formats=new.date_formats,
                                        source="accounts"))
    semantic = [s.role for s in account_specs if ROLES[s.role].group != "generic"]
    dupes = sorted({r for r in semantic if semantic.count(r) > 1})
    if dupes:
        raise IngestError("each role can be given to one column only: " + ", ".join(ROLES[r].label for r in dupes) + ".")
    return account_specs


def rebuild_clean_table(con: duckdb.DuckDBPyConnection, meta: dict, account_specs: list[ColumnSpec]) -> None:
    """Rebuild table `accounts` of an open dataset from its raw columns under `account_specs`, in
    one transaction, and update meta's columns and quality report (the caller writes meta)."""
    from .quality import assess_quality

    opp_specs = [ColumnSpec.from_dict(d) for d in meta.get("opportunity_columns", [])] or None
    install_cleaning_macros(con)
    raw_cols = ", ".join(f"{quote_ident(s.key + '__raw')} AS {quote_ident(s.key)}" for s in account_specs)
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_accounts AS SELECT {raw_cols} FROM accounts ORDER BY row_id")
    for s in account_specs:
        if s.kind in ("date", "year") and not s.date_formats:
            s.date_formats = detect_date_formats(con, "raw_accounts", s.key)
    con.execute("BEGIN TRANSACTION")
    try:
        all_specs, rollup, dictionaries = build_accounts_table(con, account_specs, opp_specs)
        info = _source_info_from_meta(meta)
        quality = assess_quality(con, all_specs, info, rollup,
                                 _source_info_from_meta(meta, "opportunities"), dictionaries)
        quality["encoding"] = encoding_report(info)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    meta["columns"] = [s.to_dict() for s in all_specs]
    meta["quality"] = quality


def _source_info_from_meta(meta: dict, which: str = "accounts") -> SourceInfo | None:
    q = meta["quality"]
    src = q.get("source") if which == "accounts" else q.get("opportunities_source")
    if not src:
        return None
    return SourceInfo(**{k: src[k] for k in SourceInfo.__dataclass_fields__ if k in src})


MB = 1_000_000  # sizes are stated in MB of 10^6 bytes, as Streamlit's uploader shows them (outside Windows)


def upload_limit_bytes() -> int:
    """The one per-file size limit, in bytes: $ICP_UPLOAD_LIMIT_MB MB of 10^6 bytes (default 200,
    i.e. 200,000,000 bytes). The app, its uploader and the CLI all refuse above this number."""
    return default_upload_limit_mb() * MB


def file_size_problem(size_bytes: int, limit_mb: int | None = None) -> str | None:
    """A message, in exact units, when a file is over the limit (`limit_mb` MB of 10^6 bytes)."""
    limit = upload_limit_bytes() if limit_mb is None else int(limit_mb) * MB
    if size_bytes > limit:
        return (f"the file is {size_bytes:,} bytes ({size_bytes / MB:,.1f} MB); "
                f"the limit is {limit:,} bytes ({limit // MB:,} MB).")
    return None


def ingest_memory_limit_mb() -> int:
    """DuckDB's memory cap while loading a file ($ICP_INGEST_MEMORY_MB, default 640)."""
    return int(os.environ.get("ICP_INGEST_MEMORY_MB", "640"))


def default_upload_limit_mb() -> int:
    """$ICP_UPLOAD_LIMIT_MB (default 200), in MB of 10^6 bytes: see `upload_limit_bytes`."""
    return int(os.environ.get("ICP_UPLOAD_LIMIT_MB", "200"))


SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLE_NAME = "Sample: 3,000 B2B accounts + deals"


def ensure_sample_dataset(root: Path | None = None) -> str:
    """The id of the bundled sample dataset, loading it on first use (once per data dir)."""
    from .store import SAMPLE_WORKSPACE, DatasetStore

    store = DatasetStore(root, SAMPLE_WORKSPACE)
    with store.lock("sample"):
        datasets, _problems = store.list_datasets()
        if datasets:
            return datasets[0]["id"]
        result = ingest_dataset(store, SAMPLE_DIR / "accounts.csv", SAMPLE_DIR / "opportunities.csv",
                                name=SAMPLE_NAME)
        return result.dataset_id
