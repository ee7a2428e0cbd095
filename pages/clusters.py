"""Clusters page: k-means segments on chosen columns, a 2-D map, named cluster profiles,
clusters that win but score low, and traits that describe a cluster."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from icp_core.formatting import TIER_COLORS, count, format_number, pct
from icp_core.lookalike import (
    MAX_EXEMPLARS,
    MIN_EXEMPLARS,
    LookalikeError,
    default_exemplars,
    exemplar_lines,
    exemplars_from_names,
    find_lookalikes,
    one_step_away,
    score_auc,
    similarity_auc,
)
from icp_core.outcomes import EvidenceError, default_outcome
from icp_core.profile import adopt_traits
from icp_core.roles import ROLES
from icp_core.scoring import TIER_LABELS, score_profile
from icp_core.segments import (
    FIT_SAMPLE,
    account_formats,
    cluster_accounts,
    clusterable_columns,
    default_cluster_columns,
    profile_formats,
    share_in_ab,
    sortable,
    traits_for_cluster,
    winning_low_scorers,
)
from icp_core.stats import wilson
from ui.cached import cluster_profile, cluster_results, lookalike_results
from ui.state import app_state, current_dataset, escape_markdown, read_only, replace_profile, working

cur = current_dataset()
accounts = cur.accounts
work = working(cur)
profile = work["profile"]
result, _ = score_profile(accounts, profile)

st.title("Clusters")
st.caption("Natural segments of your accounts (k-means on the columns you choose), where they sit on a 2-D map, "
           "and how they win, churn and score.")

options = {s.key: s for s in clusterable_columns(accounts)}
if not options:
    st.info("This dataset has no columns to cluster on.")
    st.stop()
if "clusters.columns" not in st.session_state or not set(st.session_state["clusters.columns"]) <= set(options):
    st.session_state["clusters.columns"] = [s.key for s in default_cluster_columns(accounts)]
c1, c2, c3 = st.columns([3, 1.2, 1.2])
chosen = c1.multiselect("Cluster on", list(options), key="clusters.columns",
                        help="Starts with the columns that describe a company: industry, size, revenue, region, "
                             "funding, technologies; then the other columns that move together with the rest and "
                             "with the outcomes (charges, contract, tenure, plan …). Identifiers, free text, dates "
                             "and columns unrelated to everything else (such as gender) are left out.",
                        format_func=lambda k: options[k].header if options[k].header.lower() == ROLES[options[k].role].label.lower()
                        else f"{options[k].header} · {ROLES[options[k].role].label}")
columns = [options[k] for k in chosen]
if not columns:
    st.info("Choose at least one column to cluster on.")
    st.stop()

store = cluster_results()
base_key = (cur.dataset_ws, cur.dataset_id, cur.stamp, tuple(chosen))
suggested = getattr(store.find(base_key), "suggested_k", None)  # of any k already computed on these columns
k = c2.slider("Clusters (k)", 2, 12, value=suggested or 4, key="clusters.k")
colour_by = c3.radio("Colour by", ["Cluster", "Tier", "Outcome"], key="clusters.colour", horizontal=True)

key = base_key + (k,)
clustering = store.get(key)
if clustering is None:
    with st.status(f"Clustering {count(accounts.n)} accounts…", expanded=True) as status:
        bar = st.progress(0.0)
        try:
            clustering = cluster_accounts(accounts, columns, k, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
        except ValueError as exc:
            status.update(label=f"Could not cluster: {escape_markdown(exc)}", state="error")
            st.stop()
        status.update(label=f"{k} clusters over {count(accounts.n)} accounts", state="complete", expanded=False)
    store.put(key, clustering)

prof = cluster_profile(key, accounts, clustering, columns).copy()  # cached per clustering
prof["share_ab"] = share_in_ab(clustering, result)  # the part that moves with the weights
names = prof["name"].tolist()
app_state().set_last_clustering(cur.dataset_id, key, names)  # the TAM page segments by it
sil = clustering.silhouette
if clustering.suggested_k != k:
    st.button(f"Use the suggested k = {clustering.suggested_k}", key="clusters.use_suggested",
              icon=":material/auto_fix_high:",
              on_click=st.session_state.update, args=({"clusters.k": clustering.suggested_k},))
st.caption(f"Suggested k = {clustering.suggested_k} (highest silhouette on a sample: "
           + ", ".join(f"k={kk}: {format_number(round(v, 2))}" for kk, v in sil.items()) + "). "
           f"Fitted on {count(min(accounts.n, FIT_SAMPLE))} accounts, every account assigned.")

# ------------------------------------------------------------------ map

rows = clustering.map_rows
outcome = np.select([accounts.won[rows] == 1, accounts.won[rows] == 0], ["Won", "Lost"], "Open / unknown")
name_col = accounts.display_specs[0].header if accounts.display_specs else "row_id"
points = pd.DataFrame({
    "x": clustering.map_xy[:, 0], "y": clustering.map_xy[:, 1], "row": rows,
    "Account": accounts.display[name_col].to_numpy()[rows].astype(str),
    "Cluster": np.array(names, dtype=object)[clustering.labels[rows]],
    "Tier": np.array(TIER_LABELS, dtype=object)[result.tier[rows]],
    "Score": np.round(result.score[rows], 0),
    "Outcome": outcome,
})
if colour_by == "Tier":
    color = alt.Color("Tier:N", scale=alt.Scale(domain=list(TIER_LABELS), range=[TIER_COLORS[t] for t in TIER_LABELS]))
elif colour_by == "Outcome":
    color = alt.Color("Outcome:N", scale=alt.Scale(domain=["Won", "Lost", "Open / unknown"],
                                                   range=["#1b7f3b", "#d1495b", "#c7c7c7"]))
else:
    color = alt.Color("Cluster:N", scale=alt.Scale(scheme="tableau10"), sort=names)
brush = alt.selection_interval(name="brush")
longest = max((len(n) for n in names), default=0) if colour_by == "Cluster" else 14
chart = alt.Chart(points).mark_circle(size=30, opacity=0.7).encode(
    x=alt.X("x:Q", axis=None, scale=alt.Scale(zero=False, nice=False, padding=12)),
    y=alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False, nice=False, padding=12)),
    color=color,
    tooltip=["Account:N", "Cluster:N", "Tier:N", "Score:Q", "Outcome:N"],
).add_params(brush).properties(height=520).configure_legend(
    orient="top", labelFontSize=13, title=None, columns=4 if longest <= 28 else 2 if longest <= 60 else 1,
    labelLimit=520).configure_view(stroke="#e6e6e6")
event = st.altair_chart(chart, on_select="rerun", selection_mode="brush", key="clusters.map", width="stretch")
st.caption(f"Map of {count(len(rows))} accounts (stratified by cluster) on the plane through the cluster centres, "
           "chosen so that clusters read as groups: k-means puts every account with its nearest centre, and on this "
           f"plane those borders are straight lines; it shows {pct(clustering.explained)} of the differences between "
           "the centres. Each cluster is drawn shrunk around its centre, so distances between centres are to scale "
           "and the spread inside a cluster is not; accounts with identical values are nudged apart slightly. "
           "Drag on the map to select accounts; they are listed below.")

# ------------------------------------------------------------------ profiles

st.subheader("Cluster profiles")
base_rate = float(accounts.won_deals.sum() / max(accounts.won_deals.sum() + accounts.lost_deals.sum(), 1))
# numbers stay numbers (columns sort by value) and read as formatting.py writes them; unknown ones read "–";
# outcome columns the dataset does not have are left out rather than shown as a column of dashes
absent = [c for c, has in (("win_rate", "won"), ("churn_rate", "churned"), ("arr", "arr")) if not accounts.has[has]]
formats = profile_formats(columns)
headers = {"cluster": "#", "name": "Name", "accounts": "Accounts", "share": "Share", "win_rate": "Win rate",
           "churn_rate": "Churn", "arr": "ARR", "share_ab": "In tiers A+B"}
show = sortable(prof.drop(columns=["won", "closed"] + absent), formats).rename(columns=headers)
show["In tiers A+B"] = np.round(show["In tiers A+B"] * 100)  # the bar's label reads like pct(): "56%"
text = {headers.get(c, c): f for c, f in formats.items() if headers.get(c, c) in show.columns and c != "share_ab"}
st.dataframe(show.style.format(text), hide_index=True, width="stretch", key="clusters.profiles", column_config={
    "In tiers A+B": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f%%")})

missed = winning_low_scorers(prof, base_rate)
if accounts.has["won"] and len(missed):
    for _, r in missed.iterrows():
        lo, hi = wilson(r["win_rate"] * r["closed"], r["closed"])
        st.warning(f"**{escape_markdown(r['name'])}** wins {pct(r['win_rate'])} of closed deals ({pct(lo)}–{pct(hi)}; "
                   f"base rate {pct(base_rate)}) but only {pct(r['share_ab'])} of its {count(r['accounts'])} accounts are "
                   "in tiers A+B: "
                   "the ICP is missing something these accounts share. Turn it into traits below.",
                   icon=":material/priority_high:")
elif accounts.has["won"]:
    st.success("No cluster wins well above the base rate while scoring low: the ICP covers the winning segments.",
               icon=":material/check_circle:")

# ------------------------------------------------------------------ selected accounts and traits

left, right = st.columns([3, 2], gap="large")
with left:
    selected = []
    if event and event.selection and event.selection.get("brush"):
        b = event.selection["brush"]
        xs, ys = b.get("x"), b.get("y")
        if xs and ys:
            inside = points[(points.x >= min(xs)) & (points.x <= max(xs)) & (points.y >= min(ys)) & (points.y <= max(ys))]
            selected = inside["row"].to_numpy()
    pick = st.selectbox("Show accounts of", ["Map selection"] + names, key="clusters.show")
    if pick != "Map selection":
        selected = np.flatnonzero(clustering.labels == names.index(pick))[:1000]
    if len(selected):
        table = accounts.display.iloc[selected].drop(columns=["row_id"]).copy()
        table.insert(1, "Cluster", np.array(names, dtype=object)[clustering.labels[selected]])
        table.insert(2, "Tier", np.array(TIER_LABELS, dtype=object)[result.tier[selected]])
        table.insert(3, "Score", np.round(result.score[selected], 0))
        st.caption(f"{count(len(selected))} accounts" + (" (first 1,000)" if len(selected) >= 1000 else ""))
        shown_formats = {**account_formats(accounts.display_specs), "Score": format_number}
        st.dataframe(sortable(table, shown_formats).style.format(
            {c: f for c, f in shown_formats.items() if c in table.columns}),
            hide_index=True, width="stretch", height=320, key="clusters.accounts")
    else:
        st.caption("Nothing selected yet.")
with right:
    target = st.selectbox("Turn this cluster into traits", names, key="clusters.target")
    proposed = traits_for_cluster(accounts, clustering, columns, names.index(target))
    if proposed:
        st.markdown("\n".join(f"- **+{t.weight}** {escape_markdown(t.label)}" for t in proposed))
        if read_only() is None and st.button(f"Add {len(proposed)} trait{'s' if len(proposed) > 1 else ''} to the ICP",
                     key="clusters.adopt", type="primary", icon=":material/add:", width="stretch",
                     help=f"Adds them to “{escape_markdown(profile.name)}” with these weights"):
            replace_profile(cur, adopt_traits(profile, proposed))
            st.toast(f"Added traits describing {escape_markdown(target)}", icon=":material/check:")
            st.rerun()
    else:
        st.caption("Nothing sets this cluster apart strongly enough to become a trait.")

# ------------------------------------------------------------------ lookalikes of the best customers

st.subheader("Lookalikes of your best customers")
st.caption("How close every account is to the exemplars on the columns above (0–100: the share of accounts "
           "farther away), and the accounts **one step away**: very similar, but scoring C or D.")
l1, l2 = st.columns([3, 1.4])
source = l1.radio("Exemplars", ["Won customers with the highest ARR", "Accounts I name", "A list I upload"],
                  key="clusters.lk_source", horizontal=True)
min_sim = l2.slider("One step away from similarity", 50, 99, 80, key="clusters.lk_min")
try:
    if source == "Accounts I name":
        text = st.text_area(f"Account ids or names, one per line ({MIN_EXEMPLARS}–{MAX_EXEMPLARS})",
                            key="clusters.lk_names", height=100)
        exemplars = exemplars_from_names(accounts, text.splitlines())
    elif source == "A list I upload":
        listed = st.file_uploader(f"A text or CSV file: account ids or names in the first column "
                                  f"({MIN_EXEMPLARS}–{MAX_EXEMPLARS})", type=["txt", "csv"], key="clusters.lk_file",
                                  max_upload_size=5)
        if listed is None:
            st.stop()
        exemplars = exemplars_from_names(accounts, exemplar_lines(listed.getvalue()))
    else:
        exemplars = default_exemplars(accounts)
except LookalikeError as exc:
    st.info(escape_markdown(exc), icon=":material/info:")
    st.stop()
lk_key = base_key + (tuple(exemplars.tolist()),)
lk = lookalike_results().get(lk_key)
if lk is None:
    with st.status(f"Comparing {count(accounts.n)} accounts with {len(exemplars)} exemplars…", expanded=True) as status:
        bar = st.progress(0.0)
        lk = find_lookalikes(accounts, exemplars, columns, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
        status.update(label=f"Similarity of {count(accounts.n)} accounts to {len(exemplars)} exemplars",
                      state="complete", expanded=False)
    lookalike_results().put(lk_key, lk)
near = one_step_away(lk, result, accounts, columns, float(min_sim), limit=200)
outcome = app_state().chosen_outcome(cur.dataset_id)
try:
    outcome = outcome or default_outcome(accounts)
    aucs = (similarity_auc(lk, accounts, outcome), score_auc(result, accounts, outcome, lk.exemplars))
except EvidenceError:
    aucs = None
line = f"{len(exemplars)} exemplars · {count(len(near))} account{'s' if len(near) != 1 else ''} one step away"
if aucs and not any(np.isnan(a) for a in aucs):
    line += (f" · held-out AUC ({escape_markdown(outcome.label())}): similarity alone {aucs[0]:.2f}, "
             f"ICP score {aucs[1]:.2f}")
st.caption(line)
if len(near):
    shown = near.drop(columns="row").rename(columns={"account": "Account", "tier": "Tier", "score": "Score",
                                                     "closest exemplar": "Closest exemplar"})
    st.dataframe(shown, hide_index=True, width="stretch", height=320, key="clusters.one_step",
                 column_config={"similarity": st.column_config.ProgressColumn("Similarity", min_value=0, max_value=100,
                                                                              format="%.0f"),
                                "shared": st.column_config.TextColumn("Shares with the exemplar", width="large"),
                                "missing": st.column_config.TextColumn("Traits it misses", width="large")})
