"""Issue 18, item 4 in real Chromium: a rater tiers a blind sample and the room sees the agreement."""

import re

import pytest

from tests.e2e import open_app, wait_idle


@pytest.mark.browser
def test_a_rater_tiers_the_blind_sample_and_sees_the_kappa(chromium, server, tmp_path):
    from playwright.sync_api import expect

    page = open_app(chromium, server, 1280, 720)
    page.locator("[data-testid='stSidebar'] [data-testid='stPageLink-NavLink']").filter(has_text="Evidence").click()
    expect(page.get_by_role("tab", name="Calibrate with sales")).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.get_by_role("tab", name="Calibrate with sales").click()
    page.get_by_role("button", name="Draw the accounts").click()
    form = page.locator("[data-testid='stForm']")
    expect(form).to_be_visible(timeout=30_000)
    wait_idle(page)
    form.get_by_label("Your name").fill("Ann")
    groups = form.locator("[data-testid='stRadio']")
    assert groups.count() == 30
    for i in range(10):  # Ann tiers the first ten, leaves the rest blank
        groups.nth(i).get_by_text("B", exact=True).click()
    assert "ICP Score" not in form.inner_text() and "Tier A" not in form.inner_text()  # scores hidden
    form.get_by_role("button", name="Submit my tiers").click()
    expect(page.get_by_text("Agreement with the model (weighted kappa)")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"^Ann$")).first).to_be_attached()
    page.screenshot(path=str(tmp_path / "calibration.png"), full_page=True)
