"""Evidence page: pick what a good customer is, backtest the current ICP (lift, AUC, gains,
cohorts) against a black-box reference, and adopt data-suggested traits."""

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from icp_core.backtest import live_backtest, set_backtest
from icp_core.calibration import (
    MAX_N,
    MIN_N,
    SAMPLE_ID,
    TIERS4,
    CalibrationError,
    blind_sheet,
    calibrate,
    draw_sample,
    sheet_label,
)
from icp_core.campaign import (
    CampaignError,
    classify_groups,
    compare_results,
    draw_control,
    find_columns,
    read_campaign_results,
)
from icp_core.cohorts import cohort_table, date_columns
from icp_core.dataset import day_to_iso
from icp_core.export import to_csv_bytes
from icp_core.formatting import TIER_COLORS, count, format_number, pct, points
from icp_core.lookalike import account_names, score_auc, similarity_auc
from icp_core.outcomes import (
    OUTCOME_KINDS,
    PMF_METHODS,
    EvidenceError,
    Outcome,
    OutcomeIncomplete,
    account_labels,
    available_outcomes,
    default_outcome,
    outcome_weights,
    pmf_inputs,
    pmf_scores,
)
from icp_core.profile import adopt_traits, now_iso
from icp_core.reference import REFERENCE_FOLDS, REFERENCE_MAX_ROWS
from icp_core.scoring import INSUFFICIENT_CODE, TIER_LABELS, score_profile
from icp_core.suggest import nice_bound
from icp_core.tam import known_customers
from icp_core.timeline import (
    TimelineError,
    as_of_backtest,
    created_date,
    default_cut,
    default_outcome_date,
    inflow,
    opportunity_days,
    suggested_as_of,
)
from ui.cached import default_lookalikes, leak_flags_cached, reference_auc_cached, suggestion_cached
from ui.state import (
    app_state,
    current_dataset,
    escape_markdown,
    read_only,
    replace_profile,
    score_working_set,
    working,
    working_set,
)

cur = current_dataset()
accounts = cur.accounts
work = working(cur)
profile = work["profile"]

st.title("Evidence")
st.caption("Does the ICP separate good customers from the rest, and which traits does the data itself suggest? "
           "Backtests use a fixed held-out 30 % of accounts; suggestions learn from the other 70 %.")

# ------------------------------------------------------------------ outcome

kinds = available_outcomes(accounts)
default = default_outcome(accounts)  # won, retained, a yes/no column like Converted or Churn, ...
outcome_cols = [s for s in accounts.specs if s.role != "ignore" and s.kind not in ("id", "text", "list", "date")]
# the good side of a yes/no column, offered as a choice instead of typed
YES_NO = {"boolean": {"true": "Yes (true, 1)", "false": "No (false, 0)"},
          "churn": {"false": "Retained (not churned)", "true": "Churned"},
          "stage": {"won": "Won", "lost": "Lost"}}


def keep_valid(key: str, options: list) -> None:
    """Forget a widget's value chosen on another dataset when it is not an option on this one,
    so the widget starts from this dataset's default."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def ui_message(exc: Exception) -> str:
    """A core message as page text: sentence case, markdown characters shown as typed."""
    text = str(exc)
    return escape_markdown(text[:1].upper() + text[1:])


def outcome_inputs(prefix: str, kind: str) -> tuple[Outcome, str | None]:
    """The widgets that complete an outcome of `kind` (keys under `prefix`). Returns the outcome and,
    while it is incomplete (no column, no rule, no good value yet), what to ask the user for."""
    if kind == "arr_above":
        median = float(np.nanmedian(accounts.arr)) if np.isfinite(accounts.arr).any() else 0.0
        v = st.number_input("ARR at least", min_value=0.0, value=round(median, -2), step=1000.0,
                            key=f"{prefix}.arr")
        return Outcome("arr_above", arr_floor=v), None
    if kind == "short_cycle":
        spec = next(s for s in accounts.specs if s.role == "sales_cycle_days")
        x = accounts.column_array(spec)
        v = st.number_input("Sales cycle at most (days)", min_value=0.0, value=float(np.nanmedian(x)), step=5.0,
                            key=f"{prefix}.cycle")
        return Outcome("short_cycle", max_cycle_days=v), None
    if kind == "column":
        labels = {s.header: s for s in outcome_cols}
        names = list(labels)
        keep_valid(f"{prefix}.column", names)
        start = default.column if default.kind == "column" else None
        col = st.selectbox("Column", names, index=names.index(start) if start in names else None,
                           placeholder="Pick the column that says what a good customer is",
                           key=f"{prefix}.column")
        if col is None:
            return Outcome("column"), ("Pick the **Column** that says what a good customer is "
                                       "(e.g. Converted, Won, Churn).")
        spec = labels[col]
        # Another column (or dataset) starts from its own default rule: forget the rules typed for the
        # previous one (a run that stopped early, e.g. on a missing rule, does not clear widget state).
        if st.session_state.get(f"{prefix}.picked") != (cur.dataset_id, col):
            for k in [k for k in st.session_state if str(k).startswith(f"{prefix}.rule.")]:
                del st.session_state[k]
            st.session_state[f"{prefix}.picked"] = (cur.dataset_id, col)
        preset = default.good_when if default.kind == "column" and default.column == col else None
        key = f"{prefix}.rule.{spec.key}"  # one key per column: each kind of input has its own widget
        if spec.kind in ("number", "year"):
            median = accounts.value_options(spec).get("quantiles", {}).get("median")
            example = ">= " + (format_number(nice_bound(float(median), spec.kind)) if median is not None else "9")
            pos = st.text_input("Good when", value=preset or "", placeholder=f"e.g. {example}", key=key,
                                help="A comparison with a number: >= 9, < 30, = 1, >= 1.5M (a number alone means >=).")
            if not pos.strip():
                return Outcome("column", column=col), (f"Type when **{escape_markdown(col)}** counts as good in "
                                                       f"*Good when*, e.g. {escape_markdown(example)}.")
        elif spec.kind in YES_NO:
            opts = YES_NO[spec.kind]
            pos = st.radio("Good when", list(opts), format_func=opts.get, horizontal=True, key=key,
                           index=list(opts).index(preset) if preset in opts else 0)
        else:
            opts = [v for v, _ in accounts.value_options(spec).get("values", [])]
            chosen = st.multiselect("Good values", opts, key=key, placeholder="Pick the values of a good customer")
            if not chosen:
                return Outcome("column", column=col), (f"Pick the values of **{escape_markdown(col)}** that make a "
                                                       "good customer in *Good values*.")
            pos = "|".join(chosen)
        return Outcome("column", column=col, good_when=pos), None
    return Outcome(kind), None


def pmf_inputs_ui() -> Outcome:
    """Columns, weights, normalisation and cut of a product-market-fit score."""
    specs = {s.header: s for s in pmf_inputs(accounts)}
    preferred = [h for h, s in specs.items() if s.role in ("deal_stage", "churned", "nps", "arr")] or list(specs)[:3]
    chosen = st.multiselect("Inputs", list(specs), default=preferred[:4], key="evidence.pmf.inputs")
    cols = st.columns(max(len(chosen), 1))
    raw = []
    for col, h in zip(cols, chosen, strict=False):
        raw.append((h, col.slider(escape_markdown(h), 0, 100, 100 // max(len(chosen), 1), step=5, key=f"evidence.pmf.w.{h}")))
    total = sum(w for _, w in raw)
    comps = [(h, w / total) for h, w in raw if w > 0] if total else []
    if comps:
        st.caption("Weights as used (normalised to 100 %): " + ", ".join(f"{escape_markdown(h)} {pct(w)}" for h, w in comps))
    n1, n2 = st.columns(2)
    method = n1.radio("Normalise each input by", list(PMF_METHODS), format_func=PMF_METHODS.get, horizontal=True,
                      key="evidence.pmf.method")
    top = n2.slider("Good customers: the top … % by PMF score", 5, 80, 50, step=5, key="evidence.pmf.top")
    return Outcome("pmf", pmf_columns=comps, pmf_method=method, pmf_top_percent=top)


ask = None
with st.container(border=True):
    c1, c2 = st.columns([1, 2])
    keep_valid("evidence.kind", kinds)
    kind = c1.selectbox("A good customer is", kinds, format_func=OUTCOME_KINDS.get, key="evidence.kind",
                        index=kinds.index(default.kind))
    with c2:
        if kind == "pmf":
            outcome = pmf_inputs_ui()
        elif kind == "composite":
            parts = [k for k in kinds if k not in ("column", "composite", "pmf")]
            defaults = {"won": 50, "retained": 20, "nps_promoter": 15, "arr_above": 15, "short_cycle": 0}
            cols = st.columns(max(len(parts), 1))
            comps = []
            for col, k in zip(cols, parts, strict=False):
                with col:
                    wgt = st.slider(OUTCOME_KINDS[k], 0, 100, defaults.get(k, 0), step=5, key=f"evidence.w.{k}")
                    if k in ("arr_above", "short_cycle"):
                        comp, _ = outcome_inputs(f"evidence.c.{k}", k)
                    else:
                        comp = Outcome(k)
                    comps.append((comp, wgt / 100))
            total = sum(w for _, w in comps)
            if total > 0:
                comps = [(c, w / total) for c, w in comps]
            st.caption("Each account's known components are averaged with these weights (normalised to 100 %); "
                       "it counts as good when the blend is at least 50 %.")
            outcome = Outcome("composite", components=comps)
        else:
            outcome, ask = outcome_inputs("evidence.o", kind)
app_state().set_chosen_outcome(cur.dataset_id, outcome)  # the Score and Share pages use it

if ask:
    st.info(ask, icon=":material/arrow_upward:")
    st.stop()
try:
    y, w = outcome_weights(accounts, outcome)
except OutcomeIncomplete as exc:
    st.info(ui_message(exc), icon=":material/info:")
    st.stop()
except EvidenceError as exc:
    st.warning(ui_message(exc), icon=":material/warning:")
    st.stop()
if not np.isfinite(y).any():
    st.warning("No account has a known value for this outcome.", icon=":material/info:")
    st.stop()

result, binding = score_profile(accounts, profile)
# accounts with Insufficient data are left out of the backtest unless asked (toggle on the Backtest tab)
bt = live_backtest(accounts, result, outcome,
                   include_insufficient=bool(st.session_state.get("evidence.include_insufficient")))

def lookalike_line(outcome) -> None:
    """The similarity to the best customers (won, highest ARR: the Clusters page's lookalikes) as a
    ranking of its own, beside the ICP score on the same held-out accounts. Made on request here
    (seconds on a million accounts), shown at once when the Clusters page or an export made it."""
    if known_customers(accounts) is None:
        return
    lk = default_lookalikes(cur, accounts, cached_only=True)
    if lk is None and st.button("Compare with lookalike similarity", key="evidence.lookalikes",
                                icon=":material/group_work:"):
        with st.status("Comparing every account with the best customers…") as status:
            bar = st.progress(0.0)
            lk = default_lookalikes(cur, accounts, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
            status.update(label="Lookalike similarity ready", state="complete")
    if lk is not None:
        sim, icp = similarity_auc(lk, accounts, outcome), score_auc(result, accounts, outcome, lk.exemplars)
        if not (np.isnan(sim) or np.isnan(icp)):
            st.caption(f"Lookalike similarity to the {len(lk.exemplars)} won customers with the highest ARR, as a "
                       f"ranking of its own: held-out AUC **{sim:.2f}**, beside the ICP score's **{icp:.2f}** on the "
                       "same accounts (the exemplars left out).")


def leak_panel(sug, allow_key: str) -> None:
    """Columns that look written after the outcome (or proxy it), with the evidence: left out of the
    suggestion unless the user includes them here (issue 18)."""
    if not sug.leaks:
        return
    st.warning(f"{len(sug.leaks)} column{'s' if len(sug.leaks) != 1 else ''} may leak the outcome "
               "(known only after it, or a stand-in for it). A suggestion built on them looks better here "
               "than it will on new accounts, so they are left out:", icon=":material/report:")
    st.markdown("\n".join(f"- {escape_markdown(f.reading())}" for f in sug.leaks))
    st.multiselect("Include anyway", [f.header for f in sug.leaks], key=allow_key,
                   help="Only when you know the column is filled in before the outcome.")


def leak_warning(flags: dict) -> None:
    """The backtest's warning when the profile scores on a flagged column."""
    used = [flags[s.key] for _, s in binding.traits if s.key in flags]
    if used:
        st.warning("This profile uses column(s) that may leak the outcome, so its backtest flatters it: "
                   + "; ".join(escape_markdown(f.reading()) for f in dict.fromkeys(used)), icon=":material/report:")


tab_bt, tab_time, tab_suggest, tab_calibrate, tab_cohort, tab_campaign = st.tabs(
    ["Backtest", "Over time", "Suggested traits", "Calibrate with sales", "Cohorts", "Campaign test"])

# ------------------------------------------------------------------ backtest


with tab_bt:
    leak_warning(leak_flags_cached(str(cur.root), cur.dataset_ws, cur.dataset_id, cur.stamp, outcome))
    st.markdown(f"**{escape_markdown(profile.name)}** on **{escape_markdown(outcome.label())}**: "
                f"{count(bt.n)} held-out {bt.unit}, {count(bt.n_pos)} good (base rate {pct(bt.base_rate)})."
                + (" Each account counts once per closed deal (won or lost), so rates are deal win rates."
                   if bt.unit != "accounts" else ""))
    for msg in bt.warnings:
        st.warning(msg, icon=":material/warning:")
    if (result.pattern_tier == INSUFFICIENT_CODE).any():
        st.toggle("Include accounts with insufficient data", key="evidence.include_insufficient",
                  help=f"Accounts with under {profile.tier_rule.insufficient_below:g} % of the trait weight known "
                       "are not tiered; by default the backtest judges the ICP only on accounts it can judge")
    # short labels (six metrics share the row at 1280 px with the sidebar open); the detail is in help=
    m = st.columns(6)
    m[0].metric("Held-out AUC", "–" if math.isnan(bt.auc) else f"{bt.auc:.2f}",
                help="ROC AUC of the ICP score on the held-out 30 % of accounts: 0.5 is chance, 1 is perfect."
                + (f" 95 % interval {bt.auc_low:.2f}–{bt.auc_high:.2f} (Hanley–McNeil)." if not math.isnan(bt.auc)
                   else ""))
    # The reference model is fitted after the backtest is drawn (below): this slot holds its metric,
    # showing this session's last value for the same outcome meanwhile (no flicker on a rerun).
    reference_key = (cur.dataset_id, cur.stamp, outcome.key())
    reference_seen = st.session_state.setdefault("evidence.reference_seen", {})
    reference_slot = m[1].empty()
    reference_slot.metric("Reference AUC", reference_seen.get(reference_key, "…"),
                          help="Fitting the black-box reference; its AUC appears here.")
    m[2].metric("Good in A+B", pct(bt.captured_good), help="Share of the held-out good customers in tiers A+B")
    m[3].metric("ARR in A+B", pct(bt.captured_arr), help="Share of all ARR in tiers A+B")
    m[4].metric("Customers in ICP", pct(bt.customers_in_icp), help="Share of won accounts in tiers A+B")
    m[5].metric("Pipeline in ICP", pct(bt.pipeline_in_icp), help="Share of accounts with open deals in tiers A+B")

    icps = working_set(cur)
    if len(icps) > 1:  # each ICP of the set and their best-fit combination, on the same held-out accounts
        set_table = set_backtest(accounts, score_working_set(cur, (result, binding))[1], outcome)
        st.dataframe(set_table.rename(columns={"icp": "ICP", "auc": "Held-out AUC", "accounts_ab": "Accounts in A+B",
                                               "good_ab": "Good in A+B", "rate_ab": "Good rate in A+B",
                                               "lift_ab": "Lift of A+B"}),
                     hide_index=True, width="stretch", key="evidence.set_backtest", column_config={
                         "Held-out AUC": st.column_config.NumberColumn(format="%.2f"),
                         "Accounts in A+B": st.column_config.NumberColumn(format="percent"),
                         "Good in A+B": st.column_config.NumberColumn(format="percent"),
                         "Good rate in A+B": st.column_config.NumberColumn(format="percent"),
                         "Lift of A+B": st.column_config.NumberColumn(format="%.2f×")})
    lookalike_line(outcome)
    # the tier table spans the page (in a column at 1280 px it clipped "Insufficient data" and the rates)
    t = bt.tiers.copy()
    t["Rate"] = [f"{pct(r)} ({pct(lo)}–{pct(hi)})" if k else "–"
                 for r, lo, hi, k in zip(t["rate"], t["rate_low"], t["rate_high"], t["known"], strict=True)]
    t["Lift"] = [("–" if math.isnan(x) else f"{x:.2f}×") + (" ⚠" if few else "") for x, few in zip(t["lift"], t["too_few"], strict=True)]
    known = "Held-out deals" if bt.unit != "accounts" else "Held-out known"
    st.dataframe(t[["tier", "accounts", "known", "good", "Rate", "Lift"]].rename(
        columns={"tier": "Tier", "accounts": "Accounts", "known": known, "good": "Good"}),
        hide_index=True, width="stretch", key="evidence.tiers",
        column_config={c: st.column_config.NumberColumn(c, format="localized")
                       for c in ("Accounts", known, "Good")})
    left, right = st.columns(2)
    with left:
        colour = alt.Scale(domain=list(TIER_LABELS), range=[TIER_COLORS[x] for x in TIER_LABELS])
        lift = bt.tiers.dropna(subset=["lift"])
        chart = alt.Chart(lift).mark_bar().encode(
            x=alt.X("tier:N", sort=list(TIER_LABELS), title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("lift:Q", title="Lift over base rate"),
            color=alt.Color("tier:N", scale=colour, legend=None),
            tooltip=["tier", alt.Tooltip("rate:Q", format=".0%"), alt.Tooltip("lift:Q", format=".2f"), "known"])
        base_line = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
        st.altair_chart((chart + base_line).properties(height=260, title="Lift per tier (held out)"), width="stretch")
    with right:
        diag = pd.DataFrame({"share_targeted": [0, 1], "share_captured": [0, 1]})
        gains = alt.Chart(bt.gains).mark_line(color="#2563eb", strokeWidth=3).encode(
            x=alt.X("share_targeted:Q", title="Share of accounts targeted (best score first)", axis=alt.Axis(format="%")),
            y=alt.Y("share_captured:Q", title="Good customers captured", axis=alt.Axis(format="%")))
        chance = alt.Chart(diag).mark_line(strokeDash=[4, 4], color="#888").encode(x="share_targeted:Q",
                                                                                    y="share_captured:Q")
        st.altair_chart((gains + chance).properties(height=260, title="Cumulative gains (held out)"), width="stretch")
    if outcome.kind == "pmf":
        pmf = pmf_scores(accounts, outcome.pmf_columns, outcome.pmf_method)
        per_tier = pd.DataFrame({"Tier": np.array(TIER_LABELS, dtype=object)[result.tier], "PMF": pmf}).groupby(
            "Tier", sort=False)["PMF"].agg(["mean", "count"]).reindex(list(TIER_LABELS)).reset_index()
        p1, p2 = st.columns([1, 2])
        p1.markdown("**PMF score by tier** (0–1)")
        p1.dataframe(per_tier.rename(columns={"mean": "Mean PMF", "count": "Accounts with inputs"}), hide_index=True,
                     width="stretch", key="evidence.pmf_tiers",
                     column_config={"Mean PMF": st.column_config.ProgressColumn(min_value=0, max_value=1, format="%.2f")})
        top_rows = np.argsort(-np.nan_to_num(pmf, nan=-1))[:200]
        table = accounts.display.iloc[top_rows].drop(columns=["row_id"]).copy()
        table.insert(1, "PMF", np.round(pmf[top_rows], 3))
        table.insert(2, "Tier", np.array(TIER_LABELS, dtype=object)[result.tier[top_rows]])
        p2.markdown("**Highest PMF scores**")
        p2.dataframe(table, hide_index=True, width="stretch", height=260, key="evidence.pmf_accounts")

# ------------------------------------------------------------------ reference (after the backtest is on screen)

ref = reference_auc_cached(str(cur.root), cur.dataset_ws, cur.dataset_id, cur.stamp, outcome)
reference_seen[reference_key] = "–" if math.isnan(ref) else f"{ref:.2f}"
reference_slot.metric(
    "Reference AUC", reference_seen[reference_key],
    help=f"{REFERENCE_FOLDS}-fold cross-validated AUC of a gradient-boosting model (scikit-learn "
         f"HistGradientBoostingClassifier) on the same columns, on a stratified sample of at most "
         f"{count(REFERENCE_MAX_ROWS)} accounts (or deals, with rolled-up opportunities): what an unexplainable "
         "model reaches.")

# ------------------------------------------------------------------ suggestion

with tab_suggest:
    max_traits = st.slider("At most this many traits", 3, 12, 12, key="evidence.max_traits")
    allow_key = f"evidence.allow.{cur.dataset_id}.{outcome.key()}"
    allowed = frozenset(st.session_state.get(allow_key, []))
    with st.spinner("Looking for traits that separate good customers…"):
        sug = suggestion_cached(str(cur.root), cur.dataset_ws, cur.dataset_id, cur.stamp, outcome, max_traits, allowed)
    leak_panel(sug, allow_key)
    (st.success if sug.found else st.info)(sug.message)
    if sug.candidates:
        current = {t.definition_key(): t for t in profile.traits}
        rows = []
        for c in sug.candidates:
            mine = current.get(c.trait.definition_key())
            rows.append({
                "Trait": c.trait.label, "Column": c.column, "Support": c.support,
                "Rate": c.rate, "Lift": c.lift,
                "Interval": f"{pct(c.low)}–{pct(c.high)}",
                "You": (f"{mine.weight:+d}" if mine else "—"),
                "Data": (f"{c.data_weight:+d}" if c.data_weight else "—"),
                "Status": ("suggested" if c.data_weight else f"in “{c.merged_into}”" if c.merged_into
                           else "strong, not kept" if c.strong else "weak alone, not kept"),
            })
        table = pd.DataFrame(rows)
        event = st.dataframe(
            table, hide_index=True, width="stretch", key="evidence.candidates", on_select="rerun",
            selection_mode="multi-row",
            column_config={"Rate": st.column_config.NumberColumn(format="percent"),
                           "Lift": st.column_config.NumberColumn(format="%.2f×"),
                           "Support": st.column_config.NumberColumn(help="Training accounts with a known outcome that match")})
        st.caption("Strong: the rate differs from the base rate beyond chance on its own (Wilson interval, "
                   "Bonferroni-corrected for the number of comparisons). Weak alone: not by itself, but the "
                   "regression may still keep it when it adds to the others (cross-validated). Values or bands of "
                   "one column that get the same weight are suggested as one trait.")
        picked = [sug.candidates[i] for i in (event.selection.rows if event else []) if sug.candidates[i].data_weight]
        by_def = {c.trait.definition_key(): t for c in sug.candidates for t in sug.traits
                  if t.definition_key() == c.trait.definition_key()}
        b1, b2 = st.columns(2)
        if b1.button(f"Adopt all {len(sug.traits)} suggested traits", type="primary", key="evidence.adopt_all",
                     disabled=not sug.traits, icon=":material/done_all:"):
            replace_profile(cur, adopt_traits(profile, sug.traits))
            st.toast(f"Adopted {len(sug.traits)} traits into “{escape_markdown(profile.name)}”", icon=":material/check:")
            st.rerun()
        if b2.button(f"Adopt the {len(picked)} selected", key="evidence.adopt_selected", disabled=not picked,
                     icon=":material/check:"):
            replace_profile(cur, adopt_traits(profile, [by_def[c.trait.definition_key()] for c in picked]))
            st.rerun()
        if sug.traits:
            st.caption("Classes of adopted traits: positive weights are nice-to-have, −1 to −3 proceed with "
                       "caution, −4 and −5 stay away. A trait already in your profile takes the data's weight.")

# ------------------------------------------------------------------ over time (issue 18)


def over_time() -> None:
    """The as-of split beside the random one, AUC per quarter, and the ICP share of the inflow."""
    dates = {s.key: s for s in accounts.specs if s.kind == "date"}
    if not dates:
        st.info("This dataset has no date column (created, signup or close date): there is no time to split "
                "on, so only the random held-out split above can be judged.", icon=":material/event_busy:")
        return
    default = default_outcome_date(accounts, outcome)
    c1, c2 = st.columns(2)
    key = c1.selectbox("Outcome dated by", list(dates), index=list(dates).index(default.key) if default else 0,
                       format_func=lambda k: dates[k].header, key="evidence.time.date")
    spec = dates[key]
    try:
        median = default_cut(accounts, outcome, spec)
    except TimelineError as exc:
        st.info(escape_markdown(str(exc)), icon=":material/event_busy:")
        return
    cut = c2.date_input("Score as of", value=pd.Timestamp(day_to_iso(median)).date(), key=f"evidence.time.cut.{key}",
                        help="Traits from what was known on this day; outcomes after it judge them. Default: the "
                             "median outcome date.")
    cut_day = float((pd.Timestamp(cut) - pd.Timestamp("1970-01-01")).days)
    try:
        asof = as_of_backtest(accounts, profile, outcome, spec, cut_day, with_suggestion=False)
    except TimelineError as exc:
        st.warning(escape_markdown(str(exc)), icon=":material/event_busy:")
        return
    sug_auc = suggested_as_of(accounts, outcome, spec, cut_day, cached_only=True)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("AUC, scored as of the cut", "–" if np.isnan(asof.backtest.auc) else f"{asof.backtest.auc:.2f}",
              help=f"On the {count(asof.n_after)} accounts whose outcome is dated after {asof.cut}.")
    m2.metric("AUC, random split", "–" if np.isnan(asof.random_auc) else f"{asof.random_auc:.2f}")
    if sug_auc is None:
        if m3.button("Learn before the cut", key="evidence.time.learn", icon=":material/school:"):
            with st.status("Learning the traits from the accounts before the cut…") as status:
                sug_auc = suggested_as_of(accounts, outcome, spec, cut_day)
                status.update(label="Learnt", state="complete")
    if sug_auc is not None:
        m3.metric("Suggestion learnt before the cut", "–" if np.isnan(sug_auc) else f"{sug_auc:.2f}",
                  help=f"The data's traits learnt on the {count(asof.n_before)} accounts before the cut, judged "
                       "after it.")
    m4.metric("A+B hold, after the cut", pct(asof.backtest.captured_good))
    tiers = asof.backtest.tiers
    st.dataframe(tiers[["tier", "accounts", "known", "good", "rate", "lift"]].rename(columns={
        "tier": "Tier", "accounts": "Accounts", "known": "Known after the cut", "good": "Good", "rate": "Rate",
        "lift": "Lift"}), hide_index=True, width="stretch", key="evidence.time.tiers",
        column_config={"Rate": st.column_config.NumberColumn(format="percent"),
                       "Lift": st.column_config.NumberColumn(format="%.2f×")})
    st.caption(f"Scored as known on {asof.cut}: a date after it counts as blank. {count(asof.n_before)} accounts' "
               f"outcomes are dated on or before it, {count(asof.n_after)} after.")
    if len(asof.quarters):
        st.altair_chart(alt.Chart(asof.quarters).mark_line(point=True, strokeWidth=3).encode(
            x=alt.X("quarter:O", title=f"{spec.header} (quarter)"),
            y=alt.Y("auc:Q", title="AUC of the score", scale=alt.Scale(domain=[0.4, 1.0])),
            tooltip=["quarter", "accounts", "good", alt.Tooltip("auc:Q", format=".2f")]).properties(
            height=220, title="AUC per quarter: does the ICP still separate?"), width="stretch")
    inflow_section(asof)


def inflow_section(asof) -> None:
    """ICP share of the inflow: new accounts (or leads) and new opportunities per period in A+B."""
    st.markdown("**ICP share of the inflow**: of what arrives each period, how much falls in tiers A+B")
    dates = {s.key: s for s in accounts.specs if s.kind == "date"}
    created = created_date(accounts)
    c1, c2 = st.columns(2)
    key = c1.selectbox("Accounts arrive on", list(dates),
                       index=list(dates).index(created.key) if created else 0,
                       format_func=lambda k: dates[k].header, key="evidence.inflow.date")
    period = c2.radio("Per", ["quarter", "month"], horizontal=True, key="evidence.inflow.period")
    in_ab = result.tier <= 1
    frames = [inflow(accounts.day_numbers(dates[key]), in_ab, period, "accounts")]
    opp = opportunity_days(accounts, cur.meta)
    if opp is not None:
        frames.append(inflow(opp[1], in_ab[opp[0]], period, f"opportunities (by {opp[2]})"))
    table = pd.concat(frames, ignore_index=True)
    if table.empty:
        st.info("No dated arrivals to count.")
        return
    st.altair_chart(alt.Chart(table).mark_line(point=True).encode(
        x=alt.X("period:O", title=None), y=alt.Y("share_ab:Q", title="Share in A+B", axis=alt.Axis(format="%")),
        color=alt.Color("what:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["what", "period", "new", "in_ab", alt.Tooltip("share_ab:Q", format=".0%")]).properties(height=220),
        width="stretch")
    st.dataframe(table.rename(columns={"what": "What", "period": "Period", "new": "New", "in_ab": "In A+B",
                                       "share_ab": "Share A+B"}), hide_index=True, width="stretch",
                 key="evidence.inflow.table", column_config={"Share A+B": st.column_config.NumberColumn(format="percent")})


with tab_time:
    over_time()

# ------------------------------------------------------------------ calibration round (issue 18)

CAL = f"evidence.cal.{cur.dataset_id}"  # this dataset's round in session state: rows, ratings


def draw_round() -> None:
    st.session_state[CAL] = {"rows": draw_sample(result, st.session_state["evidence.cal.n"],
                                                 seed=st.session_state.get("evidence.cal.seed", 0)),
                             "ratings": {}}
    st.session_state["evidence.cal.seed"] = st.session_state.get("evidence.cal.seed", 0) + 1


def calibration_round() -> None:
    """The room tiers a blind sample (names shown, scores hidden), then sees where it agrees."""
    if read_only() is not None:
        st.info("A calibration round is run by the ICP's owner, not through a shared link.")
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.slider("Accounts in the round", MIN_N, MAX_N, 30, key="evidence.cal.n")
    c2.button("Draw the accounts", key="evidence.cal.draw", on_click=draw_round, icon=":material/casino:")
    state = st.session_state.get(CAL)
    if state is None:
        st.caption("Each person in the room tiers the same accounts A–D without seeing the scores; the "
                   "agreement with the model (weighted Cohen's kappa) shows whether sales and the ICP mean the same.")
        return
    rows = state["rows"]
    sheet = blind_sheet(accounts, rows, ["·"]).drop(columns="·")
    shown = [c for c in sheet.columns if c != SAMPLE_ID]
    with st.form("evidence.cal.form", clear_on_submit=True):
        name = st.text_input("Your name", max_chars=60, key="evidence.cal.name")
        picked = []
        for i, (_, r) in enumerate(sheet.iterrows()):
            label = sheet_label(r)
            picked.append(st.radio(escape_markdown(label[:160]), TIERS4, index=None, horizontal=True,
                                   key=f"evidence.cal.t{i}"))
        submitted = st.form_submit_button("Submit my tiers", type="primary")
    if submitted:
        who = (name or "").strip()
        codes = np.array([TIERS4.index(t) if t else -1 for t in picked])
        if not who:
            st.error("Type your name, so the room sees whose tiers these are.")
        elif who in state["ratings"]:
            st.error(escape_markdown(f"“{who}” has already submitted; use another name."))
        elif (codes >= 0).sum() == 0:
            st.error("Tier at least one account.")
        else:
            state["ratings"][who] = codes
    if not state["ratings"]:
        st.caption(f"{len(rows)} accounts drawn ({', '.join(shown[:3])} shown). Waiting for the first rater.")
        return
    try:
        cal = calibrate(accounts, profile, result, rows, state["ratings"], outcome)
    except CalibrationError as exc:
        st.error(escape_markdown(str(exc)))
        return
    calibration_results(cal)


def calibration_results(cal) -> None:
    m1, m2 = st.columns(2)
    m1.metric("Agreement with the model (weighted kappa)", "–" if np.isnan(cal.overall) else f"{cal.overall:.2f}",
              help="Linearly weighted Cohen's kappa: 1 = the same tiers, 0 = no better than chance; a tier apart "
                   "counts less than three apart.")
    m2.metric("Raters", len(cal.raters))
    st.dataframe(cal.per_rater.rename(columns={"rater": "Rater", "accounts": "Accounts tiered", "kappa": "Kappa"}),
                 hide_index=True, width="stretch", key="evidence.cal.raters",
                 column_config={"Kappa": st.column_config.NumberColumn(format="%.2f")})
    st.markdown("**Model (rows) × raters (columns)**")
    st.dataframe(cal.confusion, width="stretch", key="evidence.cal.confusion")
    if len(cal.disagreements):
        names = account_names(accounts)
        st.markdown("**Largest disagreements** and the trait that explains each")
        st.dataframe(cal.disagreements.assign(Account=names[cal.disagreements["row"].to_numpy()])[
            ["Account", "model", "raters", "direction", "trait"]].rename(columns={
                "model": "Model tier", "raters": "Raters (mean, A=0)", "direction": "Gap", "trait": "Trait"}),
            hide_index=True, width="stretch", key="evidence.cal.gaps")
    if len(cal.proposals):
        st.markdown("**Proposed weight changes** (one step toward the room, each with its backtest effect)")
        st.dataframe(cal.proposals.drop(columns="trait_id").rename(columns={
            "trait": "Trait", "weight": "Now", "proposed": "Proposed", "gaps": "Gaps it explains",
            "auc_before": "AUC now", "auc_after": "AUC with it"}), hide_index=True, width="stretch",
            key="evidence.cal.proposals",
            column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("AUC now", "AUC with it")})
        if st.button("Apply the proposed weights", key="evidence.cal.apply", icon=":material/tune:"):
            replace_profile(cur, profile.with_weights(dict(zip(cal.proposals.trait_id, cal.proposals.proposed,
                                                               strict=True))))
            st.rerun()
    if st.button("Keep this round with the ICP (saved with its next version)", key="evidence.cal.keep",
                 icon=":material/bookmark_add:"):
        kept = profile.copy()
        kept.calibration = {**cal.summary(), "date": now_iso()[:10]}
        replace_profile(cur, kept)
        st.toast("Kept: save the ICP on the Score page to store the round with its version.", icon=":material/check:")
        st.rerun()
    if profile.calibration:
        c = profile.calibration
        st.caption(f"Kept with this ICP: {c['accounts']} accounts, {len(c['raters'])} raters, kappa "
                   f"{c['kappa'] if c['kappa'] is not None else '–'}" + (f" ({c['date']})" if c.get("date") else ""))


with tab_calibrate:
    calibration_round()

# ------------------------------------------------------------------ cohorts

with tab_cohort:
    dates = date_columns(accounts, outcome)
    if not dates:
        st.info("This dataset has no date column (signup or close date) to form cohorts.")
    else:
        names = {s.header: s for s in dates}
        pick = st.selectbox("Cohort by", list(names), key="evidence.cohort_date")
        table = cohort_table(accounts, result, account_labels(y, w),
                             names[pick])
        if table.empty:
            st.info("Too few accounts with both a date and a known outcome for cohorts.")
        else:
            chart = alt.Chart(table).mark_line(point=True, strokeWidth=3).encode(
                x=alt.X("cohort:O", title=f"{pick} (quarter)"),
                y=alt.Y("rate:Q", title=f"Share good ({outcome.label()})", axis=alt.Axis(format="%")),
                color=alt.Color("group:N", scale=alt.Scale(domain=["ICP (A+B)", "Not ICP"],
                                                           range=[TIER_COLORS["A"], "#8d8d8d"]),
                                legend=alt.Legend(orient="top", title=None)),
                tooltip=["cohort", "group", "accounts", alt.Tooltip("rate:Q", format=".0%")])
            st.altair_chart(chart.properties(height=340), width="stretch")
            st.caption("Quarters with fewer than 10 accounts in a group are left out.")

# ------------------------------------------------------------------ campaign test

with tab_campaign:
    st.markdown("Prove the ICP in the market: send a campaign to the ICP group and to a random control group "
                "drawn from the other accounts, then compare response rates.")
    k1, k2, k3 = st.columns(3)
    target_tiers = k1.multiselect("ICP group = tiers", list(TIER_LABELS[:4]), default=["A", "B"], key="evidence.camp.tiers")
    in_target = np.isin(result.tier, [TIER_LABELS.index(t) for t in target_tiers])
    control_size = k2.number_input("Control group size", min_value=1, value=max(1, int(in_target.sum())),
                                   key="evidence.camp.size")
    seed = k3.number_input("Random seed", min_value=0, value=0, key="evidence.camp.seed")
    try:
        target_rows, control_rows = draw_control(np.flatnonzero(in_target), np.flatnonzero(~in_target & (result.tier < 4)),
                                                 int(control_size), int(seed))

        def campaign_lists() -> bytes:  # built on click, not on every rerun of the page
            rows = np.concatenate([target_rows, control_rows])
            lists = accounts.display.iloc[rows].drop(columns=["row_id"]).copy()
            lists.insert(0, "group", ["ICP"] * len(target_rows) + ["control"] * len(control_rows))
            lists["ICP Tier"] = np.array(TIER_LABELS, dtype=object)[result.tier[rows]]
            lists["responded"] = ""
            return to_csv_bytes(lists)

        st.download_button(f"Download both lists ({len(target_rows):,} ICP + {len(control_rows):,} control)",
                           campaign_lists, file_name="campaign_lists.csv", mime="text/csv",
                           key="evidence.camp.download", icon=":material/download:", on_click="ignore")
    except CampaignError as exc:
        st.warning(escape_markdown(exc))
    st.markdown("**After the campaign**: upload the results (the lists above with the `responded` column filled, "
                "or any file with a group and a response column).")
    res = st.file_uploader("Campaign results", type=["csv", "tsv", "txt", "xlsx"], key="evidence.camp.results")
    if res is not None:
        try:  # read like an upload: any encoding and delimiter, Excel, the reading limits
            frame = read_campaign_results(res, res.name)
        except CampaignError as exc:
            st.error(escape_markdown(f"Could not read the campaign results: {exc}"))
            frame = None
        if frame is not None:
            g_guess, r_guess = find_columns(list(frame.columns))
            r1, r2 = st.columns(2)
            cols = list(frame.columns)
            group_col = r1.selectbox("Group column", cols, index=cols.index(g_guess) if g_guess in cols else 0,
                                     key="evidence.camp.group")
            resp_col = r2.selectbox("Response column", cols, index=cols.index(r_guess) if r_guess in cols else 0,
                                    key="evidence.camp.response")
            groups = classify_groups(frame[group_col])
            try:
                c = compare_results(frame, group_col, resp_col)
            except CampaignError as exc:
                st.error(escape_markdown(exc))
            else:
                m = st.columns(4)
                m[0].metric("ICP response", pct(c.icp_rate, 1), help=f"{count(c.icp_responded)} of {count(c.icp_n)}")
                m[1].metric("Control response", pct(c.control_rate, 1), help=f"{count(c.control_responded)} of {count(c.control_n)}")
                m[2].metric("Difference", points(c.difference),
                            help=f"95 % interval {points(c.diff_interval[0], unit='')} to {points(c.diff_interval[1])}")
                m[3].metric("p (Fisher exact)", f"{c.p_value:.3g}")
                (st.success if c.significant else st.info)(c.to_dict()["verdict"])
                unknown = int((groups == "").sum())
                if unknown:
                    st.caption(f"{unknown:,} rows had a group that is neither ICP nor control and were left out.")
