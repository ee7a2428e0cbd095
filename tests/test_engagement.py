"""Issue 17, items 1-2: engagement (recency, counts, levels), the fit × engagement matrix, ICP Action
in exports and warehouse SQL."""

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from icp_core import warehouse
from icp_core.dataset import AccountMatrix
from icp_core.engagement import (
    DEFAULT_ACTIONS,
    Engagement,
    Signal,
    engagement_extra,
    engagement_from_dict,
    fit_engagement_matrix,
    score_engagement,
    suggested_engagement,
)
from icp_core.export import FileColumns, scored_export_bytes
from icp_core.ingest import ingest_dataset
from icp_core.profile import Profile, ProfileError, Trait, profile_from_dict, profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import TIER_LABELS, score_profile
from icp_core.store import DatasetStore, new_token
from tests.conftest import ROOT

DEFAULT = ROOT / "sample_data" / "default_profile.json"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Six accounts with hand-checkable activity: dates, counts and blanks."""
    d = tmp_path_factory.mktemp("eng")
    pd.DataFrame({
        "Account Name": ["Ann", "Bo", "Cy", "Di", "Ed", "Fay"],
        "Industry": ["SaaS", "SaaS", "Retail", "Retail", "SaaS", "Retail"],
        "Last Activity": ["2025-06-30", "2025-05-31", "2025-03-02", "", "2025-07-10", "2024-06-30"],
        "Website Visits": ["10", "0", "", "100", "3", "1"],
        "Deal Stage": ["Closed Won", "Closed Lost", "Open", "Closed Won", "Closed Lost", "Open"],
        "ARR": ["1000", "", "", "500", "", ""],
    }).to_csv(d / "a.csv", index=False)
    store = DatasetStore(d, new_token())
    meta = ingest_dataset(store, d / "a.csv").meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


@pytest.fixture(scope="module")
def sample(app_sample):
    return app_sample


def _eng(**kw) -> Engagement:
    return Engagement(signals=[Signal("Last activity", "recency", column="Last Activity", weight=3),
                               Signal("Visits", "count", column="Website Visits", weight=1)], **kw)


def test_recency_and_counts_equal_hand_computed_values(small):
    res = score_engagement(small, _eng(as_of="2025-06-30"))
    # recency: 0.5 ** (days before 2025-06-30 / 30); a later date (Ed) counts 0 days; blank (Di) 0
    days = [0, 30, 120, None, 0, 365]
    rec = [0.0 if x is None else 0.5 ** (x / 30) for x in days]
    # counts: ln(1+x) / ln(1+cap), cap = 95th percentile of the positive values (10, 100, 3, 1)
    cap = float(np.quantile([10, 100, 3, 1], 0.95))
    cnt = [min(math.log1p(x) / math.log1p(cap), 1.0) for x in [10, 0, 0, 100, 3, 1]]
    expected = [100 * (3 * r + c) / 4 for r, c in zip(rec, cnt, strict=True)]
    assert res.score == pytest.approx(expected)
    assert res.as_of == "2025-06-30"
    # the default as-of date is the latest date in the recency columns (an export read in its own time)
    assert score_engagement(small, _eng()).as_of == "2025-07-10"
    # a half-life change re-weights recency only
    half = score_engagement(small, _eng(as_of="2025-06-30", half_life_days=60))
    assert half.score[1] == pytest.approx(100 * (3 * 0.5 ** 0.5 + 0) / 4)


def test_levels_by_lines_and_by_target_mix(small):
    e = _eng(as_of="2025-06-30", thresholds={"High": 60.0, "Medium": 20.0})
    res = score_engagement(small, e)
    want = np.where(res.score >= 60, 0, np.where(res.score >= 20, 1, 2))
    assert res.level.tolist() == want.tolist()
    e.mode, e.mix = "mix", {"High": 50.0, "Medium": 0.0, "Low": 50.0}
    mixed = score_engagement(small, e)
    assert (mixed.level == 0).sum() == 3 and (mixed.level == 2).sum() == 3
    assert set(np.argsort(-mixed.score)[:3]) == set(np.flatnonzero(mixed.level == 0))


def test_a_negative_weight_and_no_usable_signal(small):
    e = Engagement(signals=[Signal("Visits", "count", column="Website Visits", weight=-2)])
    res = score_engagement(small, e)
    assert res.score[1] == pytest.approx(100.0)  # no visits: the highest engagement a negative weight allows
    assert score_engagement(small, Engagement(signals=[Signal("x", "count", column="Nope", weight=2)])) is None
    wrong = Engagement(signals=[Signal("Industry", "recency", column="Industry", weight=2)])
    assert score_engagement(small, wrong) is None
    _, problems = __import__("icp_core.engagement", fromlist=["bind_signals"]).bind_signals(wrong, small.specs)
    assert "needs a date column" in problems[0]


def test_matrix_counts_equal_pandas(sample):
    *_, am = sample
    p = profile_from_json(DEFAULT.read_text())
    result, _ = score_profile(am, p)
    res = score_engagement(am, p.engagement)
    m = fit_engagement_matrix(result, res, am, p.engagement)
    df = pd.DataFrame({"tier": np.array(TIER_LABELS, dtype=object)[result.tier],
                       "level": np.array(["High", "Medium", "Low"], dtype=object)[res.level],
                       "arr": np.nan_to_num(am.arr), "open": am.won == 2,
                       "won": am.won_deals, "lost": am.lost_deals})
    df["cell"] = np.where(df.tier.isin(["Disqualified", "Insufficient data"]), df.tier, df.tier + "-" + df.level)
    g = df.groupby("cell").agg(accounts=("tier", "size"), arr=("arr", "sum"), open=("open", "sum"),
                               won=("won", "sum"), lost=("lost", "sum"))
    got = m.set_index("cell")
    assert got["accounts"].sum() == am.n
    for cell, row in g.iterrows():
        assert got.loc[cell, "accounts"] == row.accounts
        assert got.loc[cell, "arr"] == pytest.approx(row.arr)
        assert got.loc[cell, "open"] == row.open
        assert got.loc[cell, "win_rate"] == pytest.approx(row.won / (row.won + row.lost))
    assert got.loc["A-High", "action"] == DEFAULT_ACTIONS["A-High"]
    # a weight move re-reads the cached grouping and still equals a fresh count
    moved = p.with_weights({p.traits[0].id: 0})
    r2, _ = score_profile(am, moved)
    m2 = fit_engagement_matrix(r2, res, am, p.engagement).set_index("cell")
    labels = np.array(TIER_LABELS, dtype=object)[r2.tier]
    fresh = pd.Series(np.where(r2.tier >= 4, labels, labels + "-" + df.level.to_numpy()))
    assert m2["accounts"].to_dict() == {c: int((fresh == c).sum()) for c in m2.index}


def test_icp_action_in_the_export_and_warehouse_sql_equal_the_app(sample):
    store, meta, specs, am = sample
    p = profile_from_json(DEFAULT.read_text())
    p.engagement.actions["A-High"] = "=HYPERLINK(\"x\")"  # user text: neutralised in CSV
    result, _ = score_profile(am, p)
    res = score_engagement(am, p.engagement)
    extra = engagement_extra([p], am, result)
    data = scored_export_bytes(FileColumns(lambda: store.open_dataset(meta["id"]), specs), result, "v1", "csv",
                               extra=extra)
    out = pd.read_csv(__import__("io").BytesIO(data), dtype=str, keep_default_na=False)
    assert list(out.columns[-4:]) == ["ICP Engagement", "ICP Engagement Level", "ICP Action", "ICP Profile Version"]
    a_high = (result.tier == 0) & (res.level == 0)
    assert (out["ICP Action"][a_high] == "'=HYPERLINK(\"x\")").all()
    assert (out["ICP Action"][result.tier == 4] == "Do not pursue").all()
    # warehouse SQL on DuckDB gives the app's engagement, level and action, row for row
    sql = warehouse.profile_sql(p, result.thresholds, table="wh", engagement=(p.engagement, res))
    with store.open_dataset(meta["id"]) as con:
        con.execute(f"CREATE TEMP VIEW wh AS {warehouse.warehouse_view_sql(p, specs)}")
        got = con.execute(f"SELECT * FROM ({sql}) ORDER BY row_id").df()
    assert np.abs(got["icp_engagement"].to_numpy() - res.score).max() < 1e-9
    assert (got["icp_engagement_level"].to_numpy() == res.level_labels).all()
    assert (got["icp_action"].to_numpy() == extra["ICP Action"]).all()
    for dialect in warehouse.DIALECTS:  # and it renders in every dialect
        assert "icp_action" in warehouse.profile_sql(p, result.thresholds, dialect=dialect,
                                                     engagement=(p.engagement, res))


def test_engagement_never_changes_fit_and_round_trips(sample):
    *_, am = sample
    p = profile_from_json(DEFAULT.read_text())
    bare = p.copy()
    bare.engagement = None
    assert np.array_equal(score_profile(am, p)[0].score, score_profile(am, bare)[0].score)
    again = profile_from_dict(p.to_dict())
    assert again.engagement == p.engagement
    assert "engagement" not in bare.to_dict()  # profiles without it keep their old JSON


@pytest.mark.parametrize("bad, message", [
    ({"signals": [{"label": "x", "kind": "hourly", "column": "a"}]}, "kind"),
    ({"signals": [{"label": "x", "kind": "count", "column": "a", "weight": 9}]}, "outside"),
    ({"half_life_days": 0}, "half_life_days"),
    ({"as_of": "yesterday"}, "as_of"),
    ({"thresholds": {"High": 10, "Medium": 50}}, "High must be at or above"),
    ({"mix": {"High": 50, "Medium": 50, "Low": 50}}, "add up to 100"),
    ({"actions": {"Z-High": "x"}}, "actions"),
    ({"actions": {"A-High": "x" * 500}}, "at most"),
    ({"surprise": 1}, "unknown field"),
])
def test_bad_engagement_sections_are_refused_by_name(bad, message):
    with pytest.raises(ProfileError, match=message):
        engagement_from_dict(bad)
    base = Profile(traits=[Trait("x", "missing", column="a")]).to_dict()
    with pytest.raises(ProfileError, match=message):
        profile_from_dict({**base, "engagement": bad})


def test_suggested_engagement_reads_activity_headers(sample):
    *_, specs, _am = sample
    e = suggested_engagement(specs)
    labels = [s.label for s in e.signals]
    assert any("Last Activity" in x for x in labels) and any("Visits" in x for x in labels)
    assert not any(x.endswith(" rows") or x == "Open deals" for x in labels)  # join counts and outcomes are not
    assert date.fromisoformat(score_engagement(sample[3], e).as_of) == date(2025, 9, 30)


def test_a_mistyped_future_date_does_not_move_the_as_of_day(tmp_path):
    pd.DataFrame({"Account Name": ["Ann", "Bo", "Cy"], "Industry": ["SaaS", "SaaS", "Retail"],
                  "Last Activity": ["2025-06-30", "2099-01-01", "2025-06-01"]}).to_csv(tmp_path / "a.csv", index=False)
    store = DatasetStore(tmp_path / "s", new_token())
    meta = ingest_dataset(store, tmp_path / "a.csv").meta
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), [ColumnSpec.from_dict(c) for c in meta["columns"]])
    res = score_engagement(am, Engagement(signals=[Signal("Last activity", "recency", column="Last Activity")]))
    assert res.as_of == date.today().isoformat()  # not 2099-01-01
    assert res.score[1] == pytest.approx(100.0)  # the future date itself counts as today
