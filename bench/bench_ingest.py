"""Ingest benchmark: load + clean time and peak memory for 100k and 1M generated accounts.

    python bench/bench_ingest.py [N ...]      (default: 100000 1000000)

Each ingest runs in a fresh process so its peak RSS is its own. Target (issue 2): a 1M-row
CSV loaded and cleaned in under 3 s on a 2-core machine, peak memory under 1 GiB.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.generate_accounts import write_accounts_csv  # noqa: E402

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from icp_core.ingest import ingest_dataset
from icp_core.store import DatasetStore, new_token
steps = []
t0 = time.perf_counter()
def progress(fraction, message):
    steps.append((round(time.perf_counter() - t0, 3), message))
store = DatasetStore(Path(sys.argv[2]), new_token())
result = ingest_dataset(store, Path(sys.argv[1]), progress=progress)
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rows": result.meta["rows"], "steps": steps,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench(n: int, workdir: Path) -> dict:
    csv = HERE / "out" / f"accounts_{n}.csv"
    if not csv.exists():
        t = time.perf_counter()
        write_accounts_csv(n, csv)
        print(f"  generated {csv.name} in {time.perf_counter() - t:.1f} s", flush=True)
    out = subprocess.run([sys.executable, "-c", CHILD, str(csv), str(workdir), str(ROOT)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["mb"] = csv.stat().st_size / 1e6
    return result


def main(sizes: list[int]) -> None:
    print(f"ingest benchmark on {os.cpu_count()} cores (python {sys.version.split()[0]})")
    print(f"{'accounts':>10} {'file MB':>8} {'load+clean s':>13} {'rows/s':>11} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory(prefix="icp_bench_") as tmp:
        for n in sizes:
            r = bench(n, Path(tmp))
            assert r["rows"] == n, r
            print(f"{n:>10,} {r['mb']:>8.1f} {r['seconds']:>13.2f} {n / r['seconds']:>11,.0f} {r['peak_mib']:>9.0f}")
            print("           steps: " + ", ".join(f"{m} @{s:.2f}s" for s, m in r["steps"]), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
