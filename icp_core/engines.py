"""Score where the data lives (issue 19): run a profile's (or an ICP set's) warehouse SQL on a real
engine and write the scores to a table, replacing it atomically.

    run_sql(profile, "postgres", "crm.accounts", "crm.icp_scores", dsn=...)   # psycopg
    run_sql(profile, "duckdb", "accounts", "icp_scores", database="wh.duckdb")
    run_spark(icp_set, "s3://lake/accounts.parquet", "s3://lake/icp_scores")  # pyspark

The query is `warehouse.profile_sql` (`warehouse.set_sql` for a set) in the engine's dialect: the
same trait conditions, score arithmetic, status and tier lines as the app, so the scores there
equal the app's row for row (the equality tests run it on a real PostgreSQL server and on Spark). A
target-mix ICP solves its lines on the engine (`_tier_lines`): the engine aggregates the exact score
histogram, and `scoring.solve_mix_thresholds` places the lines on it as the app does.

The target gets one row per input row: the id column (`id_column`, default the table's first
column), icp_score, icp_status, icp_tier, icp_reasons, icp_flags and icp_profile_version; a set also
writes icp_best_fit (the best-fit ICP's name, or "none"; the unsuffixed columns are that ICP's) and
every ICP's columns suffixed _0, _1, ... in set order. It is written to a staging table and swapped
in inside one transaction (PostgreSQL and DuckDB both have transactional DDL), so a failure leaves
the previous target as it was. Every problem (server not reachable, no such table, a trait column
the table lacks, a value of the wrong type) is an EngineError with one line naming it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlglot import exp

from .icpset import IcpSet
from .profile import Profile
from .sql import literal
from .warehouse import SqlError, _table, input_columns, profile_sql, set_sql

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
    lines: list[dict[str, float]]  # each ICP's A/B/C lines (set order; one for a profile)
    tiers: dict[str, int]  # rows per icp_tier (the best-fit ICP's tier for a set)
    best_fit: dict[str, int] | None = None  # a set: rows per icp_best_fit

    @property
    def thresholds(self) -> dict[str, float]:
        """The lines of the first (for a profile, the only) ICP."""
        return self.lines[0]


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
        self.dsn = dsn = (dsn or os.environ.get(DSN_ENV)) if engine == "postgres" else None  # kept to scrub messages
        try:
            if engine == "postgres":
                import psycopg

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
            raise EngineError(_without_secrets(f"cannot connect to {where}: {_one_line(exc)}", dsn)) from None

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


NO_LINES = {"A": math.inf, "B": math.inf, "C": math.inf}


def _members(icps: Profile | IcpSet) -> tuple[list[str], list[Profile]]:
    """(names, profiles) of a profile (a set of one) or of an ICP set."""
    return ([icps.name], [icps]) if isinstance(icps, Profile) else (list(icps.names), list(icps.profiles))


def _tier_lines(profiles: list[Profile], table: str, dialect: str, fetch: Callable[[str], list]) -> list[dict[str, float]]:
    """Each ICP's A/B/C lines: its fixed thresholds, or its target mix solved on the engine's exact
    score histogram of the accounts that are neither Disqualified nor Insufficient data (GROUP BY
    score: a few hundred rows, never the accounts) with `scoring.solve_mix_thresholds`, as the app
    solves them. `fetch(sql)` runs a query on the engine and returns its rows."""
    from .scoring import solve_mix_thresholds

    lines = []
    for p in profiles:
        if p.tier_rule.mode != "mix":
            lines.append({k: float(p.tier_rule.thresholds[k]) for k in ("A", "B", "C")})
            continue
        rows = fetch(f"SELECT icp_score, count(*) AS n FROM ({profile_sql(p, NO_LINES, table, dialect)}) AS s "
                     f"WHERE icp_tier = 'D' GROUP BY icp_score")
        if not rows:  # with no lines, every other account is D
            lines.append(dict(NO_LINES))
            continue
        score = np.array([float(r[0]) for r in rows])
        counts = np.array([int(r[1]) for r in rows])
        lines.append(solve_mix_thresholds(score, np.ones(len(score), bool), p.tier_rule.mix, counts))
    return lines


def _output_columns(names: list[str]) -> list[str]:
    """The score columns a run writes after the id: a profile's, or a set's best fit and every ICP's."""
    if len(names) == 1:
        return list(OUTPUT_COLUMNS)
    return ["icp_best_fit", *OUTPUT_COLUMNS,
            *[f"{c}_{i}" for i in range(len(names)) for c in OUTPUT_COLUMNS]]


def _scores_select(icps: Profile | IcpSet, lines: list[dict[str, float]], table: str, dialect: str,
                   key: str, version_label: str) -> str:
    """The SELECT a run writes: the id column, the score columns and icp_profile_version, over the
    profile's warehouse SQL (or the set's, with its best fit) for `dialect`."""
    names, profiles = _members(icps)
    scored = (profile_sql(profiles[0], lines[0], table=table, dialect=dialect) if len(profiles) == 1
              else set_sql(names, profiles, lines, table=table, dialect=dialect))
    key_col = exp.column(exp.to_identifier(key, quoted=True)).sql(dialect=dialect)
    return (f"SELECT {key_col}, {', '.join(_output_columns(names))}, "
            f"{literal(version_label).sql(dialect=dialect)} AS icp_profile_version FROM ({scored}) AS s")


def _missing_columns(icps: Profile | IcpSet, have: list[str]) -> list[str]:
    """The trait columns (with what they hold) that every ICP reads and `have` lacks (any case)."""
    lower = {n.lower() for n in have}
    need: dict[str, str] = {}
    for p in _members(icps)[1]:
        need |= {c: k for c, k in input_columns(p, engagement=False).items() if c not in need}  # fit scores only
    return [f"{c} ({what})" for c, what in need.items() if c.lower() not in lower]


def _key_column(names: list[str], id_column: str | None, where: str) -> str:
    key = next((n for n in names if n.lower() == (id_column or names[0]).lower()), None)
    if key is None:
        raise EngineError(f"{where} has no id column {id_column!r}")
    return key


def _check_columns(con: _Connection, icps: Profile | IcpSet, table: str) -> list[str]:
    """The table's columns (EngineError for a missing table or a trait column it lacks)."""
    try:
        names, _ = con.query(f"SELECT * FROM {_table(table).sql(dialect=_dialect(con.engine))} LIMIT 0")
    except SqlError:
        raise
    except Exception as exc:
        raise EngineError(f"cannot read table {table}: {_one_line(exc)}") from None
    if missing := _missing_columns(icps, names):
        raise EngineError(f"table {table} lacks the column(s) the ICP's traits read: {', '.join(missing)}")
    return names


def run_sql(icps: Profile | IcpSet, engine: str, table: str, target: str, dsn: str | None = None,
            database: str | None = None, version_label: str = "", id_column: str | None = None) -> RunResult:
    """Score every row of `table` on `engine` with a profile or an ICP set and replace `target` with
    the scores (see module doc)."""
    try:
        target_ref, table_ref = _table(target), _table(table)
    except SqlError as exc:
        raise EngineError(str(exc)) from None
    if target_ref == table_ref:
        raise EngineError("the target table must not be the input table")
    names, profiles = _members(icps)
    con = _Connection(engine, dsn, database)
    try:
        key = _key_column(_check_columns(con, icps, table), id_column, f"table {table}")
        dialect = _dialect(engine)
        try:
            lines = _tier_lines(profiles, table, dialect, lambda sql: con.query(sql)[1])
            select = _scores_select(icps, lines, table, dialect, key, version_label)
            stage_name = target_ref.name + "_icp_staging"
            stage = target_ref.copy()
            stage.set("this", exp.to_identifier(stage_name, quoted=True))
            stage_sql, target_sql = stage.sql(dialect=dialect), target_ref.sql(dialect=dialect)
            con.query(f"DROP TABLE IF EXISTS {stage_sql}")
            con.query(f"CREATE TABLE {stage_sql} AS {select}")
            _, counts = con.query(f"SELECT icp_tier, count(*) FROM {stage_sql} GROUP BY icp_tier")
            best = (con.query(f"SELECT icp_best_fit, count(*) FROM {stage_sql} GROUP BY icp_best_fit")[1]
                    if len(names) > 1 else None)
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
    return RunResult(engine, target, sum(tiers.values()), lines, tiers,
                     {str(b): int(n) for b, n in best} if best is not None else None)


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


ANONYMOUS_ENV = "ICP_PG_ANONYMOUS"


def pg_open_to(signed_in: bool) -> bool:
    """Whether the app offers reading from its PostgreSQL connection to this session: to a signed-in
    user, or to anyone when the server says it is private to its users ($ICP_PG_ANONYMOUS=1, e.g. a
    laptop). A server without sign-in would otherwise hand its warehouse to whoever opens the URL."""
    return signed_in or os.environ.get(ANONYMOUS_ENV) == "1"


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
    con = _Connection("postgres", dsn, None)
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
            raise EngineError(_without_secrets(f"cannot read {what}: {_one_line(exc)}", con.dsn)) from None
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


def run_spark(icps: Profile | IcpSet, source: str, target: str, spark=None, master: str = "local[*]",
              version_label: str = "", id_column: str | None = None) -> RunResult:
    """Score `source` (a Spark table, or a Parquet / CSV path) with a profile's or an ICP set's Spark
    SQL and write the scores to `target`: a path gets Parquet, written beside it and swapped in by
    renaming directories (on a local or mounted file system); a table name is overwritten with
    saveAsTable. Same output columns and errors as run_sql."""
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
    if missing := _missing_columns(icps, frame.columns):
        raise EngineError(f"{source} lacks the column(s) the ICP's traits read: {', '.join(missing)}")
    key = _key_column(frame.columns, id_column, source)
    names, profiles = _members(icps)
    try:
        lines = _tier_lines(profiles, SPARK_INPUT_VIEW, "spark", lambda sql: [tuple(r) for r in spark.sql(sql).collect()])
        out = spark.sql(_scores_select(icps, lines, SPARK_INPUT_VIEW, "spark", key, version_label))
        if _is_path(target):
            _write_parquet_swap(out, target)
            written = spark.read.parquet(target)
        else:
            out.write.mode("overwrite").saveAsTable(target)
            written = spark.table(target)
        counts = written.groupBy("icp_tier").count().collect()  # read back, not scored again
        best = written.groupBy("icp_best_fit").count().collect() if len(names) > 1 else None
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(f"spark could not score {source}: {_one_line(exc)}") from None
    tiers = {str(r[0]): int(r[1]) for r in counts}
    return RunResult("spark", target, sum(tiers.values()), lines, tiers,
                     {str(r[0]): int(r[1]) for r in best} if best is not None else None)


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
