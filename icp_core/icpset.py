"""ICP sets: 1-6 named profiles scored together ("mid-market fintech", "enterprise healthcare").

Every account gets a score and tier per ICP and a **best-fit ICP**: the ICP where its tier is
highest (A before B ...), then its score; a tie in both goes to the ICP listed first. An account
that is D or disqualified in every ICP has no best fit ("none"). Its ICP Score, Tier, Reasons,
Flags and Next Step in exports are those of that best ICP (for "none", of the ICP it comes
closest in, by the same order).

A set is read from a set file ({"schema": "icp_set", "name", "profiles": [...]}) or from a
single-profile JSON (a set of one), so every profile file keeps working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .profile import (
    DISQUALIFIED,
    INSUFFICIENT,
    MAX_NAME_CHARS,
    MAX_PROFILE_JSON_BYTES,
    TIERS,
    Profile,
    ProfileError,
    profile_from_dict,
    validate_profile,
)

SET_SCHEMA = "icp_set"
SET_SCHEMA_VERSION = 1
MAX_ICPS = 6
NONE = "none"  # the best fit of an account that is D or disqualified in every ICP
TIER_ORDER = (*TIERS, DISQUALIFIED, INSUFFICIENT)  # tier codes 0..5 (scoring.TIER_LABELS)


@dataclass
class IcpSet:
    """Named profiles scored together, in the order they are listed (ties go to the first)."""

    profiles: list[Profile] = field(default_factory=list)
    name: str = "ICP set"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.profiles]

    def to_dict(self) -> dict:
        return {"schema": SET_SCHEMA, "schema_version": SET_SCHEMA_VERSION, "name": self.name,
                "profiles": [p.to_dict() for p in self.profiles]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def validate_icp_set(s: IcpSet) -> IcpSet:
    """1-6 valid profiles with distinct, non-empty names (compared without case and outer
    spaces, as a reader would); ProfileError naming the problem otherwise."""
    if not isinstance(s.name, str) or not s.name.strip():
        s.name = "ICP set"
    if len(s.name) > MAX_NAME_CHARS:
        raise ProfileError(f"name: at most {MAX_NAME_CHARS} characters, got {len(s.name):,}")
    if not s.profiles:
        raise ProfileError("an ICP set holds at least one profile")
    if len(s.profiles) > MAX_ICPS:
        raise ProfileError(f"an ICP set holds at most {MAX_ICPS} profiles, this one has {len(s.profiles)}")
    seen: dict[str, int] = {}
    for i, p in enumerate(s.profiles):
        try:
            validate_profile(p)
        except ProfileError as exc:
            raise ProfileError(f"profiles[{i}] ({p.name!r}): {exc}") from None
        key = p.name.strip().casefold()
        if not key:
            raise ProfileError(f"profiles[{i}]: every ICP in a set needs a name")
        if key in seen:
            first = s.profiles[seen[key]].name.strip()
            raise ProfileError(f"two ICPs are named “{first}” (profiles {seen[key] + 1} and {i + 1}, ignoring case "
                               "and outer spaces): each ICP in a set needs its own name")
        seen[key] = i
    return s


def icp_set_from_dict(d) -> IcpSet:
    """A set from a set file's JSON form, or a set of one from a single profile's."""
    if not isinstance(d, dict):
        raise ProfileError("not an ICP set or profile: expected a JSON object")
    if d.get("schema") != SET_SCHEMA:
        return validate_icp_set(IcpSet([profile_from_dict(d)], name=str(d.get("name") or "ICP set")))
    if d.get("schema_version") != SET_SCHEMA_VERSION or isinstance(d.get("schema_version"), bool):
        raise ProfileError(f"unsupported ICP set schema_version {d.get('schema_version')!r} "
                           f"(this version reads {SET_SCHEMA_VERSION})")
    profiles = d.get("profiles")
    if not isinstance(profiles, list):
        raise ProfileError("profiles: must be a list of profiles")
    if len(profiles) > MAX_ICPS:
        raise ProfileError(f"an ICP set holds at most {MAX_ICPS} profiles, this one has {len(profiles)}")
    out = []
    for i, pd_ in enumerate(profiles):
        try:
            out.append(profile_from_dict(pd_))
        except ProfileError as exc:
            raise ProfileError(f"profiles[{i}]: {exc}") from None
    name = d.get("name")
    return validate_icp_set(IcpSet(out, name=name if isinstance(name, str) else "ICP set"))


def icp_set_from_json(text: str | bytes) -> IcpSet:
    """A set from JSON text (a set file or one profile); ProfileError for anything else."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise ProfileError("not an ICP set: expected JSON text")
    if len(text) > MAX_PROFILE_JSON_BYTES * MAX_ICPS:
        raise ProfileError(f"not an ICP set: larger than {MAX_PROFILE_JSON_BYTES * MAX_ICPS:,} bytes")
    try:
        d = json.loads(text)
    except RecursionError:
        raise ProfileError("not an ICP set: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProfileError(f"not valid JSON ({str(exc)[:200]})") from None
    if not (isinstance(d, dict) and d.get("schema") == SET_SCHEMA) and len(text) > MAX_PROFILE_JSON_BYTES:
        raise ProfileError(f"not a profile: larger than {MAX_PROFILE_JSON_BYTES:,} bytes ({len(text):,})")
    return icp_set_from_dict(d)


def combine_profiles(profiles: list[Profile], name: str = "ICP set") -> IcpSet:
    """A set from several profiles (e.g. several --profile files); each file's own set must hold
    one profile."""
    return validate_icp_set(IcpSet(list(profiles), name=name))


# --------------------------------------------------------------------------- scoring a set

@dataclass
class Combos:
    """Accounts grouped by their match pattern in every ICP of a set (the set's analogue of
    dataset.Patterns): a weight change re-ranks the combinations (thousands), not the accounts."""

    inv: np.ndarray  # (n,) combination of each account
    pats: np.ndarray  # (C, k) each combination's match pattern in each ICP
    count: np.ndarray  # (C,) accounts per combination
    first: np.ndarray  # (C,) first account of each combination
    customers: np.ndarray  # (C,) current customers (tam.known_customers; zeros when unknown)
    pipeline: np.ndarray  # (C,) accounts with open deals


def group_combos(patterns: list, accounts=None) -> Combos:
    """Combine the ICPs' match patterns (one dataset.Patterns per ICP, same accounts). O(k x n)."""
    from .tam import known_customers

    key = np.zeros(patterns[0].n, dtype=np.int64)
    for p in patterns:  # each step keeps the key below n x patterns: no overflow
        key = np.unique(key * len(p.count) + p.inv, return_inverse=True)[1].astype(np.int64)
    _, first, inv, count = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    c = len(first)
    customers = known_customers(accounts) if accounts is not None else None
    return Combos(inv=inv.astype(np.int64), pats=np.column_stack([p.inv[first] for p in patterns]),
                  count=count.astype(np.int64), first=first.astype(np.int64),
                  customers=(np.bincount(inv, weights=customers, minlength=c) if customers is not None
                             else np.zeros(c)),
                  pipeline=(np.bincount(inv, weights=accounts.won == 2, minlength=c) if accounts is not None
                            else np.zeros(c)))


def combos_for(accounts, bound_per_icp: list) -> Combos:
    """group_combos for the ICPs' bound traits, kept in the dataset's cache per set of trait
    definitions (a weight, class or tier change reuses it)."""
    key = ("icp_combos",) + tuple(tuple(t.definition_key() for t, _ in bound) for bound in bound_per_icp)

    def compute() -> dict:
        return vars(group_combos([accounts.patterns(bound) for bound in bound_per_icp], accounts))
    return Combos(**accounts.memo(key, compute))  # a dict of arrays: the cache counts its bytes


@dataclass
class SetScore:
    """Scores of one set on one dataset: one ScoreResult per ICP (set order) and the best fit,
    held per combination of match patterns (Combos) and expanded to accounts on use."""

    names: list[str]
    results: list  # list[ScoreResult]
    combos: Combos
    combo_best: np.ndarray  # (C,) int8: index of the best-fit ICP, -1 for none
    combo_closest: np.ndarray  # (C,) int8: index of the ICP the combination ranks best in

    @property
    def n(self) -> int:
        return len(self.combos.inv)

    @property
    def best(self) -> np.ndarray:
        """(n,) index of each account's best-fit ICP, -1 for none."""
        return self.combo_best[self.combos.inv]

    @property
    def closest(self) -> np.ndarray:
        """(n,) index of the ICP each account ranks best in (none included)."""
        return self.combo_closest[self.combos.inv]

    def best_fit_labels(self) -> np.ndarray:
        """Per account: the best-fit ICP's name, or "none"."""
        labels = np.array([*self.names, NONE], dtype=object)
        return labels[np.where(self.combo_best >= 0, self.combo_best, len(self.names))][self.combos.inv]


def fit_keys(results: list, pats: np.ndarray) -> np.ndarray:
    """(k, C) fit key of each ICP for each combination of patterns `pats` (C, k): lower is a better
    fit. Tier codes 0 (A) .. 4 (Disqualified), 5 (Insufficient data) and scores 0..100 make one key
    that orders by tier, then score: A's keys are -100..0, B's 900..1000, C's 1900..2000, D's 2900..3000."""
    return np.vstack([(r.pattern_tier.astype(np.float64) * 1000.0 - r.pattern_score)[pats[:, i]]
                      for i, r in enumerate(results)])


def fit_order(results: list, pats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(closest, best) per combination of patterns `pats` (C, k): closest is the ICP with the
    highest tier then the highest score (ties: the ICP listed first); best is closest, or -1
    where that tier is D or Disqualified."""
    keys = fit_keys(results, pats)
    closest = np.argmin(keys, axis=0)  # argmin keeps the first of equal keys: the ICP listed first
    best_key = keys[closest, np.arange(keys.shape[1])]
    fit = best_key < 2500.0  # A, B or C somewhere: C's keys are 1900..2000, D's 2900..3000
    return closest.astype(np.int8), np.where(fit, closest, -1).astype(np.int8)


def score_set(accounts, icp_set: IcpSet) -> tuple[SetScore, list]:
    """Score every ICP of the set on the dataset; (SetScore, [Binding per ICP])."""
    from .scoring import score_profile

    results, bindings = [], []
    for p in icp_set.profiles:
        r, b = score_profile(accounts, p)
        results.append(r)
        bindings.append(b)
    return set_score(icp_set.names, results, combos_for(accounts, [b.traits for b in bindings])), bindings


def set_score(names: list[str], results: list, combos: Combos | None = None) -> SetScore:
    """The set's best fit from its ICPs' results (combos: combos_for(...), else grouped here)."""
    combos = combos if combos is not None else group_combos([r.patterns for r in results])
    closest, best = fit_order(results, combos.pats)
    return SetScore(list(names), list(results), combos, best, closest)


# --------------------------------------------------------------------------- overlap

def overlap(score: SetScore) -> dict:
    """How the ICPs overlap: {"best_fit": DataFrame (icp, accounts, share) per ICP and "none",
    "multi_ab": accounts that are A or B in two or more ICPs, "matrix": DataFrame ICP x tier
    (A, B, C, D, Disqualified, Insufficient data) of account counts}. O(combinations)."""
    k, n, c = len(score.names), score.n, score.combos
    counts = np.bincount(np.where(score.combo_best >= 0, score.combo_best, k), weights=c.count, minlength=k + 1)
    best = pd.DataFrame({"icp": [*score.names, NONE], "accounts": counts.astype(np.int64),
                         "share": counts / max(n, 1)})
    ab = np.zeros(len(c.count), dtype=np.int64)
    rows = []
    for i, r in enumerate(score.results):
        tier = r.pattern_tier[c.pats[:, i]].astype(np.int64)
        ab += tier <= 1
        rows.append(np.bincount(tier, weights=c.count, minlength=len(TIER_ORDER))[:len(TIER_ORDER)])
    matrix = pd.DataFrame(np.vstack(rows).astype(np.int64), index=pd.Index(score.names, name="icp"),
                          columns=list(TIER_ORDER))
    return {"best_fit": best, "multi_ab": int(c.count[ab >= 2].sum()), "matrix": matrix}
