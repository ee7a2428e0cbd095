"""Issue 18, item 5: the suggested ICP closer to the best possible ranking. The pieces that close the
gap (bands of a number, per-value atoms merged after the fit, the cap by importance) on hand-made
inputs, and the whole suggestion against the planted model's own ranking (the oracle)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from icp_core.backtest import score_auc
from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import Outcome, outcome_weights
from icp_core.profile import Trait
from icp_core.roles import ColumnSpec
from icp_core.stats import holdout_mask
from icp_core.store import DatasetStore, new_token
from icp_core.suggest import (
    Candidate,
    _best_partition,
    _integer_weights,
    _snapped,
    _Split,
    _weighted_traits,
    suggest_traits,
)
from sample_data.generate_sample import clean_accounts, generate_accounts


def split(n_known=1000, base=0.5, min_support=20):
    return _Split(np.ones(n_known, bool), np.zeros(n_known), np.ones(n_known), n_known, base, min_support)


def test_a_band_effect_is_found_with_both_edges():
    # ten bins of 100: bins 3-6 win 70 %, bins 0-1 win 20 %, the rest 45 %
    rate = np.array([0.2, 0.2, 0.45, 0.7, 0.7, 0.7, 0.7, 0.45, 0.45, 0.45])
    cnt = np.full(10, 100.0)
    runs = _best_partition(cnt, cnt.copy(), rate * cnt, split())
    assert (3, 6) in runs and runs[0][0] == 0 and runs[-1][1] == 9  # the band, with its upper edge
    assert all(a[1] + 1 == b[0] for a, b in zip(runs, runs[1:], strict=False))  # bands tile the bins
    # no effect: one run, nothing to offer
    assert _best_partition(cnt, cnt.copy(), 0.5 * cnt, split()) == []


def test_a_band_edge_moves_to_the_round_number_the_rate_changes_at():
    # 1..300 employees, ten of each: under 20 win 20 %, the rest 60 %; the decile edge near it is 31
    x = np.repeat(np.arange(1.0, 301.0), 10)
    good = np.where(x < 20, 0.2, 0.6)
    obs = np.ones_like(x)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
    assert 20 not in edges
    snapped = _snapped(x, good, obs, edges, [(0, 0), (1, 9)])
    assert snapped[1] == 20 and np.array_equal(np.delete(snapped, 1), np.delete(edges, 1))
    # no change in the rate near a round number: the decile edge stays
    assert np.array_equal(_snapped(x, np.full_like(x, 0.4), obs, edges, [(0, 0), (1, 9)]), edges)


def cand(label, rule, column, coef, support, segment=-1, **kw):
    t = Trait(label=label, rule=rule, column=column, weight=1, **kw)
    return Candidate(t, column, support, 0.5, 1.0, 0.4, 0.6, True, segment=segment), coef


def test_atoms_with_the_same_weight_merge_into_readable_traits():
    pool, coef = zip(*[
        cand("Industry in Fintech", "in_set", "Industry", 1.2, 300, values=["Fintech"]),
        cand("Industry in SaaS", "in_set", "Industry", 1.25, 400, values=["SaaS"]),
        cand("Industry in Government", "in_set", "Industry", -1.5, 100, values=["Government"]),
        cand("Employees 200–500", "range", "Employees", 0.9, 200, segment=1, min=200, max=500),
        cand("Employees 500–2,000", "range", "Employees", 0.95, 200, segment=2, min=500, max=2000),
        cand("Employees ≥ 5,000", "range", "Employees", 0.9, 100, segment=4, min=5000),
    ], strict=True)
    traits = _weighted_traits(list(pool), np.array(coef), 12, 1000)
    by_label = {t.label: t.weight for t in traits}
    assert by_label["Industry in Fintech, SaaS"] == 4 and by_label["Industry in Government"] == -5
    assert by_label["Employees 200–2,000"] == 3  # adjacent bands with one weight: one range
    assert by_label["Employees ≥ 5,000"] == 3  # not adjacent: apart
    assert all(t.weight and -5 <= t.weight <= 5 for t in traits)
    assert pool[0].merged_into == "Industry in Fintech, SaaS" and pool[0].data_weight == 0


def test_merged_year_bands_print_as_years_whatever_the_header():
    """The merged range's label takes the column's kind, not a guess from its header: 'Founded' is a
    year column ('1990–2005', not '1,990–2,005'), 'Orders per year' is not."""
    from icp_core.suggest import _merged

    founded = [cand("Founded 1990–1999", "range", "Founded", 1.0, 100, segment=1, min=1990, max=1999)[0],
               cand("Founded 2000–2005", "range", "Founded", 1.0, 100, segment=2, min=2000, max=2005)[0]]
    for c in founded:
        c.kind = "year"
    assert _merged(founded, 3).label == "Founded 1990–2005"
    orders = [cand("Orders per year 1000–1999", "range", "Orders per year", 1.0, 100, segment=1, min=1000, max=1999)[0],
              cand("Orders per year 2000–5000", "range", "Orders per year", 1.0, 100, segment=2, min=2000, max=5000)[0]]
    assert _merged(orders, 3).label == "Orders per year 1,000–5,000"


def test_the_cap_keeps_the_traits_that_move_most_rankings():
    # a +1 on half the accounts moves more rankings than a +2 on 2 %
    pool, coef = zip(*[cand(f"T{i}", "is_true", f"C{i}", c, s) for i, (c, s) in
                       enumerate([(1.5, 500), (0.4, 500), (0.8, 20)])], strict=True)
    traits = _weighted_traits(list(pool), np.array(coef), 2, 1000)
    assert [t.label for t in traits] == ["T0", "T1"]


def test_with_the_data_the_cap_drops_the_least_significant_trait():
    # T2's coefficient from the regression looks large, but refitted with the others it carries
    # nothing: with the atoms' matches the cap keeps the weak real effect T1 instead
    rng = np.random.default_rng(0)
    X = (rng.random((4000, 3)) < 0.5).astype(float)
    yy = (rng.random(4000) < 1 / (1 + np.exp(-(1.5 * X[:, 0] + 0.5 * X[:, 1] - 1.0)))).astype(int)
    pool, coef = zip(*[cand(f"T{i}", "is_true", f"C{i}", c, 2000) for i, c in enumerate([1.5, 0.5, 1.0])],
                     strict=True)
    assert [t.label for t in _weighted_traits(list(pool), np.array(coef), 2, 4000)] == ["T0", "T2"]
    traits = _weighted_traits(list(pool), np.array(coef), 2, 4000, X, yy)
    assert [t.label for t in traits] == ["T0", "T1"] and all(isinstance(t.weight, int) for t in traits)
    assert pool[2].data_weight == 0 and pool[1].data_weight == traits[1].weight


def test_integer_weights_keep_every_trait_and_the_largest_at_3_to_5():
    rng = np.random.default_rng(1)
    X = (rng.random((2000, 3)) < 0.5).astype(float)
    coef = np.array([1.2, 0.05, -0.6])
    yy = (rng.random(2000) < 1 / (1 + np.exp(-(X @ coef)))).astype(int)
    w = _integer_weights(coef, X, yy)
    assert w.dtype.kind == "i" and np.all(w != 0) and 3 <= np.abs(w).max() <= 5
    assert np.all(np.sign(w) == np.sign(coef))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oracle")
    csv = tmp / "planted.csv"
    generate_accounts(6000, seed=2).to_csv(csv, index=False)
    store = DatasetStore(tmp, new_token())
    meta = ingest_dataset(store, csv).meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs), clean_accounts(6000, seed=2)["fit"].to_numpy()


def test_the_suggestion_ranks_close_to_the_oracle(planted):
    am, fit = planted
    outcome = Outcome("won")
    sug = suggest_traits(am, outcome)
    assert sug.found and len(sug.traits) <= 12
    assert all(isinstance(t.weight, int) and t.weight and -5 <= t.weight <= 5 for t in sug.traits)
    test = holdout_mask(am.n)
    y, w = outcome_weights(am, outcome)
    on = test & ~np.isnan(y) & (w > 0)
    oracle = roc_auc_score(y[on], fit[on])
    ours = score_auc(am, sug.profile(), outcome, test)
    # on this split the suggestion ranked 5.1 % below the oracle (AUC 0.725 against 0.764) before
    # issue 18's item 5; now 3.8 % (0.734; the bench's five seeds gain more). The rest is mostly what the messy export hides (blanks,
    # size bands): the planted formula itself, applied to the export, ranks about 1.5 % below the oracle
    assert (oracle - ours) / oracle < 0.045 and ours > 0.73, (oracle, ours)
    # every suggested trait is listed as a candidate with its evidence, merged ones too
    listed = {c.trait.definition_key(): c.data_weight for c in sug.candidates if c.data_weight}
    assert {t.definition_key(): t.weight for t in sug.traits} == listed
