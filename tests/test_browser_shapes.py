"""Issue 14 in real Chromium: an order-lines file is recognised before loading, the user confirms
the proposed roll-up (and can change what one row is), and the Score page works on the customers."""

import re

import pytest

from sample_data.generate_exports import order_lines
from tests.e2e import open_app


@pytest.mark.browser
def test_order_lines_upload_is_rolled_up_to_customers(chromium, server, tmp_path):
    from playwright.sync_api import expect

    csv = tmp_path / "orders_2024.csv"
    order_lines(2_000, 40)[0].to_csv(csv, index=False)
    page = open_app(chromium, server, 1280, 720)
    expect(page.get_by_text("Tier A", exact=True)).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="Data").click()
    expect(page.get_by_role("heading", name="Data").first).to_be_visible(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(csv))
    # the proposal, before anything is loaded
    proposal = page.get_by_text("This looks like 2,000 lines for 40 accounts (key: Customer ID)")
    expect(proposal).to_be_visible(timeout=60_000)
    page.screenshot(path=str(tmp_path / "proposal.png"), full_page=True)
    # changing what one row is updates the proposal; changing it back restores it
    page.get_by_role("combobox", name="One row is").click()
    page.get_by_role("option", name="accounts", exact=True).click()
    expect(page.get_by_text("This looks like 2,000 accounts, one per row")).to_be_visible(timeout=30_000)
    page.get_by_role("combobox", name="One row is").click()
    page.get_by_role("option", name=re.compile("^lines")).click()
    expect(proposal).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Load dataset").click()
    expect(page.get_by_text("Loaded 40 accounts (rolled up from 2,000 lines) from orders_2024.csv")).to_be_visible(
        timeout=60_000)
    page.screenshot(path=str(tmp_path / "loaded.png"), full_page=True)
    page.get_by_role("link", name="Score").click()
    expect(page.get_by_role("combobox", name="Dataset")).to_have_value("orders_2024", timeout=60_000)
    expect(page.get_by_text(re.compile(r"\b40 accounts\b")).first).to_be_visible(timeout=60_000)
    page.screenshot(path=str(tmp_path / "score.png"), full_page=True)
