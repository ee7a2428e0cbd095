"""Issue 16, item 3: breadth and coverage of an ICP (A+B), against hand-computed figures."""

from types import SimpleNamespace

import numpy as np
import pytest

from icp_core.breadth import breadth_of, profile_breadth, set_breadth
from icp_core.formatting import pct
from icp_core.icpset import set_score
from icp_core.profile import TierRule, Trait
from icp_core.scoring import score_accounts


def accounts(won, won_deals=None):
    won = np.array(won, dtype=np.int8)  # 1 won, 0 lost, 2 open, -1 unknown
    deals = np.array(won_deals if won_deals is not None else (won == 1), dtype=float)
    return SimpleNamespace(won=won, won_deals=deals, churned=np.full(len(won), -1), arr=np.full(len(won), np.nan),
                           has={"won": True, "churned": False, "arr": False}, n=len(won))


def test_hand_computed_balanced_icp():
    #          0  1  2  3  4  5  6  7  8  9
    acc = accounts([1, 1, 2, 0, 0, 1, 0, 2, -1, -1])
    b = breadth_of(np.arange(10) < 3, acc)  # A+B: accounts 0, 1, 2
    assert (b.market, b.market_in_ab, b.customers, b.customers_in_ab, b.pipeline, b.pipeline_in_ab) == (10, 3, 3, 2, 2, 1)
    assert b.market_share == 0.3 and b.customer_share == pytest.approx(2 / 3) and b.pipeline_share == 0.5
    assert b.concentration == pytest.approx(2 / 3 / 0.3)  # 2.22x
    assert b.kind == "balanced"
    assert b.reading() == f"balanced: {pct(0.3)} of the market for {pct(2 / 3)} of customers (2.22×) · {pct(0.5)} of open pipeline"


@pytest.mark.parametrize("in_ab, won, kind", [
    ([1] * 48 + [0] * 52, [1] * 30 + [0] * 18 + [1] * 20 + [0] * 32, "broad"),      # 48 % for 60 %: 1.25x
    ([1] * 12 + [0] * 88, [1] * 9 + [0] * 3 + [1] * 11 + [0] * 77, "focused"),       # 12 % for 45 %: 3.75x
    ([1] + [0] * 99, [1] + [0] * 99, "narrow"),                                        # 1 % of the market
])
def test_the_readings_of_the_issue(in_ab, won, kind):
    b = breadth_of(np.array(in_ab, bool), accounts(won))
    assert b.kind == kind
    assert b.reading().startswith(f"{kind}: {pct(b.market_share)} of the market")


def test_an_empty_a_plus_b_reads_as_such_not_nan():
    """A fresh dataset's empty profile puts nobody in A or B: no "0 % for 0 % (nan×)"."""
    b = breadth_of(np.zeros(10, bool), accounts([1, 1, 2, 0, 0, 1, 0, 2, -1, -1]))
    assert b.reading() == "no account is in tier A or B yet"


def test_no_customer_data_says_so():
    acc = SimpleNamespace(won=np.full(4, -1, np.int8), churned=np.full(4, -1), arr=np.full(4, np.nan),
                          has={"won": False, "churned": False, "arr": False}, n=4)
    b = breadth_of(np.array([1, 0, 0, 0], bool), acc)
    assert b.kind == "" and b.reading() == f"A+B hold {pct(0.25)} of the market (no customer data to compare with)"


def test_profile_and_set_breadth_count_a_and_b_per_account():
    traits = [Trait("t0", "is_true", column="c0", weight=1), Trait("t1", "is_true", column="c1", weight=1)]
    rule = TierRule(thresholds={"A": 75, "B": 50, "C": 25})
    x = score_accounts(np.array([[1, 1], [1, 0], [0, 0], [0, 0]], bool), traits, rule)  # A, B, D, D
    y = score_accounts(np.array([[0, 0], [0, 0], [1, 1], [0, 0]], bool), traits, rule)  # D, D, A, D
    acc = accounts([1, 0, 1, 2])
    assert profile_breadth(x, acc).market_in_ab == 2 and profile_breadth(x, acc).customers_in_ab == 1
    s = set_breadth(set_score(["X", "Y"], [x, y]), acc)
    assert (s.market_in_ab, s.customers_in_ab, s.pipeline_in_ab) == (3, 2, 0)


def test_breadth_against_a_market_list_takes_the_market_share_from_it():
    from icp_core.breadth import market_breadth

    traits = [Trait("t0", "is_true", column="c0", weight=1)]
    rule = TierRule(thresholds={"A": 75, "B": 50, "C": 25})
    market = score_accounts(np.array([[1]] * 5 + [[0]] * 95, bool), traits, rule)  # 5 % of a 100-account list in A
    customers = score_accounts(np.array([[1], [1], [0], [1]], bool), traits, rule)
    acc = accounts([1, 1, 1, 2])  # 3 customers, 2 of them in A; the open deal is in A
    b = market_breadth(market, customers, acc)
    assert (b.market, b.market_in_ab, b.customers, b.customers_in_ab, b.pipeline_in_ab) == (100, 5, 3, 2, 1)
    assert b.concentration == pytest.approx((2 / 3) / 0.05) and b.kind == "focused"
