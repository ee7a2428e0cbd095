"""Cached resources shared by the pages, defined once (not re-decorated on every rerun).

Caches wrap pure icp_core functions and never read widgets. What they return is shared by
every session (threads) and never changed in place: callers copy it (cluster_profile) or build new
objects around it (the chart specs get their data per rerun in a new dict). `account_matrix` holds
one dataset's accounts for scoring (shared, not copied per rerun; its own cache is locked); the one
mutable store, `cluster_results`, is a SharedLRU that locks every access.
"""

import threading
from collections import OrderedDict

import altair as alt
import streamlit as st

from icp_core.dataset import AccountMatrix
from icp_core.formatting import SHORT_TIER_NAMES, TIER_COLORS, VEGA_COUNT_LABEL, VEGA_MONEY_LABEL
from icp_core.outcomes import Outcome
from icp_core.reference import reference_auc
from icp_core.roles import ColumnSpec
from icp_core.scoring import TIER_LABELS
from icp_core.store import DatasetStore
from icp_core.suggest import Suggestion, suggest_traits


@st.cache_resource(max_entries=8, show_spinner="Reading accounts…")
def account_matrix(root: str, ws: str, dataset_id: str, stamp: int) -> AccountMatrix:
    """One dataset in memory for scoring, shared by sessions; `stamp` changes when it is re-mapped."""
    store = DatasetStore(root, ws)
    specs = [ColumnSpec.from_dict(c) for c in store.read_meta(dataset_id)["columns"]]
    return AccountMatrix(lambda: store.open_dataset(dataset_id), specs)


@st.cache_resource
def histogram_spec() -> dict:
    """The score histogram as a Vega-Lite spec (built once with Altair; data goes in per rerun)."""
    colour = alt.Scale(domain=list(TIER_LABELS), range=[TIER_COLORS[t] for t in TIER_LABELS])
    bars = alt.Chart(alt.NamedData("hist")).mark_bar().encode(
        x=alt.X("bin_start:Q", title="ICP score", scale=alt.Scale(domain=[0, 104], nice=False)),
        x2="bin_end:Q",
        y=alt.Y("sum(accounts):Q", title="Accounts", stack=True, axis=alt.Axis(labelExpr=VEGA_COUNT_LABEL)),
        color=alt.Color("tier:N", scale=colour, legend=None),  # the tier cards above carry the colours
        tooltip=["tier:N", "bin_start:Q", "bin_end:Q", "sum(accounts):Q"],
    )
    rule = alt.Chart(alt.NamedData("lines")).mark_rule(strokeDash=[6, 4], color="#333", size=2).encode(x="line:Q")
    # each line's label on its own row (ypix: pixels from the top), so close lines never overprint
    text = alt.Chart(alt.NamedData("lines")).mark_text(align="left", dx=4, fontSize=13, fontWeight="bold").encode(
        x="line:Q", y=alt.Y("ypix:Q", scale=None), text="label:N")
    return (alt.layer(bars, rule, text).properties(height=235, title="Score distribution by tier")
            .configure_axis(labelFontSize=14, titleFontSize=14).configure_title(fontSize=16).to_dict())


# the narrow tier names, each word on its own line ("No" / "data"): six bands of a narrow chart fit
SHORT_TIER_LABEL_EXPR = " : ".join(
    f"datum.value == '{k}' ? [{', '.join(repr(w) for w in v.split())}]" for k, v in SHORT_TIER_NAMES.items()
) + " : datum.value"


@st.cache_resource
def tier_bar_spec(measure: str, field: str) -> dict:
    """One measure (win rate, ARR, churn, accounts) per tier as a Vega-Lite spec built with Altair."""
    colour = alt.Scale(domain=list(TIER_LABELS), range=[TIER_COLORS[t] for t in TIER_LABELS])
    axis = (alt.Axis(format=".0%") if field in ("win_rate", "churn_rate") else
            alt.Axis(labelExpr=VEGA_MONEY_LABEL) if field == "arr" else alt.Axis(labelExpr=VEGA_COUNT_LABEL))
    bar = alt.Chart(alt.NamedData("tiers")).mark_bar().encode(
        x=alt.X("tier:N", sort=list(TIER_LABELS), title=None,
                  axis=alt.Axis(labelAngle=0, labelOverlap=False, labelExpr=SHORT_TIER_LABEL_EXPR)),
        y=alt.Y(f"{field}:Q", title=measure, axis=axis),
        color=alt.Color("tier:N", scale=colour, legend=None),
        tooltip=["tier:N", alt.Tooltip("label:N", title=measure), "accounts:Q"],
    )
    # bar labels come formatted by the page (icp_core.formatting), like every other number on screen
    labels = bar.mark_text(dy=-8, fontSize=13, fontWeight="bold").encode(text="label:N")
    return (bar + labels).properties(height=190).configure_axis(labelFontSize=13, titleFontSize=13).to_dict()




@st.cache_resource
def matrix_spec() -> dict:
    """The fit × engagement grid as a Vega-Lite spec built once with Altair (rows per rerun go in as
    dataset "cells": row, col, cell, accounts, text, dark, action); a click selects a cell (param "cell")."""
    from icp_core.engagement import LEVELS

    pick = alt.selection_point(fields=["cell"], name="cell")
    base = alt.Chart(alt.NamedData("cells")).encode(
        x=alt.X("col:N", sort=list(LEVELS), title="Engagement", axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("row:N", sort=list(TIER_LABELS), title="Fit tier"))
    rect = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("accounts:Q", scale=alt.Scale(scheme="blues"), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=[alt.Tooltip("cell:N", title="Cell"), alt.Tooltip("action:N", title="Action")]).add_params(pick)
    label = base.mark_text(lineBreak="\n", fontSize=12).encode(
        text="text:N", color=alt.condition("datum.dark", alt.value("white"), alt.value("#1a1a1a")))
    return (rect + label).properties(height=330).to_dict()


@st.cache_resource(max_entries=32, show_spinner=False)
def leak_flags_cached(root: str, ws: str, dataset_id: str, stamp: int, outcome: Outcome) -> dict:
    """Leakage flags of one dataset's columns for one outcome (icp_core.leakage), computed once."""
    from icp_core.leakage import flag_columns

    return flag_columns(account_matrix(root, ws, dataset_id, stamp), outcome)


@st.cache_resource(max_entries=32, show_spinner=False)
def suggestion_cached(root: str, ws: str, dataset_id: str, stamp: int, outcome: Outcome, max_traits: int,
                      allow: frozenset[str] = frozenset()) -> Suggestion:
    """Data-suggested traits for one dataset and outcome (shared, computed once); `allow`: flagged
    columns the user included anyway."""
    return suggest_traits(account_matrix(root, ws, dataset_id, stamp), outcome, max_traits, allow=allow)


@st.cache_resource(max_entries=32, show_spinner=False)
def reference_auc_cached(root: str, ws: str, dataset_id: str, stamp: int, outcome: Outcome) -> float:
    """Cross-validated AUC of the gradient-boosting reference for one dataset and outcome."""
    return reference_auc(account_matrix(root, ws, dataset_id, stamp), outcome)


class SharedLRU:
    """A small bounded LRU map shared by every session (threads): each get, put and lookup holds a
    lock, so a session evicting entries never changes the map under another one iterating it."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()

    def get(self, key, default=None):
        """The value under `key` (now the most recently used), or `default`."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        """Keep `value` under `key`, evicting the least recently used entries beyond max_entries."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def find(self, prefix: tuple, default=None):
        """The most recently used value whose key (a tuple) starts with `prefix`, or `default`."""
        with self._lock:
            for key in reversed(self._items):
                if key[:len(prefix)] == prefix:
                    return self._items[key]
        return default

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


MAX_CLUSTERINGS = 12


@st.cache_resource(max_entries=1, show_spinner=False)
def cluster_results() -> SharedLRU:
    """Shared store of computed clusterings: {(dataset ws, id, stamp, columns, k): Clustering}, the
    MAX_CLUSTERINGS most recently used. Kept outside st.cache_* keys so the page can show progress
    while computing."""
    return SharedLRU(MAX_CLUSTERINGS)


@st.cache_data(max_entries=8, show_spinner="Matching the file to the accounts…")
def source_preview(root: str, ws: str, dataset_id: str, stamp: int, file_id: str, enrich: bool, _path: str):
    """preview_source for one uploaded file (by its upload id) on one state of a dataset (`stamp`
    changes when the dataset does): editing an aggregate reruns the page, not the preview."""
    from pathlib import Path

    from icp_core.sources import preview_source

    return preview_source(DatasetStore(root, ws), dataset_id, Path(_path), enrich=enrich)


@st.cache_resource(max_entries=16, show_spinner=False)
def cluster_profile(key: tuple, _accounts, _clustering, _columns):
    """profile_clusters for one clustering (`key` names it: dataset, columns, k), without the
    score-dependent share in tiers A+B, which the page adds per rerun (segments.share_in_ab).
    Shared: callers copy before changing it."""
    from icp_core.segments import profile_clusters

    return profile_clusters(_accounts, _clustering, _columns)


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def upload_preview(file_id: str, name: str, encoding: str | None, sheet: str | None, header_row: int | None,
                   shape: str | None, key: str | None, _upload):
    """preview_upload for one uploaded file (by its upload id) and one set of choices; the bytes
    (`_upload`, not hashed) are written to a private temp file only when not cached."""
    import tempfile
    from pathlib import Path

    from icp_core.ingest import preview_upload
    from icp_core.readers import ReadOptions

    with tempfile.TemporaryDirectory(prefix="icp_preview_upload_") as tmp:
        path = Path(tmp) / ("upload" + Path(name).suffix.lower())
        path.write_bytes(_upload.getbuffer())
        return preview_upload(path, ReadOptions(encoding=encoding, sheet=sheet, header_row=header_row),
                              shape=shape, key=key, display_name=name)


@st.cache_resource(max_entries=1, show_spinner=False)
def lookalike_results() -> SharedLRU:
    """Shared store of computed lookalikes: {(dataset ws, id, stamp, columns, exemplars): Lookalikes},
    the 8 most recently used (each holds three arrays per account)."""
    return SharedLRU(8)


def default_lookalikes(cur, accounts, cached_only: bool = False, progress=lambda fraction, message: None):
    """Lookalikes of the won customers with the highest ARR on the default clustering columns (the
    Clusters page's default), from the shared store when a page has made them already; None without
    customers to take exemplars from (or, cached_only, when not made yet)."""
    from icp_core.lookalike import LookalikeError, default_exemplars, find_lookalikes
    from icp_core.segments import default_cluster_columns

    try:
        exemplars = default_exemplars(accounts)
    except LookalikeError:
        return None
    cols = default_cluster_columns(accounts)
    key = (cur.dataset_ws, cur.dataset_id, cur.stamp, tuple(s.key for s in cols), tuple(exemplars.tolist()))
    lk = lookalike_results().get(key)
    if lk is None and not cached_only:
        lk = find_lookalikes(accounts, exemplars, cols, progress=progress)
        lookalike_results().put(key, lk)
    return lk
