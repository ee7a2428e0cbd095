"""Ingest benchmark: load + clean time and peak memory for 100k and 1M generated accounts.

    python -m bench.bench_ingest [N ...]      (default: 100000 1000000)

Each ingest runs in a fresh process so its peak RSS is its own. Target (issue 2): a 1M-row
CSV loaded and cleaned in under 3 s on a 2-core machine, peak memory under 1 GiB.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from bench import ingest_child
from bench.generate_accounts import write_accounts_csv


def bench(n: int, workdir: Path) -> dict:
    csv = HERE / "out" / f"accounts_{n}.csv"
    if not csv.exists():
        t = time.perf_counter()
        write_accounts_csv(n, csv)
        print(f"  generated {csv.name} in {time.perf_counter() - t:.1f} s", flush=True)
    result = ingest_child.run(csv, workdir)
    result["mb"] = csv.stat().st_size / 1e6
    return result


def main(sizes: list[int]) -> None:
    print(f"ingest benchmark on {os.cpu_count()} cores (python {sys.version.split()[0]})")
    print(f"{'accounts':>10} {'file MB':>8} {'load+clean s':>13} {'rows/s':>11} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory(prefix="icp_bench_") as tmp:
        for n in sizes:
            r = bench(n, Path(tmp))
            assert r["accounts"] == n, r
            print(f"{n:>10,} {r['mb']:>8.1f} {r['seconds']:>13.2f} {n / r['seconds']:>11,.0f} {r['peak_mib']:>9.0f}")
            print("           steps: " + ", ".join(f"{m} @{s:.2f}s" for s, m in r["steps"]), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
