"""Shared fixtures: a private data directory per test, paths to the shared real data files."""

import os

# Two pytest-xdist workers share the 2 cores, next to the Streamlit servers and Chromium of the
# browser tests: BLAS and OpenMP (k-means, silhouette) get one thread per process, set before numpy
# loads. With two each, their spinning threads fought the other worker's and a 19,000-company
# clustering test took 30 s instead of 6 s.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import shutil  # noqa: E402
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from icp_core.clean import install_cleaning_macros
from icp_core.store import DatasetStore, new_token

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(items):
    """The suite runs on two pytest-xdist workers (pyproject.toml: --dist=loadgroup). The browser
    tests (a Streamlit server and Chromium each) run one after another on one worker, while the
    other worker runs the in-process tests: two browsers at once on a 2-core machine only wait.
    The tests of a module that share a module-scoped fixture (a real dataset loaded once) run on one
    worker too, so that fixture is built once, not once per worker."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif any(defs[-1].scope == "module" for defs in item._fixtureinfo.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Path:
    """A data directory holding the bundled sample dataset, loaded once per test session."""
    from icp_core.ingest import ensure_sample_dataset

    root = tmp_path_factory.mktemp("sample_template") / "icp_data"
    ensure_sample_dataset(root)
    return root


@pytest.fixture
def data_root(tmp_path, monkeypatch, sample_template):
    """A private data directory per test, with the sample already loaded (a copy of the template)."""
    root = tmp_path / "icp_data"
    shutil.copytree(sample_template, root)
    monkeypatch.setenv("ICP_DATA_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def server(tmp_path_factory, sample_template):
    """One `streamlit run app.py` for the browser tests of a test session (they run one after another
    on one worker): a private data directory that already holds the sample (a copy of the template;
    a fresh server that loads it is test_browser_first_screen's and test_faults' case). Each test
    opens its own browser context, so its own workspace: what one test uploads or saves no other
    sees, as for two users of one hosted server."""
    from tests.e2e import start_streamlit, stop

    tmp = tmp_path_factory.mktemp("server")
    shutil.copytree(sample_template, tmp / "data")
    srv = start_streamlit(tmp / "data", tmp / "server.log")
    yield srv
    stop(srv.proc)
    print(srv.log_text()[-5000:])


@pytest.fixture
def chromium():
    """Headless Debian Chromium through Playwright, one per test (never downloaded: `make test`
    installs the Debian package; missing, the test fails)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e import CHROMIUM, CHROMIUM_ARGS

    assert Path(CHROMIUM).exists(), "Debian chromium is required: run `make test` (it installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_app(page: str | None = None, timeout: float = 180) -> AppTest:
    """The app run once in AppTest (on the ICP_DATA_DIR of `data_root`), switched to `page`."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def store(data_root):
    return DatasetStore(data_root, new_token())


@pytest.fixture
def con():
    c = duckdb.connect()
    install_cleaning_macros(c)
    yield c
    c.close()


def clean_values(con, kind, values, scale=1.0, date_formats=()):
    """Run one cleaning rule over a list of texts."""
    from icp_core.clean import clean_expression

    expr = clean_expression(kind, "v", scale, date_formats)
    con.execute("CREATE OR REPLACE TEMP TABLE t AS SELECT unnest(?::VARCHAR[]) AS v, "
                "unnest(range(len(?::VARCHAR[]))) AS i", [values, values])
    return [r[0] for r in con.execute(f"SELECT {expr} FROM t ORDER BY i").fetchall()]


def score_widget(widgets, name: str):
    """The Score-page widget that mirrors profile field `name` (w.<trait id>, tier_mode, th.A, mix.B …).
    Its key carries a generation (ui.state.widget_key), so tests find it by the name after it."""
    return next(w for w in widgets if w.key and w.key.startswith("score.g") and w.key.split(".", 2)[2] == name)


def open_trait_form(at) -> None:
    """Open the Score page's "Add, edit or remove a trait" expander (its form is drawn only while open)."""
    at.session_state["score.edit.open"] = True
    at.run()


def weight_sliders(at) -> list:
    return [s for s in at.slider if s.key and s.key.startswith("score.g") and s.key.split(".", 2)[2].startswith("w.")]


@pytest.fixture
def media(monkeypatch):
    """Every MediaFileManager AppTest makes, so a deferred download (data=callable) can be run."""
    import streamlit.testing.v1.app_test as app_test

    made = []

    class Recording(app_test.MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app_test, "MediaFileManager", Recording)
    return made


def download(at, media, label_start: str) -> bytes:
    """The bytes a deferred download button of the last run gives when clicked."""
    button = next(b for b in at.get("download_button") if b.proto.label.startswith(label_start))
    file_id = button.proto.deferred_file_id
    assert file_id, "downloads are built on click"
    entry = next(m._deferred_callables[file_id] for m in reversed(media) if file_id in m._deferred_callables)
    return entry["callable"]()


def sample_with_deals(directory: Path):
    """The bundled sample (accounts and their deals) ingested into a new store under `directory`:
    (store, meta, specs, AccountMatrix). For module-scoped fixtures that need their own copy."""
    from icp_core.dataset import AccountMatrix
    from icp_core.ingest import ingest_dataset
    from icp_core.roles import ColumnSpec

    store = DatasetStore(directory, new_token())
    meta = ingest_dataset(store, ROOT / "sample_data" / "accounts.csv", ROOT / "sample_data" / "opportunities.csv").meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return store, meta, specs, AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


@pytest.fixture(scope="session")
def app_sample(sample_template):
    """The bundled sample as the app loads it (activity and contacts joined, issue 17), read from the
    session's template (built once): (store, meta, specs, AccountMatrix). Read-only."""
    return sample_people(sample_template)


def sample_people(directory: Path):
    """The bundled sample as the app loads it (with its activity and contacts joined, issue 17) under
    `directory` (loaded there unless it already is): (store, meta, specs, AccountMatrix)."""
    from icp_core.dataset import AccountMatrix
    from icp_core.ingest import ensure_sample_dataset
    from icp_core.roles import ColumnSpec
    from icp_core.store import SAMPLE_WORKSPACE

    dataset_id = ensure_sample_dataset(directory)
    store = DatasetStore(directory, SAMPLE_WORKSPACE)
    meta = store.read_meta(dataset_id)
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return store, meta, specs, AccountMatrix(lambda: store.open_dataset(dataset_id), specs)
