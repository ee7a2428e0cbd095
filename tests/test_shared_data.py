"""Every real third-party file in ../shared/data loads with a truthful quality report."""

import pandas as pd
import pytest

from icp_core.ingest import ingest_dataset
from icp_core.store import DatasetStore, new_token, read_accounts
from tests.conftest import SHARED_DATA

FILES = sorted(SHARED_DATA.glob("*.csv"))


def test_shared_data_is_there():
    # CI has ../shared/data beside the clone; a missing folder must fail, not skip
    assert len(FILES) >= 10, f"expected the shared data files in {SHARED_DATA}"


SHEETS = {"real_sdlv_invoices_workbook.xlsx": "Data"}
HEADER_LINE = {"real_asx_listed_companies.csv": 3}  # a title line and a blank line above the header


def pandas_frame(path) -> pd.DataFrame:
    """The file as pandas reads it, told where the table is (an independent count of its rows)."""
    if path.suffix == ".xlsx":
        return pd.read_excel(path, sheet_name=SHEETS.get(path.name, 0), dtype=str)
    sep = ";" if "semicolon" in path.name else ","
    skip = HEADER_LINE.get(path.name, 1) - 1
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, skiprows=skip)
    except UnicodeDecodeError:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252", sep=sep, skiprows=skip)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """loaded(*paths) -> (store, meta): each file (or accounts + opportunities pair) ingested once per
    module into one store; the tests only read what was loaded."""
    store = DatasetStore(tmp_path_factory.mktemp("shared_data"), new_token())
    done = {}

    def get(*paths):
        if paths not in done:
            done[paths] = ingest_dataset(store, *paths).meta
        return store, done[paths]
    return get


@pytest.fixture(scope="module")
def frames():
    """frames(path) -> pandas_frame(path), read once per module (callers copy before changing it)."""
    done = {}

    def get(path):
        if path not in done:
            done[path] = pandas_frame(path)
        return done[path]
    return get


def distinct_keys(values: pd.Series) -> int:
    """Accounts a key column names: case-, space-, soft-hyphen-insensitive, blanks left out."""
    keys = values.fillna("").astype(str).str.lower().str.replace(r"[\s\u00ad\u200b]+", "", regex=True)
    return int(keys[keys != ""].nunique())


ALL_FILES = sorted(SHARED_DATA.glob("*.csv")) + sorted(SHARED_DATA.glob("*.xlsx"))

# file: (shape, key header, key role, header line/row, encoding (CSV) or sheet (Excel))
EXPECTED = {
    "crunchbase_2013_companies.csv": ("accounts", "name", "account_name", 1, "cp1252"),
    "ibm_telco_customer_churn.csv": ("accounts", "customerID", "account_id", 1, "utf-8"),
    "maven_crm_accounts.csv": ("accounts", "account", "account_name", 1, "utf-8"),
    "maven_crm_data_dictionary.csv": ("accounts", None, None, 1, "utf-8"),
    "maven_crm_products.csv": ("accounts", None, None, 1, "utf-8"),
    "maven_crm_sales_pipeline.csv": ("deals", "account", "account_name", 1, "utf-8"),
    "maven_crm_sales_teams.csv": ("accounts", None, None, 1, "utf-8"),
    "ravenstack_accounts.csv": ("accounts", "account_id", "account_id", 1, "utf-8"),
    "ravenstack_churn_events.csv": ("lines", "account_id", "account_id", 1, "utf-8"),
    "ravenstack_subscriptions.csv": ("lines", "account_id", "account_id", 1, "utf-8"),
    "real_apollo_accounts_export.csv": ("accounts", "Apollo Account Id", "account_id", 1, "utf-8"),
    "real_asx_listed_companies.csv": ("accounts", "Company name", "account_name", 3, "utf-8"),
    "real_india_startup_funding_deals.csv": ("lines", "StartupName", "account_name", 1, "cp1252"),
    "real_rtr_tv_fund_projects_semicolon.csv": ("lines", "Produzent", "account_name", 1, "utf-8"),
    "real_sdlv_business_accounts.xlsx": ("accounts", "Business Account", "account_id", 1, "Data"),
    "real_sdlv_contacts.xlsx": ("contacts", "Business Account", "account_id", 1, "Data"),
    "real_sdlv_invoices_workbook.xlsx": ("lines", "Customer", "account_id", 1, "Data"),
    "real_sdlv_opportunities.xlsx": ("deals", "Business Account", "account_id", 1, "Data"),
}


def test_every_shared_file_has_an_expectation():
    assert sorted(p.name for p in ALL_FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_shared_file_loads_with_the_right_shape_key_and_roles(loaded, frames, path):
    """Issue 14: the shape, the key and its role, the header row and the encoding or sheet of every
    shared file, and the accounts after the roll-up counted independently with pandas."""
    shape, key, key_role, header_row, where = EXPECTED[path.name]
    _, meta = loaded(path)
    q, src, got = meta["quality"], meta["quality"]["source"], meta["shape"]
    frame = frames(path)
    assert (got["shape"], got["key_header"], src["header_row"]) == (shape, key, header_row)
    assert (src["sheet"] if path.suffix == ".xlsx" else src["encoding"]) == where
    assert q["rows_rejected"] == 0
    assert got["rows"] == len(frame)  # every row of the table read, no title or total row among them
    roles = {c["header"]: c["role"] for c in meta["columns"]}
    if key:
        assert roles[key] == key_role
    if shape == "accounts":
        assert meta["rows"] == len(frame)
    else:
        assert meta["rows"] == distinct_keys(frame[key])
        assert got["rows_without_key"] == int(frame[key].fillna("").astype(str).str.strip().eq("").sum())
    for c in q["columns"]:
        assert c["parsed"] + c["null"] + c["unparseable"] == c["rows"] == q["rows_loaded"], c["header"]
        assert bool(c["unparseable_examples"]) == bool(c["unparseable"]), c["header"]


@pytest.mark.parametrize("name, key, stage, won, lost", [
    ("maven_crm_sales_pipeline.csv", "account", "deal_stage", "Won", "Lost"),
    ("real_sdlv_opportunities.xlsx", "Business Account", "Status", "Won", "Lost"),  # Status: all 271 lost deals
])
def test_deal_files_roll_up_with_their_won_and_lost_counts(loaded, frames, name, key, stage, won, lost):
    store, meta = loaded(SHARED_DATA / name)
    frame = frames(SHARED_DATA / name)
    frame = frame[frame[key].fillna("").str.strip() != ""]
    df = read_accounts(store, meta["id"])
    assert int(df["opp_won_count"].sum()) == int((frame[stage] == won).sum())
    assert int(df["opp_lost_count"].sum()) == int((frame[stage] == lost).sum())
    assert int(df["opp_open_count"].sum()) == len(frame) - int(frame[stage].isin([won, lost]).sum())
    assert meta["quality"]["rollup"]["stage_column"] == stage


def shares(meta):
    return {c["header"]: c for c in meta["quality"]["columns"]}


def test_maven_accounts(loaded):
    _, meta = loaded(SHARED_DATA / "maven_crm_accounts.csv")
    cols = shares(meta)
    assert {h: c["role"] for h, c in cols.items()} == {
        "account": "account_name", "sector": "industry", "year_established": "founded_year",
        "revenue": "annual_revenue", "employees": "employees", "office_location": "country",
        "subsidiary_of": "category",
    }
    assert cols["office_location"]["unparseable"] == 1
    assert cols["office_location"]["unparseable_examples"] == [{"value": "Philipines", "rows": 1}]
    hints = {h["value"]: h["suggestion"] for h in meta["quality"]["hints"]}
    assert hints["technolgy"] == "technology" and hints["Philipines"] == "Philippines"
    assert cols["subsidiary_of"]["null"] == 70 and cols["revenue"]["parsed_share"] == 1.0


def test_maven_accounts_plus_pipeline_roll_up_with_win_rates(store):
    meta = ingest_dataset(store, SHARED_DATA / "maven_crm_accounts.csv",
                          SHARED_DATA / "maven_crm_sales_pipeline.csv").meta
    r = meta["quality"]["rollup"]
    assert r["opportunity_rows"] == 8800 and r["rows_without_account"] == 1425
    assert r["accounts_with_opportunities"] == 85 and r["unmatched_keys"] == 0
    df = read_accounts(store, meta["id"])
    pipeline = pd.read_csv(SHARED_DATA / "maven_crm_sales_pipeline.csv")
    closed = pipeline[pipeline.deal_stage.isin(["Won", "Lost"])].dropna(subset=["account"])
    expected = closed.groupby("account").deal_stage.apply(lambda s: (s == "Won").mean())
    got = df.set_index("account")["opp_win_rate"]
    assert len(expected) == 85
    for account, rate in expected.items():
        assert got[account] == pytest.approx(rate), account
    won_value = pipeline[pipeline.deal_stage == "Won"].groupby("account").close_value.sum()
    assert df.set_index("account")["opp_won_value"]["Acme Corporation"] == pytest.approx(won_value["Acme Corporation"])
    assert int(df["opp_won_count"].sum()) == int((closed.deal_stage == "Won").sum())
    assert int(df["opp_open_count"].sum()) == int(pipeline.dropna(subset=["account"]).deal_stage.isin(["Engaging", "Prospecting"]).sum())


def test_crunchbase_latin1_excel_damage(loaded):
    store, meta = loaded(SHARED_DATA / "crunchbase_2013_companies.csv")
    q = meta["quality"]
    assert q["source"]["encoding"] in ("cp1252", "latin-1")
    cols = shares(meta)
    assert cols["name"]["role"] == "account_name" and cols["country_code"]["role"] == "country"
    assert cols["category_code"]["role"] == "industry" and cols["founded_year"]["role"] == "founded_year"
    assert cols["funding_total_usd"]["role"] == "number" and cols["funding_total_usd"]["parsed_share"] > 0.9
    assert cols["founded_at"]["role"] == "date" and cols["founded_at"]["parsed_share"] > 0.75
    assert cols["country_code"]["parsed_share"] > 0.9
    df = read_accounts(store, meta["id"])
    assert (df["name"] == "#NAME?").sum() == 0  # Excel damage is a placeholder, not a name
    assert df["funding_total_usd"].max() < 1e11


def test_telco_blank_total_charges_are_empty_not_text(loaded):
    store, meta = loaded(SHARED_DATA / "ibm_telco_customer_churn.csv")
    cols = shares(meta)
    assert cols["TotalCharges"]["role"] == "number"
    assert cols["TotalCharges"]["parsed"] == 7032 and cols["TotalCharges"]["null"] == 11
    assert cols["Churn"]["role"] == "churned" and cols["Churn"]["parsed_share"] == 1.0
    assert cols["customerID"]["role"] == "account_id"
    df = read_accounts(store, meta["id"])
    assert df["churn"].sum() == 1869


def test_ravenstack_booleans(loaded):
    _, meta = loaded(SHARED_DATA / "ravenstack_accounts.csv")
    cols = shares(meta)
    assert cols["churn_flag"]["role"] == "churned" and cols["is_trial"]["role"] == "boolean"
    assert cols["country"]["role"] == "country" and cols["country"]["parsed_share"] == 1.0
    assert cols["signup_date"]["role"] == "signup_date" and cols["signup_date"]["parsed_share"] == 1.0
