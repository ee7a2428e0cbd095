"""Scored accounts leave the app in one schema (icp_core.export): the Score page download, the Share
page's CRM export and `python -m icp_core score` give the same columns: the accounts file's columns as
in the file, then ICP Score, ICP Tier, ICP Reasons, ICP Flags, ICP Next Step, ICP Profile Version."""

import csv
import io

import pandas as pd

from icp_core.__main__ import main
from icp_core.engagement import EXPORT_COLUMNS
from icp_core.export import ICP_COLUMNS
from icp_core.store import SAMPLE_WORKSPACE, DatasetStore
from tests.conftest import ROOT, download, open_app

ACCOUNTS = ROOT / "sample_data" / "accounts.csv"
DEFAULT = ROOT / "sample_data" / "default_profile.json"


def read_csv(data: bytes) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_score_page_share_page_and_cli_give_the_same_columns(data_root, media, tmp_path, capsys):
    file_columns = list(pd.read_csv(ACCOUNTS, nrows=0).columns)
    cli_schema = file_columns + list(ICP_COLUMNS)
    # the app's sample has its activity and contacts joined (issue 17): those columns follow the file's,
    # and the default profile's engagement adds ICP Engagement, its level and ICP Action before the version
    joined = [c["header"] for c in DatasetStore(data_root, SAMPLE_WORKSPACE).list_datasets()[0][0]["columns"]
              if c.get("source") == "accounts" and c["header"] not in file_columns]
    assert any(h.startswith("Last Activity") for h in joined) and any(h.startswith("Decision Maker") for h in joined)
    schema = file_columns + joined + list(ICP_COLUMNS[:-1]) + list(EXPORT_COLUMNS) + [ICP_COLUMNS[-1]]

    at = open_app("pages/score.py", timeout=300)
    score_page = download(at, media, "Download all")
    at.switch_page("pages/share.py").run()
    assert not at.exception, at.exception
    share_page = download(at, media, "Download 3,000 scored accounts")
    assert list(read_csv(score_page).columns) == schema
    assert score_page == share_page  # one function, one profile: the same file

    at.radio(key="share.format").set_value("xlsx").run()
    xlsx = pd.read_excel(io.BytesIO(download(at, media, "Download 3,000 scored accounts")), dtype=str)
    assert list(xlsx.columns) == schema

    app = read_csv(score_page)
    for fmt in ("csv", "xlsx", "parquet"):
        out = tmp_path / f"scored.{fmt}"
        assert main(["--data-dir", str(tmp_path / "d"), "score", str(ACCOUNTS), "--profile", str(DEFAULT),
                     "--out", str(out)]) == 0, capsys.readouterr().err
        cli = (read_csv(out.read_bytes()) if fmt == "csv" else pd.read_excel(out, dtype=str, keep_default_na=False)
               if fmt == "xlsx" else pd.read_parquet(out))
        assert list(cli.columns) == cli_schema, fmt
        assert cli["Account ID"].tolist() == app["Account ID"].tolist()  # file order, every account
    cli = read_csv((tmp_path / "scored.csv").read_bytes())
    for col in ("ICP Score", "ICP Tier", "ICP Reasons", "ICP Flags", "ICP Next Step"):
        assert cli[col].tolist() == app[col].tolist(), col
