"""Reading one uploaded file into a DuckDB temp table of text columns, bounded before anything expands.

`read_file` sniffs the format from the first bytes (the name is only a hint) and loads CSV/TSV
through DuckDB's CSV reader (encoding scanned first, long lines set aside), Excel .xlsx as a
checked stream (ZIP part sizes, XML scanned, then rows in chunks) and Parquet through DuckDB
(metadata and text size checked first). Every limit is a constant here and in the README's
"Limits and hostile input" table. `ingest.read_table` names the columns and checks the result.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .sql import quote_ident

MAX_FILE_COLUMNS = 300  # columns read per file



FILE_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]
"""File extensions the app's uploaders accept (accounts, joined files, contacts)."""

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
    format: str  # csv | xlsx | parquet (postgresql: read from a server into Parquet, see engines.read_postgres)
    encoding: str | None = None
    # lines that do not fit `encoding` (see scan_encoding), or None when every line does
    encoding_report: dict | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)  # every sheet of a workbook, in order
    header_row: int | None = None  # 1-based line (CSV) or row (Excel) of the header
    # rows dropped around the table: titles/blank lines above the header, summary rows below it
    rows_skipped: int = 0
    rows_read: int = 0
    rows_rejected: int = 0
    rejected_examples: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ReadOptions:
    """What the user chose instead of the detected value (None = detect)."""

    encoding: str | None = None  # a Python codec name, e.g. "cp850"
    sheet: str | None = None  # an Excel sheet name
    header_row: int | None = None  # 1-based line (CSV) or row (Excel) of the header


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


# Legacy (non-UTF) code pages a Western CRM/ERP export is written in, in order of preference when
# two read the sample equally well. charset-normalizer ranks them on a bounded sample; the pick is
# then checked for mojibake (e.g. cp850's 'í' read as cp1252 shows 'Mart¡n').
_LEGACY_CANDIDATES = ("cp1252", "latin_1", "iso8859_15", "cp850", "cp437", "mac_roman")
_ENCODING_SAMPLE_BYTES = 1 << 20  # head of the file given to charset-normalizer
_ENCODING_NON_ASCII_BYTES = 1 << 20  # and lines with non-ASCII bytes from the rest, at most this much
_UPPER = "".join(ch for ch in map(chr, range(0xC0, 0x400)) if ch.isupper())
_MOJIBAKE = tuple(re.compile(p) for p in (
    r"[\x80-\x9f]",  # C1 control characters
    r"[\u0370-\u03ff\u2190-\u22ff\u2500-\u259f]",  # Greek, arrows/math, box drawing: DOS residue
    r"(?<=[A-Za-z])[^\w\s\x00-\x7f\u2019\u2018\u00b4\u00b7\u2013\u2014](?=[A-Za-z])",  # 'Mart¡n', 'M³ller'
    f"(?<=[a-z])[{_UPPER}]|(?<=[A-Z])[{_UPPER}](?=[a-z])",  # 'CafÚ', 'SÆo'
))


def _mojibake(text: str) -> int:
    """Characters that look like text read in the wrong code page (an accented capital glued to
    lower-case letters, 'CafÚ', counts twice: real text almost never has one)."""
    return sum(len(p.findall(text)) * (2 if i == 3 else 1) for i, p in enumerate(_MOJIBAKE))


def _codec_label(name: str) -> str:
    """The codec's lower-case Python name as shown to the user ('latin-1', 'cp850', 'utf-16')."""
    canonical = codecs.lookup(name).name
    return {"iso8859-1": "latin-1"}.get(canonical, canonical)


def _legacy_sample(path: Path) -> tuple[bytes, bytes]:
    """(the head of the file plus its later lines holding non-ASCII bytes, those non-ASCII lines
    alone), both bounded: what charset-normalizer and the mojibake check look at."""
    with open(path, "rb") as fh:
        head = fh.read(_ENCODING_SAMPLE_BYTES)
        extra: list[bytes] = []
        size = 0
        rest = b""
        while size < _ENCODING_NON_ASCII_BYTES:
            chunk = fh.read(1 << 22)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:][-CSV_MAX_LINE_BYTES:]
            if data.isascii():
                continue
            for line in data.split(b"\n"):
                if not line.isascii():
                    extra.append(line[:4096])
                    size += len(extra[-1]) + 1
                    if size >= _ENCODING_NON_ASCII_BYTES:
                        break
    non_ascii = b"\n".join([line[:4096] for line in head.split(b"\n") if not line.isascii()][:2000] + extra)
    return head + b"\n" + b"\n".join(extra), non_ascii


def _decodes(path: Path, encoding: str) -> bool:
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 24), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def _legacy_encoding(path: Path) -> str:
    """The Western/DOS code page that reads the file best: charset-normalizer's ranking of a bounded
    sample, checked by counting mojibake in the sample's non-ASCII lines; never a decode error."""
    from charset_normalizer import from_bytes

    sample, non_ascii = _legacy_sample(path)
    try:
        ranked = [m.encoding for m in from_bytes(sample, cp_isolation=list(_LEGACY_CANDIDATES))]
    except Exception:  # detection is advice: the check below still picks a code page
        ranked = []
    # cn's pick wins a tie with the other code pages but cp1252 (the common case); a cp437 pick
    # becomes cp850 (the same letters where both read the sample alike, and more of them)
    best = {"cp437": "cp850"}.get(ranked[0], ranked[0]) if ranked else None
    scored = []
    for pref, enc in enumerate(_LEGACY_CANDIDATES):
        try:
            text = non_ascii.decode(enc)
        except UnicodeDecodeError:
            continue
        rank = 0 if enc == "cp1252" else 1 if enc == best else 2 + pref
        scored.append((_mojibake(text), rank, enc))
    for _score, _rank, enc in sorted(scored):
        if _decodes(path, enc):
            return _codec_label(enc)
    return "latin-1"  # decodes any bytes


def _whole_line_chunks(path: Path):
    """The file in chunks of about 1 MiB that end at a line end (the last one where the file ends)."""
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
            yield data
            if not chunk:
                break


def _note_line(at: list[int], line_no: int) -> None:
    if len(at) < ENCODING_EXAMPLES:
        at.append(line_no)


def _utf8_chunk_fit(data: bytes, line_no: int, good_at: list[int], bad_at: list[int]) -> tuple[int, int]:
    """(non-ASCII lines of `data` that are valid UTF-8, lines that are not), `data` being whole
    lines from line `line_no` on; the first line numbers of each go to good_at / bad_at."""
    good = bad = 0
    try:
        data.decode("utf-8")
        if not data.isascii():
            lines = data.split(b"\n")
            for i, line in enumerate(lines):
                if not line.isascii():
                    good += 1
                    _note_line(good_at, line_no + i)
    except UnicodeDecodeError:
        for i, line in enumerate(data.split(b"\n")):
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                good += 1
                _note_line(good_at, line_no + i)
            except UnicodeDecodeError:
                bad += 1
                _note_line(bad_at, line_no + i)
    return good, bad


def _utf8_line_fit(path: Path) -> tuple[int, int, list[int], list[int]]:
    """(lines that are valid UTF-8 and hold non-ASCII characters, lines with bytes that are not
    UTF-8, line numbers of the first of each): lines counted from 1 (the header)."""
    good = bad = 0
    good_at: list[int] = []
    bad_at: list[int] = []
    line_no = 1
    for data in _whole_line_chunks(path):
        chunk_good, chunk_bad = _utf8_chunk_fit(data, line_no, good_at, bad_at)
        good += chunk_good
        bad += chunk_bad
        line_no += data.count(b"\n")
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


def _header_width(path: Path, src: Path, offset: int = 0) -> int:
    """Columns in the header line starting at byte `offset` (counted with the most frequent common
    delimiter, outside quotes), read before DuckDB sees the file; refuses a header line over
    CSV_MAX_LINE_BYTES."""
    counts = dict.fromkeys(_CSV_DELIMITERS, 0)
    quoted = False
    seen = 0
    with open(src, "rb") as fh:
        fh.seek(offset)
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
                raise IngestError(f"{path.name}: the {'first line' if not offset else 'line'} (the header) "
                                  f"is longer than {CSV_MAX_LINE_BYTES:,} bytes; is this a table?")
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


# ---------------------------------------------------------------------------------------
# Layout: where the table starts and ends
#
# Exports put title lines and blank lines above the header ("ASX listed companies as at ...")
# and summary lines below the data ("Grand Totals (5 records)", "Confidential Information - Do
# Not Distribute", a copyright line). The header is found among the first HEADER_SCAN_ROWS rows
# (a bounded sample), the footer among the last few lines; both are counted in rows_skipped.

HEADER_SCAN_ROWS = 30  # rows looked at for the header
_HEADER_SCAN_BYTES = 1 << 18  # bytes of a CSV looked at for the header
_FOOTER_SCAN_BYTES = 1 << 16  # bytes at the end of a CSV looked at for summary lines
_FOOTER_MAX_ROWS = 50  # a longer run of summary-like rows at the end is data
_TOTAL_ROW = re.compile(
    r"^(?:grand\s+totals?|sub-?totals?|sous-totals?|total\s+g[ée]n[ée]ral|totals?|gesamtsumme|gesamt|summe|"
    r"totale(?:\s+complessivo)?|totaal|suma\s+total)\s*(?:[:(=\-\u2013]|\d|records?\b|$)", re.I)
_NOTICE_ROW = re.compile(
    r"^(?:(?:strictly\s+)?confidential(?:\s+information\b|\s*[-\u2013:]|$)|copyright\s*(?:\(c\)|\u00a9|\d{4})|"
    r"\u00a9|\(c\)\s*\d{4}|all\s+rights\s+reserved|generated\s+(?:by|on|at|with)\b|report\s+generated|"
    r"powered\s+by\b)", re.I)


def _is_summary_row(values: list[str]) -> bool:
    """Non-empty values of a row that is a summary or notice row: its first value is a total
    ('Grand Totals (5 records)', 'Total', 'Total général') or, with at most one more value, a
    notice ('Confidential Information ...', 'Copyright (c) ...', 'Generated by ...')."""
    if not values:
        return False
    first = values[0].strip()
    return bool(_TOTAL_ROW.match(first) or (len(values) <= 2 and _NOTICE_ROW.match(first)))


def _filled(cells) -> list[str]:
    return [c.strip() for c in cells if c is not None and str(c).strip()]


def _extent(cells) -> int:
    """Cells up to the last one holding a value."""
    for i in range(len(cells) - 1, -1, -1):
        if cells[i] is not None and str(cells[i]).strip():
            return i + 1
    return 0


def _find_header(rows: list[list], widths: list[int]) -> int | None:
    """Index in `rows` of the header: the first row that is neither blank nor a title. A title is
    narrower than the table (its width is not the table's usual width) and holds at most a third of
    the table's cells (one, usually). None when the rows are all blank."""
    filled = [len(_filled(r)) for r in rows]
    body = [w for w, f in zip(widths, filled, strict=True) if f]
    if not body:
        return None
    counts: dict[int, int] = {}
    for w in body:
        counts[w] = counts.get(w, 0) + 1
    table = max(counts, key=lambda w: (counts[w], w))  # the usual width
    first = next(i for i, f in enumerate(filled) if f)
    for i, (w, f) in enumerate(zip(widths, filled, strict=True)):
        if i >= HEADER_SCAN_ROWS:
            break
        if f and not (w != table and f <= max(1, table // 3)):
            # a header is followed by rows (a title line at the very end of the sample is not one)
            return i if any(filled[i + 1:]) or i == first else first
    return first


def _skipped_note(count: int, header_row: int, texts: list[str], what: str = "line") -> str:
    shown = "; ".join(repr(t[:80] + ("..." if len(t) > 80 else "")) for t in texts[:2])
    return (f"Skipped {count:,} {what}(s) above the header ({what} {header_row:,})"
            + (f": {shown}" if shown else "") + ".")


def _footer_note(count: int, texts: list[str], what: str = "line") -> str:
    shown = "; ".join(repr(t[:80] + ("..." if len(t) > 80 else "")) for t in texts[:4])
    return f"Dropped {count:,} summary {what}(s) at the end of the table: {shown}."


def _csv_head(src: Path) -> tuple[list[tuple[int, list[str]]], str, bytes, bool]:
    """The first rows of the UTF-8 file as (1-based line, cells), split by the common delimiter
    that gives most rows of one width; the bytes looked at and whether they are the whole file."""
    with open(src, "rb") as fh:
        data = fh.read(_HEADER_SCAN_BYTES + 1)
    whole = len(data) <= _HEADER_SCAN_BYTES
    if not whole:
        data = data[:data[:_HEADER_SCAN_BYTES].rfind(b"\n") + 1]
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    best: tuple[int, str, list] = (-1, ",", [])
    for delim in _CSV_DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delim)
        rows: list[tuple[int, list[str]]] = []
        try:
            line = 0
            for cells in reader:
                rows.append((line + 1, cells))
                line = reader.line_num
                if len(rows) >= HEADER_SCAN_ROWS + 20:
                    break
        except csv.Error:
            pass
        counts: dict[int, int] = {}
        for _n, cells in rows:
            if _filled(cells):
                counts[len(cells)] = counts.get(len(cells), 0) + 1
        score = max((c for w, c in counts.items() if w > 1), default=0)
        if score > best[0]:
            best = (score, delim, rows)
    return best[2], best[1], data, whole


def _iter_line_counts(src: Path):
    """One item per line of the file (a last line without a line end counts)."""
    last = b"\n"
    with open(src, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            for _ in range(chunk.count(b"\n")):
                yield 1
            last = chunk[-1:]
    if last != b"\n":
        yield 1


def _line_offset(src: Path, line: int) -> int | None:
    """Byte offset where 1-based `line` starts, or None when the file has fewer lines."""
    if line <= 1:
        return 0
    seen = 0
    pos = 0
    with open(src, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            n = chunk.count(b"\n")
            if seen + n >= line - 1:
                at = -1
                for _ in range(line - 1 - seen):
                    at = chunk.index(b"\n", at + 1)
                offset = pos + at + 1
                fh.seek(offset)
                return offset if fh.read(1) else None
            seen += n
            pos += len(chunk)
    return None


def _csv_footer(src: Path, delim: str, start: int, width: int) -> tuple[int, int, list[str]] | None:
    """Summary lines at the end of the file after byte `start` (the end of the header line): (byte
    offset where they start, lines, their first values), or None. Only a run of blank, summary or
    near-empty lines ending the file that holds a summary line; blank lines just above it go too."""
    size = src.stat().st_size
    begin = max(start, size - _FOOTER_SCAN_BYTES)
    with open(src, "rb") as fh:
        fh.seek(begin)
        tail = fh.read()
    if begin > start:  # the first piece may be the end of a longer line
        cut = tail.find(b"\n") + 1
        if cut == 0:
            return None
        tail, begin = tail[cut:], begin + cut
    pieces = tail.split(b"\n")
    if pieces and pieces[-1] in (b"", b"\r"):
        pieces.pop()
    offsets = []
    at = begin
    for piece in pieces:
        offsets.append(at)
        at += len(piece) + 1
    kinds: list[tuple[str, str]] = []  # from the end
    for piece in reversed(pieces[-_FOOTER_MAX_ROWS:]):
        line = piece.decode("utf-8", errors="replace").rstrip("\r")
        try:
            cells = next(csv.reader([line], delimiter=delim), [])
        except csv.Error:
            break
        values = _filled(cells)
        if not values:
            kinds.append(("blank", ""))
        elif _is_summary_row(values):
            kinds.append(("summary", ", ".join(values)))
        elif len(values) <= 1 and width >= 3:
            kinds.append(("sparse", values[0]))
        else:
            break
    kinds.reverse()  # file order, the last len(kinds) pieces
    first = next((i for i, (k, _t) in enumerate(kinds) if k == "summary"), None)
    if first is None:
        return None
    while first > 0 and kinds[first - 1][0] == "blank":
        first -= 1
    dropped = kinds[first:]
    return offsets[len(pieces) - len(kinds) + first], len(dropped), [t for k, t in dropped if k == "summary"]


def _truncated_copy(src: Path, workdir: Path, size: int) -> Path:
    out = workdir / (src.stem + ".body.csv")
    with open(src, "rb") as fh, open(out, "wb") as dst:
        remaining = size
        while remaining > 0:
            chunk = fh.read(min(1 << 22, remaining))
            if not chunk:
                break
            dst.write(chunk)
            remaining -= len(chunk)
    return out


def _chosen_encoding(path: Path, name: str) -> str:
    try:
        return _codec_label(name)
    except (LookupError, TypeError, ValueError):
        raise IngestError(f"{path.name}: unknown encoding '{name}'; use a Python codec name such as "
                          "utf-8, cp1252, latin-1 or cp850.") from None


def _csv_utf8_source(path: Path, info: SourceInfo, workdir: Path, options: ReadOptions) -> Path:
    """The file as UTF-8 for DuckDB (the upload itself when it already is): encoding chosen, else
    scanned; sets info.encoding (and the scan's report) and notes it."""
    if options.encoding:
        info.encoding = _chosen_encoding(path, options.encoding)
        info.notes.append(f"Read as {info.encoding} (chosen).")
        if info.encoding == "utf-8" and _decodes(path, "utf-8"):
            return path
        # bytes the chosen encoding lacks show as \ufffd, never a failed upload
        return _transcode_to_utf8(path, info.encoding, workdir, "replace")
    info.encoding, info.encoding_report = scan_encoding(path)
    if info.encoding_report and info.encoding_report.get("hint"):
        info.notes.append(info.encoding_report["hint"])
    if info.encoding == "utf-8":
        return _transcode_to_utf8(path, "utf-8", workdir, "replace") if info.encoding_report else path
    return _transcode_to_utf8(path, info.encoding, workdir)


def _csv_header_row(path: Path, src: Path, rows: list[tuple[int, list[str]]], options: ReadOptions,
                    info: SourceInfo) -> tuple[int, int]:
    """(1-based header line, its byte offset in `src`): chosen, else found in the first lines;
    notes the lines skipped above it."""
    if options.header_row is not None:
        header_row = int(options.header_row)
        if header_row < 1:
            raise IngestError(f"{path.name}: the header row is counted from 1; got {header_row}.")
        offset = _line_offset(src, header_row)
        if offset is None:
            lines = sum(1 for _ in _iter_line_counts(src))
            raise IngestError(f"{path.name}: header row {header_row:,} is beyond the data; the file has "
                              f"{lines:,} line(s).")
        if header_row > 1:
            info.notes.append(f"Header read from line {header_row:,} (chosen); {header_row - 1:,} line(s) "
                              "above it skipped.")
    else:
        found = _find_header([c for _n, c in rows], [len(c) for _n, c in rows])
        header_row = rows[found][0] if found is not None else 1
        offset = _line_offset(src, header_row) or 0
        if header_row > 1:
            titles = [" ".join(_filled(c)) for n, c in rows if n < header_row and _filled(c)]
            info.notes.append(_skipped_note(header_row - 1, header_row, titles))
    return header_row, offset


def _load_csv_table(con, path: Path, src: Path, table: str, info: SourceInfo, skip: int, split_by: str) -> None:
    """DuckDB's CSV reader into `table`, every column as text, rows of the wrong width rejected
    into icp_reject_errors; sets info.delimiter."""
    # every column as text: the raw value is kept and parsing is ours
    # rows with more or fewer values than the header are rejected and reported, not padded
    csv_options = dict(header=True, all_varchar=True, ignore_errors=True, store_rejects=True,
                       sample_size=20480, max_line_size=10 * CSV_MAX_LINE_BYTES, skiprows=skip,
                       rejects_table="icp_reject_errors", rejects_scan="icp_reject_scans")
    try:
        rel = con.read_csv(str(src), **csv_options)
        _materialise(con, rel, table)
        delim = con.execute(
            "SELECT delimiter FROM icp_reject_scans ORDER BY scan_id DESC LIMIT 1").fetchone()
        if not delim and skip:  # DuckDB's sniffer misreads short files below skipped lines
            delim = (split_by,)
        if not delim:  # the scans table is only filled when some row was rejected
            delim = con.execute("SELECT Delimiter FROM sniff_csv(?, sample_size = 20480)",
                                [str(src)]).fetchone()
        info.delimiter = delim[0] if delim else None
    except duckdb.Error as exc:  # the sniffer found no table at all
        first = str(exc).strip().splitlines()[0]
        raise IngestError(f"{path.name} could not be read as a CSV table: {first}") from None


def _report_csv_rejects(con, info: SourceInfo, long_lines: list[tuple[int, str]]) -> None:
    """Count the rejected rows (and lines set aside as too long), keep the first five as examples
    with line numbers of the upload, and drop DuckDB's reject tables."""
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


def _read_csv(con, path: Path, table: str, info: SourceInfo, workdir: Path,
              options: ReadOptions | None = None) -> None:
    options = options or ReadOptions()
    src = _csv_utf8_source(path, info, workdir, options)
    rows, split_by, _head, _whole = _csv_head(src)
    header_row, offset = _csv_header_row(path, src, rows, options, info)
    info.header_row = header_row
    info.rows_skipped = header_row - 1
    width = _header_width(path, src, offset)
    if width > MAX_FILE_COLUMNS:  # refused before any row is read
        raise IngestError(f"{path.name} has {width:,} columns; at most {MAX_FILE_COLUMNS:,} are read per file. "
                          "Export only the columns you need (an ICP uses tens, not thousands) and upload again.")
    body = _line_offset(src, header_row + 1)  # where the data starts: a footer never takes the header
    footer = _csv_footer(src, split_by, body, width) if body is not None else None
    src, long_lines = _set_aside_long_lines(src, workdir)
    if any(n == header_row for n, _t in long_lines):
        raise IngestError(f"{path.name}: the {'first line' if header_row == 1 else 'line'} (the header) is longer "
                          f"than {CSV_MAX_LINE_BYTES:,} bytes; is this a table?")
    skip = header_row - 1 - sum(1 for n, _t in long_lines if n < header_row)
    if footer:
        cut, count, texts = footer
        if long_lines:  # the copy without the long lines is shorter: find the footer there again
            footer = _csv_footer(src, split_by, _line_offset(src, skip + 2) or 0, width)
            cut = footer[0] if footer else src.stat().st_size
        src = _truncated_copy(src, workdir, cut)
        info.rows_skipped += count
        info.notes.append(_footer_note(count, texts))
    _load_csv_table(con, path, src, table, info, skip, split_by)
    _report_csv_rejects(con, info, long_lines)


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
            part = el.get("PartName")
            if el.tag.endswith("Override") and part:
                types[part.lstrip("/")] = el.get("ContentType")
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


def _local_tag(tag: str) -> str:
    return tag.rpartition(":")[2]


class _XmlPartScan:
    """expat handlers counting one .xlsx part as it streams and refusing it at a limit: for a sheet
    rows, cells per row, cells and text per cell; for the shared strings the strings and their text."""

    def __init__(self, path: Path, sheet: bool, widths: dict[int, int] | None) -> None:
        self.path = path
        self.sheet = sheet
        self.widths = widths
        self.rows = self.value_rows = self.row_cells = self.cells = 0
        self.strings = self.chars = self.in_text = self.row_values = 0
        self.has_value = False
        self.cell_value = False

    def row_done(self) -> None:
        if self.widths is not None and self.has_value:
            self.widths[self.row_values] = self.widths.get(self.row_values, 0) + 1

    def start(self, tag, attrs) -> None:
        tag = _local_tag(tag)
        if not self.sheet:
            self._start_strings_tag(tag)
        elif tag == "c":
            self._start_cell()
        elif tag == "row":
            self._start_row()
        elif tag in ("v", "t"):
            self.in_text += 1
            self.has_value = True
            if not self.cell_value:
                self.cell_value = True
                self.row_values += 1

    def _start_cell(self) -> None:
        self.row_cells += 1
        self.cells += 1
        if self.row_cells > MAX_FILE_COLUMNS:
            raise IngestError(f"{self.path.name} has a row of more than {MAX_FILE_COLUMNS:,} cells; at most "
                              f"{MAX_FILE_COLUMNS:,} columns are read per file. Export only the columns "
                              "you need and upload again.")
        if self.cells > EXCEL_MAX_CELLS:
            raise _excel_limit(self.path, f"the sheet has more than {EXCEL_MAX_CELLS:,} cells; "
                                          f"at most {EXCEL_MAX_CELLS:,} (rows x columns)")
        self.chars = 0
        self.cell_value = False

    def _start_row(self) -> None:
        if self.has_value:
            self.value_rows += 1
        self.row_done()
        self.rows += 1
        self.row_cells = 0
        self.row_values = 0
        self.has_value = False
        if self.rows > EXCEL_MAX_ROWS:
            raise _excel_limit(self.path, f"the sheet has more than {EXCEL_MAX_ROWS:,} rows; "
                                          f"at most {EXCEL_MAX_ROWS:,}")

    def _start_strings_tag(self, tag: str) -> None:
        if tag == "si":
            self.strings += 1
            self.chars = 0
            if self.strings > EXCEL_MAX_CELLS:
                raise _excel_limit(self.path, f"more than {EXCEL_MAX_CELLS:,} shared strings")
        elif tag == "t":
            self.in_text += 1

    def end(self, tag) -> None:
        if _local_tag(tag) in (("v", "t") if self.sheet else ("t",)):
            self.in_text -= 1

    def text(self, data) -> None:
        if self.in_text:
            self.chars += len(data)
            if self.chars > EXCEL_MAX_CELL_CHARS:
                raise _excel_limit(self.path, f"a cell holds more than {EXCEL_MAX_CELL_CHARS:,} characters; "
                                              f"at most {EXCEL_MAX_CELL_CHARS:,} per cell (Excel's own limit)")

    def doctype(self, *_args) -> None:
        raise _excel_limit(self.path, "XML with a DOCTYPE or entities is not read")

    def result(self) -> int:
        """Rows holding a value (a sheet; the last row closed first) or strings."""
        if self.sheet:
            self.row_done()
            return self.value_rows + (1 if self.has_value else 0)
        return self.strings


def _scan_xml(path: Path, zf, name: str, sheet: bool, widths: dict[int, int] | None = None) -> int:
    """Stream one part through expat without keeping it; refuse it when a limit is passed.

    Shared strings: each string's length. Sheets: rows, cells per row, cells, text per cell.
    Returns the number of rows holding a value (sheets) or of strings. For a sheet, `widths`
    (when given) receives how many rows hold how many values.
    """
    import xml.parsers.expat

    scan = _XmlPartScan(path, sheet, widths)
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.text
    parser.StartDoctypeDeclHandler = scan.doctype
    parser.EntityDeclHandler = scan.doctype
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
    return scan.result()


def _excel_text(value) -> str | None:
    """A cell's value as the text pandas' read_excel(dtype=str) gave (whole floats without .0)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_PIVOT_MARKS = {"row labels", "column labels", "grand total", "étiquettes de lignes", "étiquettes de colonnes",
                "total général", "zeilenbeschriftungen", "spaltenbeschriftungen", "gesamtergebnis",
                "etiquetas de fila", "etiquetas de columna", "total general", "(blank)", "(vide)"}


def _table_area(widths: dict[int, int]) -> int:
    """Cells of the largest rectangle of rows holding at least w values: rows x columns of the table."""
    best = 0
    for w in widths:
        if w > 0:
            best = max(best, w * sum(n for v, n in widths.items() if v >= w))
    return best


def _sheet_head(ws, rows: int = HEADER_SCAN_ROWS + 20) -> list[list[str | None]]:
    """The sheet's first rows as text (blank rows as []), read row by row and no further."""
    head = []
    for raw in ws.iter_rows(max_row=rows, values_only=True):
        values = [_excel_text(v) for v in raw]
        head.append(values[:MAX_FILE_COLUMNS + 1])
    return head


def _is_pivot(zf, part: str, head: list[list[str | None]]) -> bool:
    """A pivot table (or one pasted as values): a pivot part linked to the sheet, or pivot labels
    ('Row Labels', 'Étiquettes de lignes', 'Grand Total') in its first rows."""
    folder, _sep, name = part.rpartition("/")
    rels = f"{folder}/_rels/{name}.rels"
    if rels in zf.NameToInfo and zf.NameToInfo[rels].file_size <= XLSX_MAX_PART_BYTES:
        if b"/pivotTable" in zf.read(rels):
            return True
    return any(v is not None and v.strip().lower() in _PIVOT_MARKS for row in head for v in row)


def list_sheets(path: Path) -> list[str]:
    """The worksheet names of an .xlsx upload, in order (for a sheet picker); [] for other files.
    The workbook's parts are checked against the reading limits first."""
    import zipfile

    import openpyxl

    path = Path(path)
    if sniff_format(path) != "xlsx":
        return []
    try:
        with zipfile.ZipFile(path) as zf:
            _xlsx_parts(path, zf)
        with open(path, "rb") as fh:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                return [ws.title for ws in wb.worksheets]
            finally:
                wb.close()
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(f"{path.name} is a ZIP archive but not a readable Excel workbook ({type(exc).__name__}); "
                          "upload CSV/TSV, .xlsx or Parquet.") from None


def _unreadable_workbook(path: Path, exc: Exception) -> IngestError:
    return IngestError(f"{path.name} is a ZIP archive but not a readable Excel workbook ({type(exc).__name__}); "
                       "upload CSV/TSV, .xlsx or Parquet.")


def _scan_workbook_parts(path: Path, zf) -> tuple[dict[str, dict[int, int]], dict[str, int]]:
    """Check the parts against the limits and stream the shared strings and every sheet through
    _scan_xml: (rows per row width, rows holding a value) per sheet part."""
    widths: dict[str, dict[int, int]] = {}
    strings, sheet_parts = _xlsx_parts(path, zf)
    if strings and strings in zf.NameToInfo:
        _scan_xml(path, zf, strings, sheet=False)
    value_rows = {}
    for p in sheet_parts:
        if p in zf.NameToInfo:
            widths[p] = {}
            value_rows[p] = _scan_xml(path, zf, p, sheet=True, widths=widths[p])
    return widths, value_rows


def _named_sheet(path: Path, sheets: list, usable: list, name: str, info: SourceInfo):
    """The sheet chosen by name (exact, else ignoring case and spaces); refused when missing or
    without a header row and data rows."""
    ws = next((w for w in sheets if w.title == name), None) or next(
        (w for w in sheets if w.title.strip().lower() == str(name).strip().lower()), None)
    if ws is None:
        raise IngestError(f"{path.name} has no sheet '{name}'; its sheets: "
                          f"{', '.join(info.sheets)}.")
    if ws not in usable:
        raise IngestError(f"{path.name}: sheet '{ws.title}' has no header row and data rows.")
    return ws


def _largest_table_sheet(path: Path, zf, usable: list, widths: dict[str, dict[int, int]],
                         heads: dict[str, list]):
    """The sheet read when none is chosen: not a pivot table, then the largest table, then the
    first. `heads` receives each ranked sheet's first rows."""
    if not usable:
        raise IngestError(f"{path.name} has no sheet with a header row and data rows.")
    ranked = []
    for order, w in enumerate(usable):
        w.reset_dimensions()
        heads[w.title] = _sheet_head(w)
        part = w._worksheet_path
        ranked.append((_is_pivot(zf, part, heads[w.title]), -_table_area(widths[part]), order, w))
    return min(ranked, key=lambda r: r[:3])[3]


def _excel_header_row(path: Path, head: list[list], options: ReadOptions, info: SourceInfo) -> int:
    """The sheet's 1-based header row: chosen, else found in its first rows; notes rows skipped."""
    if options.header_row is not None:
        header_row = int(options.header_row)
        if header_row < 1:
            raise IngestError(f"{path.name}: the header row is counted from 1; got {header_row}.")
        if header_row > 1:
            info.notes.append(f"Header read from row {header_row:,} (chosen); {header_row - 1:,} "
                              "row(s) above it skipped.")
    else:
        found = _find_header(head, [_extent(r) for r in head])
        header_row = (found or 0) + 1
        if header_row > 1:
            titles = [" ".join(_filled(r)) for r in head[:header_row - 1] if _filled(r)]
            info.notes.append(_skipped_note(header_row - 1, header_row, titles, "row"))
    return header_row


def _read_workbook_sheet(con, path: Path, zf, wb, table: str, info: SourceInfo, options: ReadOptions,
                         widths: dict[str, dict[int, int]], value_rows: dict[str, int],
                         pd) -> tuple[int, list[str], int]:
    """Pick the sheet (chosen or the largest data table) and its header row, and stream it into
    `table`; returns what _stream_sheet does."""
    sheets = [ws for ws in wb.worksheets if getattr(ws, "_worksheet_path", None) is not None]
    if any(ws._worksheet_path not in value_rows for ws in sheets):
        raise _unreadable_workbook(path, ValueError("worksheet not listed"))
    info.sheets = [ws.title for ws in sheets]
    usable = [ws for ws in sheets if value_rows[ws._worksheet_path] >= 2]
    heads: dict[str, list] = {}
    try:
        if options.sheet is not None:
            ws = _named_sheet(path, sheets, usable, options.sheet, info)
        else:
            ws = _largest_table_sheet(path, zf, usable, widths, heads)
        info.sheet = ws.title
        if len(sheets) > 1:
            others = ", ".join(w.title for w in sheets if w is not ws)
            how = "chosen" if options.sheet is not None else "the largest data table"
            info.notes.append(f"Read sheet '{ws.title}' ({how}); other sheets not read: {others}")
        ws.reset_dimensions()  # a declared size is not trusted: rows are as long as their cells
        head = heads.get(ws.title) or _sheet_head(ws)
        header_row = _excel_header_row(path, head, options, info)
        info.header_row = header_row
        info.rows_skipped = header_row - 1
        return _stream_sheet(con, path, ws, table, pd, header_row)
    except (IngestError, duckdb.Error):
        raise
    except Exception as exc:
        raise _unreadable_workbook(path, exc) from None


def _read_excel(con, path: Path, table: str, info: SourceInfo, options: ReadOptions | None = None) -> None:
    import zipfile

    import openpyxl
    import pandas as pd

    options = options or ReadOptions()
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:
        raise _unreadable_workbook(path, exc) from None
    with zf:
        widths, value_rows = _scan_workbook_parts(path, zf)
        fh = open(path, "rb")  # a file object: openpyxl refuses names not ending in .xlsx
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for broken workbooks
            fh.close()
            raise _unreadable_workbook(path, exc) from None
        try:
            footer, texts, dropped = _read_workbook_sheet(con, path, zf, wb, table, info, options,
                                                          widths, value_rows, pd)
        finally:
            wb.close()
            fh.close()
    if dropped:
        info.notes.append(f"Dropped {dropped} empty column(s) left of the table.")
    if footer:
        info.rows_skipped += footer
        info.notes.append(_footer_note(footer, texts, "row"))


class _SheetTable:
    """The temp table a sheet streams into: created from the header row, widened when a row is
    longer than the header, filled in chunks of _EXCEL_CHUNK_ROWS rows."""

    def __init__(self, con, table: str, pd) -> None:
        self.con = con
        self.t = quote_ident(table)
        self.pd = pd
        self.names: list[str] = []
        self.unnamed: set[int] = set()  # columns whose header cell is empty
        self.chunk: list[list] = []

    def create(self, header: list) -> None:
        """Name the columns from the header row (empty cells 'columnN', repeats 'name.1') and
        create the table."""
        seen: dict[str, int] = {}
        for i, v in enumerate(header):
            name = f"column{i}" if v is None or not v.strip() else v
            if v is None or not v.strip():
                self.unnamed.add(i)
            if name in seen:
                seen[name] += 1
                name = f"{name}.{seen[name]}"
            seen.setdefault(name, 0)
            self.names.append(name)
        cols = ", ".join(f"{quote_ident(n)} VARCHAR" for n in self.names)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.t} ({cols})")

    def add_columns(self, width: int) -> None:
        for i in range(len(self.names), width):
            self.names.append(f"column{i}")
            self.unnamed.add(i)
            self.con.execute(f"ALTER TABLE {self.t} ADD COLUMN {quote_ident(self.names[-1])} VARCHAR")

    def flush(self) -> None:
        if not self.chunk:
            return
        names = self.names
        df = self.pd.DataFrame([r + [None] * (len(names) - len(r)) for r in self.chunk],
                               columns=range(len(names)), dtype=object)
        self.con.register("icp_excel_chunk", df)
        try:
            self.con.execute(f"INSERT INTO {self.t} SELECT * FROM icp_excel_chunk")
        finally:
            self.con.unregister("icp_excel_chunk")
        self.chunk.clear()

    def keep(self, values: list) -> None:
        if len(values) > len(self.names):
            self.flush()
            self.add_columns(len(values))
        self.chunk.append(values)
        if len(self.chunk) >= _EXCEL_CHUNK_ROWS:
            self.flush()

    def keep_held(self, held: list[tuple[str, list]]) -> None:
        """Keep rows that were held back as a possible summary, and forget them."""
        for _kind, v in held:
            self.keep(v)
        held.clear()

    def hold_or_keep(self, held: list[tuple[str, list]], values: list) -> None:
        """A data row: held back while it may belong to a summary ending the sheet (a summary
        row, or a near-empty row after one), else kept with the rows held before it."""
        filled = _filled(values)
        if _is_summary_row(filled):
            held.append(("summary", values))
        elif held and len(filled) <= 1 and len(self.names) >= 3:
            held.append(("sparse", values))
        else:
            self.keep_held(held)
            self.keep(values)
        if len(held) > _FOOTER_MAX_ROWS:  # too long for a summary: data
            self.keep_held(held)

    def drop_empty_left_columns(self) -> int:
        """Drop unnamed empty columns left of the table (a margin column A); how many."""
        gone = 0
        for i in range(len(self.names)):
            if i not in self.unnamed:
                break
            col = quote_ident(self.names[i])
            if self.con.execute(f"SELECT count({col}) FROM {self.t}").fetchone()[0] or i == len(self.names) - 1:
                break
            self.con.execute(f"ALTER TABLE {self.t} DROP COLUMN {col}")
            gone += 1
        return gone


def _check_sheet_size(path: Path, rows: int, cells: int) -> None:
    """Refuse a sheet once it has streamed more than EXCEL_MAX_ROWS rows or EXCEL_MAX_CELLS cells."""
    if rows > EXCEL_MAX_ROWS:
        raise _excel_limit(path, f"the sheet has more than {EXCEL_MAX_ROWS:,} rows; at most {EXCEL_MAX_ROWS:,}")
    if cells > EXCEL_MAX_CELLS:
        raise _excel_limit(path, f"the sheet has more than {EXCEL_MAX_CELLS:,} cells; "
                                 f"at most {EXCEL_MAX_CELLS:,} (rows x columns)")


def _row_texts(raw) -> list:
    """A sheet row's values as text, without the empty cells that end it ([] for a blank row)."""
    values = [_excel_text(v) for v in raw]
    while values and values[-1] is None:
        values.pop()
    return values


def _row_chars(path: Path, values: list) -> int:
    """Characters in a row's values; refuse a row over MAX_FILE_COLUMNS or a cell over
    EXCEL_MAX_CELL_CHARS."""
    if len(values) > MAX_FILE_COLUMNS:
        raise IngestError(f"{path.name} has {len(values):,} columns; at most {MAX_FILE_COLUMNS:,} are read per "
                          "file. Export only the columns you need (an ICP uses tens, not thousands) "
                          "and upload again.")
    chars = 0
    for v in values:
        if v is not None:
            if len(v) > EXCEL_MAX_CELL_CHARS:
                raise _excel_limit(path, f"a cell holds {len(v):,} characters; at most "
                                         f"{EXCEL_MAX_CELL_CHARS:,} per cell (Excel's own limit)")
            chars += len(v)
    return chars


def _stream_sheet(con, path: Path, ws, table: str, pd, header_row: int = 1) -> tuple[int, list[str], int]:
    """Rows from `header_row` (the header) on into `table`, in chunks. Summary rows ending the sheet
    ('Grand Total', 'Confidential ...') are held back and dropped; empty columns left of the table
    are dropped. Returns (summary rows dropped, their first values, empty columns dropped)."""
    sheet = _SheetTable(con, table, pd)
    held: list[tuple[str, list]] = []  # rows that may be a summary at the end: (kind, values)
    rows = cells = chars = 0
    blank_header = False
    for raw in ws.iter_rows(min_row=header_row, values_only=True):
        rows += 1
        cells += len(raw)
        _check_sheet_size(path, rows, cells)
        values = _row_texts(raw)
        if not values:
            if rows == 1:
                blank_header = True
            continue  # blank rows are skipped, as pandas did
        chars += _row_chars(path, values)
        if chars > EXCEL_MAX_CHARS:
            raise _excel_limit(path, f"the sheet holds more than {EXCEL_MAX_CHARS:,} characters; "
                                     f"at most {EXCEL_MAX_CHARS:,}")
        if blank_header:
            raise IngestError(f"{path.name}: row {header_row:,} of sheet '{ws.title}' is empty; "
                              "choose the row that holds the column names.")
        if not sheet.names:  # the header row
            sheet.create(values)
            continue
        sheet.hold_or_keep(held, values)
    if not sheet.names:
        if header_row > 1:
            raise IngestError(f"{path.name}: header row {header_row:,} is beyond the data of sheet '{ws.title}'.")
        raise IngestError(f"{path.name} has no sheet with a header row and data rows.")
    first = next((i for i, (k, _v) in enumerate(held) if k == "summary"), len(held))
    for _kind, v in held[:first]:
        sheet.keep(v)
    dropped = held[first:]
    sheet.flush()
    gone = sheet.drop_empty_left_columns()
    return len(dropped), [" ".join(_filled(v)) for k, v in dropped if k == "summary"], gone


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
        for name, dtype in zip(rel.columns, rel.dtypes, strict=True):
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


def read_file(con: duckdb.DuckDBPyConnection, path: Path, table: str, workdir: Path,
              options: ReadOptions | None = None) -> SourceInfo:
    """Load one file into temp table `table` (text columns under the file's own headers).

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
        _read_csv(con, path, table, info, workdir, options)
    elif fmt == "xlsx":
        _read_excel(con, path, table, info, options)
    else:
        _read_parquet(con, path, table)
    return info
