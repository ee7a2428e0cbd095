"""Suggestion quality: the data-suggested ICP against the best possible ranking and a gradient-boosting reference.

    python -m bench.bench_evidence [--seeds 1 2 3 4 5] [--accounts 4000]

On generated accounts with a planted ICP (the sample generator: messy formats, a logistic
win model over industry, size, technologies, funding, lead source, region), for several seeds:
train on one half, test on the other; report the oracle AUC (the planted win model's own fit,
`generate_sample.clean_accounts`: the best ranking any model can reach on that split), the suggested
profile's test AUC (score, with disqualified lowest), the HistGradientBoostingClassifier reference's
test AUC on the same columns and split, the planted formula applied to the exported file (`on file`:
what the file's blanks and formats still allow), the share of the gap to the oracle the suggestion leaves
((oracle − ICP) / oracle), the ICP/GB ratio (target ≥ 0.97), and the number of traits (≤ 12). Then
the same comparison on ../shared/data/ibm_telco_customer_churn.csv (outcome: retained, i.e. Churn =
No; no oracle there).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from icp_core.backtest import score_auc
from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import Outcome, outcome_weights
from icp_core.reference import reference_auc
from icp_core.roles import ColumnSpec
from icp_core.store import DatasetStore, new_token
from icp_core.suggest import suggest_traits
from sample_data.generate_sample import _fit_from_export, clean_accounts, generate_accounts


def compare(csv: Path, outcome: Outcome, tmp: Path, split_seed: int = 0, truth: np.ndarray | None = None,
            on_file: np.ndarray | None = None) -> dict:
    store = DatasetStore(tmp, new_token())
    meta = ingest_dataset(store, csv).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
    test = np.random.default_rng(split_seed).random(am.n) < 0.5
    t = time.perf_counter()
    suggestion = suggest_traits(am, outcome, train=~test)
    suggest_s = time.perf_counter() - t
    ours = score_auc(am, suggestion.profile(), outcome, test) if suggestion.found else float("nan")
    t = time.perf_counter()
    ref = reference_auc(am, outcome, train=~test, test=test)
    ref_s = time.perf_counter() - t
    oracle = ceiling = float("nan")
    if truth is not None:  # the planted fit ranks the test accounts as well as anything can
        from sklearn.metrics import roc_auc_score

        y, w = outcome_weights(am, outcome)
        on = test & ~np.isnan(y) & (w > 0)
        oracle = float(roc_auc_score(y[on], truth[on]))
        ceiling = float(roc_auc_score(y[on], on_file[on])) if on_file is not None else float("nan")
    return {"n": am.n, "traits": len(suggestion.traits), "ours": ours, "ref": ref, "ratio": ours / ref,
            "oracle": oracle, "ceiling": ceiling, "gap": (oracle - ours) / oracle, "suggest_s": suggest_s, "ref_s": ref_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--accounts", type=int, default=4000)
    args = ap.parse_args()
    print(f"{'data':<28} {'accounts':>8} {'traits':>6} {'oracle':>7} {'on file':>7} {'ICP AUC':>8} {'GB AUC':>7} {'gap':>6} "
          f"{'ratio':>6} {'suggest s':>9} {'GB s':>5}")
    ratios, gaps = [], []
    with tempfile.TemporaryDirectory(prefix="icp_bench_ev_") as tmp:
        tmp = Path(tmp)
        for seed in args.seeds:
            csv = tmp / f"planted_{seed}.csv"
            frame = generate_accounts(args.accounts, seed=seed)
            frame.to_csv(csv, index=False)
            truth = clean_accounts(args.accounts, seed=seed)["fit"].to_numpy(dtype=float)
            r = compare(csv, Outcome("won"), tmp, split_seed=seed, truth=truth, on_file=_fit_from_export(frame)[0])
            ratios.append(r["ratio"])
            gaps.append(r["gap"])
            print(f"{'planted seed ' + str(seed) + ' (won)':<28} {r['n']:>8,} {r['traits']:>6} {r['oracle']:>7.3f} "
                  f"{r['ceiling']:>7.3f} "
                  f"{r['ours']:>8.3f} {r['ref']:>7.3f} {r['gap']:>6.1%} {r['ratio']:>6.3f} {r['suggest_s']:>9.2f} "
                  f"{r['ref_s']:>5.2f}", flush=True)
        print(f"{'planted, median':<28} {'':>8} {'':>6} {'':>7} {'':>7} {'':>8} {'':>7} {statistics.median(gaps):>6.1%} "
              f"{statistics.median(ratios):>6.3f}")
        telco = ROOT.parent / "shared" / "data" / "ibm_telco_customer_churn.csv"
        if telco.exists():
            r = compare(telco, Outcome("column", column="Churn", good_when="No"), tmp)
            print(f"{'telco (retained)':<28} {r['n']:>8,} {r['traits']:>6} {'':>7} {'':>7} {r['ours']:>8.3f} {r['ref']:>7.3f} "
                  f"{'':>6} {r['ratio']:>6.3f} {r['suggest_s']:>9.2f} {r['ref_s']:>5.2f}")


if __name__ == "__main__":
    main()
