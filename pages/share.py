"""Share & export page: saved versions and their diffs, read-only share links, CRM exports,
warehouse SQL (DuckDB, Snowflake, BigQuery, PostgreSQL, Spark, dbt) and the ICP one-pager."""

import math
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from icp_core.breadth import profile_breadth
from icp_core.engagement import EXPORT_COLUMNS, engagement_extra, score_engagement, set_engagement
from icp_core.export import EXPORT_FORMATS, FileColumns, icp_column_names, profile_version_label, scored_export_bytes
from icp_core.lookalike import export_columns
from icp_core.onepager import build_onepager, build_set_onepager
from icp_core.outcomes import default_outcome
from icp_core.profile import MAX_AUTHOR_CHARS, MAX_NOTE_CHARS, diff_profiles, profile_from_dict
from icp_core.scoring import TIER_LABELS, score_profile, tier_changes
from icp_core.store import DatasetStore, SetStore, ShareStore
from icp_core.tam import known_customers
from icp_core.warehouse import DIALECTS, SqlError, dbt_model, dbt_set_model, input_columns, profile_sql, set_sql
from ui.cached import default_lookalikes, reference_auc_cached
from ui.state import (
    app_state,
    current_dataset,
    escape_markdown,
    save_and_report,
    score_working_set,
    working,
    working_set,
)

cur = current_dataset()
accounts = cur.accounts
work = working(cur)
profile = work["profile"]
result, binding = score_profile(accounts, profile)
shares = ShareStore(cur.root)
icps = working_set(cur)  # with two or more ICPs, the CRM export and the SQL cover the whole set
scored_icps, scored_set = score_working_set(cur, (result, binding))

st.title("Share & export")
st.caption(f"“{escape_markdown(profile.name)}” on “{escape_markdown(cur.meta['name'])}”: save versions, compare them, share a read-only link, "
           "and take the ICP to the CRM, the warehouse and the rest of the company.")

tab_versions, tab_share, tab_export, tab_sql, tab_page = st.tabs(
    ["Versions", "Share link", "CRM export", "Warehouse SQL", "One-pager"])

# ------------------------------------------------------------------ versions

with tab_versions:
    c1, c2, c3 = st.columns([2, 3, 1.6], vertical_alignment="bottom")
    if "share.author" not in st.session_state:  # widget state ends with the page; the name is kept
        st.session_state["share.author"] = st.session_state.get("share.author_kept", "")
    author = c1.text_input("Your name", key="share.author", placeholder="shown in the version list",
                           max_chars=MAX_AUTHOR_CHARS)
    st.session_state["share.author_kept"] = author
    note = c2.text_input("Note for a new version", key="share.note", placeholder="what changed and why",
                         max_chars=MAX_NOTE_CHARS)
    if c3.button("Save version", type="primary", key="share.save", icon=":material/save:", width="stretch",
                 help="Save the working profile as a new version"):
        save_and_report(cur, work, note=note.strip(), author=author.strip())
    if not work["profile_id"]:
        st.info("This profile has no saved version yet. Save one to compare versions and share it.")
        versions = []
    else:
        versions = cur.pstore.list_versions(cur.dataset_id, work["profile_id"])
        grid = pd.DataFrame(versions)[["version", "saved_at", "author", "note", "name"]]
        # how broad each version's ICP is, so a team sees whether a change broadened or focused it
        # (icp_core.breadth; versions are scored on their patterns, cached per trait set)
        def version_breadth(v: dict) -> str:
            rec = cur.pstore.load_version(cur.dataset_id, work["profile_id"], v["version"])
            return profile_breadth(score_profile(accounts, profile_from_dict(rec["profile"]))[0], accounts).reading()
        grid["breadth"] = ["" if i < len(versions) - 20 else version_breadth(v) for i, v in enumerate(versions)]
        st.dataframe(grid.rename(columns={"version": "Version", "saved_at": "Saved (UTC)", "author": "Who",
                                          "note": "Note", "name": "Name", "breadth": "Breadth of A+B"}),
                     hide_index=True, width="stretch", key="share.versions")
    if len(versions) >= 2:
        numbers = [v["version"] for v in versions]
        d1, d2 = st.columns(2)
        a = d1.selectbox("Compare version", numbers, index=len(numbers) - 2, key="share.diff_from")
        b = d2.selectbox("with version", numbers, index=len(numbers) - 1, key="share.diff_to")
        old = profile_from_dict(cur.pstore.load_version(cur.dataset_id, work["profile_id"], a)["profile"])
        new = profile_from_dict(cur.pstore.load_version(cur.dataset_id, work["profile_id"], b)["profile"])
        d = diff_profiles(old, new)
        lines = [f"- :green[added] **{escape_markdown(t.label)}** ({t.weight:+d})" for t in d["added"]]
        lines += [f"- :red[removed] **{escape_markdown(t.label)}** ({t.weight:+d})" for t in d["removed"]]
        lines += [f"- **{escape_markdown(nb.label)}**: {escape_markdown(', '.join(what))}" for _, nb, what in d["changed"]]
        lines += [f"- {escape_markdown(x)}" for x in d["tier_rule"]]
        st.markdown("\n".join(lines) if lines else "No differences in traits or tiers.")
        before, _ = score_profile(accounts, old)
        after, _ = score_profile(accounts, new)
        moves, moved = tier_changes(before, after)
        if len(moved):
            st.markdown(f"**{len(moved):,} accounts change tier** from v{a} to v{b}:")
            m1, m2 = st.columns([1, 2])
            m1.dataframe(moves.rename(columns={"from": f"v{a} tier", "to": f"v{b} tier", "accounts": "Accounts"}),
                         hide_index=True, width="stretch", key="share.moves")
            listing = accounts.display.iloc[moved[:1000]].drop(columns=["row_id"]).copy()
            listing.insert(1, f"v{a}", np.array(TIER_LABELS, dtype=object)[before.tier[moved[:1000]]])
            listing.insert(2, f"v{b}", np.array(TIER_LABELS, dtype=object)[after.tier[moved[:1000]]])
            m2.dataframe(listing, hide_index=True, width="stretch", height=300, key="share.moved_accounts")
        else:
            st.caption("No account changes tier.")

# ------------------------------------------------------------------ share links

with tab_share:
    if not versions:
        st.info("Save a version first: a link always shows one saved version, even after later edits.")
    else:
        url = st.context.url or ""
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}/" if parts.netloc else "/"
        saved_set = SetStore(cur.root, cur.workspace).latest(cur.dataset_id)
        whole_set = False
        if saved_set is not None and len(saved_set["members"]) > 1:
            whole_set = st.checkbox(f"Share the whole ICP set ({len(saved_set['members'])} ICPs, as saved last: "
                                    + ", ".join(f"{escape_markdown(m['name'])} v{m['version']}"
                                                for m in saved_set["members"]) + ")",
                                    value=len(icps) > 1, key="share.whole_set")
        if not whole_set:
            pick = st.selectbox("Version to share", [v["version"] for v in reversed(versions)], key="share.version")
        if st.button("Create read-only link", type="primary", key="share.create", icon=":material/link:"):
            if whole_set:
                first = saved_set["members"][0]
                rec = shares.create(cur.workspace, cur.dataset_ws, cur.dataset_id, first["profile_id"],
                                    first["version"], label=f"ICP set of {len(saved_set['members'])} "
                                    f"(set v{saved_set['version']})", set_id=saved_set["set_id"],
                                    set_version=saved_set["version"])
            else:
                rec = shares.create(cur.workspace, cur.dataset_ws, cur.dataset_id, work["profile_id"], pick,
                                    label=f"{profile.name} v{pick}")
            st.session_state["share.created"] = rec["token"]
        if st.session_state.get("share.created"):
            st.success("Anyone with this link sees the Score, Clusters and TAM views of that version, read-only:")
            st.code(f"{base}?share={st.session_state['share.created']}", language=None)
        live = [r for r in shares.list_for(cur.workspace) if r["dataset_id"] == cur.dataset_id]
        if live:
            st.markdown("**Live links**")
        for r in live:
            l1, l2, l3 = st.columns([3, 4, 1.4], vertical_alignment="center")
            l1.markdown(f"{escape_markdown(r['label'])} · created {r['created_at'][:16].replace('T', ' ')}")
            l2.code(f"{base}?share={r['token']}", language=None)
            if l3.button("Revoke", key=f"share.revoke.{r['token']}", icon=":material/link_off:", width="stretch"):
                shares.revoke(r["token"], cur.workspace)
                if st.session_state.get("share.created") == r["token"]:
                    st.session_state.pop("share.created")
                st.rerun()

# ------------------------------------------------------------------ CRM export

version_label = profile_version_label(profile.name, work["version"])
exported = result
if len(icps) > 1:
    exported = scored_set
    version_label = "ICP set: " + "; ".join(profile_version_label(e["profile"].name, e["version"]) for e in icps)


def crm_export(fmt: str, with_similarity: bool) -> bytes:  # the one export schema (icp_core.export)
    columns = FileColumns(lambda: DatasetStore(cur.root, cur.dataset_ws).open_dataset(cur.dataset_id),
                          accounts.specs)
    lk = default_lookalikes(cur, accounts) if with_similarity else None
    extra = engagement_extra([e["profile"] for e in icps], accounts, exported)
    return scored_export_bytes(columns, exported, version_label, fmt,
                               extra={**extra, **(export_columns(lk, accounts) if lk is not None else {})} or None)


customers_known = known_customers(accounts)

with tab_export:
    if len(icps) > 1:
        st.caption(f"The whole ICP set ({len(icps)} ICPs): the ICP columns are those of each account's best fit.")
    st.markdown("One row per account: the columns of the accounts file as loaded, then "
                + ", ".join(f"**{escape_markdown(c)}**" for c in icp_column_names(
                    exported, list(EXPORT_COLUMNS) if set_engagement([e["profile"] for e in icps]) else []))
                + ". Text a spreadsheet could read as a formula is neutralised in CSV and Excel.")
    fmt = st.radio("Format", list(EXPORT_FORMATS), horizontal=True, key="share.format",
                   format_func={"csv": "CSV", "xlsx": "Excel", "parquet": "Parquet"}.get)
    mime, ext = EXPORT_FORMATS[fmt]
    with_similarity = st.checkbox("Add lookalike similarity to the won customers with the highest ARR "
                                  "(ICP Similarity, ICP Closest Exemplar; see the Clusters page)",
                                  key="share.similarity", disabled=customers_known is None)
    st.download_button(f"Download {accounts.n:,} scored accounts", lambda: crm_export(fmt, with_similarity),
                       file_name=f"{cur.meta['name']} - ICP.{ext}", mime=mime, type="primary",
                       icon=":material/download:", key="share.download_crm", on_click="ignore")

# ------------------------------------------------------------------ warehouse SQL

with tab_sql:
    s1, s2 = st.columns([1, 2])
    dialect = s1.selectbox("Dialect", list(DIALECTS), key="share.dialect",
                           format_func={"duckdb": "DuckDB", "snowflake": "Snowflake", "bigquery": "BigQuery",
                                        "postgres": "PostgreSQL", "spark": "Spark SQL"}.get)
    table = s2.text_input("Input table", value="accounts", key="share.table")
    bounds = [type(e["profile"])(**{**e["profile"].__dict__, "traits": [t for t, _ in b.traits]})
              for e, (_, b) in zip(icps, scored_icps, strict=True)]
    bound = next(b for e, b in zip(icps, bounds, strict=True) if e is work)
    names, lines = [e["profile"].name for e in icps], [r.thresholds for r, _ in scored_icps]
    eng_profile = set_engagement([e["profile"] for e in icps])
    eng_result = score_engagement(accounts, eng_profile) if eng_profile is not None else None
    eng = (eng_profile, eng_result) if eng_result is not None else None
    try:
        sql = (set_sql(names, bounds, lines, table or "accounts", dialect, engagement=eng) if len(icps) > 1
               else profile_sql(bound, result.thresholds, table or "accounts", dialect, engagement=eng))
        dbt = (dbt_set_model(names, bounds, lines, engagement=eng) if len(icps) > 1
               else dbt_model(bound, result.thresholds, engagement=eng))
    except SqlError as exc:
        st.error(escape_markdown(exc))
        sql = dbt = ""
    if profile.tier_rule.mode == "mix":
        st.caption("Tier lines come from the target mix solved on this dataset: "
                   + ", ".join(f"{k} ≥ {v:.2f}" for k, v in result.thresholds.items() if math.isfinite(v)))
    inputs: dict[str, str] = {}
    for b in bounds:
        inputs |= {c: k for c, k in input_columns(b).items() if c not in inputs}
    if len(icps) > 1:
        st.caption(f"The whole ICP set ({len(icps)} ICPs): each ICP's score, tier, reasons and flags, then "
                   "icp_best_fit and the best ICP's columns.")
    st.markdown("Input columns: " + ", ".join(f"{escape_markdown(c)} ({k})" for c, k in inputs.items()))
    if sql:
        b1, b2 = st.columns(2)
        b1.download_button("Download .sql", sql.encode(), file_name=f"icp_{dialect}.sql", mime="text/plain",
                           key="share.sql_download", icon=":material/download:", on_click="ignore")
        b2.download_button("Download dbt model", dbt.encode(),
                           file_name="icp_scores.sql", mime="text/plain", key="share.dbt_download",
                           icon=":material/download:", on_click="ignore")
        st.code(sql, language="sql")

# ------------------------------------------------------------------ one-pager


def onepager_html() -> str:
    """Drawn by icp_core.onepager (as `python -m icp_core onepager`); the page passes the outcome chosen
    on the Evidence page (else the dataset's default) and its cached reference AUC."""
    outcome = app_state().chosen_outcome(cur.dataset_id) or default_outcome(accounts)
    reference = (lambda o: reference_auc_cached(str(cur.root), cur.dataset_ws, cur.dataset_id, cur.stamp, o))
    if len(icps) > 1:  # a page per ICP, the set's best fit on the first
        return build_set_onepager(accounts, exported, [e["profile"] for e in icps], cur.meta["name"],
                                  [profile_version_label(e["profile"].name, e["version"]) for e in icps], outcome,
                                  reference)
    return build_onepager(accounts, result, profile, cur.meta["name"], version_label, outcome, reference)


with tab_page:
    page = onepager_html()
    st.download_button("Download the one-pager (HTML, prints to PDF)", page.encode(), file_name="ICP one-pager.html",
                       mime="text/html", key="share.onepager_download", icon=":material/download:", on_click="ignore")
    components.html(page, height=900, scrolling=True)
