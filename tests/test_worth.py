"""Issue 16, item 4: worth per segment (LTV = ACV x margin / churn rate; CAC payback), by hand."""

import math

import numpy as np
import pytest

from icp_core.roles import ColumnSpec
from icp_core.worth import MIN_CHURNED, WorthAssumptions, cac_column, worth_table


def test_hand_computed_ltv_and_payback():
    # segment X: 40 customers, ARR 10k each, 10 churned of 40 known -> churn 25 %, LTV = 10k x 0.8 / 0.25 = 32k
    # CAC 4k -> payback = 4k / (10k x 0.8 / 12) = 6 months; segment Y: 5 customers, 1 churned -> too few
    n_x, n_y = 40, 5
    seg = np.array(["X"] * n_x + ["Y"] * n_y + ["X"] * 3)  # 3 non-customers
    customers = np.array([True] * (n_x + n_y) + [False] * 3)
    arr = np.array([10_000.0] * n_x + [50_000.0] * n_y + [1e9] * 3)
    churned = np.array([1] * 10 + [0] * 30 + [1] + [0] * 4 + [1, 1, 1])
    cac = np.array([4_000.0] * n_x + [9_000.0] * n_y + [1.0] * 3)
    t = worth_table(seg, customers, arr, churned, cac, WorthAssumptions(0.8)).set_index("segment")
    x = t.loc["X"]
    assert (x.customers, x.acv, x.churned, x.churn_known) == (40, 10_000, 10, 40)
    assert x.churn_rate == 0.25 and x.ltv == pytest.approx(32_000) and x.payback_months == pytest.approx(6.0)
    assert x.note == ""
    y = t.loc["Y"]
    assert math.isnan(y.ltv) and y.note == "not enough churned customers (1)"
    assert y.payback_months == pytest.approx(9_000 / (50_000 * 0.8 / 12))
    total = t.loc["All customers"]
    assert total.customers == 45 and total.churned == 11 and total.churn_rate == pytest.approx(11 / 45)
    assert total.ltv == pytest.approx(10_000 * 0.8 / (11 / 45))  # median ACV of 45 customers: 10k
    assert MIN_CHURNED == 10


def test_without_churn_or_cac_the_figures_are_unknown_not_zero():
    t = worth_table(np.array(["A", "A"]), np.array([True, True]), np.array([1.0, 2.0]), np.array([-1, -1]), None)
    assert t["note"].iloc[0] == "churn unknown" and math.isnan(t["ltv"].iloc[0]) and math.isnan(t["payback_months"].iloc[0])
    with pytest.raises(ValueError, match="gross margin"):
        worth_table(np.array(["A"]), np.array([True]), np.array([1.0]), np.array([0]), None, WorthAssumptions(1.5))


def test_cac_column_is_found_by_header():
    def spec(h, role="number"):
        return ColumnSpec(key=h.lower().replace(" ", "_"), header=h, role=role)
    assert cac_column([spec("Employees"), spec("Customer Acquisition Cost")]).header == "Customer Acquisition Cost"
    assert cac_column([spec("CAC (USD)")]).header == "CAC (USD)"
    assert cac_column([spec("Cost center"), spec("CAC", "category")]) is None


def test_tam_page_shows_worth_per_segment_and_tier_and_exports_it(data_root):
    from tests.conftest import open_app

    at = open_app(timeout=180)
    at.switch_page("pages/tam.py").run()
    assert not at.exception, at.exception
    (worth,) = [d.value for d in at.dataframe if "LTV" in d.value.columns]  # segmented by tier: one table
    assert worth.iloc[-1, 0] == "All customers" and worth.iloc[:-1, 0].tolist() == ["A", "B", "C", "D", "Disqualified",
                                                                                 "Insufficient data"]
    assert "CAC" not in worth.columns  # the sample has no acquisition-cost column
    assert worth["Customers"].iloc[:-1].sum() == worth["Customers"].iloc[-1]
    at.multiselect(key="tam.by").set_value(["industry"]).run()
    assert not at.exception, at.exception
    by_industry, by_tier = [d.value for d in at.dataframe if "LTV" in d.value.columns]
    assert by_tier.columns[0] == "ICP tier" and by_industry.columns[0] != "ICP tier"
    assert by_industry["Customers"].iloc[-1] == by_tier["Customers"].iloc[-1] == worth["Customers"].iloc[-1]
    at.multiselect(key="tam.by").set_value(["tier"]).run()
    assert any("LTV = ACV × 80 % margin" in c.value for c in at.caption)
    at.number_input(key="tam.margin").set_value(40).run()
    half = [d.value for d in at.dataframe if "LTV" in d.value.columns][0]
    known = np.isfinite(worth["LTV"])
    assert known.any()
    assert np.allclose(half["LTV"][known], worth["LTV"][known] / 2)
