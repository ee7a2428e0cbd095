"""The one-pager is made by the core: `python -m icp_core onepager` gives the same HTML as the
Share page for the sample data (the date line aside), and a bad profile exits 2 with one line."""

import re
import subprocess
import sys

import pytest

from icp_core.__main__ import main
from icp_core.export import profile_version_label
from icp_core.profile import profile_from_json
from tests.conftest import ROOT, open_app

DEFAULT = ROOT / "sample_data" / "default_profile.json"
DATE_LINE = re.compile(r"<br>\d{4}-\d{2}-\d{2}</div></header>")


def undated(page: str) -> str:
    assert DATE_LINE.search(page), "the header carries the date it was made"
    return DATE_LINE.sub("<br>DATE</div></header>", page)


def page_iframe_html(at) -> str:
    """What the Share page's One-pager tab shows (components.html: an iframe with srcdoc)."""
    frames = [e for e in at.get("iframe") if getattr(e.proto, "srcdoc", "")]
    assert len(frames) == 1
    return frames[0].proto.srcdoc


def test_cli_makes_the_same_onepager_as_the_share_page(data_root, tmp_path, capsys):
    at = open_app("pages/share.py", timeout=300)
    on_page = page_iframe_html(at)
    name = profile_from_json(DEFAULT.read_text()).name
    out = tmp_path / "one.html"
    rc = main(["--data-dir", str(data_root), "onepager", "--dataset", "sample", "--profile", str(DEFAULT),
               "--label", profile_version_label(name, None), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    from_cli = out.read_text(encoding="utf-8")
    assert undated(from_cli) == undated(on_page)
    for text in ("Tier A", "ROC AUC (held out)", "black-box reference", "TAM", "Data: Sample: 3,000 B2B accounts"):
        assert text in from_cli


def test_cli_onepager_from_a_file_to_stdout(tmp_path, capsys):
    rc = main(["--data-dir", str(tmp_path / "d"), "onepager", str(ROOT / "sample_data" / "accounts.csv"),
               "--profile", str(DEFAULT), "--outcome", "retained"])
    assert rc == 0
    page = capsys.readouterr().out
    assert page.startswith("<!doctype html>") and "Outcome: Retained vs churned." in page


@pytest.mark.parametrize("args,message", [
    (["--dataset", "sample", "--profile", "missing.json"], "profile not found: missing.json"),
    (["--dataset", "nope", "--profile", str(DEFAULT)], "no dataset 'nope'"),
    (["--profile", str(DEFAULT)], "give the accounts FILE or --dataset"),
])
def test_cli_onepager_errors_exit_2_with_one_line(tmp_path, args, message):
    out = subprocess.run([sys.executable, "-m", "icp_core", "--data-dir", str(tmp_path / "d"), "onepager", *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ") and message in out.stderr
    assert "Traceback" not in out.stderr and not out.stdout
