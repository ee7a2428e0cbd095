"""Issue 15, item 5: the first screen of a freshly started server never lists anything but the app's
own pages. Streamlit shows its listing of the pages/ folder (file stems: app, clusters, score …) in the
sidebar until the app's first run sends its navigation; the app turns that listing off
(client.showSidebarNavigation = false in .streamlit/config.toml) and draws its own page links.

The test starts a fresh server (fresh data directory: the sample dataset loads on the first run, the
slow case), opens it the moment the server answers, reads the sidebar's links every ~50 ms during the
first second and until the app is drawn, and screenshots the first second.
"""

import time

import pytest

from tests.e2e import start_streamlit, stop

# the app's page titles (app.py); everything the sidebar may ever list
TITLES = {"Score", "Evidence", "Clusters", "TAM", "People", "Share & export", "Data"}
WORKSPACE_PAGES = ["Score", "Evidence", "Clusters", "TAM", "People", "Share & export", "Data"]

# Every link in the sidebar (Streamlit's page list and st.page_link alike), its label without the icon.
SIDEBAR_LINKS = """() => {
  const side = document.querySelector("[data-testid='stSidebar']");
  if (!side) return [];
  return Array.from(side.querySelectorAll("a")).map(a => {
    const c = a.cloneNode(true);
    c.querySelectorAll("[data-testid^='stIcon'], .material-symbols-rounded").forEach(i => i.remove());
    return c.textContent.trim();
  });
}"""


@pytest.fixture
def fresh_server(tmp_path):
    """A function that starts `streamlit run app.py` on an empty data directory and returns its URL
    the moment it answers (health polled every 50 ms)."""
    servers = []

    def start() -> str:
        servers.append(start_streamlit(tmp_path / "data", tmp_path / "server.log", poll_s=0.05))
        return servers[-1]

    yield start
    for srv in servers:
        stop(srv.proc)
    if servers:
        print(servers[-1].log_text()[-3000:])


@pytest.mark.browser
def test_first_screen_lists_only_the_apps_pages(chromium, fresh_server, tmp_path):
    # the browser is ready before the server starts
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    url = fresh_server()
    opened = time.monotonic()
    page.goto(url, wait_until="commit")
    seen: list[tuple[float, list[str]]] = []  # (seconds since opening, sidebar links) whenever they change
    shot = tmp_path / "first_second.png"
    wrong_shot = tmp_path / "first_wrong_links.png"
    loaded = False
    while True:
        t = time.monotonic() - opened
        links = page.evaluate(SIDEBAR_LINKS)
        if not seen or seen[-1][1] != links:
            seen.append((round(t, 3), links))
            if set(links) - TITLES and not wrong_shot.exists():
                page.screenshot(path=str(wrong_shot))
        if t >= 1.0 and not shot.exists():
            page.screenshot(path=str(shot))
        loaded = loaded or (links == WORKSPACE_PAGES and page.get_by_text("Tier A", exact=True).count() > 0)
        if (loaded and shot.exists()) or t > 120:
            break
        page.wait_for_timeout(50)
    page.screenshot(path=str(tmp_path / "loaded.png"))

    print("sidebar links over time:", seen)
    wrong = [(t, links) for t, links in seen if set(links) - TITLES]
    assert not wrong, f"the sidebar listed more than the app's pages: {wrong} (screenshot {wrong_shot})"
    assert loaded, f"the app never showed its pages and the Score page: {seen}"
    assert shot.exists()
