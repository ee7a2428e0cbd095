"""Clusters and TAM: determinism, the cluster profile table by hand, TAM formulas, the ACV fallback, CLI."""

import numpy as np
import pandas as pd
import pytest

from icp_core.__main__ import main
from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.profile import Profile, TierRule, Trait
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.segments import (
    MAP_POINTS,
    Clustering,
    cluster_accounts,
    default_cluster_columns,
    profile_clusters,
    traits_for_cluster,
    winning_low_scorers,
)
from icp_core.tam import TamAssumptions, customer_mask, segment_values, serviceable_mask, tam_table
from tests.conftest import ROOT, SHARED_DATA


def load(store, path, opportunities=None):
    meta = ingest_dataset(store, path, opportunities).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


@pytest.fixture
def sample(store):
    return load(store, ROOT / "sample_data" / "accounts.csv")


def test_clusters_are_deterministic_and_cover_every_account(sample):
    cols = default_cluster_columns(sample)
    a = cluster_accounts(sample, cols, k=5)
    b = cluster_accounts(sample, cols, k=5)
    assert (a.labels == b.labels).all() and np.allclose(a.map_xy, b.map_xy)
    assert len(a.labels) == sample.n and set(np.unique(a.labels)) == set(range(5))
    sizes = np.bincount(a.labels)
    assert (np.diff(sizes) <= 0).all()  # cluster 0 is the largest
    assert 2 <= a.suggested_k <= 8 and a.suggested_k == max(a.silhouette, key=a.silhouette.get)
    # every account is plotted below MAP_POINTS (3,000 here), each once, every cluster on the map
    assert len(a.map_rows) == min(sample.n, MAP_POINTS) and len(np.unique(a.map_rows)) == len(a.map_rows)
    assert len(np.unique(a.labels[a.map_rows])) == 5


def test_cluster_profile_table_by_hand(tmp_path, store):
    df = pd.DataFrame({
        "Company": [f"c{i}" for i in range(8)],
        "Industry": ["Fintech"] * 3 + ["Retail"] + ["Retail"] * 4,
        "Employees": [100, 300, 500, 10, 5, 7, 9, 11],
        "Stage": ["Closed Won", "Closed Won", "Closed Lost", "Open", "Closed Lost", "Closed Lost", "Closed Won", ""],
        "ARR": [1000, 2000, None, None, None, None, 500, None],
        "Churned": ["No", "Yes", "", "", "", "", "No", ""],
    })
    df.to_csv(tmp_path / "hand.csv", index=False)
    am = load(store, tmp_path / "hand.csv")
    cols = [s for s in am.specs if s.role in ("industry", "employees")]
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.int32)  # hand-made clusters
    cl = Clustering(2, labels, np.arange(8), np.zeros((8, 2)), {}, 2, ["Industry", "Employees"], 0.0)
    profile = Profile(traits=[Trait("Fintech", "in_set", role="industry", values=["fintech"], weight=5)],
                      tier_rule=TierRule(thresholds={"A": 90, "B": 50, "C": 10}))
    result, _ = score_profile(am, profile)
    t = profile_clusters(am, cl, cols, result).set_index("cluster")
    assert t.loc[0, "accounts"] == 4 and t.loc[1, "accounts"] == 4
    assert t.loc[0, "Industry"] == "fintech (75%)" and t.loc[1, "Industry"] == "retail (100%)"
    assert t.loc[0, "Employees (median)"] == 200 and t.loc[1, "Employees (median)"] == 8
    assert t.loc[0, "win_rate"] == pytest.approx(2 / 3) and t.loc[1, "win_rate"] == pytest.approx(1 / 3)
    assert t.loc[0, "churn_rate"] == 0.5 and t.loc[1, "churn_rate"] == 0.0
    assert t.loc[0, "arr"] == 3000 and t.loc[1, "arr"] == 500
    assert t.loc[0, "share_ab"] == 0.75 and t.loc[1, "share_ab"] == 0.0
    assert t.loc[0, "name"] == "Mid-size Fintech" and t.loc[1, "name"] == "Micro Retail"
    # cluster 1 wins at 1/3 vs base 1/2: not a missed winner; cluster 0 is mostly A+B already
    assert winning_low_scorers(t.reset_index(), 0.5, min_closed=1).empty
    traits = traits_for_cluster(am, cl, cols, 1)
    assert any(tr.rule == "in_set" and tr.values == ["retail"] for tr in traits)


def test_winning_low_scorers_flags_a_missed_segment():
    table = pd.DataFrame([{"cluster": 0, "name": "Hidden gem", "accounts": 400, "win_rate": 0.8, "closed": 300,
                           "share_ab": 0.1},
                          {"cluster": 1, "name": "Covered", "accounts": 400, "win_rate": 0.8, "closed": 300,
                           "share_ab": 0.9},
                          {"cluster": 2, "name": "Tiny", "accounts": 5, "win_rate": 1.0, "closed": 5, "share_ab": 0.0}])
    assert winning_low_scorers(table, 0.5)["name"].tolist() == ["Hidden gem"]


def test_tam_formulas_and_fallback_by_hand():
    market = [np.array(["Fintech"] * 10 + ["Retail"] * 5 + ["Media"] * 20, dtype=object)]
    serviceable = np.array([True] * 6 + [False] * 4 + [True] * 5 + [False] * 20)
    cust_seg = [np.array(["Fintech"] * 6 + ["Retail"] * 2, dtype=object)]
    customers = np.array([True] * 6 + [True, False])
    arr = np.array([100, 200, 300, 400, 500, 600, 50, 70], dtype=float)
    a = TamAssumptions(acv_stat="median", min_customers=3, attainable_share=0.1)
    t, tot = tam_table(market, serviceable, cust_seg, customers, arr, a)
    t = t.set_index("segment")
    # Fintech: 6 customers, median ACV 350; TAM 10 × 350; SAM 6 × 350; SOM 10 % of SAM
    assert t.loc["Fintech", "acv_used"] == 350 and t.loc["Fintech", "tam"] == 3500
    assert t.loc["Fintech", "sam"] == 2100 and t.loc["Fintech", "som"] == pytest.approx(210)
    assert t.loc["Fintech", "penetration"] == pytest.approx(0.6)
    # Retail: 1 customer (< 3): overall median of all 7 customers' ARR (300) is the fallback
    assert tot["overall_acv"] == 300
    assert t.loc["Retail", "acv_used"] == 300 and t.loc["Retail", "acv_source"].startswith("fallback")
    assert t.loc["Retail", "tam"] == 1500 and t.loc["Retail", "sam"] == 1500
    assert t.loc["Media", "customers"] == 0 and t.loc["Media", "tam"] == 6000 and t.loc["Media", "sam"] == 0
    assert tot["tam"] == 3500 + 1500 + 6000 and tot["segments_on_fallback"] == 2
    # your ACV replaces the fallback, or every segment's ACV when forced
    t2, _ = tam_table(market, serviceable, cust_seg, customers, arr, TamAssumptions(min_customers=3, acv_override=1000))
    assert t2.set_index("segment").loc["Retail", "acv_used"] == 1000
    assert t2.set_index("segment").loc["Fintech", "acv_used"] == 350
    t3, _ = tam_table(market, serviceable, cust_seg, customers, arr,
                      TamAssumptions(acv_override=1000, override_all=True))
    assert (t3["acv_used"] == 1000).all()
    skewed = arr.copy()
    skewed[5] = 1600  # Fintech ARR 100..500 and 1,600: median 350, mean 516.67
    t4, _ = tam_table(market, serviceable, cust_seg, customers, skewed, TamAssumptions(acv_stat="mean", min_customers=3))
    assert t4.set_index("segment").loc["Fintech", "acv_used"] == pytest.approx(3100 / 6)
    t5, _ = tam_table(market, serviceable, cust_seg, customers, skewed, TamAssumptions(acv_stat="median", min_customers=3))
    assert t5.set_index("segment").loc["Fintech", "acv_used"] == 350


def test_two_dimensions_and_serviceable_filters(sample):
    profile = Profile(traits=[Trait("Fintech", "in_set", role="industry", values=["fintech"], weight=5)])
    result, _ = score_profile(sample, profile)
    segs = [segment_values(sample, result, "tier"), segment_values(sample, result, "employee_band")]
    assert set(segs[1]) <= {"1–10", "11–50", "51–200", "201–1,000", "1,001–5,000", "5,001+", "(unknown)"}
    mask, note = serviceable_mask(sample, countries=["United States"], min_employees=50, result=result)
    assert 0 < mask.sum() < sample.n and "United States" in note
    t, tot = tam_table(segs, mask, segs, customer_mask(sample), sample.arr, TamAssumptions())
    assert t["segment"].str.contains(" · ").all()
    assert tot["market_accounts"] == sample.n and tot["serviceable_accounts"] == mask.sum()
    assert tot["sam"] < tot["tam"]


def test_cli_tam_with_a_market_list(tmp_path, capsys):
    out = tmp_path / "tam.csv"
    rc = main(["tam", str(ROOT / "sample_data" / "accounts.csv"), "--profile",
               str(ROOT / "sample_data" / "default_profile.json"), "--by", "country",
               "--market", str(SHARED_DATA / "crunchbase_2013_companies.csv"), "--skip-missing-traits",
               "--acv", "20000", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0 and "United States" in captured.out and "TOTAL" in captured.out
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert df["market_accounts"].sum() == 19374
    us = df[df["Country"] == "United States"].iloc[0]
    assert us["acv_source"] == "segment median" and us["customers"] > 5
    assert (df.loc[df["acv_source"].str.startswith("fallback"), "acv_used"] == 20000).all()


def test_cli_tam_refuses_what_it_cannot_do(tmp_path, capsys):
    base = ["tam", str(ROOT / "sample_data" / "accounts.csv"), "--profile", str(ROOT / "sample_data" / "default_profile.json")]
    assert main(base + ["--by", "a", "--by", "b", "--by", "c"]) == 2
    assert main(base + ["--by", "Nope"]) == 2
    assert "no column" in capsys.readouterr().err
    rc = main(["tam", str(SHARED_DATA / "ibm_telco_customer_churn.csv"), "--profile",
               str(ROOT / "sample_data" / "default_profile.json"), "--by", "tier"])
    assert rc == 2 and "--skip-missing-traits" in capsys.readouterr().err
