"""TAM on a market-only dataset (issue 12, item 6) and TAM numbers shown one way (item 10).

Crunchbase's company list says nothing about customers (no won/lost, churn or ARR column): TAM,
SAM and SOM still come out of the user's ACV, with customers and penetration unknown ("–"), and
without an ACV the page says exactly what to enter."""

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from icp_core import tam
from icp_core.dataset import AccountMatrix
from icp_core.formatting import MISSING, count, money, pct
from icp_core.ingest import ingest_dataset
from icp_core.roles import ColumnSpec
from icp_core.store import DatasetStore, new_token
from icp_core.tam import TamAssumptions, segment_values, tam_table
from tests.conftest import ROOT, SHARED_DATA

CRUNCHBASE = SHARED_DATA / "crunchbase_2013_companies.csv"
ACV = 20_000.0


@pytest.fixture(scope="module")
def crunchbase(tmp_path_factory):
    store = DatasetStore(tmp_path_factory.mktemp("cb"), new_token())
    meta = ingest_dataset(store, CRUNCHBASE).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


def test_market_only_tam_is_accounts_times_your_acv(crunchbase):
    am = crunchbase
    assert am.n == 19_374 and tam.known_customers(am) is None  # nothing about customers
    seg = segment_values(am, None, "industry")
    serviceable = seg == "software"
    table, totals = tam_table([seg], serviceable, None, None, am.arr,
                              TamAssumptions(acv_override=ACV, override_all=True, attainable_share=0.15))
    assert table["market_accounts"].sum() == 19_374
    assert (table["tam"] == table["market_accounts"] * ACV).all()
    assert (table["sam"] == table["serviceable_accounts"] * ACV).all()
    assert np.allclose(table["som"], table["sam"] * 0.15)
    assert totals["tam"] == 19_374 * ACV and totals["sam"] == int(serviceable.sum()) * ACV > 0
    # customers and penetration are unknown, not 0
    assert table["customers"].isna().all() and table["penetration"].isna().all()
    assert math.isnan(totals["customers"]) and not totals["customers_known"]
    assert (table["acv_used"] == ACV).all() and table["acv_source"].str.contains("your ACV").all()
    # the same without "for every segment": the user's ACV is the only ACV there is
    again, totals2 = tam_table([seg], serviceable, None, None, am.arr, TamAssumptions(acv_override=ACV))
    assert totals2["tam"] == totals["tam"] and (again["acv_used"] == ACV).all()


def test_market_only_without_acv_is_unknown_not_zero(crunchbase):
    am = crunchbase
    seg = segment_values(am, None, "region")
    table, totals = tam_table([seg], np.ones(am.n, bool), None, None, am.arr, TamAssumptions())
    assert table["market_accounts"].sum() == 19_374
    assert math.isnan(totals["tam"]) and math.isnan(totals["sam"]) and math.isnan(totals["som"])
    assert money(totals["tam"]) == MISSING
    shown = tam.tam_display(table)
    assert (shown["tam"] == MISSING).all() and (shown["customers"] == MISSING).all()


def test_display_never_says_none_and_money_is_one_format():
    """Segments only customers have (no market accounts) and segments without ACV had None/NaN."""
    market = [np.array(["Fintech"] * 4 + ["Retail"] * 2, dtype=object)]
    cust = [np.array(["Fintech", "Fintech", "Gov"], dtype=object)]
    table, _ = tam_table(market, np.ones(6, bool), cust, np.array([True, True, True]),
                         np.array([138_339.0, 101_261.0, 50_000.0]), TamAssumptions(min_customers=2))
    shown = tam.tam_display(table)
    text = shown.to_numpy().ravel().tolist()
    assert not [x for x in text if x in ("None", "nan", "NaN", "<NA>", "") or x is None], text
    fin = table.index[table["segment"] == "Fintech"][0]
    assert shown.loc[fin, "acv_used"] == money(table.loc[fin, "acv_used"]) == "$120K"
    assert shown.loc[fin, "tam"] == money(4 * 119_800.0) == "$479K"
    assert shown.loc[fin, "penetration"] == pct(0.5, 1) and shown.loc[fin, "market_accounts"] == count(4)
    gov = table.index[table["segment"] == "Gov"][0]
    assert shown.loc[gov, "penetration"] == MISSING  # no market accounts: unknown, not None
    # on screen: a grid shows a null cell as "None" whatever its format, so the grid gets no nulls,
    # unknowns sort below every known value and read "–" like tam_display
    grid = tam.tam_sortable(table)
    assert grid.notna().all().all()
    assert grid.sort_values("penetration")["segment"].iloc[0] == "Gov"
    for col, fmt in tam.DISPLAY_FORMATS.items():
        assert grid[col].map(fmt).tolist() == shown[col].tolist()


# ---------------------------------------------------------------------------- the page


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def tam_frame(at):
    """The TAM table: its values and the text each cell shows (pandas Styler display values)."""
    from streamlit import dataframe_util

    el = next(d for d in at.dataframe if "TAM ($)" in d.value.columns)
    shown = dataframe_util.convert_arrow_bytes_to_pandas_df(el.proto.arrow_data.styler.display_values)
    shown.columns = el.value.columns
    return el.value, shown


@pytest.fixture
def market_only_app(data_root, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    ws = new_token()
    ingest_dataset(DatasetStore(data_root, ws), CRUNCHBASE)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["ws"] = ws
    at.run()
    at.switch_page("pages/tam.py").run()
    assert not at.exception, at.exception
    return at, files


def test_tam_page_on_crunchbase_with_your_acv(market_only_app):
    at, files = market_only_app
    # no ACV yet: the page says what to enter instead of "says nothing about customers"
    warning = next(w.value for w in at.warning if "Your ACV" in w.value)
    assert "no won/lost, churn or ARR column" in warning and "20000" in warning
    assert metric(at, "TAM") == MISSING and metric(at, "Market accounts") == "19,374"

    at.number_input(key="tam.acv_override").set_value(ACV).run()
    at.checkbox(key="tam.override_all").check().run()
    assert not at.exception, at.exception
    assert metric(at, "TAM") == money(19_374 * ACV) == "$387M"
    assert metric(at, "SAM") == "$387M" and metric(at, "SOM") == money(19_374 * ACV * 0.10) == "$38.7M"
    assert metric(at, "Customers") == MISSING
    assert any("Customers are unknown" in i.value for i in at.info)
    assert not [w for w in at.warning if "Your ACV" in w.value]

    at.multiselect(key="tam.by").set_value(["region"]).run()
    at.slider(key="tam.share").set_value(25).run()
    assert not at.exception, at.exception
    values, shown = tam_frame(at)
    assert values["Market accounts"].sum() == 19_374 and len(values) > 10
    assert (values["TAM ($)"] == values["Market accounts"] * ACV).all()
    assert shown["TAM ($)"].tolist() == [money(v) for v in values["Market accounts"] * ACV]
    assert shown["SOM ($)"].tolist() == [money(v) for v in values["Serviceable"] * ACV * 0.25]
    assert (shown["Customers"] == MISSING).all() and (shown["Penetration"] == MISSING).all()
    assert "None" not in shown.to_numpy().ravel().tolist()
    assert values.notna().all().all()  # the browser's grid shows any null cell as "None"
    assert metric(at, "SOM") == money(19_374 * ACV * 0.25)
    # the CSV download keeps exact numbers; unknown customers are blank
    rows = list(csv.reader(io.StringIO(files["tam.csv"].decode("utf-8-sig"))))
    head = rows[0]
    body = pd.DataFrame(rows[1:], columns=head)
    assert body["tam"].astype(float).sum() == 19_374 * ACV
    assert (body["customers"] == "").all() and (body["penetration"] == "").all()

    # another market scope: the sample accounts as the market list, still sized by your ACV
    assert any("the sample accounts" in o for o in at.selectbox(key="tam.market").options)
    at.session_state["tam.market"] = tuple(at.session_state["icp.sample_dataset"])
    at.run()
    assert not at.exception, at.exception
    assert metric(at, "Market accounts") == "3,000" and metric(at, "TAM") == money(3_000 * ACV) == "$60M"


def test_cli_tam_on_a_market_only_file_uses_the_acv(tmp_path, capsys):
    from icp_core.__main__ import main

    out = tmp_path / "tam.csv"
    profile = tmp_path / "p.json"
    profile.write_text('{"schema_version": 1, "name": "status", "traits": [{"label": "Operating", "column": "status", "rule": "in_set", '
                       '"values": ["operating"], "weight": 3}]}')
    rc = main(["tam", str(CRUNCHBASE), "--profile", str(profile), "--by", "tier", "--acv", "20000",
               "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "TOTAL" in captured.out and money(19374 * ACV) in captured.out  # $387M
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert df["market_accounts"].sum() == 19374 and df["tam"].sum() == 19374 * ACV
    assert main(["tam", str(CRUNCHBASE), "--profile", str(profile), "--by", "tier"]) == 2
    assert "ACV" in capsys.readouterr().err
