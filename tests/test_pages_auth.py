"""Optional sign-in (issue 13, item 11): with [auth] in Streamlit secrets, workspaces belong to the
signed-in identity; without it nothing changes; share links work without signing in."""

from streamlit.testing.v1 import AppTest

from icp_core.store import SAMPLE_WORKSPACE, ProfileStore, ShareStore, workspace_for_identity
from tests.conftest import ROOT

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s3cret",
        "google": {"client_id": "id", "client_secret": "x",
                   "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration"}}
MIA = {"is_logged_in": True, "email": "mia@example.com", "sub": "1001", "iss": "https://accounts.google.com"}


def run(user=None, auth=True, query=None):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if auth:
        at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def test_without_auth_nothing_changes(data_root):
    at = run(auth=False)
    assert at.title[0].value == "Score" and "ws" in at.query_params


def test_signed_out_visitor_sees_only_the_sign_in_page(data_root):
    at = run({"is_logged_in": False})
    assert at.title[0].value == "Sign in to ICP Explorer"
    assert [b.label for b in at.button] == ["Sign in with Google"]
    assert not at.metric and "icp.workspace" not in at.session_state


def test_signed_in_users_get_their_own_workspace_whatever_the_url(data_root):
    other = workspace_for_identity("s3cret", "https://accounts.google.com", "2002", "bo@example.com")
    at = run(MIA, query={"ws": other})  # someone else's workspace token in the URL is ignored
    mine = workspace_for_identity("s3cret", MIA["iss"], MIA["sub"], MIA["email"])
    assert at.session_state["icp.workspace"] == mine != other
    assert "ws" not in at.query_params
    assert at.title[0].value == "Score" and any("Signed in as mia" in c.value for c in at.sidebar.caption)
    # the same person in a new session (another browser) gets the same workspace
    assert run(MIA).session_state["icp.workspace"] == mine


def test_identity_workspace_is_keyed_by_the_secret():
    a = workspace_for_identity("s3cret", "iss", "1", "a@x")
    assert len(a) == 32 and a != workspace_for_identity("other", "iss", "1", "a@x")
    assert a != workspace_for_identity("s3cret", "iss", "2", "a@x")


def test_share_links_open_without_signing_in(data_root):
    at = run(MIA)
    ws = at.session_state["icp.workspace"]
    _, sample_id = at.session_state["icp.dataset"]
    from icp_core.profile import profile_from_json
    profile = profile_from_json((ROOT / "sample_data" / "default_profile.json").read_text())
    rec = ProfileStore(data_root, ws).save_version(sample_id, profile.to_dict())
    token = ShareStore(data_root).create(ws, SAMPLE_WORKSPACE, sample_id, rec["profile_id"], rec["version"])["token"]
    viewer = run({"is_logged_in": False}, query={"share": token})
    assert viewer.title[0].value == "Score"
    assert len([m for m in viewer.metric if m.label == "Accounts"]) == 6  # A-D, Disqualified, Insufficient data
