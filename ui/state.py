"""The one owner of session state: everything a session keeps across reruns and pages.

Keys are prefixed by their owner. A page keeps only its own widget keys (`score.*`, `evidence.*`,
`clusters.*`, `tam.*`, `share.*`, `data.*`) and never reads another page's; every value that is
shared between pages or with app.py is app-wide (`icp.*`) and goes through `AppState` below (typed,
named accessors), never through st.session_state directly:

  icp.workspace        this browser's workspace (app.py)
  icp.signed_in        who is signed in, when sign-in is configured (app.py)
  icp.share            the share record of a read-only share link (app.py)
  icp.dataset          (workspace, dataset id) picked in the sidebar or by the app
  icp.sample_dataset   (workspace, dataset id) of the shared sample
  icp.picker_gen       generation of the sidebar dataset picker's widget key
  icp.outcome          {dataset id: Outcome} chosen on the Evidence page (used by Score and Share)
  icp.clustering       {dataset id: LastClustering} last clustering of the Clusters page (used by TAM)
  icp.work             {dataset id | ("share", token): working profile entry} (below): the ICP being edited
  icp.sets             {same key: [working profile entries]}: the working ICP set, in set order (issue 16)
  icp.set_ids          {dataset id: set id} of the saved ICP set the working set is saved as
  icp.widget_gen       session-wide counter of the Score page's profile widget generations

The working profile of each dataset lives in st.session_state["icp.work"][dataset_id]
({profile, profile_id, version, baseline, baseline_label, widget_gen}). The profile is the only
truth: the Score page's sliders and tier widgets are created with the profile's values and write
back through callbacks. Their keys carry the entry's widget generation (`widget_key`), which
changes whenever the profile is changed from outside the widgets (adopt, load, import, a trait
edited in the form, another dataset): Streamlit then makes fresh widgets from the profile's values
instead of showing a value the browser or a dropped widget state still holds.

This module imports only Streamlit at load (app.py draws the navigation before the scoring
modules are imported); the dataset, scoring and cache modules are imported where they are used.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:
    from icp_core.dataset import AccountMatrix
    from icp_core.icpset import SetScore
    from icp_core.outcomes import Outcome
    from icp_core.profile import Profile
    from icp_core.store import ProfileStore

DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "sample_data" / "default_profile.json"

Choice = tuple[str, str]  # (workspace, dataset id)


@dataclass(frozen=True)
class LastClustering:
    """The clustering last shown on the Clusters page for one dataset: its key in the shared
    store of clusterings (ui.cached.cluster_results) and its cluster names, in label order."""
    key: tuple
    names: tuple[str, ...]


class AppState:
    """Typed access to the app-wide (`icp.*`) values of one session state (st.session_state, or
    any dict in tests). Pages and app.py read and write these only through here."""

    def __init__(self, ss: MutableMapping[str, Any]):
        self._ss = ss

    # ---------------------------------------------------------------- workspace and share link

    @property
    def workspace(self) -> str | None:
        """This browser's workspace (a ?ws= token or the signed-in identity's)."""
        return self._ss.get("icp.workspace")

    @workspace.setter
    def workspace(self, ws: str) -> None:
        self._ss["icp.workspace"] = ws

    @property
    def signed_in(self) -> str | None:
        """Who is signed in (shown in the sidebar); None without sign-in."""
        return self._ss.get("icp.signed_in")

    @signed_in.setter
    def signed_in(self, who: str | None) -> None:
        self._ss["icp.signed_in"] = who

    @property
    def share(self) -> dict | None:
        """The share record when this session is a read-only share link, else None."""
        return self._ss.get("icp.share")

    @share.setter
    def share(self, record: dict | None) -> None:
        if record is None:
            self._ss.pop("icp.share", None)
        else:
            self._ss["icp.share"] = record

    # ---------------------------------------------------------------- datasets

    @property
    def dataset(self) -> Choice | None:
        """(workspace, dataset id) of the current dataset."""
        return self._ss.get("icp.dataset")

    @dataset.setter
    def dataset(self, choice: Choice) -> None:
        """The user's pick (through the picker); the app's own picks go through choose_dataset."""
        self._ss["icp.dataset"] = tuple(choice)

    @property
    def sample_dataset(self) -> Choice | None:
        """(workspace, dataset id) of the shared sample dataset, once app.py has loaded it."""
        value = self._ss.get("icp.sample_dataset")
        return tuple(value) if value else None

    @sample_dataset.setter
    def sample_dataset(self, choice: Choice) -> None:
        self._ss["icp.sample_dataset"] = tuple(choice)

    def picker_key(self) -> str:
        """The sidebar dataset picker's widget key. It changes whenever the app itself picks a dataset
        (an upload, a deletion), so a widget value the browser sends from before that change (a click
        on another page while the load was finishing) can never switch the user back to the old one."""
        return f"app.dataset_picker.{self._ss.get('icp.picker_gen', 0)}"

    def renew_picker(self) -> None:
        """Give the picker a fresh widget key (the app changed the dataset)."""
        self._ss["icp.picker_gen"] = self._ss.get("icp.picker_gen", 0) + 1

    def choose_dataset(self, choice: Choice) -> None:
        """The app picks the current dataset (not the user through the picker)."""
        if self._ss.get("icp.dataset") != tuple(choice):
            self._ss["icp.dataset"] = tuple(choice)
            self.renew_picker()

    # ---------------------------------------------------------------- values pages share

    def chosen_outcome(self, dataset_id: str) -> Outcome | None:
        """The outcome ("a good customer is …") chosen on the Evidence page for this dataset; None
        until the Evidence page has been opened on it (Score and Share then use the default)."""
        return self._ss.get("icp.outcome", {}).get(dataset_id)

    def set_chosen_outcome(self, dataset_id: str, outcome: Outcome | None) -> None:
        """The Evidence page's outcome for this dataset (None: nothing usable chosen yet)."""
        outcomes = dict(self._ss.get("icp.outcome", {}))
        outcomes[dataset_id] = outcome
        self._ss["icp.outcome"] = outcomes

    def last_clustering(self, dataset_id: str) -> LastClustering | None:
        """The clustering last shown on the Clusters page for this dataset (the TAM page segments by
        it while it is still in the shared store), or None."""
        return self._ss.get("icp.clustering", {}).get(dataset_id)

    def set_last_clustering(self, dataset_id: str, key: tuple, names) -> None:
        clusterings = dict(self._ss.get("icp.clustering", {}))
        clusterings[dataset_id] = LastClustering(tuple(key), tuple(names))
        self._ss["icp.clustering"] = clusterings

    # ---------------------------------------------------------------- working profiles

    def work_entries(self) -> dict:
        """{dataset id | ("share", token): working profile entry}, the session's working profiles."""
        entries = self._ss.get("icp.work")
        if entries is None:
            entries = self._ss["icp.work"] = {}
        return entries

    def next_widget_gen(self) -> int:
        """A fresh generation for the Score page's profile widgets (session-wide, so two working
        profiles never share widget keys)."""
        gen = self._ss.get("icp.widget_gen", 0) + 1
        self._ss["icp.widget_gen"] = gen
        return gen


def app_state() -> AppState:
    """The app-wide values of this session (st.session_state)."""
    return AppState(st.session_state)


def read_only() -> dict | None:
    """The share record when this session is a read-only share link, else None."""
    return app_state().share


def picker_key() -> str:
    """The sidebar dataset picker's widget key (see AppState.picker_key)."""
    return app_state().picker_key()


def choose_dataset(choice: Choice) -> None:
    """The app picks the current dataset (not the user through the picker)."""
    app_state().choose_dataset(choice)


@dataclass
class Current:
    root: Path
    workspace: str  # this browser's workspace
    dataset_ws: str
    dataset_id: str
    meta: dict
    accounts: AccountMatrix
    pstore: ProfileStore
    stamp: int  # changes when the dataset is re-mapped


# Where Streamlit's markdown would turn plain text into a link (https://…, www.…, a@b.c, mailto:):
# an invisible WORD JOINER (U+2060) goes in front of the ':' / '.' / '@', which no escape can stop.
_AUTOLINK = re.compile(r"(?i)(?=://)|(?<=www)(?=\.)|(?=@)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)")


def escape_markdown(text) -> str:
    """User text (file values, names, labels) shown through st.markdown, st.caption, st.warning,
    widget labels, help= tooltips, status labels and toasts: markdown and HTML characters escaped and
    autolinks broken, so it shows as typed and never becomes a link, an image or formatting."""
    text = _AUTOLINK.sub("\u2060", str(text))
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~$:" else c for c in text)


def require_app() -> None:
    """Pages run inside app.py (workspace, dataset picker). A deep link that reaches a page
    file directly (Streamlit's pages/ folder convention on a fresh server) goes through app.py."""
    state = app_state()
    if state.dataset is None or not (state.workspace or state.share):
        st.switch_page("app.py")


def current_dataset() -> Current:
    """The dataset picked in the sidebar, loaded for scoring (stops the page if it is gone)."""
    import duckdb

    from icp_core.store import DatasetNotFound, DatasetStore, ProfileStore, data_dir
    from ui.cached import account_matrix

    require_app()
    state = app_state()
    root = data_dir()
    dataset_ws, dataset_id = state.dataset
    dstore = DatasetStore(root, dataset_ws)
    try:
        meta = dstore.read_meta(dataset_id)
        stamp = dstore.meta_path(dataset_id).stat().st_mtime_ns
        accounts = account_matrix(str(root), dataset_ws, dataset_id, stamp)
    except (DatasetNotFound, OSError, duckdb.Error):
        st.error("This dataset is no longer available or its file is damaged. Pick another one in the sidebar.")
        st.stop()
    share = state.share
    workspace = share["workspace"] if share else state.workspace
    return Current(root, workspace, dataset_ws, dataset_id, meta, accounts, ProfileStore(root, workspace), stamp)


def _new_entry(cur: Current, profile: Profile, profile_id=None, version=None, baseline_label="as loaded") -> dict:
    from icp_core.scoring import score_profile, tier_summary

    result, _ = score_profile(cur.accounts, profile)
    work = {"profile": profile, "profile_id": profile_id, "version": version,
            "baseline": tier_summary(result, cur.accounts), "baseline_label": baseline_label,
            "baseline_profile": profile.to_dict(), "saved": _comparable(profile) if version else None,
            "history": []}
    renew_widgets(work)
    return work


def _comparable(profile: Profile) -> dict:
    """A profile's content, to tell whether it changed since it was saved (not its edit time)."""
    d = profile.to_dict()
    d.pop("updated_at", None)
    return d


def set_working(cur: Current, profile: Profile, profile_id=None, version=None, baseline_label="as loaded") -> None:
    """Make `profile` the working profile of the current dataset (in the working set, it takes the
    place of the ICP being edited); its tiers become the baseline."""
    entries = app_state().work_entries()
    old, work = entries.get(cur.dataset_id), _new_entry(cur, profile, profile_id, version, baseline_label)
    icps = st.session_state.get("icp.sets", {}).get(cur.dataset_id)
    if icps is not None:
        at = next((i for i, e in enumerate(icps) if e is old), None)
        if at is None:
            icps.append(work)
        else:
            icps[at] = work
    entries[cur.dataset_id] = work


def _set_key(cur: Current):
    share = read_only()
    return ("share", share["token"]) if share is not None else cur.dataset_id


def working_set(cur: Current) -> list[dict]:
    """The working ICP set of the current dataset: its entries (each like working()'s) in set order;
    the ICP being edited (working()) is one of them."""
    active = working(cur)
    sets = st.session_state.setdefault("icp.sets", {})
    icps = sets.setdefault(_set_key(cur), [active])
    if not any(e is active for e in icps):  # the active entry was replaced outside set_working
        icps.append(active)
    return icps


def score_working_set(cur: Current, scored_active: tuple) -> tuple[list, SetScore | None]:
    """Each ICP of the working set scored ((result, binding), set order; the ICP being edited reuses
    `scored_active`, the page's own scoring of it) and the set's icpset.SetScore, its pattern
    combinations from the dataset's cache (None for a set of one: nothing to combine)."""
    from icp_core.icpset import combos_for, set_score
    from icp_core.scoring import score_profile

    active = working(cur)
    icps = working_set(cur)
    scored = [scored_active if e is active else score_profile(cur.accounts, e["profile"]) for e in icps]
    if len(scored) == 1:
        return scored, None
    return scored, set_score([e["profile"].name for e in icps], [r for r, _ in scored],
                             combos_for(cur.accounts, [b.traits for _, b in scored]))


def switch_icp(cur: Current, index: int) -> None:
    """Edit the ICP at `index` of the working set (its sliders are drawn from its own profile)."""
    icps = working_set(cur)
    work = icps[index]
    renew_widgets(work)
    app_state().work_entries()[_set_key(cur)] = work


def add_icp(cur: Current, profile: Profile) -> None:
    """Add a profile to the working set (at most MAX_ICPS, names distinct: ProfileError otherwise)
    and edit it."""
    from icp_core.icpset import IcpSet, validate_icp_set

    icps = working_set(cur)
    validate_icp_set(IcpSet([e["profile"] for e in icps] + [profile]))
    icps.append(_new_entry(cur, profile, baseline_label="the new ICP"))
    switch_icp(cur, len(icps) - 1)


def remove_icp(cur: Current, index: int) -> None:
    """Drop the ICP at `index` from the working set (never the last one); edit the first."""
    icps = working_set(cur)
    if len(icps) > 1:
        icps.pop(index)
        switch_icp(cur, 0)


def renew_widgets(work: dict) -> None:
    """The profile in `work` changed outside the Score page's widgets: give them fresh keys so they
    are drawn from the profile's values (a session-wide counter, so two entries never share keys)."""
    work["widget_gen"] = app_state().next_widget_gen()


def widget_key(work: dict, name: str) -> str:
    """Key of a Score-page widget that mirrors the working profile: `w.<trait id>` (weight),
    `tier_mode`, `th.A`..`th.C` (score lines), `mix.A`..`mix.D` (target mix)."""
    return f"score.g{work['widget_gen']}.{name}"


def working(cur: Current) -> dict:
    """The working profile of the current dataset, set up on first open: the latest saved
    profile, else (on the sample) the default profile, else an empty one. Through a share link:
    exactly the shared version."""
    from icp_core.profile import Profile, profile_from_dict, profile_from_json
    from icp_core.store import SAMPLE_WORKSPACE

    entries = app_state().work_entries()
    share = read_only()
    if share is not None:
        key = ("share", share["token"])
        if key not in entries and share.get("set_id"):  # a shared ICP set: every ICP at its pinned version
            from icp_core.store import SetStore
            sets = SetStore(cur.root, share["workspace"])
            pinned = sets.load_profiles(share["dataset_id"],
                                        sets.load_version(share["dataset_id"], share["set_id"], share["set_version"]))
            icps = [_new_entry(cur, profile_from_dict(p["profile"]), p["profile_id"], p["version"],
                               f"shared v{p['version']}") for p in pinned]
            st.session_state.setdefault("icp.sets", {})[key] = icps
            entries[key] = icps[0]
        if key not in entries:
            rec = cur.pstore.load_version(share["dataset_id"], share["profile_id"], share["version"])
            entries[key] = _new_entry(cur, profile_from_dict(rec["profile"]), share["profile_id"], share["version"],
                                      f"shared v{share['version']}")
        return entries[key]
    if cur.dataset_id not in entries and not _open_saved_set(cur):
        saved = cur.pstore.list_profiles(cur.dataset_id)
        if saved:
            rec = cur.pstore.load_version(cur.dataset_id, saved[0]["profile_id"])
            set_working(cur, profile_from_dict(rec["profile"]), rec["profile_id"], rec["version"],
                        f"saved v{rec['version']}")
        elif cur.dataset_ws == SAMPLE_WORKSPACE:
            set_working(cur, profile_from_json(DEFAULT_PROFILE.read_text()), baseline_label="the default profile")
        else:
            set_working(cur, Profile(name=f"ICP for {cur.meta['name']}"), baseline_label="the empty profile")
    return entries[cur.dataset_id]


def _open_saved_set(cur: Current) -> bool:
    """On first open of a dataset with a saved ICP set of two or more: the newest set version,
    each ICP at its pinned version, the first one being edited. False when there is none."""
    from icp_core.profile import profile_from_dict
    from icp_core.store import SetStore

    sets = SetStore(cur.root, cur.workspace)
    rec = sets.latest(cur.dataset_id)
    if rec is None or len(rec["members"]) < 2:
        return False
    try:
        pinned = sets.load_profiles(cur.dataset_id, rec)
    except (OSError, ValueError, KeyError, LookupError):
        return False  # a pinned version is gone: open as without a set
    entries = [_new_entry(cur, profile_from_dict(p["profile"]), p["profile_id"], p["version"],
                          f"saved v{p['version']}") for p in pinned]
    st.session_state.setdefault("icp.sets", {})[cur.dataset_id] = entries
    st.session_state.setdefault("icp.set_ids", {})[cur.dataset_id] = rec["set_id"]
    app_state().work_entries()[cur.dataset_id] = entries[0]
    return True


def _save_entry(cur: Current, work: dict, note: str, author: str) -> dict:
    from icp_core.profile import validate_profile
    from icp_core.scoring import score_profile, tier_summary

    profile = work["profile"]
    validate_profile(profile)
    rec = cur.pstore.save_version(cur.dataset_id, profile.to_dict(), work["profile_id"], note=note, author=author)
    result, _ = score_profile(cur.accounts, profile)
    work.update(profile_id=rec["profile_id"], version=rec["version"], baseline=tier_summary(result, cur.accounts),
                baseline_label=f"saved v{rec['version']}", saved=_comparable(profile), baseline_profile=profile.to_dict())
    return rec


def save_working(cur: Current, work: dict, note: str = "", author: str = "") -> dict:
    """Save the working profile as a new version (raises ProfileError when it is not valid);
    its tiers become the baseline that changes are shown against. Returns the version record.
    With two or more ICPs in the working set, every other ICP that is new or changed since its
    save is saved too, and a set version pins each ICP's version (icp_core.store.SetStore)."""
    from icp_core.icpset import IcpSet, validate_icp_set
    from icp_core.store import SetStore

    icps = working_set(cur)
    if len(icps) > 1:
        validate_icp_set(IcpSet([e["profile"] for e in icps]))  # before anything is written
    rec = _save_entry(cur, work, note, author)
    set_ids = st.session_state.setdefault("icp.set_ids", {})
    if len(icps) > 1 or cur.dataset_id in set_ids:
        for e in icps:
            if e is not work and (e["version"] is None or e["saved"] != _comparable(e["profile"])):
                _save_entry(cur, e, note, author)
        srec = SetStore(cur.root, cur.workspace).save_version(
            cur.dataset_id, "ICP set", [{"profile_id": e["profile_id"], "version": e["version"]} for e in icps],
            set_ids.get(cur.dataset_id), note=note, author=author)
        set_ids[cur.dataset_id] = srec["set_id"]
    return rec


def save_and_report(cur: Current, work: dict, note: str = "", author: str = "", undo=None) -> None:
    """The pages' Save button: save the working profile as a new version, then toast the version
    and rerun; a refused save shows why, runs `undo` (to put back what the page changed just
    before saving) and changes nothing."""
    from icp_core.profile import ProfileError

    try:
        rec = save_working(cur, work, note=note, author=author)
    except ProfileError as exc:
        if undo is not None:
            undo()
        st.error(f"Not saved: {escape_markdown(exc)}")
    else:
        st.toast(f"Saved “{escape_markdown(work['profile'].name)}” as version {rec['version']}", icon=":material/check:")
        st.rerun()


MAX_UNDO = 20


def remember(work: dict) -> None:
    """Keep the working profile as it is now, before a change, for one-click undo (the last MAX_UNDO),
    with who made the change and when (the session's change log: change_log)."""
    from datetime import datetime, timezone

    history = work.setdefault("history", [])
    history.append(work["profile"].to_dict())
    del history[:-MAX_UNDO]
    stamps = work.setdefault("history_stamps", [])
    stamps.append((app_state().signed_in or "", datetime.now(timezone.utc).strftime("%H:%M")))
    del stamps[:-MAX_UNDO]


def change_log(work: dict) -> list[dict]:
    """The session's changes since the baseline, oldest first: {who, when, what} per change (what:
    moved.describe_change between the snapshots around it)."""
    from icp_core.moved import describe_change

    history = work.get("history") or []
    if not history:
        return []
    stamps = work.get("history_stamps") or []
    stamps = ([("", "")] * (len(history) - len(stamps)) + stamps)[-len(history):]
    afters = history[1:] + [work["profile"].to_dict()]
    out = []
    for before, after, (who, when) in zip(history, afters, stamps, strict=True):
        what = describe_change(before, after)
        if what:
            out.append({"who": who, "when": when, "what": what})
    return out


def undo_last(work: dict) -> bool:
    """Put back the profile as it was before the last change; False when there is nothing to undo."""
    from icp_core.profile import profile_from_dict

    history = work.get("history") or []
    if not history:
        return False
    work["profile"] = profile_from_dict(history.pop())
    if work.get("history_stamps"):
        work["history_stamps"].pop()
    renew_widgets(work)
    return True


def replace_profile(cur: Current, profile: Profile) -> None:
    """Swap in an edited profile (e.g. with adopted traits), keeping the saved baseline."""
    work = working(cur)
    remember(work)
    work["profile"] = profile
    renew_widgets(work)
