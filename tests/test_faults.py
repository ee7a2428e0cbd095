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
    ps.save_version(sys.argv[3], body, sys.argv[4], note="x" * 2000)
"""


def test_killing_a_profile_save_midway_keeps_every_version_whole(tmp_path):
    ws, ds, pid = new_token(), new_token(), new_token()
    for delay in (0.3, 0.7):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path), ws, ds, pid,
                                 str(ROOT / "sample_data" / "default_profile.json")], cwd=ROOT)
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
    labels = at.sidebar.selectbox(key="app.dataset_picker").options if at.sidebar.selectbox else []
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
