"""Issue 18, item 3: missing-data status. An account whose trait columns are mostly blank is
"Insufficient data" (its own tier, left out of the target mix and of backtests unless asked), one
with some blanks is "low confidence"; both show in exports (ICP Status), the explanation flags, the
warehouse SQL (equal to the app row for row) and the one-pager."""

import io

import numpy as np
import pandas as pd
import pytest

from icp_core import warehouse
from icp_core.backtest import backtest, live_backtest, pattern_outcomes
from icp_core.dataset import AccountMatrix
from icp_core.export import FileColumns, scored_export_bytes
from icp_core.ingest import ingest_dataset
from icp_core.onepager import render_onepager
from icp_core.outcomes import default_outcome, outcome_weights
from icp_core.profile import (
    INSUFFICIENT,
    Profile,
    ProfileError,
    TierRule,
    Trait,
    profile_from_dict,
    profile_from_json,
)
from icp_core.roles import ColumnSpec
from icp_core.scoring import (
    DISQUALIFIED_CODE,
    INSUFFICIENT_CODE,
    TIER_LABELS,
    explain_accounts,
    score_profile,
    tier_summary,
)
from icp_core.stats import holdout_mask
from icp_core.store import DatasetStore, new_token

# weights 5 (Industry), 3 (Employees), 2 (Tech): total 10. Per row, which columns are filled, and the
# share of the weight known: row 0 all (100 %), 1 no Tech (80 %), 2 no Employees (70 %), 3 Industry
# only (50 %), 4 Employees + Tech (50 %), 5 Employees only (30 %), 6 nothing (0 %)
ROWS = [
    ("Acme", "Fintech", "500", "snowflake;dbt"),
    ("Bolt", "Fintech", "800", ""),
    ("Crux", "Retail", "", "snowflake"),
    ("Dyna", "Fintech", "", ""),
    ("Echo", "", "300", "dbt"),
    ("Flux", "", "1200", ""),
    ("Gale", "", "", ""),
]
EXPECTED_EVIDENCE = [1.0, 0.8, 0.7, 0.5, 0.5, 0.3, 0.0]


def traits(must=False):
    return [Trait("Fintech", "in_set", column="Industry", values=["fintech"], weight=5,
                  trait_class="must_have" if must else "nice_to_have"),
            Trait("200-1,000 staff", "range", column="Employees", min=200, max=1000, weight=3),
            Trait("Snowflake", "contains_any", column="Tech", values=["snowflake"], weight=2)]


def load(directory, rows):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "a.csv"
    pd.DataFrame(rows, columns=["Company", "Industry", "Employees", "Tech", "Stage"][: len(rows[0])]).to_csv(
        path, index=False)
    store = DatasetStore(directory / "s", new_token())
    meta = ingest_dataset(store, path).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return store, meta, specs, AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load(tmp_path_factory.mktemp("missing"), ROWS)


def test_status_thresholds(small):
    *_, am = small
    r, _ = score_profile(am, Profile(traits=traits()))
    assert r.evidence.tolist() == pytest.approx(EXPECTED_EVIDENCE)
    # under 50 % known: Insufficient data; 50 % is not under the line; under 80 %: low confidence
    assert [TIER_LABELS[t] for t in r.tier][5:] == [INSUFFICIENT, INSUFFICIENT]
    assert INSUFFICIENT_CODE not in r.tier[:5]
    assert r.status.tolist() == [0, 0, 1, 1, 1, 2, 2]
    flags = explain_accounts(r, np.arange(7))["flags"].tolist()
    assert flags[2].endswith("Low confidence: under 80 % of the trait weight known")
    assert flags[5] == "Insufficient data: under 50 % of the trait weight known"
    assert flags[0] == flags[1] == ""
    # the lines are the profile's: at 75 / 90, row 2 (70 %) is not tiered and row 1 (80 %) is low confidence
    p = Profile(traits=traits(), tier_rule=TierRule(insufficient_below=75, low_confidence_below=90))
    r2, _ = score_profile(am, p)
    assert r2.status.tolist() == [0, 1, 2, 2, 2, 2, 2]
    # 0 and 0 switch the status off: every account is tiered, as before
    r3, _ = score_profile(am, Profile(traits=traits(), tier_rule=TierRule(insufficient_below=0, low_confidence_below=0)))
    assert r3.status.tolist() == [0] * 7 and INSUFFICIENT_CODE not in r3.tier


def test_a_blank_must_have_is_not_a_failed_one_when_little_is_known(small):
    *_, am = small
    r, _ = score_profile(am, Profile(traits=traits(must=True)))
    tiers = [TIER_LABELS[t] for t in r.tier]
    assert tiers[2] == "Disqualified"  # Retail: fails the must-have on a filled value
    assert tiers[4] == "Disqualified"  # 50 % known, Industry blank: judged, and it cannot show the must-have
    assert tiers[5] == tiers[6] == INSUFFICIENT  # too little known to say
    # a stay-away hit disqualifies whatever else is blank
    stay = traits() + [Trait("Tiny", "range", column="Employees", max=1250, weight=-1, trait_class="stay_away",
                             disqualify=True)]
    r2, _ = score_profile(am, Profile(traits=stay))
    assert r2.tier[5] == DISQUALIFIED_CODE  # Flux: 1,200 staff, little else known


def test_insufficient_accounts_are_left_out_of_the_target_mix(small):
    *_, am = small
    p = Profile(traits=traits(), tier_rule=TierRule(mode="mix", mix={"A": 20, "B": 20, "C": 20, "D": 40}))
    r, _ = score_profile(am, p)
    s = tier_summary(r, am).set_index("tier")
    assert s.loc[INSUFFICIENT, "accounts"] == 2
    assert s.loc[["A", "B", "C", "D"], "accounts"].sum() == 5  # the mix is solved on the five tiered accounts
    assert s["low_confidence"].sum() == 3


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """600 accounts: the first 300 fully known and informative, the last 300 blank but for a column
    that says nothing; won 50 %."""
    rng = np.random.default_rng(5)
    n = 600
    good = rng.random(n) < 0.5
    industry = np.where(good ^ (rng.random(n) < 0.1), "Fintech", "Retail")
    rows = []
    for i in range(n):
        known = i < 300
        rows.append((f"Co {i}", industry[i] if known else "", str(rng.integers(50, 2000)), "dbt" if known else "",
                     "Closed Won" if good[i] else "Closed Lost"))
    return load(tmp_path_factory.mktemp("judged"), rows)


def test_backtests_leave_insufficient_data_out_unless_asked(judged):
    *_, am = judged
    p = Profile(traits=traits())
    r, _ = score_profile(am, p)
    assert (r.tier[300:] == INSUFFICIENT_CODE).all() and (r.tier[:300] != INSUFFICIENT_CODE).all()
    outcome = default_outcome(am)
    bt = live_backtest(am, r, outcome)
    y, w = outcome_weights(am, outcome)
    test = holdout_mask(am.n)
    held_in_known = int((test[:300] & ~np.isnan(y[:300])).sum())
    held_blank = int((test[300:] & ~np.isnan(y[300:])).sum())
    assert bt.n == held_in_known and bt.insufficient == held_blank > 0
    assert bt.auc > 0.7  # judged on the accounts it can judge
    asked = backtest(r, pattern_outcomes(r.patterns, y, test, am, w), outcome.label(), include_insufficient=True)
    assert asked.n == held_in_known + held_blank and asked.insufficient == 0
    assert asked.auc < bt.auc  # the blanks, all scored alike, dilute it


def test_export_sql_and_onepager_carry_the_status(small, tmp_path):
    store, meta, specs, am = small
    p = Profile(name="Missing", traits=traits(must=True))
    r, _ = score_profile(am, p)
    data = scored_export_bytes(FileColumns(lambda: store.open_dataset(meta["id"]), specs), r, "v1", "csv")
    out = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert out["ICP Status"].tolist() == ["ok", "ok", "low confidence", "low confidence", "low confidence",
                                          "insufficient data", "insufficient data"]
    assert out["ICP Tier"].tolist()[5:] == [INSUFFICIENT] * 2
    # the warehouse SQL gives the app's status, tier and flags row for row (DuckDB), and renders everywhere
    sql = warehouse.profile_sql(p, r.thresholds, table="wh")
    with store.open_dataset(meta["id"]) as con:
        con.execute(f"CREATE TEMP VIEW wh AS {warehouse.warehouse_view_sql(p, specs)}")
        got = con.execute(f"SELECT * FROM ({sql}) ORDER BY row_id").df()
    assert got["icp_status"].tolist() == out["ICP Status"].tolist()
    assert got["icp_tier"].tolist() == out["ICP Tier"].tolist()
    assert got["icp_flags"].tolist() == out["ICP Flags"].tolist()
    for dialect in warehouse.DIALECTS:
        assert "icp_status" in warehouse.profile_sql(p, r.thresholds, dialect=dialect)
    html = render_onepager(p, tier_summary(r, am), "small", "v1")
    assert INSUFFICIENT in html and "low confidence" in html


def test_status_lines_round_trip_and_are_validated():
    p = Profile(traits=traits(), tier_rule=TierRule(insufficient_below=40, low_confidence_below=70))
    back = profile_from_json(p.to_json())
    assert (back.tier_rule.insufficient_below, back.tier_rule.low_confidence_below) == (40, 70)
    old = p.to_dict()
    del old["tier_rule"]["insufficient_below"], old["tier_rule"]["low_confidence_below"]
    assert profile_from_dict(old).tier_rule.insufficient_below == 50  # a profile saved before: the defaults
    for bad, word in (({"insufficient_below": 120}, "insufficient_below"), ({"low_confidence_below": "x"}, "low_confidence"),
                      ({"insufficient_below": 90, "low_confidence_below": 60}, "not be above")):
        d = p.to_dict()
        d["tier_rule"].update(bad)
        with pytest.raises(ProfileError, match=word):
            profile_from_dict(d)


def test_score_and_evidence_pages_show_the_status(data_root):
    from tests.conftest import open_app, score_widget

    at = open_app(timeout=180)
    badges = [h.body for h in at.get("html") if "tier-badge" in h.body]
    assert any(">Insufficient data<" in b for b in badges)  # its own tier card
    counts = [int(m.value.replace(",", "")) for m in at.metric if m.label == "Accounts"]
    assert len(counts) == 6 and counts[-1] > 0
    line = next(c.value for c in at.caption if "Missing data:" in c.value)
    assert f"Missing data: {counts[-1]:,} not tiered" in line and "low confidence" in line
    # the status lines are the profile's: 0 and 0 put every account back in a tier
    score_widget(at.number_input, "st.insufficient").set_value(0).run()
    score_widget(at.number_input, "st.low").set_value(0).run()
    assert not at.exception, at.exception
    counts = [int(m.value.replace(",", "")) for m in at.metric if m.label == "Accounts"]
    assert counts[-1] == 0 and sum(counts) == 3000
    score_widget(at.number_input, "st.low").set_value(80).run()
    score_widget(at.number_input, "st.insufficient").set_value(50).run()
    at.switch_page("pages/evidence.py").run()
    assert not at.exception, at.exception
    n_default = int(next(m for m in at.markdown if "held-out accounts" in m.value).value.split("**: ")[1]
                    .split(" held-out")[0].replace(",", ""))
    assert any("with insufficient data is left out" in w.value or "with insufficient data are left out" in w.value
               for w in at.warning)
    at.toggle(key="evidence.include_insufficient").set_value(True).run()
    n_all = int(next(m for m in at.markdown if "held-out accounts" in m.value).value.split("**: ")[1]
                .split(" held-out")[0].replace(",", ""))
    assert n_all > n_default


def test_cli_backtest_includes_insufficient_data_when_asked(judged, tmp_path, capsys):
    import json

    from icp_core.__main__ import main

    store, meta, specs, am = judged
    src = tmp_path / "j.csv"
    with store.open_dataset(meta["id"]) as con:
        con.execute("SELECT * EXCLUDE (row_id) FROM accounts ORDER BY row_id").df().to_csv(src, index=False)
    prof = tmp_path / "p.json"
    prof.write_text(Profile(traits=traits()).to_json())
    reports = []
    for extra in ([], ["--include-insufficient"]):
        assert main(["backtest", str(src), "--profile", str(prof), "--outcome", "won", *extra]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["insufficient_left_out"] > 0 and reports[1]["insufficient_left_out"] == 0
    assert reports[1]["accounts"] == reports[0]["accounts"] + reports[0]["insufficient_left_out"]
