"""Share & export page and read-only share links through AppTest."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from icp_core.store import ShareStore
from tests.conftest import ROOT, open_app, score_widget, weight_sliders


@pytest.fixture
def app(data_root):
    return open_app(timeout=180)


def tier_counts(at):
    return [m.value for m in at.metric if m.label == "Accounts"]


def open_link(token):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["share"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def test_versions_diff_and_share_link_lifecycle(app, data_root):
    app.switch_page("pages/share.py").run()
    assert not app.exception, app.exception
    assert any("no saved version" in i.value for i in app.info)
    app.text_input(key="share.author").set_value("Mia")
    app.text_input(key="share.note").set_value("first cut")
    app.button(key="share.save").click().run()
    assert not app.exception, app.exception
    saved_counts = None
    app.switch_page("pages/score.py").run()
    saved_counts = tier_counts(app)
    score_widget(app.slider, "w.industry-core").set_value(1).run()
    changed_counts = tier_counts(app)
    assert changed_counts != saved_counts
    app.switch_page("pages/share.py").run()
    app.text_input(key="share.note").set_value("less weight on industry")
    app.button(key="share.save").click().run()
    assert not app.exception, app.exception
    versions = next(d.value for d in app.dataframe if "Who" in d.value.columns)
    assert versions["Version"].tolist() == [1, 2] and versions["Who"].tolist() == ["Mia", "Mia"]
    diff = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in app.markdown))  # as shown: markdown escapes removed
    assert "Industry in Fintech, SaaS" in diff and "weight +5 → +1" in diff and "accounts change tier" in diff
    moves = next(d.value for d in app.dataframe if "Accounts" in d.value.columns and "v1 tier" in d.value.columns)
    assert moves["Accounts"].sum() > 0
    # share version 1, then keep editing: the link still shows version 1
    app.selectbox(key="share.version").set_value(1).run()
    app.button(key="share.create").click().run()
    assert not app.exception, app.exception
    token = app.session_state["share.created"]
    viewer = open_link(token)
    assert viewer.title[0].value == "Score"
    assert tier_counts(viewer) == saved_counts
    sliders = weight_sliders(viewer)
    assert sliders and all(s.disabled for s in sliders)
    assert not [b for b in viewer.button if b.key in ("score.save", "score.load")]
    assert not viewer.sidebar.selectbox  # no dataset picker: nothing else listed
    viewer.switch_page("pages/clusters.py").run()
    assert not viewer.exception, viewer.exception
    viewer.switch_page("pages/tam.py").run()
    assert not viewer.exception, viewer.exception
    assert [o for o in viewer.selectbox(key="tam.market").options] and len(viewer.selectbox(key="tam.market").options) == 1
    # revoke: the link stops working
    app.button(key=f"share.revoke.{token}").click().run()
    assert not app.exception, app.exception
    gone = open_link(token)
    assert gone.title[0].value == "Link not found"


@pytest.mark.parametrize("token", ["nope", "0" * 32, "../../etc/passwd", ""])
def test_bad_links_say_not_found_and_nothing_else(data_root, token):
    at = open_link(token)
    assert at.title[0].value == "Link not found"
    assert not at.metric and not at.dataframe and not at.slider


def test_sql_export_and_onepager_tabs(app):
    app.switch_page("pages/share.py").run()
    app.selectbox(key="share.dialect").set_value("snowflake").run()
    assert not app.exception, app.exception
    code = " ".join(c.value for c in app.code)
    assert "icp_tier" in code and "CASE" in code
    assert ShareStore  # imported for the lifecycle test
