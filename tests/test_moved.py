"""Issue 17, item 4 (core): what a change moved, against per-account computations."""

import numpy as np
import pytest

from icp_core.backtest import live_backtest
from icp_core.moved import what_moved
from icp_core.outcomes import Outcome
from icp_core.profile import Trait, profile_from_json
from icp_core.scoring import score_profile, tier_changes
from tests.conftest import ROOT, sample_with_deals

DEFAULT = ROOT / "sample_data" / "default_profile.json"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    *_, am = sample_with_deals(tmp_path_factory.mktemp("moved"))
    return am


@pytest.mark.parametrize("change", ["weight", "new trait"])
def test_moves_equal_the_per_account_computation(sample, change):
    am = sample
    base = profile_from_json(DEFAULT.read_text())
    if change == "weight":
        edited = base.with_weights({"industry-core": 0})
    else:
        edited = base.copy()
        edited.traits.append(Trait("EMEA big push", "in_set", role="region", values=["emea"], weight=5))
    before, _ = score_profile(am, base)
    after, _ = score_profile(am, edited)
    m = what_moved(before, after, am, Outcome("won"))
    table, moved = tier_changes(before, after)
    assert m.accounts == len(moved) > 0
    assert m.table[["from", "to", "accounts"]].sort_values(["from", "to"]).reset_index(drop=True).equals(
        table.sort_values(["from", "to"]).reset_index(drop=True))
    assert m.arr == pytest.approx(np.nansum(am.arr[moved]))
    assert m.pipeline == int((am.won[moved] == 2).sum())
    # the accounts whose score moved most
    change_per_account = np.abs(after.score - before.score)
    assert len(m.top) == 10
    assert np.allclose(np.abs(m.top["score_after"] - m.top["score_before"]), np.round(change_per_account[m.top["row"]], 1),
                       atol=0.11)
    assert change_per_account[m.top["row"]].min() >= np.sort(change_per_account)[-10] - 1e-9
    # the AUCs are the live backtest's; the band brackets the difference
    assert m.auc_before == pytest.approx(live_backtest(am, before, Outcome("won")).auc)
    assert m.auc_after == pytest.approx(live_backtest(am, after, Outcome("won")).auc)
    lo, hi = m.band
    assert lo <= m.auc_after - m.auc_before <= hi
    assert m.reading().startswith(f"AUC {m.auc_before:.2f} → {m.auc_after:.2f} (")


def test_nothing_moved_reads_within_noise(sample):
    base = profile_from_json(DEFAULT.read_text())
    r, _ = score_profile(sample, base)
    m = what_moved(r, r, sample, Outcome("won"))
    assert m.accounts == 0 and len(m.table) == 0 and len(m.top) == 0
    assert m.reading().endswith("(within noise)")


def test_score_page_shows_what_moved_and_undoes_the_last_change(data_root):  # noqa: D103
    from tests.conftest import open_app, weight_sliders

    at = open_app(timeout=120)
    title = next(e.label for e in at.expander if e.label.startswith("What moved since"))
    assert ": 0 accounts" in title
    assert at.button(key="score.undo").disabled
    slider = next(s for s in weight_sliders(at) if "Industry in Fintech" in s.label)
    slider.set_value(0).run()
    assert not at.exception, at.exception
    title = next(e.label for e in at.expander if e.label.startswith("What moved since"))
    moved = int(title.split(": ")[1].split(" account")[0].replace(",", ""))
    assert moved > 0 and "AUC" in title and ("within noise" in title or "beyond noise" in title)
    assert not any("Score before" in d.value.columns for d in at.dataframe)  # closed: drawn only when opened
    at.session_state["score.moved.open"] = True  # open the expander (its keyed state)
    at.run()
    table = next(d.value for d in at.dataframe if "Open deals" in d.value.columns)
    assert table["Accounts"].sum() == moved
    top = next(d.value for d in at.dataframe if "Score before" in d.value.columns)
    assert len(top) == 10 and (top["Score before"] != top["Score now"]).all()
    at.button(key="score.undo").click().run()
    assert not at.exception
    assert next(s for s in weight_sliders(at) if "Industry in Fintech" in s.label).value == 5
    assert ": 0 accounts" in next(e.label for e in at.expander if e.label.startswith("What moved since"))
