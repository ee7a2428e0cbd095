"""Control characters that ingest accepts (NUL, \\x01, \\x1b, \\x0b ...) cannot be held by XML 1.0,
so the Excel export writes each as U+FFFD; CSV and Parquet keep them exactly (issue 13, item 5)."""

import csv
import io
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from icp_core.__main__ import main
from icp_core.export import XLSX_PLACEHOLDER, export_bytes, scored_export_bytes, to_csv_bytes
from tests.conftest import ROOT

ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
NAMES = ["Nul\x00Co", "\x01Start Ltd", "Esc\x1b[31mRed\x1b[0m", "VT\x0bInc\x0c", "Tab\tCo\tend", "CR\r\nLF\nCo\rx",
         "=cmd\x07|' /C calc'!A0", "\x1f", "Plain Co"]
HEADER = "Note\x01 \x1bcol\x00"


def frame() -> pd.DataFrame:
    n = len(NAMES)
    return pd.DataFrame({"Account ID": [f"acc-{i}" for i in range(n)],
                         "Account Name": pd.Series(NAMES, dtype="string"),
                         "ICP Score": np.linspace(10, 90, n),
                         "ICP Reasons": [f"Industry in Fin\x02tech (+{i}) · “Tag\x1e{i}” (+1)" for i in range(n)],
                         "Mixed": [1, "a\x03b", None, 2.5, "ok", "x\x08", 3, "y", "z"],
                         "Category": pd.Categorical(["c\x04t", "dog"] * 4 + ["c\x04t"]),
                         HEADER: ["fine"] * n})


def expected_xlsx(value):
    """What openpyxl reads back: illegal characters as the placeholder, the formula apostrophe,
    and CR/CRLF as LF (XML parsers normalise line ends; tab and LF stay)."""
    if not isinstance(value, str):
        return value
    if value.startswith(("=", "+", "-", "@", "\t", "\r")):
        value = "'" + value
    return ILLEGAL.sub(XLSX_PLACEHOLDER, value).replace("\r\n", "\n").replace("\r", "\n")


def read_xlsx(data: bytes) -> list[list]:
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(row) for row in ws.iter_rows(values_only=True)]


def test_xlsx_writes_placeholder_csv_and_parquet_keep_characters():
    df = frame()
    rows = read_xlsx(export_bytes(df, "xlsx"))
    assert rows[0] == [expected_xlsx(c) for c in df.columns]
    assert rows[0][-1] == f"Note{XLSX_PLACEHOLDER} {XLSX_PLACEHOLDER}col{XLSX_PLACEHOLDER}"
    for i, row in enumerate(rows[1:]):
        want = [expected_xlsx(v) if not pd.isna(v) else None for v in df.astype(object).iloc[i]]
        assert row[:2] == want[:2] and row[3:] == want[3:]
        assert row[2] == pytest.approx(df["ICP Score"].iloc[i])
    names = [r[1] for r in rows[1:]]
    assert names[0] == f"Nul{XLSX_PLACEHOLDER}Co" and names[1] == f"{XLSX_PLACEHOLDER}Start Ltd"
    assert names[2] == f"Esc{XLSX_PLACEHOLDER}[31mRed{XLSX_PLACEHOLDER}[0m"
    assert names[4] == "Tab\tCo\tend" and names[5] == "CR\nLF\nCo\nx"
    assert names[6] == f"'=cmd{XLSX_PLACEHOLDER}|' /C calc'!A0"  # still neutralised
    assert [r[4] for r in rows[1:]][:4] == [1, f"a{XLSX_PLACEHOLDER}b", None, 2.5]  # numbers stay numbers
    assert not any(ILLEGAL.search(v) for r in rows for v in r if isinstance(v, str))

    # CSV and Parquet keep every character exactly, tab, CR and LF included
    df = df.drop(columns=["Mixed"])
    text = to_csv_bytes(df).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert rows[0] == list(df.columns)
    assert [r[1] for r in rows[1:]] == [("'" + n if n.startswith("=") else n) for n in NAMES]
    assert [r[3] for r in rows[1:]] == df["ICP Reasons"].tolist()
    back = pd.read_parquet(io.BytesIO(export_bytes(df, "parquet")))
    assert list(back.columns) == list(df.columns) and back["Account Name"].tolist() == NAMES


def test_crm_xlsx_export_with_control_characters(monkeypatch):
    """The CRM export the Share page offers goes through the same writer."""
    import icp_core.scoring as scoring

    display = frame()[["Account ID", "Account Name"]]
    res = type("Result", (), {})()  # the minimum scored_export_bytes reads, so no scoring is needed
    res.patterns = type("Patterns", (), {"inv": np.zeros(len(display), dtype=int)})()
    res.pattern_score, res.pattern_tier, res.n = np.array([50.0]), np.array([1]), len(display)
    res.pattern_status = np.array([0])
    monkeypatch.setattr(scoring, "explain_patterns", lambda result, pats: pd.DataFrame(
        {"reasons": [f"Label\x01{p}" for p in pats], "flags": ["\x1b"] * len(pats), "next_step": [""] * len(pats)}))
    data = scored_export_bytes(display, res, "v\x0b1", "xlsx")
    rows = read_xlsx(data)
    assert [r[1] for r in rows[1:]] == [expected_xlsx(n) for n in NAMES]
    assert rows[1][4] == "ok" and rows[1][5:] == [f"Label{XLSX_PLACEHOLDER}0", XLSX_PLACEHOLDER, None, f"v{XLSX_PLACEHOLDER}1"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_cli_score_xlsx_with_control_characters(tmp_path, capsys, kind):
    """`python -m icp_core score ... --format xlsx` exits 0 and writes a readable workbook. CSV input
    carries \\x01, \\x1b, \\x0b (ingest rejects NUL in CSV as binary); Parquet input carries NUL too."""
    pad = [f"Ordinary company number {i}" for i in range(300)]  # control characters stay rare, as in real data
    names = ["Nul\x00Co" if kind == "parquet" else "Bell\x07Co", "\x01Start Ltd", "Esc\x1b[31mRed", "VT\x0bInc",
             "Tab\tCo", "CR\r\nLF Co"] + pad
    n = len(names)
    df = pd.DataFrame({"Account ID": [f"a{i}" for i in range(n)], "Account Name": names,
                       "Industry": ["Fintech", "Retail"] * (n // 2), "Employees": list(range(10, 10 + n)),
                       "Note\x01Col": ["x\x02y"] + ["ordinary note"] * (n - 1)})
    src = tmp_path / f"in.{kind}"
    df.to_csv(src, index=False) if kind == "csv" else df.to_parquet(src, index=False)
    out = tmp_path / "out.xlsx"
    rc = main(["--data-dir", str(tmp_path / "d"), "score", str(src), "--profile",
               str(ROOT / "sample_data" / "default_profile.json"), "--skip-missing-traits", "--format", "xlsx",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    rows = read_xlsx(out.read_bytes())
    header = rows[0]
    assert f"Note{XLSX_PLACEHOLDER}Col" in header
    got = {r[header.index("Account ID")]: r for r in rows[1:]}
    assert len(got) == n
    for i, name in enumerate(names):
        assert got[f"a{i}"][header.index("Account Name")] == expected_xlsx(name)
    assert got["a0"][header.index(f"Note{XLSX_PLACEHOLDER}Col")] == f"x{XLSX_PLACEHOLDER}y"
