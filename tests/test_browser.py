"""End to end in real headless Chromium: start `streamlit run app.py`, upload a CSV, see the quality panel.

Never skipped: if Chromium or Playwright is missing this test fails (`make test` installs both).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

UPLOAD = (
    "Company,Sector,Employees,Annual Revenue,Country,Deal Stage\n"
    "Acme,technolgy,\"1,001-5,000\",$2.5M,USA,Closed Won\n"
    "Beta,technology,50,not a number,UK,Closed Lost\n"
    "Gamma,technology,10000+,36.9 Million,Germany,Open\n"
    "Delta,technology,200,$1.1k,U.S.,Won\n"
)


def tier_counts(page, timeout_s: float = 60) -> list[str]:
    """The five tier metric values once they are all drawn (the cards render after the heading)."""
    deadline = time.time() + timeout_s
    while True:
        values = page.locator("[data-testid='stMetricValue']").all_inner_texts()[:5]
        if len(values) == 5 and all(v.strip() for v in values):
            return values
        if time.time() > deadline:
            raise AssertionError(f"tier metrics not drawn: {values}")
        page.wait_for_timeout(300)


def wait_idle(page, quiet_ms: int = 500, timeout_s: float = 90) -> None:
    """Wait until the app has finished its rerun: the app root's script state (the attribute
    Streamlit's own end-to-end tests wait on) stays "notRunning" for `quiet_ms` in a row (then
    charts, drawn after the script ends, get that moment to paint)."""
    deadline = time.time() + timeout_s
    quiet_since = None
    while time.time() < deadline:
        if page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").count():
            quiet_since = quiet_since or time.time()
            if (time.time() - quiet_since) * 1000 >= quiet_ms:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(100)
    raise AssertionError("the app kept running")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, sample_template):
    """`streamlit run app.py` on a free port and a private data directory that already holds the
    sample (a copy of the session's template: the first run does not ingest it again; loading it
    on a fresh server is test_browser_first_screen's and test_faults' case)."""
    port = free_port()
    shutil.copytree(sample_template, tmp_path / "data")
    env = dict(os.environ, ICP_DATA_DIR=str(tmp_path / "data"))
    log = open(tmp_path / "server.log", "wb")  # a file, not a pipe nobody reads (a full pipe blocks the server)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (tmp_path / "server.log").read_text(errors="replace")[-2000:])
    yield url
    proc.terminate()
    log.close()
    print((tmp_path / "server.log").read_text(errors="replace")[-5000:])  # shown by pytest when a test fails
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.browser
def test_upload_in_real_chromium_shows_quality_panel(server, tmp_path):
    assert Path(CHROMIUM).exists(), "Debian chromium is required: run `make test` (it installs it)"
    from playwright.sync_api import expect, sync_playwright

    csv = tmp_path / "crm_export.csv"
    csv.write_text(UPLOAD)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server, wait_until="networkidle")
        # first open: the bundled sample is there before any upload
        expect(page.get_by_text("Sample: 3,000 B2B accounts + deals").first).to_be_visible(timeout=60_000)
        assert "ws=" in page.url
        # the Score page opens first, with the default profile's tiers
        expect(page.get_by_text("Tier A", exact=True)).to_be_visible(timeout=60_000)
        tier_a = page.locator("[data-testid='stMetricValue']").first
        before = tier_counts(page)[0]
        slider = page.locator("[data-testid='stSlider']").filter(has_text="Industry in Fintech, SaaS")
        thumb = slider.get_by_role("slider")
        thumb.focus()
        for _ in range(5):
            thumb.press("ArrowLeft")
        expect(thumb).to_have_attribute("aria-valuetext", "0", timeout=10_000)
        expect(tier_a).not_to_have_text(before, timeout=20_000)
        # selecting an account in the table opens its explanation card
        grid = page.locator("[data-testid='stDataFrame']").last
        for attempt in range(4):  # the grid redraws after the slider's rerun: retry the click
            page.wait_for_timeout(1500)
            grid.scroll_into_view_if_needed()
            box = grid.bounding_box()
            page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # first row's selection cell
            try:
                expect(page.get_by_text("not matched").first).to_be_visible(timeout=10_000)
                break
            except AssertionError:
                if attempt == 3:
                    raise
        page.screenshot(path=str(tmp_path / "score_page.png"), full_page=True)
        # on to the Data page through the navigation
        page.get_by_role("link", name="Data").click()
        expect(page.get_by_role("heading", name="Data").first).to_be_visible(timeout=30_000)
        page.locator("input[type=file]").first.set_input_files(str(csv))
        expect(page.get_by_text("crm_export.csv").first).to_be_visible(timeout=20_000)
        # the file is read and its shape proposed before anything is loaded (issue 14)
        expect(page.get_by_text("This looks like 4 accounts, one per row (key: Company).")).to_be_visible(
            timeout=30_000)
        page.get_by_role("button", name="Load dataset").click()
        expect(page.get_by_text("Loaded 4 accounts from crm_export.csv")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("heading", name="crm_export")).to_be_visible()
        expect(page.get_by_text("All 4 rows were read.")).to_be_visible()
        expect(page.get_by_text(re.compile(r"'technolgy' \(1 rows\) looks like"))).to_be_visible()
        # the quality table (a canvas grid) is there, and its numbers are in the metrics
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
        metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
        assert metrics[:4] == ["4", "0", "6", "1"], metrics
        page.screenshot(path=str(tmp_path / "data_page.png"), full_page=True)
        # the Score page now works on the upload; the sidebar picker switches back to the sample
        page.get_by_role("link", name="Score").click()
        expect(page.get_by_text("No traits yet").first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("combobox", name="Dataset")).to_have_value("crm_export")
        page.get_by_role("combobox", name="Dataset").click()
        page.get_by_role("option", name=re.compile("^Sample: 3,000")).click()
        expect(page.get_by_text("Sample ICP: mid-size Fintech & SaaS", exact=True).first).to_be_visible(timeout=60_000)
        # a second, separate browser session does not see this upload
        other = browser.new_context().new_page()
        other.goto(server, wait_until="networkidle")
        expect(other.get_by_text("Sample: 3,000 B2B accounts + deals").first).to_be_visible(timeout=60_000)
        assert other.get_by_text("crm_export").count() == 0
        browser.close()


@pytest.mark.browser
def test_share_link_in_a_second_browser_context(server, tmp_path):
    assert Path(CHROMIUM).exists(), "Debian chromium is required: run `make test` (it installs it)"
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        author = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        author.goto(server, wait_until="networkidle")
        expect(author.get_by_text("Tier A", exact=True)).to_be_visible(timeout=60_000)
        counts = tier_counts(author)
        author.get_by_role("link", name="Share & export").click()
        expect(author.get_by_role("heading", name="Share & export")).to_be_visible(timeout=30_000)
        author.get_by_role("button", name="Save version").click()
        author.get_by_text("Saved (UTC)").wait_for(state="attached", timeout=30_000)  # the versions grid
        author.get_by_role("tab", name="Share link").click()
        author.get_by_role("button", name="Create read-only link").click()
        expect(author.get_by_text("Anyone with this link")).to_be_visible(timeout=30_000)
        link = author.locator("[data-testid='stCode']").first.inner_text().strip()
        assert "?share=" in link and len(link.split("?share=")[1]) == 32
        # a different browser (no cookies, no workspace) opens the link
        viewer = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        viewer.goto(link, wait_until="networkidle")
        expect(viewer.get_by_text("Tier A", exact=True)).to_be_visible(timeout=60_000)
        assert tier_counts(viewer) == counts
        expect(viewer.get_by_text("read-only").first).to_be_visible()
        assert viewer.get_by_role("link", name="Data").count() == 0
        assert viewer.get_by_role("button", name="Save").count() == 0
        assert viewer.get_by_role("slider").first.is_disabled()
        viewer.screenshot(path=str(tmp_path / "shared.png"), full_page=True)
        # every navigation link of the share session keeps the token and the read-only view
        token = link.split("?share=")[1]
        nav_links = viewer.locator("[data-testid='stSidebar'] [data-testid='stPageLink-NavLink']")
        names = [n.split("\n")[-1].strip() for n in nav_links.all_inner_texts()]
        assert names == ["Score", "Clusters", "TAM"], names
        for name in ["Clusters", "TAM", "Score", "TAM", "Clusters", "Score"]:
            viewer.locator("[data-testid='stSidebar'] [data-testid='stPageLink-NavLink']").filter(has_text=name).click()
            expect(viewer.get_by_role("heading", name=name).first).to_be_visible(timeout=60_000)
            viewer.wait_for_timeout(500)
            assert f"share={token}" in viewer.url, (name, viewer.url)
            names = [n.split("\n")[-1].strip() for n in viewer.locator("[data-testid='stSidebar'] [data-testid='stPageLink-NavLink']").all_inner_texts()]
            assert names == ["Score", "Clusters", "TAM"], (name, names)
            expect(viewer.get_by_text("Shared ICP, read-only").first).to_be_visible()
            assert viewer.get_by_role("combobox", name="Dataset").count() == 0, name
            assert viewer.locator("input[type=file]").count() == 0, name
            assert viewer.get_by_role("link", name="Evidence").count() == 0, name
            if name == "Score":
                assert tier_counts(viewer) == counts, name
                sliders = viewer.get_by_role("slider")
                assert sliders.count() > 0 and all(sliders.nth(i).is_disabled() for i in range(sliders.count()))
        # the author revokes it; the viewer's next visit finds nothing
        for attempt in range(3):  # a click during a rerun can be lost: retry until the link is gone
            if author.get_by_role("button", name="Revoke").count():
                author.get_by_role("button", name="Revoke").first.click()
            try:
                expect(author.get_by_text("Live links")).to_have_count(0, timeout=15_000)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        viewer.goto(link, wait_until="networkidle")
        expect(viewer.get_by_role("heading", name="Link not found")).to_be_visible(timeout=30_000)
        assert viewer.get_by_text("Tier A", exact=True).count() == 0
        browser.close()
