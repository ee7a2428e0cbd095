"""Campaign results go through the robust reader (icp_core.readers): a DOS-encoded (cp1252) CSV with
semicolons, an Excel workbook and a CSV read the same, and a bad file gives one specific message."""

import io

import numpy as np
import pandas as pd
import pytest

from icp_core.__main__ import main
from icp_core.campaign import CampaignError, compare_results, read_campaign_results
from tests.conftest import ROOT, open_app


def results(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"Société": [f"Café Müller {i}" for i in range(2 * n)],
                         "group": ["ICP"] * n + ["control"] * n,
                         "responded": np.where(rng.random(2 * n) < np.r_[[0.2] * n, [0.05] * n], "yes", "no")})


def as_bytes(df: pd.DataFrame, kind: str) -> bytes:
    if kind == "xlsx":
        buf = io.BytesIO()
        df.to_excel(buf, index=False)
        return buf.getvalue()
    text = df.to_csv(index=False, sep=";" if kind == "cp1252" else ",", lineterminator="\r\n")
    return text.encode("cp1252" if kind == "cp1252" else "utf-8")


@pytest.mark.parametrize("kind", ["utf8", "cp1252", "xlsx"])
def test_results_read_the_same_from_csv_cp1252_and_excel(kind):
    df = results()
    back = read_campaign_results(io.BytesIO(as_bytes(df, kind)), f"results.{'xlsx' if kind == 'xlsx' else 'csv'}")
    assert list(back.columns) == list(df.columns)
    assert back.astype(str).values.tolist() == df.values.tolist()  # text, accents right, file order
    c = compare_results(back, "group", "responded")
    assert c.icp_n == 400 and c.control_n == 400 and c.significant


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (bytes(range(256)) * 20, "not a text table"),
    (b"group,responded\n", "no data rows"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old Excel 97-2003"),
])
def test_bad_results_file_gives_a_specific_error(content, message):
    with pytest.raises(CampaignError, match=message):
        read_campaign_results(content, "results.csv")


@pytest.mark.parametrize("kind", ["cp1252", "xlsx", "bad"])
def test_evidence_page_reads_cp1252_and_excel_results(data_root, kind):
    app = open_app("pages/evidence.py", timeout=300)
    name, data = ("results.xlsx", b"\xd0\xcf\x11\xe0" + b"\x00" * 100) if kind == "bad" else (
        f"results.{'xlsx' if kind == 'xlsx' else 'csv'}", as_bytes(results(), kind))
    app.file_uploader(key="evidence.camp.results").set_value((name, data, "application/octet-stream"))
    app.run()
    assert not app.exception, app.exception
    if kind == "bad":
        shown = [e.value.replace("\\", "") for e in app.error]  # as shown: markdown escapes removed
        assert any("Could not read the campaign results" in e and "old Excel 97-2003" in e for e in shown), shown
    else:
        assert any("does better than the control" in s.value for s in app.success)


def test_cli_campaign_reads_a_cp1252_file(tmp_path, capsys):
    path = tmp_path / "results.csv"
    path.write_bytes(as_bytes(results(), "cp1252"))
    rc = main(["--data-dir", str(tmp_path / "d"), "campaign", str(path), "--profile",
               str(ROOT / "sample_data" / "default_profile.json")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "does better than the control" in out.out
