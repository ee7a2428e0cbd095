"""Helpers of the end-to-end tests: a real `streamlit run` on a free loopback port, headless
Debian Chromium driven by Playwright, and the waits every browser test needs. The fixtures that
use them (`server`, one per test session; `chromium`, one per test) are in conftest.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(str):
    """A running app's URL (a str, so `page.goto(server)` works) with its process and log."""

    proc: subprocess.Popen
    log_path: Path
    data_dir: Path

    def log_text(self, since: int = 0) -> str:
        with open(self.log_path, "rb") as fh:
            fh.seek(since)
            return fh.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size


def start_streamlit(data_dir: Path, log_path: Path, port: int | None = None, poll_s: float = 0.3,
                    timeout_s: float = 60) -> Server:
    """`streamlit run app.py` on `data_dir` (ICP_DATA_DIR), answering on 127.0.0.1. The log goes to a
    file, not a pipe nobody reads (a full pipe blocks the server). Fails with the log's tail when
    the server does not answer its health check within `timeout_s`."""
    port = port or free_port()
    env = dict(os.environ, ICP_DATA_DIR=str(data_dir))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}")
    server.proc, server.log_path, server.data_dir = proc, log_path, Path(data_dir)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(server + "/_stcore/health", timeout=2).status == 200:
                return server
        except OSError:
            time.sleep(poll_s)
    stop(proc)
    raise AssertionError("streamlit did not start: " + server.log_text()[-2000:])


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def open_app(browser, url: str, width: int = 1280, height: int = 720, ready: str | None = "Tier A"):
    """A new browser session (its own context: no cookies, its own workspace) on `url` at
    width × height; waits until `ready` (exact text) shows and the app is idle."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url, wait_until="networkidle")
    if ready:
        expect(page.get_by_text(ready, exact=True).first).to_be_visible(timeout=60_000)
        wait_idle(page, quiet_ms=300)
    return page


def tier_counts(page, timeout_s: float = 60) -> list[str]:
    """The six tier metric values (A-D, Disqualified, Insufficient data) once they are all drawn and
    the trait controls after them too (the cards render after the heading, the controls after the
    cards)."""
    deadline = time.time() + timeout_s
    while True:
        values = page.locator("[data-testid='stMetricValue']").all_inner_texts()[:6]
        controls = page.locator(".st-key-score-controls [data-testid='stSlider']").count()
        if len(values) == 6 and all(v.strip() for v in values) and controls:
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


def open_first_account(page) -> None:
    """Select the first row of the Score page's accounts grid until its explanation card shows (the
    grid redraws after a rerun, so a click can land on the old one: retried)."""
    from playwright.sync_api import expect

    grid = page.locator("[data-testid='stDataFrame']").last
    for attempt in range(4):
        page.wait_for_timeout(1500)
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # first row's selection cell
        try:
            expect(page.get_by_text("not matched").first).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            if attempt == 3:
                raise


def move_slider(page, slider, presses: int, expected: str) -> None:
    """Move a Streamlit slider (a locator of its stSlider element) by keyboard, `presses` steps
    (negative: left), and wait until it shows `expected`."""
    from playwright.sync_api import expect

    slider.scroll_into_view_if_needed()
    thumb = slider.get_by_role("slider")
    thumb.focus()
    for _ in range(abs(presses)):
        thumb.press("ArrowRight" if presses > 0 else "ArrowLeft")
    expect(thumb).to_have_attribute("aria-valuetext", expected, timeout=10_000)
