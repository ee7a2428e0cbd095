"""The Evidence page through AppTest: backtest numbers, reference, suggestion adopt, outcome switch."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


@pytest.fixture
def app(data_root):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/evidence.py").run()
    assert not at.exception, at.exception
    return at


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_backtest_and_reference_on_the_sample(app):
    assert app.title[0].value == "Evidence"
    auc = float(metric(app, "ROC AUC (held out)"))
    ref = float(metric(app, "Reference AUC"))
    assert 0.6 < auc < 0.95 and 0.6 < ref < 0.95
    tiers = next(d.value for d in app.dataframe if "Held-out known" in d.value.columns)
    lifts = [float(x.rstrip("× ⚠")) for x in tiers["Lift"]]
    assert lifts[0] > 1.3 > 1.0 > lifts[3]  # A beats the base rate, D falls below it


def test_adopting_the_suggestion_changes_the_profile_and_the_score_page(app):
    candidates = next(d.value for d in app.dataframe if "Status" in d.value.columns)
    suggested = (candidates["Status"] == "suggested").sum()
    assert suggested >= 3
    dataset_id = app.session_state["icp.dataset"][1]
    before = len(app.session_state["score.work"][dataset_id]["profile"].traits)
    app.button(key="evidence.adopt_all").click().run()
    assert not app.exception, app.exception
    profile = app.session_state["score.work"][dataset_id]["profile"]
    shared = (candidates["You"] != "—") & (candidates["Status"] == "suggested")
    assert len(profile.traits) == before + suggested - shared.sum()
    candidates = next(d.value for d in app.dataframe if "Status" in d.value.columns)
    mine = candidates[candidates["Status"] == "suggested"]
    assert (mine["You"] == mine["Data"]).all()  # adopted weights now show on both sides
    app.switch_page("pages/score.py").run()
    assert not app.exception, app.exception
    sliders = [s for s in app.slider if s.key and s.key.startswith("score.w.")]
    assert len(sliders) == len(profile.traits)


def test_switching_the_outcome_to_retention_and_composite(app):
    won_auc = metric(app, "ROC AUC (held out)")
    app.selectbox(key="evidence.kind").set_value("retained").run()
    assert not app.exception, app.exception
    assert metric(app, "ROC AUC (held out)") != won_auc
    app.selectbox(key="evidence.kind").set_value("composite").run()
    assert not app.exception, app.exception
    assert float(metric(app, "ROC AUC (held out)")) > 0.5
    app.selectbox(key="evidence.kind").set_value("nps_promoter").run()
    assert not app.exception and float(metric(app, "ROC AUC (held out)")) > 0.5


def test_score_page_shows_live_evidence(app):
    app.switch_page("pages/score.py").run()
    line = next(c.value for c in app.caption if "Evidence" in c.value)
    assert "AUC" in line and "tier A lift" in line
    app.slider(key="score.w.industry-core").set_value(-5).run()
    line2 = next(c.value for c in app.caption if "Evidence" in c.value)
    assert line2 != line


def test_pmf_outcome_and_campaign_tab(app):
    app.selectbox(key="evidence.kind").set_value("pmf").run()
    assert not app.exception, app.exception
    assert float(metric(app, "ROC AUC (held out)")) > 0.5
    pmf_tiers = next(d.value for d in app.dataframe if "Mean PMF" in d.value.columns)
    assert pmf_tiers["Mean PMF"].iloc[0] > pmf_tiers["Mean PMF"].iloc[3]  # tier A fits better than D
    import io

    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"group": ["ICP"] * 400 + ["control"] * 400,
                       "responded": np.where(rng.random(800) < np.r_[[0.2] * 400, [0.05] * 400], "yes", "no")})
    buf = io.BytesIO()
    df.to_csv(buf, index=False)
    app.file_uploader(key="evidence.camp.results").set_value(("results.csv", buf.getvalue(), "text/csv"))
    app.run()
    assert not app.exception, app.exception
    assert any("does better than the control" in s.value for s in app.success)
