"""Hostile profile JSON (issue 13, items 3 and 6): every malformed, oversized or deeply nested
profile is refused with one ProfileError naming the field, never another exception; the CLI
gives exit 2 and one line."""

import copy
import json
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icp_core.__main__ import main
from icp_core.profile import (
    MAX_LABEL_CHARS,
    MAX_TRAITS,
    ProfileError,
    Trait,
    default_label,
    profile_from_dict,
    profile_from_json,
)
from tests.conftest import ROOT

DEFAULT = ROOT / "sample_data" / "default_profile.json"
BASE = json.loads(DEFAULT.read_text())


def changed(change) -> dict:
    d = copy.deepcopy(BASE)
    change(d)
    return d


def dumps(d) -> str:
    return json.dumps(d)  # allow_nan: writes Infinity / NaN as the files do


@pytest.mark.parametrize("change, message", [
    (lambda d: d["traits"][3].update(id=["a", "b"]), "traits[3].id: must be text"),
    (lambda d: d["traits"][3].update(role=["industry"]), "traits[3].role: must be text"),
    (lambda d: d["traits"][3].update(column={"x": 1}), "traits[3].column: must be text"),
    (lambda d: d["traits"][3].update(weight=math.inf), "traits[3].weight: must be a whole number from -5 to +5, got Infinity"),
    (lambda d: d["traits"][3].update(weight=-math.inf), "traits[3].weight: must be a whole number from -5 to +5, got -Infinity"),
    (lambda d: d["traits"][3].update(weight=math.nan), "traits[3].weight: must be a whole number from -5 to +5, got NaN"),
    (lambda d: d["traits"][3].update(weight="5"), "traits[3].weight: must be a whole number"),
    (lambda d: d["traits"][3].update(label=["x"]), "traits[3].label"),
    (lambda d: d["traits"][3].update(rule=["in_set"]), "traits[3].rule: unknown rule"),
    (lambda d: d["traits"][3].update(trait_class={"a": 1}), "traits[3].trait_class: unknown class"),
    (lambda d: d["traits"][1].update(values="fintech"), "traits[1].values: must be a list"),
    (lambda d: d["traits"][1].update(values=[["fintech"]]), "traits[1].values[0]: must be text or a number"),
    (lambda d: d["traits"][1].update(values=[math.nan]), "traits[1].values[0]: must be text or a number"),
    (lambda d: d["traits"][0].update(min=math.inf), "traits[0].min: must be a finite number"),
    (lambda d: d["traits"][0].update(max=[1]), "traits[0].max: must be a finite number"),
    (lambda d: d["traits"][0].update(disqualify="yes"), "traits[0].disqualify: must be true or false"),
    (lambda d: d["traits"].__setitem__(2, "x"), "traits[2]: must be an object"),
    (lambda d: d.update(traits={"a": 1}), "traits: must be a list"),
    (lambda d: d["tier_rule"].update(thresholds=[75, 50, 25]), "tier_rule.thresholds: must be an object"),
    (lambda d: d["tier_rule"].update(thresholds="75,50,25"), "tier_rule.thresholds: must be an object"),
    (lambda d: d["tier_rule"].update(thresholds={"A": math.nan, "B": 50, "C": 25}), "tier_rule.thresholds.A"),
    (lambda d: d["tier_rule"].update(mix="all A"), "tier_rule.mix: must be an object"),
    (lambda d: d["tier_rule"].update(mix={"A": math.inf, "B": 0, "C": 0, "D": 0}), "tier_rule.mix.A"),
    (lambda d: d["tier_rule"].update(mode=["mix"]), "tier_rule.mode: unknown mode"),
    (lambda d: d["tier_rule"].update(mode="quantiles"), "tier_rule.mode: unknown mode"),
    (lambda d: d.update(tier_rule=[1]), "tier_rule: must be an object"),
    (lambda d: d.update(name=["x"]), "name: must be text"),
    (lambda d: d.update(description={"x": 1}), "description: must be text"),
    (lambda d: d.update(created_at=5), "created_at: must be text"),
    (lambda d: d.update(schema_version=True), "schema_version"),
])
def test_malformed_fields_name_the_field(change, message):
    with pytest.raises(ProfileError) as err:
        profile_from_json(dumps(changed(change)))
    assert message in str(err.value)


def test_deep_nesting_and_size_are_refused():
    with pytest.raises(ProfileError, match="nested too deeply"):
        profile_from_json("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ProfileError, match="nested too deeply"):
        profile_from_json('{"schema_version": 1, "traits": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ProfileError, match="larger than 1,000,000 bytes"):
        profile_from_json(b" " * 1_000_001 + b"{}")
    with pytest.raises(ProfileError, match="not valid JSON"):
        profile_from_json('{"schema_version": 1, "name": ' + "9" * 5000 + "}")  # int too long for Python


def test_more_traits_than_the_cap_are_refused():
    d = {"schema_version": 1, "traits": [
        {"label": f"t{i}", "rule": "in_set", "role": "industry", "values": [f"v{i}"], "weight": 1}
        for i in range(300)]}
    with pytest.raises(ProfileError, match=f"at most {MAX_TRAITS} traits, this one has 300"):
        profile_from_dict(d)
    d["traits"] = d["traits"][:MAX_TRAITS]
    assert len(profile_from_dict(d).traits) == MAX_TRAITS


@pytest.mark.parametrize("change, message", [
    (lambda d: d["traits"][0].update(label="x" * 1_000_000), "traits[0].label: at most 200 characters, got 1,000,000"),
    (lambda d: d.update(name="n" * 201), "name: at most 200 characters"),
    (lambda d: d.update(description="d" * 2001), "description: at most 2,000 characters"),
    (lambda d: d["traits"][1].update(values=["v"] * 501), "traits[1].values: at most 500 values"),
    (lambda d: d["traits"][1].update(values=["v" * 501]), "traits[1].values[0]: at most 500 characters"),
    (lambda d: d["traits"][1].update(column="c" * 501, role=None), "traits[1].column: at most 500 characters"),
    (lambda d: d["traits"][1].update(id="i" * 65), "traits[1].id: at most 64 characters"),
])
def test_unbounded_text_is_refused_quickly(change, message):
    d = changed(change)
    start = time.perf_counter()
    with pytest.raises(ProfileError) as err:
        profile_from_dict(d)
    assert time.perf_counter() - start < 1.0
    assert message in str(err.value) and len(str(err.value)) < 300  # the message never echoes the text


def test_default_label_fits_the_cap():
    label = default_label("Industry", "in_set", ["x" * 400, "y"])
    assert len(label) <= MAX_LABEL_CHARS and label.endswith("…")
    assert default_label("Industry", "in_set", ["Fintech", "SaaS"]) == "Industry in Fintech, SaaS"


# ---------------------------------------------------------------------------- property test

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
    | st.sampled_from(["", "in_set", "range", "industry", "must_have", "stay_away", "mix", "thresholds", "A"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.sampled_from(["A", "B", "C", "D"]),
                                                               inner, max_size=4),
    max_leaves=12)

TRAIT_FIELDS = sorted(Trait.__dataclass_fields__) + ["extra"]
TOP_FIELDS = ["schema_version", "name", "description", "created_at", "updated_at", "traits", "tier_rule"]
RULE_FIELDS = ["mode", "thresholds", "mix"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(["top", "trait", "rule"]), data=st.data(), value=JSONISH)
def test_random_values_in_any_field_raise_only_profile_error(where, data, value):
    d = copy.deepcopy(BASE)
    if where == "top":
        d[data.draw(st.sampled_from(TOP_FIELDS))] = value
    elif where == "trait":
        i = data.draw(st.integers(0, len(d["traits"]) - 1))
        d["traits"][i][data.draw(st.sampled_from(TRAIT_FIELDS))] = value
    else:
        d["tier_rule"][data.draw(st.sampled_from(RULE_FIELDS))] = value
    for parse in (lambda: profile_from_json(json.dumps(d)), lambda: profile_from_dict(copy.deepcopy(d))):
        try:
            p = parse()
        except ProfileError as exc:
            assert str(exc) and "\n" not in str(exc)
            continue
        again = profile_from_json(p.to_json())  # an accepted profile is a sound one
        assert again.to_dict() == p.to_dict()
        for t in p.traits:
            t.definition_key()


# ---------------------------------------------------------------------------- CLI

@pytest.mark.parametrize("text, message", [
    (lambda: dumps(changed(lambda d: d["traits"][3].update(weight=math.inf))), "traits[3].weight"),
    (lambda: dumps(changed(lambda d: d["traits"][3].update(id=[1]))), "traits[3].id"),
    (lambda: dumps(changed(lambda d: d["traits"][3].update(role=["industry"]))), "traits[3].role"),
    (lambda: dumps(changed(lambda d: d["tier_rule"].update(thresholds="high"))), "tier_rule.thresholds"),
    (lambda: "[" * 200_000 + "]" * 200_000, "nested too deeply"),
    (lambda: dumps(changed(lambda d: d["traits"][0].update(label="L" * 900_000))), "traits[0].label: at most 200"),
    (lambda: dumps(changed(lambda d: d["traits"][0].update(label="L" * 5_000_000))), "larger than 1,000,000 bytes"),
])
def test_cli_malformed_profile_exits_2_with_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "p.json"
    path.write_text(text())
    rc = main(["--data-dir", str(tmp_path / "d"), "score", str(ROOT / "sample_data" / "accounts.csv"),
               "--profile", str(path)])
    err = capsys.readouterr().err
    assert rc == 2, err[:300]
    assert message in err and err.count("\n") == 1 and len(err) < 500 and "Traceback" not in err
