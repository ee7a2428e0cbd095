"""Lookalike benchmark (issue 16): similarity of N generated accounts to 500 exemplars.

    python -m bench.bench_lookalike [N ...]      (default: 100000 1000000)

Target: 1,000,000 accounts against 500 exemplars in ≤ 10 s on 2 cores (features on the clustering
pipeline, NearestNeighbors over the exemplars, every account queried), peak memory printed.
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

from bench.generate_accounts import write_accounts_csv


def main(sizes: list[int]) -> None:
    from icp_core.dataset import AccountMatrix
    from icp_core.ingest import ingest_dataset
    from icp_core.lookalike import find_lookalikes
    from icp_core.roles import ColumnSpec
    from icp_core.segments import default_cluster_columns
    from icp_core.store import DatasetStore, new_token

    print(f"lookalike benchmark on {os.cpu_count()} cores; 500 exemplars")
    print(f"{'accounts':>10} {'columns':>8} {'read columns s':>15} {'similarity s':>13} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory(prefix="icp_bench_lookalike_") as tmp:
        for n in sizes:
            csv = HERE / "out" / f"accounts_{n}.csv"
            if not csv.exists():
                write_accounts_csv(n, csv)
            store = DatasetStore(Path(tmp) / str(n), new_token())
            meta = ingest_dataset(store, csv).meta
            specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
            am = AccountMatrix(lambda store=store, meta=meta: store.open_dataset(meta["id"]), specs)
            cols = default_cluster_columns(am)
            t = time.perf_counter()
            for s in cols:  # the column reads the Clusters page has usually made already (cached)
                am.column_array(s) if s.kind in ("number", "year") else (
                    am.value_options(s) if s.kind == "list" else am.column_codes(s))
            read_s = time.perf_counter() - t
            exemplars = np.sort(np.random.default_rng(0).choice(n, 500, replace=False))
            t = time.perf_counter()
            find_lookalikes(am, exemplars, cols)
            sim_s = time.perf_counter() - t
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{n:>10,} {len(cols):>8} {read_s:>15.2f} {sim_s:>13.2f} {peak:>9.0f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
