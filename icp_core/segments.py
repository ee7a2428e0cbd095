"""Segments: k-means clusters of accounts, a 2-D map, readable cluster names and profiles.

`default_cluster_columns` picks the columns to start with (firmographic roles first, then the
generic columns that carry the most shared structure). A scikit-learn Pipeline turns the chosen
columns into numbers (numeric columns log-scaled where skewed, imputed and standardised;
categoricals one-hot with rare values pooled; technologies multi-hot), KMeans (fixed seed) is
fitted on a sample and every account is assigned; `cluster_map` draws them on the plane
through the cluster centres, each cluster shrunk around its centre so clusters read as groups.
`profile_clusters` describes each cluster (size, dominant values, medians, outcomes, share in
tiers A+B) and names it by what sets it apart from the others ("Mid-size Fintech on
Snowflake", "Funding total ~$15M · Founded ~2007"); `winning_low_scorers` flags clusters that
win but score low; `traits_for_cluster` proposes traits that describe a cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from .dataset import AccountMatrix
from .formatting import MISSING, count, format_number, is_missing, money, pct
from .profile import Trait, default_label, trait_ref_for, usable_columns
from .roles import GENERIC_ROLES, ROLES, ColumnSpec, normalise_header
from .scoring import ScoreResult
from .stats import wilson

FIT_SAMPLE = 20_000
MAP_POINTS = 5_000
SEED = 0
SUGGEST_KS = range(2, 9)  # the k values suggest_k tries by default
CLUSTER_KINDS = ("number", "year", "category", "category_folded", "country", "list", "boolean")


PREFERRED_ROLES = ("industry", "employees", "annual_revenue", "region", "country", "funding_stage", "technologies",
                   "founded_year")
MAX_DEFAULT_COLUMNS = 6
MIN_USEFULNESS = 0.2
NEAR_DUPLICATE = 0.8
# header words that say a generic column is a commercial / firmographic quantity (telco's "MonthlyCharges",
# "Contract", "tenure"; Crunchbase's "funding_total_usd"; a SaaS export's "plan_tier", "seats")
BUSINESS_WORDS = frozenset((
    "funding", "funded", "raised", "valuation", "investment", "plan", "tier", "seats", "seat", "licenses", "licences",
    "users", "contract", "tenure", "term", "subscription", "charges", "charge", "price", "pricing", "spend",
    "revenue", "mrr", "billing", "payment", "segment", "size", "locations", "ownership", "sector", "vertical"))
# header words that say a number is an amount of money (shown with formatting.money)
MONEY_WORDS = frozenset(("usd", "eur", "gbp", "revenue", "funding", "raised", "valuation", "amount", "price", "charges",
                         "charge", "spend", "cost", "costs", "mrr", "arr", "acv", "budget", "sales", "fee", "fees",
                         "dollars", "investment"))
COUNT_WORDS = frozenset(("rounds", "round", "count", "number", "num", "investors", "deals", "employees", "users", "seats",
                         "locations", "months", "days", "years", "age", "score", "rank", "rate", "ratio", "percent", "pct"))
# header words of identifiers stored as numbers or codes ("Sr No", "SIC Codes", "Postal Code")
ID_WORDS = frozenset(("id", "code", "codes", "zip", "postal", "postcode", "phone", "sr", "serial", "index", "uuid",
                      "guid", "key", "no"))


def _words(header: str) -> set[str]:
    return set(normalise_header(header).split())


def _column_codes_for_association(accounts: AccountMatrix, s: ColumnSpec, rows: np.ndarray) -> np.ndarray | None:
    """One column on the sampled rows as small integer codes (numbers in quintiles, categories as
    their 12 most common values + other, missing as its own code), or None when the column cannot
    carry a segment: mostly empty, one value for ≥ 95 % of accounts, or an identifier (a generic
    column whose header names an id or code, an all-distinct increasing number, or a text with a
    different value on most rows)."""
    generic = s.role in GENERIC_ROLES
    if s.kind in ("number", "year"):
        x = accounts.column_array(s)[rows]
        ok = np.isfinite(x)
        if ok.mean() < 0.2:
            return None
        v = x[ok]
        uniq, counts = np.unique(v, return_counts=True)
        if len(uniq) < 2 or counts.max() >= 0.95 * len(v):
            return None
        if generic:
            if _words(s.header) & ID_WORDS:
                return None
            steps = np.diff(v)  # rows are in file order: a row number or id rises (or falls) all along
            if len(uniq) >= 0.95 * len(v) and np.all(v == np.round(v)) and (
                    (steps > 0).mean() >= 0.99 or (steps < 0).mean() >= 0.99):
                return None
        edges = np.unique(np.quantile(v, [0.2, 0.4, 0.6, 0.8]))
        return np.where(ok, np.searchsorted(edges, x, side="right"), len(edges) + 1)
    if s.kind == "list":
        return None
    all_codes, values = accounts.column_codes(s)
    codes = all_codes[rows]
    known = codes >= 0
    if known.mean() < 0.2 or len(values) < 2:
        return None
    cnt = np.bincount(codes[known], minlength=len(values))
    if cnt.max() >= 0.95 * known.sum():
        return None
    if generic and (_words(s.header) & ID_WORDS or (cnt > 0).sum() > max(50, 0.5 * known.sum())):
        return None
    top = np.argsort(-cnt, kind="stable")[:12]
    remap = np.full(len(values) + 1, len(top) + 1)  # other values
    remap[top] = np.arange(len(top))
    remap[-1] = len(top)  # code -1 (missing) indexes the last slot
    return remap[codes]


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) of two code vectors: 0 independent .. 1 one
    determines the other."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, c, n = int(a.max()) + 1, int(b.max()) + 1, len(a)
    if r < 2 or c < 2 or n < 3:
        return 0.0
    table = np.bincount(a * c + b, minlength=r * c).reshape(r, c).astype(np.float64)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    phi2 = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    rc, cc = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    denom = min(rc - 1, cc - 1)
    return float(math.sqrt(phi2 / denom)) if denom > 0 else 0.0


def _sampled_outcomes(accounts: AccountMatrix, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(values, known mask) on the sampled rows of each outcome the data has: won/lost, churned."""
    outcomes = []
    if accounts.has["won"]:
        outcomes.append((accounts.won[rows], np.isin(accounts.won[rows], (0, 1))))
    if accounts.has["churned"]:
        outcomes.append((accounts.churned[rows], accounts.churned[rows] >= 0))
    return outcomes


def default_cluster_columns(accounts: AccountMatrix, sample: int = 5000) -> list[ColumnSpec]:
    """The columns the Clusters page starts with (at most six).

    1. Columns that can carry a segment only: not mostly empty, not one value for ≥ 95 % of
       accounts, not an identifier or free text (see `_column_codes_for_association`).
    2. Columns whose role has firmographic or technographic meaning, in this order: industry,
       employees, annual revenue, region (or country when there is no region), funding stage,
       technologies, founded year.
    3. The remaining places go to generic columns, greedily by usefulness =
       (structure + outcome) × meaning × flag × (1 − r), where structure is the mean of the
       column's three strongest associations (bias-corrected Cramér's V, numbers in quintiles)
       with the other candidate columns, outcome is its association with won/lost or churned
       when the data has them, meaning is 2 when the header names a commercial quantity
       (`BUSINESS_WORDS`: charges, contract, tenure, funding, plan, seats ...), flag is ½ for a
       yes/no column, and r is its strongest association with a column already chosen (so
       near-duplicates such as founded year and founded quarter, region and city, do not both
       get in; r ≥ 0.8 never does). A column that is independent of every other column and of
       the outcomes (IBM telco's `gender`) scores about 0: k-means would only split accounts in
       two arbitrary halves on it. Columns under 0.2 are left out, except those whose header
       names a commercial quantity (not yes/no) and the first column when nothing else exists.
    """
    candidates = clusterable_columns(accounts)[:80]
    if not candidates:
        return []
    rng = np.random.default_rng(SEED)
    rows = np.sort(rng.choice(accounts.n, min(sample, accounts.n), replace=False)) if accounts.n else np.arange(0)
    codes: dict[str, np.ndarray] = {}

    def fits(s: ColumnSpec) -> bool:
        if s.kind == "list":
            return bool(accounts.technology_flags(s, limit=20)[0])
        c = _column_codes_for_association(accounts, s, rows)
        if c is not None:
            codes[s.key] = c
        return c is not None

    by_role: dict[str, ColumnSpec] = {}
    for s in candidates:
        if s.role in PREFERRED_ROLES and s.role not in by_role and fits(s):
            by_role[s.role] = s
    chosen = [by_role[r] for r in PREFERRED_ROLES if r in by_role]
    if "region" in by_role and "country" in by_role:
        chosen = [s for s in chosen if s.role != "country"]
    chosen = chosen[:MAX_DEFAULT_COLUMNS]
    if len(chosen) >= MAX_DEFAULT_COLUMNS:  # enough firmographic columns: generic ones are not read at all
        return chosen
    pool = [s for s in candidates if s.role not in PREFERRED_ROLES and fits(s) and s.key in codes]
    if not pool:
        return chosen or candidates[:MAX_DEFAULT_COLUMNS]
    keys = list(codes)
    assoc = {(a, b): cramers_v(codes[a], codes[b]) for i, a in enumerate(keys) for b in keys[i + 1:]}

    def v(a: str, b: str) -> float:
        return assoc.get((a, b), assoc.get((b, a), 0.0))

    outcomes = _sampled_outcomes(accounts, rows)
    base = {}
    for s in pool:
        others = sorted((v(s.key, o) for o in keys if o != s.key), reverse=True)
        structure = float(np.mean(others[:3])) if others else 0.0
        outcome = max((cramers_v(codes[s.key][m], y[m]) for y, m in outcomes if m.sum() >= 30), default=0.0)
        meaning = 2.0 if _words(s.header) & BUSINESS_WORDS else 1.0
        base[s.key] = (structure + outcome) * meaning * (0.5 if s.kind == "boolean" else 1.0)
    named = {s.key for s in pool if _words(s.header) & BUSINESS_WORDS and s.kind != "boolean"}
    while len(chosen) < MAX_DEFAULT_COLUMNS and pool:
        chosen_keys = [c.key for c in chosen if c.key in codes]
        overlap = [max((v(s.key, c) for c in chosen_keys), default=0.0) for s in pool]
        useful = [base[s.key] * (1 - r) if r < NEAR_DUPLICATE else 0.0 for s, r in zip(pool, overlap, strict=True)]
        keep = [u >= MIN_USEFULNESS or (s.key in named and r < NEAR_DUPLICATE) or not chosen
                for s, u, r in zip(pool, useful, overlap, strict=True)]
        if not any(keep):
            break
        best = max((i for i in range(len(pool)) if keep[i]), key=lambda i: useful[i])
        chosen.append(pool.pop(best))
    return chosen


def clusterable_columns(accounts: AccountMatrix) -> list[ColumnSpec]:
    outcome_roles = {"deal_stage", "arr", "churned", "nps", "sales_cycle_days"}
    return [s for s in usable_columns(accounts.specs)
            if s.kind in CLUSTER_KINDS and s.role not in outcome_roles and s.source == "accounts"]


def feature_frame(accounts: AccountMatrix, columns: list[ColumnSpec], max_tech: int = 20) -> tuple[pd.DataFrame, dict]:
    """The chosen columns as a frame for the pipeline; returns (frame, {numeric, categorical, flags})."""
    data: dict[str, np.ndarray | pd.Series] = {}
    groups: dict[str, list[str]] = {"numeric": [], "categorical": [], "flags": []}
    for s in columns:
        if s.kind in ("number", "year"):
            data[s.header] = accounts.column_array(s).astype(np.float32)
            groups["numeric"].append(s.header)
        elif s.kind == "list":
            values, mat = accounts.technology_flags(s, limit=max_tech)
            for k, v in enumerate(values):
                name = f"{s.header}: {v}"
                data[name] = mat[:, k].astype(np.float32)
                groups["flags"].append(name)
        else:
            codes, values = accounts.column_codes(s)
            cats = pd.Categorical.from_codes(codes, categories=values) if values else pd.Categorical([None] * accounts.n)
            data[s.header] = pd.Series(cats).cat.add_categories(["(missing)"]).fillna("(missing)")
            groups["categorical"].append(s.header)
    return pd.DataFrame(data), groups


def build_pipeline(frame: pd.DataFrame, groups: dict) -> ColumnTransformer:
    """Numeric: impute median, log1p where skewed (and non-negative), standardise; categorical:
    one-hot with values under 2 % pooled; technology flags: as they are (0/1)."""
    transformers = []
    skewed, plain = [], []
    for c in groups["numeric"]:
        x = frame[c].to_numpy(dtype=np.float64)
        x = x[np.isfinite(x)]
        if len(x) > 2 and x.min() >= 0 and pd.Series(x).skew() > 1:
            skewed.append(c)
        else:
            plain.append(c)
    if skewed:
        transformers.append(("log", make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(np.log1p),
                                                  StandardScaler()), skewed))
    if plain:
        transformers.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), plain))
    if groups["categorical"]:
        transformers.append(("cat", OneHotEncoder(min_frequency=0.02, handle_unknown="infrequent_if_exist",
                                                  sparse_output=False, dtype=np.float32), groups["categorical"]))
    if groups["flags"]:
        transformers.append(("flags", "passthrough", groups["flags"]))
    return ColumnTransformer(transformers, sparse_threshold=0.0)


def _as_float32(X):
    return np.asarray(X, dtype=np.float32)


@dataclass
class Clustering:
    k: int
    labels: np.ndarray  # (n,) cluster of every account
    map_rows: np.ndarray  # account positions plotted (stratified sample)
    map_xy: np.ndarray  # (len(map_rows), 2) map coordinates (see cluster_map)
    silhouette: dict[int, float]  # k -> silhouette on a sample (for the suggested k)
    suggested_k: int
    columns: list[str]
    explained: float  # share of the variance between cluster centres the 2-D map shows


def suggest_k(X: np.ndarray, ks=SUGGEST_KS, sample: int = 3000) -> dict[int, float]:
    """Silhouette of KMeans on a sample for each k."""
    rng = np.random.default_rng(SEED)
    Xs = X[rng.choice(len(X), min(sample, len(X)), replace=False)]
    out = {}
    for k in ks:
        if k >= len(Xs):
            break
        lab = KMeans(n_clusters=k, random_state=SEED, n_init=3).fit_predict(Xs)
        if len(np.unique(lab)) > 1:
            out[k] = float(silhouette_score(Xs, lab, sample_size=min(2000, len(Xs)), random_state=SEED))
    return out


def cluster_accounts(accounts: AccountMatrix, columns: list[ColumnSpec], k: int | None = None,
                     progress=lambda fraction, message: None) -> Clustering:
    """Fit the pipeline and KMeans on a sample (≤ 20,000 accounts), assign every account, map
    a stratified sample (≤ 5,000 points) on the plane through the cluster centres (`cluster_map`).
    Same input, same clusters, same map (fixed seeds)."""
    if not columns:
        raise ValueError("choose at least one column to cluster on")
    progress(0.05, "Preparing columns")
    frame, groups = feature_frame(accounts, columns)
    n = len(frame)
    if n < 3:
        raise ValueError("at least 3 accounts are needed to form clusters")
    rng = np.random.default_rng(SEED)
    fit_rows = np.sort(rng.choice(n, min(FIT_SAMPLE, n), replace=False))
    pre = build_pipeline(frame, groups)
    progress(0.2, "Scaling and encoding")
    X_fit = pre.fit_transform(frame.iloc[fit_rows]).astype(np.float32)
    progress(0.35, "Choosing k (silhouette on a sample)")
    sil = suggest_k(X_fit, ks=range(2, min(9, len(fit_rows))))
    best = max(sil, key=lambda kk: sil[kk]) if sil else 2
    k = int(k or best)
    k = max(1, min(k, len(fit_rows)))
    progress(0.55, f"Fitting k-means with k = {k}")
    km = KMeans(n_clusters=k, random_state=SEED, n_init=4).fit(X_fit)
    model = Pipeline([("prepare", pre), ("float32", FunctionTransformer(_as_float32)), ("kmeans", km)])
    progress(0.7, "Assigning every account")
    labels = np.empty(n, dtype=np.int32)
    chunk = 250_000
    for start in range(0, n, chunk):
        part = frame.iloc[start:start + chunk]
        labels[start:start + chunk] = model.predict(part)
        progress(0.7 + 0.2 * min(1.0, (start + chunk) / n), f"Assigned {min(start + chunk, n):,} of {n:,}")
    # stratified map sample: up to MAP_POINTS, each cluster in proportion (at least 20 each)
    progress(0.92, "Drawing the map")
    per = np.bincount(labels, minlength=k)
    take = np.maximum(np.minimum(per, 20), np.floor(per * min(1.0, MAP_POINTS / n)).astype(int))
    map_rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), take[c], replace=False)
                                       for c in range(k) if per[c]]))
    xy, explained = cluster_map(X_fit, km.labels_, km.cluster_centers_,
                                pre.transform(frame.iloc[map_rows]).astype(np.float32), labels[map_rows])
    progress(1.0, "Done")
    labels = relabel_by_size(labels, k)
    return Clustering(k, labels, map_rows, xy, sil, best, [s.header for s in columns], explained)


MAP_GAP = 0.35  # a cluster's spread (95th percentile) is drawn within this share of the distance to the nearest centre
JITTER = 0.006  # spread of the nudge given to stacked points, as a share of the map's width / height


def centre_plane(X: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The plane through the cluster centres: (origin, 2 × d orthonormal basis, share of the
    between-centre variance it shows). Axes are the principal axes of the centres weighted by
    cluster size; with 2 clusters the second axis is the main remaining variation of the
    accounts (first principal component after removing the centre-to-centre direction)."""
    k, d = centres.shape
    w = np.bincount(labels, minlength=k).astype(np.float64)
    w /= max(w.sum(), 1.0)
    origin = (w[:, None] * centres).sum(axis=0)
    _, s, vt = np.linalg.svd((centres - origin) * np.sqrt(w)[:, None], full_matrices=False)
    rank = int((s > 1e-9 * max(s.max(initial=0.0), 1e-300)).sum())
    basis = vt[:min(2, rank)]
    explained = float((s[:2] ** 2).sum() / (s ** 2).sum()) if rank else 0.0
    while len(basis) < 2:  # fewer than 3 distinct centres: add the accounts' main remaining variation
        rest = (X - origin) - ((X - origin) @ basis.T) @ basis if len(basis) else X - origin
        if d <= len(basis) or not np.any(rest):
            basis = np.vstack([basis, np.zeros((1, d))])
            continue
        extra = PCA(n_components=1, random_state=SEED).fit(rest).components_
        extra = extra - (extra @ basis.T) @ basis if len(basis) else extra
        basis = np.vstack([basis, extra / max(np.linalg.norm(extra), 1e-12)])
    return origin, basis, explained


def cluster_map(X_fit: np.ndarray, fit_labels: np.ndarray, centres: np.ndarray, X_map: np.ndarray,
                map_labels: np.ndarray) -> tuple[np.ndarray, float]:
    """2-D map coordinates of the mapped accounts and the share of the between-cluster
    variance the map shows.

    The map is the plane through the k-means centres (`centre_plane`): k-means assigns every
    account to its nearest centre, and on this plane those boundaries are straight lines (exact
    for up to 3 clusters). Each cluster is then drawn shrunk around its own centre so that 95 %
    of its accounts sit within `MAP_GAP` of the distance to the nearest other centre: centres
    are to scale, a cluster's spread is not, and clusters read as separate groups. Accounts
    that would land on the same spot (identical values on the columns) are nudged by a small
    seeded random offset so a pile of 1,000 shows as a cloud, not as one dot."""
    k = len(centres)
    X_fit, X_map, centres = (np.asarray(a, dtype=np.float64) for a in (X_fit, X_map, centres))
    origin, basis, explained = centre_plane(X_fit, fit_labels, centres)
    centre_xy = (centres - origin) @ basis.T
    offset = (X_map - centres[map_labels]) @ basis.T
    if k > 1:
        gaps = np.linalg.norm(centre_xy[:, None, :] - centre_xy[None, :, :], axis=2)
        np.fill_diagonal(gaps, np.inf)
        nearest = gaps.min(axis=1)
        floor = 0.05 * max(float(np.ptp(centre_xy, axis=0).max()), 1e-12)
        nearest = np.maximum(nearest, floor)
        radius = np.zeros(k)
        dist = np.linalg.norm(offset, axis=1)
        present = np.unique(map_labels)
        radius[present] = [np.quantile(dist[map_labels == c], 0.95) for c in present]
        scale = np.minimum(1.0, MAP_GAP * nearest / np.maximum(radius, 1e-12))
        xy = centre_xy[map_labels] + scale[map_labels, None] * offset
    else:
        xy = centre_xy[map_labels] + offset
    return jitter_stacked(xy), explained


def jitter_stacked(xy: np.ndarray, grid: int = 400) -> np.ndarray:
    """Nudge points that share a spot on a `grid` × `grid` raster of the map by a seeded normal
    offset (sd `JITTER` of the span, growing with the size of the pile up to 5×)."""
    if len(xy) < 2:
        return xy
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0)
    span = np.where(span > 0, span, 1.0)
    cells = np.floor((xy - lo) / span * grid).astype(np.int64)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    pile = counts[inverse.ravel()]
    stacked = pile > 1
    if not stacked.any():
        return xy
    rng = np.random.default_rng(SEED)
    noise = rng.standard_normal(xy.shape) * (JITTER * span) * np.minimum(np.sqrt(pile), 5.0)[:, None]
    return np.where(stacked[:, None], xy + noise, xy)


def relabel_by_size(labels: np.ndarray, k: int) -> np.ndarray:
    """Cluster 0 is the largest, then 1, ... (stable names across reruns)."""
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    remap = np.empty(k, dtype=np.int32)
    remap[order] = np.arange(k)
    return remap[labels]


# --------------------------------------------------------------------------- profiles and names

SIZE_WORDS = ((20, "Micro"), (200, "Small"), (1000, "Mid-size"), (5000, "Large"), (math.inf, "Enterprise"))


def _title(v: str) -> str:
    return v if any(c.isupper() for c in v) else (v.upper() if len(v) <= 4 and v.isalpha() and v in
                                                  {"saas", "b2b", "b2c"} else v.title())


def profile_clusters(accounts: AccountMatrix, clustering: Clustering, columns: list[ColumnSpec],
                     result: ScoreResult | None = None) -> pd.DataFrame:
    """One row per cluster: name (see `cluster_names`), size, share, dominant value (and share)
    of each categorical, median of each numeric, top technologies, win rate, churn rate, ARR,
    share in tiers A+B."""
    labels, k = clustering.labels, clustering.k
    size = np.bincount(labels, minlength=k)
    rows = [{"cluster": c, "accounts": int(size[c]), "share": size[c] / max(len(labels), 1)} for c in range(k)]
    for s in columns:
        if s.kind in ("number", "year"):
            x = accounts.column_array(s)
            for c in range(k):
                v = x[labels == c]
                v = v[np.isfinite(v)]
                rows[c][f"{s.header} (median)"] = float(np.median(v)) if len(v) else math.nan
        elif s.kind == "list":
            opts, mat = accounts.technology_flags(s, limit=20)
            if not opts:
                continue
            for c in range(k):
                share = mat[labels == c].mean(axis=0) if size[c] else np.zeros(len(opts))
                top = [opts[i] for i in np.argsort(-share)[:3] if share[i] >= 0.3]
                rows[c][f"{s.header} (top)"] = ", ".join(top) if top else "–"
        else:
            codes, values = accounts.column_codes(s)
            for c in range(k):
                cc = codes[(labels == c) & (codes >= 0)]
                if len(cc) == 0:
                    rows[c][s.header] = "–"
                    continue
                cnt = np.bincount(cc, minlength=len(values))
                top_i = int(np.argmax(cnt))
                rows[c][s.header] = f"{values[top_i]} ({pct(cnt[top_i] / size[c])})"
    won, lost = accounts.won_deals, accounts.lost_deals
    for c in range(k):
        m = labels == c
        wsum, lsum = won[m].sum(), lost[m].sum()
        rows[c]["win_rate"] = wsum / (wsum + lsum) if wsum + lsum else math.nan
        rows[c]["won"], rows[c]["closed"] = float(wsum), float(wsum + lsum)
        ch = accounts.churned[m]
        known = (ch >= 0).sum()
        rows[c]["churn_rate"] = (ch == 1).sum() / known if known else math.nan
        rows[c]["arr"] = float(np.nansum(accounts.arr[m])) if accounts.has["arr"] else math.nan
    if result is not None:
        for c, v in enumerate(share_in_ab(clustering, result)):
            rows[c]["share_ab"] = v
    df = pd.DataFrame(rows)
    df.insert(1, "name", cluster_names(accounts, labels, k, columns))
    return df


@dataclass
class NamePart:
    effect: float  # standardised difference between the cluster and the other accounts
    slot: str  # size | industry | geo | tech (read as one phrase: "Mid-size Fintech in EMEA on Snowflake") | other
    text: str


MIN_EFFECT = 0.2  # a difference smaller than this does not name a cluster (unless nothing else does)


def pretty_header(header: str) -> str:
    """'funding_total_usd' -> 'Funding total usd', 'MonthlyCharges' -> 'Monthly charges'."""
    text = normalise_header(header)
    return (text[:1].upper() + text[1:]) if text else str(header)


def is_money(s: ColumnSpec) -> bool:
    """A number shown as money: annual revenue, ARR, or a header naming an amount (`MONEY_WORDS`)
    and not a count of something ("funding_rounds")."""
    words = _words(s.header)
    return s.role in ("annual_revenue", "arr") or (s.kind == "number" and bool(words & MONEY_WORDS)
                                                   and not words & COUNT_WORDS)


def value_text(s: ColumnSpec, x: float) -> str:
    """A typical value for a name or label: money, a year, or a plain number (two significant figures)."""
    if s.kind == "year":
        return str(int(round(x)))
    if is_money(s):
        return money(x)
    return format_number(float(f"{x:.2g}") if abs(x) >= 10 else round(x, 1))


def _number_label(s: ColumnSpec) -> str:
    if s.role in GENERIC_ROLES:
        words = normalise_header(s.header).split()
        if is_money(s) and len(words) > 1 and words[-1] in ("usd", "eur", "gbp"):
            words = words[:-1]
        return pretty_header(" ".join(words))
    return {"annual_revenue": "Revenue", "founded_year": "Founded"}.get(s.role, ROLES[s.role].label)


def _cohen_h(p_in: np.ndarray, p_rest: np.ndarray) -> np.ndarray:
    """Cohen's h: the difference of two shares on the arcsine scale (0.2 small, 0.5 medium, 0.8 large)."""
    return 2 * np.arcsin(np.sqrt(np.clip(p_in, 0, 1))) - 2 * np.arcsin(np.sqrt(np.clip(p_rest, 0, 1)))


def _share_parts(s: ColumnSpec, values: list[str], p_in: np.ndarray, p_rest: np.ndarray) -> NamePart | None:
    """The value that most sets a cluster apart: one most of it has (≥ 50 %) and the others have
    less, or one the others mostly have and it (almost) lacks."""
    h = _cohen_h(p_in, p_rest)
    pos = np.where(p_in >= 0.5, h, -np.inf)
    neg = np.where((p_in <= 0.1) & (p_rest >= 0.3), -h, -np.inf)
    i, j = int(np.argmax(pos)), int(np.argmax(neg))
    if not np.isfinite(max(pos[i], neg[j])) or max(pos[i], neg[j]) <= 0:
        return None
    # what it has reads better than what it lacks: "not X" only when clearly stronger
    has, effect, v = (True, float(pos[i]), values[i]) if pos[i] >= 0.8 * neg[j] else (False, float(neg[j]), values[j])
    if s.kind == "list":
        return NamePart(effect, "tech", f"on {v}" if has else f"without {v}")
    if s.kind == "boolean":
        label = pretty_header(s.header) if s.role in GENERIC_ROLES else ROLES[s.role].label
        yes = v.lower() in ("true", "yes", "1")
        return NamePart(effect, "other", label if yes == has else f"Not {label[:1].lower() + label[1:]}")
    if s.role == "industry":
        word = _title(v)
        word = f"{word} sector" if word in {w for _, w in SIZE_WORDS} else word
        return NamePart(effect, "industry", word if has else f"Not {word}")
    if s.role in ("region", "country"):
        return NamePart(effect, "geo", v if has else f"outside {v}")
    label = pretty_header(s.header) if s.role in GENERIC_ROLES else ROLES[s.role].label
    return NamePart(effect, "other", f"{label}: {v}" if has else f"{label}: not {v}")


def _name_parts(accounts: AccountMatrix, labels: np.ndarray, k: int, columns: list[ColumnSpec]) -> list[list[NamePart]]:
    """For every cluster, what sets it apart from the other clusters' accounts, strongest first:
    per numeric column the difference of its median from the others' median in standard
    deviations (on the log scale for skewed non-negative columns, as the clustering sees them);
    per categorical column, technology list or yes/no column Cohen's h of the share of its most
    distinctive value."""
    parts: list[list[NamePart]] = [[] for _ in range(k)]
    size = np.bincount(labels, minlength=k)
    for s in columns:
        if s.kind in ("number", "year"):
            x = accounts.column_array(s)
            ok = np.isfinite(x)
            v = x[ok]
            if len(v) < 3:
                continue
            t = np.log1p(x) if v.min() >= 0 and pd.Series(v).skew() > 1 else x
            sd = float(np.nanstd(t[ok]))
            if not sd > 0:
                continue
            for c in range(k):
                inside = labels == c
                a, b = ok & inside, ok & ~inside
                if a.sum() < 2 or b.sum() < 2:
                    continue
                effect = abs(float(np.median(t[a]) - np.median(t[b]))) / sd
                med = float(np.median(x[a]))
                if s.role == "employees":
                    parts[c].append(NamePart(effect, "size", next(w for lim, w in SIZE_WORDS if med < lim)))
                else:
                    parts[c].append(NamePart(effect, "other", f"{_number_label(s)} ~{value_text(s, med)}"))
            continue
        if s.kind == "list":
            values, mat = accounts.technology_flags(s, limit=20)
            if not values:
                continue
            counts = np.vstack([mat[labels == c].sum(axis=0) for c in range(k)]).astype(np.float64)
        else:
            codes, values = accounts.column_codes(s)
            if not values:
                continue
            known = codes >= 0
            counts = np.bincount(labels[known] * len(values) + codes[known],
                                 minlength=k * len(values)).reshape(k, len(values)).astype(np.float64)
        total = counts.sum(axis=0)
        for c in range(k):
            rest = len(labels) - size[c]
            if not size[c] or not rest:
                continue
            part = _share_parts(s, values, counts[c] / size[c], (total - counts[c]) / rest)
            if part is not None:
                parts[c].append(part)
    for p in parts:
        p.sort(key=lambda q: -q.effect)
    return parts


def _render(parts: list[NamePart]) -> str:
    """'Mid-size Fintech in EMEA on Snowflake' for size, industry, place and technology, then the
    other parts after ' · ' (strongest first)."""
    slot = {p.slot: p.text for p in parts if p.slot != "other"}
    natural = " ".join(w for w in (slot.get("size"), slot.get("industry")) if w)
    if "geo" in slot:
        geo = slot["geo"] if slot["geo"].startswith("outside ") else f"in {slot['geo']}"
        natural = f"{natural or 'Accounts'} {geo}"
    if "tech" in slot:
        natural = f"{natural} {slot['tech']}" if natural else ("Uses " + slot["tech"][3:] if slot["tech"].startswith("on ")
                                                               else "No " + slot["tech"][8:])
    if natural in {w for _, w in SIZE_WORDS}:
        natural += " accounts"
    natural = natural[:1].upper() + natural[1:]
    return " · ".join(([natural] if natural else []) + [p.text for p in parts if p.slot == "other"])


def cluster_names(accounts: AccountMatrix, labels: np.ndarray, k: int, columns: list[ColumnSpec]) -> list[str]:
    """A unique name per cluster from what sets it apart from the others (`_name_parts`): its two
    strongest differences; when two clusters would share a name, each adds its next difference
    until the names differ ("SF Bay · Funding total ~$15M" vs "SF Bay · Funding total ~$915K").
    Differences under `MIN_EFFECT` only name a cluster that has nothing stronger. Should every
    difference be used up and two names still match, the size tells them apart (never "(2)")."""
    everything = _name_parts(accounts, labels, k, columns)
    parts = [[p for p in every if p.effect >= MIN_EFFECT] or every[:1] for every in everything]
    used = [min(len(p), 2) for p in parts]
    names = [_render(parts[c][:used[c]]) for c in range(k)]
    for _ in range(len(columns) + 1):
        seen: dict[str, list[int]] = {}
        for c, n in enumerate(names):
            seen.setdefault(n, []).append(c)
        clashes = [cs for cs in seen.values() if len(cs) > 1]
        if not clashes:
            break
        for cs in clashes:
            for c in cs:
                if used[c] < len(parts[c]):
                    used[c] += 1
                elif len(parts[c]) < len(everything[c]):  # weaker differences, when nothing stronger tells them apart
                    parts[c] = everything[c][:len(parts[c]) + 1]
                    used[c] = len(parts[c])
                names[c] = _render(parts[c][:used[c]])
    size = np.bincount(labels, minlength=k)
    names = [n or "Accounts like the rest" for n in names]
    seen_count: dict[str, int] = {}
    for n in names:
        seen_count[n] = seen_count.get(n, 0) + 1
    return [f"{n} · {count(size[c])} accounts" if seen_count[n] > 1 else n for c, n in enumerate(names)]


def _known_or_dash(fmt):
    """fmt for known values; "–" for unknown ones (NaN, or the −∞ of `profile_sortable`)."""
    return lambda x: MISSING if is_missing(x) or not math.isfinite(float(x)) else fmt(x)


def _median_text(s: ColumnSpec):
    if s.kind == "year":
        return lambda x: str(int(round(x)))
    return money if is_money(s) else format_number


def profile_formats(columns: list[ColumnSpec]) -> dict:
    """How each number of `profile_clusters` reads on screen (formatting.py): counts, shares,
    money for ARR and money-like medians, years as years; "–" when unknown."""
    formats = {"accounts": count, "share": pct, "win_rate": pct, "churn_rate": pct, "arr": money, "share_ab": pct}
    formats.update({f"{s.header} (median)": _median_text(s) for s in columns if s.kind in ("number", "year")})
    return {c: _known_or_dash(f) for c, f in formats.items()}


def account_formats(specs: list[ColumnSpec]) -> dict:
    """How the numeric display columns of AccountMatrix.display read: money for revenue and ARR
    (and money-like headers), counts for the rest; "–" when unknown. Keyed by header."""
    return {s.header: _known_or_dash(money if is_money(s) else format_number)
            for s in specs if s.kind in ("number", "year")}


def sortable(table: pd.DataFrame, formats: dict) -> pd.DataFrame:
    """A table for an on-screen grid that sorts by value and shows `formats`' text: an unknown
    number (NaN) becomes −∞, so it sorts below every known value and reads "–" (a grid shows a
    null cell as "None", whatever its format); other empty cells become "–"."""
    cols = [c for c in formats if c in table.columns]
    out = table.astype({c: float for c in cols}).fillna({c: -math.inf for c in cols})
    rest = [c for c in out.columns if c not in cols and out[c].isna().any()]
    if rest:
        out[rest] = out[rest].astype(object).where(out[rest].notna(), MISSING)
    return out


def share_in_ab(clustering: Clustering, result: ScoreResult) -> np.ndarray:
    """Per cluster, the share of its accounts in tiers A and B (NaN for an empty cluster): the
    only part of a cluster profile that changes with the ICP's weights."""
    size = np.bincount(clustering.labels, minlength=clustering.k)
    in_ab = np.bincount(clustering.labels, weights=result.tier <= 1, minlength=clustering.k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(size > 0, in_ab / size, math.nan)


def winning_low_scorers(profile_table: pd.DataFrame, base_rate: float, min_closed: int = 20) -> pd.DataFrame:
    """Clusters whose win rate is well above the base rate (Wilson lower bound above it and at
    least 1.2× it) while most of their accounts sit outside tiers A+B: the ICP misses them."""
    if "share_ab" not in profile_table or not base_rate or math.isnan(base_rate):
        return profile_table.iloc[0:0]
    keep = []
    for i, r in profile_table.iterrows():
        if r["closed"] < min_closed or math.isnan(r["win_rate"]):
            continue
        lo, _ = wilson(r["win_rate"] * r["closed"], r["closed"])
        if lo > base_rate and r["win_rate"] >= 1.2 * base_rate and r["share_ab"] < 0.5:
            keep.append(i)
    return profile_table.loc[keep]


def traits_for_cluster(accounts: AccountMatrix, clustering: Clustering, columns: list[ColumnSpec],
                       cluster: int) -> list[Trait]:
    """Traits that describe one cluster, strongest first: categorical values over-represented
    in it (share ≥ 40 % and ≥ 1.5× their overall share), its interquartile range of a numeric
    column when that differs from everyone's, and technologies most of it uses (≥ 1.5× lift).
    Weights +1..+4 by how distinctive each is."""
    m = clustering.labels == cluster
    if not m.any():
        return []
    found: list[tuple[float, Trait]] = []
    for s in columns:
        ref = trait_ref_for(s)
        if s.kind in ("number", "year"):
            x = accounts.column_array(s)
            inside, everyone = x[m & np.isfinite(x)], x[np.isfinite(x)]
            if len(inside) < 10 or len(everyone) < 10:
                continue
            lo, hi = np.quantile(inside, [0.25, 0.75])
            glo, ghi = np.quantile(everyone, [0.25, 0.75])
            if hi - lo < 0.6 * (ghi - glo) or lo > ghi or hi < glo:
                from .suggest import nice_bound
                lo, hi = nice_bound(float(lo), s.kind), nice_bound(float(hi), s.kind)
                share_in = ((inside >= lo) & (inside <= hi)).mean()
                share_all = ((everyone >= lo) & (everyone <= hi)).mean()
                lift = share_in / max(share_all, 1e-9)
                if lift >= 1.3:
                    found.append((lift, Trait(label=default_label(s.header, "range", lo=lo, hi=hi, kind=s.kind),
                                              rule="range", min=lo, max=hi, **ref)))
        elif s.kind == "list":
            opts, mat = accounts.technology_flags(s, limit=20)
            if not opts:
                continue
            share, overall = mat[m].mean(axis=0), mat.mean(axis=0)
            good = [opts[i] for i in range(len(opts)) if share[i] >= 0.5 and share[i] >= 1.5 * overall[i]]
            if good:
                lift = max(share[i] / overall[i] for i in range(len(opts)) if opts[i] in good)
                found.append((lift, Trait(label=default_label(s.header, "contains_any", good), rule="contains_any",
                                          values=good, **ref)))
        else:
            codes, values = accounts.column_codes(s)
            cnt_in = np.bincount(codes[m & (codes >= 0)], minlength=len(values)) / m.sum()
            cnt_all = np.bincount(codes[codes >= 0], minlength=len(values)) / len(codes)
            good = [values[i] for i in np.argsort(-cnt_in) if cnt_in[i] >= 0.4 and cnt_in[i] >= 1.5 * cnt_all[i]]
            if good:
                idx = [values.index(v) for v in good]
                lift = cnt_in[idx].sum() / max(cnt_all[idx].sum(), 1e-9)
                found.append((lift, Trait(label=default_label(s.header, "in_set", good), rule="in_set",
                                          values=good, **ref)))
    found.sort(key=lambda lt: -lt[0])
    out = []
    for lift, t in found:
        t.weight = int(min(4, max(1, round(math.log2(lift) * 2))))
        out.append(t)
    return out


