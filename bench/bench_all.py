"""The whole path on N generated accounts (default 1,000,000), in one process:
ingest + cleaning, trait precomputation (first score), a slider rerun (re-score + summary + the
1,000 table rows), suggest + backtest, clustering, TAM, CRM export. Prints each step's time and
the process's peak memory after it.

    python -m bench.bench_all [N]

Targets (issue 8, 2 cores): ingest ≤ 3 s, slider rerun ≤ 100 ms, clustering ≤ 2 s, whole path
within 2 GiB.
"""

import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from bench.generate_accounts import write_accounts_csv
from icp_core.backtest import live_backtest
from icp_core.dataset import AccountMatrix
from icp_core.export import FileColumns, scored_export_bytes
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import Outcome
from icp_core.profile import profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import ranked_rows, score_histogram, score_profile, scored_table, tier_summary
from icp_core.segments import cluster_accounts, default_cluster_columns
from icp_core.store import DatasetStore, new_token
from icp_core.suggest import suggest_traits
from icp_core.tam import TamAssumptions, customer_mask, segment_values, tam_table


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(n: int) -> None:
    csv = HERE / "out" / f"accounts_{n}.csv"
    if not csv.exists():
        write_accounts_csv(n, csv)
    rows = []

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        rows.append((name, time.perf_counter() - t, peak_mib()))
        print(f"  {name:<44} {rows[-1][1]:>8.2f} s {rows[-1][2]:>8.0f} MiB", flush=True)
        return out

    print(f"whole path on {n:,} accounts, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="icp_bench_all_") as tmp:
        store = DatasetStore(Path(tmp), new_token())
        meta = step("ingest + cleaning", lambda: ingest_dataset(store, csv).meta)
        specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
        am = step("load accounts for scoring", lambda: AccountMatrix(lambda: store.open_dataset(meta["id"]), specs))
        profile = profile_from_json((ROOT / "sample_data" / "default_profile.json").read_text())
        step("trait precomputation (first score)", lambda: score_profile(am, profile))

        def rerun():
            times = []
            for i in range(10):
                t = time.perf_counter()
                r, _ = score_profile(am, profile.with_weights({"industry-core": 5 - i % 5}))
                tier_summary(r, am)
                score_histogram(r)
                scored_table(r, am, ranked_rows(r, limit=1000))
                times.append(time.perf_counter() - t)
            return statistics.median(times)
        med = step("slider rerun x10 (core; median below)", rerun)
        rows.append(("  slider rerun, median", med, peak_mib()))
        print(f"  {'  slider rerun, median':<44} {med * 1000:>8.1f} ms")
        outcome = Outcome("won")
        sug = step("suggest traits (won vs lost)", lambda: suggest_traits(am, outcome))
        result, _ = score_profile(am, sug.profile() if sug.found else profile)
        step("backtest (held out)", lambda: live_backtest(am, result, outcome))
        cols = default_cluster_columns(am)
        step("clustering: read columns (first time)", lambda: [am.column_array(s) if s.kind in ("number", "year")
                                                               else am.value_options(s) if s.kind == "list"
                                                               else am.column_codes(s) for s in cols])
        step("clustering (k = 6, every account)", lambda: cluster_accounts(am, cols, k=6))
        step("TAM by tier x employee band", lambda: tam_table(
            [segment_values(am, result, "tier"), segment_values(am, result, "employee_band")],
            np.ones(am.n, bool), [segment_values(am, result, "tier"), segment_values(am, result, "employee_band")],
            customer_mask(am), am.arr, TamAssumptions()))

        def export():
            columns = FileColumns(lambda: store.open_dataset(meta["id"]), specs)
            return len(scored_export_bytes(columns, result, "bench v1", "csv"))
        step("CRM export (CSV, every account and column)", export)
    total = sum(t for name, t, _ in rows if not name.startswith("  "))
    print(f"  {'total':<44} {total:>8.2f} s {peak_mib():>8.0f} MiB peak")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
