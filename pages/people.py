"""People page: contacts / leads at the accounts, their seniority and department from the title,
persona fit per contact, and the buying committee per account (issue 17)."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from icp_core.export import to_csv_bytes
from icp_core.formatting import count, pct
from icp_core.ingest import IngestError
from icp_core.lookalike import account_names
from icp_core.personas import (
    DEFAULT_ROLES,
    DEPARTMENTS,
    SENIORITY,
    CommitteeRole,
    Personas,
    PersonaTrait,
    add_contacts,
    best_contacts,
    contacts_export,
    has_contacts,
    preview_contacts,
)
from icp_core.readers import FILE_TYPES
from icp_core.scoring import TIER_LABELS, score_profile
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore
from ui.state import current_dataset, escape_markdown, read_only, remember, working

cur = current_dataset()
store = DatasetStore(cur.root, cur.dataset_ws)
work = working(cur)
profile = work["profile"]
readonly = read_only() is not None
meta = cur.meta
contacts_meta = meta.get("contacts")

st.title("People")
st.caption("The people at each account: seniority and department from their titles, how well each fits the "
           "persona you sell to, and which buying-committee roles each account has covered.")


def join_contacts() -> None:
    """Upload a contacts file, check its match and classification, correct titles, define the roles, join."""
    if cur.dataset_ws == SAMPLE_WORKSPACE or readonly:
        st.info("The sample is shared and read-only. Upload your own dataset on the Data page to join contacts.")
        return
    up = st.file_uploader("Contacts or leads file (title, e-mail or company)", type=FILE_TYPES,
                          key=f"people.file.{st.session_state.setdefault('people.n', 0)}")
    if up is None:
        return
    with tempfile.TemporaryDirectory(prefix="icp_people_") as tmp:
        path = Path(tmp) / ("contacts" + Path(up.name).suffix.lower())
        path.write_bytes(up.getbuffer())
        try:
            pv = preview_contacts(store, cur.dataset_id, path)
        except IngestError as exc:
            st.error(escape_markdown(f"Cannot use {up.name}: {exc}"), icon=":material/error:")
            return
        c1, c2, c3 = st.columns(3)
        c1.metric("Contacts", count(pv.rows))
        c2.metric("Matched to an account", pct(pv.matched / max(pv.rows, 1)),
                  help=f"{count(pv.matched)} contacts by {pv.key_header}")
        c3.metric("Accounts with contacts", count(pv.accounts_matched))
        if not pv.matched:
            st.error(escape_markdown(f"None of the {pv.rows:,} contacts matches an account by {pv.key_header}: "
                                     "nothing would be joined."), icon=":material/link_off:")
            return
        st.markdown(f"**Titles as classified** (column “{escape_markdown(pv.title_header)}”; correct any row)")
        edited = st.data_editor(pv.titles, hide_index=True, width="stretch", key="people.titles", height=260,
                                disabled=["title", "contacts"], column_config={
                                    "seniority": st.column_config.SelectboxColumn("Seniority", options=list(SENIORITY)),
                                    "department": st.column_config.SelectboxColumn("Department",
                                                                                   options=list(DEPARTMENTS))})
        changed = (edited["seniority"] != pv.titles["seniority"]) | (edited["department"] != pv.titles["department"])
        corrections = {r.title: [r.seniority, r.department] for r in edited[changed].itertuples()}
        st.markdown("**Buying-committee roles** (a contact counts for every role it fits)")
        roles = []
        for i, r in enumerate(DEFAULT_ROLES):
            a, b, c = st.columns([1.2, 2, 2])
            name = a.text_input("Role", r.name, key=f"people.role.{i}", max_chars=40)
            sen = b.multiselect("Seniority", SENIORITY, r.seniority, key=f"people.sen.{i}")
            dep = c.multiselect("Departments (any when empty)", DEPARTMENTS, r.departments, key=f"people.dep.{i}")
            if name.strip():
                roles.append(CommitteeRole(name.strip(), list(sen), list(dep)))
        if st.button(f"Join {escape_markdown(up.name)} to the accounts", type="primary", key="people.join",
                     icon=":material/group_add:"):
            with st.status("Joining contacts…") as status:
                bar = st.progress(0.0)
                try:
                    rep = add_contacts(store, cur.dataset_id, path, roles=roles, corrections=corrections,
                                       progress=lambda f, m: bar.progress(f, text=m))
                except IngestError as exc:
                    status.update(label=f"Could not join: {escape_markdown(exc)}", state="error")
                    return
                status.update(label=f"Joined {rep['matched']:,} contacts", state="complete")
            st.session_state["people.n"] += 1
            st.rerun()


if not has_contacts(store, cur.dataset_id) or not contacts_meta:
    st.info("No contacts on this dataset yet. Join a contacts or leads export (title, e-mail or company) to see "
            "the buying committee per account.", icon=":material/group:")
    join_contacts()
    st.stop()

# ------------------------------------------------------------------ committee coverage

result, _ = score_profile(cur.accounts, profile)
tiers = np.array(TIER_LABELS, dtype=object)[result.tier]
role_names = [r["name"] for r in contacts_meta["roles"]]
st.caption(f"{count(contacts_meta['matched'])} of {count(contacts_meta['rows'])} contacts from "
           f"“{escape_markdown(contacts_meta['file'])}” matched by {escape_markdown(contacts_meta['key'])}. "
           "Committee columns on the accounts (usable as traits on the Score page): "
           + ", ".join(f"“{escape_markdown(c)}”" for c in contacts_meta["columns"] if not c.endswith(" rows")))
by_header = {s.header: s for s in cur.accounts.specs}
cov_cols = [c for c in contacts_meta["columns"] if any(c.startswith(f"{n} Contacts") for n in role_names)]
rows = []
for tier_code, tier in enumerate(TIER_LABELS):
    on = result.tier == tier_code
    row = {"Tier": tier, "Accounts": int(on.sum())}
    for name, col in zip(role_names, cov_cols, strict=False):
        v = np.nan_to_num(cur.accounts.column_array(by_header[col])) if col in by_header else np.zeros(cur.accounts.n)
        row[f"with a {name}"] = pct(float((v[on] > 0).mean())) if on.any() else "–"
    rows.append(row)
st.markdown("**Committee coverage by tier**")
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="people.coverage")

# ------------------------------------------------------------------ persona fit


def own_personas() -> Personas:
    """The ICP's persona section, created from the defaults on the first edit (one undo step)."""
    remember(work)
    if profile.personas is None:
        profile.personas = Personas()
    return profile.personas


def on_persona(i: int) -> None:
    own_personas().traits[i].weight = int(st.session_state[f"people.pw.{i}"])


def add_persona_trait() -> None:
    fld = st.session_state["people.new.field"]
    values = (st.session_state.get("people.new.values") or []) if fld != "title" else \
        [v.strip() for v in st.session_state.get("people.new.words", "").split(",") if v.strip()]
    if not values:
        st.session_state["people.error"] = "Pick at least one value (or type title words separated by commas)."
        return
    own_personas().traits.append(PersonaTrait(fld, values[:100], int(st.session_state["people.new.weight"])))


st.subheader("Persona fit")
personas = profile.personas or Personas()  # the defaults until the first edit
st.caption("Each contact scores 0–100 from these persona traits (the fit score's arithmetic); the best contact of an "
           "account is the one with the highest persona fit. Saved with the ICP.")
for i, t in enumerate(personas.traits):
    st.slider(escape_markdown(t.shown()), -5, 5, value=t.weight, key=f"people.pw.{i}", on_change=on_persona, args=(i,),
              disabled=readonly)
if not readonly:
    with st.expander("Add a persona trait", icon=":material/person_add:"):
        fld = st.selectbox("On", ["seniority", "department", "title"], key="people.new.field",
                           format_func={"seniority": "Seniority in", "department": "Department in",
                                        "title": "Title contains any of"}.get)
        if fld == "title":
            st.text_input("Title words, separated by commas", key="people.new.words", placeholder="revops, finance")
        else:
            st.multiselect("Values", SENIORITY if fld == "seniority" else DEPARTMENTS, key="people.new.values")
        st.slider("Weight", -5, 5, 3, key="people.new.weight")
        st.button("Add", key="people.new.add", on_click=add_persona_trait)
        if st.session_state.get("people.error"):
            st.error(st.session_state.pop("people.error"))

best = best_contacts(store, cur.dataset_id, personas)
names = account_names(cur.accounts)
pos = best["account_row"].to_numpy(dtype=np.int64) - 1
best.insert(0, "Account", names[pos])
best.insert(1, "ICP Tier", tiers[pos])
best = best.drop(columns="account_row").rename(columns={"best_contact": "Best contact", "best_title": "Title",
                                                        "best_fit": "Persona fit", "contacts": "Contacts"})
order = np.lexsort((-best["Persona fit"].to_numpy(), result.tier[pos]))
st.markdown(f"**Best contact per account** ({count(len(best))} accounts with contacts; A first)")
st.dataframe(best.iloc[order[:500]], hide_index=True, width="stretch", key="people.best", height=320,
             column_config={"Persona fit": st.column_config.ProgressColumn("Persona fit", min_value=0, max_value=100,
                                                                           format="%.0f")})


def contacts_csv() -> bytes:
    return to_csv_bytes(contacts_export(store, cur.dataset_id, personas, tiers, names))


st.download_button(f"Download {count(contacts_meta['matched'])} contacts with persona fit and account tier (CSV)",
                   contacts_csv, file_name=f"{meta['name']} - contacts.csv", mime="text/csv",
                   icon=":material/download:", key="people.download", on_click="ignore")
