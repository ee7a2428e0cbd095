"""ICP Explorer: entry point. Page config, navigation, and the shared sidebar (dataset picker).

Two modes: a private workspace (the ?ws= token in the URL; uploads, editing, saving), or a
read-only share link (?share=<token>): exactly one saved profile version on its dataset, on
the Score, Clusters and TAM pages, with nothing else listed.

The sidebar lists the app's pages with st.page_link, drawn here: Streamlit's own page list is turned
off (client.showSidebarNavigation = false in .streamlit/config.toml), because on a fresh server it
shows a listing of the pages/ folder (file names) before this script has sent the navigation.
Session state is kept through ui.state (AppState), the one owner of the app-wide `icp.*` values.
"""

from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from icp_core.ingest import ensure_sample_dataset
from icp_core.store import (
    SAMPLE_WORKSPACE,
    DatasetStore,
    ShareStore,
    data_dir,
    is_workspace_id,
    new_token,
    sweep_leftovers,
    workspace_for_identity,
)
from ui.state import app_state, choose_dataset, escape_markdown, picker_key  # only Streamlit at import

st.set_page_config(page_title="ICP Explorer", page_icon=":material/target:", layout="wide")


@st.cache_resource(show_spinner="Loading the sample dataset…")
def sample_dataset_id(root: str) -> str:
    sweep_leftovers(root)  # once per server process: what a killed server left half-written
    return ensure_sample_dataset(root)


def auth_providers() -> list[str] | None:
    """The sign-in providers when `[auth]` is configured in Streamlit secrets (optional, off by
    default): [] for a single provider set directly under [auth], the names of [auth.<name>]
    sections otherwise; None when sign-in is not configured."""
    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, KeyError, StreamlitSecretNotFoundError):
        return None
    if not section:
        return None
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def signed_in_workspace(providers: list[str]) -> str:
    """With sign-in configured: the workspace of the signed-in identity (its datasets belong to the
    identity, not to a URL token; a ?ws= in the URL is ignored). Shows the sign-in page and stops
    for a visitor who is not signed in. Share links never get here: they work without sign-in."""
    if not st.user.is_logged_in:
        st.title("Sign in to ICP Explorer")
        st.write("This ICP Explorer is private to a team. Sign in to see your datasets and profiles; "
                 "links someone shared with you open without signing in.")
        for name in providers or [None]:
            label = f"Sign in with {name.replace('_', ' ').title()}" if name else "Sign in"
            st.button(label, type="primary", icon=":material/login:", key=f"app.login.{name or ''}",
                      on_click=st.login, args=(name,) if name else ())
        st.stop()
    ws = workspace_for_identity(str(st.secrets["auth"].get("cookie_secret", "")), st.user.get("iss"),
                                st.user.get("sub"), st.user.get("email"))
    if "ws" in st.query_params:
        del st.query_params["ws"]
    state = app_state()
    state.workspace = ws
    state.signed_in = st.user.get("email") or st.user.get("name") or "your account"
    return ws


def session_workspace() -> str:
    """This browser's private workspace: a 128-bit token kept in the URL (?ws=…)."""
    ws = st.query_params.get("ws")
    if not is_workspace_id(ws) or ws == SAMPLE_WORKSPACE:
        ws = app_state().workspace or new_token()
        st.query_params["ws"] = ws
    app_state().workspace = ws
    return ws


def dataset_choices(root: str, workspace: str) -> tuple[dict, list[str]]:
    """{(workspace, id): label} for this workspace's datasets (newest first) and the sample."""
    own, problems = DatasetStore(root, workspace).list_datasets()
    labels = {(workspace, m["id"]): m["name"] for m in own}
    sample_id = sample_dataset_id(root)
    sample_name = DatasetStore(root, SAMPLE_WORKSPACE).read_meta(sample_id)["name"]
    labels[(SAMPLE_WORKSPACE, sample_id)] = f"{sample_name} (shared sample)"
    app_state().sample_dataset = (SAMPLE_WORKSPACE, sample_id)
    return labels, problems


def page_links(pages: list, query_params: dict | None = None) -> None:
    """The app's own page list at the top of the sidebar, the current page highlighted (Streamlit's
    page list is off: see the module docstring). `query_params` go into every link."""
    with st.sidebar.container(key="app_nav"):
        for page in pages:
            st.page_link(page, query_params=query_params, width="stretch")


def shared_view(root: str, token: str) -> None:
    """A read-only share link, or a plain "link not found" for anything else. The token stays in the
    URL on every page: the page links carry it, and it is put back each run (a page switch from code
    drops query parameters)."""
    state = app_state()
    record = ShareStore(root).resolve(token)
    if record is None or not DatasetStore(root, record["dataset_ws"]).exists(record["dataset_id"]):
        state.share = None
        st.title("Link not found")
        st.write("This ICP link does not exist or is no longer shared. Ask the person who sent it for a new link.")
        st.stop()
    if st.query_params.get("share") != token:
        st.query_params.clear()
        st.query_params["share"] = token
    state.share = record  # the author's workspace stays inside the record, never the session's
    state.dataset = (record["dataset_ws"], record["dataset_id"])
    pages = [
        st.Page("pages/score.py", title="Score", icon=":material/leaderboard:", default=True),
        st.Page("pages/clusters.py", title="Clusters", icon=":material/scatter_plot:"),
        st.Page("pages/tam.py", title="TAM", icon=":material/public:"),
    ]
    nav = st.navigation(pages, position="hidden")
    page_links(pages, {"share": token})  # the links keep the token in the URL
    with st.sidebar:  # drawn before the page, so a page that stops early keeps it
        st.markdown("### :material/target: ICP Explorer")
        st.caption("Shared ICP, read-only: exactly the version that was shared.")
    nav.run()


def draw_sidebar(slot, labels: dict, problems: list[str]) -> None:
    """The workspace sidebar (title, dataset picker, load problems) into `slot`."""
    options = list(labels)
    with slot.container():
        st.markdown("### :material/target: ICP Explorer")
        st.selectbox("Dataset", options, index=options.index(app_state().dataset),
                     format_func=labels.get, key=picker_key())
        for problem in problems:
            st.warning(escape_markdown(problem), icon=":material/warning:")
        if app_state().signed_in:
            st.caption(f"Signed in as {escape_markdown(app_state().signed_in)}.")
            st.button("Sign out", key="app.logout", icon=":material/logout:", on_click=st.logout)
        else:
            st.caption("Your uploads are private to this link. Bookmark it to come back to your data.")


root = str(data_dir())
# A share session stays one: should ?share= go missing from the URL, the session keeps the token.
share_token = st.query_params.get("share") if "share" in st.query_params else (
    (app_state().share or {}).get("token"))
if share_token is not None:
    shared_view(root, share_token)
    st.stop()

providers = auth_providers()
workspace = session_workspace() if providers is None else signed_in_workspace(providers)
# the page links go out before the datasets are read (the sample loads on a fresh server), so the
# first screen shows the app's pages at once
pages = [
    st.Page("pages/score.py", title="Score", icon=":material/leaderboard:", default=True),
    st.Page("pages/evidence.py", title="Evidence", icon=":material/query_stats:"),
    st.Page("pages/clusters.py", title="Clusters", icon=":material/scatter_plot:"),
    st.Page("pages/tam.py", title="TAM", icon=":material/public:"),
    st.Page("pages/people.py", title="People", icon=":material/groups:"),
    st.Page("pages/share.py", title="Share & export", icon=":material/ios_share:"),
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
]
nav = st.navigation(pages, position="hidden")
page_links(pages, {"ws": workspace} if providers is None else None)  # a link opened in a new tab keeps it

labels, problems = dataset_choices(root, workspace)
picked = st.session_state.get(picker_key())  # the user's choice in the sidebar (the picker's own widget key)
if picked in labels:
    app_state().dataset = picked
elif app_state().dataset not in labels:
    choose_dataset(next(iter(labels)))

# The sidebar is drawn before the page (so a page that stops early keeps it) and drawn again after
# it when the page loaded or deleted a dataset, so the picker shows the change at once.
sidebar = st.sidebar.empty()
drawn = (list(labels), app_state().dataset, picker_key())
draw_sidebar(sidebar, labels, problems)
nav.run()
labels, problems = dataset_choices(root, workspace)
if app_state().dataset not in labels:
    choose_dataset(next(iter(labels)))
if (list(labels), app_state().dataset, picker_key()) != drawn:
    if picker_key() == drawn[2]:  # a fresh key: the picker's widget is drawn a second time this run
        app_state().renew_picker()
    draw_sidebar(sidebar, labels, problems)
