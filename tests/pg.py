"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory, listening
only on a unix socket there (no TCP port), started and stopped by the test session. The server's
binaries come from Debian's `postgresql` package, which `make test` installs when missing."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise AssertionError("PostgreSQL server binaries not found: `make test` installs Debian's postgresql")
    return Path(found[-1]).parent


class Postgres:
    """initdb + pg_ctl start on a unix socket; `dsn` for psycopg; `stop()` removes everything."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="icppg"))  # short: a socket path has ~100 characters
        self.data, self.sock = self.dir / "data", self.dir / "sock"
        self.sock.mkdir()
        self.port = 5432  # only names the socket file (.s.PGSQL.5432) in our own directory
        as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the package's user
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.sock, "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        self.as_user = as_user
        bindir = pg_bin()
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "icp", "--no-sync",
                   "-E", "UTF8", "--locale", "C"])
        opts = f"-k {self.sock} -c listen_addresses='' -p {self.port} -c fsync=off"
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                   "-w", "-t", "60", "start"])
        self.dsn = f"host={self.sock} port={self.port} user=icp dbname=postgres"

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(self.as_user + cmd, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise AssertionError(f"{cmd[0]} failed: {done.stderr[-1500:]} {log[-1500:]}")

    def stop(self) -> None:
        subprocess.run(self.as_user + [str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                                       "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def load_frame(dsn: str, table: str, frame) -> None:
    """`frame` as a new PostgreSQL table (numbers double precision, booleans boolean, the rest text),
    through COPY."""
    import numpy as np
    import pandas as pd
    import psycopg
    from psycopg import sql

    def pg_type(s: pd.Series) -> str:
        if pd.api.types.is_bool_dtype(s):
            return "boolean"
        if pd.api.types.is_integer_dtype(s):
            return "bigint"
        if pd.api.types.is_numeric_dtype(s):
            return "double precision"
        return "text"
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(frame[c])))
                              for c in frame.columns)
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), cols))
        with cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
            for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
                copy.write_row([v.item() if isinstance(v, np.generic) else v for v in row])
