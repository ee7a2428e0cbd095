"""Scoring benchmark: a slider move on the Score page at 100k and 1M accounts.

    python -m bench.bench_score [N ...]      (default: 100000 1000000)

For each size: ingest the generated accounts once, save the sample's default profile on it,
then measure (median of 10)
  - core:   re-scoring after one weight change (numpy over cached trait vectors: score, tiers,
            tier summary, histogram, the 1,000 table rows with reasons);
  - apptest: a full AppTest rerun of the Score page after one slider change;
and the same with an ICP set of 5 (the default profile and four variants, saved as a set so the
Score page opens all five): core = re-scoring the moved ICP, best fit, overlap and breadth (the
other four and the pattern combinations come from the cache); AppTest rerun with five ICPs, and
its ratio to the single-profile rerun measured in the same run.
Targets (issue 3): AppTest rerun ≤ 50 ms at 100k and ≤ 100 ms at 1M accounts on 2 cores.
Targets (issue 16): with 5 ICPs at 1M, core ≤ 25 ms and AppTest rerun ≤ 1.5× the single profile's.
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
    out = {"load_s": load_s, "first_s": first_s, "core_ms": median_ms(core), "apptest_ms": median_ms(slider_reruns(at))}
    out.update(bench_set(am, profile, root, ws, meta["id"]))
    return out


def slider_reruns(at, moves: int = 10) -> list[float]:
    """Seconds of each AppTest rerun after moving the industry weight slider (alternately 5 and 2)."""
    reruns = []
    for i in range(moves):
        # the weight slider's key carries the widget generation (ui.state.widget_key): score.g<N>.w.<trait id>
        slider = next(w for w in at.slider if w.key and w.key.startswith("score.g") and w.key.endswith(".w.industry-core"))
        slider.set_value(5 - (i % 2) * 3)
        t = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    return reruns


def five_icps(profile):
    """The default profile and four variants (each without one trait, so their match patterns differ)."""
    icps = [profile]
    for i in range(4):
        p = profile.copy()
        p.name = f"Variant {i + 1}"
        p.traits = [t for j, t in enumerate(p.traits) if j != i + 1]
        icps.append(p)
    return icps


def bench_set(am, profile, root: Path, ws: str, dataset_id: str) -> dict:
    from icp_core.breadth import profile_breadth, set_breadth
    from icp_core.icpset import combos_for, overlap, set_score
    from icp_core.scoring import score_profile, tier_summary
    from icp_core.store import ProfileStore, SetStore

    icps = five_icps(profile)
    scored = [score_profile(am, p) for p in icps]
    t = time.perf_counter()
    combos_for(am, [b.traits for _, b in scored])
    combos_s = time.perf_counter() - t
    core = []
    for i in range(10):
        p = icps[0].with_weights({"industry-core": 5 - i % 5})
        t = time.perf_counter()
        moved = score_profile(am, p)
        now = [moved] + scored[1:]
        s = set_score([q.name for q in icps], [r for r, _ in now], combos_for(am, [b.traits for _, b in now]))
        overlap(s)
        set_breadth(s, am)
        profile_breadth(moved[0], am)
        tier_summary(moved[0], am)
        core.append(time.perf_counter() - t)
    ps = ProfileStore(root, ws)
    members = [ps.save_version(dataset_id, p.to_dict()) for p in icps]
    SetStore(root, ws).save_version(dataset_id, "bench set", members)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["ws"] = ws
    at.session_state["icp.workspace"] = ws
    at.session_state["icp.dataset"] = (ws, dataset_id)
    at.run()
    assert not at.exception, at.exception
    assert len(next(r for r in at.radio if r.key and r.key.startswith("score.icp_pick")).options) == 5
    return {"combos_s": combos_s, "set_core_ms": median_ms(core), "set_apptest_ms": median_ms(slider_reruns(at)),
            "combinations": len(combos_for(am, [b.traits for _, b in scored]).count)}


def main(sizes: list[int]) -> None:
    print(f"scoring benchmark on {os.cpu_count()} cores; median of 10 slider moves")
    print(f"{'accounts':>10} {'load s':>7} {'1st score s':>12} {'core ms':>8} {'AppTest rerun ms':>17}"
          f" | 5 ICPs: {'combos s':>8} {'combinations':>12} {'core ms':>8} {'AppTest ms':>10} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="icp_bench_score_") as tmp:
        for n in sizes:
            r = bench(n, Path(tmp))
            print(f"{n:>10,} {r['load_s']:>7.2f} {r['first_s']:>12.2f} {r['core_ms']:>8.1f} {r['apptest_ms']:>17.1f}"
                  f" | {'':8}{r['combos_s']:>8.2f} {r['combinations']:>12,} {r['set_core_ms']:>8.1f} "
                  f"{r['set_apptest_ms']:>10.1f} {r['set_apptest_ms'] / r['apptest_ms']:>5.2f}×", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
