"""ui.state, the one owner of session state (issue 15, item 5): typed app-wide values (icp.*), pages
keeping only their own prefixed keys, and the shared store of clusterings behind a lock."""

import re
import threading

from tests.conftest import ROOT, open_app
from ui.cached import SharedLRU
from ui.state import AppState, LastClustering

PAGES = ["score", "evidence", "clusters", "tam", "share", "data"]
OWNER = re.compile(r"""f?["'](score|evidence|clusters|tam|share|data|icp|app)\.""")  # a session key's owner


# ------------------------------------------------------------------ AppState on a plain dict


def test_outcome_chosen_on_evidence_is_per_dataset():
    from icp_core.outcomes import Outcome

    ss: dict = {}
    state = AppState(ss)
    assert state.chosen_outcome("d1") is None
    state.set_chosen_outcome("d1", Outcome("retained"))
    assert state.chosen_outcome("d1") == Outcome("retained")
    assert state.chosen_outcome("d2") is None  # another dataset keeps its default
    state.set_chosen_outcome("d2", Outcome("won"))
    assert AppState(ss).chosen_outcome("d1") == Outcome("retained")  # a new view on the same state
    assert set(ss) == {"icp.outcome"}  # app-wide, under the owner's prefix


def test_last_clustering_for_the_tam_page():
    state = AppState({})
    assert state.last_clustering("d1") is None
    state.set_last_clustering("d1", ("ws", "d1", 7, ("industry",), 4), ["Fintech", "SaaS", "Retail", "Other"])
    last = state.last_clustering("d1")
    assert last == LastClustering(("ws", "d1", 7, ("industry",), 4), ("Fintech", "SaaS", "Retail", "Other"))
    assert state.last_clustering("d2") is None


def test_app_picks_a_dataset_and_renews_the_picker_key():
    ss: dict = {}
    state = AppState(ss)
    assert state.dataset is None and state.picker_key() == "app.dataset_picker.0"
    state.choose_dataset(("ws", "a"))
    assert state.dataset == ("ws", "a") and state.picker_key() == "app.dataset_picker.1"
    state.choose_dataset(("ws", "a"))  # the same dataset: the picker keeps its key
    assert state.picker_key() == "app.dataset_picker.1"
    state.dataset = ("ws", "b")  # the user's pick through the picker: same key
    assert state.picker_key() == "app.dataset_picker.1"
    assert ss == {"icp.dataset": ("ws", "b"), "icp.picker_gen": 1}


def test_workspace_share_sample_and_working_profiles():
    ss: dict = {}
    state = AppState(ss)
    assert state.workspace is None and state.share is None and state.sample_dataset is None
    state.workspace = "w" * 32
    state.sample_dataset = ("sample", "s1")
    state.share = {"token": "t"}
    assert (state.workspace, state.sample_dataset, state.share) == ("w" * 32, ("sample", "s1"), {"token": "t"})
    state.share = None
    assert "icp.share" not in ss
    state.work_entries()["d1"] = {"profile": None}
    assert ss["icp.work"] == {"d1": {"profile": None}}
    assert [state.next_widget_gen(), state.next_widget_gen()] == [1, 2]
    assert all(k.startswith("icp.") for k in ss)


# ------------------------------------------------------------------ no page reads another page's keys


def test_pages_touch_only_their_own_session_keys():
    """A page's session-state keys carry its own prefix; app-wide values go through ui.state."""
    for stem in PAGES:
        text = (ROOT / "pages" / f"{stem}.py").read_text()
        for line in text.splitlines():
            if "session_state" not in line:
                continue
            for prefix in OWNER.findall(line):
                assert prefix == stem, (stem, line.strip())
    app = (ROOT / "app.py").read_text()
    assert all(p == "app" for line in app.splitlines() if "session_state" in line
               for p in OWNER.findall(line))


def test_only_ui_state_names_app_wide_keys():
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), ROOT / "ui" / "cached.py"]:
        assert not re.search(r"""["']icp\.""", path.read_text()), path


# ------------------------------------------------------------------ the shared store of clusterings


def test_shared_lru_keeps_the_most_recently_used():
    lru = SharedLRU(3)
    for i in range(3):
        lru.put(("d", i), i)
    assert lru.get(("d", 0)) == 0  # used: now the newest
    lru.put(("d", 3), 3)
    assert ("d", 1) not in lru and ("d", 0) in lru and len(lru) == 3
    assert lru.get(("d", 1), "gone") == "gone"
    assert lru.find(("d",)) == 3  # the most recently used under the prefix
    assert lru.find(("e",)) is None


def test_shared_lru_under_many_threads():
    lru = SharedLRU(12)
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(3000):
                key = ("ds", n % 3, i % 40)
                lru.put(key, i)
                lru.get(("ds", (n + 1) % 3, i % 40))
                lru.find(("ds", n % 3))
                assert len(lru) <= 12
        except Exception as exc:  # noqa: BLE001 (collected for the assert below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(lru) == 12


# ------------------------------------------------------------------ through the app


def test_outcome_chosen_on_evidence_is_what_score_and_share_use(data_root):
    from icp_core.outcomes import Outcome

    at = open_app("pages/evidence.py")
    dataset_id = at.session_state["icp.dataset"][1]
    assert AppState(at.session_state).chosen_outcome(dataset_id) == Outcome("won")  # the page's default
    at.selectbox(key="evidence.kind").set_value("retained").run()
    assert not at.exception, at.exception
    assert AppState(at.session_state).chosen_outcome(dataset_id) == Outcome("retained")
    label = Outcome("retained").label()
    at.switch_page("pages/score.py").run()
    assert not at.exception, at.exception
    line = next(c.value for c in at.caption if "**Evidence**" in c.value)
    assert f"**Evidence** ({label}, held out)" in line, line
    at.switch_page("pages/share.py").run()
    assert not at.exception, at.exception
    onepager = next(f.proto.srcdoc for f in at.get("iframe") if "ICP one-pager" in f.proto.srcdoc)
    assert label in onepager  # the one-pager's evidence is on the outcome chosen on the Evidence page
