"""Scoring where the data lives: the sample profile on N generated accounts in DuckDB, PostgreSQL and
Spark local (issue 19).

    python -m bench.bench_engines [--sizes 1000000 10000000] [--engines duckdb postgres spark]

Each run is `engines.run_sql` / `run_spark` writing the scores to a target table, in a fresh child
process so its peak memory is its own. The input is the warehouse's input shape (one column per
trait column: industry, employees, technologies, ...), generated with numpy and written once as
Parquet; loading it into each engine is timed apart from scoring. Peak memory: the child's peak
resident set (VmHWM), plus for Spark the driver JVM's (local mode: the executors run in it); the
PostgreSQL server's own processes are not counted.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "sample_data" / "default_profile.json"


def generate(n: int, out: Path, seed: int = 19) -> Path:
    """N rows of the warehouse input for the sample profile, as Parquet."""
    rng = np.random.default_rng(seed)
    industries = np.array(["Fintech", "SaaS", "Healthcare", "Education", "Government", "Retail", "Media", None],
                          dtype=object)
    tools = np.array(["Snowflake", "Segment", "Salesforce", "HubSpot", "AWS", "Stripe"], dtype=object)
    picks = rng.random((n, len(tools))) < 0.3
    tech = pd.Series([";".join(tools[row]) for row in picks]) if n <= 2_000_000 else None
    if tech is None:  # vectorised for large n: up to three tools by index
        a, b = rng.integers(0, len(tools), n), rng.integers(0, len(tools), n)
        tech = pd.Series(tools[a]) + ";" + pd.Series(tools[b])
    frame = pd.DataFrame({
        "account_id": np.arange(n, dtype=np.int64),
        "industry": industries[rng.integers(0, len(industries), n)],
        "employees": np.where(rng.random(n) < 0.03, np.nan, np.exp(rng.normal(5, 1.8, n)).round()),
        "technologies": tech,
        "funding_stage": np.array(["Seed", "Series A", "Series B", "Series C", "Bootstrapped"], dtype=object)[
            rng.integers(0, 5, n)],
        "lead_source": np.array(["Partner", "Referral", "Inbound", "Outbound"], dtype=object)[rng.integers(0, 4, n)],
        "region": np.array(["EMEA", "NA", "APAC", "LATAM"], dtype=object)[rng.integers(0, 4, n)],
    })
    frame.to_parquet(out, index=False)
    return out


def child(engine: str, parquet: Path, work: Path, dsn: str) -> dict:
    """One engine's run, in this (child) process: load, then score into a target."""
    from icp_core.engines import run_spark, run_sql, spark_session
    from icp_core.profile import profile_from_json

    profile = profile_from_json(PROFILE.read_text())
    t = time.perf_counter()
    if engine == "duckdb":
        import duckdb
        db = work / "wh.duckdb"
        with duckdb.connect(str(db)) as con:
            con.execute(f"CREATE OR REPLACE TABLE accounts AS SELECT * FROM read_parquet('{parquet}')")
        load = time.perf_counter() - t
        t = time.perf_counter()
        r = run_sql(profile, "duckdb", "accounts", "icp_scores", database=str(db), id_column="account_id")
    elif engine == "postgres":
        import psycopg
        with psycopg.connect(dsn) as con, con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS accounts")
            cur.execute("CREATE TABLE accounts (account_id bigint, industry text, employees double precision, "
                        "technologies text, funding_stage text, lead_source text, region text)")
            import pyarrow.parquet as pq
            with cur.copy("COPY accounts FROM STDIN (FORMAT csv)") as copy:
                for batch in pq.ParquetFile(parquet).iter_batches(batch_size=200_000):
                    copy.write(batch.to_pandas().to_csv(index=False, header=False))
        load = time.perf_counter() - t
        t = time.perf_counter()
        r = run_sql(profile, "postgres", "accounts", "icp_scores", dsn=dsn, id_column="account_id")
    else:
        spark = spark_session("local[*]")
        load = time.perf_counter() - t  # the session start
        t = time.perf_counter()
        r = run_spark(profile, str(parquet), str(work / "icp_scores.parquet"), spark=spark, id_column="account_id")
        jvm = high_water_mib(spark.sparkContext._gateway.proc.pid)  # the driver JVM (local mode: the executors too)
        spark.stop()
        score = time.perf_counter() - t
        return {"engine": engine, "rows": r.rows, "load_s": load, "score_s": score, "extra_mib": jvm}
    score = time.perf_counter() - t
    return {"engine": engine, "rows": r.rows, "load_s": load, "score_s": score, "extra_mib": 0.0}


def high_water_mib(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM: reset by exec, unlike getrusage's ru_maxrss)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "postgres", "spark"])
    ap.add_argument("--child", nargs=4, metavar=("ENGINE", "PARQUET", "WORK", "DSN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        engine, parquet, work, dsn = args.child
        out = child(engine, Path(parquet), Path(work), dsn)
        out["peak_mib"] = high_water_mib() + out.pop("extra_mib")
        print(json.dumps(out))
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg import Postgres

    server = Postgres() if "postgres" in args.engines else None
    print(f"{'engine':<9} {'accounts':>11} {'load s':>8} {'score s':>8} {'peak MiB':>9}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="icp_bench_eng_") as tmp:
            for n in args.sizes:
                parquet = generate(n, Path(tmp) / f"in_{n}.parquet")
                for engine in args.engines:
                    done = subprocess.run([sys.executable, "-m", "bench.bench_engines", "--child", engine,
                                           str(parquet), tmp, server.dsn if server else ""],
                                          cwd=ROOT, capture_output=True, text=True)
                    if done.returncode:
                        print(f"{engine:<9} {n:>11,} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
                        continue
                    r = json.loads(done.stdout.strip().splitlines()[-1])
                    print(f"{engine:<9} {n:>11,} {r['load_s']:>8.1f} {r['score_s']:>8.1f} {r['peak_mib']:>9.0f}",
                          flush=True)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
