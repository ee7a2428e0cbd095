"""Issue 13, items 1 and 9: every reader is bounded before anything expands.

Hostile files of a few KB (generated here) must be refused with one line naming the limit,
quickly, by a `python -m icp_core ingest` child process that stays under 1 GiB of memory;
the real workbooks in ../shared/data still load.
"""

import os
import resource
import subprocess
import sys
import time

import pytest

from icp_core import ingest, readers
from icp_core.ingest import IngestError, ingest_dataset
from tests.conftest import ROOT, SHARED_DATA
from tests.hostile_corpus import CASES, raw_xlsx

GIB = 1 << 30
# a hard ceiling for the child, so a reader that is not bounded fails the test instead of the machine
ADDRESS_SPACE_CAP = 4 * GIB
SECONDS = 60
BOMBS = [c for c in CASES if "bomb" in c.tags]
XLSX = sorted(SHARED_DATA.glob("real_sdlv_*.xlsx"))


def run_cli_ingest(path, tmp_path, opportunities=None) -> tuple[int, str, float, int]:
    """(exit status, stderr, seconds, peak RSS in bytes) of `python -m icp_core ingest path`."""
    err_file = tmp_path / "stderr.txt"

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.monotonic()
    with open(err_file, "wb") as err:
        args = [sys.executable, "-m", "icp_core", "--data-dir", str(tmp_path / "d"), "ingest", str(path)]
        if opportunities:
            args += ["--opportunities", str(opportunities)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=env, preexec_fn=cap)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > SECONDS * 3:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err_file.read_text(), time.monotonic() - t0, usage.ru_maxrss * 1024


@pytest.mark.parametrize("case", BOMBS, ids=[c.name for c in BOMBS])
def test_a_small_hostile_file_is_refused_fast_in_bounded_memory(case, tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    path, _ = case.build(folder)
    assert path.stat().st_size < 100_000  # small on disk; it is what it expands to that matters
    code, err, seconds, rss = run_cli_ingest(path, tmp_path)
    assert code == 2, (code, err[-500:])
    assert err.startswith("error: ") and err.count("\n") == 1, err[-500:]
    assert case.error.lower() in err.lower(), err
    assert seconds < SECONDS, seconds
    assert rss <= GIB, f"peak RSS {rss / 2**20:,.0f} MiB"


OTHERS = [c for c in CASES if "bomb" not in c.tags]


@pytest.mark.parametrize("case", OTHERS, ids=[c.name for c in OTHERS])
def test_every_corpus_case_stays_within_a_gib(case, tmp_path):
    """Issue 13: the memory of *each* hostile case is measured, not only the bombs': the same
    `ingest` in a capped child process, with its expected outcome and its peak RSS."""
    folder = tmp_path / "case"
    folder.mkdir()
    accounts, opportunities = case.build(folder)
    code, err, seconds, rss = run_cli_ingest(accounts, tmp_path, opportunities)
    if case.error:
        assert code == 2 and case.error.lower() in err.lower(), (code, err[-500:])
        assert err.count("\n") == 1, err[-500:]
    else:
        assert code == 0, err[-500:]
    assert seconds < SECONDS, seconds
    assert rss <= GIB, f"peak RSS {rss / 2**20:,.0f} MiB"


@pytest.mark.parametrize("path", XLSX, ids=lambda p: p.name)
def test_real_workbooks_load_within_the_limits(path, tmp_path):
    code, err, seconds, rss = run_cli_ingest(path, tmp_path)
    assert code == 0, err
    assert seconds < SECONDS and rss <= GIB, (seconds, rss)


def test_the_real_workbooks_are_there():
    assert len(XLSX) == 4, f"expected the shared workbooks in {SHARED_DATA}"


def _rows_xml(rows: int, cols: int) -> str:
    def cells(r: int) -> str:
        return "".join(f'<c t="inlineStr"><is><t>v{r}_{c}</t></is></c>' for c in range(cols))
    return "".join(f'<row r="{r + 1}">{cells(r)}</row>' for r in range(rows))


def test_the_cell_limit_counts_rows_times_columns(store, tmp_path, monkeypatch):
    path = tmp_path / "cells.xlsx"
    path.write_bytes(raw_xlsx(_rows_xml(600, 2)))
    monkeypatch.setattr(readers, "EXCEL_MAX_CELLS", 1_000)
    with pytest.raises(IngestError, match="at most 1,000 \\(rows x columns\\)"):
        ingest_dataset(store, path)
    monkeypatch.setattr(readers, "EXCEL_MAX_CELLS", 1_200)
    assert ingest_dataset(store, path).meta["rows"] == 599


def test_a_part_declared_too_large_is_refused_before_reading(store, tmp_path, monkeypatch):
    path = tmp_path / "big.xlsx"
    path.write_bytes(raw_xlsx(_rows_xml(50, 2)))
    monkeypatch.setattr(readers, "XLSX_MAX_SHEET_BYTES", 1_000)
    with pytest.raises(IngestError, match="expands to [0-9,]+ bytes; at most 1,000"):
        ingest_dataset(store, path)


def test_excel_values_read_as_before(store, tmp_path):
    """Streaming keeps what pandas gave: whole numbers without '.0', blank rows skipped,
    a header's blank and repeated names, and rows wider than the header."""
    rows = ('<row r="1"><c t="inlineStr"><is><t>Name</t></is></c><c t="inlineStr"><is><t>Name</t></is></c>'
            '<c/><c t="inlineStr"><is><t>Employees</t></is></c></row>'
            '<row r="2"><c t="inlineStr"><is><t>Acme</t></is></c><c t="inlineStr"><is><t>Acme Inc</t></is></c>'
            '<c/><c><v>1200</v></c></row>'
            '<row r="4"><c t="inlineStr"><is><t>Beta</t></is></c><c/><c/><c><v>50.5</v></c>'
            '<c t="inlineStr"><is><t>extra</t></is></c></row>')
    path = tmp_path / "values.xlsx"
    path.write_bytes(raw_xlsx(rows))
    meta = ingest_dataset(store, path).meta
    assert meta["rows"] == 2
    assert [c["header"] for c in meta["columns"] if c["source"] == "accounts"] == \
        ["Name", "Name.1", "", "Employees", ""]
    from icp_core.store import read_accounts
    raw = read_accounts(store, meta["id"], with_raw=True)
    emp = next(c["key"] for c in meta["columns"] if c["header"] == "Employees")
    assert raw[emp + "__raw"].tolist() == ["1200", "50.5"]


def test_csv_width_is_checked_before_rows_are_read(store, tmp_path):
    """2,000 x 2,000 was refused only after DuckDB had read it all (10 s): the header decides."""
    case = next(c for c in CASES if c.name == "CSV: 2,000 columns x 2,000 rows")
    path, _ = case.build(tmp_path)
    t0 = time.monotonic()
    with pytest.raises(IngestError, match="2,000 columns; at most 300"):
        ingest_dataset(store, path)
    assert time.monotonic() - t0 < 3


def test_a_quoted_header_is_counted_outside_quotes(store, tmp_path):
    names = ",".join(f'"a,{i}"' for i in range(200))  # 200 columns, 400 commas
    path = tmp_path / "quoted.csv"
    path.write_text(names + "\n" + ",".join(str(i) for i in range(200)) + "\n")
    meta = ingest_dataset(store, path).meta
    assert meta["rows"] == 1 and len([c for c in meta["columns"] if c["source"] == "accounts"]) == 200


def test_a_header_line_over_the_line_limit_is_refused(store, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CSV_MAX_LINE_BYTES", 1_000)
    path = tmp_path / "longheader.csv"
    path.write_text("Company," + "N" * 2_000 + "\nAcme,1\n")
    with pytest.raises(IngestError, match="longer than 1,000 bytes"):
        ingest_dataset(store, path)


# --- item 10: one upload limit, in exact units ------------------------------------------

def _sparse(path, size: int):
    with open(path, "wb") as fh:
        fh.write(b"Company,Employees\n")
        fh.truncate(size)  # nothing on disk
    return path


def test_the_upload_limit_is_200_000_000_bytes(store, tmp_path, capsys):
    assert ingest.upload_limit_bytes() == 200_000_000
    over = _sparse(tmp_path / "over.csv", 200_000_001)
    with pytest.raises(IngestError) as info:
        ingest_dataset(store, over)
    assert str(info.value) == ("over.csv: the file is 200,000,001 bytes (200.0 MB); the limit is 200,000,000 bytes "
                               "(200 MB). (ICP_UPLOAD_LIMIT_MB sets the limit)")
    at = _sparse(tmp_path / "at.csv", 200_000_000)  # at the limit: passes the size check, refused as binary
    with pytest.raises(IngestError, match="not a text table"):
        ingest_dataset(store, at)
    from icp_core.__main__ import main
    assert main(["--data-dir", str(tmp_path / "d"), "ingest", str(over)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the limit is 200,000,000 bytes (200 MB)" in err


def test_the_limit_in_the_environment_is_in_mb_of_a_million_bytes(monkeypatch):
    monkeypatch.setenv("ICP_UPLOAD_LIMIT_MB", "1")
    assert ingest.upload_limit_bytes() == 1_000_000
    assert ingest.file_size_problem(1_000_000) is None
    assert ingest.file_size_problem(1_048_576) == ("the file is 1,048,576 bytes (1.0 MB); "
                                                   "the limit is 1,000,000 bytes (1 MB).")
