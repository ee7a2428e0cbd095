"""Issue 16, item 5: decisive weights (−5, −3, −1, 0, +1, +3, +5). Rounding, the profile switch and
its JSON, suggested weights rounded on adoption, and the Score page's sliders and AUC line."""

import pytest

from icp_core.profile import (
    DECISIVE_WEIGHTS,
    Profile,
    ProfileError,
    Trait,
    adopt_traits,
    decisive_weight,
    profile_from_dict,
    profile_from_json,
)
from tests.conftest import ROOT, open_app, weight_sliders

DEFAULT = ROOT / "sample_data" / "default_profile.json"


def test_rounding_goes_away_from_zero_and_keeps_decisive_values():
    assert [decisive_weight(w) for w in range(-5, 6)] == [-5, -5, -3, -3, -1, 0, 1, 3, 3, 5, 5]
    assert {decisive_weight(w) for w in range(-5, 6)} == set(DECISIVE_WEIGHTS)


def test_the_switch_rounds_the_profile_round_trips_and_refuses_middle_weights():
    p = profile_from_json(DEFAULT.read_text()).made_decisive()
    assert p.decisive and all(t.weight in DECISIVE_WEIGHTS for t in p.traits)
    assert [t.weight for t in p.traits][:3] == [1, 5, 5]  # +1, +5, +4 -> +5
    back = profile_from_json(p.to_json())
    assert back.decisive and back.to_dict() == p.to_dict()
    bad = p.to_dict()
    bad["traits"][0]["weight"] = 2
    with pytest.raises(ProfileError, match="decisive weights are"):
        profile_from_dict(bad)
    with pytest.raises(ProfileError, match="decisive: must be true or false"):
        profile_from_dict(p.to_dict() | {"decisive": "yes"})
    assert profile_from_dict(Profile().to_dict() | {"decisive": None}).decisive is False  # older files: off


def test_adopted_suggestions_are_rounded_in_a_decisive_profile():
    p = Profile(decisive=True)
    suggested = [Trait("A", "is_true", column="a", weight=2), Trait("B", "is_true", column="b", weight=-4)]
    assert [t.weight for t in adopt_traits(p, suggested).traits] == [3, -5]
    assert [t.weight for t in adopt_traits(Profile(), suggested).traits] == [2, -4]


def test_score_page_switch_steps_through_decisive_weights_and_shows_the_cost(data_root):
    at = open_app(timeout=120)
    toggle = next(t for t in at.toggle if t.key and t.key.endswith(".decisive"))
    toggle.set_value(True).run()
    assert not at.exception, at.exception
    sliders = [s for s in at.select_slider if s.key and ".w." in s.key]
    assert len(sliders) == 11 and not weight_sliders(at)
    assert {int(v) for s in sliders for v in s.options} <= set(DECISIVE_WEIGHTS)
    size = next(s for s in sliders if "200–2,000" in s.label)
    assert int(size.value) == 5  # +4 rounded away from zero
    line = next(m.value for m in at.caption if "decisive weights: AUC" in m.value)
    assert "unrestricted" in line
    size.set_value(3).run()
    assert not at.exception
    assert int(next(s for s in at.select_slider if s.key and s.key.endswith(size.key.split(".", 2)[-1])).value) == 3
