"""Reading uploads into DuckDB and building a dataset's clean accounts table.

Flow: `read_table` (`readers.read_file`: CSV/TSV/TXT via DuckDB's CSV reader, Parquet via
DuckDB, Excel as a bounded stream; header row, footer rows, sheet and encoding found or chosen)
-> raw text table -> `detect_roles` -> `apply_shape` (`shape.py`: what one row is; deals,
contacts and lines rolled up to one row per account) -> `build_accounts_table` (clean value
beside each raw value, opportunities rolled up and joined) -> `assess_quality` -> saved by
`store.DatasetStore`. `ingest_dataset` runs the whole flow and reports progress;
`preview_upload` runs it up to the shape, for the Data page's confirm step.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from .clean import clean_expression, detect_date_formats, install_cleaning_macros, number_lookup_sql
from .readers import (  # noqa: F401
    MAX_FILE_COLUMNS,
    SUPPORTED,
    IngestError,
    ReadOptions,
    SourceInfo,
    detect_encoding,
    encoding_report,
    read_file,
    sniff_format,
)
from .roles import ROLES, ColumnSpec, column_keys, detect_roles
from .shape import detect_shape, roll_up_rows
from .sql import fetch_one, quote_ident, sql_literal
from .store import sweep_temp_workdirs

Progress = Callable[[float, str], None]


def read_table(con: duckdb.DuckDBPyConnection, path: Path, table: str,
               workdir: Path, options: ReadOptions | None = None) -> tuple[SourceInfo, list[str], list[str]]:
    """Load one file into temp table `table` as text columns named by safe keys.

    Returns what was read, the column keys and the original headers.
    Raises IngestError with a user-facing message when the file cannot be used.
    """
    path = Path(path)
    info = read_file(con, path, table, workdir, options)
    fmt = info.format
    headers = [d[0] for d in con.execute(f"SELECT * FROM {quote_ident(table)} LIMIT 0").description]
    rows = fetch_one(con, f"SELECT count(*) FROM {quote_ident(table)}")[0]
    info.rows_read = rows + info.rows_rejected
    if fmt == "csv" and len(headers) == 1 and rows == 0 and not headers[0].strip():
        raise IngestError(f"{path.name} has no header row.")
    if rows == 0:
        raise IngestError(f"{path.name} has a header row but no data rows.")
    if len(headers) > MAX_FILE_COLUMNS:
        raise IngestError(f"{path.name} has {len(headers):,} columns; at most {MAX_FILE_COLUMNS:,} are read per file. "
                          "Export only the columns you need (an ICP uses tens, not thousands) and upload again.")
    keys = _unreserved_keys(column_keys(headers), headers, info)
    _rename_columns(con, table, headers, keys)
    # DuckDB names blank/duplicate headers itself (column0, name_1): show the user's header
    headers = [h if not _is_generated_name(h) else "" for h in headers]
    return info, keys, headers


def _rename_columns(con, table: str, names: list[str], keys: list[str]) -> None:
    """Rename `table`'s columns `names` to `keys` (same order)."""
    if len(names) > 200:  # wide files: one statement instead of thousands of catalog changes
        cols = ", ".join(f"{quote_ident(h)} AS {quote_ident(k)}" for h, k in zip(names, keys, strict=True))
        con.execute(f"CREATE OR REPLACE TEMP TABLE icp_renamed AS SELECT {cols} FROM {quote_ident(table)}")
        con.execute(f"DROP TABLE {quote_ident(table)}")
        con.execute(f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT * FROM icp_renamed")
        con.execute("DROP TABLE icp_renamed")
    else:
        # rename in two steps (headers may collide with other columns' keys); catalog-only, no copy
        for i, h in enumerate(names):
            con.execute(f"ALTER TABLE {quote_ident(table)} RENAME COLUMN {quote_ident(h)} TO {quote_ident(f'icp_tmp_{i}')}")
        for i, k in enumerate(keys):
            con.execute(f"ALTER TABLE {quote_ident(table)} RENAME COLUMN {quote_ident(f'icp_tmp_{i}')} TO {quote_ident(k)}")


def _force_key_role(specs: list[ColumnSpec], key: str, role: str) -> None:
    """The roll-up key takes `role` (account_id / account_name); another column holding it yields."""
    for s in specs:
        if s.key == key:
            s.role, s.date_formats, s.scale = role, [], 1.0
        elif s.role == role:
            s.role = "text" if role == "account_id" else "category"


def apply_shape(con, info: SourceInfo, specs: list[ColumnSpec], shape: str | None = None, key: str | None = None,
                with_opportunities: bool = False) -> tuple[list[ColumnSpec], list[ColumnSpec] | None, dict]:
    """Decide what one row of raw_accounts is and, for deals, contacts and lines, roll the rows up
    to one row per account (raw_accounts replaced; deals kept as raw_opportunities).

    Returns (account specs, opportunity specs or None, the shape report for the dataset's meta).
    """
    try:
        guess = detect_shape(con, "raw_accounts", specs, shape=shape, key=key)
    except ValueError as exc:
        raise IngestError(f"{info.file_name}: {exc}") from None
    report = guess.to_dict() | {"overridden": shape is not None or key is not None}
    if guess.shape == "accounts":
        # the column naming each account is its id or name, whatever else its header suggested
        roles = {s.role for s in specs}
        cand = next((c for c in guess.candidates if c["key"] == guess.key), None)
        if cand and not {"account_id", "account_name"} & roles:
            _force_key_role(specs, cand["key"], "account_id" if cand["id_like"] else "account_name")
        elif cand and cand["id_like"] and "account_id" not in roles and \
                next(s for s in specs if s.key == guess.key).role != "account_name":
            _force_key_role(specs, cand["key"], "account_id")
        return specs, None, report
    if guess.shape == "deals" and with_opportunities:
        raise IngestError(f"{info.file_name} looks like deals itself ({guess.reason}); load it alone, or choose the "
                          "shape “accounts” to use it with a separate opportunities file.")
    if guess.shape == "deals" and not any(s.role == "deal_stage" for s in specs):
        raise IngestError(f"{info.file_name}: deals need a won / lost / stage column to roll up; none was found. "
                          "Choose the shape “lines” to roll the rows up without outcomes.")
    key_spec = next(s for s in specs if s.key == guess.key)
    key_role = "account_id" if key_spec.role == "account_id" or any(
        c["key"] == guess.key and c["id_like"] for c in guess.candidates) else "account_name"
    con.execute("ALTER TABLE raw_accounts RENAME TO raw_rows")
    opp_specs = None
    if guess.shape == "deals":  # the deals themselves, kept for the opportunities roll-up
        con.execute("CREATE TABLE raw_opportunities AS SELECT * FROM raw_rows")
        opp_specs = [ColumnSpec.from_dict(s.to_dict()) for s in specs]
        _force_key_role(opp_specs, key_spec.key, key_role)
        for s in opp_specs:
            s.source = "opportunities_raw"
    names, new_headers, rollup = roll_up_rows(con, "raw_rows", "raw_accounts", specs, guess)  # drops raw_rows
    new_keys = _unreserved_keys(column_keys(new_headers), new_headers, info)
    _rename_columns(con, "raw_accounts", names, new_keys)
    account_specs = detect_roles(con, "raw_accounts", new_keys, new_headers)
    _force_key_role(account_specs, new_keys[0], key_role)
    if opp_specs:
        _yield_rollup_roles(account_specs)
    report |= rollup
    noun = {"deals": "deals", "contacts": "leads / contacts", "lines": "lines"}[guess.shape]
    info.notes.append(f"{guess.rows:,} {noun} rolled up to {guess.accounts:,} accounts by “{guess.key_header}” "
                      f"({guess.reason}).")
    if guess.rows_without_key:
        info.notes.append(f"{guess.rows_without_key:,} row(s) have no {guess.key_header} and are left out.")
    # the values that differ within accounts are the report's own list (shape.disagreements), not notes
    return account_specs, opp_specs, report


def _unreserved_keys(keys: list[str], headers: list[str], info: SourceInfo) -> list[str]:
    """Keys with the names the app derives (the roll-up's opp_* columns) given to none of the
    file's columns: such a column keeps its data and header under the key `<name>_col`, and a
    note says so. The roll-up is then always read from its own columns."""
    reserved = {key for key, _, _ in ROLLUP_COLUMNS}
    taken = set(keys)
    out = []
    for key, header in zip(keys, headers, strict=True):
        if key in reserved:
            new, n = f"{key}_col", 2
            while new in taken or new in reserved:
                new, n = f"{key}_col{n}", n + 1
            taken.add(new)
            info.notes.append(f"Column '{header}' is kept as uploaded (internal name {new}): the name {key} is "
                              "reserved for the opportunities roll-up, which is always computed from the "
                              "opportunities file.")
            key = new
        out.append(key)
    return out


def _yield_rollup_roles(specs: list[ColumnSpec]) -> None:
    """An accounts column named like a roll-up column (opp_outcome, opp_won_value, ...) does not take
    that roll-up column's role (deal stage, ARR, close date): with an opportunities file the outcome
    comes from the opportunities. It keeps a generic role; the mapping can change it."""
    rollup_roles = {key: role for key, _, role in ROLLUP_COLUMNS}
    for s in specs:
        role = rollup_roles.get(column_keys([s.header])[0]) if s.header else None
        if role and s.role == role and s.role in _ROLLUP_FALLBACK_ROLE:
            s.role = _ROLLUP_FALLBACK_ROLE[s.role]


def _is_generated_name(header: str) -> bool:
    import re

    return bool(re.fullmatch(r"column\d+", header))


# ---------------------------------------------------------------------------------------
# opportunities roll-up


def account_key_sql(expr: str) -> str:
    """Join key for account ids/names: case- and space-insensitive."""
    # spaces, soft hyphens and zero-width characters never tell two accounts apart
    return f"nullif(lower(regexp_replace(icp_nullify({expr}), '[\\s\u00ad\u200b\u200c\u200d\u2060\ufeff]+', '', 'g')), '')"


ROLLUP_COLUMNS = (
    # key, header, role when the accounts file has no column of that role
    ("opp_won_count", "Won deals", "number"),
    ("opp_lost_count", "Lost deals", "number"),
    ("opp_open_count", "Open deals", "number"),
    ("opp_win_rate", "Win rate", "number"),
    ("opp_won_value", "Won value", "arr"),
    ("opp_outcome", "Account outcome (won / lost / open)", "deal_stage"),
    ("opp_first_close_date", "First close date", "date"),
    ("opp_last_close_date", "Last close date", "close_date"),
)


# generic role for a rolled-up column whose semantic role the accounts file already fills
_ROLLUP_FALLBACK_ROLE = {"arr": "number", "deal_stage": "category", "close_date": "date"}


def rollup_sql(opp_specs: list[ColumnSpec], join_role: str) -> str:
    """SELECT rolling raw opportunities up to one row per account key."""
    by_role = {s.role: s for s in opp_specs}
    key_col = quote_ident(by_role[join_role].key)
    stage = clean_expression("stage", quote_ident(by_role["deal_stage"].key))
    value = (clean_expression("number", quote_ident(by_role["arr"].key), by_role["arr"].scale)
             if "arr" in by_role else "NULL::DOUBLE")
    close = (clean_expression("date", quote_ident(by_role["close_date"].key), 1.0,
                              by_role["close_date"].date_formats)
             if "close_date" in by_role else "NULL::DATE")
    return f"""
        SELECT account_key,
               count(*) FILTER (WHERE stage = 'won') AS opp_won_count,
               count(*) FILTER (WHERE stage = 'lost') AS opp_lost_count,
               count(*) FILTER (WHERE stage = 'open' OR stage IS NULL) AS opp_open_count,
               CASE WHEN count(*) FILTER (WHERE stage IN ('won', 'lost')) > 0
                    THEN count(*) FILTER (WHERE stage = 'won')::DOUBLE
                         / count(*) FILTER (WHERE stage IN ('won', 'lost')) END AS opp_win_rate,
               {"coalesce(sum(value) FILTER (WHERE stage = 'won'), 0)" if "arr" in by_role else "NULL::DOUBLE"}
                   AS opp_won_value,  -- no value column: unknown, not $0
               CASE WHEN count(*) FILTER (WHERE stage = 'won') > 0 THEN 'won'
                    WHEN count(*) FILTER (WHERE stage = 'open' OR stage IS NULL) > 0 THEN 'open'
                    ELSE 'lost' END AS opp_outcome,
               min(close_date) FILTER (WHERE stage IN ('won', 'lost')) AS opp_first_close_date,
               max(close_date) FILTER (WHERE stage IN ('won', 'lost')) AS opp_last_close_date
        FROM (SELECT {account_key_sql(key_col)} AS account_key, {stage} AS stage,
                     {value} AS value, {close} AS close_date
              FROM raw_opportunities)
        WHERE account_key IS NOT NULL
        GROUP BY account_key"""


def choose_join_role(account_specs: list[ColumnSpec], opp_specs: list[ColumnSpec]) -> str:
    """'account_id' when both files carry ids, else 'account_name'."""
    acc = {s.role for s in account_specs}
    opp = {s.role for s in opp_specs}
    for role in ("account_id", "account_name"):
        if role in acc and role in opp:
            return role
    missing = "an account id or name column" if not ({"account_id", "account_name"} & opp) else \
        "a matching account id or name column in the accounts file"
    raise IngestError(f"the opportunities file cannot be joined to accounts: it needs {missing}.")


def opportunity_specs_problem(opp_specs: list[ColumnSpec]) -> str | None:
    roles = {s.role for s in opp_specs}
    if "deal_stage" not in roles:
        return "the opportunities file has no deal stage / won-lost column"
    if not ({"account_id", "account_name"} & roles):
        return "the opportunities file has no account id or account name column"
    return None


# ---------------------------------------------------------------------------------------
# the clean accounts table


# kinds cleaned row by row (nearly every value distinct); all others via a dictionary
_DIRECT_KINDS = ("id", "text")
# Columns are cleaned once per distinct value and joined back, one join each; DuckDB's planner
# does not take hundreds of such joins, so a file keeps at most this many cleaned columns and the
# rest as uploaded, unused (a note says so; the mapping can swap which ones).
MAX_CLEAN_COLUMNS = 40


def _dictionary_sql(s: ColumnSpec, raw_table: str, numbers: str | None = None) -> str:
    """Distinct raw values of a column with their row count and clean value (and band flag).

    `numbers`: a table made by `_number_lookups` holding every number column's values at once."""
    counts = f"SELECT {quote_ident(s.key)} AS s, count(*) AS n FROM {quote_ident(raw_table)} GROUP BY ALL"
    if s.kind == "number":
        scale = "" if float(s.scale) == 1.0 else f" * {float(s.scale)!r}"
        lookup = (f"(SELECT * FROM {numbers} WHERE g = {sql_literal(s.key)})" if numbers
                  else f"({number_lookup_sql(counts)})")
        return (f"SELECT c.s, c.n, l.value{scale} AS v, coalesce(l.is_band, FALSE) AS is_band "
                f"FROM ({counts}) c LEFT JOIN {lookup} l ON l.key = c.s")
    return f"SELECT s, n, {clean_expression(s.kind, 's', s.scale, s.date_formats)} AS v FROM ({counts})"


def _number_lookups(con, specs: list[ColumnSpec], raw_table: str) -> str | None:
    """One table parsing the distinct values of every number column at once (each column keeps
    its own separator convention: the lookup is grouped by column), or None when there are none.
    One staged parse instead of one per column: the parser's SQL is compiled once."""
    if not specs:
        return None
    values = " UNION ALL ".join(f"SELECT DISTINCT {sql_literal(s.key)} AS g, {quote_ident(s.key)} AS s "
                                f"FROM {quote_ident(raw_table)}" for s in specs)
    con.execute(f"CREATE OR REPLACE TEMP TABLE icp_number_lookup AS {number_lookup_sql(values, group='g')}")
    return "icp_number_lookup"


def build_accounts_table(con: duckdb.DuckDBPyConnection, specs: list[ColumnSpec],
                         opp_specs: list[ColumnSpec] | None = None,
                         raw_table: str = "raw_accounts") -> tuple[list[ColumnSpec], dict | None, dict]:
    """(Re)build table `accounts` from `raw_table` (+ `raw_opportunities`).

    Each source column `k` becomes `k` (clean) beside `k__raw` (text as uploaded);
    numeric columns also get `k__band` (the band text where the value was a band).
    Columns with repeated values are cleaned once per distinct value (a dictionary
    table, kept for the quality report) and joined back; ids and free text row by row.
    Opportunities are rolled up per account and joined as `opp_*` columns.
    Returns (all column specs, roll-up report or None, {key: dictionary table}).
    """
    install_cleaning_macros(con)
    account_specs = [s for s in specs if s.source == "accounts"]
    cleaned = [s for s in account_specs if s.role != "ignore" and s.kind not in _DIRECT_KINDS]
    if len(cleaned) > MAX_CLEAN_COLUMNS:
        raise IngestError(f"{len(cleaned):,} columns are mapped to a role; at most {MAX_CLEAN_COLUMNS:,} can be used "
                          "at once. Set the ones you do not need to “Ignore”.")
    select = ["a.rowid + 1 AS row_id"]  # file order; the raw table is in that order
    join = ""
    dictionaries: dict[str, str] = {}
    numbers = _number_lookups(con, [s for s in cleaned if s.kind == "number"], raw_table)
    for i, s in enumerate(account_specs):
        raw = f"a.{quote_ident(s.key)}"
        if s.role == "ignore":
            pass
        elif s.kind in _DIRECT_KINDS:
            select.append(f"{clean_expression(s.kind, raw, s.scale, s.date_formats)} AS {quote_ident(s.key)}")
        else:
            table = f"icp_dict_{i}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {_dictionary_sql(s, raw_table, numbers)}")
            dictionaries[s.key] = table
            select.append(f"d{i}.v AS {quote_ident(s.key)}")
            if s.kind == "number":
                select.append(f"CASE WHEN d{i}.is_band THEN {raw} END AS {quote_ident(s.key + '__band')}")
            join += f" LEFT JOIN {table} d{i} ON d{i}.s = {raw}"
        select.append(f"{raw} AS {quote_ident(s.key + '__raw')}")
    report = None
    out_specs = list(account_specs)
    if opp_specs:
        join_role = choose_join_role(account_specs, opp_specs)
        acc_key = next(s for s in account_specs if s.role == join_role)
        con.execute(f"CREATE OR REPLACE TEMP TABLE icp_rollup AS {rollup_sql(opp_specs, join_role)}")
        taken = {s.role for s in account_specs}
        for key, header, role in ROLLUP_COLUMNS:
            select.append(f"coalesce(r.{key}, 0) AS {key}" if key.endswith("_count") else f"r.{key}")
            if role in taken:  # the accounts file has its own column of that role
                role = _ROLLUP_FALLBACK_ROLE.get(role, role)
            taken.add(role)
            out_specs.append(ColumnSpec(key=key, header=header, role=role, source="opportunities"))
        join += (f" LEFT JOIN icp_rollup r ON r.account_key = "
                f"{account_key_sql('a.' + quote_ident(acc_key.key))}")
        report = _rollup_report(con, opp_specs, join_role, acc_key)
    con.execute("SET preserve_insertion_order = false")  # parallel write; row_id keeps the order
    create = f"CREATE OR REPLACE TABLE accounts AS SELECT {', '.join(select)} FROM {quote_ident(raw_table)} a{join}"
    try:
        con.execute(create)
    except duckdb.OutOfMemoryException:
        # DuckDB reserves memory per column segment and join: a wide file (300 columns, 40 joins)
        # reached the 640 MB limit on 20 rows while using ~300 MB. Once more with twice the room.
        # One thread as well: each thread reserves its own buffers per column (DuckDB's advice).
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        con.execute(f"SET memory_limit = '{2 * ingest_memory_limit_mb()}MB'")
        con.execute("SET threads = 1")
        try:
            con.execute(create)
        finally:
            con.execute(f"SET memory_limit = '{limit}'")
            con.execute(f"SET threads = {int(threads)}")
    return out_specs, report, dictionaries


def _rollup_report(con, opp_specs, join_role, acc_key) -> dict:
    opp_key = next(s for s in opp_specs if s.role == join_role)
    okey = account_key_sql(quote_ident(opp_key.key))
    akey = account_key_sql(quote_ident(acc_key.key))
    total, no_account = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {okey} IS NULL) FROM raw_opportunities"
    ).fetchone()
    matched_accounts = con.execute(f"""
        SELECT count(DISTINCT r.account_key)
        FROM icp_rollup r JOIN (SELECT DISTINCT {akey} AS k FROM raw_accounts) a ON a.k = r.account_key
    """).fetchone()[0]
    # opportunity keys with no account, once: counts and the most frequent examples come from it
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE icp_unmatched AS
        SELECT any_value(icp_nullify({quote_ident(opp_key.key)})) AS example, count(*) AS n
        FROM raw_opportunities
        WHERE {okey} IS NOT NULL AND {okey} NOT IN (SELECT {akey} FROM raw_accounts WHERE {akey} IS NOT NULL)
        GROUP BY {okey}""")
    unmatched = con.execute("SELECT example, n FROM icp_unmatched ORDER BY n DESC LIMIT 10").fetchall()
    unmatched_keys = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM icp_unmatched").fetchone()
    con.execute("DROP TABLE icp_unmatched")
    accounts_total = con.execute("SELECT count(*) FROM raw_accounts").fetchone()[0]
    return {
        "join_on": join_role, "accounts_column": acc_key.header, "opportunities_column": opp_key.header,
        "opportunity_rows": int(total), "rows_without_account": int(no_account),
        "accounts_with_opportunities": int(matched_accounts), "accounts_total": int(accounts_total),
        "unmatched_keys": int(unmatched_keys[0]), "unmatched_rows": int(unmatched_keys[1]),
        "unmatched_examples": [{"account": e, "rows": int(n)} for e, n in unmatched],
        "stage_column": next(s.header for s in opp_specs if s.role == "deal_stage"),
        "value_column": next((s.header for s in opp_specs if s.role == "arr"), None),
    }


# ---------------------------------------------------------------------------------------
# the whole flow


@dataclass
class IngestResult:
    dataset_id: str
    meta: dict


def _noop(fraction: float, message: str) -> None:  # pragma: no cover - default callback
    pass


def _check_upload_sizes(uploads, max_mb: int | None) -> None:
    """Refuse an upload (path, name shown) over the size limit before anything is read."""
    limit = default_upload_limit_mb() if max_mb is None else max_mb
    for path, shown in uploads:
        if path is not None and Path(path).is_file():
            problem = file_size_problem(Path(path).stat().st_size, limit)
            if problem:
                raise IngestError(f"{shown or Path(path).name}: {problem} (ICP_UPLOAD_LIMIT_MB sets the limit)")


def _load_opportunities(con, path: Path, shown: str | None, workdir: Path, specs: list[ColumnSpec],
                        progress: Progress) -> tuple[SourceInfo, list[ColumnSpec]]:
    """Read the opportunities file into raw_opportunities and detect its roles; refuse it when it
    cannot be rolled up (no account key or stage). The accounts file's own roll-up roles give way."""
    progress(0.45, f"Reading {shown or path.name}")
    opp_info, okeys, oheaders = read_table(con, path, "raw_opp_t", workdir)
    if shown:
        opp_info.file_name = shown
    con.execute("CREATE TABLE raw_opportunities AS SELECT * FROM raw_opp_t")
    con.execute("DROP TABLE raw_opp_t")
    opp_specs = detect_roles(con, "raw_opportunities", okeys, oheaders)
    for s in opp_specs:
        s.source = "opportunities_raw"
    problem = opportunity_specs_problem(opp_specs)
    if problem:
        raise IngestError(problem + ".")
    _yield_rollup_roles(specs)
    return opp_info, opp_specs


def ingest_dataset(store, accounts: Path, opportunities: Path | None = None,
                   name: str | None = None, progress: Progress = _noop,
                   display_names: tuple[str | None, str | None] = (None, None),
                   max_mb: int | None = None, shape: str | None = None, key: str | None = None,
                   read_options: ReadOptions | None = None, source_format: str | None = None) -> IngestResult:
    """Load an accounts file (and optionally an opportunities file) as a new dataset.

    `store` is a `store.DatasetStore`. The database is written to a temporary file and
    moved into place only when complete, so a failed or interrupted ingest leaves nothing.
    `display_names` overrides the file names shown (uploads arrive as temp files).
    `shape` / `key` override what one row of the accounts file is and the column naming its
    account (see `shape.detect_shape`); `read_options` the encoding, sheet and header row;
    `source_format` what the source is called when it is not the file's format (e.g. "postgresql":
    a table read into a Parquet file first).
    """
    from .quality import assess_quality

    _check_upload_sizes(((accounts, display_names[0]), (opportunities, display_names[1])), max_mb)
    sweep_temp_workdirs()  # spill folders of ingests killed earlier
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="icp_ingest_") as tmp:
        workdir = Path(tmp)
        with store.new_dataset_file() as (dataset_id, db_path):
            con = duckdb.connect(str(db_path))
            try:
                con.execute(f"SET temp_directory = '{workdir.as_posix()}'")
                # bounded memory: DuckDB spills to the temp folder beyond this
                con.execute(f"SET memory_limit = '{ingest_memory_limit_mb()}MB'")
                install_cleaning_macros(con)
                progress(0.05, f"Reading {display_names[0] or Path(accounts).name}")
                info, keys, headers = read_table(con, Path(accounts), "raw_accounts", workdir, read_options)
                if display_names[0]:
                    info.file_name = display_names[0]
                info.format = source_format or info.format
                progress(0.3, "Detecting column roles")
                specs = detect_roles(con, "raw_accounts", keys, headers)
                progress(0.35, "Detecting what one row is")
                specs, shape_opp_specs, shape_report = apply_shape(
                    con, info, specs, shape=shape, key=key,
                    with_opportunities=opportunities is not None)
                _limit_clean_columns(con, specs, info)
                opp_specs = shape_opp_specs
                opp_info = None
                if opportunities is not None:
                    opp_info, opp_specs = _load_opportunities(con, Path(opportunities), display_names[1],
                                                              workdir, specs, progress)
                progress(0.6, "Cleaning values")
                all_specs, rollup, dictionaries = build_accounts_table(con, specs, opp_specs)
                progress(0.85, "Checking data quality")
                quality = assess_quality(con, all_specs, info, rollup, opp_info, dictionaries)
                quality["encoding"] = encoding_report(info)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            meta = {
                "id": dataset_id,
                "name": (name or Path(display_names[0] or accounts).stem)[:120],
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "rows": quality["rows_loaded"],
                "columns": [s.to_dict() for s in all_specs],
                "opportunity_columns": [s.to_dict() for s in (opp_specs or [])],
                "shape": shape_report | {"rows_read": info.rows_read, "rows_skipped": info.rows_skipped,
                                         "accounts": quality["rows_loaded"]},
                "quality": quality,
                "load_seconds": round(time.perf_counter() - t0, 3),
            }
            store.write_meta(dataset_id, meta)
    progress(1.0, "Done")
    return IngestResult(dataset_id=dataset_id, meta=meta)


@dataclass
class UploadPreview:
    """What a file will load as, before it is loaded: for the Data page's confirm step."""

    shape: dict  # ShapeGuess.to_dict()
    source: dict  # SourceInfo as a dict: format, encoding, sheet, sheets, header_row, rows_skipped, notes
    headers: list[str]
    keys: list[str]
    roles: dict[str, str]  # column key -> detected role


def preview_upload(path: Path, read_options: ReadOptions | None = None, shape: str | None = None,
                   key: str | None = None, display_name: str | None = None) -> UploadPreview:
    """Read `path` into a throwaway database and say what one row is (`detect_shape`), with the
    same reader and limits as `ingest_dataset`. Raises IngestError as the load would."""
    from dataclasses import asdict

    with tempfile.TemporaryDirectory(prefix="icp_preview_") as tmp:
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{Path(tmp).as_posix()}'")
            con.execute(f"SET memory_limit = '{ingest_memory_limit_mb()}MB'")
            install_cleaning_macros(con)
            info, keys, headers = read_table(con, Path(path), "raw_accounts", Path(tmp), read_options)
            if display_name:
                info.file_name = display_name
            specs = detect_roles(con, "raw_accounts", keys, headers)
            try:
                guess = detect_shape(con, "raw_accounts", specs, shape=shape, key=key)
            except ValueError as exc:
                raise IngestError(f"{info.file_name}: {exc}") from None
        finally:
            con.close()
    return UploadPreview(shape=guess.to_dict(), source=asdict(info), headers=headers, keys=keys,
                         roles={s.key: s.role for s in specs})


def _limit_clean_columns(con, specs: list[ColumnSpec], info: SourceInfo) -> None:
    """At most MAX_CLEAN_COLUMNS columns are cleaned. Columns empty in every row never take a
    slot (they become Ignore); beyond the limit, semantic roles first, then the fullest columns."""
    mapped = [s for s in specs if s.role != "ignore"]
    if not mapped:
        return
    # filled rows per column, counted on a sample first: only a column with nothing in the sample
    # is checked in full (on its distinct values: a column of placeholders is empty too)
    sample = con.execute("SELECT " + ", ".join(f"count(icp_nullify({quote_ident(s.key)}))" for s in mapped)
                         + " FROM (SELECT * FROM raw_accounts LIMIT 20000)").fetchall()[0]
    fill = {s.key: n for s, n in zip(mapped, sample, strict=True)}
    unsure = [s for s in mapped if fill[s.key] == 0]
    if unsure:
        full = con.execute("SELECT " + ", ".join(
            f"len(list_filter(list(DISTINCT {quote_ident(s.key)}), lambda x: icp_nullify(x) IS NOT NULL))"
            for s in unsure) + " FROM raw_accounts").fetchall()[0]
        fill |= {s.key: n for s, n in zip(unsure, full, strict=True)}
    empty = [s for s in mapped if fill[s.key] == 0]
    for s in empty:  # kept as uploaded; the mapping can still give one a role
        s.role = "ignore"
    if empty:
        names = ", ".join(f"'{s.header}'" for s in empty[:8]) + (" …" if len(empty) > 8 else "")
        info.notes.append(f"{len(empty):,} column(s) are empty in every row and are not used: {names}.")
    used = [s for s in specs if s.role != "ignore" and s.kind not in _DIRECT_KINDS]
    if len(used) <= MAX_CLEAN_COLUMNS:
        return
    ranked = sorted(used, key=lambda s: (ROLES[s.role].group == "generic", -fill[s.key]))
    dropped = ranked[MAX_CLEAN_COLUMNS:]
    for s in dropped:
        s.role = "ignore"
    names = ", ".join(f"'{s.header}'" for s in dropped[:8]) + (" …" if len(dropped) > 8 else "")
    info.notes.append(f"{info.file_name} has {len(used):,} columns with data to clean: {MAX_CLEAN_COLUMNS:,} are "
                      f"cleaned and usable as traits (named roles first, then the fullest); the other "
                      f"{len(dropped):,} are kept as uploaded but not used: {names} (Column mapping: set unused "
                      "columns to Ignore and give the ones you need a role).")


def remap_dataset(store, dataset_id: str, specs: list[ColumnSpec]) -> dict:
    """Apply an edited column mapping: rebuild the clean table and the quality report.

    The rebuild runs in one DuckDB transaction, so a failure leaves the dataset as it was.
    """
    meta = store.read_meta(dataset_id)
    account_specs = mapped_account_specs(meta, specs)
    with store.open_dataset(dataset_id, write=True) as con:
        rebuild_clean_table(con, meta, account_specs)
    store.write_meta(dataset_id, meta)
    return meta


def mapped_account_specs(meta: dict, specs: list[ColumnSpec]) -> list[ColumnSpec]:
    """The dataset's account columns (from meta) with the roles, scales and date formats of
    `specs`; refuses unknown roles and a semantic role given to two columns."""
    by_key = {s.key: s for s in specs}
    account_specs = []
    for d in meta["columns"]:
        old = ColumnSpec.from_dict(d)
        if old.source != "accounts":
            continue
        new = by_key.get(old.key, old)
        if new.role not in ROLES:
            raise IngestError(f"unknown role {new.role!r} for column {old.header!r}.")
        account_specs.append(ColumnSpec(key=old.key, header=old.header, role=new.role,
                                        scale=float(new.scale or 1.0), date_formats=new.date_formats,
                                        source="accounts"))
    semantic = [s.role for s in account_specs if ROLES[s.role].group != "generic"]
    dupes = sorted({r for r in semantic if semantic.count(r) > 1})
    if dupes:
        raise IngestError("each role can be given to one column only: " + ", ".join(ROLES[r].label for r in dupes) + ".")
    return account_specs


def rebuild_clean_table(con: duckdb.DuckDBPyConnection, meta: dict, account_specs: list[ColumnSpec]) -> None:
    """Rebuild table `accounts` of an open dataset from its raw columns under `account_specs`, in
    one transaction, and update meta's columns and quality report (the caller writes meta)."""
    from .quality import assess_quality

    opp_specs = [ColumnSpec.from_dict(d) for d in meta.get("opportunity_columns", [])] or None
    install_cleaning_macros(con)
    raw_cols = ", ".join(f"{quote_ident(s.key + '__raw')} AS {quote_ident(s.key)}" for s in account_specs)
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_accounts AS SELECT {raw_cols} FROM accounts ORDER BY row_id")
    for s in account_specs:
        if s.kind in ("date", "year") and not s.date_formats:
            s.date_formats = detect_date_formats(con, "raw_accounts", s.key)
    con.execute("BEGIN TRANSACTION")
    try:
        all_specs, rollup, dictionaries = build_accounts_table(con, account_specs, opp_specs)
        info = _source_info_from_meta(meta)
        quality = assess_quality(con, all_specs, info, rollup,
                                 _source_info_from_meta(meta, "opportunities"), dictionaries)
        quality["encoding"] = encoding_report(info)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    meta["columns"] = [s.to_dict() for s in all_specs]
    meta["quality"] = quality


def _source_info_from_meta(meta: dict, which: str = "accounts") -> SourceInfo | None:
    q = meta["quality"]
    src = q.get("source") if which == "accounts" else q.get("opportunities_source")
    if not src:
        return None
    return SourceInfo(**{k: src[k] for k in SourceInfo.__dataclass_fields__ if k in src})


MB = 1_000_000  # sizes are stated in MB of 10^6 bytes, as Streamlit's uploader shows them (outside Windows)


def upload_limit_bytes() -> int:
    """The one per-file size limit, in bytes: $ICP_UPLOAD_LIMIT_MB MB of 10^6 bytes (default 200,
    i.e. 200,000,000 bytes). The app, its uploader and the CLI all refuse above this number."""
    return default_upload_limit_mb() * MB


def file_size_problem(size_bytes: int, limit_mb: int | None = None) -> str | None:
    """A message, in exact units, when a file is over the limit (`limit_mb` MB of 10^6 bytes)."""
    limit = upload_limit_bytes() if limit_mb is None else int(limit_mb) * MB
    if size_bytes > limit:
        return (f"the file is {size_bytes:,} bytes ({size_bytes / MB:,.1f} MB); "
                f"the limit is {limit:,} bytes ({limit // MB:,} MB).")
    return None


def ingest_memory_limit_mb() -> int:
    """DuckDB's memory cap while loading a file ($ICP_INGEST_MEMORY_MB, default 640)."""
    return int(os.environ.get("ICP_INGEST_MEMORY_MB", "640"))


def default_upload_limit_mb() -> int:
    """$ICP_UPLOAD_LIMIT_MB (default 200), in MB of 10^6 bytes: see `upload_limit_bytes`."""
    return int(os.environ.get("ICP_UPLOAD_LIMIT_MB", "200"))


SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLE_NAME = "Sample: 3,000 B2B accounts + deals"


def ensure_sample_dataset(root: Path | None = None) -> str:
    """The id of the bundled sample dataset, loading it on first use (once per data dir)."""
    from .store import SAMPLE_WORKSPACE, DatasetStore

    store = DatasetStore(root, SAMPLE_WORKSPACE)
    with store.lock("sample"):
        datasets, _problems = store.list_datasets()
        if datasets:
            return datasets[0]["id"]
        result = ingest_dataset(store, SAMPLE_DIR / "accounts.csv", SAMPLE_DIR / "opportunities.csv",
                                name=SAMPLE_NAME)
        # its activity (engagement) and people (buying committee), joined as a user would (issue 17)
        from .personas import add_contacts
        from .sources import add_source

        add_source(store, result.dataset_id, SAMPLE_DIR / "activity.csv", name="activity")
        add_contacts(store, result.dataset_id, SAMPLE_DIR / "contacts.csv")
        return result.dataset_id
