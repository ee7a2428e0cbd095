"""Segments: k-means clusters of accounts, a 2-D map, readable cluster names and profiles.

A scikit-learn Pipeline turns the chosen columns into numbers (numeric columns log-scaled
where skewed, imputed and standardised; categoricals one-hot with rare values pooled;
technologies multi-hot), KMeans (fixed seed) is fitted on a sample and every account is
assigned; PCA gives the 2-D map. `profile_clusters` describes each cluster (size, dominant
values, medians, outcomes, share in tiers A+B) and names it ("Mid-size Fintech on Snowflake");
`winning_low_scorers` flags clusters that win but score low; `traits_for_cluster` proposes
traits that describe a cluster.
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

from .evidence import wilson
from .profile import Trait, default_label, trait_ref_for, usable_columns
from .roles import ColumnSpec
from .scoring import AccountMatrix, ScoreResult

FIT_SAMPLE = 20_000
MAP_POINTS = 5_000
SEED = 0
CLUSTER_KINDS = ("number", "year", "category", "category_folded", "country", "list", "boolean")


def default_cluster_columns(accounts: AccountMatrix) -> list[ColumnSpec]:
    """Firmographic and technographic columns: the usual segmentation inputs."""
    prefer = ("industry", "employees", "annual_revenue", "region", "country", "funding_stage", "technologies")
    by_role = {s.role: s for s in accounts.specs}
    chosen = [by_role[r] for r in prefer if r in by_role]
    if "region" in by_role and "country" in by_role:
        chosen = [s for s in chosen if s.role != "country"]
    return chosen or clusterable_columns(accounts)[:6]


def clusterable_columns(accounts: AccountMatrix) -> list[ColumnSpec]:
    outcome_roles = {"deal_stage", "arr", "churned", "nps", "sales_cycle_days"}
    return [s for s in usable_columns(accounts.specs)
            if s.kind in CLUSTER_KINDS and s.role not in outcome_roles and s.source == "accounts"]


def feature_frame(accounts: AccountMatrix, columns: list[ColumnSpec], max_tech: int = 20) -> tuple[pd.DataFrame, dict]:
    """The chosen columns as a frame for the pipeline; returns (frame, {numeric, categorical, flags})."""
    data, groups = {}, {"numeric": [], "categorical": [], "flags": []}
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
    map_xy: np.ndarray  # (len(map_rows), 2) PCA coordinates
    silhouette: dict[int, float]  # k -> silhouette on a sample (for the suggested k)
    suggested_k: int
    columns: list[str]
    explained: float  # share of variance the 2-D map shows


def suggest_k(X: np.ndarray, ks=range(2, 9), sample: int = 3000) -> dict[int, float]:
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
    a stratified sample (≤ 5,000 points) with PCA. Same input, same clusters (fixed seeds)."""
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
    best = max(sil, key=sil.get) if sil else 2
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
    pca = PCA(n_components=2, random_state=SEED)
    pca.fit(X_fit)
    xy = pca.transform(pre.transform(frame.iloc[map_rows]).astype(np.float32))
    explained = float(pca.explained_variance_ratio_.sum())
    progress(1.0, "Done")
    labels = relabel_by_size(labels, k)
    return Clustering(k, labels, map_rows, xy, sil, best, [s.header for s in columns], explained)


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
    """One row per cluster: name, size, share, dominant value (and share) of each categorical,
    median of each numeric, top technologies, win rate, churn rate, ARR, share in tiers A+B."""
    labels, k = clustering.labels, clustering.k
    size = np.bincount(labels, minlength=k)
    rows = [{"cluster": c, "accounts": int(size[c]), "share": size[c] / max(len(labels), 1)} for c in range(k)]
    name_parts = [dict() for _ in range(k)]
    for s in columns:
        if s.kind in ("number", "year"):
            x = accounts.column_array(s)
            for c in range(k):
                v = x[labels == c]
                v = v[np.isfinite(v)]
                med = float(np.median(v)) if len(v) else math.nan
                rows[c][f"{s.header} (median)"] = med
                if s.role == "employees":
                    name_parts[c]["size"] = next(w for lim, w in SIZE_WORDS if med < lim) if not math.isnan(med) else None
        elif s.kind == "list":
            opts, mat = accounts.technology_flags(s, limit=20)
            if not opts:
                continue
            overall = mat.mean(axis=0)
            for c in range(k):
                share = mat[labels == c].mean(axis=0) if size[c] else np.zeros(len(opts))
                lift = np.where(overall > 0, share / np.maximum(overall, 1e-9), 0)
                top = [opts[i] for i in np.argsort(-share)[:3] if share[i] >= 0.3]
                rows[c][f"{s.header} (top)"] = ", ".join(top)
                best = int(np.argmax(np.where(share >= 0.5, lift, 0)))
                if share[best] >= 0.5 and lift[best] >= 1.3:
                    name_parts[c]["tech"] = opts[best]
        else:
            codes, values = accounts.column_codes(s)
            for c in range(k):
                cc = codes[(labels == c) & (codes >= 0)]
                if len(cc) == 0:
                    rows[c][s.header] = "–"
                    continue
                cnt = np.bincount(cc, minlength=len(values))
                top = int(np.argmax(cnt))
                share = cnt[top] / size[c]
                rows[c][s.header] = f"{values[top]} ({share:.0%})"
                if s.role == "industry" and share >= 0.4:
                    name_parts[c]["industry"] = _title(values[top])
                elif s.role in ("region", "country") and share >= 0.6 and "geo" not in name_parts[c]:
                    name_parts[c]["geo"] = values[top]
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
    names = []
    for c in range(k):
        p = name_parts[c]
        words = " ".join(w for w in (p.get("size"), p.get("industry")) if w) or "Mixed"
        if p.get("geo") and not p.get("industry"):
            words += f" in {p['geo']}"
        if p.get("tech"):
            words += f" on {p['tech']}"
        if words == "Mixed" or words in [w for _, w in SIZE_WORDS]:
            words += " accounts"
        n_same = names.count(words) + sum(1 for x in names if x.startswith(words + " ("))
        names.append(words if n_same == 0 else f"{words} ({n_same + 1})")
    df = pd.DataFrame(rows)
    df.insert(1, "name", names)
    return df


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
                from .evidence import nice_bound
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


