"""Roles and values of real CRM exports (issue 14, items 5 and 6, deal-stage vocabularies).

Date-times, decimal commas, missing markers, identifiers that are not traits, non-English
headers and the won/lost vocabularies of HubSpot, Salesforce and Pipedrive.
"""

import csv
import datetime as dt
import io

import pandas as pd
import pytest

from icp_core.clean import detect_date_formats, parse_numbers
from icp_core.ingest import ingest_dataset
from icp_core.roles import ROLES, column_keys, detect_roles, normalise_header
from icp_core.sql import quote_ident
from icp_core.store import read_accounts
from tests.conftest import clean_values


def write_csv(tmp_path, name, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def ingest(store, tmp_path, header, rows, name="a.csv"):
    meta = ingest_dataset(store, write_csv(tmp_path, name, header, rows)).meta
    return meta, {c["header"]: c["role"] for c in meta["columns"] if c["source"] == "accounts"}


def detect(con, header, rows):
    """{header: role} from detect_roles on a table of text columns (no file shape involved)."""
    keys = column_keys(header)
    cols = ", ".join(f"{quote_ident(k)} VARCHAR" for k in keys)
    con.execute(f"CREATE OR REPLACE TABLE raw_t ({cols})")
    con.executemany(f"INSERT INTO raw_t VALUES ({', '.join('?' for _ in keys)})",
                    [[v if v != "" else None for v in r] for r in rows])
    return {s.header: s.role for s in detect_roles(con, "raw_t", keys, header)}


def dates(series):
    return [None if pd.isna(x) else pd.Timestamp(x).date() for x in series]


def column_spec(meta, header):
    return next(c for c in meta["columns"] if c["header"] == header)


# ---- 1. dates and date-times ---------------------------------------------------------------

DATE_ROWS = [
    ["A1", "Acme", "2023-05-31 14:27", "02/24/26 08:55 PM", "2/24/2003 0:00", "2024-03-15T10:22:00Z", "31.05.2023"],
    ["A2", "Beta", "2023-06-01 09:05", "12/01/25 10:15 AM", "11/3/2010 13:45", "2024-04-01T08:00:00Z", "01.06.2023"],
    ["A3", "Gamma", "2023-07-15 17:40", "07/04/24 12:00 PM", "1/9/2015 0:00", "2024-05-20T23:59:59Z", "15.07.2023"],
    ["A4", "Delta", "2023-08-02 08:00", "03/15/25 01:30 AM", "5/30/2021 9:00", "2024-06-11T00:00:00Z", "02.08.2023"],
]
DATE_HEADER = ["Account ID", "Company", "Close Date", "Last Activity", "Created", "Updated At", "Datum"]


def test_date_times_are_dates(store, tmp_path):
    meta, roles = ingest(store, tmp_path, DATE_HEADER, DATE_ROWS)
    assert roles == {"Account ID": "account_id", "Company": "account_name", "Close Date": "close_date",
                     "Last Activity": "date", "Created": "signup_date", "Updated At": "date", "Datum": "date"}
    df = read_accounts(store, meta["id"])
    assert dates(df["close_date"]) == [dt.date(2023, 5, 31), dt.date(2023, 6, 1), dt.date(2023, 7, 15),
                                      dt.date(2023, 8, 2)]
    assert dates(df["last_activity"])[0] == dt.date(2026, 2, 24)
    assert dates(df["created"])[:2] == [dt.date(2003, 2, 24), dt.date(2010, 11, 3)]
    assert dates(df["updated_at"])[2] == dt.date(2024, 5, 20)
    assert dates(df["datum"])[0] == dt.date(2023, 5, 31) and dates(df["datum"])[3] == dt.date(2023, 8, 2)


def test_iso_date_times_with_zone_and_fraction(con):
    values = ["2024-03-15T10:22:00Z", "2024-03-16T10:22:00.123Z", "2024-03-17T23:10:00+02:00",
              "2024-03-18 07:00:00 UTC", "2024-03-19 15:35:10.183000"]
    con.execute("CREATE TABLE iso_t AS SELECT unnest(?::VARCHAR[]) AS d", [values])
    fmts = detect_date_formats(con, "iso_t", "d")
    assert [str(d) for d in clean_values(con, "date", values, date_formats=fmts)] == \
        ["2024-03-15", "2024-03-16", "2024-03-17", "2024-03-18", "2024-03-19"]


# ---- 2. decimal commas -----------------------------------------------------------------------

def test_decimal_comma_column_is_read_per_column(con):
    # consistently decimal-comma: '1.500' is fifteen hundred, nbsp / narrow nbsp thousands
    assert parse_numbers(con, ["1.234,56", "1 234,56", "16 500 €", "1.500", "2,5", "1\u00a0234,56",
                               "1\u202f234,56"]) == pytest.approx([1234.56, 1234.56, 16500, 1500, 2.5, 1234.56,
                                                                   1234.56])
    # a column mixing conventions is not turned into garbage: each value its own reading
    assert parse_numbers(con, ["1,234", "1.234,56", "2,000", "1.500"]) == \
        pytest.approx([1234, 1234.56, 2000, 1.5])
    # decimal point column: unchanged
    assert parse_numbers(con, ["1.500", "2.25", "1,234"]) == pytest.approx([1.5, 2.25, 1234])


def test_decimal_comma_column_through_ingest(store, tmp_path):
    rows = [["A1", "Acme", "1.234,56"], ["A2", "Beta", "16 500 €"], ["A3", "Gamma", "1.500"],
            ["A4", "Delta", "2.750.000"], ["A5", "Eps", "980,5"]]
    meta, roles = ingest(store, tmp_path, ["Account ID", "Company", "Umsatz"], rows)
    assert roles["Umsatz"] == "annual_revenue"
    df = read_accounts(store, meta["id"])
    assert list(df["umsatz"]) == pytest.approx([1234.56, 16500, 1500, 2_750_000, 980.5])
    assert column_spec(meta, "Umsatz")["role"] == "annual_revenue"


# ---- 3. missing markers ------------------------------------------------------------------------

MISSING = ["NA", "N/A", "n/a", "Select", "--", "-", "none", "null", "#N/A", "(blank)", "Non renseigné",
           "unknown", "undisclosed", "Not disclosed", "--None--", "keine Angabe", "Não informado"]


def test_missing_markers_are_null_not_unreadable(con):
    for text in MISSING:
        assert con.execute("SELECT icp_nullify(?)", [text]).fetchone()[0] is None, text
        assert clean_values(con, "number", [text]) == [None], text
        assert parse_numbers(con, [text]) == [None], text
        assert clean_values(con, "date", [text], date_formats=["%Y-%m-%d"]) == [None], text
        assert clean_values(con, "country", [text]) == [None], text
    # a bare NA is still kept in a category (North America in a region column)
    assert clean_values(con, "category", ["NA", "EMEA"]) == ["NA", "EMEA"]


def test_missing_markers_in_a_number_column_are_missing(store, tmp_path):
    rows = [["A1", "Acme", "120"], ["A2", "Beta", "NA"], ["A3", "Gamma", "Non renseigné"],
            ["A4", "Delta", "undisclosed"], ["A5", "Eps", "50"]]
    meta, roles = ingest(store, tmp_path, ["Account ID", "Company", "Employees"], rows)
    assert roles["Employees"] == "employees"
    q = next(c for c in meta["quality"]["columns"] if c["header"] == "Employees")
    assert (q["parsed"], q["null"], q["unparseable"]) == (2, 3, 0)


# ---- 4. identifiers and contact details are not traits ---------------------------------------

LEADS_HEADER = ["Id", "IsDeleted", "MasterRecordId", "Salutation", "First Name", "Last Name", "Full Name",
                "Title", "Company", "Email", "Phone", "Zip", "Website", "Lead Owner", "Account Owner",
                "OwnerId", "CreatedById", "ParentId", "Lead ID", "Description", "Contact Info", "Salut", "Ref",
                "Industry"]


def _lead_rows():
    sal = ["Mr.", "Ms.", "Dr.", "Ms.", "Mr.", "Mr.", "Ms.", "Mr."]
    first = ["John", "Mary", "Ann", "Lisa", "Tom", "Bob", "Eve", "Sam"]
    last = ["Smith", "Jones", "Lee", "Brown", "Clark", "Davis", "Moore", "Hall"]
    titles = ["CEO", "CFO", "VP Sales", "CTO", "CEO", "Director", "CFO", "CEO"]
    owners = ["Alice Wong", "Bob Ray", "Alice Wong", "Bob Ray", "Alice Wong", "Bob Ray", "Alice Wong", "Bob Ray"]
    industries = ["Fintech", "SaaS", "Fintech", "Retail", "SaaS", "Fintech", "Retail", "SaaS"]
    rows = []
    for i in range(8):
        sfid = f"00Q5g00000ABC{i:02d}XYZ"  # 18 characters
        rows.append([
            f"0015g00000Acc{i:02d}QAA", "0", "", sal[i], first[i], last[i], f"{first[i]} {last[i]}", titles[i],
            f"Company {i}", f"{first[i].lower()}@example{i}.com", f"'+1 208-555-01{i:02d}", f"8370{i}",
            f"https://www.example{i}.com", owners[i], owners[i], "0055g00000OWNAAA", "0055g00000CRTAAA",
            "", sfid, f"Met at the expo, wants a demo of product {i} next quarter with the team",
            f"{first[i].lower()}.{last[i].lower()}@corp{i}.io", sal[i], f"a0X5g00000{i:02d}ABC", industries[i],
        ])
    return rows


def test_identifiers_and_contact_details_are_not_traits(con):
    roles = detect(con, LEADS_HEADER, _lead_rows())
    assert roles == {
        "Id": "account_id", "IsDeleted": "record_id", "MasterRecordId": "record_id",
        "Salutation": "person_name", "First Name": "person_name", "Last Name": "person_name",
        "Full Name": "person_name", "Title": "job_title", "Company": "account_name", "Email": "email",
        "Phone": "phone", "Zip": "postal_code", "Website": "domain", "Lead Owner": "owner",
        "Account Owner": "owner", "OwnerId": "owner", "CreatedById": "record_id", "ParentId": "record_id",
        "Lead ID": "record_id", "Description": "text", "Contact Info": "email", "Salut": "person_name",
        "Ref": "record_id", "Industry": "industry",
    }
    for role in ("email", "phone", "postal_code", "person_name", "job_title", "owner", "record_id"):
        assert ROLES[role].kind in ("text", "id")
    # a header naming a contact detail is believed only when the values fit
    rows = [[f"A{i}", f"Co {i}", b, str(n)] for i, (b, n) in enumerate(
        [("true", 3), ("false", 5), ("true", 0), ("false", 12), ("true", 7)])]
    roles = detect(con, ["Account ID", "Company", "Email Opt Out", "Phone Calls"], rows)
    assert roles["Email Opt Out"] == "boolean" and roles["Phone Calls"] == "number"


def test_salutation_column_is_never_a_country(con):
    rows = [[f"A{i}", f"Co {i}", s] for i, s in enumerate(["Mr.", "Ms.", "Ms.", "Mr.", "Ms.", "Mr."])]
    assert detect(con, ["Account ID", "Company", "Salutation"], rows)["Salutation"] == "person_name"
    assert detect(con, ["Account ID", "Company", "Honorific"], rows)["Honorific"] == "person_name"


def test_state_codes_are_not_countries_but_country_names_are(con):
    rows = [[f"A{i}", f"Co {i}", s, c] for i, (s, c) in enumerate(
        [("CA", "Germany"), ("IN", "France"), ("PA", "Germany"), ("GA", "Spain"), ("DE", "France")])]
    roles = detect(con, ["Account ID", "Company", "State", "HQ"], rows)
    assert roles["State"] == "category" and roles["HQ"] == "country"


# ---- 5. non-English headers ------------------------------------------------------------------

def test_headers_are_accent_folded():
    assert normalise_header("País") == "pais"
    assert normalise_header("Funcionários") == "funcionarios"
    assert normalise_header("Chiffre d'affaires") == "chiffre d affaires"
    assert normalise_header("Größe") == "grosse"


@pytest.mark.parametrize("header,rows", [
    (["Empresa", "Setor", "País", "Funcionários", "Faturamento", "Cidade"],
     [["Alfa", "Varejo", "Brasil", "120", "R$ 1.200.000", "São Paulo"],
      ["Beta", "Tecnologia", "Portugal", "45", "R$ 800.000", "Lisboa"],
      ["Gama", "Varejo", "Brasil", "300", "R$ 2.500.000", "Rio"]]),
    (["Firma", "Branche", "Land", "Mitarbeiter", "Umsatz", "Stadt"],
     [["Alpha GmbH", "Handel", "Deutschland", "120", "1.200.000 €", "Berlin"],
      ["Beta AG", "Software", "Österreich", "45", "800.000 €", "Wien"],
      ["Gamma KG", "Handel", "Schweiz", "300", "2.500.000 €", "Zürich"]]),
    (["Raison sociale", "Secteur", "Pays", "Effectif", "Chiffre d'affaires", "Ville"],
     [["Alpha SA", "Commerce", "France", "120", "1 200 000 €", "Paris"],
      ["Beta SARL", "Logiciel", "Suisse", "45", "800 000 €", "Genève"],
      ["Gamma SAS", "Commerce", "France", "300", "2 500 000 €", "Lyon"]]),
    (["Empresa", "Sector", "Pais", "Empleados", "Ingresos", "Ciudad"],
     [["Alfa SL", "Comercio", "España", "120", "1.200.000 €", "Madrid"],
      ["Beta SA", "Software", "México", "45", "800.000 €", "CDMX"],
      ["Gama SL", "Comercio", "España", "300", "2.500.000 €", "Sevilla"]]),
])
def test_non_english_headers_get_roles(store, tmp_path, header, rows):
    meta, roles = ingest(store, tmp_path, header, rows)
    assert [roles[h] for h in header] == ["account_name", "industry", "country", "employees",
                                           "annual_revenue", "category"]
    df = read_accounts(store, meta["id"])
    revenue = column_spec(meta, header[4])["key"]
    assert list(df[revenue]) == pytest.approx([1_200_000, 800_000, 2_500_000])


def test_other_non_english_headers():
    from icp_core.roles import match_header_role

    for header, role in [("Industrie", "industry"), ("Salariés", "employees"), ("Receita", "annual_revenue"),
                         ("Unternehmen", "account_name"), ("Entreprise", "account_name"),
                         ("Société", "account_name"), ("Secteur d'activité", "industry")]:
        assert match_header_role(header)[0] == role, header


# ---- 6. deal stage vocabularies ------------------------------------------------------------

STAGES = [
    ("Closed: won", "won"), ("Closed won", "won"), ("Closed: lost", "lost"), ("Closed: abandoned", "lost"),
    ("Awaiting outcome", "open"), ("Appointment scheduled", "open"), ("Qualified to buy", "open"),
    ("Presentation scheduled", "open"), ("Decision maker bought-in", "open"), ("Contract sent", "open"),
    ("Closed Won", "won"), ("Closed Lost", "lost"), ("Needs Analysis", "open"), ("Value Proposition", "open"),
    ("Id. Decision Makers", "open"), ("Perception Analysis", "open"), ("Negotiation/Review", "open"),
    ("won", "won"), ("lost", "lost"), ("open", "open"), ("deleted", "lost"),
    ("1", "won"), ("true", "won"), ("0", "lost"), ("false", "lost"), ("", None),
]


def test_stage_vocabularies(con):
    assert clean_values(con, "stage", [t for t, _ in STAGES]) == [e for _, e in STAGES]


def test_stage_column_beats_a_won_flag(con):
    stages = ["Closed Won", "Closed Lost", "Prospecting", "Closed Won", "Needs Analysis", "Closed Lost"]
    rows = [[f"O{i}", f"A{i}", "1" if s == "Closed Won" else "", s] for i, s in enumerate(stages)]
    roles = detect(con, ["Opportunity ID", "Account ID", "IsWon", "StageName"], rows)
    assert roles == {"Opportunity ID": "record_id", "Account ID": "account_id", "IsWon": "boolean",
                     "StageName": "deal_stage"}
    assert clean_values(con, "stage", stages) == ["won", "lost", "open", "won", "open", "lost"]
    for header in ("Stage Name", "Deal Stage", "Opportunity Stage"):
        roles = detect(con, ["Opportunity ID", "Account ID", "IsWon", header], rows)
        assert roles[header] == "deal_stage" and roles["IsWon"] == "boolean", header


def test_hubspot_deal_stage_beats_closed_flags(con):
    stages = ["Closed won", "Closed lost", "Appointment scheduled", "Closed won", "Awaiting outcome",
              "Closed: abandoned"]
    rows = [[f"A{i}", f"Co {i}", "true" if s.startswith("Closed") else "false",
             "true" if s == "Closed won" else "false", s] for i, s in enumerate(stages)]
    roles = detect(con, ["Account ID", "Company", "Is Deal Closed?", "Is Closed Won", "Deal Stage"], rows)
    assert roles["Deal Stage"] == "deal_stage"
    assert roles["Is Deal Closed?"] == "boolean" and roles["Is Closed Won"] == "boolean"
    assert clean_values(con, "stage", stages) == ["won", "lost", "open", "won", "open", "lost"]


def test_pipedrive_status(con):
    status = ["won", "lost", "open", "deleted", "won", "open"]
    rows = [[f"D{i}", f"Co {i}", s] for i, s in enumerate(status)]
    assert detect(con, ["Deal ID", "Organization", "Status"], rows)["Status"] == "deal_stage"
    assert clean_values(con, "stage", status) == ["won", "lost", "open", "lost", "won", "open"]
