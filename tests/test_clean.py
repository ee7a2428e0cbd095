"""Every cleaning rule, with the examples the product promises, plus property-based tests."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icp_core.clean import PLACEHOLDERS, country_lookup_rows, detect_date_formats, parse_numbers
from tests.conftest import clean_values

NUMBERS = [
    ("$2.5M", 2_500_000), ("€1.2m", 1_200_000), ("36.9 Million", 36_900_000),
    ("3.5 Billion", 3_500_000_000), ("2,500,000", 2_500_000), ("2.10E+07", 21_000_000),
    ("1.1k", 1_100), ("2500000", 2_500_000), ("-3.5", -3.5), ("(1,200)", -1_200),
    ("2.500.000", 2_500_000), ("1.234,56", 1234.56), ("1 234,5", 1234.5), ("1'000'000", 1_000_000),
    ("$ 48,000", 48_000), ("USD 1.5bn", 1_500_000_000), ("45%", 45), ("£850k", 850_000),
    ("1,5", 1.5), ("1.234", 1.234), (" 12 ", 12),
    # Indian grouping (lakh, crore), as in a real funding export: AmountInUSD "20,00,00,000"
    ("20,00,00,000", 200_000_000), ("1,00,000", 100_000), ("₹ 12,50,000.50", 1_250_000.5),
]
BANDS = [
    ("1,001-5,000", 3000.5), ("1-10", 5.5), ("51-200", 125.5), ("10,000+", 10_000),
    ("10k+", 10_000), ("1001 to 5000", 3000.5), ("$1-5M", 3_000_000), ("$1M - $5M", 3_000_000),
    ("500 - 1,000 employees", 750), ("<50", 25), ("under 100", 50), (">5000", 5000),
    ("1,001–5,000", 3000.5),
]
NOT_NUMBERS = ["abc", "N/A", "-", "#NAME?", "", "inf", "nan", "12abc", "2012-06", "1-2-3", "Select"]


@pytest.mark.parametrize("text,expected", NUMBERS + BANDS)
def test_numbers_and_bands_parse(con, text, expected):
    assert parse_numbers(con, [text])[0] == pytest.approx(expected)


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_non_numbers_are_null(con, text):
    assert parse_numbers(con, [text])[0] is None


def test_parse_numbers_keeps_order_and_duplicates(con):
    assert parse_numbers(con, ["2", "1k", None, "2", "x"]) == [2.0, 1000.0, None, 2.0, None]


PLACEHOLDER_CASES = PLACEHOLDERS + ("  N/A ", "SELECT", "#N/A")


@pytest.fixture(scope="module")
def placeholders_cleaned():
    """Every placeholder cleaned by the category and the number rule, one query per rule (both are
    per-value expressions: a value's neighbours in the column do not change it)."""
    import duckdb

    from icp_core.clean import install_cleaning_macros

    c = duckdb.connect()
    install_cleaning_macros(c)
    texts = list(PLACEHOLDER_CASES)
    cleaned = {kind: dict(zip(texts, clean_values(c, kind, texts), strict=True)) for kind in ("category", "number")}
    c.close()
    return cleaned


@pytest.mark.parametrize("text", PLACEHOLDER_CASES)
def test_placeholders_become_null(placeholders_cleaned, text):
    assert placeholders_cleaned["category"][text] is None
    assert placeholders_cleaned["number"][text] is None


def test_na_is_kept_as_a_region(con):
    assert clean_values(con, "category", ["NA", "EMEA"]) == ["NA", "EMEA"]


@pytest.mark.parametrize("text,expected", [
    ("Yes", True), ("No", False), ("TRUE", True), ("FALSE", False), ("1", True), ("0", False),
    ("Y", True), ("n", False), ("t", True), ("maybe", None), ("", None),
])
def test_booleans(con, text, expected):
    assert clean_values(con, "boolean", [text]) == [expected]


@pytest.mark.parametrize("text,expected", [
    ("Yes", True), ("No", False), ("Churned", True), ("Active", False), ("Retained", False),
    ("cancelled", True), ("TRUE", True),
])
def test_churn_flags(con, text, expected):
    assert clean_values(con, "churn", [text]) == [expected]


@pytest.mark.parametrize("text,expected", [
    ("Closed Won", "won"), ("Closed Lost", "lost"), ("Won", "won"), ("Lost", "lost"),
    ("Engaging", "open"), ("Open", "open"), ("Prospecting", "open"), ("closedwon", "won"),
    ("closedlost", "lost"), ("appointmentscheduled", "open"), ("Negotiation/Review", "open"),
    ("Disqualified", "lost"), ("Yes", "won"), ("No", "lost"), ("Purple", None),
])
def test_deal_stages_open_is_not_lost(con, text, expected):
    assert clean_values(con, "stage", [text]) == [expected]


@pytest.mark.parametrize("text,expected", [
    ("US", "United States"), ("USA", "United States"), ("U.S.", "United States"),
    ("United States", "United States"), ("united states of america", "United States"),
    ("UK", "United Kingdom"), ("GB", "United Kingdom"), ("Great Britain", "United Kingdom"),
    ("DEU", "Germany"), ("de", "Germany"), ("Korea, Republic of", "South Korea"),
    ("Philipines", None), ("Atlantis", None),
    # a French charity's CRM (real upload): its country names are French; German, Spanish too
    ("États-Unis", "United States"), ("Belgique", "Belgium"), ("Espagne", "Spain"), ("Royaume-Uni", "United Kingdom"),
    ("Deutschland", "Germany"), ("España", "Spain"), ("Paesi Bassi", "Netherlands"),
    ("Georgia", "Georgia"), ("Niger", "Niger"),  # an English spelling wins over any translation
])
def test_countries_to_one_canonical_name(con, text, expected):
    assert clean_values(con, "country", [text]) == [expected]


def test_country_lookup_has_every_iso_country():
    names = {name for _, name in country_lookup_rows()}
    assert len(names) >= 249 and "Kenya" in names and "Philippines" in names


def test_industry_is_trimmed_and_case_folded(con):
    assert clean_values(con, "category_folded", ["  Fintech ", "FINTECH", "Health  Care"]) == \
        ["fintech", "fintech", "health care"]


def test_categories_are_trimmed_and_whitespace_collapsed(con):
    assert clean_values(con, "category", ["  Series   A "]) == ["Series A"]


@pytest.mark.parametrize("text,expected", [
    ("Salesforce; HubSpot; Snowflake", ["HubSpot", "Salesforce", "Snowflake"]),
    ("AWS, GCP", ["AWS", "GCP"]), ("Stripe|Zendesk", ["Stripe", "Zendesk"]),
    ("Slack ;  Slack; N/A", ["Slack"]), ("Jira", ["Jira"]),
])
def test_technologies_split_into_a_list(con, text, expected):
    assert sorted(clean_values(con, "list", [text])[0]) == expected


def test_year_from_numbers_and_dates(con):
    assert clean_values(con, "year", ["1996", "2012-06-01", "1996.0", "soon"], date_formats=["%Y-%m-%d"]) == \
        [1996, 2012, 1996, None]


def test_date_formats_detected_per_column(con):
    con.execute("CREATE TABLE us AS SELECT unnest(['3/15/2020', '12/1/2021', '1/2/2022']) AS d")
    assert detect_date_formats(con, "us", "d")[0] == "%m/%d/%Y"
    con.execute("CREATE TABLE eu AS SELECT unnest(['15/03/2020', '28/12/2021', '01/02/2022']) AS d")
    assert detect_date_formats(con, "eu", "d")[0] == "%d/%m/%Y"
    con.execute("CREATE TABLE iso AS SELECT unnest(['2020-03-15', '2021-12-28']) AS d")
    fmts = detect_date_formats(con, "iso", "d")
    assert fmts[0] == "%Y-%m-%d"
    out = clean_values(con, "date", ["2020-03-15", "garbage"], date_formats=fmts)
    assert str(out[0]) == "2020-03-15" and out[1] is None


@pytest.fixture(scope="module")
def mcon():
    import duckdb

    c = duckdb.connect()
    yield c
    c.close()


# ---- property-based: the number and band parsers round-trip what they read -------------
# Each example is a batch of generated values parsed in one call (one DuckDB query per example,
# not one per value): more values are checked, in a fraction of the time. A batch is one column to
# the parser, which decides the separator convention per column; none of the generated texts
# below carries a decimal-comma token ('2,5', '1.234,5', '1.234.567'), so each reads as it would
# alone (the decimal-comma columns are covered by NUMBERS above and the tests further down).

def _with_commas(n: int) -> str:
    return f"{n:,}"


def _parse_checked(con, cases: list[tuple[str, float]], **approx) -> None:
    """Parse all texts of `cases` in one call; each must give its expected value."""
    got = parse_numbers(con, [text for text, _ in cases])
    wrong = [(text, value, expected) for (text, expected), value in zip(cases, got, strict=True)
             if value is None or value != pytest.approx(expected, **approx)]
    assert not wrong, wrong


BATCH = {"min_size": 1, "max_size": 12}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), **BATCH))
def test_thousands_separated_integers_round_trip(mcon, ns):
    cases = [(text, n) for n in ns for text in (_with_commas(n), f"${_with_commas(n)}", str(n))]
    got = parse_numbers(mcon, [text for text, _ in cases])
    assert got == [n for _, n in cases], [(t, g) for (t, n), g in zip(cases, got, strict=False) if g != n]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=99_999),
                          st.sampled_from([("k", 1e3), ("M", 1e6), ("B", 1e9), (" Million", 1e6)])), **BATCH))
def test_suffixed_amounts_round_trip(mcon, amounts):
    _parse_checked(mcon, [(f"${hundredths / 100:.2f}{suffix}", hundredths / 100 * scale)
                          for hundredths, (suffix, scale) in amounts], rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False), **BATCH))
def test_plain_and_scientific_floats_round_trip(mcon, xs):
    _parse_checked(mcon, [(text, float(text)) for x in xs for text in (repr(x), f"{x:.6E}")],
                   rel=1e-12, abs=1e-300)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9)),
                **BATCH))
def test_bands_give_their_midpoint(mcon, pairs):
    cases = []
    for a, b in pairs:
        lo, hi = min(a, b), max(a, b)
        cases += [(text, (lo + hi) / 2) for text in (f"{lo:,}-{hi:,}", f"{lo} to {hi}", f"{lo:,} – {hi:,}")]
        cases.append((f"{hi:,}+", hi))
    _parse_checked(mcon, cases)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=30), **BATCH))
def test_number_parser_never_fails_on_any_text(mcon, texts):
    values = parse_numbers(mcon, texts)
    assert len(values) == len(texts)
    assert all(value is None or math.isfinite(value) for value in values), list(zip(texts, values, strict=False))
