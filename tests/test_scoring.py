"""Scoring: the score formula on hand-computed examples, tiers, classes, reasons, trait SQL."""

import math

import duckdb
import numpy as np
import pytest

from icp_core.dataset import AccountMatrix
from icp_core.profile import Profile, TierRule, Trait
from icp_core.roles import ColumnSpec
from icp_core.scoring import (
    explain_accounts,
    ranked_rows,
    score_accounts,
    score_formula,
    solve_mix_thresholds,
    tier_summary,
)
from icp_core.traits import condition_sql as trait_condition_sql

M = "\u2212"


def t(label, weight, cls="nice_to_have", disqualify=False, **kw):
    kw.setdefault("rule", "is_true")
    kw.setdefault("role", "churned")
    return Trait(label=label, weight=weight, trait_class=cls, disqualify=disqualify, **kw)


def test_score_formula_hand_computed():
    # weights +5, +3, -2: low = -2, high = 8, range 10
    m = np.array([[1, 1, 1],   # sum 6  -> 100 * (6 + 2) / 10 = 80
                  [0, 0, 0],   # sum 0  -> 20
                  [0, 0, 1],   # sum -2 -> 0
                  [1, 0, 0],   # sum 5  -> 70
                  [1, 1, 0]],  # sum 8  -> 100
                 dtype=bool)
    score, low, high = score_formula(m, np.array([5, 3, -2]))
    assert (low, high) == (-2, 8)
    assert score.tolist() == pytest.approx([80, 20, 0, 70, 100])


def test_score_formula_all_positive_and_degenerate():
    m = np.array([[1, 0], [0, 1], [1, 1]], dtype=bool)
    assert score_formula(m, np.array([1, 3]))[0].tolist() == pytest.approx([25, 75, 100])
    assert score_formula(m, np.array([0, 0]))[0].tolist() == [0, 0, 0]  # no weight: everyone 0
    assert score_formula(np.zeros((3, 0), bool), np.array([]))[0].tolist() == [0, 0, 0]


def test_thresholds_and_must_have_disqualification():
    traits = [t("Must", 2, "must_have"), t("Nice", 3), t("Bad", -5, "stay_away")]
    m = np.array([[1, 1, 0],   # 100 -> A
                  [0, 1, 0],   # fails must-have -> Disqualified although it scores 60
                  [1, 0, 0],   # 40 * ... = (2+5)/10 = 70 -> B
                  [1, 1, 1],   # (5+5)/10 -> 50 -> B, flagged stay-away but not disqualified
                  [1, 0, 1]],  # (-3+5)/10 = 20 -> D
                 dtype=bool)
    rule = TierRule(mode="thresholds", thresholds={"A": 80, "B": 50, "C": 30})
    r = score_accounts(m, traits, rule)
    assert r.score.tolist() == pytest.approx([100, 80, 70, 50, 20])
    assert [("A", "B", "C", "D", "Disqualified")[i] for i in r.tier] == ["A", "Disqualified", "B", "B", "D"]
    assert r.stay_away_hit.tolist() == [False, False, False, True, True]
    assert r.failed_must.tolist() == [False, True, False, False, False]


def test_stay_away_can_disqualify():
    traits = [t("Nice", 3), t("Gov", -5, "stay_away", disqualify=True)]
    m = np.array([[1, 0], [1, 1]], dtype=bool)
    r = score_accounts(m, traits, TierRule())
    assert r.tier.tolist() == [0, 4]
    expl = explain_accounts(r, np.arange(2))
    assert expl["flags"][1] == "Disqualified: Stay away: Gov"


def test_caution_flag_and_weight_apply():
    traits = [t("Nice", 4), t("Small", -2, "caution")]
    m = np.array([[1, 1], [1, 0]], dtype=bool)
    r = score_accounts(m, traits, TierRule())
    assert r.score.tolist() == pytest.approx([100 * (2 + 2) / 6, 100])  # sum 2, low -2, high 4
    assert r.caution_hit.tolist() == [True, False]
    assert explain_accounts(r, np.arange(2))["flags"].tolist() == ["Caution: Small", ""]


def test_reasons_largest_weight_first_with_signs():
    traits = [t("Employees 200–2,000", 3), t("Government", -5, "stay_away"), t("Industry in Fintech", 5),
              t("Unmatched", 1)]
    m = np.array([[1, 1, 1, 0]], dtype=bool)
    r = score_accounts(m, traits, TierRule())
    reasons = explain_accounts(r, np.array([0]))["reasons"][0]
    assert reasons == f"Industry in Fintech (+5) · Government ({M}5, stay away) · Employees 200–2,000 (+3)"


def test_next_tier_hint_names_the_smallest_sufficient_trait():
    traits = [t("Big", 5), t("Mid", 3), t("Small", 1)]  # high = 9
    m = np.array([[0, 1, 1],   # 4/9 = 44.4 -> C (B at 50): +1 is 11.1 -> 55.6 enough? no, Small matched
                  [1, 0, 1],   # 6/9 = 66.7 -> B (A at 75): Mid (+3) -> 100, Small matched -> only Mid
                  [0, 0, 0]],  # 0 -> D (C at 25): Small (+1) = 11.1 not enough, Mid (+3) = 33.3 enough
                 dtype=bool)
    r = score_accounts(m, traits, TierRule(thresholds={"A": 75, "B": 50, "C": 25}))
    hints = explain_accounts(r, np.arange(3))["next_step"].tolist()
    assert hints[0] == "Would reach B with: Big (+5)"
    assert hints[1] == "Would reach A with: Mid (+3)"
    assert hints[2] == "Would reach C with: Mid (+3)"


def test_mix_thresholds_hit_the_target_on_distinct_scores():
    score = np.arange(100, dtype=float)
    th = solve_mix_thresholds(score, np.ones(100, bool), {"A": 10, "B": 20, "C": 30, "D": 40})
    assert th == {"A": 90, "B": 70, "C": 40}
    m = np.zeros((100, 0), bool)
    rule = TierRule(mode="mix", mix={"A": 10, "B": 20, "C": 30, "D": 40})
    # through score_accounts with a real matrix: 100 accounts, scores from 1..100 weights
    traits = [t(f"f{i}", 1) for i in range(99)]
    m = np.tril(np.ones((100, 99), bool), k=-1)  # account i matches i traits -> distinct scores
    r = score_accounts(m, traits, rule)
    assert np.bincount(r.tier, minlength=5).tolist() == [10, 20, 30, 40, 0]


def test_mix_thresholds_with_ties_and_zero_share():
    score = np.array([50.0] * 8 + [10.0] * 2)
    th = solve_mix_thresholds(score, np.ones(10, bool), {"A": 0, "B": 50, "C": 30, "D": 20})
    assert math.isinf(th["A"])  # nobody in A
    assert th["B"] == 50 and th["C"] == 50  # 80 % tie at 50: nearest to 50 % is taking them all
    th = solve_mix_thresholds(score, np.zeros(10, bool), {"A": 10, "B": 20, "C": 30, "D": 40})
    assert all(math.isinf(v) for v in th.values())


# ---------------------------------------------------------------------------- trait SQL

@pytest.fixture
def accounts_db():
    con = duckdb.connect()
    con.execute("""CREATE TABLE accounts AS SELECT * FROM (VALUES
        (1, 'fintech', 500.0, ['Snowflake', 'AWS'], TRUE, 'O''Brien & Co'),
        (2, 'SaaS', 20.0, ['aws'], FALSE, '"; DROP TABLE accounts; --'),
        (3, NULL, NULL, NULL, NULL, NULL),
        (4, 'government', 5000.0, [], TRUE, 'Plain')
    ) t(row_id, industry, employees, tech, churned, owner)""")
    yield con
    con.close()


def matches(con, trait, column, kind):
    return [r[0] for r in con.execute(
        f"SELECT {trait_condition_sql(trait, column, kind)} FROM accounts ORDER BY row_id").fetchall()]


def test_trait_sql_every_rule(accounts_db):
    c = accounts_db
    assert matches(c, Trait("i", "in_set", role="industry", values=["FinTech", " saas "]), "industry",
                   "category_folded") == [True, True, False, False]
    assert matches(c, Trait("e", "range", role="employees", min=20, max=500), "employees", "number") == [
        True, True, False, False]
    assert matches(c, Trait("e", "range", role="employees", min=1000), "employees", "number") == [
        False, False, False, True]
    assert matches(c, Trait("e", "range", role="employees", max=20), "employees", "number") == [
        False, True, False, False]
    assert matches(c, Trait("t", "contains_any", role="technologies", values=["AWS"]), "tech", "list") == [
        True, True, False, False]
    assert matches(c, Trait("b", "is_true", role="churned"), "churned", "churn") == [True, False, False, True]
    assert matches(c, Trait("b", "is_false", role="churned"), "churned", "churn") == [False, True, False, False]
    assert matches(c, Trait("m", "missing", role="industry"), "industry", "category") == [False, False, True, False]
    assert matches(c, Trait("m", "missing", role="technologies"), "tech", "list") == [False, False, True, True]


def test_trait_sql_quotes_user_values_and_columns(accounts_db):
    c = accounts_db
    assert matches(c, Trait("o", "in_set", column="owner", values=["O'Brien & Co"]), "owner", "category") == [
        True, False, False, False]
    assert matches(c, Trait("o", "in_set", column="owner", values=['"; DROP TABLE accounts; --']), "owner",
                   "category") == [False, True, False, False]
    assert c.execute("SELECT count(*) FROM accounts").fetchone()[0] == 4
    c.execute('CREATE TABLE weird AS SELECT 1 AS "a""b; --"')
    expr = trait_condition_sql(Trait("w", "missing", column="x"), 'a"b; --', "number")
    assert c.execute(f"SELECT {expr} FROM weird").fetchone()[0] is False


def test_account_matrix_scores_a_dataset(tmp_path):
    path = tmp_path / "d.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE accounts AS SELECT * FROM (VALUES
        (2, 'B', 'saas', 'won', 100.0, FALSE), (1, 'A', 'fintech', 'lost', NULL, TRUE),
        (3, 'C', 'retail', 'open', 50.0, NULL)) t(row_id, name, industry, stage, arr, churned)""")
    con.close()
    specs = [ColumnSpec("name", "Name", "account_name"), ColumnSpec("industry", "Sector", "industry"),
             ColumnSpec("stage", "Stage", "deal_stage"), ColumnSpec("arr", "ARR", "arr"),
             ColumnSpec("churned", "Churned", "churned")]
    am = AccountMatrix(lambda: duckdb.connect(str(path)), specs)
    assert am.display["Name"].tolist() == ["A", "B", "C"]  # row order
    assert am.won.tolist() == [0, 1, 2] and am.churned.tolist() == [1, 0, -1]  # 2 = open
    profile = Profile(traits=[Trait("Fintech or SaaS", "in_set", role="industry", values=["fintech", "saas"],
                                    weight=4)], tier_rule=TierRule(thresholds={"A": 90, "B": 50, "C": 10}))
    from icp_core.scoring import score_profile
    r, binding = score_profile(am, profile)
    assert not binding.problems
    assert r.tier.tolist() == [0, 0, 3]
    s = tier_summary(r, am).set_index("tier")
    assert s.loc["A", "accounts"] == 2 and s.loc["A", "win_rate"] == 0.5 and s.loc["A", "arr"] == 100
    assert s.loc["A", "churn_rate"] == 0.5 and np.isnan(s.loc["D", "win_rate"])
    assert ranked_rows(r).tolist()[-1] == 2
    assert am.value_options(specs[1])["values"][0][1] == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pattern_path_equals_row_by_row(seed):
    """Scoring per match pattern gives exactly what a row-by-row computation gives."""
    from types import SimpleNamespace

    from icp_core.dataset import group_patterns
    from icp_core.scoring import count_rows

    rng = np.random.default_rng(seed)
    n, k = 4000, 9
    m = rng.random((n, k)) < rng.uniform(0.1, 0.9, k)
    classes = ["must_have", "nice_to_have", "nice_to_have", "caution", "stay_away", "nice_to_have",
               "nice_to_have", "caution", "nice_to_have"]
    weights = [2, 5, 3, -2, -5, 1, 0, 2, -1]
    traits = [t(f"f{i}", w, c, disqualify=(i == 4 and seed == 1)) for i, (w, c) in enumerate(zip(weights, classes, strict=False))]
    accounts = SimpleNamespace(won=rng.integers(-1, 2, n).astype(np.int8), churned=rng.integers(-1, 2, n).astype(np.int8),
                               arr=np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 1e5),
                               has={"won": True, "churned": True, "arr": True})
    accounts.won_deals = (accounts.won == 1).astype(float)
    accounts.lost_deals = (accounts.won == 0).astype(float)
    for rule in (TierRule(), TierRule(mode="mix")):
        fast = score_accounts(group_patterns(m, accounts), traits, rule)
        slow = score_accounts(m, traits, rule)
        low = sum(min(w, 0) for w in weights)
        high = sum(max(w, 0) for w in weights)
        expected = 100 * (m.astype(int) @ np.array(weights) - low) / (high - low)
        assert np.allclose(fast.score, expected) and np.allclose(slow.score, expected)
        assert (fast.tier == slow.tier).all()
        disq = ~m[:, 0] | (m[:, 4] if seed == 1 else False)
        assert ((fast.tier == 4) == disq).all()
        s_fast, s_slow = tier_summary(fast, accounts), tier_summary(slow, accounts)
        assert np.allclose(s_fast[["accounts", "won", "lost", "arr"]].to_numpy(float),
                           s_slow[["accounts", "won", "lost", "arr"]].to_numpy(float))
        tier = fast.tier
        won, lost = accounts.won == 1, accounts.won == 0
        for code in range(5):
            sel = tier == code
            if (won[sel] | lost[sel]).any():
                assert s_fast["win_rate"][code] == pytest.approx(won[sel].sum() / (won[sel] | lost[sel]).sum())
        rows = ranked_rows(fast)
        key = np.lexsort((np.arange(n), -fast.score, tier))
        assert (rows == key).all()
        top = ranked_rows(fast, tiers=[1, 2], limit=50)
        assert (top == key[np.isin(tier[key], [1, 2])][:50]).all()
        assert count_rows(fast, [1, 2]) == np.isin(tier, [1, 2]).sum()
        mask = rng.random(n) < 0.2
        assert (ranked_rows(fast, mask) == key[mask[key]]).all()


def _trait_matrix(tmp_path, n=40):
    import duckdb as _duckdb
    path = tmp_path / "m.duckdb"
    con = _duckdb.connect(str(path))
    con.execute(f"CREATE TABLE accounts AS SELECT i AS row_id, 'A' || i AS name, i % {n} AS emp FROM range({n}) t(i)")
    con.close()
    specs = [ColumnSpec("name", "Name", "account_name"), ColumnSpec("emp", "Employees", "employees")]
    return AccountMatrix(lambda: _duckdb.connect(str(path), read_only=True), specs), specs


def test_more_traits_than_the_cache_holds_score(tmp_path):
    am, specs = _trait_matrix(tmp_path)
    am.cache_max_entries = 16
    bound = [(Trait(f"emp {i}", "range", role="employees", min=i, max=i), specs[1]) for i in range(40)]
    m = am.matches(bound)  # evicts while inserting: must still return every column
    assert m.shape == (40, 40) and (m == np.eye(40, dtype=bool)).all()
    assert am.cache_info()["entries"] <= 16


def test_shared_trait_cache_never_errors_under_concurrent_sessions(tmp_path):
    """12 sessions x 40 distinct traits on one shared AccountMatrix with a cache that holds a
    little more than one profile: every lookup is served although others evict meanwhile."""
    import sys
    import threading

    am, specs = _trait_matrix(tmp_path)
    am.cache_max_entries = 48
    errors, barrier = [], threading.Barrier(12)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show up in a few rounds

    def session(k):
        try:
            barrier.wait()
            for r in range(30):
                eps = (k * 30 + r + 1) * 1e-6  # a distinct definition per session and round
                bound = [(Trait(f"s{k} {i}", "range", role="employees", min=i - eps, max=i + 0.5), specs[1])
                         for i in range(40)]
                m = am.matches(bound)
                assert m.shape == (40, 40) and (m == np.eye(40, dtype=bool)).all()
        except Exception as exc:  # noqa: BLE001 - any error is the failure
            errors.append(repr(exc))

    threads = [threading.Thread(target=session, args=(k,)) for k in range(12)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []


def test_dataset_cache_is_bounded_by_bytes(tmp_path):
    """The one cache of a dataset evicts least-recently-used entries past its byte budget."""
    am, specs = _trait_matrix(tmp_path, n=1000)
    am.cache_max_bytes = 5_000  # five 1,000-account match vectors
    bound = [(Trait(f"emp {i}", "range", role="employees", min=i, max=i), specs[1]) for i in range(20)]
    m = am.matches(bound)
    assert m.shape == (1000, 20) and (m.sum(axis=0) == 1).all()
    info = am.cache_info()
    assert info["bytes"] <= 5_000 and info["entries"] == 5
    assert am.column_array(specs[1]).shape == (1000,)  # 8,000 bytes: alone over the budget, kept alone
    assert am.cache_info()["entries"] == 1
