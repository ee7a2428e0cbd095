"""Evidence: metrics on hand-computed examples, suggestions on planted data, no-signal honesty, CLI."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from icp_core.__main__ import main
from icp_core.backtest import backtest, pattern_outcomes, score_auc
from icp_core.dataset import AccountMatrix, group_patterns
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import Outcome, expand_outcomes, outcome_labels, outcome_weights
from icp_core.profile import TierRule, Trait
from icp_core.reference import reference_auc
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_accounts
from icp_core.stats import auc_from_counts, auc_interval, holdout_mask, wilson
from icp_core.suggest import suggest_traits
from sample_data.generate_sample import generate_accounts
from tests.conftest import ROOT, SHARED_DATA


def load(store, path, opportunities=None):
    meta = ingest_dataset(store, path, opportunities).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


# ---------------------------------------------------------------------------- metrics by hand

def test_wilson_interval_known_values():
    lo, hi = wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0)[0] != wilson(0, 0)[0]  # nan when there is nothing to judge


def test_auc_by_hand_and_against_sklearn():
    # positives at scores 2 and 4, negatives at 1 and 3: pairs won 3 of 4
    assert auc_from_counts(np.array([1, 2, 3, 4.0]), np.array([0, 1, 0, 1.0]), np.array([1, 0, 1, 0.0])) == 0.75
    # ties count a half: one positive and one negative at the same score
    assert auc_from_counts(np.array([5.0]), np.array([1.0]), np.array([1.0])) == 0.5
    rng = np.random.default_rng(0)
    s = rng.integers(0, 10, 500).astype(float)
    y = (rng.random(500) < 0.2 + s / 20).astype(int)
    assert auc_from_counts(s, y.astype(float), 1.0 - y) == pytest.approx(roc_auc_score(y, s))
    # Hanley & McNeil by hand: Q1 = 0.8/1.2, Q2 = 2·0.64/1.8, SE = sqrt(4.951111/2500) = 0.044502
    lo, hi = auc_interval(0.8, 50, 50)
    assert (lo, hi) == (pytest.approx(0.8 - 1.96 * 0.0445022, abs=1e-5), pytest.approx(0.8 + 1.96 * 0.0445022, abs=1e-5))


def test_backtest_lift_per_tier_by_hand():
    # two traits; 4 patterns; tiers from thresholds
    m = np.array([[1, 1]] * 4 + [[1, 0]] * 4 + [[0, 0]] * 4, dtype=bool)
    traits = [Trait("a", "is_true", role="churned", weight=3), Trait("b", "is_true", role="churned", weight=1)]
    accounts = SimpleNamespace(won=np.full(12, -1, np.int8), won_deals=np.zeros(12), lost_deals=np.zeros(12),
                               churned=np.full(12, -1, np.int8), arr=np.arange(12, dtype=float), has={})
    result = score_accounts(group_patterns(m, accounts), traits, TierRule(thresholds={"A": 100, "B": 70, "C": 10}))
    assert result.tier.tolist() == [0] * 4 + [1] * 4 + [3] * 4
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, np.nan])
    test = np.ones(12, bool)
    bt = backtest(result, pattern_outcomes(result.patterns, y, test, accounts))
    assert bt.n == 11 and bt.n_pos == 4 and bt.base_rate == pytest.approx(4 / 11)
    tiers = bt.tiers.set_index("tier")
    assert tiers.loc["A", "rate"] == 0.75 and tiers.loc["A", "lift"] == pytest.approx(0.75 / (4 / 11))
    assert tiers.loc["B", "rate"] == 0.25 and tiers.loc["D", "rate"] == 0.0
    assert tiers.loc["A", "too_few"]  # 4 known accounts
    assert bt.captured_good == 1.0  # all 4 good accounts are in A+B
    assert bt.captured_arr == pytest.approx(sum(range(8)) / sum(range(12)))
    assert bt.auc == pytest.approx(roc_auc_score(y[:11], result.score[:11]))
    assert any("too few" in w for w in bt.warnings)
    assert bt.gains["share_captured"].iloc[-1] == 1.0


def test_expand_outcomes_counts_deals():
    idx, lab = expand_outcomes(np.array([0, 1]), np.array([0.75, 0.0]), np.array([4.0, 2.0]))
    assert idx.tolist() == [0, 0, 0, 0, 1, 1] and sorted(lab[:4]) == [0, 1, 1, 1] and lab[4:].tolist() == [0, 0]


# ---------------------------------------------------------------------------- suggestion

@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Generated accounts with the planted ICP of sample_data/generate_sample.py (seed 3)."""
    from icp_core.store import DatasetStore, new_token

    tmp = tmp_path_factory.mktemp("planted")
    csv = tmp / "planted.csv"
    generate_accounts(4000, seed=3).to_csv(csv, index=False)
    return load(DatasetStore(tmp, new_token()), csv)


def test_suggestion_finds_the_planted_traits(planted):
    sug = suggest_traits(planted, Outcome("won"))
    assert sug.found and 3 <= len(sug.traits) <= 12
    labels = {t.label: t for t in sug.traits}
    industry_up = [t for t in sug.traits if t.role == "industry" and t.weight > 0]
    assert industry_up and {"fintech", "saas"} <= set(industry_up[0].values)
    industry_down = [t for t in sug.traits if t.role == "industry" and t.weight < 0]
    assert any("government" in t.values for t in industry_down)
    assert any(t.rule == "contains_any" and t.values == ["Snowflake"] and t.weight > 0 for t in sug.traits), labels
    assert all(-5 <= t.weight <= 5 and t.weight != 0 for t in sug.traits)
    assert max(abs(t.weight) for t in sug.traits) == 5
    # noise columns never make it in
    assert not any(t.column == "Account Name" or t.role in ("account_id", "account_name") for t in sug.traits)
    # the suggestion holds up on the held-out accounts and against the black box
    test = holdout_mask(planted.n)
    ours = score_auc(planted, sug.profile(), Outcome("won"), test)
    ref = reference_auc(planted, Outcome("won"), train=~test, test=test)
    assert ours >= 0.97 * ref


def test_no_signal_means_no_strong_traits(tmp_path, store):
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame({
        "Account": [f"Co {i}" for i in range(n)],
        "Industry": rng.choice(["Fintech", "SaaS", "Retail", "Media", "Health"], n),
        "Employees": rng.integers(1, 5000, n),
        "Tech": [";".join(rng.choice(["AWS", "GCP", "Azure", "Snowflake"], 2, replace=False)) for _ in range(n)],
        "Stage": rng.choice(["Closed Won", "Closed Lost"], n),
    })
    df.to_csv(tmp_path / "noise.csv", index=False)
    am = load(store, tmp_path / "noise.csv")
    sug = suggest_traits(am, Outcome("won"))
    assert not sug.found and sug.message.startswith("no strong traits found")
    assert all(not c.strong for c in sug.candidates)


def test_maven_pipeline_has_no_strong_traits(store):
    am = load(store, SHARED_DATA / "maven_crm_accounts.csv", SHARED_DATA / "maven_crm_sales_pipeline.csv")
    y, w = outcome_weights(am, Outcome("won"))
    assert np.nanmin(y) < 1 and w.sum() > 5000  # won/lost deals per account, not one flag per account
    sug = suggest_traits(am, Outcome("won"))
    assert not sug.found and "no strong traits found" in sug.message
    # the backtest says what it counts: closed deals (1,872 of them for 85 accounts read as accounts before)
    from icp_core.backtest import live_backtest
    from icp_core.profile import Profile
    from icp_core.scoring import score_profile

    r, _ = score_profile(am, Profile(name="p", traits=[Trait("Big", "range", role="employees", min=1000, weight=3)]))
    bt = live_backtest(am, r, Outcome("won"))
    assert bt.unit == "closed deals" and bt.n > am.n and bt.to_dict()["unit"] == "closed deals"
    assert all("accounts with a known outcome" not in w for w in bt.warnings)


def test_column_outcomes_understand_crm_values(tmp_path, store):
    pd.DataFrame({"Name": list("abcdef"), "Stage": ["Closed Won", "Won", "Closed Lost", "Engaging", "Open", "Lost"],
                  "Churn": ["Yes", "No", "TRUE", "0", "", "N"], "NPS": [10, 9, 3, 7, None, 8],
                  "Plan": ["Pro", "Basic", "pro", "Team", "Pro", None]}).to_csv(tmp_path / "o.csv", index=False)
    am = load(store, tmp_path / "o.csv")
    y = outcome_labels(am, Outcome("column", column="Stage"))
    assert [None if math.isnan(v) else v for v in y] == [1, 1, 0, None, None, 0]
    assert outcome_labels(am, Outcome("column", column="Stage", good_when="Closed Lost"))[2] == 1
    y = outcome_labels(am, Outcome("column", column="Churn", good_when="Yes"))
    assert [None if math.isnan(v) else v for v in y] == [1, 0, 1, 0, None, 0]
    assert outcome_labels(am, Outcome("nps_promoter")).tolist()[:3] == [1, 1, 0]
    y = outcome_labels(am, Outcome("column", column="NPS", good_when=">=8"))
    assert [None if math.isnan(v) else v for v in y] == [1, 1, 0, 0, None, 1]
    y = outcome_labels(am, Outcome("column", column="Plan", good_when="pro"))
    assert [None if math.isnan(v) else v for v in y] == [1, 0, 1, 0, 1, None]
    comp = Outcome("composite", components=[(Outcome("won"), 0.5), (Outcome("nps_promoter"), 0.5)])
    y = outcome_labels(am, comp)
    assert [None if math.isnan(v) else v for v in y] == [1, 1, 0, 0, None, 0]


# ---------------------------------------------------------------------------- CLI

def test_cli_suggest_then_backtest_then_score(tmp_path, capsys):
    telco = SHARED_DATA / "ibm_telco_customer_churn.csv"
    out = tmp_path / "telco.json"
    rc = main(["suggest", str(telco), "--outcome", "Churn", "--positive", "No", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0 and "strong traits found" in err
    profile = json.loads(out.read_text())
    assert 1 <= len(profile["traits"]) <= 12
    rc = main(["backtest", str(telco), "--profile", str(out), "--outcome", "Churn", "--positive", "No"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["auc"] > 0.75 and report["reference_auc"] > 0.75
    assert report["base_rate"] == pytest.approx(0.73, abs=0.03)
    assert [t["tier"] for t in report["tiers"]] == ["A", "B", "C", "D", "Disqualified", "Insufficient data"]
    assert report["tiers"][0]["lift"] > 1 > report["tiers"][3]["lift"]
    rc = main(["--data-dir", str(tmp_path / "d"), "score", str(telco), "--profile", str(out),
               "--out", str(tmp_path / "s.csv")])
    assert rc == 0


def test_cli_suggest_says_when_there_is_nothing(tmp_path, capsys):
    rc = main(["suggest", str(SHARED_DATA / "maven_crm_accounts.csv"), "--opportunities",
               str(SHARED_DATA / "maven_crm_sales_pipeline.csv"), "--outcome", "won", "--out", str(tmp_path / "m.json")])
    assert rc == 3 and "no strong traits found" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--outcome", "Nope"], "no column “Nope”"),
    (["--outcome", "Country"], "say which value is good"),
    (["--outcome", "Employees"], "give the good side"),
])
def test_cli_bad_outcome(tmp_path, capsys, args, message):
    rc = main(["suggest", str(ROOT / "sample_data" / "accounts.csv"), *args, "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err

