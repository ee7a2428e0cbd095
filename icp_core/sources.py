"""More sources per account: join further files (billing, product usage, surveys, enrichment)
onto a dataset's accounts.

A file is matched to accounts by account id, domain or name (normalised: ids and names case-
and space-insensitive; domains without scheme, `www.`, path, port and case). A one-to-many
file (subscriptions, usage events, survey responses) is rolled up per account with one
aggregate per column (sum, mean, latest, count, max; "latest" follows the file's first date
column). The new columns are appended as ordinary columns (their raw text kept, cleaned by
role), so they become traits and outcomes like any other. An enrichment file (keyed by domain)
fills blanks in columns the accounts already have, never overwriting the user's own values,
and the report says how many blanks it filled.

`preview_source` reads a file and reports the key, match rate, unmatched keys and the default
aggregates without changing anything; `add_source` applies it atomically (the dataset file is
rebuilt on a copy and moved into place).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .clean import clean_expression, install_cleaning_macros
from .ingest import IngestError, account_key_sql, mapped_account_specs, read_table, rebuild_clean_table
from .roles import ROLES, ColumnSpec, detect_roles
from .sql import quote_ident

AGGREGATES = ("sum", "mean", "latest", "count", "max")
KEY_ROLES = ("account_id", "domain", "account_name")


def domain_key_sql(expr: str) -> str:
    """A website or e-mail domain reduced to its host: scheme, www., path, port and case removed."""
    host = (f"split_part(split_part(regexp_replace(regexp_replace(lower(trim({expr})), '^[a-z][a-z0-9+.-]*://', ''), "
            f"'^[^@/]*@', ''), '/', 1), ':', 1)")
    return f"nullif(regexp_replace({host}, '^www\\.', ''), '')"


def key_sql(role: str, expr: str) -> str:
    return domain_key_sql(expr) if role == "domain" else account_key_sql(expr)


@dataclass
class SourcePreview:
    file_name: str
    rows: int
    key_role: str  # account_id | domain | account_name
    key_column: str  # the file's key column (key)
    key_header: str
    matched_rows: int
    accounts_matched: int
    unmatched_keys: list[str]
    one_to_many: bool
    columns: list[dict]  # {key, header, role, kind, aggregate, fills (enrichment: existing column key or None)}
    notes: list[str] = field(default_factory=list)

    @property
    def match_rate(self) -> float:
        return self.matched_rows / self.rows if self.rows else 0.0


def _default_aggregate(kind: str) -> str:
    return {"number": "sum", "year": "max", "boolean": "max", "churn": "max", "date": "max"}.get(kind, "latest")


def _read(con, path: Path, workdir: Path) -> tuple[list[ColumnSpec], int, str]:
    info, keys, headers = read_table(con, path, "src_raw", workdir)
    specs = detect_roles(con, "src_raw", keys, [h or k for h, k in zip(headers, keys, strict=True)])
    rows = con.execute("SELECT count(*) FROM src_raw").fetchone()[0]
    return specs, rows, info.file_name


def _account_specs(meta: dict) -> dict[str, ColumnSpec]:
    return {s.role: s for s in (ColumnSpec.from_dict(d) for d in meta["columns"]) if s.role in KEY_ROLES}


def _choose_key(con, specs: list[ColumnSpec], acc_keys: dict[str, ColumnSpec], key_column: str | None):
    """The (file spec, account key role) pair with the best match rate (or the one asked for)."""
    options = []
    for s in specs:
        if key_column and s.key != key_column:
            continue
        roles = [s.role] if s.role in KEY_ROLES else (list(KEY_ROLES) if key_column or s.kind in ("id", "text", "category")
                                                      else [])
        for role in roles:
            if role not in acc_keys:
                continue
            hit = con.execute(
                f"SELECT count(*) FILTER (WHERE k IN (SELECT {key_sql(role, quote_ident(acc_keys[role].key + '__raw'))} "
                f"FROM accounts)), count(k) FROM (SELECT {key_sql(role, quote_ident(s.key))} AS k FROM src_raw)").fetchone()
            options.append((hit[0] / max(hit[1], 1), s.role == role, s, role))
    if not options:
        raise IngestError("no column of this file matches the accounts by account id, domain or name"
                          + (f" (asked for {key_column!r})" if key_column else ""))
    options.sort(key=lambda o: (o[0], o[1]), reverse=True)
    rate, _, spec, role = options[0]
    if rate == 0:
        raise IngestError(f"no key of this file matches an account ({spec.header} vs the accounts' "
                          f"{ROLES[role].label.lower()})")
    return spec, role


def _preview(con, meta: dict, path: Path, workdir: Path, key_column: str | None, enrich: bool) -> SourcePreview:
    specs, rows, file_name = _read(con, path, workdir)
    acc = _account_specs(meta)
    key_spec, role = _choose_key(con, specs, acc, key_column)
    acc_key = key_sql(role, quote_ident(acc[role].key + "__raw"))
    src_key = key_sql(role, quote_ident(key_spec.key))
    stats = con.execute(f"""
        WITH s AS (SELECT {src_key} AS k FROM src_raw), a AS (SELECT DISTINCT {acc_key} AS k FROM accounts)
        SELECT count(*) FILTER (WHERE s.k IN (SELECT k FROM a)),
               count(DISTINCT s.k) FILTER (WHERE s.k IN (SELECT k FROM a)),
               count(s.k) > count(DISTINCT s.k)
        FROM s""").fetchone()
    unmatched = [r[0] for r in con.execute(
        f"SELECT k FROM (SELECT {src_key} AS k FROM src_raw) WHERE k IS NOT NULL AND k NOT IN "
        f"(SELECT {acc_key} FROM accounts WHERE {acc_key} IS NOT NULL) GROUP BY k ORDER BY count(*) DESC, k LIMIT 10"
    ).fetchall()]
    existing = {ColumnSpec.from_dict(d).role: ColumnSpec.from_dict(d) for d in meta["columns"]}
    cols = []
    for s in specs:
        if s.key == key_spec.key or s.role == "ignore":
            continue
        fills = None
        if enrich and ROLES[s.role].group != "generic" and s.role in existing and existing[s.role].source == "accounts":
            fills = existing[s.role].key
        cols.append({"key": s.key, "header": s.header, "role": s.role, "kind": s.kind,
                     "aggregate": _default_aggregate(s.kind), "fills": fills})
    notes = []
    if stats[2]:
        notes.append("several rows per account: values are rolled up with the aggregates shown")
    return SourcePreview(file_name, rows, role, key_spec.key, key_spec.header, int(stats[0]), int(stats[1]),
                         unmatched, bool(stats[2]), cols, notes)


def preview_source(store, dataset_id: str, path: Path, key_column: str | None = None,
                   enrich: bool = False) -> SourcePreview:
    """What joining `path` would do: key, match rate, unmatched keys, columns and aggregates."""
    meta = store.read_meta(dataset_id)
    with tempfile.TemporaryDirectory(prefix="icp_source_") as tmp, store.open_dataset(dataset_id) as con:
        install_cleaning_macros(con)
        try:
            return _preview(con, meta, Path(path), Path(tmp), key_column, enrich)
        finally:
            con.execute("DROP TABLE IF EXISTS src_raw")


def _agg_sql(agg: str, clean: str, order: str | None) -> str:
    if agg == "sum":
        return f"sum({clean})"
    if agg == "mean":
        return f"avg({clean})"
    if agg == "count":
        return f"count({clean})"
    if agg == "max":
        return f"max({clean})"
    if agg == "latest":
        # the row with the latest date; ties (same date) go to the later row in the file
        return (f"arg_max({clean}, struct_pack(d := coalesce({order}, DATE '0001-01-01'), p := src_pos))"
                if order else f"last({clean} ORDER BY src_pos)")
    raise IngestError(f"unknown aggregate {agg!r} (one of {', '.join(AGGREGATES)})")


def _source_column_specs(con, p: SourcePreview) -> tuple[dict[str, ColumnSpec], str | None]:
    """The file's columns (and key) with their roles and date formats, keyed by column key, and
    the SQL of the first date column's clean value (what "latest" follows; None without one).
    Creates src: src_raw with each row's position in the file."""
    specs = {s.key: s for s in detect_roles(con, "src_raw", [c["key"] for c in p.columns] + [p.key_column],
                                            [c["header"] for c in p.columns] + [p.key_header])}
    date_col = next((c["key"] for c in p.columns if c["kind"] == "date"), None)
    con.execute("CREATE TEMP TABLE src AS SELECT *, row_number() OVER () AS src_pos FROM src_raw")
    for c in p.columns:
        s = specs[c["key"]]
        if s.kind in ("date", "year"):
            from .clean import detect_date_formats
            s.date_formats = detect_date_formats(con, "src", s.key)
    order = (clean_expression("date", quote_ident(date_col), 1.0, specs[date_col].date_formats)
             if date_col else None)
    return specs, order


def _joined_column_role(s: ColumnSpec, agg: str, used_roles: set[str]) -> str:
    """The role of a joined column: a count is a number; a semantic role the dataset already has
    (or an account key role) falls back to the generic role of its kind. Marks the role used."""
    role = s.role
    if agg == "count":
        role = "number"
    elif ROLES[role].group != "generic" and role in used_roles | {"account_id", "account_name", "domain"}:
        role = {"number": "number", "year": "number", "date": "date", "boolean": "boolean",
                "churn": "boolean", "list": "category"}.get(s.kind, "category")
    if ROLES[role].group != "generic":
        used_roles.add(role)
    return role


def _new_column_selects(p: SourcePreview, specs: dict[str, ColumnSpec], aggs: dict[str, str], order: str | None,
                        existing: list[ColumnSpec], stem: str) -> tuple[list[str], list[ColumnSpec], list]:
    """Per file column its aggregate: (SELECT items of the new columns, their specs, (column,
    aggregate SQL) of the enrichment columns that fill an existing column instead)."""
    taken = {s.key for s in existing} | {s.key + "__raw" for s in existing}
    used_roles = {s.role for s in existing if ROLES[s.role].group != "generic"}
    selects, new_specs, fills = [], [], []
    for c in p.columns:
        s = specs[c["key"]]
        agg = aggs[c["key"]]
        clean = clean_expression(s.kind, quote_ident(s.key), s.scale, s.date_formats)
        value = _agg_sql(agg, clean, order)
        if c["fills"]:
            fills.append((c, value))
            continue
        new_key = f"{stem}_{s.key}"
        while new_key in taken:
            new_key += "_2"
        taken |= {new_key, new_key + "__raw"}
        role = _joined_column_role(s, agg, used_roles)
        header = f"{c['header']} ({stem}" + (f", {agg})" if p.one_to_many else ")")
        selects.append(f"CAST({value} AS VARCHAR) AS {quote_ident(new_key + '__raw')}")
        new_specs.append(ColumnSpec(new_key, header, role, source="accounts"))
    return selects, new_specs, fills


def _check_usable_columns(p: SourcePreview, existing: list[ColumnSpec], new_specs: list[ColumnSpec]) -> None:
    """Refuse a join that would take the dataset over MAX_CLEAN_COLUMNS cleaned columns."""
    from .ingest import _DIRECT_KINDS, MAX_CLEAN_COLUMNS
    cleaned = [x for x in existing + new_specs if x.role != "ignore" and x.kind not in _DIRECT_KINDS]
    if len(cleaned) + 1 > MAX_CLEAN_COLUMNS:
        raise IngestError(f"joining {p.file_name} would give {len(cleaned) + 1:,} usable columns; at most "
                          f"{MAX_CLEAN_COLUMNS:,} can be used. Remove columns from the file (or set some of "
                          "the dataset's columns to Ignore) and try again.")


def _fill_blanks(con, fills: list, acc_key: str) -> tuple[list[str], dict]:
    """Enrichment: per filled column, the REPLACE expression that fills the accounts' blanks (never
    their values) from src_agg, and how many blanks it fills (by header)."""
    fill_exprs, filled = [], {}
    for c, _ in fills:
        target = c["fills"]
        raw = quote_ident(target + "__raw")
        n = con.execute(f"SELECT count(*) FROM accounts a JOIN src_agg j ON {acc_key} = j.icp_join_key "
                        f"WHERE icp_nullify(a.{raw}) IS NULL AND j.{quote_ident('fill_' + c['key'])} IS NOT NULL"
                        ).fetchone()[0]
        filled[c["header"]] = {"column": target, "filled": int(n)}
        fill_exprs.append(f"CASE WHEN icp_nullify(a.{raw}) IS NULL THEN j.{quote_ident('fill_' + c['key'])} "
                          f"ELSE a.{raw} END AS {raw}")
    return fill_exprs, filled


def _replace_accounts(con, new_specs: list[ColumnSpec], fill_exprs: list[str], acc_key: str) -> None:
    """accounts := accounts (blanks filled) LEFT JOIN src_agg's new raw columns, in row order, with
    an empty clean column beside each new raw one; src_raw dropped."""
    replace = f" REPLACE ({', '.join(fill_exprs)})" if fill_exprs else ""
    new_cols = ", ".join(f"j.{quote_ident(s.key + '__raw')}" for s in new_specs)
    con.execute(f"CREATE TABLE accounts_joined AS SELECT a.*{replace}, {new_cols} FROM accounts a "
                f"LEFT JOIN src_agg j ON {acc_key} = j.icp_join_key ORDER BY a.row_id")
    # the new columns need clean counterparts for remap to rebuild from raw: placeholders
    con.execute("DROP TABLE accounts")
    con.execute("ALTER TABLE accounts_joined RENAME TO accounts")
    for s in new_specs:
        con.execute(f"ALTER TABLE accounts ADD COLUMN {quote_ident(s.key)} VARCHAR")
    con.execute("DROP TABLE IF EXISTS src_raw")


def _join_on_copy(con, meta: dict, path: Path, workdir: Path, key_column: str | None,
                  aggregates: dict[str, str] | None, enrich: bool,
                  stem: str, roles: dict[str, str] | None = None) -> tuple[SourcePreview, dict[str, str], list[ColumnSpec], dict]:
    """Join the file onto the accounts of the dataset copy open on `con` and rebuild its clean
    table; updates meta["columns"]. Returns (preview, aggregate per column, new specs, filled)."""
    install_cleaning_macros(con)
    p = _preview(con, meta, path, workdir, key_column, enrich)
    aggs = {c["key"]: (aggregates or {}).get(c["key"], c["aggregate"]) for c in p.columns}
    specs, order = _source_column_specs(con, p)
    for spec in specs.values():  # roles the caller fixes (the committee counts are numbers even when all 0 / 1)
        if roles and spec.header in roles:
            spec.role = roles[spec.header]
    acc = _account_specs(meta)
    existing = [ColumnSpec.from_dict(d) for d in meta["columns"]]
    selects, new_specs, fills = _new_column_selects(p, specs, aggs, order, existing, stem)
    _check_usable_columns(p, existing, new_specs)
    selects.append(f"CAST(count(*) AS VARCHAR) AS {quote_ident(f'{stem}_rows__raw')}")
    new_specs.append(ColumnSpec(f"{stem}_rows", f"{p.file_name} rows", "number", source="accounts"))
    for c, value in fills:
        selects.append(f"CAST({value} AS VARCHAR) AS {quote_ident('fill_' + c['key'])}")
    src_key = key_sql(p.key_role, quote_ident(p.key_column))
    con.execute(f"CREATE TEMP TABLE src_agg AS SELECT {src_key} AS icp_join_key, {', '.join(selects)} "
                f"FROM src WHERE {src_key} IS NOT NULL GROUP BY 1")
    acc_key = key_sql(p.key_role, quote_ident(acc[p.key_role].key + "__raw"))
    fill_exprs, filled = _fill_blanks(con, fills, acc_key)
    _replace_accounts(con, new_specs, fill_exprs, acc_key)
    # clean columns and quality for the whole table, on the copy: the live dataset changes
    # only by the rename in add_source, and only once everything has been built
    meta["columns"] = meta["columns"] + [s.to_dict() for s in new_specs]
    rebuild_clean_table(con, meta, mapped_account_specs(meta, [ColumnSpec.from_dict(d) for d in meta["columns"]]))
    con.execute("CHECKPOINT")
    return p, aggs, new_specs, filled


def add_source(store, dataset_id: str, path: Path, key_column: str | None = None,
               aggregates: dict[str, str] | None = None, enrich: bool = False, name: str | None = None,
               roles: dict[str, str] | None = None) -> dict:
    """Join a file onto the dataset's accounts (see module docstring). Returns the join report,
    also kept in the dataset's metadata under "joins"."""
    meta = store.read_meta(dataset_id)
    src_path = store.db_path(dataset_id)
    stem = "".join(c if c.isalnum() else "_" for c in (name or Path(path).stem).lower()).strip("_")[:24] or "source"
    # the work copy sits beside the dataset (a hidden .tmp that sweep_leftovers clears after a crash),
    # so the final os.replace is a same-folder rename even when the data folder is its own volume
    work_db = store.dir / f".{dataset_id}.join-{secrets.token_hex(4)}.tmp"
    with tempfile.TemporaryDirectory(prefix="icp_source_") as tmp:
        shutil.copyfile(src_path, work_db)
        con = duckdb.connect(str(work_db))
        try:
            p, aggs, new_specs, filled = _join_on_copy(con, meta, Path(path), Path(tmp), key_column, aggregates,
                                                       enrich, stem, roles)
        except BaseException:
            for leftover in (work_db, Path(str(work_db) + ".wal")):
                leftover.unlink(missing_ok=True)
            raise
        finally:
            con.close()
        report = {"file": p.file_name, "rows": p.rows, "key": f"{p.key_header} → {ROLES[p.key_role].label}",
                  "matched_rows": p.matched_rows, "match_rate": p.match_rate, "accounts_matched": p.accounts_matched,
                  "unmatched_keys": p.unmatched_keys, "one_to_many": p.one_to_many,
                  "columns": [s.header for s in new_specs], "filled": filled, "enrich": enrich,
                  "aggregates": {c["header"]: aggs[c["key"]] for c in p.columns if not c["fills"]}}
        meta.setdefault("joins", []).append(report)
        with store.lock(f"dataset-{dataset_id}"):  # swap the rebuilt database in, then its metadata
            os.replace(work_db, src_path)
            Path(str(work_db) + ".wal").unlink(missing_ok=True)
            store.write_meta(dataset_id, meta)
    return report
