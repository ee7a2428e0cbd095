"""Score page widgets always show the working profile, whatever changed it elsewhere (issue 12, item 1).

Walks Evidence -> adopt all -> Score -> nudge a slider -> save, and checks the saved JSON.
"""

import json

import pytest

from icp_core.store import ProfileStore
from tests.conftest import open_app, score_widget, weight_sliders


@pytest.fixture
def app(data_root):
    return open_app(timeout=180)


def work(at):
    return at.session_state["icp.work"][at.session_state["icp.dataset"][1]]


def assert_widgets_show_profile(at):
    profile = work(at)["profile"]
    shown = weight_sliders(at)
    by_trait = {t.id: t for t in profile.traits}
    assert len(shown) == len(profile.traits)
    for s in shown:
        tid = s.key.split(".", 2)[2][2:]
        assert s.value == by_trait[tid].weight, (s.label, s.value, by_trait[tid].weight)
    rule = profile.tier_rule
    for k in ("A", "B", "C"):
        th = score_widget(at.slider, f"th.{k}")
        assert th.value == round(rule.thresholds[k]), (k, th.value, rule.thresholds[k])


def test_adopt_on_evidence_then_nudge_and_save_on_score(app, data_root):
    assert_widgets_show_profile(app)
    app.switch_page("pages/evidence.py").run()
    assert not app.exception, app.exception
    app.button(key="evidence.adopt_all").click().run()
    assert not app.exception, app.exception
    adopted = {t.id: t.weight for t in work(app)["profile"].traits}
    app.switch_page("pages/score.py").run()
    assert not app.exception, app.exception
    assert_widgets_show_profile(app)
    # nudge one weight slider by one step
    first = weight_sliders(app)[0]
    tid = first.key.split(".", 2)[2][2:]
    new = first.value - 1 if first.value > -5 else first.value + 1
    first.set_value(new).run()
    assert not app.exception, app.exception
    assert_widgets_show_profile(app)
    counts = [int(m.value.replace(",", "")) for m in app.metric if m.label == "Accounts"]
    assert counts[0] < 3000 * 0.9  # not everyone in tier A
    app.button(key="score.save").click().run()
    assert not app.exception, app.exception
    w = work(app)
    rec = ProfileStore(data_root, app.session_state["icp.workspace"]).load_version(
        app.session_state["icp.dataset"][1], w["profile_id"], w["version"])
    saved = json.loads(json.dumps(rec["profile"]))
    weights = {t["id"]: t["weight"] for t in saved["traits"]}
    expected = dict(adopted, **{tid: new})
    assert weights == expected
    th = saved["tier_rule"]["thresholds"]
    assert th["A"] > th["B"] > th["C"] > 0


def test_load_default_after_changes_resets_widgets(app):
    weight_sliders(app)[0].set_value(-5).run()
    score_widget(app.slider, "th.A").set_value(90).run()
    assert work(app)["profile"].tier_rule.thresholds["A"] == 90
    app.switch_page("pages/evidence.py").run()
    app.switch_page("pages/score.py").run()
    assert_widgets_show_profile(app)
    app.button(key="score.load").click().run()  # the only option on the sample: the default profile
    assert not app.exception, app.exception
    assert_widgets_show_profile(app)
    assert work(app)["profile"].tier_rule.thresholds["A"] != 90
