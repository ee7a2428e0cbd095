"""TAM page: the market (this dataset or a market list) scored by the same ICP, segmented by one
or two dimensions, with penetration, ACV, TAM, SAM and SOM per segment and the assumptions."""

import tempfile
from pathlib import Path

import altair as alt
import numpy as np
import streamlit as st

from icp_core.breadth import market_breadth
from icp_core.export import to_csv_bytes
from icp_core.formatting import VEGA_MONEY_FORMAT, VEGA_MONEY_LABEL, count, money, pct
from icp_core.ingest import IngestError, ingest_dataset
from icp_core.scoring import TIER_LABELS, score_profile
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore
from icp_core.tam import (
    DIMENSIONS,
    DISPLAY_FORMATS,
    NO_CUSTOMER_DATA,
    TamAssumptions,
    TamError,
    known_customers,
    segment_key,
    segment_values,
    serviceable_mask,
    tam_sortable,
    tam_table,
)
from icp_core.worth import MIN_CHURNED, WorthAssumptions, cac_column, worth_table
from ui.cached import account_matrix, cluster_results
from ui.state import app_state, current_dataset, escape_markdown, read_only, working


def md_money(x) -> str:
    """money() inside markdown ("$" would otherwise start LaTeX)."""
    return escape_markdown(money(x))


cur = current_dataset()
accounts = cur.accounts
profile = working(cur)["profile"]
result, _ = score_profile(accounts, profile)
customers = known_customers(accounts)  # None: this dataset says nothing about customers (a market list)

st.title("TAM")
st.caption("How big is each segment's market? Market accounts × ACV (from your customers, or yours) = TAM; "
           "serviceable accounts × ACV = SAM; SAM × attainable share = SOM.")

# ------------------------------------------------------------------ market

readonly = read_only() is not None
own_store = DatasetStore(cur.root, cur.workspace)
datasets = [] if readonly else own_store.list_datasets()[0]  # a share link lists nothing else
choices = {("self", cur.dataset_id): f"This dataset's accounts ({cur.meta['name']})"}
for m in datasets:
    if m["id"] != cur.dataset_id:
        choices[(cur.workspace, m["id"])] = f"Market list: {m['name']} ({count(m['rows'])} accounts)"
sample_id = (app_state().sample_dataset or (None, None))[1]
if sample_id and sample_id != cur.dataset_id and not readonly:
    choices[(SAMPLE_WORKSPACE, sample_id)] = "Market list: the sample accounts"

with st.expander("Upload a market list (prospects or a firmographic universe)", icon=":material/upload:") \
        if not readonly else st.empty():
    up = None if readonly else st.file_uploader("Market file", type=["csv", "tsv", "txt", "xlsx", "parquet"], key="tam.market_file")
    if up is not None and st.button("Load market list", key="tam.load_market"):
        with st.status(f"Loading {escape_markdown(up.name)}…", expanded=True) as status:
            bar = st.progress(0.0)
            with tempfile.TemporaryDirectory(prefix="icp_market_") as tmp:
                path = Path(tmp) / ("market" + Path(up.name).suffix.lower())
                path.write_bytes(up.getbuffer())
                try:
                    res = ingest_dataset(own_store, path, name=f"Market: {Path(up.name).stem}",
                                         progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
                                         display_names=(up.name, None))
                except IngestError as exc:
                    status.update(label=f"Could not load: {escape_markdown(exc)}", state="error")
                    st.stop()
            status.update(label=f"Loaded {res.meta['rows']:,} market accounts", state="complete", expanded=False)
        st.session_state["tam.market"] = (cur.workspace, res.dataset_id)
        st.rerun()

if st.session_state.get("tam.market") not in choices:
    st.session_state["tam.market"] = next(iter(choices))
market_key = st.selectbox("Market", list(choices), format_func=choices.get, key="tam.market")
if market_key[0] == "self":
    market, market_result = accounts, result
else:
    mstore = DatasetStore(cur.root, market_key[0])
    market = account_matrix(str(cur.root), market_key[0], market_key[1],
                            mstore.meta_path(market_key[1]).stat().st_mtime_ns)
    market_result, binding = score_profile(market, profile)
    if binding.problems:
        st.warning("Scoring the market list without: " + "; ".join(escape_markdown(p) for p in binding.problems),
                   icon=":material/warning:")

# ------------------------------------------------------------------ segments and assumptions

clusters = names = None
last = app_state().last_clustering(cur.dataset_id)  # shown on the Clusters page, while still in the shared store
clustering = cluster_results().get(last.key) if last is not None and market_key[0] == "self" else None
if clustering is not None:
    clusters, names = clustering.labels, list(last.names)
dims = {k: v for k, v in DIMENSIONS.items() if k != "cluster" or clusters is not None}
c1, c2 = st.columns([2, 3])
by = c1.multiselect("Segment by (one or two)", list(dims), default=["tier"], max_selections=2,
                    format_func=dims.get, key="tam.by")
if clusters is None:
    c1.caption("Run the Clusters page to segment by cluster.")
with c2:
    a1, a2, a3 = st.columns(3)
    stat = a1.radio("ACV from customers' ARR", ["median", "mean"], horizontal=True, key="tam.acv_stat")
    min_customers = a2.number_input("Min customers per segment", 1, 1000, 5, key="tam.min_customers")
    share = a3.slider("Attainable share (SOM)", 1, 50, 10, format="%d%%", key="tam.share")
    b1, b2 = st.columns(2)
    override = b1.number_input("Your ACV (optional fallback)" if customers is not None else "Your ACV (a year, per account)",
                               min_value=0.0, value=None, step=1000.0, key="tam.acv_override",
                               placeholder="overall ACV" if customers is not None else "e.g. 20000")
    override_all = b2.checkbox("Use my ACV for every segment", key="tam.override_all", disabled=override is None)

with st.expander("Serviceable market (SAM filters)", icon=":material/filter_alt:"):
    country_spec = next((s for s in market.specs if s.role == "country"), None)
    countries = []
    if country_spec is not None:
        countries = st.multiselect("Countries served (none = all)",
                                   [v for v, _ in market.value_options(country_spec).get("values", [])],
                                   key="tam.countries")
    e1, e2 = st.columns(2)
    emin = e1.number_input("Employees at least", min_value=0.0, value=None, key="tam.emp_min")
    emax = e2.number_input("Employees at most", min_value=0.0, value=None, key="tam.emp_max")
    tiers = st.multiselect("ICP tiers served (none = all)", list(TIER_LABELS), key="tam.tiers")

if not by:
    st.info("Choose a dimension to segment by.")
    st.stop()
try:
    market_segs = [segment_values(market, market_result, d, clusters, names) for d in by]
    cust_segs = [segment_values(accounts, result, d, clusters, names) for d in by]
    serviceable, serv_note = serviceable_mask(market, countries, emin, emax, tiers, market_result)
    assumptions = TamAssumptions(acv_stat=stat, min_customers=int(min_customers), acv_override=override,
                                 override_all=bool(override_all and override is not None),
                                 attainable_share=share / 100, serviceable_note=serv_note)
    table, totals = tam_table(market_segs, serviceable, cust_segs if customers is not None else None, customers,
                              accounts.arr, assumptions)
except TamError as exc:
    st.warning(escape_markdown(exc), icon=":material/info:")
    st.stop()
known = totals["customers_known"]
if market_key[0] != "self" and known:  # how broad the ICP is against this market (icp_core.breadth)
    st.caption(f"Breadth of A+B against this market: {market_breadth(market_result, result, accounts).reading()}")


m = st.columns(5)
m[0].metric("TAM", money(totals["tam"]))
m[1].metric("SAM", money(totals["sam"]))
m[2].metric("SOM", money(totals["som"]))
m[3].metric("Market accounts", count(totals["market_accounts"]), help=f"{count(totals['serviceable_accounts'])} serviceable")
m[4].metric("Customers", count(totals["customers"]),
            help=(f"penetration {pct(totals['customers'] / max(totals['market_accounts'], 1), 1)}" if known else
                  f"unknown: this dataset has {NO_CUSTOMER_DATA}"))
dataset_name = escape_markdown(cur.meta["name"])
if not known and override is None:
    st.warning(f"“{dataset_name}” says nothing about customers ({NO_CUSTOMER_DATA}), so there is no ACV to take "
               "from it and no penetration to measure. Enter your average annual contract value per account in "
               "**Your ACV** above (e.g. 20000 for \\$20K a year): TAM = market accounts × your ACV. Or map a won/lost, "
               "churn or ARR column on the Data page.", icon=":material/warning:")
elif not known:
    st.info(f"Customers are unknown: “{dataset_name}” has {NO_CUSTOMER_DATA}, so customers and penetration show "
            f"“–” and every segment's ACV is your ACV, {md_money(override)}.", icon=":material/info:")
elif not np.isfinite(totals["fallback_acv"]) and override is None:
    st.warning("No customer has an ARR value, so there is no ACV to multiply by: enter your ACV above "
               "(or map an ARR column on the Data page).", icon=":material/warning:")
elif totals["segments_on_fallback"]:
    st.info(f"{count(totals['segments_on_fallback'])} segment(s) have fewer than {assumptions.min_customers} customers with "
            f"ARR: their ACV is the fallback {md_money(totals['fallback_acv'])} (marked in the table).",
            icon=":material/info:")

top = table[np.isfinite(table["tam"])].head(15)
if len(top):
    long = top.melt(id_vars=["segment"], value_vars=["tam", "sam", "som"], var_name="measure", value_name="value")
    long["measure"] = long["measure"].str.upper()
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("segment:N", sort=top["segment"].tolist(), title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("value:Q", title="USD", axis=alt.Axis(labelExpr=VEGA_MONEY_LABEL, tickCount=8)),
        yOffset=alt.YOffset("measure:N", sort=["TAM", "SAM", "SOM"]),
        color=alt.Color("measure:N", sort=["TAM", "SAM", "SOM"],
                        scale=alt.Scale(range=["#1e3a8a", "#3b82f6", "#93c5fd"]),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=["segment", "measure", alt.Tooltip("value:Q", format=VEGA_MONEY_FORMAT)],
    ).properties(height=alt.Step(11), title="Largest segments by TAM")
    st.altair_chart(chart.configure_axis(labelFontSize=13, titleFontSize=13), width="stretch")

# The table keeps its numbers (so columns sort by value) and shows them as formatting.py writes them;
# unknown values read "–" (tam_sortable).
headers = {"segment": " · ".join(dims[d] for d in by), "market_accounts": "Market accounts",
           "serviceable_accounts": "Serviceable", "customers": "Customers", "penetration": "Penetration",
           "acv": "Segment ACV", "acv_used": "ACV used", "acv_source": "ACV from", "tam": "TAM ($)",
           "sam": "SAM ($)", "som": "SOM ($)"}
st.dataframe(tam_sortable(table).rename(columns=headers).style.format(
    {headers[c]: f for c, f in DISPLAY_FORMATS.items()}),
    hide_index=True, width="stretch", key="tam.table",
    column_order=[h for c, h in headers.items() if c != "acv_source"] + [headers["acv_source"]])

# ------------------------------------------------------------------ worth per segment (icp_core.worth)

st.subheader("Worth per segment")
w1, w2 = st.columns([1, 3], vertical_alignment="bottom")
margin = w1.number_input("Gross margin (%)", min_value=1, max_value=100, value=80, step=5, key="tam.margin")
cac_spec = cac_column(accounts.specs)
worth = by_tier = None
if customers is None:
    w2.caption(f"Unknown: “{dataset_name}” has {NO_CUSTOMER_DATA}.")
else:
    cac = accounts.column_array(cac_spec) if cac_spec is not None else None
    wa = WorthAssumptions(gross_margin=margin / 100)
    worth = worth_table(segment_key(cust_segs), customers, accounts.arr, accounts.churned, cac, wa)
    by_tier = worth_table(segment_values(accounts, result, "tier"), customers, accounts.arr, accounts.churned, cac, wa)
    w2.caption(f"LTV = ACV × {margin} % margin ÷ annual churn rate (segments with fewer than {MIN_CHURNED} churned "
               "customers: unknown)" + (f"; CAC payback from “{escape_markdown(cac_spec.header)}”" if cac_spec is not None
                                        else "; no CAC or acquisition-cost column for a payback") + ".")
    worth_headers = {"segment": headers["segment"], "customers": "Customers", "acv": "ACV", "churned": "Churned",
                     "churn_rate": "Churn rate", "ltv": "LTV", "cac": "CAC", "payback_months": "CAC payback (months)",
                     "note": "Note"}
    formats = {"Customers": count, "ACV": money, "Churned": count, "Churn rate": lambda x: pct(x, 1), "LTV": money,
               "CAC": money, "CAC payback (months)": lambda x: f"{x:.1f}"}
    if cac_spec is None:
        worth_headers = {k: v for k, v in worth_headers.items() if k not in ("cac", "payback_months")}
    known_or_dash = {k: (lambda f: lambda x: "–" if not np.isfinite(x) else f(x))(f) for k, f in formats.items()
                     if k in worth_headers.values()}

    def worth_grid(frame, key: str, segment_header: str) -> None:
        # an unknown number shows "–" and sorts last: a grid shows a NaN cell as "None", whatever its format
        shown = frame[list(worth_headers)].rename(columns=worth_headers | {"segment": segment_header})
        shown = shown.astype({c: float for c in known_or_dash}).fillna({c: -np.inf for c in known_or_dash})
        st.dataframe(shown.style.format(known_or_dash), hide_index=True, width="stretch", key=key)

    if by == ["tier"]:  # the segments are the tiers already
        worth_grid(worth, "tam.worth", headers["segment"])
    else:
        t1, t2 = st.columns([3, 2])
        with t1:
            worth_grid(worth, "tam.worth", headers["segment"])
        with t2:
            worth_grid(by_tier, "tam.worth_tier", "ICP tier")

# the TAM table leaves with the worth per segment beside it
export = table if worth is None else table.merge(
    worth.drop(columns=["customers"]).add_prefix("worth_").rename(columns={"worth_segment": "segment"}),
    on="segment", how="left")
st.download_button("Download the table (CSV)", to_csv_bytes(export), file_name="tam.csv",
                   mime="text/csv", key="tam.download", on_click="ignore", icon=":material/download:")

if known:
    who = 'won' if accounts.has['won'] else 'retained' if accounts.has['churned'] else 'ARR-paying'
    customers_line = f"{who} accounts of “{dataset_name}” ({count(totals['customers'])})"
    acv_line = (f"{stat} ARR of a segment's customers; segments with fewer than {assumptions.min_customers} "
                f"customers with ARR use {'your ACV ' if override is not None else 'the overall ' + stat + ' '}"
                f"{md_money(totals['fallback_acv'])}" + (" — your ACV is used for every segment." if assumptions.override_all
                                                      else "."))
else:
    customers_line = f"unknown — “{dataset_name}” has {NO_CUSTOMER_DATA}; penetration is unknown too"
    acv_line = (f"your ACV, {md_money(override)}, for every segment (there are no customers to take one from)."
                if override is not None else "none yet — enter **Your ACV** above.")
st.markdown("**Assumptions**\n"
            f"- Market: {escape_markdown(choices[market_key])}, scored with “{escape_markdown(profile.name)}”.\n"
            f"- Customers: {customers_line}.\n"
            f"- ACV: {acv_line}"
            + f"\n- Serviceable: {escape_markdown(serv_note)}.\n- SOM: {pct(share / 100)} of SAM.")
