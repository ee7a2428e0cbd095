"""The quality report's "Worth a look" hints and duplicate counts on realistic exports.

Typo hints only pair values of a low-cardinality category column where the rarer one is clearly
rare: names of people and places, high-cardinality columns and two common values a letter apart
are real, different values. Industry words suggest only values the file itself uses.
"""

import inspect

import pytest

import icp_core.quality as quality
from icp_core.ingest import ingest_dataset


def write_csv(tmp_path, name, header, rows):
    path = tmp_path / name
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(store, path):
    """Ingest as an accounts file (one row per account): the file's shape is not guessed where
    the ingest lets the caller say so, so repeated ids stay repeated."""
    kwargs = {"shape": "accounts"} if "shape" in inspect.signature(ingest_dataset).parameters else {}
    return ingest_dataset(store, path, **kwargs).meta


def typo_hints(meta):
    return [h for h in meta["quality"]["hints"] if h["kind"] == "typo"]


def spread(counts: dict[str, int], n: int) -> list[str]:
    """`n` values with the given counts (values repeated), the rest cycling over the keys."""
    out = [v for v, c in counts.items() for _ in range(c)]
    assert len(out) == n
    return out


def test_names_and_cities_are_not_typos(store, tmp_path):
    n = 80
    contact = spread({"Maria": 50, "Marta": 3, "Elena": 27}, n)
    last = spread({"Hernandez": 60, "Fernandez": 2, "Garcia": 18}, n)
    city = spread({"Wellington": 45, "Wilmington": 3, "Hangzhou": 30, "Guangzhou": 2}, n)
    owner = spread({"Jonathan Smith": 70, "Jonathon Smith": 1, "Ann Lee": 9}, n)
    # no telling header, but nearly one value per row: free names, not a category
    signer = [f"Person {chr(65 + i % 26)}{chr(65 + i // 26)}x" for i in range(n - 4)] + \
             ["Christopher Robin"] * 3 + ["Christofer Robin"]
    # two common values one letter apart are both real
    warehouse = spread({"Boston": 40, "Bolton": 20, "Denver": 20}, n)
    # grades and codes a letter apart are different values, however rare
    funding = spread({"Series B": 70, "Series A": 3, "Seed": 7}, n)
    rows = [(f"A{i:03d}", f"Company {i}", contact[i], last[i], city[i], owner[i], signer[i], warehouse[i],
             funding[i], 10 + i) for i in range(n)]
    meta = ingest(store, write_csv(tmp_path, "people.csv", [
        "Account ID", "Company Name", "Contact First Name", "Last Name", "City", "Account Owner",
        "Signed by", "Warehouse", "Funding Stage", "Employees"], rows))
    roles = {c["header"]: c["role"] for c in meta["columns"]}
    assert roles["Warehouse"] == "category"  # checked, and its two common values are both real
    flagged = {(h["column"], h["value"]) for h in typo_hints(meta)}
    assert flagged == set(), flagged


def test_a_rare_misspelling_of_a_common_category_is_flagged(store, tmp_path):
    n = 200
    industry = spread({"Technology": 120, "Technolgy": 3, "Semiconductor": 40, "Software": 37}, n)
    office = spread({"New York": 100, "NEW YORK": 2, "London": 98}, n)
    city = spread({"Wellington": 150, "Wilmington": 50}, n)
    rows = [(f"A{i:03d}", f"Company {i}", industry[i], office[i], city[i]) for i in range(n)]
    meta = ingest(store, write_csv(tmp_path, "industry.csv",
                                   ["Account ID", "Company Name", "Industry", "Sales Office", "City"], rows))
    hints = {(h["column"], h["value"]): (h["suggestion"], h["rows"], h["suggestion_rows"]) for h in typo_hints(meta)}
    assert hints == {
        ("Industry", "technolgy"): ("technology", 3, 120),
        ("Sales Office", "NEW YORK"): ("New York", 2, 100),
    }


def test_a_valid_industry_word_is_not_a_misspelling(store, tmp_path):
    n = 60
    industry = spread({"Semiconductor": 20, "Software": 15, "Retail": 10, "Logistic": 8, "Telecoms": 7}, n)
    rows = [(f"A{i:03d}", f"Company {i}", industry[i]) for i in range(n)]
    meta = ingest(store, write_csv(tmp_path, "semi.csv", ["Account ID", "Company Name", "Industry"], rows))
    # singular or plural of a known word ('semiconductors', 'logistics', 'telecom') is a valid word
    assert typo_hints(meta) == []


def test_industry_words_suggest_the_files_own_spelling(store, tmp_path):
    rows = [("A1", "Acme", "Fintech"), ("A2", "Beta", "fintech"), ("A3", "Gamma", "Fintec"),
            ("A4", "Delta", "Retail"), ("A5", "Eps", "Retail"), ("A6", "Zeta", "Healthcare"),
            ("A7", "Eta", "Agricultre"), ("A8", "Theta", "Semiconductor")]
    meta = ingest(store, write_csv(tmp_path, "fin.csv", ["Account ID", "Company Name", "Industry"], rows))
    hints = typo_hints(meta)
    # 'fintech' is in the file (2 rows); 'agriculture' is not, so the known word is named without rows
    assert sorted((h["value"], h["suggestion"], h["suggestion_rows"]) for h in hints) == [
        ("agricultre", "agriculture", None), ("fintec", "fintech", 2)]


def test_duplicate_account_ids_and_names_are_counted(store, tmp_path):
    rows = [(f"C{i:03d}", f"Company {i}", "Software") for i in range(40)]
    rows += [("C001", "Company 1", "Software")] * 13  # C001: 14 rows
    rows += [("C002", "Other 2", "Retail")] * 2  # C002: 3 rows
    rows += [("C003", "Company 1", "Retail")]  # C003: 2 rows; 'Company 1' now 15 rows
    meta = ingest(store, write_csv(tmp_path, "dups.csv", ["Account ID", "Company Name", "Industry"], rows))
    dups = {d["role"]: d for d in meta["quality"]["duplicates"]}
    ids = dups["account_id"]
    assert (ids["column"], ids["key"]) == ("Account ID", "account_id")
    assert ids["duplicated_values"] == 3 and ids["extra_rows"] == 13 + 2 + 1
    assert ids["examples"] == [{"value": "C001", "rows": 14}, {"value": "C002", "rows": 3},
                               {"value": "C003", "rows": 2}]
    assert ids["message"] == "Account ID: 3 values appear more than once (16 extra rows), e.g. 'C001' (14 rows)"
    names = dups["account_name"]
    assert names["duplicated_values"] == 2 and names["extra_rows"] == 14 + 1
    assert names["examples"] == [{"value": "Company 1", "rows": 15}, {"value": "Other 2", "rows": 2}]
    assert names["message"] == "Company Name: 2 values appear more than once (15 extra rows), e.g. 'Company 1' (15 rows)"


def test_no_duplicates_is_an_empty_list(store, tmp_path):
    rows = [(f"C{i:03d}", f"Company {i}", "Software") for i in range(10)]
    meta = ingest(store, write_csv(tmp_path, "unique.csv", ["Account ID", "Company Name", "Industry"], rows))
    assert meta["quality"]["duplicates"] == []


class RecordingConnection:
    """A DuckDB connection that records every statement it runs."""

    def __init__(self, con):
        self._con = con
        self.statements: list[str] = []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_no_value_pairing_in_a_column_of_too_many_values(store, tmp_path, monkeypatch):
    """Speed guard without timing: a column over the limit of distinct values is counted, never paired."""
    limit = getattr(quality, "MAX_TYPO_VALUES", 300)
    distinct = limit + 100
    rows = [(f"A{i:05d}", f"Company {i}", f"Segment {i % distinct:04d}", ["Retail", "Software"][i % 2])
            for i in range(distinct * 6)]
    rows += [("B1", "Extra", "Segmant 0001", "Retail")]  # a near-twin the old check would pair
    real = quality.assess_quality
    seen = {}

    def recording(con, specs, *args, **kwargs):
        rec = RecordingConnection(con)
        dictionaries = inspect.signature(real).bind(con, specs, *args, **kwargs).arguments.get("dictionaries") or {}
        seen["dictionaries"], seen["specs"] = dictionaries, specs
        out = real(rec, specs, *args, **kwargs)
        seen["statements"] = rec.statements
        return out

    monkeypatch.setattr(quality, "assess_quality", recording)
    meta = ingest(store, write_csv(tmp_path, "wide.csv", ["Account ID", "Company Name", "Segment", "Industry"], rows))
    segment = next(s for s in seen["specs"] if s.header == "Segment")
    assert segment.role == "category" and segment.key in seen["dictionaries"]
    table = seen["dictionaries"][segment.key]
    pairing = [q for q in seen["statements"] if table in q and "levenshtein" in q.lower()]
    assert pairing == []
    industry = next(s for s in seen["specs"] if s.header == "Industry")  # a small column is still checked
    assert any(seen["dictionaries"][industry.key] in q and "levenshtein" in q.lower() for q in seen["statements"])
    assert not [h for h in meta["quality"]["hints"] if h["column"] == "Segment"]


@pytest.mark.parametrize("header, checked", [
    ("City", False), ("Ville", False), ("Stadt", False), ("Contact Name", False), ("First Name", False),
    ("Account Owner", False), ("Town", False), ("Plan", True), ("Sales Office", True), ("Product Line", True),
])
def test_person_and_place_headers(header, checked):
    from icp_core.roles import ColumnSpec

    spec = ColumnSpec(key="c", header=header, role="category")
    assert quality.typo_check_applies(spec, distinct=10, rows=1000) is checked
    assert quality.typo_check_applies(spec, distinct=quality.MAX_TYPO_VALUES + 1, rows=10**6) is False
    assert quality.typo_check_applies(spec, distinct=250, rows=500) is False  # many values per row
