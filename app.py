"""ICP Explorer: entry point. Page config, the shared sidebar (workspace and dataset), navigation."""

import streamlit as st

from icp_core.ingest import ensure_sample_dataset
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore, data_dir, is_workspace_id, new_token

st.set_page_config(page_title="ICP Explorer", page_icon=":material/target:", layout="wide")


@st.cache_resource(show_spinner="Loading the sample dataset…")
def sample_dataset_id(root: str) -> str:
    return ensure_sample_dataset(root)


def session_workspace() -> str:
    """This browser's private workspace: a 128-bit token kept in the URL (?ws=…)."""
    ws = st.query_params.get("ws")
    if not is_workspace_id(ws) or ws == SAMPLE_WORKSPACE:
        ws = st.session_state.get("icp.workspace") or new_token()
        st.query_params["ws"] = ws
    st.session_state["icp.workspace"] = ws
    return ws


root = str(data_dir())
workspace = session_workspace()
sample_id = sample_dataset_id(root)
own, problems = DatasetStore(root, workspace).list_datasets()
choices = [(workspace, m["id"], m["name"]) for m in own]
choices.append((SAMPLE_WORKSPACE, sample_id, DatasetStore(root, SAMPLE_WORKSPACE).read_meta(sample_id)["name"]))
keys = [(w, i) for w, i, _ in choices]
pending = st.session_state.pop("icp.pending_dataset", None)  # a page just loaded a dataset
if pending in keys:
    st.session_state["app.dataset_picker"] = pending
if st.session_state.get("app.dataset_picker") not in keys:
    st.session_state["app.dataset_picker"] = keys[0]
with st.sidebar:
    st.markdown("### :material/target: ICP Explorer")
    labels = {(w, i): name + (" (shared sample)" if w == SAMPLE_WORKSPACE else "") for w, i, name in choices}
    st.session_state["icp.dataset"] = st.selectbox("Dataset", keys, format_func=labels.get,
                                                   key="app.dataset_picker")
    for problem in problems:
        st.warning(problem, icon=":material/warning:")
    st.caption("Your uploads are private to this link. Bookmark it to come back to your data.")

nav = st.navigation([
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:", default=True),
])
nav.run()
