"""Shared fixtures: a private data directory per test, paths to the shared real data files."""

from pathlib import Path

import duckdb
import pytest

from icp_core.clean import install_cleaning_macros
from icp_core.store import DatasetStore, new_token

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "icp_data"
    monkeypatch.setenv("ICP_DATA_DIR", str(root))
    return root


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
