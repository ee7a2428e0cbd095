"""Issue 16, item 1: ICP sets. Best fit per account (highest tier, then score, ties to the ICP
listed first, "none" when D or disqualified everywhere), the overlap figures against a pandas
computation, and what a set file may hold."""

import json

import numpy as np
import pandas as pd
import pytest

from icp_core.icpset import (
    MAX_ICPS,
    NONE,
    IcpSet,
    combine_profiles,
    icp_set_from_json,
    overlap,
    score_set,
    set_score,
)
from icp_core.profile import Profile, ProfileError, TierRule, Trait, profile_from_json
from icp_core.scoring import TIER_LABELS, score_accounts
from tests.conftest import ROOT

DEFAULT = ROOT / "sample_data" / "default_profile.json"
LINES = TierRule(thresholds={"A": 75, "B": 50, "C": 25})


def scored(matrix, weights, classes=None):
    """A ScoreResult straight from a match matrix (one row per account)."""
    classes = classes or ["nice_to_have"] * len(weights)
    traits = [Trait(f"t{i}", "is_true", column=f"c{i}", weight=w, trait_class=c)
              for i, (w, c) in enumerate(zip(weights, classes, strict=True))]
    return score_accounts(np.array(matrix, dtype=bool), traits, LINES)


def test_best_fit_is_the_highest_tier_then_the_highest_score():
    # account 0: A in X, B in Y -> X; account 1: C in X, B in Y -> Y (the tier, though X is listed first);
    # account 2: B in X, A in Y -> Y; account 3: D in both -> none
    x = scored([[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]], [1, 1, 1])  # 100, 33.3, 66.7, 0
    y = scored([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 0]], [2, 1, 2])  # 60, 60, 80, 0
    s = set_score(["X", "Y"], [x, y])
    assert [TIER_LABELS[t] for t in x.tier] == ["A", "C", "B", "D"]
    assert [TIER_LABELS[t] for t in y.tier] == ["B", "B", "A", "D"]
    assert s.best.tolist() == [0, 1, 1, -1]
    assert s.best_fit_labels().tolist() == ["X", "Y", "Y", NONE]
    assert s.closest.tolist()[:3] == [0, 1, 1]


def test_a_tie_in_tier_and_score_goes_to_the_icp_listed_first():
    m = [[1, 0], [0, 1], [1, 1]]
    a, b = scored(m, [1, 1]), scored(m, [1, 1])
    assert set_score(["First", "Second"], [a, b]).best.tolist() == [0, 0, 0]
    assert set_score(["Second", "First"], [b, a]).best.tolist() == [0, 0, 0]
    # within one tier the higher score wins even when listed second
    c = scored(m, [1, 2])  # 33, 67, 100 against 50, 50, 100
    assert set_score(["First", "Second"], [a, c]).best.tolist() == [0, 1, 0]


def test_none_when_d_or_disqualified_everywhere():
    # one must-have each: failing it disqualifies; a D in one and disqualified in the other is none too
    x = scored([[0, 1], [1, 0], [1, 1]], [1, 1], ["must_have", "nice_to_have"])  # DQ, 50 (B), 100 (A)
    y = scored([[0, 0], [0, 0], [1, 0]], [1, 3])  # 0 -> D, 0 -> D, 25 -> C
    assert [TIER_LABELS[t] for t in x.tier] == ["Disqualified", "B", "A"]
    s = set_score(["X", "Y"], [x, y])
    assert s.best.tolist() == [-1, 0, 0]
    only_d = scored([[0, 0], [1, 0]], [1, 9])  # 0 and 10: both D
    assert set_score(["D"], [only_d]).best_fit_labels().tolist() == [NONE, NONE]


@pytest.fixture(scope="module")
def sample_set(tmp_path_factory):
    from icp_core.dataset import AccountMatrix
    from icp_core.ingest import ingest_dataset
    from icp_core.roles import ColumnSpec
    from icp_core.store import DatasetStore, new_token

    store = DatasetStore(tmp_path_factory.mktemp("set"), new_token())
    meta = ingest_dataset(store, ROOT / "sample_data" / "accounts.csv", ROOT / "sample_data" / "opportunities.csv").meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
    base = profile_from_json(DEFAULT.read_text())
    health = Profile(name="Enterprise healthcare", traits=[
        Trait("Healthcare", "in_set", role="industry", values=["healthcare"], weight=5),
        Trait("Big", "range", role="employees", min=1000, weight=3),
        Trait("Government", "in_set", role="industry", values=["government"], weight=-5, trait_class="stay_away"),
    ], tier_rule=TierRule(mode="mix"))
    emea = Profile(name="EMEA anything", traits=[Trait("EMEA", "in_set", role="region", values=["emea"], weight=4)])
    icps = combine_profiles([base, health, emea])
    return am, icps


def test_overlap_matches_a_pandas_computation(sample_set):
    am, icps = sample_set
    s, bindings = score_set(am, icps)
    assert all(not b.problems for b in bindings)
    df = pd.DataFrame({f"tier{i}": r.tier for i, r in enumerate(s.results)}
                      | {f"score{i}": r.score for i, r in enumerate(s.results)})
    # best fit by hand: the row-wise minimum of (tier, -score), first ICP on ties; none when D/DQ
    best = []
    for row in df.itertuples(index=False):
        keys = [(getattr(row, f"tier{i}"), -getattr(row, f"score{i}"), i) for i in range(3)]
        tier, _, i = min(keys)
        best.append(icps.names[i] if tier <= 2 else NONE)
    assert s.best_fit_labels().tolist() == best
    o = overlap(s)
    expected = pd.Series(best).value_counts()
    assert dict(zip(o["best_fit"]["icp"], o["best_fit"]["accounts"], strict=True)) == {
        name: int(expected.get(name, 0)) for name in [*icps.names, NONE]}
    assert o["best_fit"]["share"].sum() == pytest.approx(1.0)
    ab = sum((df[f"tier{i}"] <= 1).astype(int) for i in range(3))
    assert o["multi_ab"] == int((ab >= 2).sum()) and o["multi_ab"] > 0
    for i, name in enumerate(icps.names):
        counts = df[f"tier{i}"].value_counts()
        assert o["matrix"].loc[name].tolist() == [int(counts.get(t, 0)) for t in range(5)]
    # the best-fit counts differ from a single ICP's: the set spreads accounts over its ICPs
    assert (o["best_fit"]["accounts"][:3] > 0).all()


def test_a_single_profile_file_reads_as_a_set_of_one_and_a_set_round_trips():
    one = icp_set_from_json(DEFAULT.read_text())
    assert one.names == ["Sample ICP: mid-size Fintech & SaaS"] and len(one.profiles) == 1
    two = combine_profiles([one.profiles[0], Profile(name="Second")], name="Our ICPs")
    back = icp_set_from_json(two.to_json())
    assert back.name == "Our ICPs" and back.names == two.names
    assert back.to_dict() == two.to_dict()


@pytest.mark.parametrize("names, message", [
    (["Fintech", " fintech "], "two ICPs are named “Fintech”"),
    ([f"ICP {i}" for i in range(MAX_ICPS + 1)], f"at most {MAX_ICPS} profiles"),
    ([], "at least one profile"),
])
def test_bad_sets_are_refused_with_a_specific_message(names, message):
    with pytest.raises(ProfileError, match=message):
        combine_profiles([Profile(name=n) for n in names])
    text = json.dumps({"schema": "icp_set", "schema_version": 1, "name": "s",
                       "profiles": [Profile(name=n).to_dict() for n in names]})
    with pytest.raises(ProfileError, match=message):
        icp_set_from_json(text)


def test_a_broken_profile_inside_a_set_is_named():
    bad = Profile(name="B").to_dict() | {"tier_rule": {"mode": "sideways"}}
    text = json.dumps({"schema": "icp_set", "schema_version": 1, "profiles": [Profile(name="A").to_dict(), bad]})
    with pytest.raises(ProfileError, match=r"profiles\[1\].*tier_rule.mode"):
        icp_set_from_json(text)
    assert IcpSet().name == "ICP set"
