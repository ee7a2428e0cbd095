"""Operationalise: warehouse SQL equals the app, version diffs, share links, exports, one-pager, CLI."""

import io

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest
import sqlglot

from icp_core.__main__ import main
from icp_core.dataset import AccountMatrix
from icp_core.export import ICP_COLUMNS, export_bytes, neutralise_formulas, scored_frame
from icp_core.ingest import ingest_dataset
from icp_core.onepager import render_onepager
from icp_core.profile import Profile, TierRule, Trait, diff_profiles, profile_from_json
from icp_core.roles import ColumnSpec
from icp_core.scoring import TIER_LABELS, explain_accounts, score_accounts, score_profile, tier_changes, tier_summary
from icp_core.store import ShareStore, new_token
from icp_core.warehouse import DIALECTS, SqlError, dbt_model, profile_sql, warehouse_view_sql
from tests.conftest import ROOT

DEFAULT = ROOT / "sample_data" / "default_profile.json"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from icp_core.store import DatasetStore

    store = DatasetStore(tmp_path_factory.mktemp("d"), new_token())
    meta = ingest_dataset(store, ROOT / "sample_data" / "accounts.csv",
                          ROOT / "sample_data" / "opportunities.csv").meta
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    return store, meta["id"], specs, AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)


def every_kind_profile(mode="thresholds") -> Profile:
    p = profile_from_json(DEFAULT.read_text())
    p.traits += [
        Trait("Churned", "is_true", role="churned", weight=-2, trait_class="caution"),
        Trait("Retained", "is_false", role="churned", weight=1),
        Trait("NPS unknown", "missing", role="nps", weight=-1),
        Trait("No tech listed", "missing", role="technologies", weight=-1),
        Trait("O'Reilly \"quoted\" -- label; DROP", "in_set", column="Lead Source", values=["Event", "x'; DROP TABLE t; --"],
              weight=1),
        Trait("Revenue ≥ 1M", "range", role="annual_revenue", min=1e6, weight=1, trait_class="must_have"),
        Trait("Gov (dq)", "in_set", role="industry", values=["government"], weight=-3, trait_class="stay_away",
              disqualify=True),
    ]
    p.tier_rule = TierRule(mode=mode)
    return p


@pytest.mark.parametrize("mode", ["thresholds", "mix"])
def test_duckdb_sql_gives_exactly_the_app_scores(sample, mode):
    store, dataset_id, specs, am = sample
    p = every_kind_profile(mode)
    result, binding = score_profile(am, p)
    assert not binding.problems
    assert {t.rule for t in p.traits} == {"in_set", "range", "contains_any", "is_true", "is_false", "missing"}
    sql = profile_sql(p, result.thresholds, table="wh")
    with store.open_dataset(dataset_id) as con:
        con.execute(f"CREATE TEMP VIEW wh AS {warehouse_view_sql(p, specs)}")
        out = con.execute(sql + " ORDER BY row_id").df()
    assert (out["icp_score"].to_numpy() == result.score).all()  # bit for bit
    assert (out["icp_tier"].to_numpy() == np.array(TIER_LABELS, dtype=object)[result.tier]).all()
    expl = explain_accounts(result, np.arange(am.n))
    assert (out["icp_reasons"].to_numpy() == expl["reasons"].to_numpy()).all()
    assert (out["icp_flags"].to_numpy() == expl["flags"].to_numpy()).all()
    assert len(set(out["icp_tier"])) >= 4


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
def test_sql_translates_to_each_warehouse(dialect):
    p = every_kind_profile()
    sql = profile_sql(p, {"A": 70.0, "B": 55.0, "C": 40.0}, table="analytics.crm.accounts", dialect=dialect)
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    parsed = sqlglot.parse_one(body, read=dialect)
    assert parsed is not None and "icp_tier" in body and "icp_reasons" in body
    assert "O''Reilly" in body or "O\\'Reilly" in body  # quotes stay inside string literals


def test_sql_refuses_bad_table_names_and_makes_a_dbt_model():
    p = every_kind_profile()
    with pytest.raises(SqlError):
        profile_sql(p, {"A": 70.0, "B": 55.0, "C": 40.0}, table='accounts"; DROP TABLE x; --')
    model = dbt_model(p, {"A": 70.0, "B": 55.0, "C": 40.0})
    assert "{{ ref('accounts') }}" in model and model.startswith("{{ config(")


def test_profile_text_cannot_escape_sql_comments_or_dbt_jinja(sample):
    """A profile name or label with a newline cannot end its `--` comment and run as SQL, and
    `{{ … }}` / `{% … %}` in labels or values cannot become Jinja in the dbt model."""
    import jinja2

    store, dataset_id, specs, am = sample
    p = every_kind_profile()
    p.name = "Evil\nDROP TABLE accounts; --"
    p.traits.append(Trait("Jinja {{ 7 * 7 }} {% if true %}x{% endif %}\nDROP TABLE accounts;", "in_set",
                          role="industry", values=["{{ run_query('drop') }}"], weight=1))
    result, _ = score_profile(am, p)
    sql = profile_sql(p, result.thresholds, table="wh")
    assert all(line.startswith("-- ") for line in sql.splitlines()[:3])
    assert len(sqlglot.parse(sql, read="duckdb")) == 1  # one statement, nothing after a comment
    with store.open_dataset(dataset_id) as con:
        con.execute(f"CREATE TEMP VIEW wh AS {warehouse_view_sql(p, specs)}")
        out = con.execute(sql + " ORDER BY row_id").df()
        assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == am.n
    assert (out["icp_reasons"].to_numpy() == explain_accounts(result, np.arange(am.n))["reasons"].to_numpy()).all()
    model = dbt_model(p, result.thresholds)
    rendered = jinja2.Environment().from_string(model).render(config=lambda **kw: "", ref=lambda name: "wh")
    assert rendered.strip() == profile_sql(p, result.thresholds, table="wh").replace('"wh"', "wh").strip()


def test_version_diff_on_hand_built_examples():
    old = Profile(traits=[Trait("Fintech", "in_set", role="industry", values=["fintech"], weight=5, id="a"),
                          Trait("Big", "range", role="employees", min=1000, weight=2, id="b"),
                          Trait("Gov", "in_set", role="industry", values=["government"], weight=-5,
                                trait_class="stay_away", id="c")],
                  tier_rule=TierRule(thresholds={"A": 70, "B": 50, "C": 30}))
    new = Profile(traits=[Trait("Fintech", "in_set", role="industry", values=["fintech"], weight=3, id="a"),
                          Trait("Gov", "in_set", role="industry", values=["government"], weight=-5,
                                trait_class="stay_away", disqualify=True, id="x"),  # same definition, new id
                          Trait("Snowflake", "contains_any", role="technologies", values=["Snowflake"], weight=4, id="d")],
                  tier_rule=TierRule(thresholds={"A": 75, "B": 50, "C": 30}))
    d = diff_profiles(old, new)
    assert [t.label for t in d["added"]] == ["Snowflake"]
    assert [t.label for t in d["removed"]] == ["Big"]
    changed = {b.label: what for _, b, what in d["changed"]}
    assert changed == {"Fintech": ["weight +5 → +3"], "Gov": ["now disqualifies"]}
    assert d["tier_rule"] == ["tier A line 70 → 75"]


def test_tier_changes_counts_moves(sample):
    _, _, _, am = sample
    p1 = profile_from_json(DEFAULT.read_text())
    p2 = p1.with_weights({"industry-core": 0})
    r1, _ = score_profile(am, p1)
    r2, _ = score_profile(am, p2)
    moves, moved = tier_changes(r1, r2)
    assert moves["accounts"].sum() == len(moved) == (r1.tier != r2.tier).sum() > 0
    for row in moves.itertuples():
        a, b = TIER_LABELS.index(row.__getattribute__("_1")), TIER_LABELS.index(row.to)
        assert ((r1.tier == a) & (r2.tier == b)).sum() == row.accounts


def test_share_links(tmp_path):
    shares = ShareStore(tmp_path)
    ws, ds, pid = new_token(), new_token(), new_token()
    rec = shares.create(ws, "sample", ds, pid, 2)
    assert len(rec["token"]) == 32 and int(rec["token"], 16) >= 0  # 128 random bits
    assert shares.resolve(rec["token"])["version"] == 2
    for bad in (None, "", "../../etc/passwd", rec["token"][:-1], rec["token"].upper(), new_token()):
        assert shares.resolve(bad) is None
    assert not shares.revoke(rec["token"], new_token())  # not the author's workspace
    assert shares.resolve(rec["token"]) is not None
    assert [r["token"] for r in shares.list_for(ws)] == [rec["token"]]
    assert shares.revoke(rec["token"], ws)
    assert shares.resolve(rec["token"]) is None and shares.list_for(ws) == []
    with pytest.raises(ValueError):
        shares.create(ws, "sample", "../x", pid, 1)


HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "Plain", "−5 stays"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_exports_open_and_are_neutralised(fmt):
    n = len(HOSTILE)
    display = pd.DataFrame({"Account ID": [f"id{i}" for i in range(n)], "Account Name": HOSTILE})
    result = score_accounts(np.ones((n, 1), dtype=bool), [Trait("Industry", "is_true", column="x", weight=5)],
                            TierRule())
    frame = scored_frame(display, result, np.arange(n), "=v1")
    data = export_bytes(frame, fmt)
    if fmt == "csv":
        import csv
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        back = pd.DataFrame(rows[1:], columns=rows[0])
    elif fmt == "xlsx":
        wb = openpyxl.load_workbook(io.BytesIO(data))
        ws = wb.active
        assert [c.value for c in ws[1]] == list(frame.columns)
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)  # no formula cells
        back = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False)
    else:
        back = pd.read_parquet(io.BytesIO(data))
        assert back["Account Name"].tolist() == HOSTILE and back["ICP Score"].dtype == float
        return
    assert list(back.columns) == ["Account ID", "Account Name", *ICP_COLUMNS]
    assert ICP_COLUMNS == ("ICP Score", "ICP Tier", "ICP Status", "ICP Reasons", "ICP Flags", "ICP Next Step",
                           "ICP Profile Version")
    names = back["Account Name"].tolist()
    for raw, got in zip(HOSTILE, names, strict=False):
        got = got.replace("\r\n", "\r").replace("\n", "\r")  # spreadsheets may store CR as LF
        if raw[0] in "=+-@\t\r":
            assert got == "'" + raw, (raw, got)
        else:
            assert got == raw
    assert (back["ICP Reasons"] == "Industry (+5)").all() and (back["ICP Profile Version"] == "'=v1").all()


def test_neutralise_leaves_numbers_alone():
    df = pd.DataFrame({"n": [-1.5, 2.0], "s": ["-x", "y"]})
    out = neutralise_formulas(df)
    assert out["n"].tolist() == [-1.5, 2.0] and out["s"].tolist() == ["'-x", "y"]


def test_onepager_is_escaped_and_complete(sample):
    _, _, _, am = sample
    p = profile_from_json(DEFAULT.read_text())
    p.name = "<script>alert(1)</script> ICP"
    result, _ = score_profile(am, p)
    page = render_onepager(p, tier_summary(result, am), "data & co", "v3",
                           {"outcome": "won", "auc": 0.74, "captured_good": 0.55, "lift": {"A": 1.8},
                            "reference_auc": 0.71},
                           {"tam": 1e6, "sam": 5e5, "som": 5e4, "by": "tier", "segments": [("A", 1e6)]})
    assert "<script>" not in page and "&lt;script&gt;" in page
    for text in ("Must-have", "Nice-to-have", "Proceed with caution", "Stay away", "Tier A", "Disqualified",
                 "0.74", "TAM", "lift 1.8×", "Industry Government"):
        assert text in page


def test_cli_sql_and_score_formats(tmp_path, capsys):
    assert main(["sql", "--profile", str(DEFAULT), "--dialect", "bigquery", "--table", "crm.accounts"]) == 0
    out = capsys.readouterr().out
    assert "`crm`.`accounts`" in out and "icp_tier" in out
    mix = tmp_path / "mix.json"
    p = profile_from_json(DEFAULT.read_text())
    p.tier_rule.mode = "mix"
    mix.write_text(p.to_json())
    assert main(["sql", "--profile", str(mix)]) == 2
    assert "target mix" in capsys.readouterr().err
    assert main(["sql", "--profile", str(mix), "--data", str(ROOT / "sample_data" / "accounts.csv")]) == 0
    assert "tier lines: A >= " in capsys.readouterr().out
    for fmt in ("xlsx", "parquet"):
        out_file = tmp_path / f"s.{fmt}"
        assert main(["--data-dir", str(tmp_path / "d"), "score", str(ROOT / "sample_data" / "accounts.csv"),
                     "--profile", str(DEFAULT), "--format", fmt, "--out", str(out_file)]) == 0
        df = pd.read_excel(out_file) if fmt == "xlsx" else pd.read_parquet(out_file)
        assert len(df) == 3000 and list(df.columns[-len(ICP_COLUMNS):]) == list(ICP_COLUMNS)
    assert main(["--data-dir", str(tmp_path / "d"), "score", str(ROOT / "sample_data" / "accounts.csv"),
                 "--profile", str(DEFAULT), "--format", "xlsx"]) == 2
    assert "needs --out" in capsys.readouterr().err
    con = duckdb.connect()
    con.close()
