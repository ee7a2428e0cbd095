"""Issue 16, item 1: ICP sets. Best fit per account (highest tier, then score, ties to the ICP
listed first, "none" when D or disqualified everywhere), the overlap figures against a pandas
computation, and what a set file may hold."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from icp_core.export import (
    BEST_FIT_COLUMN,
    FileColumns,
    icp_column_names,
    scored_export_bytes,
    scored_frame,
    to_csv_bytes,
)
from icp_core.icpset import (
    MAX_ICPS,
    NONE,
    IcpSet,
    combine_profiles,
    icp_set_from_json,
    overlap,
    score_set,
    set_score,
)
from icp_core.profile import Profile, ProfileError, TierRule, Trait, profile_from_json
from icp_core.scoring import TIER_LABELS, explain_accounts, score_accounts
from tests.conftest import ROOT, sample_with_deals

DEFAULT = ROOT / "sample_data" / "default_profile.json"
LINES = TierRule(thresholds={"A": 75, "B": 50, "C": 25})


def scored(matrix, weights, classes=None):
    """A ScoreResult straight from a match matrix (one row per account)."""
    classes = classes or ["nice_to_have"] * len(weights)
    traits = [Trait(f"t{i}", "is_true", column=f"c{i}", weight=w, trait_class=c)
              for i, (w, c) in enumerate(zip(weights, classes, strict=True))]
    return score_accounts(np.array(matrix, dtype=bool), traits, LINES)


def test_best_fit_is_the_highest_tier_then_the_highest_score():
    # account 0: A in X, B in Y -> X; account 1: C in X, B in Y -> Y (the tier, though X is listed first);
    # account 2: B in X, A in Y -> Y; account 3: D in both -> none
    x = scored([[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]], [1, 1, 1])  # 100, 33.3, 66.7, 0
    y = scored([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 0]], [2, 1, 2])  # 60, 60, 80, 0
    s = set_score(["X", "Y"], [x, y])
    assert [TIER_LABELS[t] for t in x.tier] == ["A", "C", "B", "D"]
    assert [TIER_LABELS[t] for t in y.tier] == ["B", "B", "A", "D"]
    assert s.best.tolist() == [0, 1, 1, -1]
    assert s.best_fit_labels().tolist() == ["X", "Y", "Y", NONE]
    assert s.closest.tolist()[:3] == [0, 1, 1]


def test_a_tie_in_tier_and_score_goes_to_the_icp_listed_first():
    m = [[1, 0], [0, 1], [1, 1]]
    a, b = scored(m, [1, 1]), scored(m, [1, 1])
    assert set_score(["First", "Second"], [a, b]).best.tolist() == [0, 0, 0]
    assert set_score(["Second", "First"], [b, a]).best.tolist() == [0, 0, 0]
    # within one tier the higher score wins even when listed second
    c = scored(m, [1, 2])  # 33, 67, 100 against 50, 50, 100
    assert set_score(["First", "Second"], [a, c]).best.tolist() == [0, 1, 0]


def test_none_when_d_or_disqualified_everywhere():
    # one must-have each: failing it disqualifies; a D in one and disqualified in the other is none too
    x = scored([[0, 1], [1, 0], [1, 1]], [1, 1], ["must_have", "nice_to_have"])  # DQ, 50 (B), 100 (A)
    y = scored([[0, 0], [0, 0], [1, 0]], [1, 3])  # 0 -> D, 0 -> D, 25 -> C
    assert [TIER_LABELS[t] for t in x.tier] == ["Disqualified", "B", "A"]
    s = set_score(["X", "Y"], [x, y])
    assert s.best.tolist() == [-1, 0, 0]
    only_d = scored([[0, 0], [1, 0]], [1, 9])  # 0 and 10: both D
    assert set_score(["D"], [only_d]).best_fit_labels().tolist() == [NONE, NONE]


@pytest.fixture(scope="module")
def sample_set(tmp_path_factory):
    store, meta, specs, am = sample_with_deals(tmp_path_factory.mktemp("set"))
    am.file_columns = FileColumns(lambda: store.open_dataset(meta["id"]), specs)
    base = profile_from_json(DEFAULT.read_text())
    health = Profile(name="Enterprise healthcare", traits=[
        Trait("Healthcare", "in_set", role="industry", values=["healthcare"], weight=5),
        Trait("Big", "range", role="employees", min=1000, weight=3),
        Trait("Government", "in_set", role="industry", values=["government"], weight=-5, trait_class="stay_away"),
    ], tier_rule=TierRule(mode="mix"))
    emea = Profile(name="EMEA anything", traits=[Trait("EMEA", "in_set", role="region", values=["emea"], weight=4)])
    icps = combine_profiles([base, health, emea])
    return am, icps


def test_overlap_matches_a_pandas_computation(sample_set):
    am, icps = sample_set
    s, bindings = score_set(am, icps)
    assert all(not b.problems for b in bindings)
    df = pd.DataFrame({f"tier{i}": r.tier for i, r in enumerate(s.results)}
                      | {f"score{i}": r.score for i, r in enumerate(s.results)})
    # best fit by hand: the row-wise minimum of (tier, -score), first ICP on ties; none when D/DQ
    best = []
    for row in df.itertuples(index=False):
        keys = [(getattr(row, f"tier{i}"), -getattr(row, f"score{i}"), i) for i in range(3)]
        tier, _, i = min(keys)
        best.append(icps.names[i] if tier <= 2 else NONE)
    assert s.best_fit_labels().tolist() == best
    o = overlap(s)
    expected = pd.Series(best).value_counts()
    assert dict(zip(o["best_fit"]["icp"], o["best_fit"]["accounts"], strict=True)) == {
        name: int(expected.get(name, 0)) for name in [*icps.names, NONE]}
    assert o["best_fit"]["share"].sum() == pytest.approx(1.0)
    ab = sum((df[f"tier{i}"] <= 1).astype(int) for i in range(3))
    assert o["multi_ab"] == int((ab >= 2).sum()) and o["multi_ab"] > 0
    for i, name in enumerate(icps.names):
        counts = df[f"tier{i}"].value_counts()
        assert o["matrix"].loc[name].tolist() == [int(counts.get(t, 0)) for t in range(len(TIER_LABELS))]
    # the best-fit counts differ from a single ICP's: the set spreads accounts over its ICPs
    assert (o["best_fit"]["accounts"][:3] > 0).all()


def test_a_single_profile_file_reads_as_a_set_of_one_and_a_set_round_trips():
    one = icp_set_from_json(DEFAULT.read_text())
    assert one.names == ["Sample ICP: mid-size Fintech & SaaS"] and len(one.profiles) == 1
    two = combine_profiles([one.profiles[0], Profile(name="Second")], name="Our ICPs")
    back = icp_set_from_json(two.to_json())
    assert back.name == "Our ICPs" and back.names == two.names
    assert back.to_dict() == two.to_dict()


@pytest.mark.parametrize("names, message", [
    (["Fintech", " fintech "], "two ICPs are named “Fintech”"),
    ([f"ICP {i}" for i in range(MAX_ICPS + 1)], f"at most {MAX_ICPS} profiles"),
    ([], "at least one profile"),
])
def test_bad_sets_are_refused_with_a_specific_message(names, message):
    with pytest.raises(ProfileError, match=message):
        combine_profiles([Profile(name=n) for n in names])
    text = json.dumps({"schema": "icp_set", "schema_version": 1, "name": "s",
                       "profiles": [Profile(name=n).to_dict() for n in names]})
    with pytest.raises(ProfileError, match=message):
        icp_set_from_json(text)


def test_a_broken_profile_inside_a_set_is_named():
    bad = Profile(name="B").to_dict() | {"tier_rule": {"mode": "sideways"}}
    text = json.dumps({"schema": "icp_set", "schema_version": 1, "profiles": [Profile(name="A").to_dict(), bad]})
    with pytest.raises(ProfileError, match=r"profiles\[1\].*tier_rule.mode"):
        icp_set_from_json(text)
    assert IcpSet().name == "ICP set"


def _read(data: bytes) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_a_set_exports_every_icp_and_the_best_fit(sample_set):
    """The export carries the best-fit ICP's score, tier, reasons, flags and next step, ICP Best Fit,
    and each ICP's score and tier; DuckDB's CSV equals pandas' writer byte for byte."""
    am, icps = sample_set
    s, _ = score_set(am, icps)
    label = "Our ICPs (3)"
    data = scored_export_bytes(am.file_columns, s, label, "csv")
    frame = pd.concat(list(am.file_columns.chunks(chunk=700)), ignore_index=True)
    assert data == to_csv_bytes(scored_frame(frame, s, np.arange(s.n), label))
    back = _read(data)
    names = icp_column_names(s)
    assert list(back.columns[-len(names):]) == names
    assert names[6] == BEST_FIT_COLUMN and names[7:9] == [f"ICP Score: {icps.names[0]}", f"ICP Tier: {icps.names[0]}"]
    assert back[BEST_FIT_COLUMN].tolist() == s.best_fit_labels().tolist()
    for r, name in zip(s.results, icps.names, strict=True):
        assert back[f"ICP Tier: {name}"].tolist() == [TIER_LABELS[t] for t in r.tier]
        assert np.allclose(back[f"ICP Score: {name}"].astype(float), np.round(r.score, 1))
    # the first columns follow the ICP the account fits best (or comes closest in)
    rows = np.arange(0, s.n, 97)
    for i, r in enumerate(s.results):
        on = rows[s.closest[rows] == i]
        expl = explain_accounts(r, on)
        assert back["ICP Reasons"].iloc[on].tolist() == expl["reasons"].tolist()
        assert back["ICP Tier"].iloc[on].tolist() == [TIER_LABELS[t] for t in r.tier[on]]
    assert (back["ICP Profile Version"] == label).all()
    xlsx = pd.read_excel(io.BytesIO(scored_export_bytes(am.file_columns, s, label, "xlsx")), dtype=str,
                         keep_default_na=False)
    assert list(xlsx.columns[-len(names):]) == names and xlsx[BEST_FIT_COLUMN].tolist() == back[BEST_FIT_COLUMN].tolist()


def test_cli_scores_several_profiles_or_a_set_file_alike(sample_set, tmp_path, capsys):
    from icp_core.__main__ import main

    _, icps = sample_set
    paths = []
    for i, p in enumerate(icps.profiles):
        paths += ["--profile", str(tmp_path / f"p{i}.json")]
        (tmp_path / f"p{i}.json").write_text(p.to_json())
    (tmp_path / "set.json").write_text(icps.to_json())
    accounts = str(ROOT / "sample_data" / "accounts.csv")
    base = ["--data-dir", str(tmp_path / "d"), "score", accounts]
    assert main([*base, *paths, "--out", str(tmp_path / "a.csv")]) == 0
    err = capsys.readouterr().err
    assert err.count("scored 3,000 accounts") == 3 and "best fit: Sample ICP" in err and "none " in err
    assert main([*base, "--profile", str(tmp_path / "set.json"), "--out", str(tmp_path / "b.csv")]) == 0
    a, b = (_read((tmp_path / f).read_bytes()) for f in ("a.csv", "b.csv"))
    assert a.drop(columns="ICP Profile Version").equals(b.drop(columns="ICP Profile Version"))
    assert BEST_FIT_COLUMN in a.columns and f"ICP Tier: {icps.names[2]}" in a.columns
    # one profile: the one-profile schema, as before
    assert main([*base, "--profile", paths[1], "--out", str(tmp_path / "c.csv")]) == 0
    assert BEST_FIT_COLUMN not in _read((tmp_path / "c.csv").read_bytes()).columns
    capsys.readouterr()
    # bad sets: one line, exit 2, nothing written
    (tmp_path / "twin.json").write_text(icps.profiles[0].to_json())
    for bad in ([*paths[:2], "--profile", str(tmp_path / "twin.json")],
                ["--profile", str(tmp_path / "set.json"), *paths[:2]]):
        assert main([*base, *bad, "--out", str(tmp_path / "bad.csv")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and not (tmp_path / "bad.csv").exists()


def test_a_single_profile_file_keeps_its_one_megabyte_limit_but_a_set_may_hold_six():
    big = Profile(name="Big", description="d" * 1_900)
    big.traits = [Trait("L", "in_set", column="c", values=[f"{i:0>450}" for i in range(500)], weight=1)]
    text = big.to_json()
    assert 200_000 < len(text) < 1_000_000
    padded = text + " " * (1_000_001 - len(text))
    with pytest.raises(ProfileError, match="larger than 1,000,000 bytes"):
        icp_set_from_json(padded)
    many = [profile_from_json(text) for _ in range(4)]
    for i, p in enumerate(many):
        p.name = f"Big {i}"
    assert len(icp_set_from_json(combine_profiles(many).to_json()).profiles) == 4


def test_breadth_per_pattern_and_per_combination_equals_per_account(sample_set):
    """The live figures are counted per match pattern (one ICP) or per combination of patterns (the
    set); they equal the per-account count."""
    from icp_core.breadth import breadth_of, profile_breadth, set_breadth

    am, icps = sample_set
    s, _ = score_set(am, icps)
    assert s.combos.customers.sum() > 0 and len(s.combos.count) < am.n
    any_ab = np.zeros(am.n, dtype=bool)
    for r in s.results:
        assert profile_breadth(r, am) == breadth_of(r.tier <= 1, am)
        any_ab |= r.tier <= 1
    assert set_breadth(s, am) == breadth_of(any_ab, am)
    assert 0 < set_breadth(s, am).market_share < 1


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "snowflake", "bigquery", "spark"])
def test_warehouse_sql_of_a_set_gives_the_apps_best_fit(sample_set, dialect):
    """The set's SQL, run on DuckDB over the warehouse-shaped input, gives every ICP's score and
    tier, the best fit and the best ICP's columns exactly as the app; it parses in every dialect."""
    import sqlglot

    from icp_core.warehouse import set_sql, warehouse_view_sql

    am, icps = sample_set
    s, _ = score_set(am, icps)
    thresholds = [r.thresholds for r in s.results]
    sql = set_sql(icps.names, icps.profiles, thresholds, table="wh", dialect=dialect)
    assert sqlglot.parse_one(sql, read={"postgres": "postgres", "spark": "spark"}.get(dialect, dialect))
    if dialect != "duckdb":
        return
    everything = Profile(name="all", traits=[t for p in icps.profiles for t in p.traits])
    with am.file_columns.connect() as con:
        con.execute(f"CREATE OR REPLACE TEMP VIEW wh AS {warehouse_view_sql(everything, am.specs)}")
        out = con.execute(sql + " ORDER BY row_id").df()
    for i, r in enumerate(s.results):
        assert (out[f"icp_score_{i}"].to_numpy() == r.score).all()
        assert out[f"icp_tier_{i}"].tolist() == [TIER_LABELS[t] for t in r.tier]
    assert out["icp_best_fit"].tolist() == s.best_fit_labels().tolist()
    closest = s.closest
    score = np.choose(closest, [r.score for r in s.results])
    assert (out["icp_score"].to_numpy() == score).all()
    reasons = np.empty(s.n, dtype=object)
    for i, r in enumerate(s.results):
        on = np.flatnonzero(closest == i)
        reasons[on] = explain_accounts(r, on)["reasons"].to_numpy(dtype=object)
    assert out["icp_reasons"].tolist() == reasons.tolist()


def test_cli_sql_and_dbt_for_a_set(sample_set, tmp_path, capsys):
    from icp_core.__main__ import main

    _, icps = sample_set
    (tmp_path / "set.json").write_text(icps.to_json())
    accounts = str(ROOT / "sample_data" / "accounts.csv")
    # the healthcare ICP solves its tier lines from a target mix: the data file is needed
    assert main(["sql", "--profile", str(tmp_path / "set.json")]) == 2
    assert "Enterprise healthcare" in capsys.readouterr().err
    assert main(["sql", "--profile", str(tmp_path / "set.json"), "--data", accounts, "--dialect", "snowflake"]) == 0
    out = capsys.readouterr()
    assert "icp_best_fit" in out.out and "-- ICP 1: Enterprise healthcare" in out.out and "input columns:" in out.err
    assert main(["sql", "--profile", str(tmp_path / "set.json"), "--data", accounts, "--dbt"]) == 0
    dbt = capsys.readouterr().out
    assert dbt.startswith("{{ config(materialized='table') }}") and "{{ ref('accounts') }}" in dbt


def test_set_backtest_each_icp_and_the_best_fit(sample_set):
    from icp_core.backtest import live_backtest, set_backtest
    from icp_core.outcomes import Outcome, outcome_weights
    from icp_core.stats import auc_from_counts, holdout_mask

    am, icps = sample_set
    s, _ = score_set(am, icps)
    table = set_backtest(am, s, Outcome("won"))
    assert table["icp"].tolist() == [*icps.names, "Best fit (any ICP)"]
    for i, r in enumerate(s.results):
        bt = live_backtest(am, r, Outcome("won"))
        assert table["auc"][i] == pytest.approx(bt.auc) and table["good_ab"][i] == pytest.approx(bt.captured_good)
    # the combination, per account: rank by the best ICP's (tier, score); A+B = A or B anywhere
    y, w = outcome_weights(am, Outcome("won"))
    test = holdout_mask(am.n) & ~np.isnan(y)
    key = np.min(np.vstack([r.tier * 1000.0 - r.score for r in s.results]), axis=0)
    auc = auc_from_counts(-key[test], (y * w)[test], ((1 - y) * w)[test])
    any_ab = np.any(np.vstack([r.tier <= 1 for r in s.results]), axis=0)
    good = (y * w)[test]
    assert table["auc"].iloc[-1] == pytest.approx(auc)
    assert table["good_ab"].iloc[-1] == pytest.approx(good[any_ab[test]].sum() / good.sum())
    assert table["accounts_ab"].iloc[-1] == pytest.approx(any_ab.mean())
    assert table["good_ab"].iloc[-1] >= table["good_ab"][:-1].max()  # the union captures at least any one ICP


def test_onepager_carries_breadth_worth_and_the_set(sample_set):
    from icp_core.breadth import profile_breadth
    from icp_core.onepager import build_onepager

    am, icps = sample_set
    s, _ = score_set(am, icps)
    page = build_onepager(am, s.results[0], icps.profiles[0], "sample", "v1", reference_auc=0.7, generated="2026-12-02",
                          set_score=s)
    ov = overlap(s)
    assert "Breadth and worth" in page and profile_breadth(s.results[0], am).reading().split(" (")[0] in page
    assert "Lifetime value per customer" in page and "Tier A" in page
    assert "<h2>ICP set</h2>" in page and "Enterprise healthcare" in page
    best = dict(zip(ov["best_fit"]["icp"], ov["best_fit"]["accounts"], strict=True))
    assert f"{best['EMEA anything']:,}</b> best fit" in page
    alone = build_onepager(am, s.results[0], icps.profiles[0], "sample", "v1", reference_auc=0.7, generated="x")
    assert "<h2>ICP set</h2>" not in alone and "Breadth and worth" in alone


def test_a_set_onepager_has_a_page_per_icp(sample_set, tmp_path, capsys):
    from icp_core.__main__ import main

    _, icps = sample_set
    (tmp_path / "set.json").write_text(icps.to_json())
    out = tmp_path / "set.html"
    assert main(["onepager", str(ROOT / "sample_data" / "accounts.csv"), "--profile", str(tmp_path / "set.json"),
                 "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("<!doctype html>") == 1 and page.count('<div class="page">') == 3
    assert page.count("page-break-before: always") == 2 and page.count("<h2>ICP set</h2>") == 1
    for name in icps.names:
        assert f"<h1>{name}</h1>" in page.replace("&amp;", "&")
    assert "Healthcare" in page and "EMEA" in page  # each ICP's own traits
