"""Datasets on disk: random ids, per-workspace isolation, listing, deletion, corrupt files."""

import re

import pytest

from icp_core.ingest import ensure_sample_dataset, ingest_dataset
from icp_core.store import DatasetNotFound, DatasetStore, new_token

CSV = "Account,Industry\nA,Fintech\nB,Retail\n"


def load(store, tmp_path, name="x"):
    path = tmp_path / f"{name}.csv"
    path.write_text(CSV)
    return ingest_dataset(store, path, name=name).dataset_id


def test_ids_are_128_bit_random_and_files_are_per_dataset(store, tmp_path):
    a, b = load(store, tmp_path, "a"), load(store, tmp_path, "b")
    assert a != b and re.fullmatch(r"[0-9a-f]{32}", a)
    assert store.db_path(a).exists() and store.db_path(b).exists()
    names = [m["name"] for m in store.list_datasets()[0]]
    assert sorted(names) == ["a", "b"]


def test_workspaces_never_see_each_other(data_root, tmp_path):
    alice, bob = DatasetStore(data_root, new_token()), DatasetStore(data_root, new_token())
    a = load(alice, tmp_path)
    assert bob.list_datasets() == ([], [])
    with pytest.raises(DatasetNotFound):
        bob.read_meta(a)


def test_bad_ids_and_workspaces_are_refused(data_root):
    with pytest.raises(ValueError):
        DatasetStore(data_root, "../../etc")
    store = DatasetStore(data_root, new_token())
    for bad in ("../x", "a" * 31, "A" * 32, ""):
        with pytest.raises(DatasetNotFound):
            store.read_meta(bad)


def test_delete_removes_the_dataset(store, tmp_path):
    a = load(store, tmp_path)
    store.delete_dataset(a)
    assert store.list_datasets() == ([], [])
    assert not store.db_path(a).exists()


def test_corrupt_sidecar_is_reported_and_skipped(store, tmp_path):
    good, bad = load(store, tmp_path, "good"), load(store, tmp_path, "bad")
    store.meta_path(bad).write_text("{ truncated")
    datasets, problems = store.list_datasets()
    assert [m["id"] for m in datasets] == [good] and len(problems) == 1


def test_sample_is_loaded_once(tmp_path):
    fresh = tmp_path / "fresh"  # not the data_root fixture: that one has the sample already
    first = ensure_sample_dataset(fresh)
    assert ensure_sample_dataset(fresh) == first
    meta = DatasetStore(fresh, "sample").read_meta(first)
    assert meta["rows"] >= 2000 and meta["quality"]["rollup"]["accounts_with_opportunities"] > 1000


def test_version_note_and_author_are_capped(tmp_path):
    from icp_core.profile import MAX_AUTHOR_CHARS, MAX_NOTE_CHARS, Profile, ProfileError
    from icp_core.store import ProfileStore

    ps = ProfileStore(tmp_path, new_token())
    ds, body = new_token(), Profile(name="x").to_dict()
    with pytest.raises(ProfileError, match="note: at most 500 characters, got 1,000,000"):
        ps.save_version(ds, body, note="n" * 1_000_000)
    with pytest.raises(ProfileError, match="author: at most 100 characters"):
        ps.save_version(ds, body, author="a" * (MAX_AUTHOR_CHARS + 1))
    with pytest.raises(ProfileError, match="note: must be text"):
        ps.save_version(ds, body, note=["x"])
    assert ps.list_profiles(ds) == []  # nothing written
    rec = ps.save_version(ds, body, note="n" * MAX_NOTE_CHARS, author="a" * MAX_AUTHOR_CHARS)
    assert rec["version"] == 1


def test_many_threads_open_one_dataset_at_once(tmp_path):
    """Sessions open the same dataset file from many threads: DuckDB refuses two attaches of one
    file racing ("Unique file handle conflict"), so opening and closing are serialised per file."""
    import threading

    store, dataset_id = _dataset_file(tmp_path, 1000)
    errors, barrier = [], threading.Barrier(12)

    def session():
        barrier.wait()
        for _ in range(100):
            try:
                with store.open_dataset(dataset_id) as c:
                    assert c.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1000
            except Exception as exc:  # noqa: BLE001 - any error is the failure
                errors.append(repr(exc))

    threads = [threading.Thread(target=session) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]


def _read_many_times(args) -> int:
    from icp_core.store import DatasetStore

    root, ws, dataset_id = args
    errors = 0
    for _ in range(40):
        try:
            with DatasetStore(root, ws).open_dataset(dataset_id) as con:
                con.execute("SELECT count(*) FROM accounts").fetchone()
        except Exception:  # noqa: BLE001 - any error is the failure
            errors += 1
    return errors


def test_server_processes_read_one_dataset_at_once(tmp_path):
    """Several server processes on one data directory read the same dataset at the same time
    (read-only connections share the file; a read-write one locked everyone else out)."""
    import multiprocessing

    store, dataset_id = _dataset_file(tmp_path, 100_000)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        errors = pool.map(_read_many_times, [(str(tmp_path), store.workspace, dataset_id)] * 4)
    assert errors == [0, 0, 0, 0]


def _dataset_file(tmp_path, rows: int):
    """A store with one dataset file holding `rows` accounts: (store, dataset id)."""
    import duckdb

    from icp_core.store import DatasetStore, new_token

    store = DatasetStore(tmp_path, new_token())
    store.dir.mkdir(parents=True, exist_ok=True)
    dataset_id = "0" * 32
    con = duckdb.connect(str(store.db_path(dataset_id)))
    con.execute(f"CREATE TABLE accounts AS SELECT range AS row_id FROM range({int(rows)})")
    con.close()
    return store, dataset_id
