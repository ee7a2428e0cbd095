"""Issue 14, items 3 and 4: where the table is in a file (header row, summary rows, sheet) and
which encoding it is in. Small odd files are written here; real ones come from ../shared/data."""

import duckdb
import pytest

from icp_core import readers
from icp_core.ingest import ingest_dataset
from icp_core.readers import IngestError, ReadOptions, read_file
from icp_core.store import read_accounts
from tests.conftest import SHARED_DATA

ASX = SHARED_DATA / "real_asx_listed_companies.csv"
INVOICES = SHARED_DATA / "real_sdlv_invoices_workbook.xlsx"

SALESFORCE = (
    "Account Name,Industry,Annual Revenue,Billing Country\n"
    "Acme,Software,100,France\n"
    "Beta,Retail,200,Germany\n"
    "Gamma,Software,300,Spain\n"
    "Delta,Retail,400,Italy\n"
    "Epsilon,Banking,500,Portugal\n"
    "\n"
    "\"Grand Totals (5 records)\"\n"
    "\n"
    "\"Confidential Information - Do Not Distribute\"\n"
    "\"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved.\"\n"
)

DOS_NAMES = ["Martín", "Müller", "João", "Zürich", "José", "Françoise", "Málaga"]


def load(path, tmp_path, **options):
    con = duckdb.connect()
    info = read_file(con, path, "t", tmp_path, ReadOptions(**options) if options else None)
    headers = [r[0] for r in con.execute("DESCRIBE t").fetchall()]
    rows = con.execute("SELECT * FROM t").fetchall()
    con.close()
    return info, headers, rows


def titled_workbook(path):
    """As vendors ship it: a merged title over rows 1-2, the header on row 3, column A empty,
    a 'Grand Total' row and a notice under the data."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Report"
    ws["B1"] = "Accounts by region - exported 2025-12-05"
    ws.merge_cells("B1:E2")
    rows = [[None, "Company", "Country", "Employees", "Revenue"]]
    rows += [[None, f"Co {i}", "France", 10 * i + 1, 1000.5 * i] for i in range(6)]
    rows += [[None, "Grand Total", None, 156, 15007.5], [None, "Confidential Information - Do Not Distribute"]]
    for r, values in enumerate(rows, start=3):
        for c, value in enumerate(values, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    notes = wb.create_sheet("Notes")
    notes["A1"] = "read me"
    wb.save(path)
    return path


# --- header row -----------------------------------------------------------------------------


def test_asx_header_below_a_title_line(tmp_path):
    info, headers, rows = load(ASX, tmp_path)
    assert headers == ["Company name", "ASX code", "GICS industry group"]
    assert len(rows) == 1985 and info.rows_rejected == 0
    assert rows[0] == ("1414 DEGREES LIMITED", "14D", "Capital Goods")
    assert info.header_row == 3 and info.rows_skipped == 2 and info.delimiter == ","
    assert any("Skipped 2 line(s) above the header (line 3)" in n and "ASX listed companies as at" in n
               for n in info.notes)


def test_csv_title_rows_and_rejected_line_numbers_of_the_file(tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("Pipeline report\nRun 2025-12-05\n\nName,Stage,Amount\nA,Won,1\nB,Lost\nC,Won,3\n")
    info, headers, rows = load(path, tmp_path)
    assert headers == ["Name", "Stage", "Amount"] and rows == [("A", "Won", "1"), ("C", "Won", "3")]
    assert info.header_row == 4 and info.rows_skipped == 3
    assert info.rows_rejected == 1 and info.rejected_examples[0]["line"] == 6  # 'B,Lost' is line 6


def test_header_row_override(tmp_path):
    path = tmp_path / "two_headers.csv"
    path.write_text("Group,Group,Group\nName,Stage,Amount\nA,Won,1\nB,Lost,2\n")
    info, headers, rows = load(path, tmp_path, header_row=2)
    assert headers == ["Name", "Stage", "Amount"] and len(rows) == 2
    assert info.header_row == 2 and info.rows_skipped == 1


def test_header_row_beyond_the_data(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("Name,Stage\nA,Won\n")
    with pytest.raises(IngestError, match=r"header row 9 is beyond the data") as exc:
        load(path, tmp_path, header_row=9)
    assert "\n" not in str(exc.value)


def test_excel_title_rows_empty_column_a_and_totals(tmp_path):
    path = titled_workbook(tmp_path / "vendor.xlsx")
    info, headers, rows = load(path, tmp_path)
    assert headers == ["Company", "Country", "Employees", "Revenue"]
    assert rows[0] == ("Co 0", "France", "1", "0") and len(rows) == 6
    assert info.header_row == 3 and info.rows_skipped == 2 + 2
    assert info.sheet == "Report" and info.sheets == ["Report", "Notes"]
    assert any("Grand Total" in n for n in info.notes)
    assert readers.list_sheets(path) == ["Report", "Notes"]


def test_excel_header_row_override_beyond_the_data(tmp_path):
    path = titled_workbook(tmp_path / "vendor.xlsx")
    with pytest.raises(IngestError, match=r"header row 99 is beyond the data"):
        load(path, tmp_path, header_row=99)


# --- summary rows at the end ----------------------------------------------------------------


def test_salesforce_footer_is_dropped(store, tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(SALESFORCE)
    meta = ingest_dataset(store, path).meta
    q = meta["quality"]
    assert q["rows_loaded"] == 5 and q["rows_rejected"] == 0
    df = read_accounts(store, meta["id"])
    names = df[next(c for c in df.columns if "account" in c and "name" in c or c == "company_name")]
    assert list(names) == ["Acme", "Beta", "Gamma", "Delta", "Epsilon"]
    assert q["source"]["rows_skipped"] == 5
    assert any("Grand Totals (5 records)" in n and "Confidential" in n for n in q["source"]["notes"])


def test_a_total_row_goes_but_a_company_named_total_stays(tmp_path):
    path = tmp_path / "total.csv"
    path.write_text("Name,Country,Employees\nAcme,France,10\nTotal SA,France,20\n\nTotal,,30\n")
    info, _headers, rows = load(path, tmp_path)
    assert rows == [("Acme", "France", "10"), ("Total SA", "France", "20")]
    assert info.rows_skipped == 2 and info.rows_rejected == 0


# --- sheets ---------------------------------------------------------------------------------


def test_invoices_workbook_reads_the_data_sheet(tmp_path):
    info, headers, rows = load(INVOICES, tmp_path)
    assert info.sheet == "Data" and len(rows) == 3238
    assert headers[:3] == ["Type", "Reference Nbr.", "Customer"] and len(info.sheets) == 13
    assert any("'Data'" in n and "Feuil1" in n for n in info.notes)


def test_sheet_override_and_unknown_sheet(tmp_path):
    info, headers, rows = load(INVOICES, tmp_path, sheet="Sheet4")
    assert info.sheet == "Sheet4" and headers[:3] == ["Year-Month", "Year", "Month"] and len(rows) == 48
    with pytest.raises(IngestError, match=r"no sheet 'Nope'.*Feuil1, Feuil4.*Data"):
        load(INVOICES, tmp_path, sheet="Nope")


# --- encodings ------------------------------------------------------------------------------


def dos_file(tmp_path):
    path = tmp_path / "dos.csv"
    text = "Name,City\n" + "".join(f"C{i} {n},{c}\n" for i, (n, c) in enumerate(
        zip(DOS_NAMES, ["Madrid", "Zürich", "São Paulo", "Genève", "Málaga", "Köln", "Sevilla"], strict=False)))
    path.write_bytes(text.encode("cp850"))
    return path


def test_cp850_is_detected_and_cp1252_stays_cp1252(tmp_path):
    info, _headers, rows = load(dos_file(tmp_path), tmp_path)
    assert info.encoding == "cp850"
    assert rows[0] == ("C0 Martín", "Madrid") and rows[1] == ("C1 Müller", "Zürich")
    assert rows[2] == ("C2 João", "São Paulo")
    # real_india_startup_funding_deals.csv: ASCII but cp1252's 0x92 for ’ (cp850 would read 'Æ')
    info, _headers, rows = load(SHARED_DATA / "real_india_startup_funding_deals.csv", tmp_path)
    assert info.encoding == "cp1252"
    assert any("BYJU\u2019S" in (v or "") for r in rows for v in r)


def test_encoding_override_and_unknown_encoding(tmp_path):
    path = dos_file(tmp_path)
    info, _headers, rows = load(path, tmp_path, encoding="latin-1")
    assert info.encoding == "latin-1" and rows[0][0] == "C0 Mart\u00a1n"
    with pytest.raises(IngestError, match=r"unknown encoding 'klingon'"):
        load(path, tmp_path, encoding="klingon")
