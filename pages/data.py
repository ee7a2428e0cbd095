"""Data page: upload accounts (+ opportunities), edit the column mapping, read the quality panel."""

import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from icp_core.engines import (
    ANONYMOUS_ENV,
    EngineError,
    pg_max_rows,
    pg_open_to,
    postgres_dsn,
    read_postgres,
    source_label,
)
from icp_core.formatting import count, pct
from icp_core.ingest import IngestError, default_upload_limit_mb, file_size_problem, ingest_dataset, remap_dataset
from icp_core.readers import FILE_TYPES, ReadOptions
from icp_core.roles import ROLES, ColumnSpec
from icp_core.shape import SHAPE_LABELS, SHAPES
from icp_core.sources import AGGREGATES, add_source
from icp_core.store import SAMPLE_WORKSPACE, DatasetNotFound, DatasetStore, data_dir, read_accounts
from ui.cached import source_preview, upload_preview
from ui.state import app_state, choose_dataset, escape_markdown, require_app

SCALES = {1.0: "× 1", 1e3: "× 1,000 (thousands)", 1e6: "× 1,000,000 (millions)", 1e9: "× 1,000,000,000 (billions)"}

require_app()
root = data_dir()
own_store = DatasetStore(root, app_state().workspace)
limit_mb = default_upload_limit_mb()
LOAD_WAITS_FOR_UPLOAD_S = 20  # a Load click with no file yet waits this long for one to arrive

st.title("Data")
st.caption("Load a CRM export: accounts, and optionally the opportunities/deals report to roll up to accounts.")


def show_sources(store, dataset_id: str, meta: dict, read_only: bool) -> None:
    """Further files joined onto the accounts: what was joined, and a form to add one."""
    for j in meta.get("joins", []):
        with st.container(border=True):
            st.markdown(f"**{escape_markdown(j['file'])}** joined on {escape_markdown(j['key'])}" + (" · rolled up per account" if j["one_to_many"] else "")
                        + (" · enrichment" if j.get("enrich") else ""))
            c1, c2, c3 = st.columns(3)
            c1.metric("Rows matched", pct(j["match_rate"]), help=f"{count(j['matched_rows'])} of {count(j['rows'])} rows")
            c2.metric("Accounts matched", f"{j['accounts_matched']:,}")
            c3.metric("New columns", f"{len(j['columns']):,}")
            for header, f in j.get("filled", {}).items():
                st.caption(f"Filled {f['filled']:,} blank values of “{escape_markdown(header)}” (existing values kept).")
            if j["unmatched_keys"]:
                st.caption("Unmatched keys, e.g.: " + escape_markdown(", ".join(j["unmatched_keys"][:10])))
    if read_only:
        st.info("The sample is shared and read-only. Upload your own dataset to join more files to it.")
        return
    st.markdown("Add billing, product usage, survey or enrichment files. Each is matched to accounts by account id, "
                "domain or name; files with several rows per account are rolled up with the aggregate you choose.")
    n = st.session_state.setdefault("data.source_n", 0)  # a new uploader after each join clears it
    up = st.file_uploader("File to join", type=FILE_TYPES, key=f"data.source_file.{n}", max_upload_size=limit_mb)
    enrich = st.checkbox("Enrichment (keyed by domain): fill blanks in my columns, never overwrite them",
                         key="data.source_enrich")
    if up is None:
        return
    with tempfile.TemporaryDirectory(prefix="icp_join_") as tmp:
        path = Path(tmp) / ("source" + Path(up.name).suffix.lower())
        path.write_bytes(up.getbuffer())
        try:
            preview = source_preview(str(store.root), store.workspace, dataset_id,
                                     store.meta_path(dataset_id).stat().st_mtime_ns, up.file_id, enrich, str(path))
        except IngestError as exc:
            st.error(escape_markdown(f"Cannot join {up.name}: {exc}"))
            return
        p1, p2, p3 = st.columns(3)
        p1.metric("Key", f"{preview.key_header} → {ROLES[preview.key_role].label}")
        p2.metric("Rows matched", pct(preview.match_rate), help=f"{count(preview.matched_rows)} of {count(preview.rows)} rows")
        p3.metric("Accounts matched", f"{preview.accounts_matched:,}")
        if preview.unmatched_keys:
            st.warning("Keys with no account, e.g.: " + escape_markdown(", ".join(preview.unmatched_keys)), icon=":material/link_off:")
        table = pd.DataFrame([{"key": c["key"], "Column": c["header"], "Role": ROLES[c["role"]].label,
                               "Aggregate": c["aggregate"], "Fills": "fills blanks" if c["fills"] else ""}
                              for c in preview.columns])
        edited = st.data_editor(
            table, hide_index=True, width="stretch", key="data.source_aggs", disabled=["key", "Column", "Role", "Fills"],
            column_order=["Column", "Role", "Aggregate", "Fills"],
            column_config={"Aggregate": st.column_config.SelectboxColumn(
                "Aggregate", options=list(AGGREGATES), help="How rows of one account are combined",
                disabled=not preview.one_to_many)})
        for note in preview.notes:
            st.caption(note)
        if st.button(f"Join {escape_markdown(up.name)} to the accounts", type="primary", key="data.source_join", icon=":material/join:"):
            with st.status(f"Joining {escape_markdown(up.name)}…") as status:
                try:
                    report = add_source(store, dataset_id, path, key_column=preview.key_column,
                                        aggregates=dict(zip(edited["key"], edited["Aggregate"], strict=True)), enrich=enrich,
                                        name=Path(up.name).stem)
                except IngestError as exc:
                    status.update(label=f"Could not join: {escape_markdown(exc)}", state="error")
                    return
                status.update(label=f"Joined {escape_markdown(report['file'])}: {len(report['columns'])} new columns", state="complete")
            st.session_state["data.source_n"] = n + 1
            st.rerun()


def load_upload(accounts_file, opportunities_file, name: str, choices: dict | None = None) -> None:
    """Write the uploads to a private temp folder and ingest them with progress."""
    for f in (accounts_file, opportunities_file):
        if f is not None and (problem := file_size_problem(f.size, limit_mb)):
            st.error(f"{escape_markdown(f.name)}: {escape_markdown(problem)}")
            return
    with tempfile.TemporaryDirectory(prefix="icp_upload_") as tmp:
        paths = []
        for f in (accounts_file, opportunities_file):
            if f is None:
                paths.append(None)
                continue
            path = Path(tmp) / ("upload" + Path(f.name).suffix.lower())
            if path.exists():
                path = Path(tmp) / ("upload2" + Path(f.name).suffix.lower())
            path.write_bytes(f.getbuffer())
            paths.append(path)
        with st.status(f"Loading {escape_markdown(accounts_file.name)}…", expanded=True) as status:
            bar = st.progress(0.0)

            def progress(fraction: float, message: str) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=message)

            try:
                choices = choices or {}
                result = ingest_dataset(
                    own_store, paths[0], paths[1], name=name or None, progress=progress,
                    display_names=(accounts_file.name, opportunities_file.name if opportunities_file else None),
                    shape=choices.get("shape"), key=choices.get("key"),
                    read_options=ReadOptions(encoding=choices.get("encoding"), sheet=choices.get("sheet"),
                                             header_row=choices.get("header_row")),
                )
            except IngestError as exc:
                status.update(label=f"Could not load: {escape_markdown(exc)}", state="error")
                st.session_state["data.load_error"] = str(exc)
                return
            choose_dataset((own_store.workspace, result.dataset_id))  # before the "Loaded" label shows
            q = result.meta["quality"]
            shape = result.meta.get("shape") or {}
            rolled = (f" (rolled up from {shape['rows']:,} {shape['shape']})"
                      if shape.get("shape", "accounts") != "accounts" else "")
            status.update(label=f"Loaded {q['rows_loaded']:,} accounts{rolled} from {escape_markdown(accounts_file.name)} "
                                f"in {result.meta['load_seconds']:.1f} s", state="complete", expanded=False)


def postgres_secret() -> str | None:
    """`[postgres] dsn` from the app's Streamlit secrets, if the server has any."""
    try:
        section = st.secrets.get("postgres") or {}
        return section.get("dsn") if hasattr(section, "get") else None
    except Exception:  # no secrets file on this server
        return None


def load_postgres(dsn: str, source: str, name: str) -> None:
    """Read a table or query from PostgreSQL (read-only, streamed) and ingest it like an upload."""
    shown = source_label(source)
    with tempfile.TemporaryDirectory(prefix="icp_pg_") as tmp, \
            st.status(f"Reading {escape_markdown(shown)}…", expanded=True) as status:
        bar = st.progress(0.0, text="Connecting to PostgreSQL")
        limit = pg_max_rows()
        path = Path(tmp) / "accounts.parquet"
        try:
            rows = read_postgres(source, path, dsn=dsn, max_rows=limit,
                                 progress=lambda n: bar.progress(min(0.3 * n / limit, 0.3), text=f"Read {n:,} rows"))

            def progress(fraction: float, message: str) -> None:
                bar.progress(0.3 + 0.7 * min(max(fraction, 0.0), 1.0), text=message)

            result = ingest_dataset(own_store, path, name=name or shown, progress=progress,
                                    display_names=(shown, None), source_format="postgresql")
        except (EngineError, IngestError) as exc:
            status.update(label=f"Could not read from PostgreSQL: {escape_markdown(exc)}", state="error")
            st.session_state["data.pg_error"] = str(exc)
            return
        choose_dataset((own_store.workspace, result.dataset_id))
        status.update(label=f"Loaded {result.meta['quality']['rows_loaded']:,} accounts from {rows:,} rows of "
                            f"{escape_markdown(shown)} in {result.meta['load_seconds']:.1f} s",
                      state="complete", expanded=False)


def postgres_form(dsn: str | None) -> None:
    """Read accounts from the server's PostgreSQL (a table or one query), or say how to set it up."""
    if not dsn:
        st.caption("Reading accounts straight from PostgreSQL (a warehouse replica) instead of a file is not set "
                   "up on this server. Whoever runs it sets a connection string, e.g. "
                   "`host=replica.internal dbname=crm user=icp_reader`, in the environment variable `ICP_PG_DSN` "
                   "or as `dsn` under `[postgres]` in `.streamlit/secrets.toml`, turns on sign-in (or, on a server "
                   "only they can reach, sets `ICP_PG_ANONYMOUS=1`), and restarts the app.")
        return
    if not pg_open_to(app_state().signed_in is not None):
        st.caption("A PostgreSQL connection is configured, but this server has no sign-in: anyone who opens it "
                   "could read through that connection. Whoever runs the server turns on sign-in (`[auth]` in the "
                   f"app's secrets), or sets `{ANONYMOUS_ENV}=1` on a server only they can reach, and restarts the app.")
        return
    st.caption("Through the connection this server is configured with (its details are never shown or stored). "
               "The read runs in a read-only transaction and goes through the same cleaning and role detection "
               "as an uploaded file; deals, contacts or order lines are rolled up to accounts.")
    source = st.text_area("Table or query", key="data.pg_source", height=80,
                          placeholder="crm.accounts   or   SELECT * FROM crm.accounts WHERE region = 'EMEA'")
    pg_name = st.text_input("Dataset name", key="data.pg_name", placeholder="e.g. Warehouse accounts, Dec 2026")
    if st.button("Read from PostgreSQL", type="primary", icon=":material/database:", key="data.pg_read"):
        st.session_state.pop("data.pg_error", None)
        if not source.strip():
            st.error("Give a table name or a SELECT query first.", icon=":material/error:")
        else:
            load_postgres(dsn, source, pg_name)
    if st.session_state.get("data.pg_error"):
        st.error(f"Could not read from PostgreSQL: {escape_markdown(st.session_state['data.pg_error'])}",
                 icon=":material/error:")


ENCODINGS = ["utf-8", "cp1252", "latin-1", "cp850", "cp437", "iso8859-15", "mac_roman", "utf-16"]


def upload_choices(accounts_file, with_opportunities: bool) -> dict | None:
    """What the accounts file will load as (shape, key, sheet, header row, encoding), shown before
    loading with controls to change each; returns the overrides to load with, or None when the
    file cannot be read (the reason is shown)."""
    if accounts_file is None:
        return {}
    if problem := file_size_problem(accounts_file.size, limit_mb):
        st.error(f"{escape_markdown(accounts_file.name)}: {escape_markdown(problem)}")
        return None
    fid = accounts_file.file_id
    ss = st.session_state
    keys = {k: f"data.{k}.{fid}" for k in ("shape", "key", "sheet", "header_row", "encoding")}
    detected = ss.get(f"data.detected.{fid}", {})
    enc = ss.get(keys["encoding"])
    overrides = {
        "encoding": enc if enc and enc != detected.get("encoding") else None,
        "sheet": ss.get(keys["sheet"]) if ss.get(keys["sheet"]) != detected.get("sheet") else None,
        "header_row": (int(ss[keys["header_row"]]) if ss.get(keys["header_row"])
                       and ss[keys["header_row"]] != detected.get("header_row") else None),
        "shape": ss.get(keys["shape"]) if ss.get(keys["shape"]) != detected.get("shape") else None,
        "key": ss.get(keys["key"]) if ss.get(keys["key"]) != detected.get("key") else None,
    }
    try:
        preview = upload_preview(fid, accounts_file.name, overrides["encoding"], overrides["sheet"],
                                 overrides["header_row"], overrides["shape"], overrides["key"], accounts_file)
    except IngestError as exc:
        st.error(f"Cannot read {escape_markdown(accounts_file.name)}: {escape_markdown(exc)}", icon=":material/error:")
        return None
    if not detected:  # the first reading of this upload is what was detected
        detected = {"encoding": preview.source.get("encoding"), "sheet": preview.source.get("sheet"),
                    "header_row": preview.source.get("header_row"), "shape": preview.shape["shape"],
                    "key": preview.shape["key_header"]}
        ss[f"data.detected.{fid}"] = detected
    guess, src = preview.shape, preview.source
    with st.container(border=True, key="data.shape_box"):
        st.markdown(f"**{escape_markdown(guess['message'])}**")
        read = [src["format"].upper()]
        if src.get("encoding"):
            read.append(f"encoding {src['encoding']}")
        if src.get("sheet"):
            read.append(f"sheet “{src['sheet']}” of {len(src.get('sheets') or [src['sheet']]):,}")
        if src.get("header_row"):
            read.append(f"header on {'line' if src['format'] == 'csv' else 'row'} {src['header_row']:,}")
        if src.get("rows_skipped"):
            read.append(f"{src['rows_skipped']:,} title / total rows skipped")
        st.caption(escape_markdown(" · ".join(read) + (f" · why: {guess['reason']}" if guess.get("reason") else "")))
        for note in src.get("notes", []):
            st.caption(escape_markdown(note))
        # the shape names are long ("lines (orders, invoices, ...)"): that box gets the room
        cols = st.columns([1.6, 1.2, 0.7, 1] if src["format"] != "parquet" else 2)
        shapes = list(SHAPES)
        cols[0].selectbox("One row is", shapes, index=shapes.index(guess["shape"]), key=keys["shape"],
                          format_func=lambda v: SHAPE_LABELS[v],
                          help="Deals, contacts and lines are rolled up to one row per account.")
        if guess["shape"] != "accounts":
            headers = [c["header"] for c in guess["candidates"]]
            headers += [h for h in preview.headers if h and h not in headers]
            cols[1].selectbox("Account key", headers,
                              index=headers.index(guess["key_header"]) if guess["key_header"] in headers else 0,
                              key=keys["key"], help="The column naming the account each row belongs to.")
        elif with_opportunities:
            cols[1].caption("The opportunities file is rolled up onto these accounts.")
        if src["format"] == "xlsx" and len(src.get("sheets") or []) > 1:
            cols[2].selectbox("Sheet", src["sheets"], index=src["sheets"].index(src["sheet"]), key=keys["sheet"])
        if src["format"] in ("csv", "xlsx") and src.get("header_row"):
            cols[3 if src["format"] == "xlsx" else 2].number_input(
                "Header row", min_value=1, max_value=1000, value=int(src["header_row"]), step=1,
                key=keys["header_row"], help="The line (CSV) or row (Excel) holding the column names.")
        if src["format"] == "csv":
            options = ENCODINGS if src.get("encoding") in ENCODINGS else [src.get("encoding")] + ENCODINGS
            cols[3].selectbox("Encoding", options, index=options.index(src.get("encoding")), key=keys["encoding"],
                              help="How the file's bytes become letters; change it if names look garbled.")
    return {k: v for k, v in overrides.items() if v is not None}


with st.expander("Load a new dataset", expanded=(app_state().dataset[0] == SAMPLE_WORKSPACE),
                 icon=":material/upload_file:"):
    c1, c2 = st.columns(2)
    accounts_file = c1.file_uploader(
        "Accounts file", type=FILE_TYPES, key="data.accounts_file", max_upload_size=limit_mb,
        help=f"CSV/TSV (any delimiter or encoding), Excel .xlsx or Parquet; up to {limit_mb} MB. Accounts, or "
             "deals, leads/contacts or order lines: those are rolled up to one row per account.")
    opportunities_file = c2.file_uploader(
        "Opportunities / deals file (optional)", type=FILE_TYPES, key="data.opportunities_file",
        max_upload_size=limit_mb,
        help="Rolled up to accounts (won, lost, open deals, win rate, won value, close dates), "
             "joined on account id or name.")
    choices = upload_choices(accounts_file, opportunities_file is not None)
    name = st.text_input("Dataset name", key="data.name", placeholder="e.g. Salesforce export, Nov 2026")
    # under what the file will load as, so it is read before it is confirmed. A click is kept (with its
    # time) until a file is there to load: a click made while the file is still uploading reaches the
    # app before the file does, and the file's arrival then loads it.
    st.button("Load dataset", type="primary", icon=":material/upload:", key="data.load",
              on_click=lambda: st.session_state.__setitem__("data.load_requested", time.monotonic()))
    requested = st.session_state.get("data.load_requested")
    if requested is not None and accounts_file is None:
        if time.monotonic() - requested > LOAD_WAITS_FOR_UPLOAD_S:
            st.session_state.pop("data.load_requested")
        st.error("Choose an accounts file first. A file still uploading is loaded as soon as it has arrived.",
                 icon=":material/error:")
    elif requested is not None:
        st.session_state.pop("data.load_requested")
        st.session_state.pop("data.load_error", None)
        if choices is not None:
            load_upload(accounts_file, opportunities_file, name, choices)
    if st.session_state.get("data.load_error"):
        st.error(f"Could not load the file: {escape_markdown(st.session_state['data.load_error'])}", icon=":material/error:")

pg_dsn = postgres_dsn(postgres_secret())
with st.expander("Read from PostgreSQL", expanded=False, icon=":material/database:"):
    postgres_form(pg_dsn)


def _dataset_header(meta: dict, read_only: bool) -> None:
    """Title, source details, headline metrics and load notes of one dataset."""
    q = meta["quality"]
    src = q["source"]
    st.subheader(escape_markdown(meta["name"]))
    details = [f"{src['file_name']}"] + ([src["format"].upper()] if src["format"] != "postgresql" else [])
    if src.get("encoding"):
        details.append(src["encoding"])
    if src.get("delimiter"):
        details.append("tab-delimited" if src["delimiter"] == "\t" else f"delimiter “{src['delimiter']}”")
    if src.get("sheet"):
        details.append(f"sheet “{src['sheet']}”")
    st.caption(escape_markdown(" · ".join(details)) + f" · loaded {meta['created_at'].replace('T', ' ').rstrip('Z')} UTC"
               + (" · shared sample, read-only" if read_only else ""))

    columns = q["columns"]
    problem_cols = sum(1 for c in columns if c["unparseable"])
    m1, m2, m3, m4 = st.columns(4)
    shape = meta.get("shape") or {}
    m1.metric("Accounts loaded", f"{q['rows_loaded']:,}",
              help="Rows in the clean accounts table" + (
                  f", rolled up from {shape['rows']:,} {shape['shape']} by “{escape_markdown(shape['key_header'])}”"
                  if shape.get("shape", "accounts") != "accounts" else ""))
    m2.metric("Rows rejected", f"{q['rows_rejected']:,}", help="Lines the reader could not split into the header's columns")
    m3.metric("Columns", f"{sum(1 for c in columns if not c.get('derived')):,}",
              help="Columns from the accounts file; rolled-up opportunity columns come on top")
    m4.metric("Columns with unreadable values", f"{problem_cols:,}")
    if notes := src.get("notes", []):  # one box, the file's own words shown as typed
        st.info("\n".join(f"- {escape_markdown(note)}" for note in notes), icon=":material/info:")


def _quality_tab(meta: dict) -> None:
    """Rejected rows, per-column quality, hints, repeated keys, disagreements and the roll-up."""
    q = meta["quality"]
    columns = q["columns"]
    if q["rows_rejected"]:
        st.warning(f"{q['rows_rejected']:,} of {q['rows_read']:,} rows could not be read and were not loaded; "
                   "the rest loaded. First examples:", icon=":material/warning:")
        st.dataframe(pd.DataFrame(q["rejected_examples"]), hide_index=True, width="stretch")
    else:
        st.success(f"All {q['rows_read']:,} rows were read.", icon=":material/check_circle:")
    quality = pd.DataFrame([{
        "Column": c["header"] or f"({c['key']})",
        "Role": c["role_label"] + (" · rolled up" if c.get("derived") else ""),
        "Parsed": c["parsed_share"],
        "Empty": c["null_share"],
        "Unreadable": c["unparseable_share"],
        "Bands": c["bands"],
        "Unreadable examples": ", ".join(f"“{e['value']}” ({e['rows']})" for e in c["unparseable_examples"]),
    } for c in columns])
    st.dataframe(
        quality, hide_index=True, width="stretch", key="data.quality_table",
        column_config={
            "Parsed": st.column_config.ProgressColumn("Parsed", format="percent", min_value=0, max_value=1),
            "Empty": st.column_config.NumberColumn("Empty", format="percent"),
            "Unreadable": st.column_config.NumberColumn("Unreadable", format="percent"),
            "Bands": st.column_config.NumberColumn("Bands", help="Values given as a range, e.g. 1,001-5,000: "
                                                   "the midpoint is used and the band is kept"),
        },
    )
    if q["hints"]:
        st.markdown("**Worth a look** (nothing was changed)")
        for h in q["hints"]:
            st.markdown(f"- {escape_markdown(h['message'])}")
    if q.get("duplicates"):
        st.markdown("**Repeated account keys**")
        for d in q["duplicates"]:
            st.markdown(f"- {escape_markdown(d['message'])}")
    disagreements = (meta.get("shape") or {}).get("disagreements") or []
    if disagreements:
        st.markdown("**Values that differ within one account** (the most frequent is kept)")
        for d in disagreements:
            st.markdown(f"- {escape_markdown(d['message'])}")
    _rollup_report(q.get("rollup"))


def _rollup_report(r: dict | None) -> None:
    """The opportunities roll-up numbers (nothing when there was none)."""
    if r:
        st.markdown("**Opportunities roll-up**")
        o1, o2, o3, o4 = st.columns(4)
        o1.metric("Opportunity rows", f"{r['opportunity_rows']:,}")
        o2.metric("Rows without an account", f"{r['rows_without_account']:,}")
        o3.metric("Accounts with deals", f"{r['accounts_with_opportunities']:,} of {r['accounts_total']:,}")
        o4.metric("Unmatched account keys", f"{r['unmatched_keys']:,}",
                  help=f"{r['unmatched_rows']:,} opportunity rows name an account that is not in the accounts file")
        st.caption(escape_markdown(
            f"Joined on {r['join_on'].replace('_', ' ')}: “{r['opportunities_column']}” → "
            f"“{r['accounts_column']}”, case- and space-insensitive. Outcome from “{r['stage_column']}”"
            + (f", value from “{r['value_column']}”" if r.get("value_column") else "") + "."))
        if r["unmatched_examples"]:
            st.dataframe(pd.DataFrame(r["unmatched_examples"]).rename(
                columns={"account": "Unmatched account", "rows": "Opportunity rows"}), hide_index=True)


def _mapping_tab(store: DatasetStore, dataset_id: str, meta: dict, read_only: bool) -> None:
    """The column mapping editor; applying it re-cleans the dataset."""
    columns = meta["quality"]["columns"]
    specs = [ColumnSpec.from_dict(d) for d in meta["columns"] if d["source"] == "accounts"]
    by_key = {c["key"]: c for c in columns}
    role_names = list(ROLES)
    mapping = pd.DataFrame([{
        "key": s.key,
        "Column": s.header or f"({s.key})",
        "Role": ROLES[s.role].label,
        "Scale": SCALES.get(float(s.scale), f"× {s.scale:g}"),
        "Parsed": by_key.get(s.key, {}).get("parsed_share"),
    } for s in specs])
    st.caption("Roles were detected from headers and values. Change a role or a unit scale and apply: "
               "the clean values and the quality panel are rebuilt from the raw values.")
    edited = st.data_editor(
        mapping, hide_index=True, width="stretch", key="data.mapping_editor", disabled=read_only,
        column_order=["Column", "Role", "Scale", "Parsed"],
        column_config={
            "Column": st.column_config.TextColumn("Column", disabled=True),
            "Role": st.column_config.SelectboxColumn("Role", options=[ROLES[r].label for r in role_names],
                                                     required=True),
            "Scale": st.column_config.SelectboxColumn("Scale", options=list(SCALES.values()), required=True,
                                                      help="Multiply numbers, e.g. revenue given in millions"),
            "Parsed": st.column_config.ProgressColumn("Parsed", format="percent", min_value=0, max_value=1),
        },
    )
    if read_only:
        st.info("The sample is shared and read-only. Upload your own file to edit its mapping.",
                icon=":material/lock:")
    elif st.button("Apply mapping", type="primary", key="data.apply_mapping", icon=":material/sync:"):
        label_to_role = {ROLES[r].label: r for r in role_names}
        scale_of = {v: k for k, v in SCALES.items()}
        new_specs = [ColumnSpec(key=row["key"], header=s.header, role=label_to_role[row["Role"]],
                                scale=scale_of.get(row["Scale"], s.scale),
                                date_formats=s.date_formats if label_to_role[row["Role"]] == s.role else [])
                     for s, (_, row) in zip(specs, edited.iterrows(), strict=True)]
        try:
            with st.spinner("Re-cleaning with the new mapping…"):
                remap_dataset(store, dataset_id, new_specs)
        except IngestError as exc:
            st.error(escape_markdown(exc), icon=":material/error:")
        else:
            st.rerun()


def _preview_tab(store: DatasetStore, dataset_id: str, meta: dict) -> None:
    """The first accounts, optionally with their raw values."""
    raw_view = st.toggle("Show raw values beside clean ones", key="data.show_raw")
    preview = read_accounts(store, dataset_id, limit=200, with_raw=raw_view).drop(columns=["row_id"])
    # the columns under the headers the file (or the roll-up) gave them, as in the quality table
    headers = {c["key"]: c["header"] or f"({c['key']})" for c in meta["columns"]}

    def shown(key: str) -> str:
        for suffix, label in (("__raw", " (raw)"), ("__band", " (band)")):
            if key.endswith(suffix) and key.removesuffix(suffix) in headers:
                return headers[key.removesuffix(suffix)] + label
        return headers.get(key, key)
    names = [shown(k) for k in preview.columns]
    if len(set(names)) == len(names):
        preview.columns = names
    # dates as dates: a clean date column holds midnight timestamps
    dates = {c: st.column_config.DateColumn(c, format="YYYY-MM-DD") for c in preview.columns
             if pd.api.types.is_datetime64_any_dtype(preview[c])}
    st.dataframe(preview, hide_index=True, width="stretch", height=420, column_config=dates)
    st.caption(f"First {len(preview):,} of {meta['rows']:,} accounts.")


def show_dataset(store: DatasetStore, dataset_id: str) -> None:
    """Summary, quality panel, mapping editor and preview of one dataset."""
    try:
        meta = store.read_meta(dataset_id)
    except DatasetNotFound:
        st.error("This dataset is no longer available. Pick another one in the sidebar.")
        return

    read_only = store.workspace == SAMPLE_WORKSPACE
    _dataset_header(meta, read_only)

    tab_quality, tab_mapping, tab_sources, tab_preview = st.tabs(
        ["Data quality", "Column mapping", "More sources", "Preview"])

    with tab_sources:
        show_sources(store, dataset_id, meta, read_only)

    with tab_quality:
        _quality_tab(meta)

    with tab_mapping:
        _mapping_tab(store, dataset_id, meta, read_only)

    with tab_preview:
        _preview_tab(store, dataset_id, meta)


workspace, dataset_id = app_state().dataset
if not DatasetStore(root, workspace).exists(dataset_id):  # deleted a moment ago
    choose_dataset(app_state().sample_dataset)
    workspace, dataset_id = app_state().dataset
show_dataset(DatasetStore(root, workspace), dataset_id)

own, _ = own_store.list_datasets()
if own:
    st.subheader("Your datasets")
    for m in own:
        c1, c2, c3, c4 = st.columns([4, 2, 2, 1.4], vertical_alignment="center")
        c1.markdown(f"**{escape_markdown(m['name'])}**")
        c2.caption(m["created_at"].replace("T", " ").rstrip("Z") + " UTC")
        c3.caption(f"{m['rows']:,} accounts")
        # a callback runs before the next script run, so the page and sidebar redraw without it
        c4.button("Delete", key=f"data.delete.{m['id']}", icon=":material/delete:", width="stretch",
                  on_click=own_store.delete_dataset, args=(m["id"],))
