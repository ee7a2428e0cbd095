"""Meeting-room benchmark (issue 17).

    python -m bench.bench_meeting core [N]       engagement and matrix at N accounts (default 1,000,000),
                                                 contacts: 2,000,000 matched to 100,000 accounts
    python -m bench.bench_meeting browser [K [N ...]]
                                                 slider-to-redraw in headless Chromium: the app on the
                                                 3,000-account sample and on N generated accounts (default
                                                 100,000; with the sample's activity and default profile)
                                                 against a 3-line Streamlit app (one slider, one metric),
                                                 K moves each (default 15)

    python -m bench.bench_meeting apptest [N [REV]]  AppTest rerun after a slider move at N accounts (default
                                                 1,000,000) with what moved and the matrix open, this code
                                                 against revision REV (default 6f85e90: before issue 17's
                                                 panels), same data, one run

Targets: engagement recompute after a half-life change ≤ 200 ms core at 1M; 2M contacts matched and
rolled up ≤ 20 s on 2 cores; slider-to-redraw ≤ 2× the 3-line app's (medians, same run).
"""

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from bench.generate_accounts import write_accounts_csv


def _ms(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def core(n: int) -> None:
    import pandas as pd

    from icp_core.dataset import AccountMatrix
    from icp_core.engagement import Engagement, Signal, engagement_key, fit_engagement_matrix, score_engagement
    from icp_core.ingest import ingest_dataset
    from icp_core.personas import add_contacts
    from icp_core.profile import Profile, Trait
    from icp_core.roles import ColumnSpec
    from icp_core.scoring import score_profile
    from icp_core.sources import add_source
    from icp_core.store import DatasetStore, new_token

    with tempfile.TemporaryDirectory(prefix="bench_meeting_") as tmp:
        tmp = Path(tmp)
        csv = write_accounts_csv(n, tmp / "a.csv")
        ids = pd.read_csv(csv, usecols=[0], dtype=str).iloc[:, 0]
        rng = np.random.default_rng(3)
        days = rng.integers(0, 400, len(ids))
        pd.DataFrame({ids.name: ids, "Last Activity": pd.Timestamp("2025-09-30") - pd.to_timedelta(days, unit="D"),
                      "Website Visits": rng.poisson(5, len(ids))}).to_csv(tmp / "act.csv", index=False)
        store = DatasetStore(tmp / "d", new_token())
        meta = ingest_dataset(store, csv).meta
        add_source(store, meta["id"], tmp / "act.csv", name="activity")
        meta = store.read_meta(meta["id"])
        specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
        am = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
        e = Engagement(signals=[Signal("Last activity", "recency", column="Last Activity (activity)", weight=4),
                                Signal("Visits", "count", column="Website Visits (activity)", weight=2)])
        score_engagement(am, e)  # first read of the columns
        half = [0]

        def new_half_life():
            half[0] += 1
            e.half_life_days = 10.0 + half[0]
            score_engagement(am, e)
        print(f"{n:,} accounts: engagement after a half-life change {_ms(new_half_life):.0f} ms (target 200 ms); "
              f"after a weight move {_ms(lambda: score_engagement(am, e)):.0f} ms")
        p = Profile(traits=[Trait("Industry", "in_set", role="industry", values=["saas"], weight=3),
                            Trait("Employees", "range", role="employees", min=50, weight=2)])
        res = score_engagement(am, e)
        key = engagement_key(e, res)
        result, _ = score_profile(am, p)
        fit_engagement_matrix(result, res, am, e, key)  # the grouping, once per trait set and engagement
        w = [0]

        def weight_move():
            w[0] = (w[0] + 1) % 5
            r, _ = score_profile(am, p.with_weights({p.traits[0].id: w[0]}))
            fit_engagement_matrix(r, res, am, e, key)
        print(f"{n:,} accounts: fit × engagement matrix after a weight move (re-score + matrix) "
              f"{_ms(weight_move):.1f} ms")

    with tempfile.TemporaryDirectory(prefix="bench_contacts_") as tmp:
        tmp = Path(tmp)
        csv = write_accounts_csv(100_000, tmp / "a.csv")
        names = pd.read_csv(csv, usecols=["Account Name"], dtype=str)["Account Name"].to_numpy()
        m = 2_000_000
        rng = np.random.default_rng(5)
        titles = np.array(["VP, Finance", "Head of RevOps", "CTO", "Directeur Commercial", "Sr. Data Engineer",
                           "Account Executive", "IT Manager", "Software Engineer", "CFO", "Marketing Specialist"])
        pd.DataFrame({"Name": [f"P{i}" for i in range(m)], "Title": titles[rng.integers(0, len(titles), m)],
                      "Company": names[rng.integers(0, len(names), m)]}).to_csv(tmp / "c.csv", index=False)
        store = DatasetStore(tmp / "d", new_token())
        meta = ingest_dataset(store, csv).meta
        t = time.perf_counter()
        rep = add_contacts(store, meta["id"], tmp / "c.csv")
        print(f"contacts: {m:,} matched to 100,000 accounts and rolled up in {time.perf_counter() - t:.1f} s "
              f"(target 20 s); {rep['matched']:,} matched")


def prepare_dataset(root: Path, ws: str, n: int, tmp: Path) -> str:
    """N generated accounts (the sample's columns) with activity joined as the sample's is, and the
    sample's default profile (engagement included) saved on it, in workspace `ws`: what a browser
    session on ?ws=<ws> opens. Returns the dataset id."""
    import pandas as pd

    from icp_core.ingest import ingest_dataset
    from icp_core.sources import add_source
    from icp_core.store import DatasetStore, ProfileStore

    csv = write_accounts_csv(n, tmp / f"a{n}.csv")
    ids = pd.read_csv(csv, usecols=["Account ID"], dtype=str)["Account ID"]
    rng = np.random.default_rng(7)
    day = pd.Timestamp("2025-09-30")
    pd.DataFrame({"Account ID": ids,
                  "Last Activity": (day - pd.to_timedelta(rng.integers(0, 400, n), unit="D")).strftime("%Y-%m-%d"),
                  "Last Meeting": (day - pd.to_timedelta(rng.integers(0, 600, n), unit="D")).strftime("%Y-%m-%d"),
                  "Website Visits (30d)": rng.poisson(5, n), "Emails Opened (30d)": rng.poisson(2, n),
                  "Meetings (90d)": rng.poisson(0.5, n)}).to_csv(tmp / f"act{n}.csv", index=False)
    store = DatasetStore(root, ws)
    meta = ingest_dataset(store, csv, name=f"{n:,} generated accounts").meta
    add_source(store, meta["id"], tmp / f"act{n}.csv", name="activity")
    profile = json.loads((ROOT / "sample_data" / "default_profile.json").read_text())
    ProfileStore(root, ws).save_version(meta["id"], profile)
    return meta["id"]


THREE_LINE_APP = """import streamlit as st
v = st.slider("w", 0, 10, 5)
st.metric("Accounts", v * 100)
"""


def browser(moves: int, sizes: list[int]) -> None:
    from playwright.sync_api import sync_playwright

    from icp_core.ingest import ensure_sample_dataset
    from icp_core.store import new_token
    from tests.e2e import open_app, start_streamlit, stop, wait_idle

    with tempfile.TemporaryDirectory(prefix="bench_browser_") as tmp:
        tmp = Path(tmp)
        (tmp / "three.py").write_text(THREE_LINE_APP)
        ensure_sample_dataset(tmp / "data")
        spaces = {}
        for n in sizes:
            t = time.perf_counter()
            spaces[n] = new_token()
            prepare_dataset(tmp / "data", spaces[n], n, tmp)
            print(f"prepared {n:,} accounts in {time.perf_counter() - t:.0f} s", flush=True)
        app = start_streamlit(tmp / "data", tmp / "app.log")
        import subprocess

        from tests.e2e import free_port
        port = free_port()
        three = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(tmp / "three.py"), "--server.port",
                                  str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(4)
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path="/usr/bin/chromium",
                                      args=["--headless", "--no-sandbox", "--disable-gpu",
                                            "--disable-background-networking"])
                results = {}
                runs = [("3-line app", f"http://127.0.0.1:{port}", None), ("ICP app, 3,000 (sample)", app, "Tier A")]
                runs += [(f"ICP app, {n:,}", f"{app}/?ws={spaces[n]}", "Tier A") for n in sizes]
                for name, url, ready in runs:
                    page = open_app(b, url, ready=ready)
                    if ready:  # a large dataset's first scoring fills the caches: one move before timing
                        wait_idle(page, quiet_ms=1000)
                    if ready is None:
                        page.get_by_role("slider").first.wait_for(timeout=60_000)
                        wait_idle(page, 300)
                    thumb = (page.get_by_role("slider").first if ready is None else
                             page.locator("[data-testid='stSlider']").nth(1).get_by_role("slider"))
                    metric = page.locator("[data-testid='stMetricValue']").first
                    times, shown = [], []
                    for i in range(moves):
                        before = metric.inner_text()
                        thumb.focus()
                        t = time.perf_counter()
                        thumb.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
                        deadline = time.time() + 30
                        while metric.inner_text() == before and time.time() < deadline:
                            page.wait_for_timeout(5)
                        shown.append((time.perf_counter() - t) * 1000)
                        wait_idle(page, quiet_ms=50)
                        times.append((time.perf_counter() - t) * 1000 - 50)
                    results[name] = statistics.median(times)
                    print(f"{name}: the new count shows after {statistics.median(shown):.0f} ms (median)")
                    page.close()
                b.close()
        finally:
            stop(app.proc)
            three.terminate()
        base = results["3-line app"]
        for name, ms in results.items():
            print(f"{name}: slider-to-redraw median {ms:.0f} ms ({ms / base:.2f}× the 3-line app)")


APPTEST_CHILD = """
import os, statistics, sys, time
sys.path.insert(0, os.getcwd())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=600)
at.query_params["ws"] = sys.argv[1]
at.run()
for k in ("score.moved.open", "score.matrix.open"):  # the panels open (this code draws them only when open)
    at.session_state[k] = True
at.run()
assert not at.exception, at.exception
sliders = [s for s in at.slider if s.key and ".w." in s.key]
times = []
for i in range(int(sys.argv[2])):
    s = [x for x in at.slider if x.key and ".w." in x.key][1]
    t = time.perf_counter()
    s.set_value(4 if i % 2 == 0 else 5).run()
    times.append((time.perf_counter() - t) * 1000)
assert not at.exception, at.exception
print(f"{statistics.median(times[1:]):.0f}")
"""


def apptest(n: int, moves: int, base: str) -> None:
    """AppTest rerun after a slider move at N accounts (panels open), this code against `base` (a git
    revision, checked out in a temporary worktree), on the same data in one run."""
    import subprocess

    from icp_core.store import new_token

    with tempfile.TemporaryDirectory(prefix="bench_apptest_") as tmp:
        tmp = Path(tmp)
        ws = new_token()
        prepare_dataset(tmp / "data", ws, n, tmp)
        old = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            env = dict(os.environ, ICP_DATA_DIR=str(tmp / "data"))
            out = {}
            for name, root in ((f"before ({base})", old), ("now", ROOT)):
                r = subprocess.run([sys.executable, "-c", APPTEST_CHILD, ws, str(moves)], cwd=root, env=env,
                                   capture_output=True, text=True)
                if r.returncode:
                    raise SystemExit(f"{name}: {r.stderr[-1500:]}")
                out[name] = float(r.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
        first = next(iter(out.values()))
        for name, ms in out.items():
            print(f"{n:,} accounts, AppTest rerun after a slider move, {name}: {ms:.0f} ms ({ms / first:.2f}×)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    what = sys.argv[1] if len(sys.argv) > 1 else "core"
    if what == "apptest":
        apptest(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000, 11, sys.argv[3] if len(sys.argv) > 3 else "6f85e90")
    elif what == "core":
        core(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    else:
        browser(int(sys.argv[2]) if len(sys.argv) > 2 else 15, [int(x) for x in sys.argv[3:]] or [100_000])
