"""Issue 19: the profile scored where the data lives. On a real PostgreSQL server (started and
stopped by this module, on a unix socket), on DuckDB and on Apache Spark (pyspark in local mode, the
job a cluster runs), `run-sql` writes scores, statuses, tiers, reasons and flags equal to the app's
row for row, for every trait kind and both tier modes; errors are one line and never touch the
previous target."""

import numpy as np
import pandas as pd
import psycopg
import pytest

from icp_core.__main__ import main
from icp_core.dataset import AccountMatrix
from icp_core.engines import EngineError, run_spark, run_sql, spark_session
from icp_core.ingest import ingest_dataset
from icp_core.profile import Profile, TierRule, Trait, profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import TIER_LABELS, explain_accounts, score_profile
from icp_core.store import DatasetStore, new_token
from icp_core.warehouse import warehouse_view_sql
from sample_data.generate_sample import generate_accounts
from tests.conftest import ROOT
from tests.pg import Postgres, load_frame

pytestmark = pytest.mark.xdist_group("engines")  # one server and one JVM, on the worker that runs these

DEFAULT = ROOT / "sample_data" / "default_profile.json"


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    yield server
    server.stop()


def dataset(directory, csv):
    store = DatasetStore(directory, new_token())
    meta = ingest_dataset(store, csv).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return store, meta, specs, AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return dataset(tmp_path_factory.mktemp("eng"), ROOT / "sample_data" / "accounts.csv")


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    d = tmp_path_factory.mktemp("eng100k")
    generate_accounts(100_000, seed=11).to_csv(d / "a.csv", index=False)
    return dataset(d, d / "a.csv")


def every_kind(p: Profile) -> Profile:
    """The default profile plus a trait of every rule it lacks: in a set, a range, contains any,
    true / false, missing; must-have, caution and a disqualifying stay-away."""
    p = p.copy()
    p.traits += [Trait("Churned", "is_true", role="churned", weight=-2, trait_class="caution"),
                 Trait("Not churned", "is_false", role="churned", weight=1),
                 Trait("No NPS", "missing", role="nps", weight=-1),
                 Trait("Government", "in_set", role="industry", values=["government"], weight=-5,
                       trait_class="stay_away", disqualify=True)]
    return p


def app_frame(am, profile):
    r, _ = score_profile(am, profile)
    expl = explain_accounts(r, np.arange(am.n))
    from icp_core.profile import STATUSES
    return r, pd.DataFrame({"icp_score": r.score, "icp_tier": np.array(TIER_LABELS, dtype=object)[r.tier],
                            "icp_status": np.array(STATUSES, dtype=object)[r.status],
                            "icp_reasons": expl["reasons"], "icp_flags": expl["flags"]})


def input_frame(store, meta, specs, profile) -> pd.DataFrame:
    with store.open_dataset(meta["id"]) as con:
        return con.execute(f"SELECT * FROM ({warehouse_view_sql(profile, specs)}) ORDER BY row_id").df()


def assert_equal_to_app(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values("row_id").reset_index(drop=True)
    assert len(got) == len(want)
    assert np.abs(got["icp_score"].to_numpy(dtype=float) - want["icp_score"].to_numpy()).max() < 1e-9
    for col in ("icp_tier", "icp_status", "icp_reasons", "icp_flags"):
        bad = np.flatnonzero(got[col].to_numpy(dtype=object) != want[col].to_numpy(dtype=object))
        assert len(bad) == 0, (col, got[col].iloc[bad[:3]].tolist(), want[col].iloc[bad[:3]].tolist())


def pg_table(dsn, table) -> pd.DataFrame:
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f'SELECT * FROM "{table}"')
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


@pytest.mark.parametrize("mode", ["thresholds", "mix"])
def test_postgres_scores_equal_the_app_on_the_sample(postgres, sample, mode):
    store, meta, specs, am = sample
    p = every_kind(profile_from_json(DEFAULT.read_text()))
    if mode == "mix":
        p.tier_rule = TierRule(mode="mix", mix={"A": 10, "B": 20, "C": 30, "D": 40})
    result, want = app_frame(am, p)
    load_frame(postgres.dsn, "accounts_in", input_frame(store, meta, specs, p))
    run = run_sql(p, "postgres", "accounts_in", "icp_scores", dsn=postgres.dsn, version_label="Sample v1",
                  id_column="row_id")
    assert run.rows == am.n
    assert run.thresholds == pytest.approx(result.thresholds)  # the mix's lines, solved on the server
    got = pg_table(postgres.dsn, "icp_scores")
    assert set(got.columns) == {"row_id", "icp_score", "icp_status", "icp_tier", "icp_reasons", "icp_flags",
                                "icp_profile_version"}
    assert (got["icp_profile_version"] == "Sample v1").all()
    assert_equal_to_app(got, want)
    assert {"Insufficient data", "Disqualified"} <= set(got["icp_tier"])


@pytest.mark.parametrize("mode", ["thresholds", "mix"])
def test_postgres_and_duckdb_equal_the_app_on_100k_generated_accounts(postgres, large, tmp_path, mode):
    store, meta, specs, am = large
    p = every_kind(profile_from_json(DEFAULT.read_text()))
    if mode == "mix":
        p.tier_rule = TierRule(mode="mix", mix={"A": 15, "B": 25, "C": 30, "D": 30})
    _, want = app_frame(am, p)
    frame = input_frame(store, meta, specs, p)
    load_frame(postgres.dsn, "big_in", frame)
    run_sql(p, "postgres", "big_in", "big_scores", dsn=postgres.dsn, id_column="row_id")
    assert_equal_to_app(pg_table(postgres.dsn, "big_scores"), want)
    import duckdb
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("f", frame)
        con.execute("CREATE TABLE big_in AS SELECT * FROM f")
    run_sql(p, "duckdb", "big_in", "big_scores", database=str(db), id_column="row_id")
    with duckdb.connect(str(db)) as con:
        assert_equal_to_app(con.execute("SELECT * FROM big_scores").df(), want)


def test_errors_are_one_line_and_leave_the_target_whole(postgres, sample, tmp_path, capsys):
    store, meta, specs, am = sample
    p = profile_from_json(DEFAULT.read_text())
    frame = input_frame(store, meta, specs, p)
    load_frame(postgres.dsn, "acc", frame)
    run_sql(p, "postgres", "acc", "scores_kept", dsn=postgres.dsn, id_column="row_id")
    before = pg_table(postgres.dsn, "scores_kept")
    # a trait column the table lacks
    load_frame(postgres.dsn, "acc_short", frame.drop(columns=["industry"]))
    with pytest.raises(EngineError, match="lacks the column.*industry"):
        run_sql(p, "postgres", "acc_short", "scores_kept", dsn=postgres.dsn)
    # a column of the wrong type: employees as text, compared with a number
    load_frame(postgres.dsn, "acc_text", frame.astype({"employees": str}))
    with pytest.raises(EngineError, match="could not score acc_text"):
        run_sql(p, "postgres", "acc_text", "scores_kept", dsn=postgres.dsn)
    with pytest.raises(EngineError, match="cannot read table nowhere"):
        run_sql(p, "postgres", "nowhere", "scores_kept", dsn=postgres.dsn)
    pd.testing.assert_frame_equal(pg_table(postgres.dsn, "scores_kept"), before)  # nothing half-written
    # the CLI: exit 2 with one line; an unreachable server too
    prof = tmp_path / "p.json"
    prof.write_text(p.to_json())
    base = ["run-sql", "--profile", str(prof), "--engine", "postgres", "--target", "scores_kept"]
    assert main([*base, "--table", "acc_short", "--dsn", postgres.dsn]) == 2
    assert main([*base, "--table", "acc", "--dsn", f"host={tmp_path} port=1 user=icp connect_timeout=2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "lacks the column" in err[0] and err[1].startswith("error: cannot connect to PostgreSQL")
    assert main([*base, "--table", "acc", "--dsn", postgres.dsn, "--id-column", "row_id"]) == 0
    assert "scored 3,000 rows on postgres into scores_kept" in capsys.readouterr().err


def test_the_dbt_model_runs_on_postgres_and_equals_the_app(postgres, sample):
    """dbt itself is not installed: the model file is rendered with Jinja2 the way dbt renders it
    (config() writes nothing, ref() names the relation) and its SQL runs on the real server."""
    import jinja2

    from icp_core.warehouse import dbt_model

    store, meta, specs, am = sample
    p = every_kind(profile_from_json(DEFAULT.read_text()))
    result, want = app_frame(am, p)
    load_frame(postgres.dsn, "dbt_accounts", input_frame(store, meta, specs, p))
    model = dbt_model(p, result.thresholds, dialect="postgres")
    sql = jinja2.Environment().from_string(model).render(config=lambda **kw: "", ref=lambda name: f'"dbt_{name}"')
    with psycopg.connect(postgres.dsn) as con, con.cursor() as cur:
        cur.execute(sql)
        got = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
    assert_equal_to_app(got, want)


def test_ingest_from_postgres_equals_the_file(postgres, sample, tmp_path, capsys):
    """Accounts read from a PostgreSQL table go through the same cleaning and role detection as the
    file: the same columns and roles, the same scores; the DSN is stored nowhere."""
    import json

    from icp_core.store import DatasetStore as Store

    store, meta, specs, am = sample
    raw = pd.read_csv(ROOT / "sample_data" / "accounts.csv", dtype=str, keep_default_na=False)
    load_frame(postgres.dsn, "crm_accounts", raw.replace({"": None}))
    root = tmp_path / "data"
    assert main(["--data-dir", str(root), "ingest", "--postgres", "crm_accounts", "--dsn", postgres.dsn,
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["accounts"] == am.n and summary["format"] == "postgresql"
    (pg_meta,), _ = next(iter(Store(root, ws).list_datasets() for ws in [p.name for p in (root / "workspaces").iterdir()]))
    pg_specs = [ColumnSpec.from_dict(c) for c in pg_meta["columns"]]
    assert [(s.header, s.role, s.kind) for s in pg_specs] == [(s.header, s.role, s.kind) for s in specs]
    pg_am = AccountMatrix(lambda: Store(root, next((root / "workspaces").iterdir()).name).open_dataset(pg_meta["id"]),
                          pg_specs)
    p = profile_from_json(DEFAULT.read_text())
    a, b = score_profile(am, p)[0], score_profile(pg_am, p)[0]
    assert (a.tier == b.tier).all() and np.allclose(a.score, b.score)
    stored = "".join(f.read_text(errors="ignore") for f in root.rglob("*.json"))
    assert str(postgres.sock) not in stored and "user=icp" not in stored  # credentials never stored
    # a missing table: exit 2, one line
    assert main(["--data-dir", str(root), "ingest", "--postgres", "nope", "--dsn", postgres.dsn]) == 2
    assert capsys.readouterr().err.strip().startswith("error: cannot read table nope")


def test_ingest_a_query_read_only(postgres, tmp_path, capsys, monkeypatch):
    """A query instead of a table (one SELECT, read in a READ ONLY transaction): only its rows load;
    a query that writes is refused by the server and changes nothing; two statements, a missing DSN
    and an unreachable server are one line each, with no password in it."""
    import json

    raw = pd.read_csv(ROOT / "sample_data" / "accounts.csv", dtype=str, keep_default_na=False).replace({"": None})
    load_frame(postgres.dsn, "crm_q", raw)
    root = tmp_path / "data"
    monkeypatch.setenv("ICP_PG_DSN", postgres.dsn)
    col = raw.columns[1]
    value = raw[col].dropna().iloc[0]
    want = int((raw[col] == value).sum())
    assert main(["--data-dir", str(root), "ingest", "--postgres",
                 f"SELECT * FROM crm_q WHERE \"{col}\" = '{value}';", "--json"]) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["accounts"] == want and summary["name"] == "PostgreSQL query" and 0 < want < len(raw)
    # a query that writes parses as one SELECT, but the read-only transaction refuses it
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute("CREATE SEQUENCE IF NOT EXISTS crm_seq")
    assert main(["--data-dir", str(root), "ingest", "--postgres", "SELECT nextval('crm_seq') AS n, * FROM crm_q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "read-only transaction" in err and len(err.splitlines()) == 1
    assert main(["--data-dir", str(root), "ingest", "--postgres",
                 "WITH gone AS (DELETE FROM crm_q RETURNING *) SELECT * FROM gone"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read the query")
    with psycopg.connect(postgres.dsn) as con:
        assert con.execute("SELECT count(*) FROM crm_q").fetchone()[0] == len(raw)
    assert main(["--data-dir", str(root), "ingest", "--postgres", "SELECT 1; DROP TABLE crm_q"]) == 2
    assert "one SELECT query" in capsys.readouterr().err
    assert main(["--data-dir", str(root), "ingest", "--postgres", "SELECT * FROM crm_q WHERE false"]) == 2
    assert "has no rows" in capsys.readouterr().err
    monkeypatch.delenv("ICP_PG_DSN")
    assert main(["--data-dir", str(root), "ingest", "--postgres", "crm_q"]) == 2
    assert "ICP_PG_DSN" in capsys.readouterr().err
    secret = f"host={postgres.sock} port=1 user=icp password=s3cr3t-pw dbname=postgres"
    assert main(["--data-dir", str(root), "ingest", "--postgres", "crm_q", "--dsn", secret]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to PostgreSQL") and "s3cr3t-pw" not in err
    assert main(["--data-dir", str(root), "ingest", "x.csv", "--postgres", "crm_q"]) == 2  # one source only


def test_data_page_reads_postgres(postgres, data_root, monkeypatch):
    """The Data page reads a table through the server's DSN (environment or Streamlit secrets), loads
    it as the current dataset, and never shows or stores the DSN; without one it says how to set it."""
    from tests.conftest import open_app

    raw = pd.read_csv(ROOT / "sample_data" / "accounts.csv", dtype=str, keep_default_na=False).replace({"": None})
    load_frame(postgres.dsn, "page_accounts", raw.head(500))
    monkeypatch.delenv("ICP_PG_DSN", raising=False)
    at = open_app("pages/data.py", timeout=120)
    assert "ICP_PG_DSN" in " ".join(c.value for c in at.caption)
    assert "data.pg_read" not in [b.key for b in at.button]  # no form without a connection
    dsn = postgres.dsn + " password=s3cr3t-pw"  # trust login: the password only has to stay hidden
    # a server without sign-in offers the connection to nobody, unless it says it is private
    monkeypatch.setenv("ICP_PG_DSN", dsn)
    at = open_app("pages/data.py", timeout=120)
    assert "has no sign-in" in " ".join(c.value for c in at.caption)
    assert "data.pg_read" not in [b.key for b in at.button]
    monkeypatch.setenv("ICP_PG_ANONYMOUS", "1")
    for how in ("env", "secrets"):
        at = open_app(None, timeout=120)
        if how == "env":
            monkeypatch.setenv("ICP_PG_DSN", dsn)
        else:
            monkeypatch.delenv("ICP_PG_DSN", raising=False)
            at.secrets["postgres"] = {"dsn": dsn}
        at.switch_page("pages/data.py").run()
        at.text_area(key="data.pg_source").set_value("page_accounts")
        at.text_input(key="data.pg_name").set_value(f"Replica {how}")
        at.button(key="data.pg_read").click().run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        assert at.subheader[0].value == f"Replica {how}"
        assert next(m.value for m in at.metric if m.label == "Accounts loaded") == "500"
        assert any(c.value.startswith("PostgreSQL table page\\_accounts · loaded") for c in at.caption), \
            [c.value for c in at.caption]
        shown = " ".join(str(getattr(e, "value", "")) for e in at.main)
        assert "s3cr3t-pw" not in shown and str(postgres.sock) not in shown
        # a bad query: the reason on screen, nothing loaded
        at.text_area(key="data.pg_source").set_value("SELECT * FROM no_such_table")
        at.button(key="data.pg_read").click().run()
        assert [e.value.replace("\\", "") for e in at.error] == [
            'Could not read from PostgreSQL: cannot read the query: relation "no_such_table" does not exist']
        assert at.subheader[0].value == f"Replica {how}"
    stored = "".join(f.read_text(errors="ignore") for f in data_root.rglob("*.json"))
    assert "s3cr3t-pw" not in stored and str(postgres.sock) not in stored


# --------------------------------------------------------------------------- Apache Spark

def sample_icp_set():
    """Three ICPs, one of them with a target mix, one with a disqualifying stay-away."""
    from icp_core.icpset import combine_profiles

    health = Profile(name="Enterprise healthcare", traits=[
        Trait("Healthcare", "in_set", role="industry", values=["healthcare"], weight=5),
        Trait("Big", "range", role="employees", min=1000, weight=3),
        Trait("Government", "in_set", role="industry", values=["government"], weight=-5, trait_class="stay_away",
              disqualify=True),
    ], tier_rule=TierRule(mode="mix", mix={"A": 10, "B": 20, "C": 30, "D": 40}))
    emea = Profile(name="EMEA anything", traits=[Trait("EMEA", "in_set", role="region", values=["emea"], weight=4)])
    return combine_profiles([every_kind(profile_from_json(DEFAULT.read_text())), health, emea])


def app_set_frame(am, icps):
    """The app's set scores as run-sql writes them: every ICP's columns _<i>, the best fit, and the
    columns of the ICP each account ranks best in."""
    from icp_core.icpset import score_set

    s, _ = score_set(am, icps)
    frames = [app_frame(am, p)[1] for p in icps.profiles]  # score_set scores each ICP as score_profile does
    want = pd.DataFrame({"icp_best_fit": s.best_fit_labels()})
    closest = s.closest
    for c in ("icp_score", "icp_status", "icp_tier", "icp_reasons", "icp_flags"):
        cols = np.column_stack([f[c].to_numpy(dtype=object) for f in frames])
        want[c] = cols[np.arange(len(closest)), closest]
        for i in range(len(frames)):
            want[f"{c}_{i}"] = cols[:, i]
    return s, want


SCORE_COLUMNS = ("icp_score", "icp_status", "icp_tier", "icp_reasons", "icp_flags")


def assert_set_equal_to_app(got: pd.DataFrame, want: pd.DataFrame, n: int) -> None:
    """The best fit, the best ICP's columns and every ICP's columns (_<i>) equal the app's."""
    got = got.sort_values("row_id").reset_index(drop=True)
    assert got["icp_best_fit"].tolist() == want["icp_best_fit"].tolist()
    for suffix in ["", *[f"_{i}" for i in range(n)]]:
        cols = [c + suffix for c in SCORE_COLUMNS]
        assert_equal_to_app(got[["row_id", *cols]].set_axis(["row_id", *SCORE_COLUMNS], axis=1),
                            want[cols].set_axis(list(SCORE_COLUMNS), axis=1).astype({"icp_score": float}))


def test_an_icp_set_on_postgres_and_duckdb_equals_the_app(postgres, sample, tmp_path, capsys):
    """run-sql with an ICP set: each ICP's columns, the best fit and the best ICP's columns equal the
    app's; the target-mix ICP's lines are solved on the server."""
    store, meta, specs, am = sample
    icps = sample_icp_set()
    s, want = app_set_frame(am, icps)
    everything = Profile(name="all", traits=[t for p in icps.profiles for t in p.traits])
    frame = input_frame(store, meta, specs, everything)
    load_frame(postgres.dsn, "set_in", frame)
    run = run_sql(icps, "postgres", "set_in", "set_scores", dsn=postgres.dsn, id_column="row_id")
    assert run.lines == [pytest.approx(r.thresholds) for r in s.results]
    got = pg_table(postgres.dsn, "set_scores")
    assert_set_equal_to_app(got, want, 3)
    assert run.best_fit == want["icp_best_fit"].value_counts().to_dict() and len(run.best_fit) == 4
    # the CLI, on a DuckDB file, from the profiles given one by one
    import duckdb
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("f", frame)
        con.execute("CREATE TABLE accounts AS SELECT * FROM f")
    files = []
    for i, p in enumerate(icps.profiles):
        (tmp_path / f"p{i}.json").write_text(p.to_json())
        files += ["--profile", str(tmp_path / f"p{i}.json")]
    assert main(["run-sql", *files, "--engine", "duckdb", "--database", str(db), "--table", "accounts",
                 "--target", "scores", "--id-column", "row_id"]) == 0
    err = capsys.readouterr().err
    assert "tier lines of “Enterprise healthcare”" in err and "best fit: " in err
    with duckdb.connect(str(db)) as con:
        assert_set_equal_to_app(con.execute("SELECT * FROM scores").df(), want, 3)


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.mark.parametrize("mode", ["thresholds", "mix"])
@pytest.mark.parametrize("which", ["sample", "large"])
def test_spark_scores_equal_the_app(spark, request, tmp_path, which, mode):
    store, meta, specs, am = request.getfixturevalue(which)
    p = every_kind(profile_from_json(DEFAULT.read_text()))
    if mode == "mix":
        p.tier_rule = TierRule(mode="mix", mix={"A": 10, "B": 20, "C": 30, "D": 40})
    result, want = app_frame(am, p)
    src = tmp_path / "in.parquet"
    input_frame(store, meta, specs, p).to_parquet(src, index=False)
    out = tmp_path / "scores.parquet"
    run = run_spark(p, str(src), str(out), spark=spark, version_label="v2", id_column="row_id")
    assert run.rows == am.n and run.thresholds == pytest.approx(result.thresholds)
    got = pd.read_parquet(out)
    assert (got["icp_profile_version"] == "v2").all()
    assert_equal_to_app(got, want)


def test_spark_errors_are_one_line_and_leave_the_target_whole(spark, sample, tmp_path, capsys):
    store, meta, specs, am = sample
    p = profile_from_json(DEFAULT.read_text())
    frame = input_frame(store, meta, specs, p)
    good, short = tmp_path / "in.parquet", tmp_path / "short.parquet"
    frame.to_parquet(good, index=False)
    frame.drop(columns=["industry"]).to_parquet(short, index=False)
    out = tmp_path / "scores.parquet"
    run_spark(p, str(good), str(out), spark=spark, id_column="row_id")
    before = pd.read_parquet(out)
    with pytest.raises(EngineError, match="lacks the column.*industry"):
        run_spark(p, str(short), str(out), spark=spark)
    with pytest.raises(EngineError, match="cannot read"):
        run_spark(p, str(tmp_path / "none.parquet"), str(out), spark=spark)
    pd.testing.assert_frame_equal(pd.read_parquet(out), before)
    prof = tmp_path / "p.json"
    prof.write_text(p.to_json())
    assert main(["run-sql", "--profile", str(prof), "--engine", "spark", "--spark-master", "local[1]",
                 "--table", str(short), "--target", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lacks the column" in err[0]


def test_an_icp_set_on_spark_equals_the_app(spark, sample, tmp_path):
    store, meta, specs, am = sample
    icps = sample_icp_set()
    s, want = app_set_frame(am, icps)
    everything = Profile(name="all", traits=[t for p in icps.profiles for t in p.traits])
    src = tmp_path / "in.parquet"
    input_frame(store, meta, specs, everything).to_parquet(src, index=False)
    run = run_spark(icps, str(src), str(tmp_path / "out.parquet"), spark=spark, id_column="row_id")
    assert run.lines == [pytest.approx(r.thresholds) for r in s.results]
    assert_set_equal_to_app(pd.read_parquet(tmp_path / "out.parquet"), want, 3)


def test_a_password_never_reaches_a_message():
    """Whatever a driver puts in its message, the DSN's password (and the DSN itself) come out."""
    from icp_core.engines import _without_secrets

    dsn = "host=db user=icp password=s3cr3t-pw dbname=crm"
    assert _without_secrets(f"cannot connect: bad login for {dsn}", dsn) == "cannot connect: bad login for ***"
    assert _without_secrets("auth failed, password s3cr3t-pw rejected", dsn) == "auth failed, password *** rejected"
    url = "postgresql://icp:p%40ss-9@db/crm"
    assert "p%40ss-9" not in _without_secrets("failed at postgresql://icp:p%40ss-9@db/crm", url)
    assert _without_secrets("nothing secret here", None) == "nothing secret here"
