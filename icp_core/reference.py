"""The black-box reference: a gradient-boosting model on the same columns as the suggestions.

`reference_auc` is the cross-validated AUC of a scikit-learn HistGradientBoostingClassifier on a
stratified sample of at most `REFERENCE_MAX_ROWS` observations (`reference_rows`), fitted
single-threaded; it shows what an unexplainable model reaches on the data. `reference_features`
turns the candidate columns into its model-ready frame.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pandas as pd

from .dataset import AccountMatrix
from .outcomes import Outcome, expand_outcomes, outcome_weights
from .suggest import candidate_columns

REFERENCE_MAX_ROWS = 5_000  # observations the black-box reference is cross-validated on (stratified sample)
REFERENCE_FOLDS = 5


def reference_rows(y: np.ndarray, w: np.ndarray, max_rows: int = REFERENCE_MAX_ROWS, seed: int = 7) -> np.ndarray:
    """Accounts with a known outcome for the reference model: all of them when they stand for at
    most `max_rows` observations (see `outcome_weights`), else a seeded sample stratified by
    good (y >= 0.5) / other, each side keeping its share of the observations. Sorted."""
    rows = np.flatnonzero(~np.isnan(y) & (w > 0))
    total = float(w[rows].sum())
    if total <= max_rows:
        return rows
    good = y[rows] >= 0.5
    rng = np.random.default_rng(seed)
    keep = []
    for side in (good, ~good):
        r = rng.permutation(rows[side])
        budget = max_rows * float(w[rows[side]].sum()) / total
        keep.append(r[np.cumsum(w[r]) <= budget])
    return np.sort(np.concatenate(keep))


def reference_auc(accounts: AccountMatrix, outcome: Outcome, max_rows: int = REFERENCE_MAX_ROWS,
                  train: np.ndarray | None = None, test: np.ndarray | None = None,
                  threads: int | None = 1) -> float:
    """A black-box reference: HistGradientBoostingClassifier on the same columns.

    Without train/test: `REFERENCE_FOLDS`-fold cross-validated AUC on the accounts with a known
    outcome, on a stratified sample of at most `max_rows` observations (`reference_rows`; on
    IBM telco, 7,043 accounts, retained: 0.8438 on the 5,000-row sample, 0.8445 on all of them).
    With train/test masks: fit on train, AUC on test (no sampling).
    `threads`: OpenMP threads per fit (1 by default: on a busy server, or with several sessions
    fitting at once, more threads than free cores made a 2 s fit take 20-45 s); None = all cores.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    y, w = outcome_weights(accounts, outcome)
    frame = reference_features(accounts, outcome)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0, max_iter=200,
                                           early_stopping=False, learning_rate=0.05, max_leaf_nodes=15,
                                           min_samples_leaf=20)

    def limit() -> AbstractContextManager:  # threadpool_limits applies on creation: create it where it is entered
        return threadpool_limits(limits=threads, user_api="openmp") if threads else nullcontext()

    if train is not None and test is not None:
        tr, ytr = expand_outcomes(np.flatnonzero(train & ~np.isnan(y) & (w > 0)), y, w)
        te, yte = expand_outcomes(np.flatnonzero(test & ~np.isnan(y) & (w > 0)), y, w)
        if len(np.unique(ytr)) < 2 or len(np.unique(yte)) < 2:
            return math.nan
        with limit():
            model.fit(frame.iloc[tr], ytr)
            return float(roc_auc_score(yte, model.predict_proba(frame.iloc[te])[:, 1]))
    rows = reference_rows(y, w, max_rows)
    idx, yy = expand_outcomes(rows, y, w)
    n_min = min(yy.sum(), len(yy) - yy.sum(), len(rows))
    if n_min < 5:
        return math.nan
    cv = list(StratifiedGroupKFold(n_splits=min(REFERENCE_FOLDS, int(n_min)), shuffle=True,
                                   random_state=0).split(idx, yy, idx))
    with limit():
        return float(cross_val_score(model, frame.iloc[idx], yy, cv=cv, scoring="roc_auc").mean())


def reference_features(accounts: AccountMatrix, outcome: Outcome) -> pd.DataFrame:
    """The candidate columns as a model-ready frame: numbers as floats, categories as pandas
    categoricals (top 50 values), technologies as flags (top 30)."""
    cols: dict[str, object] = {}
    for s in candidate_columns(accounts, outcome):
        if s.kind in ("number", "year"):
            cols[s.header] = accounts.column_array(s)
        elif s.kind == "list":
            values, mat = accounts.technology_flags(s, limit=30)
            for k, v in enumerate(values):
                cols[f"{s.header}: {v}"] = mat[:, k].astype(np.float32)
        elif s.kind in ("boolean", "churn"):
            codes, values = accounts.column_codes(s)
            cols[s.header] = pd.Categorical.from_codes(codes, categories=values) if values else codes
        else:
            codes, values = accounts.column_codes(s)
            counts = np.bincount(codes[codes >= 0], minlength=len(values))
            keep = np.argsort(-counts)[:50]
            remap = np.full(len(values) + 1, -1, dtype=np.int32)
            remap[keep] = np.arange(len(keep))
            cols[s.header] = pd.Categorical.from_codes(remap[codes], categories=[values[i] for i in keep])
    if not cols:
        return pd.DataFrame({"_none": np.zeros(accounts.n)})
    return pd.DataFrame(cols)
