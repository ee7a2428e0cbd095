"""The Evidence page through AppTest: backtest numbers, reference, suggestion adopt, outcome switch."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, open_app, score_widget, weight_sliders


@pytest.fixture
def app(data_root):
    return open_app("pages/evidence.py", timeout=180)


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_backtest_and_reference_on_the_sample(app):
    assert app.title[0].value == "Evidence"
    auc = float(metric(app, "Held-out AUC"))
    ref = float(metric(app, "Reference AUC"))
    assert 0.6 < auc < 0.95 and 0.6 < ref < 0.95
    tiers = next(d.value for d in app.dataframe if "Held-out known" in d.value.columns)
    lifts = [float(x.rstrip("× ⚠")) if x.rstrip("× ⚠") != "–" else float("nan") for x in tiers["Lift"]]
    assert tiers.iloc[-1, 0] == "Insufficient data" and tiers["Held-out known"].tolist()[-1] == 0  # left out
    assert lifts[0] > 1.3 > 1.0 > lifts[3]  # A beats the base rate, D falls below it


def test_adopting_the_suggestion_changes_the_profile_and_the_score_page(app):
    candidates = next(d.value for d in app.dataframe if "Status" in d.value.columns)
    suggested = (candidates["Status"] == "suggested").sum()
    assert suggested >= 3
    dataset_id = app.session_state["icp.dataset"][1]
    before = len(app.session_state["icp.work"][dataset_id]["profile"].traits)
    app.button(key="evidence.adopt_all").click().run()
    assert not app.exception, app.exception
    profile = app.session_state["icp.work"][dataset_id]["profile"]
    shared = (candidates["You"] != "—") & (candidates["Status"] == "suggested")
    assert len(profile.traits) == before + suggested - shared.sum()
    candidates = next(d.value for d in app.dataframe if "Status" in d.value.columns)
    mine = candidates[candidates["Status"] == "suggested"]
    assert (mine["You"] == mine["Data"]).all()  # adopted weights now show on both sides
    app.switch_page("pages/score.py").run()
    assert not app.exception, app.exception
    sliders = weight_sliders(app)
    assert len(sliders) == len(profile.traits)


def test_switching_the_outcome_to_retention_and_composite(app):
    won_auc = metric(app, "Held-out AUC")
    app.selectbox(key="evidence.kind").set_value("retained").run()
    assert not app.exception, app.exception
    assert metric(app, "Held-out AUC") != won_auc
    app.selectbox(key="evidence.kind").set_value("composite").run()
    assert not app.exception, app.exception
    assert float(metric(app, "Held-out AUC")) > 0.5
    app.selectbox(key="evidence.kind").set_value("nps_promoter").run()
    assert not app.exception and float(metric(app, "Held-out AUC")) > 0.5


def test_score_page_shows_live_evidence(app):
    app.switch_page("pages/score.py").run()
    line = next(c.value for c in app.caption if "Evidence" in c.value)
    assert "AUC" in line and "tier A lift" in line
    score_widget(app.slider, "w.industry-core").set_value(-5).run()
    line2 = next(c.value for c in app.caption if "Evidence" in c.value)
    assert line2 != line


def test_pmf_outcome_and_campaign_tab(app):
    app.selectbox(key="evidence.kind").set_value("pmf").run()
    assert not app.exception, app.exception
    assert float(metric(app, "Held-out AUC")) > 0.5
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


# ---------------------------------------------------------------------------- other datasets: default outcome, rules

def open_on(data_root, path, ws=None):
    """The Evidence page on a file ingested into a fresh workspace (the newest dataset opens)."""
    from icp_core.ingest import ingest_dataset
    from icp_core.store import DatasetStore, new_token

    ws = ws or new_token()
    ingest_dataset(DatasetStore(data_root, ws), path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["ws"] = ws
    at.run()
    at.switch_page("pages/evidence.py").run()
    return at


def tier_table(at):
    return next(d.value for d in at.dataframe if "Held-out known" in d.value.columns)


def shown(at):
    """Every message the page shows, by kind; the leakage warning (issue 18) apart, as "leak": the
    leads file's `Tags` (sales notes such as "Will revert after reading the email") is flagged."""
    out = {kind: [m.value for m in getattr(at, kind)] for kind in ("error", "warning", "info", "success")}
    out["leak"] = [w for w in out["warning"] if "may leak the outcome" in w]
    out["warning"] = [w for w in out["warning"] if w not in out["leak"]]
    return out


@pytest.fixture
def leads_csv(tmp_path):
    from tests.test_evidence_outcome import x_education_leads

    path = tmp_path / "Leads.csv"
    x_education_leads().to_csv(path, index=False)
    return path


def test_a_leads_file_opens_on_converted(data_root, leads_csv):
    at = open_on(data_root, leads_csv)
    assert not at.exception, at.exception
    msgs = shown(at)
    assert not msgs["error"] and not msgs["warning"], msgs
    assert msgs["leak"] and any("“Tags”" in m.value for m in at.markdown)
    assert at.selectbox(key="evidence.kind").value == "column"
    assert "composite" not in at.selectbox(key="evidence.kind").options  # nothing to blend on a leads file
    assert at.selectbox(key="evidence.o.column").value == "Converted"
    assert next(r for r in at.radio if r.label == "Good when").value == "true"  # good = converted
    assert float(metric(at, "Reference AUC")) > 0.7
    assert tier_table(at)["Accounts"].sum() == 3000
    assert any("strong traits found" in s for s in msgs["success"]), msgs
    assert any("Converted = true" in m.value for m in at.markdown)


def test_column_rules_start_empty_ask_in_ui_words_and_reset_per_column(data_root, leads_csv):
    at = open_on(data_root, leads_csv)
    at.selectbox(key="evidence.o.column").set_value("TotalVisits").run()
    assert not at.exception, at.exception
    rule = next(t for t in at.text_input if t.label == "Good when")
    assert rule.value == "" and rule.placeholder.startswith("e.g. >=")  # never a prefilled, unreadable rule
    msgs = shown(at)
    assert not msgs["error"] and not msgs["warning"], msgs
    assert any("Good when" in i for i in msgs["info"]) and not at.metric  # asks; no backtest yet
    rule.set_value(">= 5").run()
    assert not at.exception and float(metric(at, "Held-out AUC")) >= 0
    assert any("TotalVisits >= 5" in m.value.replace("\\", "") for m in at.markdown)  # markdown-escaped
    next(t for t in at.text_input if t.label == "Good when").set_value(">=").run()
    msgs = shown(at)
    assert not at.exception and not msgs["error"]
    assert any("read" in w and ">= 9" in w for w in msgs["warning"]), msgs
    assert not any("--" in m for ms in msgs.values() for m in ms), msgs  # no command-line flags on a page
    at.selectbox(key="evidence.o.column").set_value("Lead Source").run()
    msgs = shown(at)
    assert not msgs["warning"] and any("Good values" in i for i in msgs["info"]), msgs
    at.selectbox(key="evidence.o.column").set_value("TotalVisits").run()
    assert next(t for t in at.text_input if t.label == "Good when").value == ""  # the old rule is gone
    at.selectbox(key="evidence.o.column").set_value("Converted").run()
    msgs = shown(at)
    assert not at.exception and not msgs["warning"] and not msgs["error"], msgs
    assert any("Converted = true" in m.value for m in at.markdown) and tier_table(at)["Accounts"].sum() == 3000


def test_switching_from_the_sample_to_a_leads_file(app, data_root, leads_csv):
    from icp_core.ingest import ingest_dataset
    from icp_core.store import DatasetStore

    assert app.selectbox(key="evidence.kind").value == "won"
    ws = app.session_state["icp.workspace"]
    leads = (ws, ingest_dataset(DatasetStore(data_root, ws), leads_csv).dataset_id)
    gen = app.session_state["icp.picker_gen"] if "icp.picker_gen" in app.session_state else 0
    app.session_state["icp.dataset"] = leads
    app.session_state["icp.picker_gen"] = gen + 1  # as ui.state.choose_dataset does
    app.run()
    assert not app.exception, app.exception
    assert app.session_state["icp.dataset"] == leads
    assert app.selectbox(key="evidence.kind").value == "column"
    assert app.selectbox(key="evidence.o.column").value == "Converted"
    assert not shown(app)["warning"]


def test_telco_opens_on_retained_with_the_tier_table_and_the_reference(data_root):
    from tests.conftest import SHARED_DATA

    at = open_on(data_root, SHARED_DATA / "ibm_telco_customer_churn.csv")
    assert not at.exception, at.exception
    assert at.selectbox(key="evidence.kind").value == "retained"
    assert tier_table(at)["Accounts"].sum() == 7043
    assert 0.8 < float(metric(at, "Reference AUC")) < 0.9
    assert not shown(at)["error"]
