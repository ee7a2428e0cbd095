"""Hostile and broken input: every corpus case gives its specific message or loads correctly,
through the core, the CLI and the page; nothing already saved is lost or altered."""

import hashlib

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from icp_core.__main__ import main
from icp_core.ingest import IngestError, ingest_dataset
from icp_core.store import read_accounts
from tests.conftest import ROOT
from tests.hostile_corpus import CASES


def fingerprint(store) -> dict:
    """Every file of the store's datasets folder with its content hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(store.dir.glob("*"))}


@pytest.fixture
def saved(store, tmp_path):
    """A dataset that exists before the hostile upload, and the store's fingerprint."""
    (tmp_path / "good.csv").write_text("Company,Employees,Country\nAcme,10,US\nBeta,20,UK\n")
    dataset_id = ingest_dataset(store, tmp_path / "good.csv").dataset_id
    return dataset_id, fingerprint(store)


# cases tagged "child" run only in a memory-capped child process (tests/test_reader_bounds.py)
IN_PROCESS = [c for c in CASES if "child" not in c.tags]


@pytest.mark.parametrize("case", IN_PROCESS, ids=[c.name for c in IN_PROCESS])
def test_corpus_case(case, store, saved, tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    accounts, opportunities = case.build(folder)
    before_id, before = saved
    if case.error:
        with pytest.raises(IngestError) as info:
            ingest_dataset(store, accounts, opportunities)
        assert case.error.lower() in str(info.value).lower()
        assert "\n" not in str(info.value) and "Traceback" not in str(info.value)
        assert fingerprint(store) == before  # nothing saved is lost, altered or half-written
    else:
        meta = ingest_dataset(store, accounts, opportunities).meta
        assert meta["rows"] == case.rows
        if case.check:
            case.check(meta)
        assert len(read_accounts(store, meta["id"])) == case.rows
        after = fingerprint(store)
        assert {k: v for k, v in after.items() if k in before} == before
        assert set(after) - set(before) == {f"{meta['id']}.duckdb", f"{meta['id']}.json"}
    datasets, problems = store.list_datasets()
    assert before_id in {m["id"] for m in datasets} and not problems


@pytest.mark.parametrize("case", [c for c in IN_PROCESS if c.error], ids=[c.name for c in IN_PROCESS if c.error])
def test_corpus_errors_through_the_cli(case, tmp_path, capsys):
    folder = tmp_path / "case"
    folder.mkdir()
    accounts, opportunities = case.build(folder)
    args = ["--data-dir", str(tmp_path / "d"), "ingest", str(accounts)]
    if opportunities:
        args += ["--opportunities", str(opportunities)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and case.error.lower() in err.lower()
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["empty file", "binary garbage named .csv", "header only", "5,000 columns"])
def test_corpus_errors_on_the_page(name, data_root, tmp_path):
    case = next(c for c in CASES if c.name == name)
    accounts, _ = case.build(tmp_path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="data.accounts_file").set_value((accounts.name, accounts.read_bytes(), "text/csv"))
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert case.error.lower() in " ".join(e.value for e in at.error).lower() or any(
        case.error.lower() in (s.label or "").lower() for s in at.status)


def test_the_upload_limit_is_configured_and_enforced(data_root, tmp_path, monkeypatch):
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "maxUploadSize = 200" in config
    monkeypatch.setenv("ICP_UPLOAD_LIMIT_MB", "1")
    big = ("Company,Notes\n" + "".join(f"Co{i},{'x' * 200}\n" for i in range(6000))).encode()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="data.accounts_file").set_value(("big.csv", big, "text/csv"))
    at.button[0].click().run()
    assert not at.exception
    # one limit in exact units (issue 13, item 10); the page escapes markdown, so compare without backslashes
    assert any("the limit is 1,000,000 bytes (1 MB)" in e.value.replace("\\", "") for e in at.error)


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s.strip() != "")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=8))
def test_any_text_round_trips_through_a_csv_upload(tmp_path_factory, rows):
    """Whatever text a CRM puts in a cell comes back as uploaded in the raw column."""
    from icp_core.store import DatasetStore, new_token

    folder = tmp_path_factory.mktemp("rt")
    df = pd.DataFrame(rows, columns=["Name", "Note"])
    df.insert(0, "Account ID", [f"ID{i}" for i in range(len(df))])
    df.to_csv(folder / "rt.csv", index=False)
    store = DatasetStore(folder / "data", new_token())
    meta = ingest_dataset(store, folder / "rt.csv").meta
    back = read_accounts(store, meta["id"], with_raw=True)
    note_key = next(c["key"] for c in meta["columns"] if c["header"] == "Note")
    got = back[note_key + "__raw"].tolist()
    assert got == df["Note"].tolist()


def test_a_wide_file_loads_under_a_tight_memory_limit(store, tmp_path, monkeypatch):
    """300 columns x 20 rows reserved more than the ingest memory limit in DuckDB while using
    ~300 MB (it failed in CI under load at 640 MB, and always at 400 MB): the clean table is built
    once more with twice the room."""
    monkeypatch.setenv("ICP_INGEST_MEMORY_MB", "400")
    case = next(c for c in CASES if c.name == "300 columns")
    path, _ = case.build(tmp_path)
    assert ingest_dataset(store, path).meta["rows"] == 20
