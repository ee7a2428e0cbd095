"""Clusters and TAM pages through AppTest."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, SHARED_DATA, open_app


@pytest.fixture
def app(data_root):
    return open_app(timeout=240)


def profiles(at):
    return next(d.value for d in at.dataframe if "In tiers A+B" in d.value.columns)


def test_clusters_page(app):
    app.switch_page("pages/clusters.py").run()
    assert not app.exception, app.exception
    table = profiles(app)
    assert len(table) == 4 and table["Accounts"].sum() == 3000
    assert table["Name"].is_unique
    app.slider(key="clusters.k").set_value(6).run()
    assert not app.exception, app.exception
    assert len(profiles(app)) == 6
    app.radio(key="clusters.colour").set_value("Tier").run()
    assert not app.exception
    app.slider(key="clusters.k").set_value(4).run()
    assert profiles(app).equals(table)  # same input, same clusters
    dataset_id = app.session_state["icp.dataset"][1]
    before = len(app.session_state["icp.work"][dataset_id]["profile"].traits)
    app.button(key="clusters.adopt").click().run()
    assert not app.exception, app.exception
    assert len(app.session_state["icp.work"][dataset_id]["profile"].traits) > before
    app.selectbox(key="clusters.show").set_value(table["Name"].iloc[0]).run()
    accounts = next(d.value for d in app.dataframe if "Cluster" in d.value.columns and "Score" in d.value.columns)
    assert (accounts["Cluster"] == table["Name"].iloc[0]).all()
    # one click moves the slider to the silhouette's suggestion (the sample suggests k = 2)
    suggested = int(next(c.value for c in app.caption if c.value.startswith("Suggested k")).split()[3])
    assert suggested != 4
    app.button(key="clusters.use_suggested").click().run()
    assert not app.exception, app.exception
    assert app.slider(key="clusters.k").value == suggested and len(profiles(app)) == suggested
    assert not [b for b in app.button if b.key == "clusters.use_suggested"]


def shown(at, element):
    """A grid's values and the text each cell shows (pandas Styler display values)."""
    from streamlit import dataframe_util

    assert element.proto.arrow_data.styler.display_values, "the grid shows raw numbers, not formatting.py's text"
    text = dataframe_util.convert_arrow_bytes_to_pandas_df(element.proto.arrow_data.styler.display_values)
    text.columns = element.value.columns
    return element.value, text


def profile_grid(at):
    return shown(at, next(d for d in at.dataframe if "In tiers A+B" in d.value.columns))


def test_clusters_page_numbers_map_caption_and_accounts(app):
    """Issue 12 items 7 and 10: money through formatting.money (not "$138,339.00"), never a "None"
    cell, and a caption that says which map this is and why."""
    from icp_core.formatting import money, pct

    app.switch_page("pages/clusters.py").run()
    assert not app.exception, app.exception
    values, text = profile_grid(app)
    assert values.notna().all().all()  # a grid shows a null cell as "None", whatever its format
    assert not text.isin(["None", "nan", "NaN", ""]).any().any()
    assert text["ARR"].tolist() == [money(x) for x in values["ARR"]]
    assert text["Annual Revenue (median)"].tolist() == [money(x) for x in values["Annual Revenue (median)"]]
    assert text["Share"].tolist() == [pct(x) for x in values["Share"]]
    assert not [n for n in values["Name"] if n.startswith("Mixed") or n.endswith(")")]
    caption = " ".join(c.value for c in app.caption)
    assert "plane through the cluster centres" in caption and "read as groups" in caption
    assert "PCA" not in caption
    # the accounts of a cluster: revenue as money, no empty cell shown as "None"
    app.selectbox(key="clusters.show").set_value(values["Name"].iloc[0]).run()
    assert not app.exception, app.exception
    accounts = next(d for d in app.dataframe if "Cluster" in d.value.columns and "Score" in d.value.columns)
    a_values, a_text = shown(app, accounts)
    assert a_values.notna().all().all()
    assert a_text["Annual Revenue"].tolist() == [money(x) if x != float("-inf") else "–"
                                                 for x in a_values["Annual Revenue"]]


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_tam_page_with_clusters_and_a_market_list(app):
    app.switch_page("pages/tam.py").run()
    assert not app.exception, app.exception
    assert metric(app, "Market accounts") == "3,000"
    tam = metric(app, "TAM")
    assert tam.startswith("$")
    app.multiselect(key="tam.by").set_value(["industry", "employee_band"]).run()
    assert not app.exception, app.exception
    table = next(d.value for d in app.dataframe if "TAM ($)" in d.value.columns)
    assert table.iloc[:, 0].str.contains(" · ").all()
    app.slider(key="tam.share").set_value(20).run()
    assert metric(app, "SOM") != "$0"
    # clusters become a dimension once computed
    app.switch_page("pages/clusters.py").run()
    app.switch_page("pages/tam.py").run()
    assert "cluster" in app.multiselect(key="tam.by").options or any(
        "Cluster" in str(o) for o in app.multiselect(key="tam.by").options)
    # a market list uploaded on the page
    data = (SHARED_DATA / "crunchbase_2013_companies.csv").read_bytes()
    app.file_uploader(key="tam.market_file").set_value(("crunchbase.csv", data, "text/csv"))
    app.run()
    app.button(key="tam.load_market").click().run()
    assert not app.exception, app.exception
    app.multiselect(key="tam.by").set_value(["country"]).run()
    assert not app.exception, app.exception
    assert metric(app, "Market accounts") == "19,374"
    assert any("Scoring the market list without" in w.value for w in app.warning)


def test_telco_through_clusters_and_tam(app):
    app.switch_page("pages/data.py").run()
    data = (SHARED_DATA / "ibm_telco_customer_churn.csv").read_bytes()
    app.file_uploader(key="data.accounts_file").set_value(("telco.csv", data, "text/csv"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    app.switch_page("pages/clusters.py").run()
    assert not app.exception, app.exception
    table = profiles(app)
    assert table["Accounts"].sum() == 7043 and table["Churn"].notna().all()
    # clustered on contracts, tenure and charges, not on the first six columns (gender first);
    # no one-click "+2 gender in Male"; no column of dashes for the outcomes telco does not have
    chosen = app.multiselect(key="clusters.columns").value
    assert "gender" not in chosen and {"tenure", "contract", "monthly_charges"} <= set(chosen)
    assert not [m for m in app.markdown if "gender" in m.value.lower()]
    assert "Win rate" not in table.columns and "ARR" not in table.columns
    values, text = profile_grid(app)
    assert values.notna().all().all() and not text.isin(["None", "nan"]).any().any()
    assert table["Name"].is_unique and not [n for n in table["Name"] if n.startswith("Mixed")]
    app.switch_page("pages/tam.py").run()
    assert not app.exception, app.exception
    assert any("enter your ACV" in w.value for w in app.warning)
    app.number_input(key="tam.acv_override").set_value(840.0).run()
    assert not app.exception, app.exception
    assert metric(app, "Customers") == "5,174"  # not churned
    assert metric(app, "TAM") == "$" + f"{7043 * 840 / 1e6:.3g}M"


def test_tam_csv_download_neutralises_formulas(data_root, tmp_path, monkeypatch):
    """Segment names come from the user's file: the TAM table's CSV must not carry formulas."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from icp_core.ingest import ingest_dataset
    from icp_core.store import DatasetStore, new_token

    files = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    ws = new_token()
    (tmp_path / "hostile.csv").write_text(
        "Company,Industry,ARR\nAcme,=HYPERLINK(\"http://x\"),100\nBeta,@SUM(A1),200\nGamma,Fintech,300\n")
    ingest_dataset(DatasetStore(data_root, ws), tmp_path / "hostile.csv")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["ws"] = ws
    at.run()
    at.switch_page("pages/tam.py").run()
    at.multiselect(key="tam.by").set_value(["industry"]).run()
    assert not at.exception, at.exception
    import csv
    import io

    rows = list(csv.reader(io.StringIO(files["tam.csv"].decode("utf-8-sig"))))
    segments = sorted(r[0] for r in rows[1:])
    assert segments == ["'=hyperlink(\"http://x\")", "'@sum(a1)", "fintech"]
