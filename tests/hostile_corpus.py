"""The hostile-input corpus: every case builds its file(s) in a folder and states its expected
outcome — either a specific error message (a substring) or a load with checks on the result.

Files are generated (not committed) so the corpus stays small in git and big cases (5,000
columns, a 300 MB file) cost nothing until a test runs them.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd


@dataclass
class Case:
    name: str
    build: Callable[[Path], tuple[Path, Path | None]]  # -> (accounts file, opportunities file or None)
    error: str | None = None  # expected message substring, when the file must be refused
    rows: int | None = None  # expected rows loaded, when it must load
    check: Callable[[dict], None] | None = None  # extra checks on the dataset metadata
    notes: str = ""
    slow: bool = False
    # "bomb": also run by tests/test_reader_bounds.py in a child process, timed, its peak memory measured;
    # "child": only there (unbounded, it would exhaust the test process's memory)
    tags: list[str] = field(default_factory=list)


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _one(name: str, data: bytes | str):
    return lambda d: (_write(d / name, data), None)


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"Company": ["Acme", "Beta"], "Employees": ["1,001-5,000", "50"]}).to_excel(buf, index=False)
    return buf.getvalue()


def _wide(n: int):
    def build(d: Path):
        cols = [f"c{i}" for i in range(n)]
        header = ",".join(["Company"] + cols)
        rows = [",".join([f"Co {r}"] + [str((r * 7 + i) % 97) for i in range(n)]) for r in range(20)]
        return _write(d / f"wide{n}.csv", header + "\n" + "\n".join(rows) + "\n"), None
    return build


def _check_wide(meta):
    assert any("columns with data to clean: 40 are cleaned" in n for n in meta["quality"]["source"]["notes"])
    assert sum(1 for c in meta["columns"] if c["role"] != "ignore") >= 40


def _huge(d: Path):
    path = d / "huge.csv"
    with open(path, "wb") as fh:
        fh.write(b"Company,Employees\n")
        fh.truncate(300 * 1024 * 1024)  # sparse: 300 MB on paper, nothing on disk
    return path, None


def _names(meta: dict) -> list[str]:
    return [c["header"] for c in meta["columns"]]


def _check_dupes(meta):
    headers = _names(meta)
    assert headers.count("Name") == 2 or len([h for h in headers if h.startswith("Name")]) >= 2, headers
    assert len({c["key"] for c in meta["columns"]}) == len(meta["columns"])


def _check_injection(meta):
    headers = _names(meta)
    assert any("DROP TABLE" in h for h in headers) and any("\u05e9" in h for h in headers), headers


def _check_all_null(meta):
    # issue 14: a column empty in every row takes no usable-column slot; a note says so
    assert next(c for c in meta["columns"] if c["header"] == "Empty")["role"] == "ignore"
    assert any("empty in every row" in n and "'Empty'" in n for n in meta["quality"]["source"]["notes"])


def _check_99(meta):
    col = next(c for c in meta["quality"]["columns"] if c["header"] == "Country")
    assert col["parsed_share"] == 1.0


def _check_dates(meta):
    col = next(c for c in meta["quality"]["columns"] if c["header"] == "Signup Date")
    assert col["unparseable_share"] <= 0.34, col  # ISO and one day-month order read; an ambiguous third flagged


def _check_numbers(meta):
    col = next(c for c in meta["quality"]["columns"] if c["header"] == "Revenue")
    assert col["parsed_share"] >= 0.75, col


def _check_rollup_nothing(meta):
    r = meta["quality"]["rollup"]
    assert r["accounts_with_opportunities"] == 0 and r["unmatched_keys"] == 2


def _check_mixed(meta):
    enc = meta["quality"]["encoding"]
    assert enc["name"] == "cp1252" and enc["lines_in_other_encoding"] == 1 and enc["examples"] == [2], enc


def _one_bad_byte(d: Path):
    rows = [f"C{i},Zürich\n".encode("utf-8") for i in range(100_000)]
    rows[50_000] = b"Bad,Montr\xe9al\n"  # line 50,002 of the file
    return _write(d / "zurich.csv", b"Company,City\n" + b"".join(rows)), None


def _check_one_bad_byte(meta):
    enc = meta["quality"]["encoding"]
    assert enc["name"] == "utf-8" and enc["lines_with_invalid_bytes"] == 1 and enc["examples"] == [50_002], enc


def _check_reserved(meta):
    cols = {(c["key"], c["source"]): c for c in meta["columns"]}
    assert cols[("opp_outcome", "opportunities")]["header"].startswith("Account outcome")
    assert ("opp_won_count", "opportunities") in cols
    user = cols[("opp_outcome_col", "accounts")]
    assert user["header"] == "opp_outcome" and user["role"] != "deal_stage"
    assert cols[("opp_won_count_col", "accounts")]["header"] == "opp_won_count"
    assert any("reserved" in n for n in meta["quality"]["source"]["notes"])


# --- Excel written part by part: a few KB on disk that expand when read -----------------

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def raw_xlsx(rows_xml: str, strings: list[str] | None = None, dimension: str | None = None,
             strings_xml: str | None = None) -> bytes:
    """A minimal .xlsx written with zipfile: one sheet (its <row> elements given as XML) and,
    optionally, a shared strings table. Deflated, so repeated text costs almost nothing."""
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          + ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
             if strings is not None or strings_xml is not None else "") + "</Types>")
    rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wb = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL}">'
          '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
    wb_rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
               f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
               f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}">{dim}<sheetData>{rows_xml}</sheetData></worksheet>'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wb_rels)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if strings_xml is None and strings is not None:
            strings_xml = (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_NS}" count="{len(strings)}" '
                           f'uniqueCount="{len(strings)}">' + "".join(f"<si><t>{t}</t></si>" for t in strings) + "</sst>")
        if strings_xml is not None:
            z.writestr("xl/sharedStrings.xml", strings_xml)
    return buf.getvalue()


def _header_and_refs(cells: int, per_row: int = 1) -> str:
    """Row 1: headers 'Company', 'Note'; then rows whose cells all point at shared string 0."""
    out = ['<row r="1"><c r="A1" t="inlineStr"><is><t>Company</t></is></c>'
           '<c r="B1" t="inlineStr"><is><t>Note</t></is></c></row>']
    for r in range(2, cells // per_row + 2):
        out.append(f'<row r="{r}">' + '<c t="s"><v>0</v></c>' * per_row + "</row>")
    return "".join(out)


def shared_string_bomb(chars: int, cells: int = 20_000, name: str = "bomb.xlsx"):
    """One shared string of `chars` characters referenced by `cells` cells (the issue's case)."""
    return lambda d: (_write(d / name, raw_xlsx(_header_and_refs(cells, 2), ["x" * chars])), None)


def wide_xlsx(columns: int):
    cells = "".join(f'<c t="inlineStr"><is><t>c{i}</t></is></c>' for i in range(columns))
    return lambda d: (_write(d / f"wide{columns}.xlsx", raw_xlsx(f'<row r="1">{cells}</row><row r="2">{cells}</row>')),
                      None)


def _lying_dimension(d: Path):
    rows = ('<row r="1"><c t="inlineStr"><is><t>Company</t></is></c><c t="inlineStr"><is><t>Employees</t></is></c></row>'
            '<row r="2"><c t="inlineStr"><is><t>Acme</t></is></c><c><v>1200</v></c></row>'
            '<row r="3"><c t="inlineStr"><is><t>Beta</t></is></c><c><v>50.5</v></c></row>')
    return _write(d / "lying.xlsx", raw_xlsx(rows, dimension="A1:XFD1048576")), None


_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
           f'<sst xmlns="{_NS}"><si><t>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</t></si></sst>')


def _laughs(d: Path):
    return _write(d / "laughs.xlsx", raw_xlsx(_header_and_refs(10, 2), strings_xml=_LAUGHS)), None


def _check_lying(meta):
    assert [c["header"] for c in meta["columns"] if c["source"] == "accounts"] == ["Company", "Employees"]


def _csv_grid(columns: int, rows: int):
    def build(d: Path):
        path = d / f"grid{columns}x{rows}.csv"
        with open(path, "w") as fh:
            fh.write(",".join(f"c{i}" for i in range(columns)) + "\n")
            line = ",".join(str(i % 10) for i in range(columns)) + "\n"
            for _ in range(rows):
                fh.write(line)
        return path, None
    return build


def _long_line(d: Path):
    """2,000 good rows and one 12 MB line: the line is set aside, the rows load."""
    path = d / "longline.csv"
    with open(path, "w") as fh:
        fh.write("Company,Employees,Note\n")
        fh.writelines(f"Co{i},{i},ok\n" for i in range(1000))
        fh.write("Big,1," + "x" * 12_000_000 + "\n")
        fh.writelines(f"Cz{i},{i},ok\n" for i in range(1000))
    return path, None


def _check_long_line(meta):
    src = meta["quality"]["source"]
    assert src["rows_rejected"] == 1 and src["rows_read"] == 2001, src
    example = src["rejected_examples"][0]
    assert example["line"] == 1002 and "line too long" in example["reason"] and len(example["text"]) <= 200


def parquet_bomb(chars: int, rows: int):
    """A few hundred bytes of Parquet: one `chars`-long string, dictionary-encoded, in `rows` rows."""
    def build(d: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        # built as indices into a one-entry dictionary: the string exists once, in memory and on disk
        column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, type=pa.int32()), pa.array(["x" * chars]))
        path = d / "bomb.parquet"
        pq.write_table(pa.table({"Company": column, "Note": column}), path, compression="zstd")
        return path, None
    return build


CASES: list[Case] = [
    Case("empty file", _one("empty.csv", b""), error="empty"),
    Case("header only", _one("header.csv", "Company,Employees\n"), error="no data rows"),
    Case("one row", _one("one.csv", "Company,Employees,Country\nAcme,\"1,001-5,000\",USA\n"), rows=1),
    Case("binary garbage named .csv", _one("garbage.csv", bytes(range(256)) * 40), error="not a text"),
    Case("a .csv that is really .xlsx", lambda d: (_write(d / "really.csv", _xlsx_bytes()), None), rows=2,
         notes="read as Excel by its content"),
    Case("zip named .csv", lambda d: (_write(d / "z.csv", _zip()), None), error="ZIP archive but not a readable Excel"),
    Case("5,000 columns", _wide(5000), error="at most 300 are read", slow=True),
    Case("300 columns", _wide(299), rows=20, check=_check_wide, slow=True),
    Case("300 MB file", _huge, error="limit", slow=True),
    Case("duplicate, empty and very long column names",
         _one("names.csv", "Name,Name,," + "L" * 400 + "\nAcme,Acme Inc,x,y\nBeta,Beta Ltd,z,w\n"), rows=2,
         check=_check_dupes),
    Case("quotes, semicolons, SQL, newlines, emoji and right-to-left text in names and values",
         _one("inject.csv", 'Company,"x""; DROP TABLE accounts; --","שם 🚀","multi\nline"\n'
                            '"Acme; Inc","\'; DROP TABLE accounts; --","שלום 🚀","a\nb"\n'
                            '"Beta ""Quoted""","--","مرحبا","=cmd|\' /C calc\'!A0"\n'), rows=2,
         check=_check_injection),
    Case("mixed encodings (UTF-8 and cp1252 bytes in one file)",
         _one("mixed.csv", "Company,City\nAcme,Zürich\n".encode("utf-8") + "Beta,Montréal\n".encode("cp1252")),
         rows=2, check=_check_mixed, notes="more lines not UTF-8 than UTF-8: read as cp1252, the UTF-8 line reported"),
    Case("one invalid byte among 100,000 UTF-8 rows", _one_bad_byte, rows=100_000, check=_check_one_bad_byte,
         notes="read as UTF-8, the byte shown as U+FFFD and its line reported (was: all read as cp1252, 'ZÃ¼rich')"),
    Case("accounts columns named opp_outcome / opp_won_count (the roll-up's names)",
         lambda d: (_write(d / "acc.csv", "Account Name,opp_outcome,opp_won_count\nAcme,lost,0\nBeta,won,7\n"),
                    _write(d / "opp.csv", "Account,Stage\nAcme,Won\nAcme,Lost\nBeta,Lost\n")),
         rows=2, check=_check_reserved,
         notes="the user's columns are kept as opp_outcome_col / opp_won_count_col (was: they took over the roll-up)"),
    Case("all-NULL column", _one("nulls.csv", "Company,Empty,Employees\n" + "".join(f"C{i},,{i}\n" for i in range(50))),
         rows=50, check=_check_all_null),
    Case("a column that is 99 % one value",
         _one("ninety9.csv", "Company,Country\n" + "".join(f"C{i},{'US' if i else 'Germany'}\n" for i in range(100))),
         rows=100, check=_check_99),
    Case("dates in three formats",
         _one("dates.csv", "Company,Signup Date\nA,2024-03-15\nB,03/15/2024\nC,15.03.2024\nD,2024-01-02\n"
                           "E,12/31/2023\nF,31.12.2023\n"), rows=6, check=_check_dates),
    Case("thousands separators of several locales",
         _one("locales.csv", "Company,Revenue\nA,\"1,234,567\"\nB,1.234.567\nC,1 234 567\nD,1'234'567\n"
                             "E,\"$2,500,000\"\nF,2.5M\nG,\"1.234.567,89 €\"\nH,12345\n"), rows=8, check=_check_numbers),
    Case("opportunities that match no account",
         lambda d: (_write(d / "acc.csv", "Account Name,Industry\nAcme,SaaS\nBeta,Retail\n"),
                    _write(d / "opp.csv", "Account,Stage,Amount\nZeta,Won,100\nOmega,Lost,50\n")),
         rows=2, check=_check_rollup_nothing),
    Case("unsupported format", _one("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600), error="xls"),
    Case("xlsx: one 1 MB shared string in 20,000 cells", shared_string_bomb(1_000_000),
         error="Excel reading limit", tags=["bomb", "child"]),
    Case("xlsx: one 20 MB shared string in 20,000 cells", shared_string_bomb(20_000_000),
         error="Excel reading limit", tags=["bomb", "child"]),
    Case("xlsx: a 40,000-character shared string in 20,000 cells", shared_string_bomb(40_000),
         error="32,767 per cell", tags=["bomb", "child"]),
    Case("xlsx: a 30,000-character shared string in 20,000 cells (600 M characters)", shared_string_bomb(30_000),
         error="at most 100,000,000", tags=["bomb", "child"]),
    Case("xlsx: 10,000 columns x 1 row", wide_xlsx(10_000), error="at most 300 columns", tags=["bomb"]),
    Case("xlsx: entities in the shared strings (billion laughs)", _laughs, error="DOCTYPE", tags=["bomb"]),
    Case("xlsx: a declared size of 16,384 x 1,048,576 over 3 real rows", _lying_dimension, rows=2,
         check=_check_lying),
    Case("CSV: 10,000 columns x 1 row", _csv_grid(10_000, 1), error="10,000 columns; at most 300", tags=["bomb"],
         notes="refused from the header line, before DuckDB reads a row"),
    Case("CSV: 2,000 columns x 2,000 rows", _csv_grid(2_000, 2_000), error="2,000 columns; at most 300",
         notes="refused from the header line (was: after reading it all, 10 s)"),
    Case("CSV: one 12 MB line among 2,000 rows", _long_line, rows=2000, check=_check_long_line,
         notes="a line over 1,000,000 bytes is set aside like any malformed line"),
    Case("Parquet: one 1 MB string in 20,000 rows (under 1 KB)", parquet_bomb(1_000_000, 20_000), error="at most 32,767 per cell",
         tags=["bomb"], notes="was: 78 s, then 'Out of Memory Error'"),
    Case("Parquet: a 30,000-character string in 20,000 rows (1.2 G characters, under 1 KB)",
         parquet_bomb(30_000, 20_000), error="at most 200,000,000", tags=["bomb"],
         notes="every cell under the cell limit; was: 'unexpected failure (OutOfMemoryException)', exit 1"),
]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()
