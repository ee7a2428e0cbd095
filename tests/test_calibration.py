"""Issue 18, item 4: the calibration round: a stratified blind sample, kappa against scikit-learn's,
the confusion table, disagreements with the trait that explains them, proposals, CLI round trip."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from icp_core.__main__ import main
from icp_core.calibration import (
    SAMPLE_ID,
    CalibrationError,
    blind_sheet,
    calibrate,
    draw_sample,
    model_tier4,
    read_sheet,
    sheet_columns,
)
from icp_core.outcomes import Outcome
from icp_core.profile import profile_from_json
from icp_core.scoring import score_profile
from tests.conftest import ROOT, sample_with_deals

DEFAULT = ROOT / "sample_data" / "default_profile.json"
ACCOUNTS = ROOT / "sample_data" / "accounts.csv"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    *_, am = sample_with_deals(tmp_path_factory.mktemp("cal"))
    p = profile_from_json(DEFAULT.read_text())
    return am, p, score_profile(am, p)[0]


def test_the_sample_is_stratified_by_tier_and_blind(scored):
    am, _p, r = scored
    rows = draw_sample(r, 30)
    assert len(rows) == len(set(rows)) == 30
    assert np.bincount(r.tier[rows], minlength=5).tolist() == [6, 6, 6, 6, 6]
    assert draw_sample(r, 30).tolist() == rows.tolist()  # seeded
    sheet = blind_sheet(am, rows, ["Ann", "Bo"])
    assert list(sheet.columns[-2:]) == ["Ann", "Bo"] and (sheet[["Ann", "Bo"]] == "").all().all()
    assert not {"ICP Score", "ICP Tier", "Deal Stage", "ARR", "Churned"} & set(sheet.columns)
    assert "Account Name" in sheet.columns
    with pytest.raises(CalibrationError, match="20 to 40"):
        draw_sample(r, 50)


def test_kappa_equals_scikit_learn_and_the_confusion_table_adds_up(scored):
    am, p, r = scored
    rows = draw_sample(r, 40, seed=2)
    model = model_tier4(r.tier[rows])
    rng = np.random.default_rng(5)
    ann = np.clip(model + rng.integers(-1, 2, len(rows)), 0, 3)
    bo = rng.integers(0, 4, len(rows))
    bo[:3] = -1  # three accounts Bo left blank
    cal = calibrate(am, p, r, rows, {"Ann": ann, "Bo": bo}, Outcome("won"))
    kappa = dict(zip(cal.per_rater.rater, cal.per_rater.kappa, strict=True))
    assert kappa["Ann"] == pytest.approx(cohen_kappa_score(model, ann, weights="linear"))
    assert kappa["Bo"] == pytest.approx(cohen_kappa_score(model[3:], bo[3:], weights="linear"))
    assert kappa["Ann"] > kappa["Bo"]
    pooled = cohen_kappa_score(np.r_[model, model[3:]], np.r_[ann, bo[3:]], weights="linear", labels=[0, 1, 2, 3])
    assert cal.overall == pytest.approx(pooled)
    assert cal.confusion.to_numpy().sum() == 40 + 37
    assert cal.summary()["per_rater"]["Ann"] == round(kappa["Ann"], 3)


def test_disagreements_name_the_trait_and_proposals_carry_their_backtest(scored):
    am, p, r = scored
    rows = draw_sample(r, 40, seed=1)
    model = model_tier4(r.tier[rows])
    # the room rates every Education account two tiers better than the model does
    industry = np.array([str(v).lower() for v in am.display.iloc[rows]["Industry"]])
    raters = np.where(industry == "education", np.maximum(model - 2, 0), model)
    cal = calibrate(am, p, r, rows, {"Ann": raters, "Bo": raters}, Outcome("won"))
    assert len(cal.disagreements) and (cal.disagreements["direction"] == "raters higher").all()
    assert cal.disagreements["trait"].iloc[0] == "Industry Education"
    prop = cal.proposals.set_index("trait").loc["Industry Education"]
    assert prop.weight == -3 and prop.proposed == -2
    assert 0.5 < prop.auc_before < 1 and 0.5 < prop.auc_after < 1


def test_read_sheet_refuses_bad_cells_by_name(scored):
    am, _p, r = scored
    sheet = blind_sheet(am, draw_sample(r, 20), ["Ann"])
    known = {s.header for s in sheet_columns(am)}
    sheet["Ann"] = ["a", "B", "c ", "D"] * 5
    rows, ratings = read_sheet(sheet, am.n, known)
    assert ratings["Ann"].tolist() == [0, 1, 2, 3] * 5  # case and spaces forgiven
    sheet.loc[3, "Ann"] = "Tier A"
    with pytest.raises(CalibrationError, match="is not a tier"):
        read_sheet(sheet, am.n, known)
    sheet[SAMPLE_ID] = 999_999
    with pytest.raises(CalibrationError, match="not an account"):
        read_sheet(sheet, am.n, known)


def test_cli_round_trip(tmp_path, capsys):
    sheet = tmp_path / "sheet.csv"
    base = ["--data-dir", str(tmp_path / "d"), "calibration"]
    assert main([*base, "export", str(ACCOUNTS), "--profile", str(DEFAULT), "--raters", "Ann, Bo",
                 "--out", str(sheet)]) == 0
    frame = pd.read_csv(sheet, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(frame) == 30 and list(frame.columns[-2:]) == ["Ann", "Bo"]
    frame["Ann"], frame["Bo"] = "B", ["A", "C"] * 15
    frame.to_csv(sheet, index=False)
    capsys.readouterr()
    assert main([*base, "read", str(ACCOUNTS), "--profile", str(DEFAULT), "--sheet", str(sheet),
                 "--outcome", "Deal Stage", "--positive", "Closed Won"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accounts"] == 30 and report["raters"] == ["Ann", "Bo"]
    assert set(report["per_rater"]) == {"Ann", "Bo"}
    assert sum(sum(v.values()) for v in report["confusion"].values()) == 60
    frame.loc[0, "Bo"] = "excellent"
    frame.to_csv(sheet, index=False)
    assert main([*base, "read", str(ACCOUNTS), "--profile", str(DEFAULT), "--sheet", str(sheet)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "“excellent” is not a tier" in err[0]
    assert main([*base, "export", str(ACCOUNTS), "--profile", str(DEFAULT), "--out", str(sheet)]) == 2


def test_evidence_page_calibration_round(data_root):
    from tests.conftest import open_app

    at = open_app("pages/evidence.py", timeout=240)
    at.slider(key="evidence.cal.n").set_value(20).run()
    at.button(key="evidence.cal.draw").click().run()
    assert not at.exception, at.exception
    radios = [r for r in at.radio if r.key and r.key.startswith("evidence.cal.t")]
    assert len(radios) == 20 and all(r.value is None for r in radios)  # nothing pre-filled, scores hidden
    at.text_input(key="evidence.cal.name").set_value("Ann")
    for r in radios:
        r.set_value("B")
    at.button(key="FormSubmitter:evidence.cal.form-Submit my tiers").click().run()
    assert not at.exception, at.exception
    raters = next(d.value for d in at.dataframe if "Kappa" in d.value.columns)
    assert raters["Rater"].tolist() == ["Ann"] and raters["Accounts tiered"].tolist() == [20]
    # a second rater with the same name is refused; another one is added
    at.text_input(key="evidence.cal.name").set_value("Ann")
    next(r for r in at.radio if r.key == "evidence.cal.t0").set_value("A")
    at.button(key="FormSubmitter:evidence.cal.form-Submit my tiers").click().run()
    assert any("already submitted" in e.value for e in at.error)
    at.text_input(key="evidence.cal.name").set_value("Bo")
    next(r for r in at.radio if r.key == "evidence.cal.t0").set_value("A")
    at.button(key="FormSubmitter:evidence.cal.form-Submit my tiers").click().run()
    raters = next(d.value for d in at.dataframe if "Kappa" in d.value.columns)
    assert raters["Rater"].tolist() == ["Ann", "Bo"] and raters["Accounts tiered"].tolist() == [20, 1]
    at.button(key="evidence.cal.keep").click().run()
    assert not at.exception, at.exception
    work = at.session_state["icp.work"][at.session_state["icp.dataset"][1]]
    assert work["profile"].calibration["raters"] == ["Ann", "Bo"]
    assert work["profile"].to_dict()["calibration"]["accounts"] == 20
