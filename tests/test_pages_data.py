"""The Data page through Streamlit's AppTest: sample on first open, upload, mapping, quality, delete."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, SHARED_DATA, open_app

UPLOAD = (
    "Company,Sector,Employees,Revenue,Country,Stage\n"
    "Acme,technolgy,\"1,001-5,000\",$2.5M,USA,Closed Won\n"
    "Beta,technology,50,abc,UK,Closed Lost\n"
    "Gamma,technology,10000+,36.9 Million,Germany,Open\n"
)


@pytest.fixture
def app(data_root):
    return open_app("pages/data.py", timeout=120)


def quality_table(at):
    frame = next(d.value for d in at.dataframe if "Unreadable examples" in d.value.columns)
    return frame.set_index("Column")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_first_open_shows_the_sample(app):
    assert app.title[0].value == "Data"
    assert metric(app, "Accounts loaded") == "3,000"
    assert app.session_state["icp.dataset"][0] == "sample"  # (AppTest does not keep the sidebar after switch_page)
    assert len(app.query_params["ws"][0] if isinstance(app.query_params["ws"], list) else app.query_params["ws"]) == 32


def test_upload_shows_mapping_and_quality(app):
    app.file_uploader(key="data.accounts_file").set_value(("crm.csv", UPLOAD.encode(), "text/csv"))
    app.text_input(key="data.name").set_value("My CRM")
    app.button[0].click().run()  # the form's submit button
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.subheader[0].value == "My CRM"
    assert metric(app, "Accounts loaded") == "3"
    assert metric(app, "Columns with unreadable values") == "1"
    quality = quality_table(app)
    assert quality.loc["Revenue", "Unreadable"] == pytest.approx(1 / 3)
    assert quality.loc["Employees", "Bands"] == 2
    assert quality.loc["Country", "Parsed"] == 1.0
    mapping = next(d.value for d in app.dataframe if d.key == "data.mapping_editor").set_index("Column")
    assert mapping.loc["Sector", "Role"] == "Industry" and mapping.loc["Stage", "Role"] == "Won / lost (deal stage)"
    assert mapping.loc["Employees", "Scale"] == "× 1"
    hints = " ".join(m.value for m in app.markdown)
    assert "technolgy" in hints and "technology" in hints
    workspace, dataset_id = app.session_state["icp.dataset"]
    assert workspace == app.session_state["icp.workspace"] != "sample" and len(dataset_id) == 32


def test_upload_of_a_bad_file_says_why(app):
    app.file_uploader(key="data.accounts_file").set_value(("empty.csv", b"a,b\n", "text/csv"))
    app.button[0].click().run()
    assert not app.exception
    assert any("no data rows" in e.value for e in app.error)
    assert metric(app, "Accounts loaded") == "3,000"  # still on the sample


def test_upload_with_opportunities_rolls_up(app):
    app.file_uploader(key="data.accounts_file").set_value(
        ("maven_crm_accounts.csv", (SHARED_DATA / "maven_crm_accounts.csv").read_bytes(), "text/csv"))
    app.file_uploader(key="data.opportunities_file").set_value(
        ("pipeline.csv", (SHARED_DATA / "maven_crm_sales_pipeline.csv").read_bytes(), "text/csv"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert metric(app, "Opportunity rows") == "8,800"
    assert metric(app, "Rows without an account") == "1,425"
    assert metric(app, "Accounts with deals") == "85 of 85"


def test_mapping_change_is_applied(app):
    app.file_uploader(key="data.accounts_file").set_value(("crm.csv", UPLOAD.encode(), "text/csv"))
    app.button[0].click().run()
    # change Revenue's role to Text through the session's editing state
    key = "data.mapping_editor"
    app.session_state[key] = {"edited_rows": {3: {"Role": "Text (not a trait)"}}, "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="data.apply_mapping").click().run()
    assert not app.exception, app.exception
    quality = quality_table(app)
    assert quality.loc["Revenue", "Role"] == "Text (not a trait)"
    assert quality.loc["Revenue", "Unreadable"] == 0


def test_delete_dataset(app):
    app.file_uploader(key="data.accounts_file").set_value(("crm.csv", UPLOAD.encode(), "text/csv"))
    app.button[0].click().run()
    delete = [b for b in app.button if b.key and b.key.startswith("data.delete.")]
    assert len(delete) == 1
    delete[0].click().run()
    assert not app.exception
    assert metric(app, "Accounts loaded") == "3,000"
    assert not [b for b in app.button if b.key and b.key.startswith("data.delete.")]


def test_join_more_sources_on_the_data_page(app, monkeypatch):
    from icp_core import sources

    previews = []
    real_preview = sources.preview_source
    monkeypatch.setattr(sources, "preview_source", lambda *a, **k: previews.append(1) or real_preview(*a, **k))
    app.file_uploader(key="data.accounts_file").set_value(
        ("ravenstack_accounts.csv", (SHARED_DATA / "ravenstack_accounts.csv").read_bytes(), "text/csv"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    app.file_uploader(key="data.source_file.0").set_value(
        ("ravenstack_subscriptions.csv", (SHARED_DATA / "ravenstack_subscriptions.csv").read_bytes(), "text/csv"))
    app.run()
    assert not app.exception, app.exception
    assert metric(app, "Rows matched") == "100%" and metric(app, "Accounts matched") == "500"
    aggs = next(d.value for d in app.dataframe if "Aggregate" in d.value.columns)
    assert aggs.set_index("Column").loc["arr_amount", "Aggregate"] == "sum"
    app.run()  # another rerun (an aggregate edit, say) reuses the preview
    assert len(previews) == 1 and metric(app, "Accounts matched") == "500"
    app.button(key="data.source_join").click().run()
    assert not app.exception, app.exception
    assert metric(app, "New columns") == "14"
    quality = quality_table(app)
    assert "arr_amount (ravenstack_subscriptions, sum)" in quality.index
    assert quality.loc["arr_amount (ravenstack_subscriptions, sum)", "Role"] == "ARR / deal value"


def test_sidebar_pick_is_honoured_but_a_stale_pick_never_undoes_the_apps_choice(data_root, tmp_path):
    """The picker's key carries a generation that the app bumps when it picks a dataset itself
    (an upload, a deletion). A value for the current key is the user's pick; a value the browser
    still holds for an older key (sent with a click made while a load was finishing) is ignored.
    (Each case is one run: AppTest drops the sidebar on a second run of an st.navigation app.)"""
    from icp_core.ingest import ingest_dataset
    from icp_core.store import DatasetStore, new_token

    ws = new_token()
    store = DatasetStore(data_root, ws)
    (tmp_path / "a.csv").write_text("Company,Employees\nAcme,10\nBeta,20\n")
    first = (ws, ingest_dataset(store, tmp_path / "a.csv", name="first file").dataset_id)
    second = (ws, ingest_dataset(store, tmp_path / "a.csv", name="second file").dataset_id)

    def run(state):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["ws"] = ws
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        assert not at.exception, at.exception
        picker = next(box for box in at.sidebar.selectbox if box.label == "Dataset")
        return at.session_state["icp.dataset"], picker.value

    # the user picked `first` in the current picker: honoured, and the Score page shows it
    assert run({"icp.dataset": second, "icp.picker_gen": 3, "app.dataset_picker.3": first}) == (first, first)
    # the app has since chosen `second` (generation 4); the browser's old pick for generation 3 is stale
    assert run({"icp.dataset": second, "icp.picker_gen": 4, "app.dataset_picker.3": first}) == (second, second)
    # a pick that is no longer listed (deleted elsewhere) falls back to what the app had
    gone = (ws, "0" * 32)
    assert run({"icp.dataset": second, "icp.picker_gen": 1, "app.dataset_picker.1": gone}) == (second, second)


def test_user_text_is_shown_as_typed_never_as_markdown(app):
    """Names and values from a user's file are escaped wherever a page renders markdown:
    a dataset named like a link stays text (no link, no image), on the Data page and in the
    Share page caption."""
    name = "[Click me](http://evil.example) ![x](http://evil.example/a.png) **bold**"
    app.file_uploader(key="data.accounts_file").set_value(("crm.csv", UPLOAD.encode(), "text/csv"))
    app.text_input(key="data.name").set_value(name)
    app.button[0].click().run()
    assert not app.exception, app.exception
    rendered = [m.value for m in app.markdown] + [c.value for c in app.caption] + [h.value for h in app.subheader]
    assert not any("](http" in v for v in rendered), [v for v in rendered if "evil" in v]
    # escaped, and the autolink broken by an invisible word joiner before "://" (issue 13, item 2)
    assert any(r"\[Click me\]\(http" + "\u2060" + r"\://evil\.example\)" in v for v in rendered)
    app.switch_page("pages/share.py").run()
    assert not app.exception, app.exception
    captions = [c.value for c in app.caption]
    assert any("evil" in c for c in captions) and not any("](http" in c for c in captions)


def test_order_lines_are_proposed_then_rolled_up_and_the_key_is_shown_as_typed(app):
    """Issue 14 on the page: the proposal before loading, the roll-up after; the key's header is
    user text and shows as typed in the metric's tooltip (no markdown)."""
    rows = ["Order,**Customer** [id](https://x.example),Amount"] + [f"O{i},C{i % 7},{i}" for i in range(70)]
    app.file_uploader(key="data.accounts_file").set_value(("orders.csv", "\n".join(rows).encode(), "text/csv"))
    app.run()
    assert not app.exception, app.exception
    proposal = " ".join(m.value for m in app.markdown)
    assert "This looks like 70 lines for 7 accounts" in proposal
    app.button(key="data.load").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    loaded = next(m for m in app.metric if m.label == "Accounts loaded")
    assert loaded.value == "7"
    assert "rolled up from 70 lines" in loaded.help and "\\*\\*Customer\\*\\*" in loaded.help


def test_preview_shows_the_files_headers_and_dates_as_dates(app):
    """Seen on real uploads: the preview showed snake_case keys (lange_min_most_frequent) beside a
    quality table in the file's own headers, and dates with 00:00:00."""
    upload = "Company,Länge (min),Signup Date\nAcme,12,2024-03-01\nBeta,15,2024-05-17\n"
    app.file_uploader(key="data.accounts_file").set_value(("crm.csv", upload.encode(), "text/csv"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    preview = next(d for d in app.dataframe if "Company" in d.value.columns and len(d.value) == 2)
    assert list(preview.value.columns) == ["Company", "Länge (min)", "Signup Date"]
    assert preview.proto.columns and "YYYY-MM-DD" in preview.proto.columns
