"""Account 360 and go-to-market tests: joins and roll-ups, domain keys, enrichment, the PMF composite,
the campaign statistics against hand-computed values, and the CLI."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from icp_core.__main__ import main
from icp_core.backtest import live_backtest
from icp_core.campaign import (
    classify_groups,
    compare_groups,
    compare_results,
    draw_control,
    needed_sample,
    newcombe_interval,
)
from icp_core.clean import install_cleaning_macros
from icp_core.dataset import AccountMatrix
from icp_core.ingest import IngestError, ingest_dataset
from icp_core.outcomes import Outcome, outcome_labels, pmf_scores
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.sources import add_source, domain_key_sql, preview_source
from icp_core.suggest import suggest_traits
from sample_data.generate_sample import generate_accounts
from tests.conftest import ROOT, SHARED_DATA


def matrix(store, dataset_id):
    meta = store.read_meta(dataset_id)
    return AccountMatrix(lambda: store.open_dataset(dataset_id), [ColumnSpec.from_dict(c) for c in meta["columns"]])


@pytest.fixture(scope="module")
def raven(tmp_path_factory):
    from icp_core.store import DatasetStore, new_token

    store = DatasetStore(tmp_path_factory.mktemp("raven"), new_token())
    did = ingest_dataset(store, SHARED_DATA / "ravenstack_accounts.csv").dataset_id
    subs = add_source(store, did, SHARED_DATA / "ravenstack_subscriptions.csv", aggregates={"arr_amount": "latest"})
    churn = add_source(store, did, SHARED_DATA / "ravenstack_churn_events.csv")
    return store, did, subs, churn


def test_ravenstack_three_tables_become_one_scored_dataset(raven):
    store, did, subs, churn = raven
    assert subs["match_rate"] == 1.0 and subs["accounts_matched"] == 500 and subs["one_to_many"]
    assert churn["rows"] == 600 and churn["accounts_matched"] == 352
    am = matrix(store, did)
    assert am.n == 500 and am.has["arr"] and am.has["churned"]
    # ARR = the latest subscription's arr_amount per account (by start date), as pandas computes it
    s = pd.read_csv(SHARED_DATA / "ravenstack_subscriptions.csv")
    # latest by start date; on the same date, the later row in the file
    latest = s.reset_index().sort_values(["start_date", "index"]).groupby("account_id")["arr_amount"].last()
    arr_spec = next(sp for sp in am.specs if sp.role == "arr")
    with store.open_dataset(did) as con:
        rows = con.execute(f'SELECT account_id, "{arr_spec.key}", ravenstack_subscriptions_rows, '
                           'ravenstack_churn_events_rows FROM accounts').df().set_index("account_id")
    assert (rows[arr_spec.key] == latest.reindex(rows.index)).all()
    assert (rows["ravenstack_subscriptions_rows"] == s.groupby("account_id").size().reindex(rows.index)).all()
    events = pd.read_csv(SHARED_DATA / "ravenstack_churn_events.csv").groupby("account_id").size()
    assert (rows["ravenstack_churn_events_rows"].fillna(0) == events.reindex(rows.index).fillna(0)).all()
    # the joined columns are traits and outcomes like any other
    y = outcome_labels(am, Outcome("retained"))
    assert np.nansum(1 - y) == 110
    sug = suggest_traits(am, Outcome("arr_above", arr_floor=float(np.nanmedian(am.arr))))
    # runs on the joined columns: the latest plan and summed MRR (ARR above the median is the outcome)
    joined = [t for t in sug.traits if "(ravenstack_subscriptions," in (t.column or "")]
    assert sug.found and joined
    assert any(t.column.startswith("plan_tier") and "Enterprise" in t.label and t.weight > 0 for t in joined)
    from icp_core.profile import Profile, Trait
    p = Profile(traits=[Trait("Enterprise plan", "in_set", column="plan_tier (ravenstack_subscriptions, latest)",
                              values=["Enterprise"], weight=3)])
    result, binding = score_profile(am, p)
    assert not binding.problems and (result.tier == 0).sum() > 0


def test_preview_reports_unmatched_keys_without_changing_anything(tmp_path, store):
    acc = pd.DataFrame({"Account ID": ["A1", "A2", "A3"], "Company": ["Acme", "Beta", "Gamma"],
                        "Website": ["https://www.acme.com/about", "beta.io", None]})
    acc.to_csv(tmp_path / "acc.csv", index=False)
    did = ingest_dataset(store, tmp_path / "acc.csv").dataset_id
    usage = pd.DataFrame({"account id": [" a1", "A1", "a2", "ZZ9", "ZZ9"], "active users": [5, 7, 3, 1, 1]})
    usage.to_csv(tmp_path / "usage.csv", index=False)
    before = store.read_meta(did)
    p = preview_source(store, did, tmp_path / "usage.csv")
    assert p.key_role == "account_id" and p.matched_rows == 3 and p.accounts_matched == 2
    assert p.unmatched_keys == ["zz9"] and p.one_to_many
    assert store.read_meta(did) == before
    report = add_source(store, did, tmp_path / "usage.csv", aggregates={"active_users": "mean"})
    am = matrix(store, did)
    spec = next(s for s in am.specs if s.header.startswith("active users"))
    assert am.column_array(spec)[:2].tolist() == [6.0, 3.0] and np.isnan(am.column_array(spec)[2])
    assert report["aggregates"] == {"active users": "mean"}


def test_domain_keys_are_normalised(con):
    values = ["https://www.Acme.com/pricing?x=1", "http://acme.com", "ACME.COM", "www.acme.com:8080/", "jo@acme.com",
              "  acme.com  ", "sub.acme.com", ""]
    got = [r[0] for r in con.execute(f"SELECT {domain_key_sql('v')} FROM (SELECT unnest(?::VARCHAR[]) AS v)",
                                     [values]).fetchall()]
    assert got == ["acme.com"] * 6 + ["sub.acme.com", None]


def test_enrichment_fills_blanks_and_never_overwrites(tmp_path, store):
    acc = pd.DataFrame({"Company": ["Acme", "Beta", "Gamma"], "Website": ["https://www.acme.com", "beta.io", "gamma.org"],
                        "Industry": ["Fintech", None, ""], "Employees": [100, None, 50]})
    acc.to_csv(tmp_path / "acc.csv", index=False)
    did = ingest_dataset(store, tmp_path / "acc.csv").dataset_id
    enrich = pd.DataFrame({"domain": ["acme.com", "BETA.io", "www.gamma.org"], "industry": ["Retail", "SaaS", "Media"],
                           "employee count": [999, 250, 999], "founded": [2001, 2010, 2015]})
    enrich.to_csv(tmp_path / "enrich.csv", index=False)
    report = add_source(store, did, tmp_path / "enrich.csv", enrich=True)
    assert report["key"].endswith("Website / domain")
    assert report["filled"]["industry"]["filled"] == 2 and report["filled"]["employee count"]["filled"] == 1
    am = matrix(store, did)
    codes, values = am.column_codes(next(s for s in am.specs if s.role == "industry"))
    assert [values[c] for c in codes] == ["fintech", "saas", "media"]  # Acme keeps its own value
    emp = am.column_array(next(s for s in am.specs if s.role == "employees"))
    assert emp.tolist() == [100, 250, 50]
    assert any(s.header.startswith("founded") for s in am.specs)  # new columns are added too
    assert "joins" in store.read_meta(did)


def test_join_without_a_matching_key_is_refused(tmp_path, store):
    pd.DataFrame({"Company": ["Acme"], "Employees": [5]}).to_csv(tmp_path / "acc.csv", index=False)
    did = ingest_dataset(store, tmp_path / "acc.csv").dataset_id
    pd.DataFrame({"name": ["Nobody"], "x": [1]}).to_csv(tmp_path / "other.csv", index=False)
    before = {f.name: f.read_bytes() for f in store.dir.iterdir()}
    with pytest.raises(IngestError, match="matches"):
        add_source(store, did, tmp_path / "other.csv")
    assert {f.name: f.read_bytes() for f in store.dir.iterdir()} == before  # untouched, no work copy left


def test_a_join_is_built_beside_the_dataset_and_swapped_in_whole(tmp_path, store, monkeypatch):
    """The work copy lives in the dataset folder (a rename into place never crosses file systems,
    e.g. /tmp to a mounted data volume), and the live file changes only once, complete."""
    import os as os_module

    from icp_core import sources

    pd.DataFrame({"Company": ["Acme", "Beta"], "Employees": [5, 50]}).to_csv(tmp_path / "acc.csv", index=False)
    did = ingest_dataset(store, tmp_path / "acc.csv").dataset_id
    pd.DataFrame({"name": ["acme", "BETA "], "seats": [3, 7]}).to_csv(tmp_path / "usage.csv", index=False)
    renames = []
    real_replace = os_module.replace

    def replace(src, dst):
        renames.append((Path(src).parent, Path(dst).parent))
        return real_replace(src, dst)

    monkeypatch.setattr(sources.os, "replace", replace)
    add_source(store, did, tmp_path / "usage.csv")
    assert store.db_path(did).parent in [src for src, _ in renames]
    assert all(src == dst for src, dst in renames)
    left = sorted(f.name for f in store.dir.iterdir() if not f.name.endswith(".lock"))  # lock files stay
    assert left == sorted([f"{did}.duckdb", f"{did}.json"])
    am = matrix(store, did)
    seats = next(s for s in am.specs if s.header.startswith("seats"))
    assert am.column_array(seats).tolist() == [3, 7]  # clean values built before the swap
    assert store.read_meta(did)["quality"]["rows_loaded"] == 2


# ---------------------------------------------------------------------------- PMF composite

def test_pmf_score_by_hand(tmp_path, store):
    pd.DataFrame({"Company": list("abcd"), "NPS": [10, 5, 0, None], "Usage": [1, 2, 3, 4],
                  "Churned": ["No", "Yes", "No", "No"]}).to_csv(tmp_path / "p.csv", index=False)
    am = matrix(store, ingest_dataset(store, tmp_path / "p.csv").dataset_id)
    mm = pmf_scores(am, [("NPS", 0.5), ("Usage", 0.5)], "minmax")
    # NPS min-max: 1, .5, 0, –; usage: 0, 1/3, 2/3, 1; d has only usage
    assert mm.tolist() == pytest.approx([0.5, (0.5 + 1 / 3) / 2, (0 + 2 / 3) / 2, 1.0])
    pr = pmf_scores(am, [("NPS", 0.75), ("Churned", 0.25)], "percentile")
    # NPS percentile ranks (3 values): 1, 2/3, 1/3; retained ranks over 4: retained (3 ties) = 3/4, churned = 1/4
    assert pr.tolist() == pytest.approx([0.75 * 1 + 0.25 * 0.75, 0.75 * 2 / 3 + 0.25 * 0.25,
                                         0.75 * 1 / 3 + 0.25 * 0.75, 0.75])
    y = outcome_labels(am, Outcome("pmf", pmf_columns=[("NPS", 0.5), ("Usage", 0.5)], pmf_method="minmax", pmf_top_percent=50))
    assert y.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_pmf_drives_suggestion_and_backtest(store):
    am = matrix(store, ingest_dataset(store, ROOT / "sample_data" / "accounts.csv").dataset_id)
    outcome = Outcome("pmf", pmf_columns=[("Deal Stage", 0.5), ("Churned", 0.2), ("NPS", 0.15), ("ARR", 0.15)],
                      pmf_method="percentile", pmf_top_percent=50)
    sug = suggest_traits(am, outcome)
    assert sug.found and any(t.role == "industry" and t.weight > 0 for t in sug.traits)
    result, _ = score_profile(am, sug.profile())
    bt = live_backtest(am, result, outcome)
    assert bt.auc > 0.6 and bt.tiers.loc[0, "lift"] > 1


# ---------------------------------------------------------------------------- campaign statistics

def test_statistics_by_hand():
    lo, hi = newcombe_interval(56, 70, 48, 80)  # Newcombe (1998), example (a): 0.0524 to 0.3339
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    c = compare_groups(56, 70, 48, 80)
    from scipy.stats import fisher_exact
    assert c.p_value == pytest.approx(fisher_exact([[56, 14], [48, 32]])[1])
    assert c.difference == pytest.approx(0.8 - 0.6)
    # (1.96·√(2·.1·.9) + 0.8416·√(.15·.85 + .05·.95))² / .1² = 140.1 -> 141 per group
    assert needed_sample(0.15, 0.05) == 141
    assert classify_groups(pd.Series(["ICP", "Control", "target", "holdout", "?"])).tolist() == [
        "icp", "control", "icp", "control", ""]


def simulated_campaign(effect: bool, seed: int = 3) -> pd.DataFrame:
    accounts = generate_accounts(4000, seed=seed)
    rng = np.random.default_rng(seed)
    icp = rng.random(len(accounts)) < 0.5
    rate = np.where(icp & effect, 0.12, 0.06)
    accounts["group"] = np.where(icp, "ICP", "control")
    accounts["responded"] = np.where(rng.random(len(accounts)) < rate, "yes", "no")
    return accounts


def test_campaign_finds_a_known_effect_and_none_when_there_is_none():
    real = compare_results(simulated_campaign(True), "group", "responded")
    assert real.significant and real.diff_interval[0] > 0 and abs(real.difference - 0.06) < 0.025
    null = compare_results(simulated_campaign(False), "group", "responded")
    assert not null.significant and null.diff_interval[0] < 0 < null.diff_interval[1]


def test_draw_control_is_seeded_and_disjoint():
    t, c = draw_control(np.arange(0, 100), np.arange(100, 1000), seed=4)
    t2, c2 = draw_control(np.arange(0, 100), np.arange(100, 1000), seed=4)
    assert (c == c2).all() and len(c) == 100 and not set(c) & set(t)


def test_cli_campaign_and_ingest_join(tmp_path, capsys):
    path = tmp_path / "results.csv"
    simulated_campaign(True).to_csv(path, index=False)
    rc = main(["campaign", str(path), "--profile", str(ROOT / "sample_data" / "default_profile.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "The ICP group does better than the control" in out
    # no group column: the profile splits the sent accounts (tiers A+B vs the rest)
    df = simulated_campaign(False).drop(columns=["group"])
    df.to_csv(path, index=False)
    rc = main(["campaign", str(path), "--profile", str(ROOT / "sample_data" / "default_profile.json"), "--json"])
    assert rc == 0 and '"significant": false' in capsys.readouterr().out
    rc = main(["--data-dir", str(tmp_path / "d"), "ingest", str(SHARED_DATA / "ravenstack_accounts.csv"),
               "--join", str(SHARED_DATA / "ravenstack_subscriptions.csv"),
               "--join", str(SHARED_DATA / "ravenstack_churn_events.csv")])
    captured = capsys.readouterr()
    assert rc == 0 and captured.err.count("joined ravenstack_") == 2 and "arr_amount" in captured.out


def test_cleaning_macros_install_and_work():
    con = duckdb.connect()
    install_cleaning_macros(con)
    assert con.execute("SELECT icp_nullify(' n/a '), icp_nullify(' Acme '), icp_parse_stage('Closed Won'), "
                       "icp_parse_bool('Yes')").fetchall()[0] == (None, "Acme", "won", True)
    con.close()
