"""The CLI: prints id, rows and quality; bad input exits non-zero with one line, no traceback."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT, SHARED_DATA


def run(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "icp_core", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_ingest_prints_id_rows_and_quality(tmp_path):
    out = run("ingest", str(SHARED_DATA / "maven_crm_accounts.csv"), "--opportunities",
              str(SHARED_DATA / "maven_crm_sales_pipeline.csv"), "--name", "Maven", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "dataset id: " in out.stdout and "85 loaded of 85 read, 0 rejected" in out.stdout
    assert "8,800 rows rolled up on account name; 1,425 rows have no account" in out.stdout
    assert "'Philipines'" in out.stdout
    dataset_id = out.stdout.split("dataset id: ")[1].split()[0]
    assert len(dataset_id) == 32 and int(dataset_id, 16) >= 0
    assert list(tmp_path.glob(f"workspaces/*/datasets/{dataset_id}.duckdb"))


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"a,b,c\n", "no data rows"),
    (bytes(range(256)) * 20, "not a text table"),
])
def test_bad_input_exits_non_zero_with_one_line(tmp_path, content, message):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    out = run("ingest", str(path), data_dir=tmp_path / "d")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ") and message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_unsupported_format(tmp_path):
    path = tmp_path / "deck.pptx"
    path.write_bytes(b"PK\x03\x04whatever")
    out = run("ingest", str(path), data_dir=tmp_path / "d")
    assert out.returncode == 2 and "not supported" in out.stderr and "Traceback" not in out.stderr


def test_usage_error_is_not_a_traceback(tmp_path):
    out = run("frobnicate", data_dir=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
