"""Reading files into a dataset: formats, encodings, delimiters, bad input, roll-up, re-mapping."""

import codecs
import json

import pandas as pd
import pytest

from icp_core.ingest import IngestError, ingest_dataset, remap_dataset
from icp_core.roles import ColumnSpec
from icp_core.store import read_accounts

ACCOUNTS = (
    "Account ID,Company Name,Industry,Country,Employees,Annual Revenue,Tech Stack,Stage,Churned\n"
    "A1,Café Müller,Fintech,USA,\"1,001-5,000\",$2.5M,Salesforce; Snowflake,Closed Won,No\n"
    "A2,Beta GmbH, fintech ,UK,120,\"2,500,000\",HubSpot|AWS,Closed Lost,\n"
    "A3,Gamma Inc,Technolgy,Germany,10000+,36.9 Million,N/A,Engaging,\n"
    "A4,Delta,Technology,U.S.,N/A,#NAME?,AWS,Won,Yes\n"
    "A5,Epsilon,Technology,Atlantis,50,1.1k,,Open,\n"
    "A6,Zeta,Technology,US,-,abc,Jira,Lost,\n"
)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def column(meta, header):
    return next(c for c in meta["quality"]["columns"] if c["header"] == header)


def test_csv_is_cleaned_with_raw_kept_beside(store, tmp_path):
    meta = ingest_dataset(store, write(tmp_path, "a.csv", ACCOUNTS)).meta
    roles = {c["header"]: c["role"] for c in meta["columns"]}
    assert roles == {
        "Account ID": "account_id", "Company Name": "account_name", "Industry": "industry",
        "Country": "country", "Employees": "employees", "Annual Revenue": "annual_revenue",
        "Tech Stack": "technologies", "Stage": "deal_stage", "Churned": "churned",
    }
    df = read_accounts(store, meta["id"], with_raw=True)
    assert list(df["employees"][:3]) == [3000.5, 120, 10000]
    assert df["employees__band"][0] == "1,001-5,000" and pd.isna(df["employees__band"][1])
    assert list(df["annual_revenue"][:3]) == [2_500_000, 2_500_000, 36_900_000]
    assert list(df["industry"][:2]) == ["fintech", "fintech"]
    assert list(df["country"][:4]) == ["United States", "United Kingdom", "Germany", "United States"]
    assert list(df["stage"]) == ["won", "lost", "open", "won", "open", "lost"]
    assert sorted(df["tech_stack"][0]) == ["Salesforce", "Snowflake"]
    assert df["company_name"][0] == "Café Müller"
    assert df["annual_revenue__raw"][3] == "#NAME?" and pd.isna(df["annual_revenue"][3])


def test_quality_counts_parsed_null_and_unreadable(store, tmp_path):
    meta = ingest_dataset(store, write(tmp_path, "a.csv", ACCOUNTS)).meta
    q = meta["quality"]
    assert q["rows_read"] == q["rows_loaded"] == 6 and q["rows_rejected"] == 0
    revenue = column(meta, "Annual Revenue")
    assert (revenue["parsed"], revenue["null"], revenue["unparseable"]) == (4, 1, 1)
    assert revenue["unparseable_examples"] == [{"value": "abc", "rows": 1}]
    country = column(meta, "Country")
    assert country["unparseable"] == 1 and country["unparseable_examples"][0]["value"] == "Atlantis"
    assert column(meta, "Employees")["bands"] == 2
    hints = [h for h in q["hints"] if h["kind"] == "typo"]
    assert any(h["value"] == "technolgy" and h["suggestion"] == "technology" for h in hints)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_encodings_never_fail(store, tmp_path, encoding):
    text = ACCOUNTS.replace("Delta", "Delta “Quotes” ™") if encoding in ("cp1252", "utf-8", "utf-16") else ACCOUNTS
    meta = ingest_dataset(store, write(tmp_path, "e.csv", text, encoding)).meta
    df = read_accounts(store, meta["id"])
    assert df["company_name"][0] == "Café Müller"
    assert list(df.columns[:2]) == ["row_id", "account_id"]  # a BOM does not stick to the header
    if "Quotes" in text:
        assert df["company_name"][3] == "Delta “Quotes” ™"


def test_latin1_bytes_that_cp1252_lacks(store, tmp_path):
    raw = "name,val\n".encode() + b"Caf\xe9 \x81,1\nB,2\n"
    meta = ingest_dataset(store, write(tmp_path, "l.csv", raw)).meta
    assert meta["quality"]["source"]["encoding"] == "latin-1"
    assert read_accounts(store, meta["id"])["name"][0].startswith("Café")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_any_common_delimiter(store, tmp_path, delimiter):
    text = ACCOUNTS.replace('"1,001-5,000"', "1001-5000").replace('"2,500,000"', "2500000")
    text = text.replace("; ", "/").replace("|", "/").replace(",", delimiter)
    meta = ingest_dataset(store, write(tmp_path, "d.tsv", text)).meta
    assert meta["quality"]["source"]["delimiter"] == delimiter
    assert meta["rows"] == 6 and len([c for c in meta["columns"] if c["source"] == "accounts"]) == 9


def test_excel_and_parquet(store, tmp_path):
    df = pd.read_csv(tmp_path.joinpath("x").parent / write(tmp_path, "src.csv", ACCOUNTS).name, dtype=str)
    xlsx = tmp_path / "accounts.xlsx"
    with pd.ExcelWriter(xlsx) as writer:
        df.to_excel(writer, sheet_name="Accounts", index=False)
        df.head(1).to_excel(writer, sheet_name="Other", index=False)
    meta = ingest_dataset(store, xlsx).meta
    assert meta["rows"] == 6 and meta["quality"]["source"]["sheet"] == "Accounts"
    assert "Other" in meta["quality"]["source"]["notes"][0]
    assert read_accounts(store, meta["id"])["employees"][0] == 3000.5
    # an Excel file saved with a .csv name is still read as Excel
    disguised = write(tmp_path, "really_excel.csv", xlsx.read_bytes())
    assert ingest_dataset(store, disguised).meta["quality"]["source"]["format"] == "xlsx"
    pq = tmp_path / "accounts.parquet"
    typed = df.assign(n=range(6))
    typed.to_parquet(pq)
    meta = ingest_dataset(store, pq).meta
    assert meta["rows"] == 6 and list(read_accounts(store, meta["id"])["n"]) == [0, 1, 2, 3, 4, 5]


def test_bad_rows_are_reported_and_the_rest_loaded(store, tmp_path):
    text = "id,name,size\n1,A,10\n2,B,20,extra,values\n3,C,30\n4,\"D,40\n"
    meta = ingest_dataset(store, write(tmp_path, "bad.csv", text)).meta
    q = meta["quality"]
    assert q["rows_rejected"] >= 1 and q["rows_loaded"] >= 2
    assert q["rows_read"] == q["rows_loaded"] + q["rows_rejected"]
    assert q["rejected_examples"][0]["line"] >= 2 and q["rejected_examples"][0]["reason"]


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"a,b,c\n", "no data rows"),
    (b"\x00\x01\x02\x03binary\xff\xfe\x00" * 100, "not a text table"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel 97-2003"),
    (b"PK\x03\x04garbage", "ZIP archive but not a readable Excel workbook"),
])
def test_bad_files_get_one_clear_message(store, tmp_path, content, message):
    with pytest.raises(IngestError, match=message):
        ingest_dataset(store, write(tmp_path, "bad.csv", content))
    assert store.list_datasets() == ([], [])  # nothing half-written is left behind
    assert not [p for p in store.dir.iterdir() if not p.name.endswith(".lock")]


def test_unsupported_format_and_missing_file(store, tmp_path):
    with pytest.raises(IngestError, match="not supported"):
        ingest_dataset(store, write(tmp_path, "slides.pdf", "%PDF-1.4 hello"))
    with pytest.raises(IngestError, match="does not exist"):
        ingest_dataset(store, tmp_path / "nope.csv")


OPPORTUNITIES = (
    "Opportunity ID,Account,Deal Stage,Close Date,Close Value\n"
    "O1, café müller ,Won,2024-01-10,1000\n"
    "O2,CAFÉ MÜLLER,Lost,2024-03-01,500\n"
    "O3,Cafémüller,Won,2024-05-20,\"2,000\"\n"
    "O4,Beta GmbH,Lost,2023-12-01,700\n"
    "O5,Beta GmbH,Engaging,,\n"
    "O6,Gamma Inc,Prospecting,,\n"
    "O7,,Won,2024-01-01,999\n"
    "O8,Nobody Ltd,Won,2024-02-02,50\n"
)


def test_opportunities_roll_up_to_accounts(store, tmp_path):
    meta = ingest_dataset(store, write(tmp_path, "a.csv", ACCOUNTS),
                          write(tmp_path, "o.csv", OPPORTUNITIES)).meta
    df = read_accounts(store, meta["id"]).set_index("company_name")
    cafe = df.loc["Café Müller"]
    assert (cafe.opp_won_count, cafe.opp_lost_count, cafe.opp_open_count) == (2, 1, 0)
    assert cafe.opp_win_rate == pytest.approx(2 / 3) and cafe.opp_won_value == 3000
    assert str(cafe.opp_first_close_date)[:10] == "2024-01-10" and str(cafe.opp_last_close_date)[:10] == "2024-05-20"
    assert cafe.opp_outcome == "won"
    beta = df.loc["Beta GmbH"]
    assert (beta.opp_won_count, beta.opp_lost_count, beta.opp_open_count, beta.opp_win_rate) == (0, 1, 1, 0)
    assert beta.opp_outcome == "open"  # an open deal is not a loss
    gamma = df.loc["Gamma Inc"]
    assert gamma.opp_open_count == 1 and pd.isna(gamma.opp_win_rate)
    assert df.loc["Zeta"].opp_won_count == 0 and pd.isna(df.loc["Zeta"].opp_outcome)
    r = meta["quality"]["rollup"]
    assert r["join_on"] == "account_name" and r["opportunity_rows"] == 8
    assert r["rows_without_account"] == 1 and r["accounts_with_opportunities"] == 3
    assert r["unmatched_keys"] == 1 and r["unmatched_examples"] == [{"account": "Nobody Ltd", "rows": 1}]


def test_roll_up_joins_on_id_when_both_files_have_one(store, tmp_path):
    opps = "Deal,Account ID,Stage\nD1,a1,Closed Won\nD2,A2,Closed Lost\n"
    meta = ingest_dataset(store, write(tmp_path, "a.csv", ACCOUNTS), write(tmp_path, "o.csv", opps)).meta
    assert meta["quality"]["rollup"]["join_on"] == "account_id"
    df = read_accounts(store, meta["id"])
    assert list(df["opp_won_count"][:2]) == [1, 0] and list(df["opp_lost_count"][:2]) == [0, 1]


def test_opportunities_without_a_stage_are_refused(store, tmp_path):
    with pytest.raises(IngestError, match="deal stage"):
        ingest_dataset(store, write(tmp_path, "a.csv", ACCOUNTS), write(tmp_path, "o.csv", "Account,x\nA,1\n"))


def test_remap_rebuilds_clean_values_and_keeps_data_on_error(store, tmp_path):
    text = "name,revenue_m,flag\nA,1.5,yes\nB,2,no\n"
    meta = ingest_dataset(store, write(tmp_path, "r.csv", text)).meta
    specs = [ColumnSpec.from_dict(d) for d in meta["columns"]]
    rev = next(s for s in specs if s.key == "revenue_m")
    rev.scale = 1e6
    flag = next(s for s in specs if s.key == "flag")
    flag.role = "category"
    remap_dataset(store, meta["id"], specs)
    df = read_accounts(store, meta["id"])
    assert list(df["revenue_m"]) == [1_500_000, 2_000_000] and list(df["flag"]) == ["yes", "no"]
    saved = json.loads(store.meta_path(meta["id"]).read_text())
    assert next(c for c in saved["columns"] if c["key"] == "flag")["role"] == "category"
    bad = [ColumnSpec(key=s.key, header=s.header, role="industry") for s in specs]
    with pytest.raises(IngestError, match="one column only"):
        remap_dataset(store, meta["id"], bad)
    assert list(read_accounts(store, meta["id"])["revenue_m"]) == [1_500_000, 2_000_000]


def test_duplicate_blank_and_hostile_headers_are_kept_safe(store, tmp_path):
    text = 'name,name,,"x""; DROP TABLE accounts; --",row_id\nA,B,C,D,E\n'
    meta = ingest_dataset(store, write(tmp_path, "h.csv", text)).meta
    keys = [c["key"] for c in meta["columns"]]
    assert len(set(keys)) == 5
    assert 'x"; DROP TABLE accounts; --' in [c["header"] for c in meta["columns"]]
    df = read_accounts(store, meta["id"])
    assert len(df) == 1 and list(df.iloc[0, 1:]) == ["A", "B", "C", "D", "E"]


def test_utf16_bom_detected(tmp_path):
    from icp_core.ingest import detect_encoding

    path = write(tmp_path, "u.csv", codecs.BOM_UTF16_LE + "a,b\n1,2\n".encode("utf-16-le"))
    assert detect_encoding(path) == "utf-16"
