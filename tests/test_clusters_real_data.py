"""Clusters on real data (issue 12, items 7 and 10): default columns with business meaning, names
that say what sets each cluster apart, a map on which clusters read as groups and does not pile
thousands of accounts onto a few dots, and numbers that read like formatting.py writes them."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_score

from icp_core.dataset import AccountMatrix
from icp_core.formatting import MISSING, money, pct
from icp_core.ingest import ingest_dataset
from icp_core.roles import ColumnSpec
from icp_core.segments import (
    Clustering,
    cluster_accounts,
    default_cluster_columns,
    profile_clusters,
    profile_formats,
    sortable,
    traits_for_cluster,
)
from icp_core.store import DatasetStore, new_token
from tests.conftest import ROOT, SHARED_DATA

TELCO = SHARED_DATA / "ibm_telco_customer_churn.csv"
CRUNCHBASE = SHARED_DATA / "crunchbase_2013_companies.csv"


def load(store, path):
    meta = ingest_dataset(store, path).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    store = DatasetStore(tmp_path_factory.mktemp("icp_data"), new_token())
    return {"sample": load(store, ROOT / "sample_data" / "accounts.csv"), "telco": load(store, TELCO),
            "crunchbase": load(store, CRUNCHBASE)}


@pytest.fixture(scope="module")
def clustered(datasets):
    """cluster_accounts(datasets[which], cols, k), computed once per module for each (which, columns, k)
    (the determinism checks below cluster again themselves)."""
    done = {}

    def get(which, cols, k):
        key = (which, tuple(s.header for s in cols), k)
        if key not in done:
            done[key] = cluster_accounts(datasets[which], cols, k=k)
        return done[key]
    return get


def headers(columns):
    return [s.header for s in columns]


def raster_positions(xy: np.ndarray, grid: int = 300) -> int:
    """Distinct spots the points take on a grid × grid raster of the map (what a reader can tell apart)."""
    cells = np.floor((xy - xy.min(axis=0)) / np.ptp(xy, axis=0) * grid)
    return len(np.unique(cells, axis=0))


# ---------------------------------------------------------------------------- default columns

def test_telco_defaults_are_business_columns_not_gender(datasets):
    am = datasets["telco"]
    cols = headers(default_cluster_columns(am))
    # the first six columns were gender, SeniorCitizen, Partner, Dependents, tenure, PhoneService
    assert not {"gender", "SeniorCitizen", "Partner", "Dependents", "PhoneService", "customerID"} & set(cols)
    assert len({"tenure", "Contract", "MonthlyCharges", "InternetService", "PaymentMethod"} & set(cols)) >= 4
    assert 3 <= len(cols) <= 6
    # the traits offered in one click describe contracts, tenure and charges, never gender
    cl = cluster_accounts(am, default_cluster_columns(am), k=4)
    offered = [t for c in range(4) for t in traits_for_cluster(am, cl, default_cluster_columns(am), c)]
    assert offered and not [t for t in offered if "gender" in t.label.lower()]


def test_crunchbase_defaults_carry_funding_and_skip_constant_and_duplicate_columns(datasets):
    am = datasets["crunchbase"]
    cols = headers(default_cluster_columns(am))
    assert {"category_code", "region", "funding_total_usd"} <= set(cols)
    assert "country_code" not in cols  # every company is in the United States: nothing to segment on
    assert not {"permalink", "name", "homepage_url"} & set(cols)  # identifiers
    assert not {"founded_year", "founded_quarter"} <= set(cols)  # one founding date, not two
    assert not {"region", "city"} <= set(cols)  # one place, not two


def test_sample_defaults_stay_the_firmographic_roles(datasets):
    cols = default_cluster_columns(datasets["sample"])
    assert [s.role for s in cols] == ["industry", "employees", "annual_revenue", "region", "funding_stage",
                                      "technologies"]


# ---------------------------------------------------------------------------- names

def assert_good_names(names):
    assert len(set(names)) == len(names), names
    assert not [n for n in names if n.startswith("Mixed") or re.search(r"\(\d+\)$", n) or not n.strip()], names


@pytest.mark.parametrize("which", ["sample", "crunchbase"])
def test_names_are_unique_and_say_what_differs(datasets, clustered, which):
    am = datasets[which]
    choices = [default_cluster_columns(am)]
    if which == "crunchbase":  # the old defaults: "Mixed accounts", "Mixed accounts (2)", "Mixed in SF Bay" ...
        choices.append([s for s in am.specs if s.role in ("industry", "region")])
    for cols in choices:
        for k in (3, 4, 6, 8):
            cl = clustered(which, cols, k)
            assert_good_names(profile_clusters(am, cl, cols)["name"].tolist())


def test_two_clusters_alike_on_place_are_named_by_their_funding(tmp_path, store):
    """Two clusters of US companies that differ by funding (≈ $915K vs ≈ $15M) were both
    "Mixed in United States"; a Canadian cluster sets the place apart from the rest."""
    n = 30
    df = pd.DataFrame({
        "Company": [f"c{i}" for i in range(3 * n)],
        "Country": ["United States"] * (2 * n) + ["Canada"] * n,
        "Funding (USD)": np.r_[np.linspace(800_000, 1_030_000, n), np.linspace(13e6, 17e6, n),
                               np.linspace(2.5e6, 3.5e6, n)],
        "Industry": (["Fintech", "Retail", "Media"] * n),
    })
    df.to_csv(tmp_path / "funding.csv", index=False)
    am = load(store, tmp_path / "funding.csv")
    cols = [s for s in am.specs if s.header in ("Country", "Funding (USD)", "Industry")]
    labels = np.repeat(np.arange(3, dtype=np.int32), n)
    cl = Clustering(3, labels, np.arange(3 * n), np.zeros((3 * n, 2)), {}, 3, headers(cols), 1.0)
    names = profile_clusters(am, cl, cols)["name"].tolist()
    assert_good_names(names)
    assert "$915K" in names[0] and "United States" in names[0], names
    assert "$15M" in names[1] and "United States" in names[1], names
    assert "Canada" in names[2], names
    assert not [x for x in names if "Industry" in x or "Fintech" in x]  # the same mix everywhere: says nothing


# ---------------------------------------------------------------------------- the map

@pytest.mark.parametrize("k", [2, 4, 6])
def test_sample_map_shows_clusters_as_groups(datasets, clustered, k):
    """The PCA map was three horizontal bands (region one-hot) with clusters as slices of them:
    silhouette of the 2-D map by cluster 0.43 / 0.39 / 0.34 for k = 2 / 4 / 6."""
    am = datasets["sample"]
    cl = clustered("sample", default_cluster_columns(am), k)
    assert silhouette_score(cl.map_xy, cl.labels[cl.map_rows]) > 0.6
    # every cluster's points sit around their own centre: nearest 2-D centre is their own
    lab = cl.labels[cl.map_rows]
    centres = np.vstack([np.median(cl.map_xy[lab == c], axis=0) for c in range(k)])
    nearest = np.argmin(((cl.map_xy[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == lab).mean() > 0.97
    assert 0 < cl.explained <= 1


def test_crunchbase_map_does_not_pile_points_onto_a_few_dots(datasets, clustered):
    """On industry and region only (the old defaults), ~5,000 points took ~150 distinct spots."""
    am = datasets["crunchbase"]
    for cols, k in (([s for s in am.specs if s.role in ("industry", "region")], 8), (default_cluster_columns(am), 4)):
        cl = clustered("crunchbase", cols, k)
        assert len(cl.map_rows) >= 4900
        assert raster_positions(cl.map_xy) >= 0.5 * len(cl.map_rows)
        again = cluster_accounts(am, cols, k=k)
        assert np.array_equal(again.map_xy, cl.map_xy)  # the nudge is seeded: same input, same map


# ---------------------------------------------------------------------------- numbers on screen

def test_profile_numbers_read_like_formatting(datasets, clustered):
    am = datasets["sample"]
    cols = default_cluster_columns(am)
    cl = clustered("sample", cols, 4)
    table = profile_clusters(am, cl, cols)
    table.loc[0, "win_rate"] = math.nan  # a cluster with no closed deal
    formats = profile_formats(cols)
    grid = sortable(table, formats)
    assert grid.notna().all().all()  # a grid shows a null as "None"
    shown = {c: grid[c].map(f) for c, f in formats.items() if c in grid}
    assert shown["win_rate"].iloc[0] == MISSING and grid["win_rate"].iloc[0] == -math.inf
    assert shown["arr"].tolist() == [money(x) for x in table["arr"]]
    assert all(re.fullmatch(r"\$\d+(\.\d+)?[KMB]?", x) for x in shown["arr"])  # "$17M", never "$16,951,600.00"
    assert shown["Annual Revenue (median)"].tolist() == [money(x) for x in table["Annual Revenue (median)"]]
    assert shown["share"].tolist() == [pct(x) for x in table["share"]]
    assert not [v for col in shown.values() for v in col if v in ("None", "nan")]
