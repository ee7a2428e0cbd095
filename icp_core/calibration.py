"""Calibration round with sales (issue 18, item 4): the people in the room tier a blind sample of
accounts A-D; their tiers are compared with the model's.

- `draw_sample`: 20-40 accounts stratified by the model's tier (as even as the tiers allow; a fixed
  seed), shown by name with a few firmographic columns, scores hidden.
- `calibrate`: per rater and overall, linearly weighted Cohen's kappa between the rater's tier and
  the model's (A=0 .. D=3; Disqualified counts as D), with the confusion table (model × rater);
  the accounts with the largest disagreement (the raters' mean tier against the model's), each with
  the trait that explains the gap; and proposed weight changes (one step toward the raters for a
  trait that explains at least two gaps in the same direction) with the backtest AUC before → after.
- `blind_sheet` / `read_sheet`: the same round as a spreadsheet (one column per rater) for the CLI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .scoring import DISQUALIFIED_CODE, TIER_LABELS

TIERS4 = TIER_LABELS[:4]  # the raters' scale: A-D (Disqualified counts as D)
MIN_N, MAX_N = 20, 40
SAMPLE_ID = "Sample ID"


class CalibrationError(ValueError):
    """A sheet or rating that cannot be used; the message says what is wrong."""


def model_tier4(tier: np.ndarray) -> np.ndarray:
    """The model's tier on the raters' A-D scale: Disqualified (4) counts as D (3)."""
    return np.minimum(np.asarray(tier, dtype=np.int64), 3)


def draw_sample(result, n: int = 30, seed: int = 0) -> np.ndarray:
    """Account positions, `n` of them (20-40) spread as evenly as the tiers allow over A, B, C, D and
    Disqualified, in a shuffled order (so the sheet does not give the tiers away). Accounts with
    Insufficient data are not drawn: there is nothing for the model to be compared on."""
    if not MIN_N <= n <= MAX_N:
        raise CalibrationError(f"a calibration round has {MIN_N} to {MAX_N} accounts, not {n}")
    rng = np.random.default_rng(seed)
    tier = np.asarray(result.tier)
    drawn = range(DISQUALIFIED_CODE + 1)
    pools = [rng.permutation(np.flatnonzero(tier == t)) for t in drawn]
    if sum(len(p) for p in pools) < n:
        raise CalibrationError(f"the dataset has {sum(len(p) for p in pools)} accounts; a round needs {n}")
    take = [0] * len(drawn)
    while sum(take) < n:  # one more from each tier that has some left, in turn
        for t in drawn:
            if sum(take) < n and take[t] < len(pools[t]):
                take[t] += 1
    rows = np.concatenate([pools[t][: take[t]] for t in drawn])
    return rng.permutation(rows)


def sheet_columns(accounts) -> list:
    """The columns a rater sees: the account's name (or id) and its firmographics, no outcome."""
    from .roles import ROLES

    return [s for s in accounts.specs if ROLES[s.role].group in ("identity", "firmographic", "technographic")
            and s.role not in ("account_id", "domain")][:8]


def blind_sheet(accounts, rows: np.ndarray, raters: list[str]) -> pd.DataFrame:
    """The round as a table: Sample ID, the columns a rater sees (raw text), one empty column per rater."""
    if not raters or len(set(raters)) != len(raters) or any(not r.strip() for r in raters):
        raise CalibrationError("name each rater once (e.g. --raters 'Ann, Bo')")
    cols = sheet_columns(accounts)
    with accounts._connect() as con:
        from .sql import quote_ident

        sel = ", ".join(f"CAST({quote_ident(s.key + '__raw')} AS VARCHAR)" for s in cols)
        got = con.execute(f"SELECT row_id, {sel} FROM accounts WHERE row_id IN "
                          f"({', '.join(str(int(r) + 1) for r in rows)})").fetchall()
    by_row = {r[0] - 1: r[1:] for r in got}
    frame = pd.DataFrame([by_row[int(r)] for r in rows], columns=[s.header for s in cols], dtype=object).fillna("")
    frame.insert(0, SAMPLE_ID, [int(r) + 1 for r in rows])
    for r in raters:
        frame[r.strip()] = ""
    return frame


def sheet_label(row: pd.Series) -> str:
    """One account of the sheet as a line a rater reads: its name, then each known value; a number
    carries its column's name ("Employees 33")."""
    parts = []
    for i, (header, value) in enumerate(row.items()):
        text = str(value).strip()
        if header == SAMPLE_ID or not text:
            continue
        numeric = text.replace(",", "").replace(".", "").replace("$", "").replace("€", "").isdigit()
        parts.append(f"{header} {text}" if i > 1 and numeric else text)
    return " · ".join(parts)


def read_sheet(frame: pd.DataFrame, n_accounts: int, known: set[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(account positions, {rater: tier codes 0-3, -1 where blank}) from a filled sheet; `known`: the
    sheet's own columns (not raters). CalibrationError naming the first bad cell."""
    if SAMPLE_ID not in frame.columns:
        raise CalibrationError(f"the sheet has no “{SAMPLE_ID}” column: use the sheet `calibration export` wrote")
    ids = pd.to_numeric(frame[SAMPLE_ID], errors="coerce")
    if ids.isna().any() or not ids.between(1, n_accounts).all():
        bad = frame[SAMPLE_ID][ids.isna() | ~ids.between(1, n_accounts)].iloc[0]
        raise CalibrationError(f"“{SAMPLE_ID}” {bad!r:.30} is not an account of this dataset")
    raters = [c for c in frame.columns if c not in known and c != SAMPLE_ID]
    if not raters:
        raise CalibrationError("the sheet has no rater column")
    out = {}
    for r in raters:
        raw = frame[r].fillna("").astype(str)
        text = raw.str.strip().str.upper()
        bad = text[~text.isin(["", *TIERS4])]
        if len(bad):  # the cell as typed in the message
            raise CalibrationError(f"rater “{r}”, {SAMPLE_ID} {frame[SAMPLE_ID][bad.index[0]]}: "
                                   f"“{raw[bad.index[0]].strip()[:20]}” is not a tier (A, B, C or D)")
        codes = text.map({t: i for i, t in enumerate(TIERS4)}).fillna(-1).astype(int).to_numpy()
        if (codes >= 0).sum() == 0:
            continue
        out[str(r)] = codes
    if not out:
        raise CalibrationError("no rater tiered any account")
    return ids.astype(int).to_numpy() - 1, out


@dataclass
class Calibration:
    per_rater: pd.DataFrame  # rater, accounts, kappa
    overall: float  # kappa over every (rater, account) pair
    confusion: pd.DataFrame  # model tier (rows A-D) × rater tier (columns A-D)
    disagreements: pd.DataFrame  # row, model, raters (mean), gap, trait, direction
    proposals: pd.DataFrame  # trait id, trait, weight, proposed, auc_before, auc_after
    n: int
    raters: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """What is saved with the version (the profile's "calibration" section)."""
        return {"accounts": self.n, "raters": self.raters,
                "kappa": None if math.isnan(self.overall) else round(self.overall, 3),
                "per_rater": {r.rater: (None if math.isnan(r.kappa) else round(r.kappa, 3))
                              for r in self.per_rater.itertuples()}}


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(a) < 2 or (len(np.unique(a)) < 2 and len(np.unique(b)) < 2):
        return math.nan
    return float(cohen_kappa_score(a, b, weights="linear", labels=list(range(4))))


def _explaining_trait(result, pos: int, raters_higher: bool) -> int | None:
    """The trait that explains why the model tiers this account lower (or higher) than the raters:
    raters higher -> the most negative matched trait, else the heaviest positive trait it misses;
    raters lower -> the heaviest positive trait it matches."""
    matched = result.patterns.matrix[result.patterns.inv[pos]]
    w = np.array([t.weight for t in result.traits])
    if raters_higher:
        neg = np.flatnonzero(matched & (w < 0))
        if len(neg):
            return int(neg[np.argmin(w[neg])])
        miss = np.flatnonzero(~matched & (w > 0))
        return int(miss[np.argmax(w[miss])]) if len(miss) else None
    pos_t = np.flatnonzero(matched & (w > 0))
    return int(pos_t[np.argmax(w[pos_t])]) if len(pos_t) else None


def calibrate(accounts, profile, result, rows: np.ndarray, ratings: dict[str, np.ndarray], outcome=None,
              top: int = 5) -> Calibration:
    """Compare the raters' tiers of the accounts at `rows` with the model's (see the module docstring)."""
    rows = np.asarray(rows, dtype=np.int64)
    model = model_tier4(result.tier[rows])
    per, pairs_m, pairs_r = [], [], []
    for name, codes in ratings.items():
        on = codes >= 0
        per.append({"rater": name, "accounts": int(on.sum()), "kappa": _kappa(model[on], codes[on])})
        pairs_m.append(model[on])
        pairs_r.append(codes[on])
    all_m, all_r = np.concatenate(pairs_m), np.concatenate(pairs_r)
    confusion = pd.crosstab(pd.Categorical([TIERS4[i] for i in all_m], categories=TIERS4),
                            pd.Categorical([TIERS4[i] for i in all_r], categories=TIERS4), dropna=False)
    confusion.index.name, confusion.columns.name = "model", "raters"
    stack = np.vstack([np.where(c >= 0, c, np.nan) for c in ratings.values()])
    with np.errstate(all="ignore"):
        mean = np.nanmean(stack, axis=0)
    gap = model - mean  # > 0: the raters tier it higher (a better tier) than the model
    order = [i for i in np.argsort(-np.abs(np.nan_to_num(gap)), kind="stable") if abs(np.nan_to_num(gap[i])) >= 1]
    dis = []
    for i in order:
        t = _explaining_trait(result, int(rows[i]), gap[i] > 0)
        dis.append({"row": int(rows[i]), "model": TIERS4[model[i]], "raters": round(float(mean[i]), 2),
                    "gap": round(float(gap[i]), 2), "trait": result.traits[t].label if t is not None else "",
                    "trait_index": -1 if t is None else t, "direction": "raters higher" if gap[i] > 0 else "raters lower"})
    disagreements = pd.DataFrame(dis, columns=["row", "model", "raters", "gap", "trait", "trait_index", "direction"])
    proposals = _proposals(accounts, profile, result, disagreements, outcome)
    return Calibration(pd.DataFrame(per, columns=["rater", "accounts", "kappa"]),
                       _kappa(all_m, all_r), confusion, disagreements.head(top).reset_index(drop=True), proposals,
                       len(rows), list(ratings))


def _proposals(accounts, profile, result, dis: pd.DataFrame, outcome) -> pd.DataFrame:
    """One step toward the raters for each trait that explains two or more gaps in one direction,
    with the backtest AUC of the profile before and after that change alone."""
    from .backtest import live_backtest
    from .scoring import score_profile

    cols = ["trait_id", "trait", "weight", "proposed", "gaps", "auc_before", "auc_after"]
    if dis.empty:
        return pd.DataFrame(columns=cols)
    base_auc = math.nan
    if outcome is not None:
        try:
            base_auc = live_backtest(accounts, result, outcome).auc
        except ValueError:
            outcome = None
    out = []
    for (ti, direction), g in dis[dis.trait_index >= 0].groupby(["trait_index", "direction"]):
        if len(g) < 2:
            continue
        t = result.traits[int(ti)]
        # raters higher: a penalty the accounts match costs too much (+1), or a trait they lack counts too
        # much (-1); raters lower: a trait the accounts match rewards too much (-1)
        step = (1 if t.weight < 0 else -1) if direction == "raters higher" else -1
        proposed = int(np.clip(t.weight + step, -5, 0 if t.trait_class == "stay_away" else 5))
        if proposed == t.weight:
            continue
        after = math.nan
        if outcome is not None:
            changed = profile.with_weights({t.id: proposed})
            after = live_backtest(accounts, score_profile(accounts, changed)[0], outcome).auc
        out.append({"trait_id": t.id, "trait": t.label, "weight": t.weight, "proposed": proposed, "gaps": len(g),
                    "auc_before": base_auc, "auc_after": after})
    return pd.DataFrame(out, columns=cols)


def calibration_from_dict(d) -> dict:
    """A saved round's summary (the profile's "calibration" section), checked: ProfileError naming the field."""
    from .profile import ProfileError

    if not isinstance(d, dict) or set(d) - {"accounts", "raters", "kappa", "per_rater", "date"}:
        raise ProfileError("calibration: must be an object with accounts, raters, kappa, per_rater, date")
    n, raters, kappa, per = d.get("accounts"), d.get("raters"), d.get("kappa"), d.get("per_rater")
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_N <= n <= MAX_N:
        raise ProfileError(f"calibration.accounts: a whole number from {MIN_N} to {MAX_N}")
    if (not isinstance(raters, list) or not 1 <= len(raters) <= 30
            or not all(isinstance(r, str) and 0 < len(r) <= 60 for r in raters)):
        raise ProfileError("calibration.raters: 1-30 names of at most 60 characters")
    def ok(k) -> bool:
        return k is None or (isinstance(k, (int, float)) and not isinstance(k, bool) and -1 <= k <= 1)
    if not ok(kappa) or not isinstance(per, dict) or set(per) != set(raters) or not all(ok(v) for v in per.values()):
        raise ProfileError("calibration.kappa / per_rater: kappas from -1 to 1 (or null), one per rater")
    date = d.get("date")
    if date is not None and (not isinstance(date, str) or len(date) > 40):
        raise ProfileError("calibration.date: text of at most 40 characters")
    return {"accounts": n, "raters": list(raters), "kappa": kappa, "per_rater": dict(per),
            **({"date": date} if date else {})}
