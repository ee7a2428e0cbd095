"""Issue 16, item 2 on the Clusters page (AppTest): the one-step-away list of lookalikes of the
best customers, its similarity threshold, the similarity's AUC beside the ICP score's, and an
exemplar list that matches no account."""

import pytest

from tests.conftest import open_app


@pytest.fixture
def app(data_root):
    from ui.cached import cluster_results, lookalike_results

    at = open_app(timeout=240)
    at.switch_page("pages/clusters.py").run()
    assert not at.exception, at.exception
    yield at
    # the stores are shared by every session of the process, and every test's data directory holds
    # the same sample dataset: leave none of this test's clusterings for the next test to find
    cluster_results.clear()
    lookalike_results.clear()


def one_step(at):
    return next((d.value for d in at.dataframe if "Closest exemplar" in d.value.columns), None)


def test_one_step_away_list_and_threshold(app):
    at = app
    line = next(c.value for c in at.caption if c.value.startswith("100 exemplars · "))
    assert "one step away" in line and "similarity alone 0." in line and "ICP score 0." in line
    near = one_step(at)
    assert near is not None and len(near) > 0
    assert (near["similarity"] >= 80).all() and set(near["Tier"]) <= {"C", "D"}
    assert near["missing"].str.len().gt(0).all()  # a C or D account misses some positive trait
    at.slider(key="clusters.lk_min").set_value(60).run()
    assert not at.exception
    wider = one_step(at)
    assert len(wider) > len(near) and (wider["similarity"] >= 60).all()


def test_named_exemplars_that_match_nothing_say_so(app):
    at = app
    at.radio(key="clusters.lk_source").set_value("Accounts I name").run()
    at.text_area(key="clusters.lk_names").input("No Such Company\nNor This One").run()
    assert not at.exception
    assert any("none of the 2 exemplar names or ids matches" in i.value for i in at.info)
    assert one_step(at) is None
    at.radio(key="clusters.lk_source").set_value("A list I upload").run()  # waits for the file
    assert not at.exception and one_step(at) is None


def test_evidence_reports_the_similarity_auc_and_the_share_export_carries_it(media, data_root):
    """The Evidence page reports the similarity's held-out AUC beside the ICP score's (made on request
    there); the Share page's CRM export carries ICP Similarity and ICP Closest Exemplar when asked."""
    import csv
    import io

    from tests.conftest import download
    from ui.cached import cluster_results, lookalike_results

    cluster_results.clear()
    lookalike_results.clear()
    at = open_app(timeout=240)
    at.switch_page("pages/evidence.py").run()
    assert not at.exception, at.exception
    assert not [c for c in at.caption if c.value.startswith("Lookalike similarity to the")]  # not made yet
    at.button(key="evidence.lookalikes").click().run()
    line = next(c.value for c in at.caption if c.value.startswith("Lookalike similarity to the 100 won customers"))
    assert "held-out AUC **0." in line and "ICP score's **0." in line
    at.switch_page("pages/share.py").run()
    at.checkbox(key="share.similarity").check().run()
    assert not at.exception, at.exception
    rows = list(csv.reader(io.StringIO(download(at, media, "Download 3,000 scored accounts").decode("utf-8-sig"),
                                       newline="")))
    assert rows[0][-3:] == ["ICP Similarity", "ICP Closest Exemplar", "ICP Profile Version"]
    assert len(rows) == 3001 and all(0 <= float(r[-3]) <= 100 for r in rows[1:])
    lookalike_results.clear()
