"""Faults: a process killed in the middle of an ingest or a profile save leaves nothing half-written
and loses nothing saved; a dataset file damaged on disk is reported and skipped."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

from icp_core.ingest import ingest_dataset
from icp_core.store import DatasetStore, ProfileStore, cli_workspace, new_token
from sample_data.generate_sample import generate_accounts
from tests.conftest import ROOT


def snapshot(store):
    return {p.name: p.read_bytes() for p in sorted(store.dir.glob("*"))}


def test_killing_an_ingest_midway_leaves_nothing_half_written(tmp_path):
    root = tmp_path / "data"
    store = DatasetStore(root, cli_workspace(root))
    (tmp_path / "small.csv").write_text("Company,Employees\nAcme,10\nBeta,20\n")
    keep = ingest_dataset(store, tmp_path / "small.csv").dataset_id
    before = snapshot(store)
    big = tmp_path / "big.csv"
    generate_accounts(150_000, seed=2).to_csv(big, index=False)
    killed_at = []
    for delay in (0.6, 1.5, 2.5):
        proc = subprocess.Popen([sys.executable, "-m", "icp_core", "--data-dir", str(root), "ingest", str(big)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at.append(delay)
        proc.wait()
    assert killed_at, "the ingest finished before it could be killed; use a bigger file"
    datasets, problems = store.list_datasets()
    ids = {m["id"] for m in datasets}
    assert keep in ids and not problems
    after = snapshot(store)
    assert {k: v for k, v in after.items() if k in before} == before  # the saved dataset is untouched
    for m in datasets:  # whatever is listed is complete and opens
        with store.open_dataset(m["id"]) as con:
            assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == m["rows"]
    # and the next ingest works
    assert ingest_dataset(store, tmp_path / "small.csv").meta["rows"] == 2


SAVER = r"""
import sys
from icp_core.store import ProfileStore
from icp_core.profile import profile_from_json
ps = ProfileStore(sys.argv[1], sys.argv[2])
body = profile_from_json(open(sys.argv[5]).read()).to_dict()
while True:
    ps.save_version(sys.argv[3], body, sys.argv[4], note="x" * 500)  # the longest note allowed (MAX_NOTE_CHARS)
"""


def test_killing_a_profile_save_midway_keeps_every_version_whole(tmp_path):
    ws, ds, pid = new_token(), new_token(), new_token()
    def saved() -> int:
        return len(list(tmp_path.glob("workspaces/*/profiles/*/*/v*.json")))
    for delay in (0.3, 0.7):
        before = saved()
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path), ws, ds, pid,
                                 str(ROOT / "sample_data" / "default_profile.json")], cwd=ROOT)
        # kill it mid-run once it is saving (its imports alone can take a second on a loaded machine)
        deadline = time.monotonic() + 60
        while saved() == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    ps = ProfileStore(tmp_path, ws)
    versions = ps.list_versions(ds, pid)
    files = sorted((tmp_path / "workspaces" / ws / "profiles" / ds / pid).glob("v*.json"))
    assert len(versions) == len(files) > 0
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))  # no gaps, no duplicates
    for f in files:
        assert json.loads(f.read_text())["profile"]["traits"]  # whole documents only


def test_a_damaged_dataset_is_reported_and_skipped(data_root, tmp_path):
    ws = new_token()
    store = DatasetStore(data_root, ws)
    (tmp_path / "a.csv").write_text("Company,Employees\nAcme,10\n")
    good = ingest_dataset(store, tmp_path / "a.csv", name="good one").dataset_id
    bad = ingest_dataset(store, tmp_path / "a.csv", name="broken one").dataset_id
    store.db_path(bad).write_bytes(b"\0garbage" * 1000)
    datasets, problems = store.list_datasets()
    assert [m["id"] for m in datasets] == [good]
    assert len(problems) == 1 and "broken one" in problems[0] and "damaged" in problems[0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["ws"] = ws
    at.run()
    assert not at.exception, at.exception
    assert any("broken one" in w.value for w in at.sidebar.warning)
    picker = [box for box in at.sidebar.selectbox if box.label == "Dataset"]
    assert len(picker) == 1
    labels = picker[0].options
    assert not any("broken one" in str(o) for o in labels)


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"id": "x"}'])
def test_a_damaged_sidecar_is_reported_and_skipped(tmp_path, content):
    store = DatasetStore(tmp_path, new_token())
    (tmp_path / "a.csv").write_text("Company,Employees\nAcme,10\n")
    good = ingest_dataset(store, tmp_path / "a.csv").dataset_id
    bad = ingest_dataset(store, tmp_path / "a.csv").dataset_id
    store.meta_path(bad).write_bytes(content)
    datasets, problems = store.list_datasets()
    assert [m["id"] for m in datasets] == [good] and len(problems) == 1


@pytest.mark.browser
def test_killing_the_server_mid_upload_and_restarting_loses_nothing(chromium, tmp_path):
    """A real `streamlit run` is killed (SIGKILL) while it ingests an upload, then started again:
    the profile version saved before is intact, no half dataset shows, and the app works."""
    from playwright.sync_api import expect

    from tests.e2e import open_app, start_streamlit, stop

    data = tmp_path / "data"
    big = tmp_path / "big.csv"
    generate_accounts(120_000, seed=5).to_csv(big, index=False)
    srv = start_streamlit(data, tmp_path / "server.log")
    try:  # a failing step must not leave the server running
        page = open_app(chromium, srv, 1300, 1000)
        page.get_by_role("link", name="Share & export").click()
        expect(page.get_by_role("button", name="Save version")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Save version").click()
        page.get_by_text("Saved (UTC)").wait_for(state="attached", timeout=30_000)
        workspace_url = page.url
        page.get_by_role("link", name="Data").click()
        expect(page.get_by_role("button", name="Load dataset")).to_be_visible(timeout=30_000)
        page.locator("input[type=file]").first.set_input_files(str(big))
        expect(page.get_by_text("big.csv").first).to_be_visible(timeout=30_000)
        # the upload has arrived and been read when its shape is proposed (issue 14)
        expect(page.get_by_text("This looks like 120,000 accounts").first).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Load dataset").click()
        expect(page.get_by_text("Loading big.csv").first).to_be_visible(timeout=30_000)
        time.sleep(1.0)
        os.kill(srv.proc.pid, signal.SIGKILL)  # in the middle of the ingest
        srv.proc.wait()
        page.context.close()
    finally:
        stop(srv.proc)
    ws = workspace_url.split("ws=")[1].split("&")[0]
    versions = [f for f in (data / "workspaces" / ws / "profiles").rglob("v*.json")]
    assert len(versions) == 1 and json.loads(versions[0].read_text())["version"] == 1
    store = DatasetStore(data, ws)
    datasets, problems = store.list_datasets()
    assert not problems
    for meta in (m for m in datasets if m["name"] == "big"):  # either absent, or complete (a fast machine)
        with store.open_dataset(meta["id"]) as con:
            assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 120_000
    srv = start_streamlit(data, tmp_path / "server.log")  # and it starts again and works on the same data
    try:
        page = open_app(chromium, srv + "/?ws=" + ws, 1300, 1000, ready=None)
        expect(page.get_by_text("saved version 1").first).to_be_visible(timeout=60_000)
    finally:
        stop(srv.proc)


def test_leftovers_of_a_killed_process_are_swept_but_nothing_finished_or_recent(data_root, tmp_path, monkeypatch):
    import tempfile

    from icp_core.store import STALE_AFTER_S, sweep_leftovers

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "systmp"))
    (tmp_path / "systmp").mkdir()
    store = DatasetStore(data_root, new_token())
    (tmp_path / "a.csv").write_text("Company,Employees\nAcme,10\n")
    keep = ingest_dataset(store, tmp_path / "a.csv").dataset_id
    old = time.time() - STALE_AFTER_S - 60
    stale = [store.dir / f".{new_token()}.duckdb.tmp", store.dir / f".{new_token()}.duckdb.tmp.wal",
             store.dir / f".{keep}.json.1a2b3c4d.tmp"]
    fresh = store.dir / f".{new_token()}.duckdb.tmp"  # an ingest running right now
    spill = tmp_path / "systmp" / "icp_ingest_dead"
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"x" * 1000)
    running = tmp_path / "systmp" / "icp_ingest_alive"
    running.mkdir()
    for f in stale + [fresh]:
        f.write_bytes(b"partial")
    for f in stale + [spill]:
        os.utime(f, (old, old))
    finished = snapshot(store)
    assert sweep_leftovers(data_root) == 4
    assert not any(f.exists() for f in stale) and not spill.exists()
    assert fresh.exists() and running.exists()
    fresh.unlink()
    assert snapshot(store) == {k: v for k, v in finished.items() if not k.endswith(".tmp") and not k.endswith(".wal")}
    assert [m["id"] for m in store.list_datasets()[0]] == [keep]
