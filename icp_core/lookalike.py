"""Lookalikes of the best customers (issue 16, item 2).

Some accounts are targets because they are "only one step away from existing customers even though
the ICP score doesn't pop". The user picks 10-500 **exemplars** (default: the won customers with the
highest ARR). Every account is placed on the same features as clustering (segments.feature_frame and
build_pipeline: scaled numbers, one-hot categories, technology flags; fitted on a sample) and its
distance to its nearest exemplars is found with scikit-learn's NearestNeighbors, whose index holds
only the exemplars, so a million accounts are queried in chunks.

    distance    = mean Euclidean distance to the k (default 5) nearest exemplars
    similarity  = 100 x the share of a fixed random sample of accounts (up to 20,000) that lie
                  farther from the exemplars than this account (100: closer than all; 50: median)

The closest exemplar's name comes with it. "One step away" lists accounts highly similar to the
exemplars (similarity >= 80 by default) that score C or D, with the values they share with their
closest exemplar and the positive traits they miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_EXEMPLARS, MAX_EXEMPLARS = 10, 500
DEFAULT_EXEMPLARS = 100
NEIGHBOURS = 5
REFERENCE_SAMPLE = 20_000
CHUNK = 200_000
SEED = 0


class LookalikeError(ValueError):
    """Exemplars that cannot be used (too few, too many, matching no account)."""


@dataclass
class Lookalikes:
    exemplars: np.ndarray  # (E,) account positions of the exemplars
    similarity: np.ndarray  # (n,) float 0..100
    distance: np.ndarray  # (n,) mean distance to the nearest exemplars
    closest: np.ndarray  # (n,) account position of each account's closest exemplar
    columns: list[str]  # the features' source columns


def default_exemplars(accounts, limit: int = DEFAULT_EXEMPLARS) -> np.ndarray:
    """The won customers (tam.known_customers) with the highest ARR, at most `limit`; all of them,
    in file order, when the data has no ARR. LookalikeError when fewer than MIN_EXEMPLARS."""
    from .tam import known_customers

    customers = known_customers(accounts)
    if customers is None:
        raise LookalikeError("this dataset says nothing about customers: pick the exemplars yourself")
    rows = np.flatnonzero(customers)
    if accounts.has["arr"]:
        arr = np.nan_to_num(accounts.arr[rows], nan=-np.inf)
        rows = rows[np.argsort(-arr, kind="stable")]
    rows = rows[:limit]
    check_exemplars(rows, accounts.n)
    return np.sort(rows)


def check_exemplars(rows: np.ndarray, n: int) -> np.ndarray:
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    if len(rows) < MIN_EXEMPLARS:
        raise LookalikeError(f"{len(rows)} exemplar account(s) found: lookalikes need at least {MIN_EXEMPLARS}")
    if len(rows) > MAX_EXEMPLARS:
        raise LookalikeError(f"{len(rows):,} exemplars: pick at most {MAX_EXEMPLARS} (e.g. the top ones by ARR)")
    if rows.min() < 0 or rows.max() >= n:
        raise LookalikeError("an exemplar is not an account of this dataset")
    return rows


def exemplar_lines(data: bytes) -> list[str]:
    """Ids or names from an uploaded list: the first column of each line (text or CSV; the encoding
    detected as for an accounts file, readers.detect_encoding; quotes removed), blank lines skipped."""
    import csv
    import io
    import tempfile
    from pathlib import Path

    from .readers import detect_encoding

    with tempfile.TemporaryDirectory(prefix="icp_exemplars_") as tmp:
        path = Path(tmp) / "list.txt"
        path.write_bytes(data)
        encoding = detect_encoding(path)
    text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    return [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]


def exemplars_from_names(accounts, names: list[str]) -> np.ndarray:
    """Account positions whose id or name equals one of `names` (case and outer spaces ignored);
    LookalikeError naming how many matched when too few do."""
    wanted = {str(x).strip().casefold() for x in names if str(x).strip()}
    if not wanted:
        raise LookalikeError("the exemplar list is empty")
    hit = np.zeros(accounts.n, dtype=bool)
    for s in accounts.specs:
        if s.role in ("account_id", "account_name"):
            codes, values = accounts.column_codes(s)
            # vectorised over the column's distinct values (an id or name column: one per account)
            keep = np.append(pd.Series(values, dtype="string").str.strip().str.casefold().isin(wanted).to_numpy(bool),
                             False)
            hit |= keep[np.where(codes >= 0, codes, len(values))]
    rows = np.flatnonzero(hit)
    if not len(rows):
        raise LookalikeError(f"none of the {len(wanted):,} exemplar names or ids matches an account of this dataset")
    return check_exemplars(rows, accounts.n)


def features(accounts, columns) -> np.ndarray:
    """The accounts on the clustering features (pipeline fitted on a seeded sample), float32."""
    from .segments import FIT_SAMPLE, build_pipeline, feature_frame

    frame, groups = feature_frame(accounts, columns)
    rng = np.random.default_rng(SEED)
    fit_rows = np.sort(rng.choice(len(frame), min(FIT_SAMPLE, len(frame)), replace=False))
    pre = build_pipeline(frame, groups).fit(frame.iloc[fit_rows])
    return np.vstack([np.asarray(pre.transform(frame.iloc[i:i + CHUNK]), dtype=np.float32)
                      for i in range(0, len(frame), CHUNK)])


def find_lookalikes(accounts, exemplars: np.ndarray, columns=None, k: int = NEIGHBOURS,
                    progress=lambda fraction, message: None) -> Lookalikes:
    """Similarity of every account to the exemplars (see the module docstring)."""
    from sklearn.neighbors import NearestNeighbors

    from .segments import default_cluster_columns

    exemplars = check_exemplars(exemplars, accounts.n)
    columns = columns or default_cluster_columns(accounts)
    if not columns:
        raise LookalikeError("no column to compare accounts on")
    progress(0.1, "Placing accounts on the clustering features")
    X = features(accounts, columns)
    k = min(k, len(exemplars))
    index = NearestNeighbors(n_neighbors=k).fit(X[exemplars])
    distance = np.empty(accounts.n, dtype=np.float64)
    closest = np.empty(accounts.n, dtype=np.int64)
    for start in range(0, accounts.n, CHUNK):
        d, idx = index.kneighbors(X[start:start + CHUNK])
        distance[start:start + CHUNK] = d.mean(axis=1)
        closest[start:start + CHUNK] = exemplars[idx[:, 0]]
        progress(0.2 + 0.7 * min(1.0, (start + CHUNK) / accounts.n), f"Compared {min(start + CHUNK, accounts.n):,} accounts")
    rng = np.random.default_rng(SEED)
    reference = np.sort(distance[rng.choice(accounts.n, min(REFERENCE_SAMPLE, accounts.n), replace=False)])
    # share of the reference strictly farther away (ties count half), so equal distances get equal similarity
    farther = len(reference) - np.searchsorted(reference, distance, side="right")
    ties = np.searchsorted(reference, distance, side="right") - np.searchsorted(reference, distance, side="left")
    similarity = 100.0 * (farther + 0.5 * ties) / len(reference)
    progress(1.0, "Done")
    return Lookalikes(exemplars, similarity, distance, closest, [s.header for s in columns])


def one_step_away(lk: Lookalikes, result, accounts, columns, min_similarity: float = 80.0,
                  limit: int = 50) -> pd.DataFrame:
    """Accounts at least `min_similarity` similar to the exemplars that score C or D (not the
    exemplars themselves), most similar first: account, similarity, tier, score, closest exemplar,
    shared (values equal to the closest exemplar's), missing (positive traits not matched)."""
    from .scoring import TIER_LABELS

    tier = result.pattern_tier[result.patterns.inv]
    is_exemplar = np.zeros(accounts.n, dtype=bool)
    is_exemplar[lk.exemplars] = True
    rows = np.flatnonzero((lk.similarity >= min_similarity) & np.isin(tier, (2, 3)) & ~is_exemplar)
    rows = rows[np.argsort(-lk.similarity[rows], kind="stable")][:limit]
    names = account_names(accounts)
    shared = _shared_values(accounts, columns, rows, lk.closest[rows])
    m = result.patterns.matrix[result.patterns.inv[rows]]
    positive = [i for i, t in enumerate(result.traits) if t.weight > 0]
    missing = [" · ".join(result.traits[i].label for i in positive if not m[j, i]) for j in range(len(rows))]
    return pd.DataFrame({"row": rows, "account": names[rows], "similarity": np.round(lk.similarity[rows], 1),
                         "tier": np.array(TIER_LABELS, dtype=object)[tier[rows]],
                         "score": np.round(result.pattern_score[result.patterns.inv[rows]], 1),
                         "closest exemplar": names[lk.closest[rows]], "shared": shared, "missing": missing})


def export_columns(lk: Lookalikes, accounts) -> dict:
    """The per-account columns a scored export carries (export.scored_export_bytes's `extra`)."""
    return {"ICP Similarity": np.round(lk.similarity, 1), "ICP Closest Exemplar": account_names(accounts)[lk.closest]}


def account_names(accounts) -> np.ndarray:
    """Each account's name (else id, else the first display column) as text."""
    display = accounts.display  # columns: row_id, then the display columns' headers
    spec = next((s for role in ("account_name", "account_id") for s in accounts.display_specs if s.role == role),
                accounts.display_specs[0] if accounts.display_specs else None)
    col = display[spec.header] if spec is not None else display["row_id"]
    return col.astype("string").fillna("").to_numpy(dtype=object)


def _shared_values(accounts, columns, rows: np.ndarray, exemplar_rows: np.ndarray) -> list[str]:
    """For each account, the columns where it has the same value as its closest exemplar (numbers:
    within 25 %), as 'Industry: Fintech · Region: EMEA'."""
    parts: list[list[str]] = [[] for _ in rows]
    for s in columns:
        if s.kind in ("number", "year"):
            x = accounts.column_array(s)
            a, b = x[rows], x[exemplar_rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                same = np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= 0.25 * np.maximum(np.abs(a), np.abs(b)))
            for j in np.flatnonzero(same):
                parts[j].append(f"{s.header} ≈ {b[j]:,.0f}")
        elif s.kind != "list":
            codes, values = accounts.column_codes(s)
            a, b = codes[rows], codes[exemplar_rows]
            for j in np.flatnonzero((a == b) & (a >= 0)):
                parts[j].append(f"{s.header}: {values[a[j]]}")
    return [" · ".join(p) for p in parts]


def heldout_auc(values: np.ndarray, accounts, outcome, exclude: np.ndarray | None = None) -> float:
    """ROC AUC of `values` (per account) on the held-out accounts with a known outcome (the same
    split and labels as the backtest), the `exclude` positions left out."""
    from .outcomes import outcome_weights
    from .stats import auc_from_counts, holdout_mask

    y, w = outcome_weights(accounts, outcome)
    keep = holdout_mask(accounts.n) & ~np.isnan(y)
    if exclude is not None:
        keep[exclude] = False
    return auc_from_counts(np.asarray(values)[keep], (y * w)[keep], ((1 - y) * w)[keep])


def similarity_auc(lk: Lookalikes, accounts, outcome) -> float:
    """heldout_auc of the similarity alone, exemplars left out (they are similar by construction)."""
    return heldout_auc(lk.similarity, accounts, outcome, lk.exemplars)


def score_auc(result, accounts, outcome, exclude: np.ndarray | None = None) -> float:
    """heldout_auc of the ICP score (disqualified below every score), on the same accounts as the
    similarity's, so the two read side by side."""
    rank = result.rank
    return heldout_auc(rank, accounts, outcome, exclude)
