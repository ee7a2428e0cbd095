"""The one trait compiler: the app's match vectors and the warehouse query come from the same
sqlglot expression, so random profiles score identically in both, and every dialect renders it."""

import numpy as np
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icp_core.dataset import AccountMatrix
from icp_core.profile import Profile, TierRule, Trait, find_column, trait_ref_for
from icp_core.scoring import TIER_LABELS, explain_accounts, score_profile
from icp_core.sql import column
from icp_core.traits import condition, condition_sql, input_column
from icp_core.warehouse import DIALECTS, profile_sql, warehouse_view_sql
from tests.test_share_export import sample  # noqa: F401  (the sample dataset fixture, loaded once per module)


def _trait_choices(am: AccountMatrix) -> list[Trait]:
    """Every kind of trait on the sample's real columns and values (plus values no account has)."""
    out = []
    for spec in am.specs:
        ref = trait_ref_for(spec)
        if spec.kind in ("category", "text", "country", "id") or spec.kind == "list":
            values = [v for v, _ in am.value_options(spec, limit=6).get("values", [])]
            if not values:
                continue
            rule = "contains_any" if spec.kind == "list" else "in_set"
            out += [Trait(f"{spec.header} {rule} {i}", rule, values=values[i:i + 2] + ["no such value"], **ref)
                    for i in range(0, min(len(values), 4), 2)]
        elif spec.kind in ("number", "year"):
            q = am.value_options(spec).get("quantiles") or {}
            if q:
                out += [Trait(f"{spec.header} ≥ p25", "range", min=q["p25"], **ref),
                        Trait(f"{spec.header} ≤ median", "range", max=q["median"], **ref),
                        Trait(f"{spec.header} p10–p90", "range", min=q["p10"], max=q["p90"], **ref)]
        elif spec.kind in ("boolean", "churn"):
            out += [Trait(f"{spec.header} yes", "is_true", **ref), Trait(f"{spec.header} no", "is_false", **ref)]
        out.append(Trait(f"{spec.header} blank", "missing", **ref))
    return out


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_profiles_score_the_same_in_the_app_and_the_warehouse_sql(sample, data):  # noqa: F811
    store, dataset_id, specs, am = sample
    choices = _trait_choices(am)
    assert {t.rule for t in choices} == {"in_set", "contains_any", "range", "is_true", "is_false", "missing"}
    picked = data.draw(st.lists(st.sampled_from(range(len(choices))), min_size=1, max_size=10, unique=True))
    traits = []
    for i in picked:
        t = Trait(**choices[i].to_dict())
        t.weight = data.draw(st.integers(-5, 5))
        t.trait_class = data.draw(st.sampled_from(["nice_to_have", "must_have", "caution", "stay_away"]))
        t.disqualify = t.trait_class == "stay_away" and data.draw(st.booleans())
        traits.append(t)
    mode = data.draw(st.sampled_from(["thresholds", "mix"]))
    profile = Profile(name="random", traits=traits, tier_rule=TierRule(mode=mode))
    result, binding = score_profile(am, profile)
    assert not binding.problems
    with store.open_dataset(dataset_id) as con:
        con.execute(f"CREATE OR REPLACE TEMP VIEW wh AS {warehouse_view_sql(profile, specs)}")
        out = con.execute(profile_sql(profile, result.thresholds, table="wh") + " ORDER BY row_id").df()
    assert (out["icp_score"].to_numpy() == result.score).all()
    assert (out["icp_tier"].to_numpy() == np.array(TIER_LABELS, dtype=object)[result.tier]).all()
    expl = explain_accounts(result, np.arange(am.n))
    assert (out["icp_reasons"].to_numpy() == expl["reasons"].to_numpy()).all()
    assert (out["icp_flags"].to_numpy() == expl["flags"].to_numpy()).all()


def test_the_app_runs_the_compilers_expression(sample):  # noqa: F811
    """The SQL the app runs for a trait is the compiler's expression rendered for DuckDB on the
    column as the trait reads it (a list column joined with ';')."""
    _, _, specs, am = sample
    for t in _trait_choices(am):
        spec = find_column(t, specs)
        assert condition_sql(t, spec.key, spec.kind) == condition(t, input_column(spec.key, spec.kind)).sql("duckdb")


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_each_rule_renders_and_parses_in_every_dialect(dialect):
    """Every rule, with hostile values, renders to SQL each warehouse parses back; user values stay
    inside string literals and identifiers inside quotes."""
    col = column('weird "col"; DROP')
    rules = [Trait("a", "in_set", role="industry", values=["O'Reilly", "x'); DROP TABLE t; --"]),
             Trait("b", "contains_any", role="technologies", values=["Snow'flake", "a\\b"]),
             Trait("c", "range", role="employees", min=0.1, max=1e12),
             Trait("d", "is_true", role="churned"), Trait("e", "is_false", role="churned"),
             Trait("f", "missing", role="nps")]
    for t in rules:
        sql = condition(t, col).sql(dialect)
        parsed = sqlglot.parse_one(f"SELECT {sql} AS m FROM t", read=dialect)
        assert parsed.find(sqlglot.exp.Drop) is None and "DROP TABLE" not in parsed.sql(dialect).split("'")[0]
