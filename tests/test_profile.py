"""ICP profiles: JSON schema round trip, validation messages, binding by role, saved versions, CLI score."""

import json
import threading

import pandas as pd
import pytest

from icp_core.__main__ import main
from icp_core.ingest import ingest_dataset
from icp_core.profile import (
    Profile,
    ProfileError,
    TierRule,
    Trait,
    profile_from_dict,
    profile_from_json,
    resolve_profile,
)
from icp_core.roles import ColumnSpec
from icp_core.store import ProfileStore, new_token
from tests.conftest import ROOT, SHARED_DATA

DEFAULT = ROOT / "sample_data" / "default_profile.json"


def test_default_profile_is_valid_and_uses_every_class():
    p = profile_from_json(DEFAULT.read_text())
    assert 8 <= len(p.traits) <= 12
    assert {t.trait_class for t in p.traits} == {"must_have", "nice_to_have", "caution", "stay_away"}


def test_round_trip_keeps_everything():
    p = profile_from_json(DEFAULT.read_text())
    again = profile_from_json(p.to_json())
    assert again.to_dict() == p.to_dict()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d["traits"][0].update(weight=6), "outside -5..+5"),
    (lambda d: d["traits"][0].update(weight=2.5), "whole number"),
    (lambda d: d["traits"][0].update(rule="like"), "unknown rule"),
    (lambda d: d["traits"][0].update(trait_class="maybe"), "unknown class"),
    (lambda d: d["traits"][0].update(role=None, column=None), "names no column"),
    (lambda d: d["traits"][0].update(min=None, max=None), "needs a minimum"),
    (lambda d: d["traits"][1].update(values=[]), "at least one value"),
    (lambda d: d["traits"][10].update(weight=3), "stay-away trait cannot have a positive weight"),
    (lambda d: d["traits"][0].update(colour="red"), "unknown field"),
    (lambda d: d["tier_rule"].update(thresholds={"A": 40, "B": 50, "C": 10}), "A ≥ B ≥ C"),
    (lambda d: d["tier_rule"].update(mix={"A": 50, "B": 50, "C": 50, "D": 0}), "add up to 100"),
    (lambda d: d["traits"].append(dict(d["traits"][0])), "same id"),
])
def test_validation_names_the_problem(change, message):
    d = json.loads(DEFAULT.read_text())
    change(d)
    with pytest.raises(ProfileError, match=message):
        profile_from_dict(d)


def test_not_json():
    with pytest.raises(ProfileError, match="not valid JSON"):
        profile_from_json(b"\x00\xff{")


def test_traits_bind_by_role_across_crms_and_name_missing_columns():
    p = profile_from_json(DEFAULT.read_text())
    salesforce = [ColumnSpec("industry", "Industry", "industry"), ColumnSpec("employees", "Employees", "employees"),
                  ColumnSpec("tech", "Tech Stack", "technologies"), ColumnSpec("stage", "Funding Stage", "funding_stage"),
                  ColumnSpec("lead_source", "Lead Source", "category"), ColumnSpec("region", "Region", "region")]
    hubspot = [ColumnSpec("c1", "Company industry", "industry"), ColumnSpec("c2", "Number of Employees", "employees"),
               ColumnSpec("c3", "Technologies used", "technologies"), ColumnSpec("c4", "Last funding round", "funding_stage"),
               ColumnSpec("c5", "lead source", "category"), ColumnSpec("c6", "Sales territory", "region")]
    for specs in (salesforce, hubspot):
        b = resolve_profile(p, specs)
        assert not b.problems and len(b.traits) == len(p.traits)
    b = resolve_profile(p, hubspot[:2])
    assert len(b.missing) == 5
    assert "“Tech has Snowflake” needs a column with role “Technologies”" in b.problems
    assert "“Lead source Partner or Referral” needs a column named “Lead Source”" in b.problems
    wrong_kind = [ColumnSpec("industry", "Industry", "number")]
    b = resolve_profile(Profile(traits=[Trait("x", "in_set", column="Industry", values=["a"])]), wrong_kind)
    assert b.unfit and "does not fit" in b.problems[0]


def test_profile_versions_never_overwrite(tmp_path):
    ps = ProfileStore(tmp_path, new_token())
    ds = new_token()
    p = profile_from_json(DEFAULT.read_text())
    first = ps.save_version(ds, p.to_dict(), note="first")
    p.traits[1].weight = 2
    second = ps.save_version(ds, p.to_dict(), first["profile_id"], note="lower industry")
    assert (first["version"], second["version"]) == (1, 2)
    assert ps.load_version(ds, first["profile_id"], 1)["profile"]["traits"][1]["weight"] == 5
    assert ps.load_version(ds, first["profile_id"])["profile"]["traits"][1]["weight"] == 2
    assert [v["note"] for v in ps.list_versions(ds, first["profile_id"])] == ["first", "lower industry"]
    assert ps.list_profiles(ds)[0]["versions"] == 2


def test_concurrent_saves_get_distinct_versions(tmp_path):
    ps = ProfileStore(tmp_path, new_token())
    ds, pid = new_token(), new_token()
    body = Profile(name="x").to_dict()
    threads = [threading.Thread(target=ps.save_version, args=(ds, body, pid)) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [v["version"] for v in ps.list_versions(ds, pid)] == list(range(1, 13))


def test_bad_ids_are_refused(tmp_path):
    ps = ProfileStore(tmp_path, new_token())
    with pytest.raises(LookupError):
        ps.load_version("../../etc", new_token())


# ---------------------------------------------------------------------------- CLI score

def test_cli_scores_a_file(tmp_path, capsys):
    out = tmp_path / "scored.csv"
    rc = main(["--data-dir", str(tmp_path / "d"), "score", str(ROOT / "sample_data" / "accounts.csv"),
               "--profile", str(DEFAULT), "--out", str(out)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "scored 3,000 accounts with 11 trait(s)" in err
    df = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(df) == 3000
    src = pd.read_csv(ROOT / "sample_data" / "accounts.csv", dtype=str, keep_default_na=False)
    assert list(df.columns[:len(src.columns)]) == list(src.columns)
    assert (df["Account ID"] == src["Account ID"]).all()
    assert list(df.columns[len(src.columns):]) == ["ICP Score", "ICP Tier", "ICP Status", "ICP Reasons", "ICP Flags",
                                                   "ICP Next Step", "ICP Profile Version"]
    assert set(df["ICP Tier"]) == {"A", "B", "C", "D", "Disqualified", "Insufficient data"}
    assert set(df["ICP Status"]) == {"ok", "low confidence", "insufficient data"}
    assert not df["ICP Reasons"].str.startswith("'").any()  # reasons start with the label: no apostrophe
    assert df["ICP Reasons"].str.contains(r"\(\+\d").any()
    assert not df["ICP Reasons"].str.match(r"^[=+\-@]").any()


def test_cli_names_missing_traits_and_can_skip_them(tmp_path, capsys):
    telco = SHARED_DATA / "ibm_telco_customer_churn.csv"
    rc = main(["--data-dir", str(tmp_path), "score", str(telco), "--profile", str(DEFAULT)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "“Industry in Fintech, SaaS” needs a column with role “Industry”" in err
    profile = {"schema_version": 1, "name": "telco", "traits": [
        {"label": "Two-year contract", "column": "Contract", "rule": "in_set", "values": ["Two year"], "weight": 5},
        {"label": "Industry SaaS", "role": "industry", "rule": "in_set", "values": ["saas"], "weight": 3}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile))
    rc = main(["--data-dir", str(tmp_path), "score", str(telco), "--profile", str(path), "--skip-missing-traits",
               "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert rc == 0 and "warning: scoring without 1 trait(s)" in err
    df = pd.read_csv(tmp_path / "o.csv", encoding="utf-8-sig")
    assert (df["ICP Tier"] == "A").sum() == (df["Contract"] == "Two year").sum() > 0


@pytest.mark.parametrize("content, message", [
    (None, "profile not found"),
    ("{", "malformed profile"),
    ('{"schema_version": 1, "traits": [{"label": "x", "rule": "range", "role": "employees", "min": 5, "max": 1}]}',
     "minimum 5 is above maximum 1"),
])
def test_cli_bad_profile(tmp_path, capsys, content, message):
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    rc = main(["--data-dir", str(tmp_path), "score", str(ROOT / "sample_data" / "accounts.csv"),
               "--profile", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_profile_scores_crunchbase(tmp_path, store):
    """A profile built for a firmographic universe (Crunchbase 2013) scores it end to end."""
    from icp_core.dataset import AccountMatrix
    from icp_core.scoring import score_profile, tier_summary

    meta = ingest_dataset(store, SHARED_DATA / "crunchbase_2013_companies.csv").meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    p = Profile(name="VC-backed US software", tier_rule=TierRule(mode="mix"), traits=[
        Trait("Operating", "in_set", column="status", values=["operating"], weight=1, trait_class="must_have"),
        Trait("Software or enterprise", "in_set", role="industry", values=["software", "enterprise"], weight=5),
        Trait("USA", "in_set", role="country", values=["United States"], weight=3),
        Trait("Funding 1M–50M", "range", column="funding_total_usd", min=1e6, max=5e7, weight=4),
        Trait("2+ rounds", "range", column="funding_rounds", min=2, weight=2),
        Trait("Founded 2005+", "range", role="founded_year", min=2005, weight=2),
        Trait("Biotech", "in_set", role="industry", values=["biotech"], weight=-2, trait_class="caution"),
        Trait("Closed", "in_set", column="status", values=["closed"], weight=-5, trait_class="stay_away",
              disqualify=True),
    ])
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
    result, binding = score_profile(am, p)
    assert not binding.problems
    counts = tier_summary(result, am).set_index("tier")["accounts"]
    assert counts.sum() == 19374
    assert counts["Disqualified"] > 0 and counts["A"] > 0
    shares = counts[["A", "B", "C", "D"]] / counts[["A", "B", "C", "D"]].sum()
    assert shares["A"] == pytest.approx(0.10, abs=0.06)
