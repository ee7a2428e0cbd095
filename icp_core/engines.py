"""Score where the data lives (issue 19): run a profile's warehouse SQL on a real engine and write the
scores to a table, replacing it atomically.

    run_sql(profile, "postgres", "crm.accounts", "crm.icp_scores", dsn=...)   # psycopg
    run_sql(profile, "duckdb", "accounts", "icp_scores", database="wh.duckdb")

The query is `warehouse.profile_sql` for the engine's dialect: the same trait conditions, score
arithmetic, status and tier lines as the app, so the scores there equal the app's row for row (the
equality tests run it on a real PostgreSQL server). A target-mix profile solves its lines on the
engine: the engine aggregates the exact score histogram of the eligible accounts (GROUP BY score:
a few hundred rows, never the accounts), and `scoring.solve_mix_thresholds` places the lines on it
as the app does.

The target gets one row per input row: the id column (`id_column`, default the table's first
column), icp_score, icp_status, icp_tier, icp_reasons, icp_flags and icp_profile_version. It is
written to a staging table and swapped in inside one transaction (PostgreSQL and DuckDB both have
transactional DDL), so a failure leaves the previous target as it was. Every problem (server not
reachable, no such table, a trait column the table lacks, a value of the wrong type) is an
EngineError with one line naming it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlglot import exp

from .profile import Profile
from .sql import literal
from .warehouse import SqlError, _table, input_columns, profile_sql

ENGINES = ("duckdb", "postgres")
DSN_ENV = "ICP_PG_DSN"
OUTPUT_COLUMNS = ("icp_score", "icp_status", "icp_tier", "icp_reasons", "icp_flags")


class EngineError(ValueError):
    """A scoring run that cannot go ahead; the message is one line naming the problem."""


@dataclass
class RunResult:
    engine: str
    target: str
    rows: int
    thresholds: dict[str, float]
    tiers: dict[str, int]


def _one_line(exc: BaseException) -> str:
    """The error as one line: a server error's primary message (without its LINE 1 / caret context)."""
    primary = getattr(getattr(exc, "diag", None), "message_primary", None)
    text = " ".join((primary or str(exc)).split())
    return text[:300] or type(exc).__name__


class _Connection:
    """The little a run needs from a DB-API connection: execute, fetch, commit, rollback, close."""

    con: Any  # a psycopg or a DuckDB connection

    def __init__(self, engine: str, dsn: str | None, database: str | None):
        self.engine = engine
        try:
            if engine == "postgres":
                import psycopg

                dsn = dsn or os.environ.get(DSN_ENV)
                if not dsn:
                    raise EngineError(f"no PostgreSQL connection: pass --dsn or set {DSN_ENV}")
                self.con = psycopg.connect(dsn, connect_timeout=10)
            elif engine == "duckdb":
                import duckdb

                if not database:
                    raise EngineError("no DuckDB database file: pass --database")
                self.con = duckdb.connect(database)
                self.con.execute("BEGIN TRANSACTION")
            else:
                raise EngineError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
        except EngineError:
            raise
        except Exception as exc:  # the driver's own error: unreachable server, bad file, refused login
            where = "PostgreSQL" if engine == "postgres" else f"DuckDB file {database}"
            raise EngineError(f"cannot connect to {where}: {_one_line(exc)}") from None

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        cur = self.con.cursor() if self.engine == "postgres" else self.con
        cur.execute(sql)
        names = [d[0] for d in (cur.description or [])]
        return names, (cur.fetchall() if cur.description else [])

    def commit(self) -> None:
        if self.engine == "postgres":
            self.con.commit()
        else:
            self.con.execute("COMMIT")

    def rollback(self) -> None:
        try:
            if self.engine == "postgres":
                self.con.rollback()
            else:
                self.con.execute("ROLLBACK")
        except Exception:  # noqa: S110 - nothing more to undo on a broken connection
            pass

    def close(self) -> None:
        self.con.close()


def _dialect(engine: str) -> str:
    return {"postgres": "postgres", "duckdb": "duckdb", "spark": "spark"}[engine]


def _scored(profile: Profile, thresholds: dict[str, float], table: str, engine: str) -> str:
    """The scoring query: the profile's warehouse SQL over `table` for the engine's dialect."""
    return profile_sql(profile, thresholds, table=table, dialect=_dialect(engine))


def _solve_mix(con: _Connection, profile: Profile, table: str) -> dict[str, float]:
    """A target mix's A/B/C lines, solved on the engine's exact score histogram of the accounts that
    are neither Disqualified nor Insufficient data (with no lines, every other account is D)."""
    from .scoring import solve_mix_thresholds

    none = {"A": math.inf, "B": math.inf, "C": math.inf}
    sql = (f"SELECT icp_score, count(*) AS n FROM ({_scored(profile, none, table, con.engine)}) AS s "
           f"WHERE icp_tier = 'D' GROUP BY icp_score")
    _, rows = con.query(sql)
    if not rows:
        return none
    score = np.array([float(r[0]) for r in rows])
    counts = np.array([int(r[1]) for r in rows])
    return solve_mix_thresholds(score, np.ones(len(score), bool), profile.tier_rule.mix, counts)


def _check_columns(con: _Connection, profile: Profile, table: str) -> list[str]:
    """The table's columns (EngineError for a missing table or a trait column it lacks)."""
    try:
        names, _ = con.query(f"SELECT * FROM {_table(table).sql(dialect=_dialect(con.engine))} LIMIT 0")
    except SqlError:
        raise
    except Exception as exc:
        raise EngineError(f"cannot read table {table}: {_one_line(exc)}") from None
    have = {n.lower() for n in names}
    need = input_columns(profile, engagement=False)  # the run writes fit scores only
    missing = [f"{c} ({what})" for c, what in need.items() if c.lower() not in have]
    if missing:
        raise EngineError(f"table {table} lacks the column(s) the ICP's traits read: {', '.join(missing)}")
    return names


def run_sql(profile: Profile, engine: str, table: str, target: str, dsn: str | None = None,
            database: str | None = None, version_label: str = "", id_column: str | None = None) -> RunResult:
    """Score every row of `table` on `engine` and replace `target` with the scores (see module doc)."""
    try:
        target_ref, table_ref = _table(target), _table(table)
    except SqlError as exc:
        raise EngineError(str(exc)) from None
    if target_ref == table_ref:
        raise EngineError("the target table must not be the input table")
    con = _Connection(engine, dsn, database)
    try:
        names = _check_columns(con, profile, table)
        key = next((n for n in names if n.lower() == (id_column or names[0]).lower()), None)
        if key is None:
            raise EngineError(f"table {table} has no id column {id_column!r}")
        dialect = _dialect(engine)
        try:
            thresholds = (_solve_mix(con, profile, table) if profile.tier_rule.mode == "mix"
                          else {k: float(profile.tier_rule.thresholds[k]) for k in ("A", "B", "C")})
            scored = _scored(profile, thresholds, table, engine)
            key_col = exp.column(exp.to_identifier(key, quoted=True)).sql(dialect=dialect)
            select = (f"SELECT {key_col}, {', '.join(OUTPUT_COLUMNS)}, "
                      f"{literal(version_label).sql(dialect=dialect)} AS icp_profile_version FROM ({scored}) AS s")
            stage_name = target_ref.name + "_icp_staging"
            stage = target_ref.copy()
            stage.set("this", exp.to_identifier(stage_name, quoted=True))
            stage_sql, target_sql = stage.sql(dialect=dialect), target_ref.sql(dialect=dialect)
            con.query(f"DROP TABLE IF EXISTS {stage_sql}")
            con.query(f"CREATE TABLE {stage_sql} AS {select}")
            _, counts = con.query(f"SELECT icp_tier, count(*) FROM {stage_sql} GROUP BY icp_tier")
            con.query(f"DROP TABLE IF EXISTS {target_sql}")
            con.query(f"ALTER TABLE {stage_sql} RENAME TO {exp.to_identifier(target_ref.name, quoted=True).sql(dialect=dialect)}")
            con.commit()
        except EngineError:
            raise
        except Exception as exc:  # the engine refused the query: wrong types, permissions, ...
            raise EngineError(f"{engine} could not score {table}: {_one_line(exc)}") from None
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    tiers = {str(t): int(n) for t, n in counts}
    return RunResult(engine, target, sum(tiers.values()), thresholds, tiers)


# --------------------------------------------------------------------------- reading accounts from PostgreSQL

READ_CHUNK_ROWS = 50_000
READ_TIMEOUT_MS = 600_000  # a query that runs longer than ten minutes is stopped by the server


def pg_max_rows() -> int:
    """The most rows the app reads from PostgreSQL in one go ($ICP_PG_MAX_ROWS, default 2,000,000)."""
    return int(os.environ.get("ICP_PG_MAX_ROWS", "2000000"))


def postgres_dsn(secret: str | None = None) -> str | None:
    """The PostgreSQL connection string to read from: $ICP_PG_DSN, else `secret` (the app passes
    Streamlit's secrets `[postgres] dsn`), else None. Credentials only ever come from there."""
    return os.environ.get(DSN_ENV) or secret or None


def source_label(source: str) -> str:
    """How a read is named on screen and in the dataset's sidecar: the table, or "query" (never the
    DSN)."""
    return "PostgreSQL query" if _is_query(source) else f"PostgreSQL table {source.strip()}"


def _is_query(source: str) -> bool:
    return source.lstrip().lower().startswith(("select", "with", "("))


def _source_sql(source: str) -> str:
    """A table name, quoted part by part, or one read-only query (SELECT or WITH),
    checked with sqlglot to be a single query and nothing else."""
    import sqlglot

    if not _is_query(source):
        try:
            return f"SELECT * FROM {_table(source.strip()).sql(dialect='postgres')}"
        except SqlError as exc:
            raise EngineError(str(exc)) from None
    text = source.strip().rstrip(";").strip()
    try:
        parsed = sqlglot.parse(text, dialect="postgres")
    except sqlglot.errors.ParseError as exc:
        raise EngineError(f"the query does not parse: {_one_line(exc)}") from None
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
        raise EngineError("give one SELECT query (or a table name), nothing else")
    return f"SELECT * FROM ({text}) AS icp_source"


def _without_secrets(message: str, dsn: str | None) -> str:
    """A driver's message with the connection string's password (and the string itself) taken out."""
    if not dsn:
        return message
    secrets = [dsn]
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(dsn).get("password")
        if password:
            secrets.append(str(password))
    except Exception:  # noqa: S110 - an unparseable DSN: the whole string is still taken out
        pass
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def read_postgres(source: str, dest, dsn: str | None = None, max_rows: int | None = None,
                  progress=None) -> int:
    """Copy a table or the rows of one query from PostgreSQL into a Parquet file `dest` for
    `ingest.ingest_dataset`, so it goes through the same reading, cleaning and role detection as an
    uploaded file. Every value is kept as its text (numbers, dates and booleans as PostgreSQL prints
    them; NULL stays empty), streamed through a server-side cursor in chunks inside a READ ONLY
    transaction, so memory stays bounded whatever the table's size and nothing is changed on the
    server. The DSN (`dsn`, else ICP_PG_DSN) is only used to connect: it is never written anywhere
    nor part of any message. `progress(rows)` is called after each chunk. Returns the number of
    rows; EngineError (one line) for anything that goes wrong, `max_rows` exceeded included."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    query = _source_sql(source)
    what = "the query" if _is_query(source) else f"table {source.strip()}"
    dsn = dsn or os.environ.get(DSN_ENV)
    try:
        con = _Connection("postgres", dsn, None)
    except EngineError as exc:
        raise EngineError(_without_secrets(str(exc), dsn)) from None
    rows = 0
    writer = None
    try:
        try:
            with con.con.cursor() as setup:
                setup.execute("SET TRANSACTION READ ONLY")
                setup.execute(f"SET LOCAL statement_timeout = {READ_TIMEOUT_MS}")
            cur = con.con.cursor(name="icp_read")  # server-side: the rows arrive chunk by chunk
            cur.itersize = READ_CHUNK_ROWS
            cur.execute(query)
            while chunk := cur.fetchmany(READ_CHUNK_ROWS):
                if writer is None:
                    names = [d[0] for d in cur.description]
                    schema = pa.schema([(n, pa.string()) for n in names])
                    writer = pq.ParquetWriter(str(dest), schema)
                cols = list(zip(*chunk, strict=True))
                writer.write_table(pa.table([pa.array([None if v is None else str(v) for v in c], pa.string())
                                             for c in cols], schema=schema))
                rows += len(chunk)
                if max_rows is not None and rows > max_rows:
                    raise EngineError(f"{what} has more than {max_rows:,} rows: too many to read into the app")
                if progress is not None:
                    progress(rows)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(_without_secrets(f"cannot read {what}: {_one_line(exc)}", dsn)) from None
        if writer is None:
            raise EngineError(f"{what} has no rows")
    finally:
        if writer is not None:
            writer.close()
        con.rollback()
        con.close()
    return rows


# --------------------------------------------------------------------------- Apache Spark

SPARK_INPUT_VIEW = "icp_input"


def _is_path(name: str) -> bool:
    return "/" in name or name.lower().endswith((".parquet", ".csv"))


SPARK_SUBMIT = "submit"  # --spark-master value under spark-submit: its own --master decides


def spark_session(master: str = "local[*]"):
    """A SparkSession on `master` (local[*] by default; a cluster URL, e.g. spark://host:7077, runs the
    same job there; SPARK_SUBMIT keeps the master spark-submit was given)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("icp-explorer")
    if master != SPARK_SUBMIT:
        builder = (builder.master(master).config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "8"))
    return builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()


def run_spark(profile: Profile, source: str, target: str, spark=None, master: str = "local[*]",
              version_label: str = "", id_column: str | None = None) -> RunResult:
    """Score `source` (a Spark table, or a Parquet / CSV path) with the profile's Spark SQL and write
    the scores to `target`: a path gets Parquet, written beside it and swapped in by renaming
    directories (on a local or mounted file system); a table name is overwritten with saveAsTable.
    Same output columns and errors as run_sql."""
    try:
        if spark is None:
            spark = spark_session(master)
    except Exception as exc:
        raise EngineError(f"cannot start Spark on {master}: {_one_line(exc)}") from None
    try:
        if _is_path(source):
            reader = spark.read.option("header", "true").option("inferSchema", "true")
            frame = reader.csv(source) if source.lower().endswith(".csv") else spark.read.parquet(source)
        else:
            frame = spark.table(source)
        frame.createOrReplaceTempView(SPARK_INPUT_VIEW)
    except Exception as exc:
        raise EngineError(f"cannot read {source}: {_one_line(exc)}") from None
    names = frame.columns
    have = {n.lower() for n in names}
    missing = [f"{c} ({what})" for c, what in input_columns(profile, engagement=False).items() if c.lower() not in have]
    if missing:
        raise EngineError(f"{source} lacks the column(s) the ICP's traits read: {', '.join(missing)}")
    key = next((n for n in names if n.lower() == (id_column or names[0]).lower()), None)
    if key is None:
        raise EngineError(f"{source} has no id column {id_column!r}")
    try:
        if profile.tier_rule.mode == "mix":
            from .scoring import solve_mix_thresholds

            none = {"A": math.inf, "B": math.inf, "C": math.inf}
            hist = spark.sql(f"SELECT icp_score, count(*) AS n FROM ({_scored(profile, none, SPARK_INPUT_VIEW, 'spark')}) "
                             f"AS s WHERE icp_tier = 'D' GROUP BY icp_score").collect()
            thresholds = none if not hist else solve_mix_thresholds(
                np.array([float(r[0]) for r in hist]), np.ones(len(hist), bool), profile.tier_rule.mix,
                np.array([int(r[1]) for r in hist]))
        else:
            thresholds = {k: float(profile.tier_rule.thresholds[k]) for k in ("A", "B", "C")}
        key_col = exp.column(exp.to_identifier(key, quoted=True)).sql(dialect="spark")
        out = spark.sql(f"SELECT {key_col}, {', '.join(OUTPUT_COLUMNS)}, "
                        f"{literal(version_label).sql(dialect='spark')} AS icp_profile_version "
                        f"FROM ({_scored(profile, thresholds, SPARK_INPUT_VIEW, 'spark')}) AS s")
        if _is_path(target):
            _write_parquet_swap(out, target)
            written = spark.read.parquet(target)
        else:
            out.write.mode("overwrite").saveAsTable(target)
            written = spark.table(target)
        counts = written.groupBy("icp_tier").count().collect()  # read back, not scored again
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(f"spark could not score {source}: {_one_line(exc)}") from None
    tiers = {str(r[0]): int(r[1]) for r in counts}
    return RunResult("spark", target, sum(tiers.values()), thresholds, tiers)


def _write_parquet_swap(frame, target: str) -> None:
    """Parquet at `target`, written to a staging directory first and renamed into place, so a failed
    job never leaves a half-written target (the previous one stays until the new one is whole)."""
    import shutil
    from pathlib import Path

    dest = Path(target.removeprefix("file://"))
    stage, old = dest.with_name(dest.name + ".icp_staging"), dest.with_name(dest.name + ".icp_old")
    shutil.rmtree(stage, ignore_errors=True)
    frame.write.mode("overwrite").parquet(str(stage))
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    stage.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
