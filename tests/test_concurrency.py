"""Many users at once: 10 AppTest sessions running at the same time (one process each: AppTest
keeps per-process runtime singletons, so threads would share them; processes also make the
storage face real concurrent writers) plus 3 real browser sessions against one `streamlit run`
server, each uploading its own file, scoring and saving a profile version at the same time.
Every session sees only its own data, every saved version is intact, no lock error reaches
anyone."""

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from icp_core.store import DatasetStore, ProfileStore
from tests.conftest import ROOT, open_trait_form
from tests.e2e import open_app, wait_idle


def company_file(i: int) -> bytes:
    rows = "".join(f"Session{i} Co {j},{'SaaS' if j % 2 else 'Retail'},{10 + j * 7},{'Closed Won' if j % 3 else 'Closed Lost'}\n"
                   for j in range(40))
    return ("Company,Industry,Employees,Deal Stage\n" + rows).encode()


# Imported once by the fork server, so each session process starts with them loaded (a process
# per session all the same, with its own runtime singletons and its own writers to the store).
PRELOAD = ["tests.test_concurrency", "ui.state", "ui.cached", "icp_core.ingest", "icp_core.scoring",
           "icp_core.suggest", "icp_core.export", "icp_core.backtest", "icp_core.sources", "icp_core.reference",
           "altair"]


def session_pool(n: int) -> ProcessPoolExecutor:
    """n fresh processes forked from a server that has only imported PRELOAD (no thread, no open
    database, no Streamlit runtime), not n interpreters each importing Streamlit and the app again."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(max_workers=n, mp_context=ctx)


def one_session(i: int, data_dir: str) -> dict:
    os.environ["ICP_DATA_DIR"] = data_dir  # explicit: a fork server keeps the environment it started with
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    assert not at.exception, at.exception  # every run is checked: a later rerun replaces the exception
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    at.file_uploader(key="data.accounts_file").set_value((f"s{i}.csv", company_file(i), "text/csv"))
    at.text_input(key="data.name").set_value(f"Session {i}")
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/score.py").run()
    assert not at.exception, at.exception
    open_trait_form(at)
    at.selectbox(key="score.edit.column").set_value("industry").run()
    at.multiselect(key="score.edit.values").set_value(["saas"]).run()
    at.button(key="score.edit.save").click().run()
    at.text_input(key="score.save_note").set_value(f"from session {i}")
    at.button(key="score.save").click().run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "ICP Tier" in d.value.columns)
    errors = [e.value for e in at.error]
    return {"i": i, "ws": at.session_state["icp.workspace"], "dataset": at.session_state["icp.dataset"],
            "names": set(table.iloc[:, 0]), "errors": errors}


def test_ten_sessions_at_once(data_root):
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=240).run()  # build the shared sample once
    with session_pool(10) as pool:
        results = list(pool.map(one_session, range(10), [str(data_root)] * 10))
    assert len({r["ws"] for r in results}) == 10
    for r in results:
        assert not r["errors"], r["errors"]
        assert r["names"] and all(n.startswith(f"Session{r['i']} ") for n in r["names"])  # only its own data
        own, problems = DatasetStore(data_root, r["ws"]).list_datasets()
        assert [m["name"] for m in own] == [f"Session {r['i']}"] and not problems
        ps = ProfileStore(data_root, r["ws"])
        saved = ps.list_profiles(r["dataset"][1])
        assert len(saved) == 1 and saved[0]["note"] == f"from session {r['i']}"
        body = ps.load_version(r["dataset"][1], saved[0]["profile_id"])["profile"]
        assert body["traits"][0]["values"] == ["saas"]
    for f in Path(data_root).rglob("v*.json"):
        json.loads(f.read_text())  # every saved version is whole


@pytest.mark.browser
def test_three_browser_sessions_at_once(chromium, server, tmp_path):
    from playwright.sync_api import expect

    log_from = server.log_size()
    pages = [open_app(chromium, server, 1300, 1000, ready=None) for _ in range(3)]
    for i, page in enumerate(pages):
        expect(page.get_by_text("Tier A", exact=True)).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Data").click()
        expect(page.get_by_role("button", name="Load dataset")).to_be_visible(timeout=60_000)
        f = tmp_path / f"browser{i}.csv"
        f.write_bytes(company_file(100 + i))
        page.locator("input[type=file]").first.set_input_files(str(f))
    for page in pages:  # the three loads run at the same time
        # the file's preview has run (the proposal shows): a click during that rerun can be lost,
        # as it would be for a user clicking before the page has read the file
        expect(page.get_by_text("This looks like").first).to_be_visible(timeout=60_000)
        wait_idle(page)
        page.get_by_role("button", name="Load dataset").click()
    for i, page in enumerate(pages):
        expect(page.get_by_text("Loaded 40 accounts")).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Score").click()
        expect(page.get_by_text("No traits yet").first).to_be_visible(timeout=60_000)
        for j, other in enumerate(pages):
            if j != i:
                assert other.get_by_text(f"browser{i}").count() == 0
    log = server.log_text(since=log_from)
    assert "lock" not in log.lower() and "Traceback" not in log
