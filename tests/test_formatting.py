"""The one formatter: money, counts and percentages read the same on every page."""

import math

from icp_core.formatting import compact, count, format_number, money, pct, pt_change


def test_money_is_compact_and_consistent():
    assert money(138_339.0) == "$138K"
    assert money(769_800) == "$770K"
    assert money(950) == "$950"
    assert money(12_345) == "$12.3K"
    assert money(1_234_567) == "$1.23M"
    assert money(3.4e9) == "$3.4B"
    assert money(999_999) == "$1M"
    assert money(-2500) == "−$2.5K"
    assert money(None) == money(float("nan")) == "–"


def test_counts_exact_below_the_limit_then_compact():
    assert count(1234) == "1,234"
    assert count(99_999) == "99,999"
    assert count(250_000) == "250K"
    assert count(1_200_000) == "1.2M"
    assert count(math.nan) == "–"


def test_percentages_and_changes():
    assert pct(0.256) == "26%"
    assert pct(0.256, 1) == "25.6%"
    assert pct(None) == "–"
    assert pt_change(0.30, 0.26) == "+4 pt"
    assert pt_change(0.30, 0.301) == ""
    assert pt_change(float("nan"), 0.3) == ""


def test_plain_numbers():
    assert format_number(2000) == "2,000"
    assert format_number(0.5) == "0.5"
    assert format_number(1_234_567) == "1.23M"
    assert compact(0.25) == "0.25"

