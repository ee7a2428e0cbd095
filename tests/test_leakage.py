"""Issue 18, item 1: columns written after the outcome are flagged with their evidence and left out
of the suggestion by default; honest columns are not flagged."""

import json

import numpy as np
import pandas as pd
import pytest

from icp_core.__main__ import main
from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.leakage import flag_columns
from icp_core.outcomes import Outcome, default_outcome
from icp_core.roles import ColumnSpec
from icp_core.store import DatasetStore, new_token
from icp_core.suggest import suggest_traits
from tests.conftest import ROOT

ACCOUNTS = ROOT / "sample_data" / "accounts.csv"


def planted(path):
    """The sample with three leaky columns: sales tags written at the close, a lost reason filled only
    for lost deals, and a follow-up date set after the close."""
    df = pd.read_csv(ACCOUNTS, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(1)
    won, lost = df["Deal Stage"].eq("Closed Won"), df["Deal Stage"].eq("Closed Lost")
    df["Tags"] = np.where(won, np.where(rng.random(len(df)) < 0.8, "Closed by Horizzon", "Will revert after reading"),
                          np.where(lost, np.where(rng.random(len(df)) < 0.7, "Not interested", "Ringing"), ""))
    df["Loss Explanation"] = np.where(lost, rng.choice(["Price", "Timing", "Competitor"], len(df)), "")
    close = pd.to_datetime(df["Close Date"], format="%m/%d/%Y", errors="coerce")
    df["Follow Up"] = (close + pd.to_timedelta(rng.integers(5, 90, len(df)), unit="D")).dt.strftime("%Y-%m-%d").fillna("")
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    d = tmp_path_factory.mktemp("leak")
    store = DatasetStore(d / "s", new_token())
    meta = ingest_dataset(store, planted(d / "a.csv")).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return d / "a.csv", AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


def test_planted_leaks_are_flagged_with_their_evidence(leaky):
    _, am = leaky
    flags = {f.header: f for f in flag_columns(am, default_outcome(am)).values()}
    assert set(flags) == {"Tags", "Loss Explanation", "Follow Up"}
    tags = flags["Tags"].reading()
    assert "held-out AUC 1.00" in tags and "its name reads as written after the outcome" in tags
    assert "100% of values read as written after the outcome" in tags
    assert "blank for 100% of good accounts and 0% of the others" in flags["Loss Explanation"].reading()
    assert "100% of its dates fall after the close date" in flags["Follow Up"].reading()


def test_honest_columns_are_not_flagged(app_sample):
    *_, am = app_sample
    flags = {f.header for f in flag_columns(am, default_outcome(am)).values()}
    firmographic = {"Industry", "Country", "Region", "Employees", "Annual Revenue", "Funding Stage", "Founded",
                    "Tech Stack", "Lead Source"}
    assert not flags & firmographic
    # the joined activity dates do fall after many closes: they are reported, never suggested anyway
    assert flags <= {"Last Activity (activity)", "Last Meeting (activity)"}


def test_flagged_columns_are_left_out_of_the_suggestion_unless_allowed(leaky):
    _, am = leaky
    outcome = default_outcome(am)
    sug = suggest_traits(am, outcome)
    assert set(sug.excluded) == {"Tags", "Loss Explanation", "Follow Up"}
    assert not any(t.column in ("Tags", "Loss Explanation") for t in sug.traits)
    assert sug.found and 0.6 < sug.cv_auc < 0.9
    allowed = suggest_traits(am, outcome, allow=frozenset({"Tags"}))
    assert "Tags" not in allowed.excluded
    assert any(t.column == "Tags" for t in allowed.traits) and allowed.cv_auc > 0.95


def test_cli_suggest_prints_the_flags_and_allow_column_includes_one(leaky, tmp_path, capsys):
    path, _ = leaky
    out = tmp_path / "p.json"
    assert main(["--data-dir", str(tmp_path / "d"), "suggest", str(path), "--outcome", "won", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "leakage: “Tags”" in err and "left out" in err
    assert "Tags" not in out.read_text()
    assert main(["--data-dir", str(tmp_path / "d"), "suggest", str(path), "--outcome", "won", "--out", str(out),
                 "--allow-column", "Tags"]) == 0
    err = capsys.readouterr().err
    assert "“Tags”" in err and "included (--allow-column)" in err
    assert any(t["column"] == "Tags" for t in json.loads(out.read_text())["traits"])
    # the backtest of that profile warns that it scores on a leaky column
    assert main(["--data-dir", str(tmp_path / "d"), "backtest", str(path), "--outcome", "won",
                 "--profile", str(out)]) == 0
    captured = capsys.readouterr()
    assert "leakage: the profile scores on “Tags”" in captured.err
    assert json.loads(captured.out)["leakage"][0]["column"] == "Tags"


def test_evidence_page_lists_the_flags_and_includes_one_on_request(leaky, data_root, monkeypatch):
    from tests.conftest import open_app

    path, _ = leaky
    at = open_app("pages/data.py", timeout=240)
    at.file_uploader(key="data.accounts_file").set_value(("leads.csv", path.read_bytes(), "text/csv"))
    at.text_input(key="data.name").set_value("Leads")
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/evidence.py").run()
    assert not at.exception, at.exception
    assert any("may leak the outcome" in w.value for w in at.warning)
    box = next(m for m in at.multiselect if m.label == "Include anyway")
    assert set(box.options) == {"Tags", "Loss Explanation", "Follow Up"}
    table = next(d.value for d in at.dataframe if "Status" in d.value.columns)
    assert not (table["Column"] == "Tags").any()
    box.set_value(["Tags"]).run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Status" in d.value.columns)
    assert (table["Column"] == "Tags").any()
    assert Outcome("won").key()  # (the outcome the page used: won vs lost)
