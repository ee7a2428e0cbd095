"""Clustering and TAM benchmark at 100k and 1M generated accounts.

    python -m bench.bench_segments [N ...]      (default: 100000 1000000)

Clustering fits the pipeline and k-means on a 20,000-account sample and assigns every account
(target: ≤ 2 s for 1M accounts on 2 cores); TAM segments the accounts by tier × employee band.
Columns are read from DuckDB first (cached afterwards, as in the app), and timed separately.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from bench.generate_accounts import write_accounts_csv
from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.profile import profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.segments import cluster_accounts, default_cluster_columns, feature_frame
from icp_core.store import DatasetStore, new_token
from icp_core.tam import TamAssumptions, customer_mask, segment_values, tam_table


def bench(n: int, tmp: Path) -> dict:
    csv = HERE / "out" / f"accounts_{n}.csv"
    if not csv.exists():
        write_accounts_csv(n, csv)
    store = DatasetStore(tmp, new_token())
    meta = ingest_dataset(store, csv).meta
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), [ColumnSpec.from_dict(c) for c in meta["columns"]])
    cols = default_cluster_columns(am)
    t = time.perf_counter()
    feature_frame(am, cols)  # first read of the columns from DuckDB (cached afterwards)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    cl = cluster_accounts(am, cols, k=6)
    cluster_s = time.perf_counter() - t
    profile = profile_from_json((ROOT / "sample_data" / "default_profile.json").read_text())
    result, _ = score_profile(am, profile)
    t = time.perf_counter()
    segs = [segment_values(am, result, "tier"), segment_values(am, result, "employee_band")]
    table, totals = tam_table(segs, customer_mask(am), segs, customer_mask(am), am.arr, TamAssumptions())
    tam_s = time.perf_counter() - t
    return {"read_s": read_s, "cluster_s": cluster_s, "k": cl.k, "tam_s": tam_s, "segments": len(table)}


def main(sizes):
    print(f"segments benchmark on {os.cpu_count()} cores")
    print(f"{'accounts':>10} {'read cols s':>11} {'cluster s':>10} {'TAM s':>7} {'segments':>9}")
    with tempfile.TemporaryDirectory(prefix="icp_bench_seg_") as tmp:
        for n in sizes:
            r = bench(n, Path(tmp))
            print(f"{n:>10,} {r['read_s']:>11.2f} {r['cluster_s']:>10.2f} {r['tam_s']:>7.2f} {r['segments']:>9}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
