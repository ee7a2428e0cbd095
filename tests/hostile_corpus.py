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
    assert any("columns: the first 40 are cleaned" in n for n in meta["quality"]["source"]["notes"])
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
    col = next(c for c in meta["quality"]["columns"] if c["header"] == "Empty")
    assert col["null_share"] == 1.0


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
         rows=2),
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
]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()
