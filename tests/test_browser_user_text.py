"""Issue 13, item 2: a share view shows the author's text as typed: no link, no image, no formatting.

The profile's name, description, trait labels, a trait on a column the dataset lacks (the binding
warning) and a caution trait every account matches (the explanation card's Flags) all carry
links, images, autolinks and e-mail addresses; the rendered page must contain none of them.
"""

import json
import re
import time

import pytest

from icp_core.store import SAMPLE_WORKSPACE, DatasetStore, ProfileStore, ShareStore, new_token
from tests.conftest import ROOT
from tests.e2e import open_app, open_first_account, tier_counts

EVIL = "evil.example"


def hostile_profile() -> dict:
    profile = json.loads((ROOT / "sample_data" / "default_profile.json").read_text())
    profile["name"] = f"ICP https://{EVIL}/name www.{EVIL} *bold*"
    profile["description"] = f"![img](https://{EVIL}/d.png) [l](https://{EVIL}/d) mailto:x@{EVIL}"
    profile["traits"][1]["label"] = f"![i](https://{EVIL}/i.png) www.{EVIL} <https://{EVIL}/a>"
    profile["traits"].append({"id": "everyone", "label": f"Caution https://{EVIL}/c x@{EVIL}", "role": "employees",
                              "rule": "range", "min": 0, "weight": -1, "trait_class": "caution"})
    profile["traits"].append({"id": "missing", "label": f"[m](https://{EVIL}/m)", "column": f"[c](https://{EVIL}/c)",
                              "rule": "missing", "weight": 1, "trait_class": "nice_to_have"})
    return profile


def links_and_images(page) -> list[str]:
    return page.evaluate(f"""() => [...document.querySelectorAll('a, img')]
        .map(e => e.outerHTML).filter(h => h.includes('{EVIL}'))""")


@pytest.mark.browser
def test_share_view_shows_user_text_as_typed(chromium, server, tmp_path):
    from playwright.sync_api import expect

    root = server.data_dir
    page = open_app(chromium, server, 1400, 1000)
    tier_counts(page)  # the server has made the sample dataset
    deadline = time.time() + 30
    while not DatasetStore(root, SAMPLE_WORKSPACE).list_datasets()[0] and time.time() < deadline:
        time.sleep(0.5)
    sample_id = DatasetStore(root, SAMPLE_WORKSPACE).list_datasets()[0][0]["id"]
    author = new_token()
    rec = ProfileStore(root, author).save_version(sample_id, hostile_profile())
    token = ShareStore(root).create(author, SAMPLE_WORKSPACE, sample_id, rec["profile_id"], rec["version"],
                                    label="hostile")["token"]
    page.goto(f"{server}/?share={token}", wait_until="networkidle")
    tier_counts(page)
    expect(page.get_by_text("cannot be used on this dataset").first).to_be_visible(timeout=30_000)
    # shown as typed: an invisible word joiner (U+2060) is all that keeps it from becoming a link
    expect(page.locator("[data-testid='stMain']").get_by_text(re.compile(r"www\u2060?\.evil\.example")).first).to_be_visible()
    assert links_and_images(page) == []
    # the explanation card of the first account (its Flags carry the caution trait's label)
    open_first_account(page)
    expect(page.get_by_text(re.compile(r"x\u2060?@evil\.example")).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "share_hostile_text.png"), full_page=True)
    assert links_and_images(page) == []
