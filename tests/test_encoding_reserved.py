"""Issue 13 (7) one bad byte must not garble a UTF-8 file; (8) the roll-up's derived column names
never collide with the user's headers."""

import numpy as np

from icp_core.dataset import AccountMatrix
from icp_core.ingest import ingest_dataset
from icp_core.outcomes import Outcome, outcome_weights
from icp_core.roles import ColumnSpec
from icp_core.store import read_accounts

# --- (7) encodings --------------------------------------------------------------------------


def test_one_bad_byte_in_100000_utf8_rows_keeps_utf8_and_reports_the_line(store, tmp_path):
    rows = [f"C{i},Zürich\n".encode("utf-8") for i in range(100_000)]
    rows[50_000] = b"Bad,Montr\xe9al\n"  # one cp1252 byte; the file's line 50,002 (header is line 1)
    path = tmp_path / "zurich.csv"
    path.write_bytes(b"Company,City\n" + b"".join(rows))
    meta = ingest_dataset(store, path).meta
    q = meta["quality"]
    assert q["rows_loaded"] == 100_000
    df = read_accounts(store, meta["id"])
    city = df["city"] if "city" in df else df[next(c for c in df.columns if c.startswith("city"))]
    assert (city.drop(index=50_000) == "Zürich").all()
    assert city[50_000] == "Montr\ufffdal"
    assert q["encoding"]["name"] == "utf-8" and q["source"]["encoding"] == "utf-8"
    assert q["encoding"]["lines_with_invalid_bytes"] == 1
    assert q["encoding"]["examples"] == [50_002]
    assert any("50002" in n and "UTF-8" in n for n in q["source"]["notes"])


def test_a_legacy_file_with_one_non_ascii_byte_stays_legacy(store, tmp_path):
    # like real_india_startup_funding_deals.csv: ASCII but one cp1252 right quote (0x92)
    path = tmp_path / "india.csv"
    path.write_bytes(b"Company,City\nBYJU\x92S,Bengaluru\n" + b"".join(b"C%d,Delhi\n" % i for i in range(2000)))
    meta = ingest_dataset(store, path).meta
    assert meta["quality"]["encoding"]["name"] == "cp1252"
    assert meta["quality"]["encoding"]["lines_in_other_encoding"] == 0
    assert read_accounts(store, meta["id"])["company"][0] == "BYJU\u2019S"


def test_mostly_legacy_file_reports_its_utf8_lines(store, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("Company,City\nAcme,Zürich\n".encode("utf-8")
                     + "".join(f"B{i},Montréal\n" for i in range(5)).encode("cp1252"))
    q = ingest_dataset(store, path).meta["quality"]
    assert q["encoding"]["name"] == "cp1252"
    assert q["encoding"]["lines_in_other_encoding"] == 1 and q["encoding"]["examples"] == [2]


# --- (8) reserved names ---------------------------------------------------------------------


def test_user_columns_named_like_the_rollup_do_not_take_it_over(store, tmp_path):
    acc = tmp_path / "acc.csv"
    acc.write_text("Account Name,Industry,opp_outcome,opp_won_count\n"
                   "Acme,SaaS,lost,0\nBeta,Retail,won,7\nGamma,Retail,won,9\n")
    opp = tmp_path / "opp.csv"
    opp.write_text("Account,Stage,Amount\nAcme,Won,100\nAcme,Won,50\nAcme,Lost,10\nBeta,Lost,50\n"
                   "Gamma,Open,5\n")
    meta = ingest_dataset(store, acc, opp).meta
    df = read_accounts(store, meta["id"], with_raw=True).set_index("account_name")
    # the roll-up is read from the derived columns ...
    assert df.loc["Acme", "opp_won_count"] == 2 and df.loc["Beta", "opp_won_count"] == 0
    assert list(df["opp_outcome"]) == ["won", "lost", "open"]
    assert not any(c.startswith(("opp_outcome_", "opp_won_count_")) and c.endswith(("_1", "_2"))
                   for c in df.columns)
    # ... and the user's columns are kept, under their header, with a note
    specs = [ColumnSpec.from_dict(d) for d in meta["columns"]]
    user = {s.header: s for s in specs if s.source == "accounts"}
    assert {"opp_outcome", "opp_won_count"} <= set(user)
    assert user["opp_outcome"].key not in ("opp_outcome",)
    assert list(df[user["opp_outcome"].key + "__raw"]) == ["lost", "won", "won"]
    assert list(df[user["opp_won_count"].key + "__raw"]) == ["0", "7", "9"]
    derived = [s for s in specs if s.key in ("opp_outcome", "opp_won_count")]
    assert len(derived) == 2 and all(s.source == "opportunities" for s in derived)
    assert any("opp_outcome" in n and "reserved" in n for n in meta["quality"]["source"]["notes"])
    # win rates come from the opportunities
    am = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
    assert am.outcome_specs["won"].source == "opportunities"
    y, w = outcome_weights(am, Outcome("won"))
    assert np.allclose(y[:2], [2 / 3, 0.0]) and list(w) == [3, 1, 0]
