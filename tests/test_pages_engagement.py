"""Issue 17 through AppTest: the engagement controls, the fit × engagement matrix and its cell list,
the session's change log as a version note, and the People page."""

import pytest

from icp_core.dataset import AccountMatrix
from icp_core.engagement import fit_engagement_matrix, score_engagement
from icp_core.profile import profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore
from tests.conftest import ROOT, download, open_app, score_widget, weight_sliders

DEFAULT = ROOT / "sample_data" / "default_profile.json"


def sample_matrix(data_root, profile):
    store = DatasetStore(data_root, SAMPLE_WORKSPACE)
    meta = store.list_datasets()[0][0]
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), [ColumnSpec.from_dict(c) for c in meta["columns"]])
    result, _ = score_profile(am, profile)
    return fit_engagement_matrix(result, score_engagement(am, profile.engagement), am, profile.engagement).set_index("cell")


def tier_metrics(at) -> list[str]:
    return [m.value for m in at.metric if m.label == "Accounts"]


def work_profile(at):
    return at.session_state["icp.work"][at.session_state["icp.dataset"][1]]["profile"]


@pytest.fixture
def app(data_root):
    return open_app(timeout=180)


def test_matrix_panel_lists_a_cell_and_engagement_never_moves_fit(app, data_root):
    assert not app.exception, app.exception
    m = sample_matrix(data_root, profile_from_json(DEFAULT.read_text()))
    title = next(e.label for e in app.expander if e.label.startswith("Fit × engagement"))
    assert title.startswith(f"Fit × engagement: {m.loc['A-High', 'accounts']:,} A-High accounts → Sales now")
    app.session_state["score.matrix.open"] = True  # open the panel (its contents are drawn only while open)
    app.run()
    app.selectbox(key="score.matrix.cell").set_value("B-Low").run()
    assert not app.exception, app.exception
    listed = next(d.value for d in app.dataframe if "Engagement" in d.value.columns)
    assert len(listed) == min(200, m.loc["B-Low", "accounts"])
    assert set(listed["ICP Tier"]) == {"B"}
    assert any(f"{m.loc['B-Low', 'accounts']:,} accounts in B-Low" in c.value for c in app.caption)
    # a half-life change moves engagement, never the fit tiers
    tiers = tier_metrics(app)
    score_widget(app.slider, "e.half_life").set_value(7).run()
    assert not app.exception, app.exception
    assert tier_metrics(app) == tiers
    p = work_profile(app)
    assert p.engagement.half_life_days == 7
    assert sample_matrix(data_root, p).loc["A-High", "accounts"] != m.loc["A-High", "accounts"]
    title = next(e.label for e in app.expander if e.label.startswith("Fit × engagement"))
    assert title.startswith(f"Fit × engagement: {sample_matrix(data_root, p).loc['A-High', 'accounts']:,} A-High")
    # a signal weight slider is in the panel, and its move is one undo step
    score_widget(app.slider, "ew.e-last-activity").set_value(0).run()
    assert work_profile(app).engagement.signals[0].weight == 0
    app.button(key="score.undo").click().run()
    assert work_profile(app).engagement.signals[0].weight == 5


def test_session_changes_become_the_version_note(app):
    slider = weight_sliders(app)[1]
    slider.set_value(2).run()
    score_widget(app.slider, "e.half_life").set_value(14).run()
    assert not app.exception, app.exception
    app.session_state["score.moved.open"] = True
    app.button(key="score.note_from_log").click().run()
    note = app.text_input(key="score.save_note").value
    assert "Industry in Fintech, SaaS: +5 → +2" in note and "engagement half-life 30 → 14 days" in note
    assert any("This session's changes" in c.value for c in app.caption)


def test_people_page_coverage_persona_fit_and_contacts_export(data_root, media):
    at = open_app("pages/people.py", timeout=180)
    assert not at.exception, at.exception
    coverage = next(d.value for d in at.dataframe if "with a Decision Maker" in d.value.columns)
    assert coverage["Accounts"].sum() == 3000
    best = next(d.value for d in at.dataframe if "Best contact" in d.value.columns)
    assert best["Persona fit"].between(0, 100).all() and len(best) > 0
    at.slider(key="people.pw.0").set_value(-5).run()
    assert not at.exception, at.exception
    assert work_profile(at).personas.traits[0].weight == -5
    data = download(at, media, "Download")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header == "Contact,Title,Seniority,Department,Persona Fit,Account,ICP Tier"
    assert len(data.decode("utf-8-sig").splitlines()) - 1 > 8000
    # the sample is read-only: a second contacts file cannot be joined to it
    assert not any(u for u in at.get("file_uploader"))
