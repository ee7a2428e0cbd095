"""Shape benchmark (issue 14): load + shape detection + roll-up of order lines to customers.

    python -m bench.bench_shapes [ROWS:CUSTOMERS ...]   (default: 10000:100 1000000:100000)

Each ingest runs in a fresh process so its peak RSS is its own; the steps' times come from the
ingest's progress messages. Targets: 10,000 lines for 100 customers in <= 2 s (was 35-45 s);
1,000,000 lines for 100,000 customers in <= 10 s and <= 1 GiB peak, on 2 cores. Beside them,
the same rows loaded as accounts (--shape accounts) as the reference in the same run.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from bench.ingest_child import run
from sample_data.generate_exports import order_lines


def main(sizes: list[tuple[int, int]]) -> None:
    print(f"shape benchmark on {os.cpu_count()} cores (python {sys.version.split()[0]})")
    print(f"{'lines':>10} {'customers':>10} {'MB':>6} {'shape':>6} {'accounts':>9} {'load s':>7} "
          f"{'peak MiB':>9} {'as accounts s':>14} {'ratio':>6}  steps (s)")
    with tempfile.TemporaryDirectory(prefix="icp_bench_shapes_") as tmp:
        for rows, customers in sizes:
            csv = HERE / "out" / f"order_lines_{rows}_{customers}.csv"
            if not csv.exists():
                csv.parent.mkdir(parents=True, exist_ok=True)
                t = time.perf_counter()
                order_lines(rows, customers)[0].to_csv(csv, index=False)
                print(f"  generated {csv.name} in {time.perf_counter() - t:.1f} s", flush=True)
            r = run(csv, Path(tmp), None)
            ref = run(csv, Path(tmp), "accounts")  # the same file, no roll-up: the reference
            assert r["accounts"] == customers and r["shape"] == "lines", r
            steps = " ".join(f"{m.split(' ')[0].lower()}@{s:.2f}" for s, m in r["steps"])
            print(f"{rows:>10,} {customers:>10,} {csv.stat().st_size / 1e6:>6.1f} {r['shape']:>6} "
                  f"{r['accounts']:>9,} {r['seconds']:>7.2f} {r['peak_mib']:>9.0f} {ref['seconds']:>14.2f} "
                  f"{r['seconds'] / ref['seconds']:>6.2f}  {steps}", flush=True)


if __name__ == "__main__":
    args = [tuple(int(x) for x in a.split(":")) for a in sys.argv[1:]] or [(10_000, 100), (1_000_000, 100_000)]
    main(args)
