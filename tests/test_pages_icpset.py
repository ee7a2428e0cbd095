"""Issue 16 on the Score page (AppTest): a second ICP is added in one popover, one click switches
the ICP being edited, and the best-fit overlap under the tier cards follows live; a duplicate name
or a seventh ICP is refused and changes nothing."""


import pytest

from icp_core.breadth import profile_breadth
from icp_core.dataset import AccountMatrix
from icp_core.icpset import MAX_ICPS, NONE, overlap, set_score
from icp_core.profile import Profile, profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore
from tests.conftest import ROOT, open_app, weight_sliders

DEFAULT = ROOT / "sample_data" / "default_profile.json"


@pytest.fixture
def app(data_root):
    return open_app(timeout=120)


def best_fit_line(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Best fit:"))


def icp_pick(at):
    """The radio that switches the ICP being edited (None with one ICP)."""
    return next((r for r in at.radio if r.key and r.key.startswith("score.icp_pick")), None)


def add_icp(at, name: str, copy: bool = False):
    at.text_input(key="score.new_icp_name").input(name)
    if copy:
        at.radio(key="score.new_icp_start").set_value(at.radio(key="score.new_icp_start").options[1])
    at.button(key="score.add_icp").click().run()
    return at


def core_overlap(data_root, profiles):
    store = DatasetStore(data_root, SAMPLE_WORKSPACE)
    meta = store.list_datasets()[0][0]
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), [ColumnSpec.from_dict(c) for c in meta["columns"]])
    return overlap(set_score([p.name for p in profiles], [score_profile(am, p)[0] for p in profiles]))


def test_add_switch_and_see_the_best_fit_change(app, data_root):
    at = app
    # the breadth of A+B is always under the cards, as the core computes it
    store = DatasetStore(data_root, SAMPLE_WORKSPACE)
    meta = store.list_datasets()[0][0]
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), [ColumnSpec.from_dict(c) for c in meta["columns"]])
    reading = profile_breadth(score_profile(am, profile_from_json(DEFAULT.read_text()))[0], am).reading()
    assert f"Breadth of A+B: {reading}" in [c.value for c in at.caption]
    assert reading.split(":")[0] in ("broad", "balanced", "focused", "narrow")
    assert not [c for c in at.caption if c.value.startswith("Best fit:")]  # one ICP: no overlap line
    n_sliders = len(weight_sliders(at))
    add_icp(at, "Copy of the sample", copy=True)
    assert not at.exception
    pick = icp_pick(at)
    assert list(pick.options) == ["Sample ICP: mid-size Fintech & SaaS", "Copy of the sample"]
    assert pick.value == 1  # the new ICP is the one being edited
    # a copy ties everywhere: every fit goes to the ICP listed first; every A/B is A/B in both
    base = profile_from_json(DEFAULT.read_text())
    copy = profile_from_json(DEFAULT.read_text())
    copy.name = "Copy of the sample"
    ov = core_overlap(data_root, [base, copy])
    line = best_fit_line(at)
    counts = {r.icp: r.accounts for r in ov["best_fit"].itertuples()}
    assert counts["Copy of the sample"] == 0
    assert f"Sample ICP: mid-size Fintech & SaaS {counts[base.name]:,}" in line.replace("\\", "")
    assert f"A or B in two or more ICPs: {ov['multi_ab']:,} · the set (A or B in any ICP): " in line
    assert ov["multi_ab"] > 0
    # the copy is being edited: drop its top weight to 0 and its A/B accounts fall, live
    slider = next(s for s in weight_sliders(at) if "Industry in Fintech" in s.label)
    slider.set_value(0).run()
    copy.traits = [t if "Industry in Fintech" not in t.label else type(t)(**{**t.to_dict(), "weight": 0})
                   for t in copy.traits]
    ov2 = core_overlap(data_root, [base, copy])
    assert f"A or B in two or more ICPs: {ov2['multi_ab']:,} · " in best_fit_line(at)
    assert ov2["multi_ab"] < ov["multi_ab"]
    matrix = next(d.value for d in at.dataframe if "ICP" in d.value.columns and "Disqualified" in d.value.columns)
    assert matrix["ICP"].tolist() == [base.name, copy.name]
    assert matrix.drop(columns="ICP").to_numpy().tolist() == ov2["matrix"].to_numpy().tolist()
    # one click back to the first ICP: its own sliders, its weight untouched
    icp_pick(at).set_value(0).run()
    assert not at.exception
    back = next(s for s in weight_sliders(at) if "Industry in Fintech" in s.label)
    assert back.value == 5 and len(weight_sliders(at)) == n_sliders


def test_an_empty_second_icp_takes_no_account_and_none_is_counted(app, data_root):
    at = add_icp(app, "Enterprise healthcare")
    ov = core_overlap(data_root, [profile_from_json(DEFAULT.read_text()), Profile(name="Enterprise healthcare")])
    line = best_fit_line(at)
    assert "Enterprise healthcare 0" in line and f"none {ov['best_fit'].set_index('icp').loc[NONE, 'accounts']:,}" in line
    assert any("No traits yet" in m.value for m in at.markdown) or not weight_sliders(at)


@pytest.mark.parametrize("case", ["duplicate", "seventh"])
def test_a_duplicate_name_or_a_seventh_icp_is_refused(app, case):
    at = app
    if case == "duplicate":
        add_icp(at, "  sample icp: MID-SIZE fintech & saas ")
        message = "two ICPs are named"
        expected = 1
    else:
        for i in range(MAX_ICPS - 1):
            add_icp(at, f"ICP {i + 2}")
        assert len(icp_pick(at).options) == MAX_ICPS
        add_icp(at, "One too many")
        message = f"at most {MAX_ICPS} profiles"
        expected = MAX_ICPS
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert (len(icp_pick(at).options) if expected > 1 else int(icp_pick(at) is None)) == expected


def test_saving_a_set_pins_each_icp_and_a_new_session_opens_the_set(app, data_root):
    from streamlit.testing.v1 import AppTest

    from icp_core.store import ProfileStore, SetStore

    at = add_icp(app, "Second", copy=True)
    next(s for s in weight_sliders(at) if "Industry in Fintech" in s.label).set_value(1).run()
    at.text_input(key="score.save_note").set_value("two ICPs")
    at.button(key="score.save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ws, dataset_id = at.session_state["icp.workspace"], at.session_state["icp.dataset"][1]
    sets = SetStore(data_root, ws)
    rec = sets.latest(dataset_id)
    assert [m["name"] for m in rec["members"]] == ["Sample ICP: mid-size Fintech & SaaS", "Second"]
    assert [m["version"] for m in rec["members"]] == [1, 1] and rec["note"] == "two ICPs"
    # a later version of one ICP does not change the saved set version
    ps = ProfileStore(data_root, ws)
    second = ps.load_version(dataset_id, rec["members"][1]["profile_id"])
    ps.save_version(dataset_id, second["profile"] | {"name": "Second, edited later"}, second["profile_id"])
    pinned = sets.load_profiles(dataset_id, rec)
    assert [p["profile"]["name"] for p in pinned] == ["Sample ICP: mid-size Fintech & SaaS", "Second"]
    weight = next(t["weight"] for t in pinned[1]["profile"]["traits"] if "Industry in Fintech" in t["label"])
    assert weight == 1
    # a new session on the same workspace opens the set, each ICP at its pinned version
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    again.query_params["ws"] = ws
    again.run()
    assert not again.exception, again.exception
    assert list(icp_pick(again).options) == ["Sample ICP: mid-size Fintech & SaaS", "Second"]
    icp_pick(again).set_value(1).run()
    assert next(s for s in weight_sliders(again) if "Industry in Fintech" in s.label).value == 1
    # saving again with nothing changed in the other ICP pins its same version
    again.button(key="score.save").click().run()
    rec2 = sets.latest(dataset_id)
    assert rec2["set_id"] == rec["set_id"] and rec2["version"] == 2
    assert rec2["members"][0]["version"] == 1 and rec2["members"][1]["version"] == 3


def test_set_store_refuses_bad_members(data_root):
    from icp_core.profile import ProfileError
    from icp_core.store import DatasetNotFound, SetStore, new_token

    sets = SetStore(data_root, new_token())
    dataset_id = new_token()
    with pytest.raises(ProfileError, match="1 to 6"):
        sets.save_version(dataset_id, "s", [])
    with pytest.raises(DatasetNotFound):
        sets.save_version(dataset_id, "s", [{"profile_id": new_token(), "version": 1}])
    assert sets.latest(dataset_id) is None


def test_share_page_exports_and_sql_cover_the_whole_set(app):
    at = add_icp(app, "Second", copy=True)
    at.switch_page("pages/share.py").run()
    assert not at.exception, at.exception
    sql = next(c.value for c in at.code if "SELECT" in c.value.upper())
    assert "icp_best_fit" in sql and "-- ICP 1: Second" in sql
    assert any("ICP Best Fit" in m.value and "ICP Tier: Second" in m.value.replace("\\", "") for m in at.markdown)
    assert any(c.value.startswith("The whole ICP set (2 ICPs)") for c in at.caption)


def test_evidence_page_backtests_each_icp_and_the_best_fit(app):
    at = add_icp(app, "Second", copy=True)
    at.switch_page("pages/evidence.py").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Held-out AUC" in d.value.columns and "ICP" in d.value.columns)
    assert table["ICP"].tolist() == ["Sample ICP: mid-size Fintech & SaaS", "Second", "Best fit (any ICP)"]
    # a copy ranks every account as the original does: same AUC, and the union adds nothing
    assert table["Held-out AUC"][0] == pytest.approx(table["Held-out AUC"][1])
    assert table["Good in A+B"][2] == pytest.approx(table["Good in A+B"][0])


def test_a_shared_set_opens_read_only_with_every_icp_at_its_saved_version(app, data_root):
    from streamlit.testing.v1 import AppTest

    at = add_icp(app, "Second", copy=True)
    next(s for s in weight_sliders(at) if "Region EMEA" in s.label).set_value(5).run()
    at.button(key="score.save").click().run()
    assert not at.exception and not at.error
    at.switch_page("pages/share.py").run()
    assert at.checkbox(key="share.whole_set").value is True
    grid = next(d.value for d in at.dataframe if "Breadth of A+B" in d.value.columns)  # beside each saved version
    assert grid["Breadth of A+B"].iloc[-1].split(":")[0] in ("broad", "balanced", "focused", "narrow")
    at.button(key="share.create").click().run()
    assert not at.exception, at.exception
    token = at.session_state["share.created"]
    # later edits by the author do not reach the link
    at.switch_page("pages/score.py").run()
    next(s for s in weight_sliders(at) if "Region EMEA" in s.label).set_value(0).run()
    viewer = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    viewer.query_params["share"] = token
    viewer.run()
    assert not viewer.exception, viewer.exception
    assert list(icp_pick(viewer).options) == ["Sample ICP: mid-size Fintech & SaaS", "Second"]
    assert all(s.disabled for s in weight_sliders(viewer))
    assert not [b for b in viewer.button if b.key in ("score.add_icp", "score.save")]
    assert any(c.value.startswith("Best fit:") for c in viewer.caption)
    icp_pick(viewer).set_value(1).run()
    assert next(s for s in weight_sliders(viewer) if "Region EMEA" in s.label).value == 5
