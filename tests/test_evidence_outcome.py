"""Evidence defaults and bounds: the default outcome of a dataset (leads, churn, CRM), core
messages free of command-line wording, the bounded black-box reference fit."""

import math

import numpy as np
import pandas as pd
import pytest

from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import (
    EvidenceError,
    Outcome,
    OutcomeIncomplete,
    default_outcome,
    outcome_labels,
    outcome_weights,
)
from icp_core.reference import REFERENCE_MAX_ROWS, reference_auc, reference_rows
from icp_core.roles import ColumnSpec
from tests.conftest import ROOT, SHARED_DATA

TELCO = SHARED_DATA / "ibm_telco_customer_churn.csv"


def x_education_leads(n: int = 3000, seed: int = 12) -> pd.DataFrame:
    """A synthetic stand-in for the public X Education leads file (same headers and value styles):
    `Converted` is 0/1 and depends on time on the website, occupation, last activity, lead
    origin and lead source."""
    rng = np.random.default_rng(seed)
    origin = rng.choice(["Landing Page Submission", "API", "Lead Add Form", "Lead Import"], n, p=[.53, .39, .07, .01])
    source = rng.choice(["Google", "Direct Traffic", "Olark Chat", "Organic Search", "Reference", "Welingak Website"],
                        n, p=[.32, .28, .19, .13, .05, .03])
    visits = np.where(rng.random(n) < .02, np.nan, rng.poisson(3.4, n)).astype(float)
    time_site = np.where(rng.random(n) < .24, 0, rng.gamma(1.6, 380, n)).round()
    views = np.where(np.isnan(visits), np.nan, np.round(rng.gamma(2, 1.2, n), 2))
    activity = rng.choice(["Email Opened", "SMS Sent", "Olark Chat Conversation", "Page Visited on Website",
                           "Converted to Lead", "Email Bounced"], n, p=[.38, .3, .11, .07, .09, .05])
    occupation = rng.choice(["Unemployed", "Working Professional", "Student", "", "Other"], n,
                            p=[.6, .08, .02, .29, .01])
    logit = (-1.6 + 0.0015 * time_site + 1.8 * (occupation == "Working Professional") + 1.4 * (activity == "SMS Sent")
             + 1.2 * (origin == "Lead Add Form") - 0.8 * (source == "Olark Chat"))
    converted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "Prospect ID": [f"{rng.integers(1 << 30):08x}-{i:04x}" for i in range(n)],
        "Lead Number": 660737 - np.arange(n) * 7,
        "Lead Origin": origin,
        "Lead Source": source,
        "Do Not Email": rng.choice(["No", "Yes"], n, p=[.92, .08]),
        "Converted": converted,
        "TotalVisits": visits,
        "Total Time Spent on Website": time_site,
        "Page Views Per Visit": views,
        "Last Activity": activity,
        "Country": rng.choice(["India", "United States", "United Arab Emirates", ""], n, p=[.7, .01, .01, .28]),
        "Specialization": rng.choice(["Select", "Finance Management", "Human Resource Management",
                                      "Marketing Management", "Operations Management", "Business Administration"], n),
        "What is your current occupation": occupation,
        "Tags": rng.choice(["Will revert after reading the email", "Ringing", "Interested in other courses", ""], n),
        "Lead Quality": rng.choice(["", "Might be", "Not Sure", "High in Relevance", "Worst", "Low in Relevance"], n),
        "City": rng.choice(["Mumbai", "Select", "Thane & Outskirts", "Other Cities", ""], n),
        "Last Notable Activity": rng.choice(["Modified", "Email Opened", "SMS Sent", "Page Visited on Website"], n),
    })


def load(store, path):
    meta = ingest_dataset(store, path).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


def load_frame(store, tmp_path, frame, name="f.csv"):
    frame.to_csv(tmp_path / name, index=False)
    return load(store, tmp_path / name)


def known(y):
    return [None if math.isnan(v) else int(v) for v in y]


# ---------------------------------------------------------------------------- default outcome

def test_leads_default_to_converted(tmp_path, store):
    leads = x_education_leads()
    am = load_frame(store, tmp_path, leads, "Leads.csv")
    outcome = default_outcome(am)
    assert outcome.kind == "column" and outcome.column == "Converted"
    y = outcome_labels(am, outcome)
    assert np.array_equal(y, leads["Converted"].to_numpy(float))  # good = converted, every lead known


def test_telco_defaults_to_retained():
    import tempfile
    from pathlib import Path

    from icp_core.store import DatasetStore, new_token

    with tempfile.TemporaryDirectory() as tmp:
        am = load(DatasetStore(Path(tmp), new_token()), TELCO)
        outcome = default_outcome(am)
        y = outcome_labels(am, outcome)
        churn = pd.read_csv(TELCO)["Churn"].to_numpy()
        assert np.array_equal(y, (churn == "No").astype(float))  # good = retained (Churn = No)


def test_sample_defaults_to_won(store):
    am = load(store, ROOT / "sample_data" / "accounts.csv")
    assert default_outcome(am) == Outcome("won")


@pytest.mark.parametrize("header, values, good", [
    ("Won", ["Yes", "No"], "Yes"),  # a deal-stage flag: won vs lost
    ("is_won", ["1", "0"], "1"),
    ("Purchased", ["TRUE", "FALSE"], "TRUE"),
    ("Renewed", ["y", "n"], "y"),
    ("Exited", ["1", "0"], "0"),  # churn by another name: good = stayed
    ("Attrition", ["Yes", "No"], "No"),
    ("Churned", ["true", "false"], "false"),
    ("Customer?", ["yes", "no"], "yes"),
])
def test_outcome_like_yes_no_columns(tmp_path, store, header, values, good):
    rng = np.random.default_rng(0)
    n = 200
    flag = rng.choice(values, n)
    frame = pd.DataFrame({"Company": [f"Co {i}" for i in range(n)], "Email Opt Out": rng.choice(["Yes", "No"], n),
                          "Seats": rng.integers(1, 500, n), header: flag})
    am = load_frame(store, tmp_path, frame)
    outcome = default_outcome(am)
    y = outcome_labels(am, outcome)
    assert known(y) == (flag == good).astype(int).tolist(), (outcome, header)


def test_no_outcome_like_column_asks_for_one(tmp_path, store):
    rng = np.random.default_rng(1)
    n = 100
    frame = pd.DataFrame({"Company": [f"Co {i}" for i in range(n)], "Do Not Email": rng.choice(["Yes", "No"], n),
                          "Converted Value": rng.integers(0, 9000, n),  # outcome-like name, but not yes/no
                          "Customer Since": pd.date_range("2020-01-01", periods=n).astype(str),
                          "Segment": rng.choice(["SMB", "Enterprise"], n)})
    am = load_frame(store, tmp_path, frame)
    outcome = default_outcome(am)
    assert outcome == Outcome("column")  # no column picked: the page asks, nothing is guessed
    with pytest.raises(OutcomeIncomplete):
        outcome_labels(am, outcome)


# ---------------------------------------------------------------------------- messages

def test_incomplete_and_invalid_rules_are_typed_and_free_of_cli_flags(tmp_path, store):
    am = load_frame(store, tmp_path, x_education_leads(300), "Leads.csv")
    for outcome in (Outcome("column", column="TotalVisits"), Outcome("column", column="Lead Source"),
                    Outcome("column")):
        with pytest.raises(OutcomeIncomplete) as exc:
            outcome_labels(am, outcome)
        assert "--" not in str(exc.value)
    with pytest.raises(EvidenceError) as exc:
        outcome_labels(am, Outcome("column", column="TotalVisits", good_when=">="))
    assert not isinstance(exc.value, OutcomeIncomplete)
    assert str(exc.value) == "cannot read '>=' as a comparison; write e.g. >= 9 or < 30"
    # the example a page shows for big numbers is readable back
    # (Lead Number is a record id since issue 14, not a number to compare)
    y = outcome_labels(am, Outcome("column", column="Total Time Spent on Website", good_when=">= 1.5M"))
    assert np.nansum(y) == 0 and not np.isnan(y).all()
    y = outcome_labels(am, Outcome("column", column="Total Time Spent on Website", good_when="≥ 1.2K"))
    assert np.nansum(y) == (x_education_leads(300)["Total Time Spent on Website"] >= 1200).sum() > 0


# ---------------------------------------------------------------------------- reference bound

@pytest.fixture(scope="module")
def telco(tmp_path_factory):
    from icp_core.store import DatasetStore, new_token

    tmp = tmp_path_factory.mktemp("telco")
    return load(DatasetStore(tmp, new_token()), TELCO)


def test_reference_sample_is_bounded_and_stratified(telco):
    y, w = outcome_weights(telco, Outcome("retained"))
    rows = reference_rows(y, w, 1000)
    assert len(rows) <= 1000 and len(rows) >= 998 and len(np.unique(rows)) == len(rows)
    assert abs(y[rows].mean() - np.nanmean(y)) < 0.002  # the good share is kept
    assert np.array_equal(rows, reference_rows(y, w, 1000))  # the same sample on every run
    assert len(reference_rows(y, w, 10_000)) == telco.n  # small data: every account
    # roll-ups: each account stands for w deals; the bound is on deals
    yy = np.array([1.0, 0.5, 0.0, np.nan] * 50)
    ww = np.array([2.0, 10.0, 3.0, 0.0] * 50)
    r = reference_rows(yy, ww, 300)
    assert ww[r].sum() <= 300 and ww[r].sum() > 250


def test_reference_fit_is_bounded_and_single_threaded(telco, monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_info

    fits = []
    real_fit = HistGradientBoostingClassifier.fit

    def recording_fit(self, X, y, *args, **kwargs):
        omp = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
        fits.append((len(X), omp))
        return real_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", recording_fit)
    assert REFERENCE_MAX_ROWS <= 5_000
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
    auc = reference_auc(telco, Outcome("retained"))
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"] == before  # restored
    assert 0.8 < auc < 0.9
    assert len(fits) == 5  # 5-fold
    assert all(n <= REFERENCE_MAX_ROWS * 4 / 5 + 1 for n, _ in fits), fits
    assert all(omp == [1] or not omp for _, omp in fits), fits  # one OpenMP thread per fit
