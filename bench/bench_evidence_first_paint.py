"""Evidence page, first open: time to the first tier table, and the black-box reference's cost.

    python -m bench.bench_evidence_first_paint [--repeats 3] [--file ../shared/data/ibm_telco_customer_churn.csv]

The page draws the backtest (metrics, tier table, charts) first and fits the reference model
after it, into the metric's placeholder. Before, it fitted the reference first: the tier table
waited for it. Per repeat, on a fresh (cold) copy of the dataset's matrix, this times what the
page does before the tier table (default outcome, outcome labels, scoring, backtest), then the
reference as it was (all accounts, all OpenMP threads) and as it is now (stratified sample of at
most REFERENCE_MAX_ROWS, one thread), and prints the median seconds and both reference AUCs.
The old reference's time depends a lot on how busy the machine is: with more OpenMP threads
than free cores, a 2 s fit can take 20-45 s.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from icp_core.backtest import live_backtest
from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import default_outcome, outcome_weights
from icp_core.profile import Profile
from icp_core.reference import REFERENCE_MAX_ROWS, reference_auc
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_profile
from icp_core.store import DatasetStore, new_token


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--file", default=str(ROOT.parent / "shared" / "data" / "ibm_telco_customer_churn.csv"))
    args = ap.parse_args()
    path = Path(args.file)
    with tempfile.TemporaryDirectory(prefix="icp_bench_paint_") as tmp:
        store = DatasetStore(Path(tmp), new_token())
        meta = ingest_dataset(store, path).meta
        specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]

        def fresh() -> AccountMatrix:  # nothing cached: the first open of the page
            return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)

        first, old, new = [], [], []
        auc_old = auc_new = float("nan")
        outcome = None
        for _ in range(args.repeats):
            def backtest_first():
                am = fresh()  # the page's cached matrix is built on first open too
                o = default_outcome(am)
                outcome_weights(am, o)
                result, _ = score_profile(am, Profile(name="first open"))
                live_backtest(am, result, o)
                return o, am

            (outcome, am), s = timed(backtest_first)
            first.append(s)
            auc_old, s = timed(lambda o=outcome: reference_auc(fresh(), o, max_rows=10**9, threads=None))
            old.append(s)
            auc_new, s = timed(lambda o=outcome: reference_auc(fresh(), o))
            new.append(s)
    med = statistics.median
    print(f"{path.name}: {meta.get('rows', am.n):,} accounts, outcome {outcome.label()}, "
          f"median of {args.repeats} cold runs")
    print(f"  backtest (everything before the tier table)      {med(first):7.3f} s")
    print(f"  reference as before (all rows, all threads)      {med(old):7.2f} s   AUC {auc_old:.4f}   "
          f"(runs: {', '.join(f'{x:.1f}' for x in old)})")
    print(f"  reference now (<= {REFERENCE_MAX_ROWS:,} rows stratified, 1 thread) {med(new):7.2f} s   AUC {auc_new:.4f}   "
          f"(runs: {', '.join(f'{x:.1f}' for x in new)})")
    print(f"  time to the first tier table: before {med(first) + med(old):.2f} s (reference first), "
          f"now {med(first):.3f} s (reference after)")


if __name__ == "__main__":
    main()
