"""Score page: trait sliders, tier rule, live tier cards, charts, the scored accounts table."""

import numpy as np
import pandas as pd
import streamlit as st

from icp_core.backtest import live_backtest
from icp_core.breadth import profile_breadth, set_breadth
from icp_core.engagement import (
    CELLS,
    LEVELS,
    OTHER_CELLS,
    candidate_columns,
    engagement_extra,
    engagement_key,
    fit_engagement_matrix,
    score_engagement,
    signal_for,
    suggested_engagement,
)
from icp_core.export import FileColumns, profile_version_label, scored_export_bytes
from icp_core.formatting import SHORT_TIER_NAMES, TIER_COLORS, count, format_number, money, pct, pt_change
from icp_core.icpset import MAX_ICPS, NONE, overlap
from icp_core.moved import what_moved
from icp_core.outcomes import EvidenceError, default_outcome
from icp_core.personas import contacts_frame
from icp_core.profile import (
    DECISIVE_WEIGHTS,
    INSUFFICIENT,
    MAX_DESCRIPTION_CHARS,
    MAX_LABEL_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    RULES,
    RULES_FOR_KIND,
    STATUSES,
    TIERS,
    TRAIT_CLASSES,
    Profile,
    ProfileError,
    Trait,
    adopt_traits,
    decisive_weight,
    default_label,
    now_iso,
    profile_from_dict,
    profile_from_json,
    trait_ref_for,
    usable_columns,
    validate_trait,
)
from icp_core.roles import ROLES, ColumnSpec
from icp_core.scoring import (
    TIER_LABELS,
    count_rows,
    ranked_rows,
    score_histogram,
    score_profile,
    scored_table,
    tier_summary,
)
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore
from ui.cached import histogram_spec, matrix_spec, suggestion_cached, tier_bar_spec
from ui.state import (
    DEFAULT_PROFILE,
    add_icp,
    app_state,
    change_log,
    current_dataset,
    escape_markdown,
    read_only,
    remember,
    remove_icp,
    renew_widgets,
    replace_profile,
    save_and_report,
    score_working_set,
    set_working,
    switch_icp,
    undo_last,
    widget_key,
    working,
    working_set,
)

TABLE_ROWS = 1000

# Projector layout (1280×720): a compact header; the trait controls scroll inside their panel, sized to
# the window, so the moved slider, the tier cards and the score distribution are on screen together;
# tier cards hold fixed single lines (counts shrink with the window) so a change never moves the page.
PAGE_CSS = """<style>
[data-testid='stMainBlockContainer'] {padding-top: 3.2rem; padding-bottom: 2rem;}
[data-testid='stMainBlockContainer'] h1 {padding: 0; font-size: 2rem;}
.st-key-score-controls {height: max(300px, calc(100vh - 175px)) !important; max-height: none !important;
  flex: none !important; padding-right: 0.6rem;}
div:has(> .st-key-score-controls) {height: auto !important; max-height: none !important; flex: none !important;}
[class*='st-key-score-card-'] {padding: 0.4rem 0.5rem !important; gap: 0.3rem !important; min-width: 0;}
[class*='st-key-score-card-'] [data-testid='stMetricValue'] {font-size: clamp(1.2rem, 1.9vw, 2.1rem);
  line-height: 1.15;}
[class*='st-key-score-card-'] [data-testid='stMetric'] {padding: 0;}
.card-lines .ln {white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: clamp(0.66rem, 0.93vw, 0.95rem);
  line-height: 1.45;}
.card-lines .chg {font-size: 0.78em; color: #555; margin-left: 0.25em;}
.tier-badge {display: inline-block; max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  vertical-align: middle;}
.tier-badge .tb-short {display: none;}
@media (max-width: 1500px) {  /* six cards on a projector: the long tier names go short in the cards */
  [class*='st-key-score-card-'] .tier-badge .tb-full {display: none;}
  [class*='st-key-score-card-'] .tier-badge .tb-short {display: inline;}
  .card-lines .ln {font-size: clamp(0.62rem, 0.84vw, 0.95rem);}  /* "Churn 67%" whole in a sixth of the width */
}
</style>"""

cur = current_dataset()
root, workspace, dataset_ws, dataset_id = cur.root, cur.workspace, cur.dataset_ws, cur.dataset_id
meta, accounts, pstore = cur.meta, cur.accounts, cur.pstore
work = working(cur)
profile: Profile = work["profile"]
readonly = read_only() is not None
icps = working_set(cur)  # the working ICP set (issue 16); `work` is the ICP being edited
active_icp = next(i for i, e in enumerate(icps) if e is work)


def wkey(name: str) -> str:
    return widget_key(work, name)


def on_weight(trait_id: str) -> None:
    """A weight slider moved: the profile takes its value (the slider's range keeps stay-aways ≤ 0)."""
    remember(work)
    for t in profile.traits:
        if t.id == trait_id:
            t.weight = int(st.session_state[wkey(f"w.{trait_id}")])


def on_tier_rule() -> None:
    """A tier widget changed: the profile's tier rule takes the values. Lines are kept in order
    (B ≤ A, C ≤ B); when that moved a line, the widgets are renewed to show where it went."""
    ss, r = st.session_state, profile.tier_rule
    remember(work)
    if wkey("tier_mode") in ss:
        r.mode = "mix" if ss[wkey("tier_mode")] == "Target mix" else "thresholds"
    if all(wkey(f"th.{k}") in ss for k in ("A", "B", "C")):
        a, b, c = (ss[wkey(f"th.{k}")] for k in ("A", "B", "C"))
        r.thresholds = {"A": float(a), "B": float(min(b, a)), "C": float(min(c, b, a))}
        if (b, c) != (min(b, a), min(c, b, a)):
            renew_widgets(work)
    if all(wkey(f"mix.{k}") in ss for k in ("A", "B", "C", "D")):
        mix = {k: float(ss[wkey(f"mix.{k}")]) for k in ("A", "B", "C", "D")}
        if abs(sum(mix.values()) - 100) < 0.5:
            r.mix = mix
    if wkey("st.insufficient") in ss and wkey("st.low") in ss:
        low = float(ss[wkey("st.low")])
        r.low_confidence_below, r.insufficient_below = low, float(min(ss[wkey("st.insufficient")], low))
        if r.insufficient_below != ss[wkey("st.insufficient")]:
            renew_widgets(work)


def save_trait(spec: ColumnSpec) -> None:
    """Add the trait in the edit form, or replace the picked one (a button callback)."""
    ss = st.session_state
    pick, rule = ss.get("score.edit.pick") or "", ss["score.edit.rule"]
    tclass = ss["score.edit.class"]
    values = ss.get("score.edit.values", []) if rule in ("in_set", "contains_any") else []
    lo, hi = (ss.get("score.edit.min"), ss.get("score.edit.max")) if rule == "range" else (None, None)
    new = Trait(label=(ss.get("score.edit.label") or ss["score.edit.auto_label"]).strip(), rule=rule,
                values=[str(v) for v in values], min=lo, max=hi,
                weight=decisive_weight(ss["score.edit.weight"]) if profile.decisive else int(ss["score.edit.weight"]),
                trait_class=tclass, disqualify=tclass == "stay_away" and bool(ss.get("score.edit.disqualify")),
                **trait_ref_for(spec), **({"id": pick} if pick else {}))
    try:
        validate_trait(new)
    except ProfileError as exc:
        ss["score.edit.error"] = str(exc)
        return
    remember(work)
    if pick:
        profile.traits = [new if t.id == pick else t for t in profile.traits]
    else:
        profile.traits.append(new)
    ss["score.edit.done"] = f"{'Saved' if pick else 'Added'} “{new.label}” ({new.weight:+d})."
    renew_widgets(work)  # an edited trait's slider shows its new weight
    clear_edit_form()


def remove_trait() -> None:
    remember(work)
    pick = st.session_state.get("score.edit.pick")
    gone = [t.label for t in profile.traits if t.id == pick]
    profile.traits = [t for t in profile.traits if t.id != pick]
    if gone:
        st.session_state["score.edit.done"] = f"Removed “{gone[0]}”."
    clear_edit_form()


def clear_edit_form() -> None:
    for k in ("pick", "label", "values", "min", "max", "disqualify"):
        st.session_state.pop(f"score.edit.{k}", None)


def score_formula_text(low: int, high: int) -> str:
    """'Score = 100 × (matched weights + 10) / 30': the lowest possible sum shifts scores to start at 0."""
    if high == low:
        return "Score = 0 for every account (no weight is set)."
    shift = f" + {-low}" if low < 0 else (f" − {low}" if low > 0 else "")
    return f"Score = 100 × (sum of matched weights{shift}) / {high - low}."


def suggest_from_data() -> None:
    """On an empty profile: one click to adopt the traits the data suggests for the dataset's
    default outcome (the Evidence page shows the detail and lets the user pick another outcome)."""
    outcome = default_outcome(accounts)
    if outcome.kind == "column" and not outcome.column:
        st.caption("To let the data suggest traits, pick what a good customer is on the Evidence page.")
        return
    if not st.button(f"Suggest traits from the data ({escape_markdown(outcome.label())})", key="score.suggest", type="primary",
                     icon=":material/auto_awesome:", width="stretch"):
        return
    with st.status(f"Looking for traits that separate {escape_markdown(outcome.label())}…") as status:
        try:
            sug, problem = suggestion_cached(str(root), dataset_ws, dataset_id, cur.stamp, outcome, 12), ""
        except EvidenceError as exc:
            sug, problem = None, str(exc)
        status.update(label="Done" if sug and sug.traits else "No traits suggested",
                      state="complete" if sug and sug.traits else "error", expanded=False)
    if sug is None or not sug.traits:
        st.info(escape_markdown(problem or sug.message), icon=":material/info:")
        return
    replace_profile(cur, adopt_traits(profile, sug.traits))
    st.toast(f"Adopted {len(sug.traits)} traits suggested by the data ({escape_markdown(outcome.label())}); "
             "the Evidence page shows why.", icon=":material/check:")
    st.rerun()


# ------------------------------------------------------------------ header: profile actions

st.html(PAGE_CSS)
head_t, head_l, head_r = st.columns([1.0, 2.6, 2.9], vertical_alignment="center")
head_t.title("Score")
with head_l:
    saved_note = (f"saved version {work['version']}" if work["version"] else "not saved yet")
    if readonly:
        saved_note = f"shared version {work['version']} · read-only"
    st.markdown("**" + escape_markdown(profile.name) + "**",
                help=escape_markdown(profile.description) if profile.description else None)
    st.caption(f"{saved_note} · dataset “{escape_markdown(meta['name'])}”")


def note_from_log() -> None:
    """The session's change log (who / what / when) as the version note, cut to the note's length."""
    log = change_log(work)
    if not log:
        st.session_state["score.save_note"] = ""
        return
    text = "; ".join(f"{c['when']} {c['who'] + ': ' if c['who'] else ''}{c['what']}" for c in log)
    st.session_state["score.save_note"] = text if len(text) <= MAX_NOTE_CHARS else text[: MAX_NOTE_CHARS - 1] + "…"


def icp_popover() -> None:
    """Add an ICP to the working set (empty or a copy of the one being edited), or drop this one."""
    st.text_input("New ICP name", key="score.new_icp_name", max_chars=MAX_NAME_CHARS,
                  placeholder="e.g. Enterprise healthcare")
    start = st.radio("Start from", ["No traits", f"A copy of “{profile.name}”"], key="score.new_icp_start",
                     horizontal=True)
    if st.button("Add ICP", type="primary", key="score.add_icp", icon=":material/add:"):
        name = st.session_state["score.new_icp_name"].strip()
        new = profile.copy() if start != "No traits" else Profile()
        new.name, new.description = name, ""
        try:
            add_icp(cur, new)
        except ProfileError as exc:
            st.error(f"Not added: {escape_markdown(exc)}")
        else:
            st.rerun()
    if len(icps) > 1 and st.button(f"Remove “{profile.name}” from the set", key="score.remove_icp",
                                   icon=":material/delete:"):
        remove_icp(cur, active_icp)
        st.rerun()
    st.caption(f"{len(icps)} of {MAX_ICPS} ICPs. Each account's best fit is the ICP where its tier is highest, "
               "then its score; D or disqualified everywhere is “none”.")


def icp_switcher() -> None:
    """Top of the trait panel: the ICPs of the set (one click edits another; names wrap, never cut)
    and the popover that adds or removes one."""
    if len(icps) > 1:
        pick_key = f"score.icp_pick.{work['widget_gen']}"
        st.radio("ICP being edited", range(len(icps)), index=active_icp, key=pick_key,
                 format_func=lambda i: icps[i]["profile"].name,
                 on_change=lambda: switch_icp(cur, st.session_state[pick_key]))
    if not readonly:
        with st.popover("Add or remove an ICP" if len(icps) > 1 else "Add an ICP", icon=":material/stacks:",
                        width="stretch"):
            icp_popover()


with head_r:
    c_save, c_load, c_dl = st.columns(3)
    if not readonly:
        with c_save.popover("Save", icon=":material/save:", width="stretch"):
            # keyed by the ICP's widget generation: another ICP of the set (or a loaded profile) gets
            # fields showing its own name, never the one typed for the ICP edited before
            st.text_input("Profile name", value=profile.name, key=wkey("save_name"), max_chars=MAX_NAME_CHARS)
            st.text_area("Description", value=profile.description, key=wkey("save_description"), height=80,
                         max_chars=MAX_DESCRIPTION_CHARS)
            # (the header is drawn once per full run; slider moves rerun only `live`: the log is read on click)
            st.button("Use this session's changes as the note", key="score.note_from_log", on_click=note_from_log,
                      icon=":material/history:")
            st.text_input("Note for this version", key="score.save_note", placeholder="e.g. raised Snowflake to +4",
                          max_chars=MAX_NOTE_CHARS)
            if st.button("Save new version", type="primary", key="score.save"):
                before = (profile.name, profile.description, profile.updated_at)
                profile.name = st.session_state[wkey("save_name")].strip() or profile.name
                profile.description = st.session_state[wkey("save_description")].strip()
                profile.updated_at = now_iso()

                def undo(before=before):  # a refused save changes nothing
                    profile.name, profile.description, profile.updated_at = before

                save_and_report(cur, work, note=st.session_state["score.save_note"].strip(), undo=undo)

        with c_load.popover("Load", icon=":material/folder_open:", width="stretch"):
            options = {}
            for rec in pstore.list_profiles(dataset_id):
                for v in reversed(pstore.list_versions(dataset_id, rec["profile_id"])):
                    options[(dataset_id, v["profile_id"], v["version"])] = (
                        f"{v['name']} · v{v['version']} · {v['saved_at'][:16].replace('T', ' ')}"
                        + (f" · {v['note']}" if v["note"] else ""))
            other_sets, _ = DatasetStore(root, workspace).list_datasets()
            for m in other_sets:
                if m["id"] == dataset_id:
                    continue
                for rec in pstore.list_profiles(m["id"]):
                    options[(m["id"], rec["profile_id"], rec["version"])] = (
                        f"{rec['name']} · v{rec['version']} · from dataset “{m['name']}”")
            if dataset_ws == SAMPLE_WORKSPACE:
                options[("default", "", 0)] = "Default sample ICP"
            if options:
                pick = st.selectbox("Saved profiles", list(options), format_func=options.get, key="score.load_pick")
                if st.button("Load this profile", key="score.load"):
                    if pick[0] == "default":
                        set_working(cur, profile_from_json(DEFAULT_PROFILE.read_text()), baseline_label="the default profile")
                    else:
                        rec = pstore.load_version(*pick)
                        same = pick[0] == dataset_id
                        set_working(cur, profile_from_dict(rec["profile"]), rec["profile_id"] if same else None,
                                    rec["version"] if same else None, f"saved v{rec['version']}" if same else "as loaded")
                    st.rerun()
            else:
                st.caption("No saved profiles on this dataset yet.")
            up = st.file_uploader("Or import a profile JSON", type=["json"], key="score.import")
            if up is not None and st.button("Import", key="score.import_go"):
                try:
                    set_working(cur, profile_from_json(up.getvalue()), baseline_label="as imported")
                    st.rerun()
                except ProfileError as exc:
                    st.error(escape_markdown(f"Could not import {up.name}: {exc}"))

    c_dl.download_button("JSON", lambda: profile.to_json().encode(), file_name=f"{profile.name}.icp.json",
                         mime="application/json", icon=":material/download:", width="stretch",
                         key="score.download_profile", on_click="ignore")

# ------------------------------------------------------------------ score (fast path)

# A slider move reruns only the fragment `live` (st.fragment, at the end of this page): the sidebar, the
# header and the page's setup stay as drawn. Everything a weight, tier or engagement change alters is
# drawn inside it; these are set on each of its runs and read by the functions below.
result = binding = summary = eng = None

# ------------------------------------------------------------------ left panel: traits

# The controls scroll inside the panel (PAGE_CSS sizes it to the window), so on a 1280×720
# projector the slider being moved, the tier cards and the score distribution stay on screen.
def on_decisive() -> None:
    """The decisive-weights switch: on rounds every weight (the weights before are kept, so the
    cost in AUC can be shown); off lets the sliders take any whole weight again."""
    on = st.session_state[wkey("decisive")]
    if on and not profile.decisive:
        work["free_weights"] = {t.id: t.weight for t in profile.traits}
        for t, rounded in zip(profile.traits, profile.made_decisive().traits, strict=True):
            t.weight = rounded.weight
    elif not on:
        work.pop("free_weights", None)
    profile.decisive = bool(on)
    renew_widgets(work)


def on_engagement(what: str, sid: str | None = None) -> None:
    """An engagement widget changed: the profile's engagement section takes the value (never the fit)."""
    ss, e = st.session_state, profile.engagement
    remember(work)
    if what == "weight":
        for sig in e.signals:
            if sig.id == sid:
                sig.weight = int(ss[wkey(f"ew.{sid}")])
    elif what == "half_life":
        e.half_life_days = float(ss[wkey("e.half_life")])
    elif what == "mode":
        e.mode = "mix" if ss[wkey("e.mode")] == "Target mix" else "thresholds"
    elif what == "lines":
        hi, med = float(ss[wkey("e.high")]), float(ss[wkey("e.medium")])
        e.thresholds = {"High": hi, "Medium": min(med, hi)}
    elif what == "mix":
        mix = {k: float(ss[wkey(f"e.mix.{k}")]) for k in LEVELS}
        if abs(sum(mix.values()) - 100) < 0.5:
            e.mix = mix
    elif what == "columns":
        chosen = ss[wkey("e.columns")]
        kept = [sig for sig in e.signals if (sig.role or sig.column) in chosen]
        have = {sig.role or sig.column for sig in kept}
        for spec, kind in candidate_columns(accounts.specs):
            ref = signal_for(spec, kind)
            if (ref.role or ref.column) in chosen and (ref.role or ref.column) not in have:
                kept.append(signal_for(spec, kind, 2))
        e.signals = kept
    renew_widgets(work)


def set_up_engagement() -> None:
    remember(work)
    profile.engagement = suggested_engagement(accounts.specs)
    renew_widgets(work)


def engagement_controls() -> None:
    """The engagement profile (issue 17): activity columns with -5..+5 weights, the recency half-life
    and the High / Medium lines. A second axis: it never changes the fit score."""
    st.subheader("Engagement")
    e = profile.engagement
    candidates = candidate_columns(accounts.specs)
    if e is None:
        if not candidates:
            st.caption("No activity columns (dates of last activity, counts of visits or meetings) in this dataset: "
                       "join a usage or activity file on the Data page to score engagement.")
        elif not readonly:
            st.button(f"Score engagement from {len(candidates)} activity columns", key="score.eng.setup",
                      on_click=set_up_engagement, icon=":material/bolt:")
        return
    refs = {(signal_for(spec, kind).role or signal_for(spec, kind).column): f"{spec.header} ({kind})"
            for spec, kind in candidates}
    current = [sig.role or sig.column for sig in e.signals]
    st.multiselect("Activity columns", list(dict.fromkeys([*refs, *current])), default=current,
                   format_func=lambda r: refs.get(r, f"{r} (not in this dataset)"), key=wkey("e.columns"),
                   on_change=on_engagement, args=("columns",), disabled=readonly)
    for sig in e.signals:
        kind = "days since, half-life" if sig.kind == "recency" else "count"
        st.slider(f"{escape_markdown(sig.label)} · {kind}", -5, 5, value=sig.weight, key=wkey(f"ew.{sig.id}"),
                  on_change=on_engagement, args=("weight", sig.id), disabled=readonly)
    st.slider("Recency half-life (days)", 1, 365, value=int(round(e.half_life_days)), key=wkey("e.half_life"),
              on_change=on_engagement, args=("half_life",), disabled=readonly,
              help="Activity this many days before the as-of date counts half as much as activity on it.")
    mode = st.radio("Levels from", ["Score lines", "Target mix"], index=1 if e.mode == "mix" else 0,
                    key=wkey("e.mode"), horizontal=True, on_change=on_engagement, args=("mode",), disabled=readonly)
    if mode == "Score lines":
        c1, c2 = st.columns(2)
        c1.slider("High from", 0, 100, value=int(round(e.thresholds["High"])), key=wkey("e.high"),
                  on_change=on_engagement, args=("lines",), disabled=readonly)
        c2.slider("Medium from", 0, 100, value=int(round(e.thresholds["Medium"])), key=wkey("e.medium"),
                  on_change=on_engagement, args=("lines",), disabled=readonly)
    else:
        mc = st.columns(3)
        shown = {k: col.number_input(f"{k} %", 0, 100, value=int(round(e.mix[k])), step=5, key=wkey(f"e.mix.{k}"),
                                     on_change=on_engagement, args=("mix",), disabled=readonly)
                 for col, k in zip(mc, LEVELS, strict=True)}
        if sum(shown.values()) != 100:
            st.error(f"The engagement mix adds up to {sum(shown.values())} %; it must be 100 %. "
                     "The last valid mix is used.")
    if eng is not None:
        st.caption(f"Engagement 0–100 as of {eng.as_of or 'no date'}: recency 0.5^(days since ÷ half-life), counts "
                   "ln(1+x) ÷ ln(1+95th percentile), weighted like traits. Lines: "
                   + ", ".join(f"{k} ≥ {v:.0f}" for k, v in eng.lines.items() if np.isfinite(v)))
        for problem in eng.problems:
            st.warning(escape_markdown(problem), icon=":material/warning:")


def controls() -> None:
    """The left panel: ICPs, traits, tiers and engagement."""
    icp_switcher()
    trait_sliders()
    if not readonly:
        trait_editor()
    tier_controls()
    engagement_controls()


def trait_sliders() -> None:
    """One weight slider per trait, grouped by class (the decisive switch above them)."""
    st.subheader(f"Traits ({len(profile.traits)})")
    if not readonly:
        st.toggle("Decisive weights: −5, −3, −1, 0, +1, +3, +5", value=profile.decisive, key=wkey("decisive"),
                  on_change=on_decisive,
                  help="Clear values only, no middle scores (+2, +4): weights are rounded away from zero, and "
                       "the evidence line under the tier cards shows the AUC before and after.")
    if not profile.traits:
        st.info("No traits yet. Let the data suggest them, add the first one below, or load a profile.")
        if not readonly:
            suggest_from_data()
    bound_ids = {t.id for t, _ in binding.traits}
    for cls, cls_label in TRAIT_CLASSES.items():
        traits = [t for t in profile.traits if t.trait_class == cls]
        if not traits:
            continue
        st.markdown(f"**{cls_label}**" + (" · disqualifies when failed" if cls == "must_have" else ""))
        for t in traits:
            help_text = f"{RULES[t.rule]} · column {escape_markdown(t.column_ref)}"
            if t.trait_class == "stay_away":
                help_text += " · disqualifies" if t.disqualify else " · flags the account"
            label = escape_markdown(t.label) + ("" if t.id in bound_ids else " (not on this dataset)")
            value = min(t.weight, 0) if cls == "stay_away" else t.weight
            if profile.decisive:  # steps through the decisive weights only
                st.select_slider(label, [w for w in DECISIVE_WEIGHTS if cls != "stay_away" or w <= 0],
                                 value=decisive_weight(value), key=wkey(f"w.{t.id}"), on_change=on_weight,
                                 args=(t.id,), help=help_text, disabled=readonly)
            else:
                st.slider(label, min_value=-5, max_value=0 if cls == "stay_away" else 5, step=1, value=value,
                          key=wkey(f"w.{t.id}"), on_change=on_weight, args=(t.id,), help=help_text, disabled=readonly)


def trait_value_fields(spec: ColumnSpec, rule: str) -> tuple[list, float | None, float | None]:
    """The trait form's values (set rules) or minimum and maximum (range), with the data's values or
    quartiles beside them."""
    opts = accounts.value_options(spec)
    values, lo, hi = [], None, None
    if rule in ("in_set", "contains_any"):
        counts = dict(opts.get("values", []))
        current = [v for v in st.session_state.get("score.edit.values", []) if v not in counts]
        choices = list(counts) + current
        st.session_state["score.edit.values"] = [v for v in st.session_state.get("score.edit.values", [])
                                                 if v in choices]
        values = st.multiselect("Values", choices, key="score.edit.values",
                                format_func=lambda v: f"{v} ({counts[v]:,})" if v in counts else v)
    elif rule == "range":
        q = opts.get("quantiles", {})
        if q:
            st.caption("In this data: " + " · ".join(f"{k} {format_number(v)}" for k, v in q.items()
                                                        if v is not None))
        c1, c2 = st.columns(2)
        lo = c1.number_input("Minimum (blank = none)", value=None, key="score.edit.min")
        hi = c2.number_input("Maximum (blank = none)", value=None, key="score.edit.max")
    return values, lo, hi


def trait_editor() -> None:
    """Add a trait, or edit or remove one (the form in an expander under the sliders)."""
    # keyed: it stays open when a trait added above it shifts its position
    with st.expander("Add, edit or remove a trait", icon=":material/tune:", expanded=not profile.traits,
                     key="score.edit.open", on_change="rerun"):
        if st.session_state.get("score.edit.open"):  # drawn only while open: fewer elements per slider move
            trait_form()


def trait_form() -> None:
    """The add / edit / remove form of the trait editor."""
    cols = usable_columns(accounts.specs)
    trait_names = {"": "New trait…"} | {t.id: t.label for t in profile.traits}

    def on_pick() -> None:
        tid = st.session_state["score.edit.pick"]
        t = next((x for x in profile.traits if x.id == tid), None)
        s = st.session_state
        if t is None:
            for k in ("label", "values", "min", "max"):
                s.pop(f"score.edit.{k}", None)
            return
        spec = next((c for c in cols if (t.role and c.role == t.role) or (not t.role and c.header == t.column)), None)
        if spec is not None:
            s["score.edit.column"] = spec.key
        s["score.edit.rule"] = t.rule
        s["score.edit.label"] = t.label
        s["score.edit.class"] = t.trait_class
        s["score.edit.weight"] = t.weight
        s["score.edit.disqualify"] = t.disqualify
        s["score.edit.min"] = t.min
        s["score.edit.max"] = t.max
        s["score.edit.values"] = list(t.values)

    pick = st.selectbox("Trait", list(trait_names), format_func=trait_names.get, key="score.edit.pick",
                        on_change=on_pick)
    # The action sits above the fields: an open Values list drops down over what is below it.
    actions = st.container()
    spec_by_key = {c.key: c for c in cols}
    if not cols:
        st.caption("This dataset has no columns a trait can use.")
    else:
        ckey = st.selectbox("Column", list(spec_by_key), key="score.edit.column",
                            format_func=lambda k: f"{spec_by_key[k].header} · {ROLES[spec_by_key[k].role].label}")
        spec = spec_by_key[ckey]
        rules = RULES_FOR_KIND.get(spec.kind, ("missing",))
        if st.session_state.get("score.edit.rule") not in rules:
            st.session_state["score.edit.rule"] = rules[0]
        rule = st.radio("Rule", rules, format_func=RULES.get, key="score.edit.rule", horizontal=True)
        values, lo, hi = trait_value_fields(spec, rule)
        auto = default_label(spec.header, rule, values, lo, hi, spec.kind)
        label = st.text_input("Label", key="score.edit.label", placeholder=auto, max_chars=MAX_LABEL_CHARS)
        st.session_state.setdefault("score.edit.class", "nice_to_have")
        tclass = st.selectbox("Class", list(TRAIT_CLASSES), format_func=TRAIT_CLASSES.get, key="score.edit.class")
        if "score.edit.weight" not in st.session_state:
            st.session_state["score.edit.weight"] = 2
        if tclass == "stay_away" and st.session_state["score.edit.weight"] > 0:
            st.session_state["score.edit.weight"] = -abs(st.session_state["score.edit.weight"])
        st.slider("Weight", -5, 0 if tclass == "stay_away" else 5, key="score.edit.weight")
        if tclass == "stay_away":
            st.checkbox("Disqualify accounts that match", key="score.edit.disqualify")
        st.session_state["score.edit.auto_label"] = auto
        with actions:
            shown_label = (label or auto).strip()
            st.button("Save changes to this trait" if pick else "Add this trait", type="primary",
                      key="score.edit.save", icon=":material/check:", on_click=save_trait, args=(spec,),
                      width="stretch")
            st.caption(f"{escape_markdown(shown_label)} · weight {st.session_state['score.edit.weight']:+d} · "
                       f"{TRAIT_CLASSES[tclass].lower()}")
            if pick:
                st.button("Remove this trait", key="score.edit.remove", icon=":material/delete:",
                          on_click=remove_trait, width="stretch")
            if st.session_state.get("score.edit.error"):
                st.error(escape_markdown(st.session_state.pop("score.edit.error")), icon=":material/error:")
            if st.session_state.get("score.edit.done"):
                done = escape_markdown(st.session_state.pop("score.edit.done"))
                st.success(done, icon=":material/check:")
                st.toast(done, icon=":material/check:")



def tier_controls() -> None:
    """The tier rule: score thresholds or a target mix."""
    st.subheader("Tiers")
    rule = profile.tier_rule
    modes = ["Score thresholds", "Target mix"]
    mode = st.radio("Tiers from", modes, index=1 if rule.mode == "mix" else 0, key=wkey("tier_mode"),
                    horizontal=True, on_change=on_tier_rule, disabled=readonly)
    if mode == "Score thresholds":
        for k in ("A", "B", "C"):
            st.slider(f"Tier {k} from score", 0, 100, value=int(round(rule.thresholds[k])), key=wkey(f"th.{k}"),
                      on_change=on_tier_rule, disabled=readonly)
    else:
        mc = st.columns(4)
        mix_shown = {}
        for col, k in zip(mc, ("A", "B", "C", "D"), strict=True):
            mix_shown[k] = col.number_input(f"{k} %", 0, 100, value=int(round(rule.mix[k])), step=5,
                                            key=wkey(f"mix.{k}"), on_change=on_tier_rule, disabled=readonly)
        total = sum(mix_shown.values())
        if total != 100:
            st.error(f"The target mix adds up to {total} %; it must be 100 %. The last valid mix is used.")
        lines = ", ".join(f"{k} ≥ {v:.1f}" if np.isfinite(v) else f"{k}: none" for k, v in result.thresholds.items())
        st.caption(f"Solved score lines: {lines} (ties keep a line from cutting exactly at the target)")
    s1, s2 = st.columns(2)
    s1.number_input("Insufficient data under % known", 0, 100, value=int(round(rule.insufficient_below)), step=5,
                    key=wkey("st.insufficient"), on_change=on_tier_rule, disabled=readonly,
                    help="An account whose filled trait columns carry less than this share of the traits' "
                         "absolute weight is not tiered: it goes to Insufficient data")
    s2.number_input("Low confidence under % known", 0, 100, value=int(round(rule.low_confidence_below)), step=5,
                    key=wkey("st.low"), on_change=on_tier_rule, disabled=readonly,
                    help="Its tier stands, with a low-confidence flag")
    st.caption(score_formula_text(result.low, result.high) +
               " Failing a must-have, or matching a disqualifying stay-away, puts an account in Disqualified.")

# ------------------------------------------------------------------ main: cards, charts, table

def chart_with_data(spec: dict, datasets: dict) -> dict:
    return {**spec, "datasets": datasets}


def tier_badge(tier: str, big: bool = False) -> str:
    """A coloured tier label; "Disqualified" and "Insufficient data" shrink with the card so they never
    overflow it."""
    size = ("clamp(0.95rem, 1.3vw, 1.2rem)" if tier in TIERS else "clamp(0.62rem, 0.85vw, 1rem)") if big \
        else "0.95rem"
    fg = "#1a1a1a" if tier in ("C", INSUFFICIENT) else "white"
    text = "Tier " + tier if tier in TIERS else tier
    shown = text if tier in TIERS else (f'<span class="tb-full">{text}</span>'
                                         f'<span class="tb-short">{SHORT_TIER_NAMES[tier]}</span>')
    return (f'<span class="tier-badge" title="{text}" style="background:{TIER_COLORS[tier]};color:{fg};'
            f'padding:1px 8px;border-radius:8px;font-weight:700;font-size:{size};line-height:1.8rem">{shown}</span>')


def live_evidence_line() -> str:
    """One line of backtest for the outcome chosen on the Evidence page (won vs lost, or
    retained, by default), recomputed on every slider move."""
    outcome = app_state().chosen_outcome(cur.dataset_id) or default_outcome(accounts)
    try:
        bt = live_backtest(accounts, result, outcome)
    except EvidenceError:
        return ""
    if np.isnan(bt.auc):
        return ""
    lift_a = bt.tiers.loc[0, "lift"]
    line = (f"**Evidence** ({escape_markdown(outcome.label())}, held out): AUC **{bt.auc:.2f}** · "
            f"tier A lift **{'–' if np.isnan(lift_a) else f'{lift_a:.1f}×'}** · "
            f"A+B hold **{pct(bt.captured_good)}** of good customers")
    free = work.get("free_weights")
    if profile.decisive and free:  # what the restriction costs: the same traits with the weights before rounding
        unrestricted = score_profile(accounts, profile.with_weights(free))[0]
        before = live_backtest(accounts, unrestricted, outcome).auc
        if not np.isnan(before):
            line += f" · decisive weights: AUC **{bt.auc:.2f}** vs **{before:.2f}** unrestricted"
    return line


def what_moved_panel() -> None:
    """Who moved since the baseline (the last saved version, or the profile as loaded): counts per
    from → to, the ARR and open pipeline that moved, the accounts whose score moved most, the AUC
    before → after with its bootstrap band; and one-click undo of the last change."""
    before, _ = score_profile(accounts, profile_from_dict(work["baseline_profile"]))
    outcome = app_state().chosen_outcome(cur.dataset_id) or default_outcome(accounts)
    try:
        moved = what_moved(before, result, accounts, outcome)
    except EvidenceError:
        moved = what_moved(before, result, accounts, None)
    title = (f"What moved since {work['baseline_label']}: {count(moved.accounts)} account"
             f"{'s' if moved.accounts != 1 else ''}" + (f" · {moved.reading()}" if moved.reading() else ""))
    c1, c2 = st.columns([5, 1], vertical_alignment="center")
    # (the contents are drawn only while open: a slider move then redraws one line, not three tables)
    with c1.expander(title, icon=":material/swap_vert:", key="score.moved.open", on_change="rerun"):
        if st.session_state.get("score.moved.open"):
            moved_contents(moved)
    if not readonly and c2.button("Undo", key="score.undo", icon=":material/undo:", width="stretch",
                                  disabled=not work.get("history"), help="Undo the last change to the traits or tiers"):
        undo_last(work)
        st.rerun()


def moved_contents(moved) -> None:
    """The open what-moved panel: the moves from → to, the accounts that moved most, the session's changes."""
    if not moved.accounts:
        st.caption("No account changes tier.")
    else:
        parts = [f"ARR moved {money(moved.arr)}" if np.isfinite(moved.arr) else "",
                 f"{count(moved.pipeline)} with open deals"]
        st.caption(" · ".join(p for p in parts if p))
        moves = moved.table.rename(columns={"from": "From", "to": "To", "accounts": "Accounts", "arr": "ARR",
                                            "open": "Open deals"})
        if not accounts.has["arr"]:
            moves = moves.drop(columns="ARR")
        st.dataframe(moves.style.format({"ARR": money, "Accounts": count, "Open deals": count},
                                        subset=[c for c in ("ARR", "Accounts", "Open deals") if c in moves]),
                     hide_index=True, width="stretch", key="score.moved_table")
        names = accounts.display.iloc[moved.top["row"].to_numpy()].drop(columns=["row_id"]).iloc[:, 0].to_numpy()
        st.dataframe(moved.top.drop(columns="row").assign(Account=names)[
            ["Account", "from", "to", "score_before", "score_after"]].rename(columns={
                "from": "From", "to": "To", "score_before": "Score before", "score_after": "Score now"}),
            hide_index=True, width="stretch", key="score.moved_top")
    log = change_log(work)
    if log:
        st.caption("This session's changes: " + escape_markdown(" · ".join(
            f"{c['when']} {c['who'] + ' ' if c['who'] else ''}{c['what']}" for c in log[-5:])))


def on_actions() -> None:
    """Edited actions in the matrix: the engagement section keeps them (one undo step)."""
    edits = st.session_state.get(wkey("e.actions"), {}).get("edited_rows", {})
    if not edits:
        return
    remember(work)
    for row, changed in edits.items():
        tier = TIER_LABELS[int(row)]
        for level, text in changed.items():
            key = tier if tier in OTHER_CELLS else f"{tier}-{level}"
            if key in profile.engagement.actions:
                profile.engagement.actions[key] = " ".join(str(text or "").split())[:120]
    renew_widgets(work)




def matrix_panel() -> None:
    """Fit × engagement (issue 17): tiers × High / Medium / Low with accounts, ARR, open deals and win
    rate per cell, the editable action per cell, and a click on a cell lists its accounts."""
    if eng is None:
        return
    e = profile.engagement
    m = fit_engagement_matrix(result, eng, accounts, e, engagement_key(e, eng)).set_index("cell")
    a_high = m.loc["A-High"]
    with st.expander(f"Fit × engagement: {count(a_high.accounts)} A-High accounts → "
                     f"{escape_markdown(a_high.action or 'no action set')}", icon=":material/grid_view:",
                     key="score.matrix.open", on_change="rerun"):
        if st.session_state.get("score.matrix.open"):  # drawn only while open (as what moved)
            matrix_contents(m, e)


def matrix_contents(m: pd.DataFrame, e) -> None:
    """The open fit × engagement panel: the clickable grid, the actions, and one cell's accounts."""
    def cell_text(r) -> str:
        first = f"{count(r.accounts)} accounts" + (f" · {money(r.arr)}" if accounts.has["arr"] else "")
        second = f"{count(r.open)} open" + (f" · {pct(r.win_rate)} win" if accounts.has["won"] and pd.notna(r.win_rate)
                                            else "")
        return first + "\n" + second
    data = m.reset_index().assign(text=lambda d: [cell_text(r) for r in d.itertuples()],
                                  row=lambda d: d.tier,
                                  col=lambda d: np.where(d.level == "", "High", d.level))
    data = data.assign(dark=data.accounts > float(m.accounts.max()) * 0.55)
    records = data[["row", "col", "cell", "accounts", "text", "dark", "action"]].astype({"accounts": float})
    event = st.vega_lite_chart(chart_with_data(matrix_spec(), {"cells": records.to_dict("records")}),
                               on_select="rerun", key="score.matrix", width="stretch")
    picked = (getattr(event, "selection", None) or {}).get("cell") or []
    if picked and picked[0].get("cell") and picked[0]["cell"] != st.session_state.get("score.matrix.last"):
        st.session_state["score.matrix.last"] = st.session_state["score.matrix.cell"] = picked[0]["cell"]
    st.caption("Accounts · ARR · accounts with open deals · win rate (won ÷ won + lost deals). "
               "Click a cell to list its accounts; edit the actions below (they go out as “ICP Action”).")
    actions = pd.DataFrame({lv: [e.actions.get(f"{t}-{lv}", "") for t in TIERS]
                            + [e.actions.get(c, "") if lv == "High" else "" for c in OTHER_CELLS] for lv in LEVELS},
                           index=[f"Tier {t}" for t in TIERS] + list(OTHER_CELLS))
    st.data_editor(actions, key=wkey("e.actions"), on_change=on_actions, disabled=readonly, width="stretch",
                   column_config={lv: st.column_config.TextColumn(lv, max_chars=120) for lv in LEVELS})
    names = {"": "List the accounts of a cell…"} | {c: c for c in [*CELLS, *OTHER_CELLS]}
    pick = st.selectbox("Cell", list(names), format_func=names.get, key="score.matrix.cell",
                        label_visibility="collapsed")
    if pick:
        tier_code = TIER_LABELS.index(pick if pick in OTHER_CELLS else pick.split("-")[0])
        mask = eng.level == LEVELS.index(pick.split("-")[1]) if pick not in OTHER_CELLS else None
        rows = ranked_rows(result, mask, tiers=[tier_code])
        table = scored_table(result, accounts, rows[:200]).drop(columns=["row_id"])
        table.insert(2, "Engagement", np.round(eng.score[rows[:200]], 0))
        st.caption(f"{len(rows):,} accounts in {pick} → {escape_markdown(e.actions.get(pick, ''))}"
                   + (" · the first 200 are shown" if len(rows) > 200 else ""))
        st.dataframe(table, hide_index=True, width="stretch", key="score.matrix.accounts", height=280)


def committee_line(pos: int) -> None:
    """The buying committee of one account in its explanation card: contacts per committee role and
    the best contact by persona fit (People page)."""
    contacts = meta.get("contacts")
    if not contacts:
        return
    by_header = {s.header: s for s in accounts.specs}
    parts = []
    for r in contacts["roles"]:
        col = next((c for c in contacts["columns"] if c.startswith(f"{r['name']} Contacts")), None)
        if col in by_header:
            v = accounts.column_array(by_header[col])[pos]
            parts.append(f"{escape_markdown(r['name'])} {0 if np.isnan(v) else int(v)}")
    people = contacts_frame(DatasetStore(root, dataset_ws), dataset_id, profile.personas, "account_row = ?",
                            [pos + 1], limit=1)
    if len(people):
        b = people.iloc[0]
        parts.append(f"best contact: {escape_markdown(b.contact_name or '')} ({escape_markdown(b.title or '')}, "
                     f"persona fit {b.persona_fit:.0f})")
    st.caption("Buying committee: " + (" · ".join(parts) if parts else "no contacts"))


def missing_data_line() -> str:
    """How many accounts the ICP cannot judge for blanks: Insufficient data and low confidence."""
    by_status = np.bincount(result.pattern_status, weights=result.patterns.count, minlength=len(STATUSES))
    r = profile.tier_rule
    return (f"Missing data: {count(by_status[2])} not tiered (under {r.insufficient_below:g} % of the trait "
            f"weight known), {count(by_status[1])} low confidence (under {r.low_confidence_below:g} %)")


def card_lines(row, b) -> str:
    """The tier card's figures as fixed single lines (numbers only, no user text): a change since the
    baseline sits on the same line in small type, so a moved slider never makes a card grow."""
    def line(name, value, change=""):
        extra = f'<span class="chg">{change}</span>' if change else ""
        return f'<div class="ln">{name} <b>{value}</b>{extra}</div>'
    lines = [f'<div class="ln"><b>{pct(row.share)}</b> of all</div>']
    if accounts.has["arr"]:
        lines.append(line("ARR", money(row.arr)))
    if accounts.has["won"]:
        lines.append(line("Win", pct(row.win_rate), pt_change(row.win_rate, b.win_rate)))
    if accounts.has["churned"]:
        lines.append(line("Churn", pct(row.churn_rate), pt_change(row.churn_rate, b.churn_rate)))
    return '<div class="card-lines">' + "".join(lines) + "</div>"


def main_area() -> None:
    """The tier cards, what moved, fit × engagement, breadth, charts, the accounts and one account's card."""
    base = work["baseline"]
    cards = st.columns(len(summary), gap="small")
    for i, (col, row) in enumerate(zip(cards, summary.itertuples(), strict=True)):
        b = base.iloc[i]
        with col.container(border=True, key=f"score-card-{i}"):  # the key is the CSS hook in PAGE_CSS
            st.html(tier_badge(row.tier, big=True))
            change = int(row.accounts - b.accounts)
            # (no help icon: it crowds the label; the caption under the cards says what the change is against)
            st.metric("Accounts", count(row.accounts), delta=f"{change:+,}", delta_color="off",
                      delta_arrow="auto" if change else "off", label_visibility="collapsed")
            st.html(card_lines(row, b))
    evidence_line = live_evidence_line()
    st.caption(f"Changes since {work['baseline_label']}" + (f" · {evidence_line}" if evidence_line else "")
               + f" · {missing_data_line()}")
    what_moved_panel()
    matrix_panel()
    # how broad the ICP is, always under the cards (icp_core.breadth: thresholds in the README)
    st.caption(f"Breadth of A+B: {profile_breadth(result, accounts).reading()}")
    if len(icps) > 1:
        scored_set = score_working_set(cur, (result, binding))[1]
        ov = overlap(scored_set)
        best = " · ".join(f"{escape_markdown(r.icp) if r.icp != NONE else 'none'} {count(r.accounts)}"
                          for r in ov["best_fit"].itertuples())
        st.caption(f"Best fit: {best} · A or B in two or more ICPs: {count(ov['multi_ab'])} · "
                   f"the set (A or B in any ICP): {set_breadth(scored_set, accounts).reading()}")
        with st.expander("ICP × tier", icon=":material/grid_on:"):
            st.dataframe(ov["matrix"].reset_index().rename(columns={"icp": "ICP"}), hide_index=True,
                         width="stretch", key="score.icp_matrix")

    ch1, ch2 = st.columns([5, 4])  # room for the four measure buttons on a 1280-px projector
    with ch1:
        lines = [{"line": v, "label": f"{k} ≥ {v:.0f}", "ypix": 10 + 16 * i}
                 for i, (k, v) in enumerate(result.thresholds.items()) if np.isfinite(v)]
        spec = chart_with_data(histogram_spec(), {"hist": score_histogram(result).to_dict("records"),
                                                  "lines": lines})
        st.vega_lite_chart(spec, width="stretch")
    with ch2:
        measures = {"Win rate": "win_rate", "ARR": "arr", "Churn": "churn_rate", "Count": "accounts"}
        available = [m for m in measures if m == "Count" or summary[measures[m]].notna().any()]
        measure = st.selectbox("By tier", available, key="score.measure")
        field = measures[measure]
        fmt = {"win_rate": pct, "churn_rate": pct, "arr": money, "accounts": count}[field]
        records = summary.assign(label=[fmt(v) if pd.notna(v) else "" for v in summary[field]]).astype(
            {"accounts": float}).replace({np.nan: None}).to_dict("records")
        st.vega_lite_chart(chart_with_data(tier_bar_spec(measure, measures[measure]), {"tiers": records}),
                           width="stretch")

    st.subheader("Accounts")
    f1, f2 = st.columns([2, 3])
    query = f1.text_input("Search accounts", key="score.search", placeholder="name or id",
                          label_visibility="collapsed")
    tiers_shown = f2.multiselect("Tiers", list(TIER_LABELS), default=list(TIER_LABELS), key="score.tiers",
                                 label_visibility="collapsed")
    tier_codes = [TIER_LABELS.index(t) for t in tiers_shown]
    mask = accounts.search(query) if query else None
    rows = ranked_rows(result, mask, tiers=tier_codes, limit=None if query else TABLE_ROWS)
    total = len(rows) if query else count_rows(result, tier_codes)
    table = scored_table(result, accounts, rows[:TABLE_ROWS])
    st.caption(f"{total:,} accounts match" + (f"; the first {TABLE_ROWS:,} are shown" if total > TABLE_ROWS
                                              else "") + ". Select a row to see its explanation.")
    shown = [s.header for s in accounts.display_specs]
    event = st.dataframe(
        table.drop(columns=["row_id"]), key="score.table", on_select="rerun", selection_mode="single-row",
        hide_index=True, height=420, width="stretch",
        column_order=[*shown[:1], "ICP Tier", "ICP Score", "Reasons", "Flags", "Next step", *shown[1:]],
        column_config={
            **{s.header: st.column_config.NumberColumn(s.header, format="compact")
               for s in accounts.display_specs if s.kind == "number"},
            "ICP Score": st.column_config.ProgressColumn("ICP Score", min_value=0, max_value=100, format="%.0f"),
            "Reasons": st.column_config.TextColumn("Reasons", width="large"),
            "Next step": st.column_config.TextColumn("Next step", width="medium"),
        },
    )

    def full_export() -> bytes:  # the one export schema (icp_core.export), as the Share page and the CLI
        columns = FileColumns(lambda: DatasetStore(root, dataset_ws).open_dataset(dataset_id), accounts.specs)
        return scored_export_bytes(columns, result, profile_version_label(profile.name, work["version"]), "csv",
                                   extra=engagement_extra([profile], accounts, result) or None)

    st.download_button(f"Download all {accounts.n:,} scored accounts (CSV)", full_export,
                       file_name=f"{meta['name']} - ICP scores.csv", mime="text/csv", icon=":material/download:",
                       key="score.download_csv", on_click="ignore")

    selected = event.selection.rows if event is not None and hasattr(event, "selection") else []
    if selected and selected[0] < len(table):
        row = table.iloc[selected[0]]
        pos = int(rows[selected[0]])  # the table shows rows[:TABLE_ROWS] in order
        name_col = accounts.display_specs[0].header if accounts.display_specs else "row_id"
        with st.container(border=True):
            st.markdown("### " + escape_markdown(str(row[name_col])))
            st.html(tier_badge(row["ICP Tier"], big=True) +
                    f'<span style="font-size:1.35rem;font-weight:700;margin-left:12px">score {row["ICP Score"]:.0f}</span>')
            pat = result.patterns.inv[pos]
            matched, known = result.patterns.matrix[pat], result.patterns.known_matrix[pat]
            lines = []
            for i, t in sorted(enumerate(result.traits), key=lambda it: -abs(it[1].weight)):
                sign = f"+{t.weight}" if t.weight > 0 else f"−{-t.weight}" if t.weight < 0 else "0"
                mark = (":material/check_circle:" if matched[i] else ":material/radio_button_unchecked:" if known[i]
                        else ":material/help:")
                lines.append(f"- {mark} **{sign}** {escape_markdown(t.label)} · _{TRAIT_CLASSES[t.trait_class].lower()}_"
                             + ("" if matched[i] else " · not matched" if known[i] else " · blank: not known"))
            st.markdown("\n".join(lines) or "No traits.")
            st.caption(f"Evidence: {pct(float(result.pattern_evidence[pat]))} of the trait weight known · "
                       f"ICP Status: {STATUSES[int(result.pattern_status[pat])]}")
            committee_line(pos)
            if eng is not None:
                st.caption(f"Engagement {eng.score[pos]:.0f} ({LEVELS[eng.level[pos]]}) → "
                           + escape_markdown(profile.engagement.actions.get(
                               f"{row['ICP Tier']}-{LEVELS[eng.level[pos]]}" if row["ICP Tier"] not in OTHER_CELLS
                               else row["ICP Tier"], "")))
            if row["Flags"]:
                st.warning(escape_markdown(row["Flags"]), icon=":material/flag:")
            if row["Next step"]:
                st.info(escape_markdown(row["Next step"]), icon=":material/trending_up:")


@st.fragment
def live() -> None:
    """Score the ICP and draw everything a change to it alters (rerun alone on a slider move)."""
    global result, binding, summary, eng
    if working(cur) is not work or work["profile"] is not profile:
        st.rerun()  # another ICP, an undo or a loaded profile: the header shows it too (a full rerun)
    result, binding = score_profile(accounts, profile)
    summary = tier_summary(result, accounts)
    eng = score_engagement(accounts, profile.engagement) if profile.engagement is not None else None
    if binding.problems:
        st.warning("Some traits cannot be used on this dataset and are left out of the score: "
                   + "; ".join(escape_markdown(p) for p in binding.problems), icon=":material/warning:")
    panel, main = st.columns([1, 2.7], gap="medium")
    with main:  # first: the tier cards reach the browser before the ~40 controls are sent again
        main_area()
    with panel, st.container(height=520, border=False, key="score-controls"):
        controls()


live()
