"""Scoring benchmark: a slider move on the Score page at 100k and 1M accounts.

    python -m bench.bench_score [N ...]      (default: 100000 1000000)

For each size: ingest the generated accounts once, save the sample's default profile on it,
then measure (median of 10)
  - core:   re-scoring after one weight change (numpy over cached trait vectors: score, tiers,
            tier summary, histogram, the 1,000 table rows with reasons);
  - apptest: a full AppTest rerun of the Score page after one slider change.
Targets (issue 3): AppTest rerun ≤ 50 ms at 100k and ≤ 100 ms at 1M accounts on 2 cores.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from bench.generate_accounts import write_accounts_csv


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench(n: int, tmp: Path) -> dict:
    from icp_core.dataset import AccountMatrix
    from icp_core.ingest import ingest_dataset
    from icp_core.profile import profile_from_json
    from icp_core.roles import ColumnSpec
    from icp_core.scoring import ranked_rows, score_histogram, score_profile, scored_table, tier_summary
    from icp_core.store import DatasetStore, ProfileStore, new_token

    csv = HERE / "out" / f"accounts_{n}.csv"
    if not csv.exists():
        write_accounts_csv(n, csv)
    root = tmp / f"data_{n}"
    ws = new_token()
    store = DatasetStore(root, ws)
    meta = ingest_dataset(store, csv).meta
    profile = profile_from_json((ROOT / "sample_data" / "default_profile.json").read_text())
    ProfileStore(root, ws).save_version(meta["id"], profile.to_dict())

    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    t = time.perf_counter()
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    score_profile(am, profile)
    first_s = time.perf_counter() - t
    core = []
    for i in range(10):
        p = profile.with_weights({"industry-core": 5 - i % 5})
        t = time.perf_counter()
        result, _ = score_profile(am, p)
        tier_summary(result, am)
        score_histogram(result)
        scored_table(result, am, ranked_rows(result, limit=1000))
        core.append(time.perf_counter() - t)

    os.environ["ICP_DATA_DIR"] = str(root)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["ws"] = ws
    at.session_state["icp.workspace"] = ws
    at.session_state["icp.dataset"] = (ws, meta["id"])
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["icp.dataset"][1] == meta["id"]
    reruns = []
    for i in range(10):
        # the weight slider's key carries the widget generation (ui.state.widget_key): score.g<N>.w.<trait id>
        slider = next(w for w in at.slider if w.key and w.key.startswith("score.g") and w.key.endswith(".w.industry-core"))
        slider.set_value(5 - (i % 2) * 3)
        t = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    return {"load_s": load_s, "first_s": first_s, "core_ms": median_ms(core), "apptest_ms": median_ms(reruns)}


def main(sizes: list[int]) -> None:
    print(f"scoring benchmark on {os.cpu_count()} cores; median of 10 slider moves")
    print(f"{'accounts':>10} {'load s':>7} {'1st score s':>12} {'core ms':>8} {'AppTest rerun ms':>17}")
    with tempfile.TemporaryDirectory(prefix="icp_bench_score_") as tmp:
        for n in sizes:
            r = bench(n, Path(tmp))
            print(f"{n:>10,} {r['load_s']:>7.2f} {r['first_s']:>12.2f} {r['core_ms']:>8.1f} {r['apptest_ms']:>17.1f}",
                  flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
