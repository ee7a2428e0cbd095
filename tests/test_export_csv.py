"""The scored-accounts CSV is written by DuckDB's CSV writer (icp_core.export.scored_csv_bytes), not
by pandas: a million accounts with every file column in seconds. Its bytes equal what pandas writes
for the same one-schema frame (to_csv_bytes(scored_frame(...))), on a file whose headers and values
are formulas, quotes, separators, line breaks, blanks and non-ASCII text."""

import numpy as np
import pandas as pd
import pytest

from icp_core.dataset import AccountMatrix
from icp_core.export import FileColumns, scored_csv_bytes, scored_export_bytes, scored_frame, to_csv_bytes
from icp_core.ingest import ingest_dataset
from icp_core.profile import Profile, TierRule, Trait
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.store import DatasetStore, new_token

VALUES = ['=HYPERLINK("http://x","y")', "+1 555", "-2 Ltd", "@SUM(A1)", "\tTab", "plain, with comma",
          'quote "inside"', "line\nbreak", "", "Zürich – ünïcode", "  spaced  ", "semi;colon", "-", "a\rb"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export_csv")
    n = 600
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "Account ID": [f"acc-{i}" for i in range(n)],
        "=Name": [VALUES[i % len(VALUES)] + str(i) if i % 5 else VALUES[i % len(VALUES)] for i in range(n)],
        "Industry": rng.choice(["Fintech", "Retail", "Health", ""], n),
        "Employees": rng.integers(1, 5000, n).astype(str),
        "Notes, more": [VALUES[(i * 7) % len(VALUES)] for i in range(n)],
        "__pos": [str(i) for i in range(n)],  # a header the writer's own column names must not collide with
        "ICP Score": ["99"] * n,  # a re-scored export: replaced by the new score
    })
    path = tmp / "accounts.parquet"  # Parquet: the values arrive exactly as written, CRs and all
    frame.to_parquet(path, index=False)
    store = DatasetStore(tmp / "d", new_token())
    meta = ingest_dataset(store, path).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    connect = (lambda: store.open_dataset(meta["id"]))
    am = AccountMatrix(connect, specs)
    profile = Profile(traits=[
        Trait("=Fintech", "in_set", role="industry", values=["fintech"], weight=5),
        Trait("Retail", "in_set", role="industry", values=["retail"], weight=-3, trait_class="stay_away"),
        Trait("Big", "range", role="employees", min=1000, weight=2),
        Trait("Small", "range", role="employees", max=50, weight=-1, trait_class="caution"),
    ], tier_rule=TierRule(mode="mix"))
    result, binding = score_profile(am, profile)
    assert not binding.problems and len(result.pattern_score) >= 6
    return FileColumns(connect, specs), result


def _pandas_csv(columns: FileColumns, result, label: str) -> bytes:
    frame = pd.concat(list(columns.chunks(chunk=100)), ignore_index=True)
    return to_csv_bytes(scored_frame(frame, result, np.arange(result.n), label))


@pytest.mark.parametrize("label", ["Enterprise ICP v3", "=cmd|' /C calc'!A0 (unsaved)"])
def test_duckdb_csv_equals_pandas_byte_for_byte(scored, label):
    columns, result = scored
    data = scored_export_bytes(columns, result, label, "csv")
    assert data == _pandas_csv(columns, result, label)
    assert data.startswith("\ufeffAccount ID,'=Name,".encode())  # BOM; the formula header neutralised
    assert data.count(b"\r\n") >= result.n + 1


def test_in_memory_frame_gives_the_same_bytes(scored):
    columns, result = scored
    frame = pd.concat(list(columns.chunks()), ignore_index=True)
    assert scored_csv_bytes(frame, result, "v1") == scored_export_bytes(columns, result, "v1", "csv")


def test_row_count_mismatch_is_refused(scored):
    columns, result = scored
    frame = pd.concat(list(columns.chunks()), ignore_index=True).iloc[:-1]
    with pytest.raises(ValueError, match="accounts but"):
        scored_csv_bytes(frame, result, "v1")


def test_written_in_parts_gives_the_same_bytes(scored):
    """A million accounts are written 100,000 at a time; parts of 97 accounts (the
    header only once, every line end CRLF, no part lost or repeated) give the same file."""
    columns, result = scored
    assert scored_csv_bytes(columns, result, "v1", rows_per_part=97) == _pandas_csv(columns, result, "v1")
