"""Issue 16, item 2: lookalikes of the best customers. Similarity against a brute-force nearest-
neighbour computation, the default exemplars, the one-step-away list, the similarity's AUC, the
CLI round trip, and exemplar lists that cannot be used."""

import csv
import io

import numpy as np
import pandas as pd
import pytest

from icp_core.lookalike import (
    MAX_EXEMPLARS,
    LookalikeError,
    account_names,
    default_exemplars,
    exemplars_from_names,
    features,
    find_lookalikes,
    one_step_away,
    similarity_auc,
)
from icp_core.outcomes import Outcome
from icp_core.profile import profile_from_json
from icp_core.scoring import score_profile
from icp_core.segments import default_cluster_columns
from tests.conftest import ROOT, sample_with_deals

DEFAULT = ROOT / "sample_data" / "default_profile.json"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    *_, am = sample_with_deals(tmp_path_factory.mktemp("lk"))
    ex = default_exemplars(am)
    return am, ex, find_lookalikes(am, ex)


def test_default_exemplars_are_the_won_customers_with_the_highest_arr(sample):
    am, ex, _ = sample
    assert len(ex) == 100 and (am.won_deals[ex] > 0).all()
    won = np.flatnonzero(am.won_deals > 0)
    assert np.nanmin(am.arr[ex]) >= np.nanmax(np.setdiff1d(am.arr[won], am.arr[ex]), initial=-np.inf) - 1e-9


def test_similarity_equals_a_brute_force_nearest_neighbour_computation(sample):
    am, ex, lk = sample
    X = features(am, default_cluster_columns(am)).astype(np.float64)
    rows = np.random.default_rng(1).choice(am.n, 300, replace=False)
    d = np.sqrt(((X[rows, None, :] - X[None, ex, :]) ** 2).sum(axis=2))  # (300, 100) every distance
    nearest5 = np.sort(d, axis=1)[:, :5].mean(axis=1)
    assert np.allclose(lk.distance[rows], nearest5, rtol=1e-4, atol=1e-4)
    unique_min = (np.sort(d, axis=1)[:, 1] - np.sort(d, axis=1)[:, 0]) > 1e-4
    assert (lk.closest[rows][unique_min] == ex[np.argmin(d, axis=1)][unique_min]).all()
    # similarity: 0..100, higher when closer
    assert lk.similarity.min() >= 0 and lk.similarity.max() <= 100
    order = np.argsort(lk.distance)
    assert (np.diff(lk.similarity[order]) <= 1e-9).all()
    assert abs(np.median(lk.similarity) - 50) < 2


def test_one_step_away_are_similar_low_tier_accounts_with_why(sample):
    am, ex, lk = sample
    result, _ = score_profile(am, profile_from_json(DEFAULT.read_text()))
    near = one_step_away(lk, result, am, default_cluster_columns(am), min_similarity=70)
    assert len(near) > 0
    assert (near["similarity"] >= 70).all() and set(near["tier"]) <= {"C", "D"}
    assert not set(near["row"]) & set(ex)
    assert near["similarity"].is_monotonic_decreasing
    names = account_names(am)
    assert near["closest exemplar"].tolist() == names[lk.closest[near["row"]]].tolist()
    # the traits they miss are exactly the positive traits their match pattern lacks
    m = result.patterns.matrix[result.patterns.inv[near["row"].to_numpy()]]
    for j, missing in enumerate(near["missing"]):
        expected = [t.label for i, t in enumerate(result.traits) if t.weight > 0 and not m[j, i]]
        assert missing == " · ".join(expected)
    assert near["shared"].str.len().gt(0).mean() > 0.5  # most share values with their closest exemplar


def test_the_similarity_alone_separates_won_from_lost(sample):
    am, _, lk = sample
    auc = similarity_auc(lk, am, Outcome("won"))
    assert 0.5 < auc < 1.0


def test_unusable_exemplar_lists_say_why(sample):
    am, ex, _ = sample
    with pytest.raises(LookalikeError, match="none of the 2 exemplar names or ids matches"):
        exemplars_from_names(am, ["No Such Company", "nope"])
    with pytest.raises(LookalikeError, match="at least 10"):
        find_lookalikes(am, ex[:9])
    with pytest.raises(LookalikeError, match=f"at most {MAX_EXEMPLARS}"):
        find_lookalikes(am, np.arange(MAX_EXEMPLARS + 1))
    names = account_names(am)[ex[:12]].tolist()
    assert sorted(exemplars_from_names(am, [n.upper() + "  " for n in names])) == sorted(ex[:12])


def test_cli_lookalikes_writes_similarity_and_the_one_step_away_list(sample, tmp_path, capsys):
    from icp_core.__main__ import main

    am, ex, lk = sample
    accounts = str(ROOT / "sample_data" / "accounts.csv")
    opps = str(ROOT / "sample_data" / "opportunities.csv")
    base = ["--data-dir", str(tmp_path / "d"), "lookalikes", accounts, "--opportunities", opps, "--profile", str(DEFAULT)]
    assert main([*base, "--out", str(tmp_path / "s.csv"), "--one-step-away", str(tmp_path / "n.csv"),
                 "--min-similarity", "70"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("100 exemplars;") and "one step away" in err
    rows = list(csv.reader(io.StringIO((tmp_path / "s.csv").read_text(encoding="utf-8-sig"), newline="")))
    back = pd.DataFrame(rows[1:], columns=rows[0])
    assert list(back.columns[-4:]) == ["ICP Next Step", "ICP Similarity", "ICP Closest Exemplar", "ICP Profile Version"]
    assert np.allclose(back["ICP Similarity"].astype(float), np.round(lk.similarity, 1))
    near = pd.read_csv(tmp_path / "n.csv", encoding="utf-8-sig")
    assert len(near) > 0 and (near["similarity"] >= 70).all()
    # an exemplar list that matches nothing: one line, exit 2, nothing written
    (tmp_path / "ex.txt").write_text("No Such Company\nNor This\n")
    assert main([*base, "--exemplars", str(tmp_path / "ex.txt"), "--out", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matches an account" in err and not (tmp_path / "bad.csv").exists()


def test_an_uploaded_list_is_read_as_its_first_column_in_its_encoding(sample):
    from icp_core.lookalike import exemplar_lines

    am, ex, _ = sample
    names = account_names(am)[ex[:12]].tolist()
    text = "Account Name,Owner\r\n" + "".join(f'"{n}",Jürgen Müller\r\n' for n in names) + "\r\nZürich Näherei AG,x\r\n"
    lines = exemplar_lines(text.encode("cp1252"))
    assert lines[0] == "Account Name" and lines[1:13] == names and lines[-1] == "Zürich Näherei AG"
    assert sorted(exemplars_from_names(am, lines)) == sorted(ex[:12])  # the header and unknown names match nothing
