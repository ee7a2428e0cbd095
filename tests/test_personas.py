"""Issue 17, item 3: the title classifier, the contacts join (committee coverage columns usable as
traits), persona fit, the contacts export, and bad contacts files refused without a change."""

import numpy as np
import pandas as pd
import pytest

from icp_core.dataset import AccountMatrix
from icp_core.ingest import IngestError, ingest_dataset
from icp_core.personas import (
    CommitteeRole,
    Personas,
    PersonaTrait,
    add_contacts,
    best_contacts,
    classify_titles,
    contacts_export,
    has_contacts,
    personas_from_dict,
    preview_contacts,
)
from icp_core.profile import ProfileError, TierRule, Trait
from icp_core.roles import ColumnSpec
from icp_core.scoring import score_accounts
from icp_core.store import DatasetStore, new_token

TITLES = [  # (title, seniority, department): real-looking titles in four languages
    ("VP, Finance", "VP", "Finance"),
    ("Head of RevOps", "Director", "Revenue operations"),
    ("CTO", "C-level", "Engineering"),
    ("Directeur Commercial", "Director", "Sales"),
    ("Sr. Data Engineer", "Senior", "Data"),
    ("Vice President of Sales", "VP", "Sales"),
    ("Managing Director", "C-level", "General management"),
    ("Chief Financial Officer", "C-level", "Finance"),
    ("Leiter Vertrieb", "Director", "Sales"),
    ("Jefe de Ventas", "Director", "Sales"),
    ("Account Executive", "Individual contributor", "Sales"),
    ("Customer Success Manager", "Manager", "Customer success"),
    ("IT Manager", "Manager", "IT"),
    ("Marketing Specialist", "Individual contributor", "Marketing"),
    ("Directrice Financière", "Director", "Finance"),
    ("Founder & CEO", "C-level", "General management"),
    ("Lead Developer", "Senior", "Engineering"),
    ("HR Business Partner", "C-level", "HR"),
    ("", "Unknown", "Other"),
]


def test_title_classifier_on_real_looking_titles():
    got = classify_titles([t for t, *_ in TITLES])
    for (title, seniority, department), row in zip(TITLES, got.itertuples(), strict=True):
        assert (row.seniority, row.department) == (seniority, department), title


def test_a_correction_wins_over_the_rules():
    got = classify_titles(["HR Business Partner", "hr business partner!"],
                          corrections={"HR Business Partner": ["Senior", "HR"]})
    assert got["seniority"].tolist() == ["Senior", "Senior"]  # folded: case and punctuation do not matter


@pytest.fixture
def small(tmp_path):
    d = tmp_path
    pd.DataFrame({"Account Name": ["Acme", "Bolt", "Cora"], "Website": ["acme.com", "https://www.bolt.io", "cora.de"],
                  "Industry": ["SaaS", "SaaS", "Retail"]}).to_csv(d / "a.csv", index=False)
    store = DatasetStore(d / "data", new_token())
    meta = ingest_dataset(store, d / "a.csv").meta
    return store, meta["id"]


def contacts_file(path, rows):
    pd.DataFrame(rows, columns=["Name", "Title", "Email"]).to_csv(path, index=False)
    return path


def test_coverage_with_and_without_matching_contacts(small, tmp_path):
    store, did = small
    f = contacts_file(tmp_path / "c.csv", [
        ("Ann", "CFO", "ann@acme.com"), ("Bob", "Director of Sales", "bob@acme.com"), ("Cy", "Engineer", "cy@acme.com"),
        ("Di", "Sales Manager", "di@bolt.io"), ("Ed", "VP Marketing", "ed@gmail.com")])
    pv = preview_contacts(store, did, f)
    assert (pv.rows, pv.matched, pv.accounts_matched) == (5, 4, 2)
    rep = add_contacts(store, did, f)
    assert rep["matched"] == 4 and has_contacts(store, did)
    meta = store.read_meta(did)
    specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
    am = AccountMatrix(lambda: store.open_dataset(did), specs)
    col = {s.header.split(" (")[0]: am.column_array(s) for s in specs if "(committee)" in s.header}
    assert col["Contacts"].tolist() == [3, 1, 0]  # Cora has no contact: 0, not blank
    assert col["Decision Maker Contacts"].tolist() == [1, 0, 0]
    assert col["Champion Contacts"].tolist() == [1, 1, 0]
    assert col["User Contacts"].tolist() == [1, 0, 0]
    assert col["Committee Roles Covered"].tolist() == [3, 1, 0]
    # coverage is a trait like any other: "has a decision maker"
    dm = next(s for s in specs if s.header.startswith("Decision Maker Contacts"))
    t = Trait("Has a decision maker", "range", column=dm.header, min=1, weight=5)
    result = score_accounts(am.matches([(t, dm)]), [t], TierRule())
    assert result.score.tolist() == [100.0, 0.0, 0.0]
    # persona fit and the best contact per account; the contacts export carries the account's tier
    p = Personas([PersonaTrait("seniority", ["C-level", "VP"], 5), PersonaTrait("department", ["Sales"], 3)])
    best = best_contacts(store, did, p)
    assert best["best_contact"].tolist() == ["Ann", "Di"]
    assert best["best_fit"].tolist() == [pytest.approx(62.5), pytest.approx(37.5)]
    out = contacts_export(store, did, p, np.array(["A", "B", "C"], dtype=object), np.array(["Acme", "Bolt", "Cora"]))
    assert len(out) == 4 and set(out["Account"]) == {"Acme", "Bolt"}
    assert out.loc[out["Contact"] == "Di", "ICP Tier"].item() == "B"
    with pytest.raises(IngestError, match="already joined"):
        add_contacts(store, did, f)


def test_bad_contacts_files_are_refused_and_change_nothing(small, tmp_path):
    store, did = small
    before = (store.db_path(did).read_bytes(), store.read_meta(did))
    nomatch = contacts_file(tmp_path / "n.csv", [("Ann", "CFO", "ann@elsewhere.com"), ("Bo", "CTO", "bo@nowhere.org")])
    with pytest.raises(IngestError, match="none of the 2 contacts"):
        add_contacts(store, did, nomatch)
    blank = contacts_file(tmp_path / "b.csv", [("Ann", "", "ann@acme.com"), ("Bo", "  ", "bo@bolt.io")])
    with pytest.raises(IngestError, match="no text in any row"):
        add_contacts(store, did, blank)
    with pytest.raises(IngestError, match="committee role"):
        add_contacts(store, did, contacts_file(tmp_path / "ok.csv", [("Ann", "CFO", "ann@acme.com")]),
                     roles=[CommitteeRole("Empty")])
    assert (store.db_path(did).read_bytes(), store.read_meta(did)) == before
    assert not has_contacts(store, did)


@pytest.mark.parametrize("bad, message", [
    ({"traits": [{"field": "salary", "values": ["x"]}]}, "field"),
    ({"traits": [{"field": "seniority", "values": ["Boss"]}]}, "seniority must be one of"),
    ({"traits": [{"field": "title", "values": ["cfo"], "weight": 7}]}, "weight"),
    ({"other": 1}, "personas"),
])
def test_bad_persona_sections_are_refused(bad, message):
    with pytest.raises(ProfileError, match=message):
        personas_from_dict(bad)
