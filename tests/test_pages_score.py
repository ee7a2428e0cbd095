"""The Score page through AppTest: live sliders, must-haves, stay-aways, target mix, reasons, save/load."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from icp_core.dataset import AccountMatrix
from icp_core.profile import profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import TIER_LABELS, score_profile, tier_summary
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore, ProfileStore
from tests.conftest import ROOT, open_app, open_trait_form, score_widget, weight_sliders


@pytest.fixture
def app(data_root):
    return open_app(timeout=120)


def tier_counts(at) -> dict[str, int]:
    values = [int(m.value.replace(",", "")) for m in at.metric if m.label == "Accounts"]
    assert len(values) == len(TIER_LABELS)  # A-D, Disqualified, Insufficient data
    return dict(zip(TIER_LABELS, values, strict=True))


def accounts_table(at):
    return next(d.value for d in at.dataframe if "ICP Tier" in d.value.columns)


def core_counts(data_root, profile) -> dict[str, int]:
    store = DatasetStore(data_root, SAMPLE_WORKSPACE)
    meta = store.list_datasets()[0][0]
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), [ColumnSpec.from_dict(c) for c in meta["columns"]])
    result, _ = score_profile(am, profile)
    return dict(zip(TIER_LABELS, tier_summary(result, am)["accounts"].tolist(), strict=True))


def test_opens_on_the_sample_with_the_default_profile(app, data_root):
    assert app.title[0].value == "Score"
    default = profile_from_json((ROOT / "sample_data" / "default_profile.json").read_text())
    counts = tier_counts(app)
    assert counts == core_counts(data_root, default)
    assert sum(counts.values()) == 3000
    assert len(weight_sliders(app)) == len(default.traits)
    table = accounts_table(app)
    assert table["ICP Tier"].iloc[0] == "A"
    assert table["Reasons"].iloc[0].startswith("Industry in Fintech, SaaS (+5) · Employees 200–2,000 (+4)")
    assert (np.diff(table["ICP Score"][table["ICP Tier"] == "A"].to_numpy()) <= 0).all()


def test_slider_change_redraws_tiers(app):
    before = tier_counts(app)
    score_widget(app.slider, "w.industry-core").set_value(0).run()
    assert not app.exception
    after = tier_counts(app)
    # a zero weight also narrows the score range (high falls from 20 to 15), so tiers move both ways
    assert after != before and sum(after.values()) == 3000
    top = accounts_table(app)
    assert not set(top.loc[top["ICP Tier"] == "A", "Industry"].dropna()) <= {"fintech", "saas"}
    assert after["Disqualified"] == before["Disqualified"]  # weights never disqualify
    score_widget(app.slider, "w.industry-core").set_value(5).run()
    assert tier_counts(app) == before


def test_adding_a_must_have_disqualifies_accounts_that_fail_it(app, data_root):
    before = tier_counts(app)
    open_trait_form(app)
    app.selectbox(key="score.edit.column").set_value("industry").run()
    app.radio(key="score.edit.rule").set_value("in_set").run()
    app.multiselect(key="score.edit.values").set_value(["fintech", "saas"]).run()
    app.selectbox(key="score.edit.class").set_value("must_have").run()
    app.button(key="score.edit.save").click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    after = tier_counts(app)
    assert after["Disqualified"] > before["Disqualified"]
    table = accounts_table(app)
    dq = table[table["ICP Tier"] == "Disqualified"]
    assert dq["Flags"].str.contains("fails must-have “Industry in fintech, saas”", regex=False).any()
    # every non-disqualified account is fintech or saas
    kept = table[table["ICP Tier"] != "Disqualified"]
    assert set(kept["Industry"]) <= {"fintech", "saas"}


def test_stay_away_flags_and_optionally_disqualifies(app):
    table = accounts_table(app)
    gov = table[table["Industry"] == "government"]
    assert len(gov) and gov["Flags"].str.contains("Stay away: Industry Government").all()
    before = tier_counts(app)
    open_trait_form(app)
    app.selectbox(key="score.edit.pick").set_value("industry-gov").run()
    assert app.selectbox(key="score.edit.class").value == "stay_away"
    app.checkbox(key="score.edit.disqualify").check().run()
    app.button(key="score.edit.save").click().run()
    assert not app.exception, app.exception
    after = tier_counts(app)
    assert after["Disqualified"] > before["Disqualified"]
    table = accounts_table(app)
    assert (table.loc[table["Industry"] == "government", "ICP Tier"] == "Disqualified").all()


def test_target_mix_tiers(app):
    score_widget(app.radio, "tier_mode").set_value("Target mix").run()
    assert not app.exception
    counts = tier_counts(app)
    eligible = sum(counts[t] for t in "ABCD")
    shares = [counts[t] / eligible for t in "ABCD"]
    assert shares == pytest.approx([0.10, 0.20, 0.30, 0.40], abs=0.07)
    for k, v in zip("ABCD", (20, 20, 30, 30), strict=False):
        score_widget(app.number_input, f"mix.{k}").set_value(v)
    app.run()
    counts2 = tier_counts(app)
    assert counts2["A"] > counts["A"]


def test_save_then_reload_a_version(app, data_root):
    app.text_input(key="score.save_note").set_value("first cut")
    app.button(key="score.save").click().run()
    assert not app.exception, app.exception
    ps = ProfileStore(data_root, app.session_state["icp.workspace"])
    dataset_id = app.session_state["icp.dataset"][1]
    saved = ps.list_profiles(dataset_id)
    assert len(saved) == 1 and saved[0]["version"] == 1 and saved[0]["note"] == "first cut"
    baseline = tier_counts(app)
    score_widget(app.slider, "w.size-sweet").set_value(-3).run()
    changed = tier_counts(app)
    assert changed != baseline
    deltas = [m.delta for m in app.metric if m.label == "Accounts"]
    assert any(d not in ("+0", None) for d in deltas)  # change since the saved version is shown
    app.selectbox(key="score.load_pick").set_value((dataset_id, saved[0]["profile_id"], 1))
    app.button(key="score.load").click().run()
    assert not app.exception, app.exception
    assert tier_counts(app) == baseline
    assert score_widget(app.slider, "w.size-sweet").value == 4


def add_trait(at, column, rule, cls="nice_to_have", weight=2, values=None, lo=None, hi=None, disqualify=False):
    open_trait_form(at)
    at.selectbox(key="score.edit.column").set_value(column).run()
    at.radio(key="score.edit.rule").set_value(rule).run()
    if values is not None:
        at.multiselect(key="score.edit.values").set_value(values)
    if lo is not None:
        at.number_input(key="score.edit.min").set_value(lo)
    if hi is not None:
        at.number_input(key="score.edit.max").set_value(hi)
    at.selectbox(key="score.edit.class").set_value(cls).run()
    at.slider(key="score.edit.weight").set_value(weight)
    if disqualify:
        at.checkbox(key="score.edit.disqualify").check()
    at.button(key="score.edit.save").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_build_an_icp_on_crunchbase_from_the_ui(app, data_root):
    from tests.conftest import SHARED_DATA

    app.switch_page("pages/data.py").run()
    data = (SHARED_DATA / "crunchbase_2013_companies.csv").read_bytes()
    app.file_uploader(key="data.accounts_file").set_value(("crunchbase.csv", data, "text/csv"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    app.switch_page("pages/score.py").run()
    assert not app.exception, app.exception
    assert app.info and "No traits yet" in app.info[0].value
    add_trait(app, "status", "in_set", "must_have", 1, values=["operating", "acquired"])
    add_trait(app, "category_code", "in_set", weight=5, values=["software", "enterprise"])
    add_trait(app, "country_code", "in_set", weight=3, values=["United States"])
    add_trait(app, "funding_total_usd", "range", weight=4, lo=1e6, hi=5e7)
    add_trait(app, "funding_rounds", "range", weight=2, lo=2.0)
    add_trait(app, "founded_year", "range", weight=2, lo=2005.0)
    add_trait(app, "category_code", "in_set", "caution", -2, values=["biotech"])
    add_trait(app, "status", "in_set", "stay_away", -5, values=["closed"], disqualify=True)
    work = app.session_state["icp.work"][app.session_state["icp.dataset"][1]]
    assert len(work["profile"].traits) == 8
    counts = tier_counts(app)
    assert sum(counts.values()) == 19374 and counts["A"] > 0 and counts["Disqualified"] > 0
    table = accounts_table(app)
    assert table["Reasons"].iloc[0].startswith("category_code in software, enterprise (+5)")
    assert any("founded_year ≥ 2005" in r for r in table["Reasons"])
    # edit one trait: funding becomes a must-have
    pick = next(t.id for t in work["profile"].traits if t.label.startswith("funding_total_usd"))
    open_trait_form(app)
    app.selectbox(key="score.edit.pick").set_value(pick).run()
    assert app.number_input(key="score.edit.min").value == 1e6
    app.selectbox(key="score.edit.class").set_value("must_have").run()
    app.button(key="score.edit.save").click().run()
    assert tier_counts(app)["Disqualified"] > counts["Disqualified"]
    # save, then a fresh session on the same workspace link reloads it
    app.button(key="score.save").click().run()
    assert not app.exception, app.exception
    ws, dataset_id = app.session_state["icp.dataset"]
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    again.query_params["ws"] = ws
    again.session_state["icp.dataset"] = (ws, dataset_id)
    again.run()
    assert not again.exception, again.exception
    assert tier_counts(again) == tier_counts(app)
    assert len(weight_sliders(again)) == 8


def test_empty_profile_offers_suggested_traits_from_the_data(app):
    """Issue 12, item 11: an empty Score page on a dataset with an outcome offers the suggestion."""
    from tests.conftest import SHARED_DATA

    app.switch_page("pages/data.py").run()
    data = (SHARED_DATA / "ibm_telco_customer_churn.csv").read_bytes()
    app.file_uploader(key="data.accounts_file").set_value(("telco.csv", data, "text/csv"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    app.switch_page("pages/score.py").run()
    assert not app.exception, app.exception
    assert "No traits yet" in app.info[0].value and "suggest" in app.info[0].value
    button = app.button(key="score.suggest")
    assert "Retained" in button.label or "retained" in button.label.lower()
    button.click().run()
    assert not app.exception, app.exception
    work = app.session_state["icp.work"][app.session_state["icp.dataset"][1]]
    assert len(work["profile"].traits) >= 3
    assert len(weight_sliders(app)) == len(work["profile"].traits)
    counts = tier_counts(app)
    assert sum(counts.values()) == 7043 and counts["A"] > 0 and counts["D"] > 0
