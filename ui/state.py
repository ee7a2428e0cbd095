"""Session state shared by the pages: the current dataset and its working ICP profile.

The working profile of each dataset lives in st.session_state["score.work"][dataset_id]
({profile, profile_id, version, baseline, baseline_label, widget_gen}). The profile is the only
truth: the Score page's sliders and tier widgets are created with the profile's values and write
back through callbacks. Their keys carry the entry's widget generation (`widget_key`), which
changes whenever the profile is changed from outside the widgets (adopt, load, import, a trait
edited in the form, another dataset): Streamlit then makes fresh widgets from the profile's values
instead of showing a value the browser or a dropped widget state still holds.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import streamlit as st

from icp_core.profile import Profile, profile_from_dict, profile_from_json, validate_profile
from icp_core.dataset import AccountMatrix
from icp_core.scoring import score_profile, tier_summary
from icp_core.store import SAMPLE_WORKSPACE, DatasetNotFound, DatasetStore, ProfileStore, data_dir
from ui.cached import account_matrix

DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "sample_data" / "default_profile.json"


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


def read_only() -> dict | None:
    """The share record when this session is a read-only share link, else None."""
    return st.session_state.get("icp.share")


# Where Streamlit's markdown would turn plain text into a link (https://…, www.…, a@b.c, mailto:):
# an invisible WORD JOINER (U+2060) goes in front of the ':' / '.' / '@', which no escape can stop.
_AUTOLINK = re.compile(r"(?i)(?=://)|(?<=www)(?=\.)|(?=@)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)")


def escape_markdown(text) -> str:
    """User text (file values, names, labels) shown through st.markdown, st.caption, st.warning,
    widget labels, help= tooltips, status labels and toasts: markdown and HTML characters escaped and
    autolinks broken, so it shows as typed and never becomes a link, an image or formatting."""
    text = _AUTOLINK.sub("\u2060", str(text))
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~$:" else c for c in text)


def picker_key() -> str:
    """The sidebar dataset picker's widget key. It changes whenever the app itself picks a dataset
    (an upload, a deletion), so a widget value the browser sends from before that change (a click on
    another page while the load was finishing) can never switch the user back to the old dataset."""
    return f"app.dataset_picker.{st.session_state.get('icp.picker_gen', 0)}"


def choose_dataset(choice: tuple[str, str]) -> None:
    """The app picks the current dataset (not the user through the picker)."""
    if st.session_state.get("icp.dataset") != choice:
        st.session_state["icp.dataset"] = choice
        st.session_state["icp.picker_gen"] = st.session_state.get("icp.picker_gen", 0) + 1


def require_app() -> None:
    """Pages run inside app.py (workspace, dataset picker). A deep link that reaches a page
    file directly (Streamlit's pages/ folder convention on a fresh server) goes through app.py."""
    if "icp.dataset" not in st.session_state or not ("icp.workspace" in st.session_state or read_only()):
        st.switch_page("app.py")


def current_dataset() -> Current:
    """The dataset picked in the sidebar, loaded for scoring (stops the page if it is gone)."""
    require_app()
    root = data_dir()
    dataset_ws, dataset_id = st.session_state["icp.dataset"]
    dstore = DatasetStore(root, dataset_ws)
    try:
        meta = dstore.read_meta(dataset_id)
        stamp = dstore.meta_path(dataset_id).stat().st_mtime_ns
        accounts = account_matrix(str(root), dataset_ws, dataset_id, stamp)
    except (DatasetNotFound, OSError, duckdb.Error):
        st.error("This dataset is no longer available or its file is damaged. Pick another one in the sidebar.")
        st.stop()
    share = read_only()
    workspace = share["workspace"] if share else st.session_state["icp.workspace"]
    return Current(root, workspace, dataset_ws, dataset_id, meta, accounts, ProfileStore(root, workspace), stamp)


def set_working(cur: Current, profile: Profile, profile_id=None, version=None, baseline_label="as loaded") -> None:
    """Make `profile` the working profile of the current dataset; its tiers become the baseline."""
    result, _ = score_profile(cur.accounts, profile)
    work = {"profile": profile, "profile_id": profile_id, "version": version,
            "baseline": tier_summary(result, cur.accounts), "baseline_label": baseline_label}
    renew_widgets(work)
    st.session_state.setdefault("score.work", {})[cur.dataset_id] = work


def renew_widgets(work: dict) -> None:
    """The profile in `work` changed outside the Score page's widgets: give them fresh keys so they
    are drawn from the profile's values (a session-wide counter, so two entries never share keys)."""
    gen = st.session_state.get("score.widget_gen", 0) + 1
    st.session_state["score.widget_gen"] = gen
    work["widget_gen"] = gen


def widget_key(work: dict, name: str) -> str:
    """Key of a Score-page widget that mirrors the working profile: `w.<trait id>` (weight),
    `tier_mode`, `th.A`..`th.C` (score lines), `mix.A`..`mix.D` (target mix)."""
    return f"score.g{work['widget_gen']}.{name}"


def working(cur: Current) -> dict:
    """The working profile of the current dataset, set up on first open: the latest saved
    profile, else (on the sample) the default profile, else an empty one. Through a share link:
    exactly the shared version."""
    share = read_only()
    if share is not None:
        key = ("share", share["token"])
        if key not in st.session_state.get("score.work", {}):
            rec = cur.pstore.load_version(share["dataset_id"], share["profile_id"], share["version"])
            profile = profile_from_dict(rec["profile"])
            result, _ = score_profile(cur.accounts, profile)
            entry = {"profile": profile, "profile_id": share["profile_id"], "version": share["version"],
                     "baseline": tier_summary(result, cur.accounts), "baseline_label": f"shared v{share['version']}"}
            renew_widgets(entry)
            st.session_state.setdefault("score.work", {})[key] = entry
        return st.session_state["score.work"][key]
    if cur.dataset_id not in st.session_state.get("score.work", {}):
        saved = cur.pstore.list_profiles(cur.dataset_id)
        if saved:
            rec = cur.pstore.load_version(cur.dataset_id, saved[0]["profile_id"])
            set_working(cur, profile_from_dict(rec["profile"]), rec["profile_id"], rec["version"],
                        f"saved v{rec['version']}")
        elif cur.dataset_ws == SAMPLE_WORKSPACE:
            set_working(cur, profile_from_json(DEFAULT_PROFILE.read_text()), baseline_label="the default profile")
        else:
            set_working(cur, Profile(name=f"ICP for {cur.meta['name']}"), baseline_label="the empty profile")
    return st.session_state["score.work"][cur.dataset_id]


def save_working(cur: Current, work: dict, note: str = "", author: str = "") -> dict:
    """Save the working profile as a new version (raises ProfileError when it is not valid);
    its tiers become the baseline that changes are shown against. Returns the version record."""
    profile = work["profile"]
    validate_profile(profile)
    rec = cur.pstore.save_version(cur.dataset_id, profile.to_dict(), work["profile_id"], note=note, author=author)
    result, _ = score_profile(cur.accounts, profile)
    work.update(profile_id=rec["profile_id"], version=rec["version"], baseline=tier_summary(result, cur.accounts),
                baseline_label=f"saved v{rec['version']}")
    return rec


def replace_profile(cur: Current, profile: Profile) -> None:
    """Swap in an edited profile (e.g. with adopted traits), keeping the saved baseline."""
    work = working(cur)
    work["profile"] = profile
    renew_widgets(work)
