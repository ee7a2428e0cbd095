"""Engagement (issue 17): a second axis beside fit. What an account is doing now (recent activity,
meetings, logins, visits, opens, product events, seats), scored 0-100 from activity columns the data
has, and the fit × engagement matrix: tiers A-D × engagement High / Medium / Low, with an action per
cell that goes out as `ICP Action`.

Engagement never changes fit: it is stored with the ICP as a second small profile (`Engagement`,
the profile's "engagement" section) and scored on its own.

Each signal is one column with a weight from -5 to +5, as traits are:

- **recency** (a date column: last activity, last meeting, last login): 0.5 ** (days since / half-life),
  the days counted to `as_of` (default: the latest date in the chosen recency columns, never after
  today, so an old export is read in its own time); a date after `as_of` counts as 0 days; blank 0.
- **count** (a number column: visits, emails opened, meetings, product events, seats used):
  ln(1 + x) / ln(1 + cap), at most 1, where cap is the 95th percentile of the positive values
  (so one outlier does not flatten everyone else); blank or negative counts 0.

score = 100 * (sum of weight * component - sum of negative weights) / (sum of |weights|), the fit
score's arithmetic with components in [0, 1] instead of matches. Levels: High at or above the High
line, Medium at or above the Medium line, else Low; the lines are set by hand or solved for a target
mix of accounts (the tier rule's solver).

Everything is vectorised over the dataset's columns; the per-column components are kept in the
dataset's cache per (column, half-life, as-of), so a weight move costs one weighted sum and a
half-life change one exponential per recency column.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .dataset import day_to_iso
from .profile import (
    DISQUALIFIED,
    INSUFFICIENT,
    TIERS,
    WEIGHT_MAX,
    WEIGHT_MIN,
    ProfileError,
    find_column,
)
from .roles import ROLES, ColumnSpec, normalise_header

LEVELS = ("High", "Medium", "Low")
DEFAULT_HALF_LIFE = 30.0
MAX_SIGNALS = 20
MAX_ACTION_CHARS = 120
CELLS = tuple(f"{t}-{lv}" for t in TIERS for lv in LEVELS)
DEFAULT_ACTIONS = {
    "A-High": "Sales now", "A-Medium": "Sales this week", "A-Low": "ABM ads, warm up",
    "B-High": "Sales now", "B-Medium": "SDR sequence", "B-Low": "Nurture, ABM",
    "C-High": "SDR qualifies fit", "C-Medium": "Nurture", "C-Low": "Nurture",
    "D-High": "Nurture, check fit", "D-Medium": "Low touch", "D-Low": "Do not pursue",
    DISQUALIFIED: "Do not pursue",
    INSUFFICIENT: "Enrich the data, then score",
}
OTHER_CELLS = (DISQUALIFIED, INSUFFICIENT)  # tiers 4 and 5: one cell each, whatever the engagement
# headers that read as activity (suggested signals)
ACTIVITY_WORDS = ("activity", "active", "meeting", "login", "log in", "visit", "session", "email", "open", "click",
                  "event", "seat", "usage", "call", "touch", "engage", "view", "download", "webinar", "reply")
EPOCH = date(1970, 1, 1)


class EngagementError(ValueError):
    """Engagement settings that cannot be used; the message says what is wrong."""


@dataclass
class Signal:
    """One activity column with a weight: recency (a date) or count (a number)."""

    label: str
    kind: str  # recency | count
    role: str | None = None
    column: str | None = None
    weight: int = 1
    id: str = field(default_factory=lambda: "e" + secrets.token_hex(4))


@dataclass
class Engagement:
    """The engagement profile stored with an ICP (its "engagement" section)."""

    signals: list[Signal] = field(default_factory=list)
    half_life_days: float = DEFAULT_HALF_LIFE
    as_of: str | None = None  # ISO date; None: the latest date in the recency columns
    mode: str = "thresholds"  # thresholds | mix
    thresholds: dict[str, float] = field(default_factory=lambda: {"High": 60.0, "Medium": 30.0})
    mix: dict[str, float] = field(default_factory=lambda: {"High": 20.0, "Medium": 30.0, "Low": 50.0})
    actions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def to_dict(self) -> dict:
        return asdict(self)

    def copy(self) -> "Engagement":
        return engagement_from_dict(self.to_dict())


def _num(value, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfileError(f"{where}: must be a finite number, got {value!r:.40}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ProfileError(f"{where}: {value:g} is outside {lo:g}..{hi:g}")
    return float(value)


def _signal_from_dict(s, where: str) -> Signal:
    if not isinstance(s, dict) or set(s) - set(Signal.__dataclass_fields__):
        raise ProfileError(f"{where}: must be an object with label, kind, role or column, weight")
    label, kind, role, col = s.get("label"), s.get("kind"), s.get("role"), s.get("column")
    if not isinstance(label, str) or not label.strip() or len(label) > 200:
        raise ProfileError(f"{where}.label: a label of 1-200 characters is required")
    if kind not in ("recency", "count"):
        raise ProfileError(f"{where}.kind: must be 'recency' or 'count', got {kind!r:.40}")
    if role is not None and role not in ROLES:
        raise ProfileError(f"{where}.role: unknown role {role!r:.40}")
    if col is not None and (not isinstance(col, str) or len(col) > 500):
        raise ProfileError(f"{where}.column: must be text of at most 500 characters")
    if not (role or col):
        raise ProfileError(f"{where}: names no column (give 'role' or 'column')")
    w = _num(s.get("weight", 1), f"{where}.weight", WEIGHT_MIN, WEIGHT_MAX)
    if w != int(w):
        raise ProfileError(f"{where}.weight: must be a whole number from -5 to +5")
    sid = s.get("id") or ("e" + secrets.token_hex(4))
    if not isinstance(sid, str) or len(sid) > 64:
        raise ProfileError(f"{where}.id: must be text of at most 64 characters")
    return Signal(label=label, kind=kind, role=role, column=col, weight=int(w), id=sid)


def _levels_from_dict(e: Engagement, d: dict) -> None:
    e.mode = d.get("mode", "thresholds")
    if e.mode not in ("thresholds", "mix"):
        raise ProfileError(f"engagement.mode: must be 'thresholds' or 'mix', got {e.mode!r:.40}")
    th = d.get("thresholds", e.thresholds)
    if not isinstance(th, dict) or set(th) != {"High", "Medium"}:
        raise ProfileError("engagement.thresholds: needs High and Medium")
    e.thresholds = {k: _num(th[k], f"engagement.thresholds.{k}", 0, 100) for k in ("High", "Medium")}
    if e.thresholds["High"] < e.thresholds["Medium"]:
        raise ProfileError("engagement.thresholds: High must be at or above Medium")
    mix = d.get("mix", e.mix)
    if not isinstance(mix, dict) or set(mix) != set(LEVELS):
        raise ProfileError("engagement.mix: needs High, Medium and Low")
    e.mix = {k: _num(mix[k], f"engagement.mix.{k}", 0, 100) for k in LEVELS}
    if abs(sum(e.mix.values()) - 100) > 0.5:
        raise ProfileError(f"engagement.mix: must add up to 100 % (it adds up to {sum(e.mix.values()):g} %)")


def _actions_from_dict(actions) -> dict[str, str]:
    if not isinstance(actions, dict) or set(actions) - set(DEFAULT_ACTIONS):
        raise ProfileError("engagement.actions: one text per cell (A-High ... D-Low, Disqualified, Insufficient data)")
    out = dict(DEFAULT_ACTIONS)
    for k, v in actions.items():
        if not isinstance(v, str) or len(v) > MAX_ACTION_CHARS:
            raise ProfileError(f"engagement.actions.{k}: text of at most {MAX_ACTION_CHARS} characters")
        out[k] = " ".join(v.split())
    return out


def engagement_from_dict(d) -> Engagement:
    """An Engagement from its JSON form, validated (ProfileError naming the field)."""
    if not isinstance(d, dict):
        raise ProfileError("engagement: must be an object")
    unknown = set(d) - set(Engagement.__dataclass_fields__)
    if unknown:
        raise ProfileError(f"engagement: unknown field {sorted(unknown, key=str)[0]!r:.40}")
    sigs = d.get("signals") or []
    if not isinstance(sigs, list) or len(sigs) > MAX_SIGNALS:
        raise ProfileError(f"engagement.signals: a list of at most {MAX_SIGNALS} signals")
    signals = [_signal_from_dict(s, f"engagement.signals[{i}]") for i, s in enumerate(sigs)]
    if len({s.id for s in signals}) != len(signals):
        raise ProfileError("engagement.signals: two signals share the same id")
    e = Engagement(signals=signals)
    e.half_life_days = _num(d.get("half_life_days", DEFAULT_HALF_LIFE), "engagement.half_life_days", 1, 3650)
    as_of = d.get("as_of")
    if as_of not in (None, ""):
        try:
            date.fromisoformat(str(as_of))
        except ValueError:
            raise ProfileError(f"engagement.as_of: not a date (YYYY-MM-DD): {as_of!r:.40}") from None
        e.as_of = str(as_of)
    _levels_from_dict(e, d)
    e.actions = _actions_from_dict(d.get("actions", DEFAULT_ACTIONS))
    return e


# --------------------------------------------------------------------------- columns


def _is_outcome(spec: ColumnSpec) -> bool:
    return ROLES[spec.role].group in ("outcome", "identity")


def candidate_columns(specs: list[ColumnSpec]) -> list[tuple[ColumnSpec, str]]:
    """(column, kind) that can carry engagement: dates as recency, numbers as counts (not outcome
    or identity columns, which are fit or evidence)."""
    out = []
    for s in specs:
        if _is_outcome(s) or s.role == "ignore" or s.source != "accounts" or s.header.endswith(" rows"):
            continue  # (opportunity roll-ups are outcomes; "<file> rows" counts a join's rows)
        if s.kind == "date":
            out.append((s, "recency"))
        elif s.kind == "number" and ROLES[s.role].group == "generic":
            out.append((s, "count"))
    return out


def suggested_engagement(specs: list[ColumnSpec]) -> Engagement:
    """Signals on the columns whose header reads as activity (weight +3 for recency, +2 for counts)."""
    signals = []
    for s, kind in candidate_columns(specs):
        head = normalise_header(s.header)
        if any(w in head for w in ACTIVITY_WORDS):
            signals.append(signal_for(s, kind, 3 if kind == "recency" else 2))
    return Engagement(signals=signals[:MAX_SIGNALS])


def signal_for(spec: ColumnSpec, kind: str, weight: int = 1) -> Signal:
    semantic = ROLES[spec.role].group != "generic"
    return Signal(label=spec.header, kind=kind, role=spec.role if semantic else None,
                  column=None if semantic else spec.header, weight=weight)


def bind_signals(e: Engagement, specs: list[ColumnSpec]) -> tuple[list[tuple[Signal, ColumnSpec]], list[str]]:
    """Each signal with its column; problems for the ones this dataset cannot use."""
    bound, problems = [], []
    for s in e.signals:
        spec = find_column(s, specs)  # type: ignore[arg-type]  # same role / column lookup as traits
        if spec is None:
            problems.append(f"“{s.label}”: the dataset has no such column")
        elif (s.kind == "recency") != (spec.kind == "date") or (s.kind == "count" and spec.kind != "number"):
            problems.append(f"“{s.label}”: a {s.kind} signal needs a {'date' if s.kind == 'recency' else 'number'} "
                            f"column")
        else:
            bound.append((s, spec))
    return bound, problems


# --------------------------------------------------------------------------- components


def as_of_day(e: Engagement, accounts, bound) -> float | None:
    """The day recency counts to: the set date, else the latest date in the recency columns."""
    if e.as_of:
        return float((date.fromisoformat(e.as_of) - EPOCH).days)
    latest = [np.nanmax(d) for s, spec in bound if s.kind == "recency"
              for d in [accounts.day_numbers(spec)] if np.isfinite(d).any()]
    # never after today: a mistyped future date (2099) must not make every account look asleep
    return float(min(max(latest), (date.today() - EPOCH).days)) if latest else None


def recency_component(days: np.ndarray, as_of: float, half_life: float) -> np.ndarray:
    """0.5 ** (days since / half-life); a later date counts 0 days; blank is 0."""
    since = np.maximum(as_of - days, 0.0)
    return np.where(np.isnan(days), 0.0, np.power(0.5, since / half_life))


def count_cap(values: np.ndarray) -> float:
    """The 95th percentile of the positive values (1 when there are none)."""
    pos = values[np.isfinite(values) & (values > 0)]
    return float(np.quantile(pos, 0.95)) if len(pos) else 1.0


def count_component(values: np.ndarray, cap: float) -> np.ndarray:
    """ln(1 + x) / ln(1 + cap), at most 1; blank or negative is 0."""
    x = np.where(np.isfinite(values), np.maximum(values, 0.0), 0.0)
    return np.minimum(np.log1p(x) / math.log1p(cap), 1.0) if cap > 0 else np.zeros_like(x)


@dataclass
class EngagementResult:
    score: np.ndarray  # 0-100 per account (float64)
    level: np.ndarray  # 0 High, 1 Medium, 2 Low per account (int8)
    lines: dict[str, float]  # the High and Medium lines used
    as_of: str | None
    caps: dict[str, float]  # count signal id -> cap
    signals: list[tuple[Signal, ColumnSpec]]
    problems: list[str]

    @property
    def level_labels(self) -> np.ndarray:
        return np.array(LEVELS, dtype=object)[self.level]


def _component(accounts, s: Signal, spec: ColumnSpec, as_of: float | None, half_life: float):
    if s.kind == "recency" and as_of is not None:
        key = ("eng-recency", spec.key, as_of, half_life)
        return accounts.memo(key, lambda: recency_component(accounts.day_numbers(spec), as_of, half_life)), None
    values = accounts.column_array(spec)
    cap = accounts.memo(("eng-cap", spec.key), lambda: count_cap(values))
    return accounts.memo(("eng-count", spec.key), lambda: count_component(values, cap)), cap


def score_engagement(accounts, e: Engagement) -> EngagementResult | None:
    """Engagement per account, or None when no signal can be used on this dataset."""
    bound, problems = bind_signals(e, accounts.specs)
    weighted = [(s, spec) for s, spec in bound if s.weight]
    if not weighted:
        return None if not bound else _result(accounts, e, np.zeros(accounts.n), bound, problems, None, {})
    as_of = as_of_day(e, accounts, bound)
    total = np.zeros(accounts.n)
    caps = {}
    for s, spec in weighted:
        if s.kind == "recency" and as_of is None:
            continue
        comp, cap = _component(accounts, s, spec, as_of, e.half_life_days)
        if cap is not None:
            caps[s.id] = cap
        total += s.weight * comp
    low = sum(min(s.weight, 0) for s, _ in weighted)
    high = sum(max(s.weight, 0) for s, _ in weighted)
    score = 100.0 * (total - low) / (high - low)
    return _result(accounts, e, score, bound, problems, as_of, caps)


def _result(accounts, e, score, bound, problems, as_of, caps) -> EngagementResult:
    lines = level_lines(e, score)
    level = np.where(score >= lines["High"], 0, np.where(score >= lines["Medium"], 1, 2)).astype(np.int8)
    return EngagementResult(score, level, lines, day_to_iso(as_of) if as_of is not None else None, caps, bound,
                            problems)


def level_lines(e: Engagement, score: np.ndarray) -> dict[str, float]:
    """The High and Medium lines: as set, or solved for the target mix (the tier rule's solver)."""
    if e.mode == "thresholds":
        return dict(e.thresholds)
    from .scoring import solve_mix_thresholds

    rounded = np.round(score, 6)
    values, counts = np.unique(rounded, return_counts=True)
    th = solve_mix_thresholds(values, np.ones(len(values), dtype=bool),
                              {"A": e.mix["High"], "B": e.mix["Medium"], "C": e.mix["Low"], "D": 0.0}, counts)
    return {"High": th["A"], "Medium": th["B"]}


# --------------------------------------------------------------------------- fit × engagement


def cell_labels(tier: np.ndarray, level: np.ndarray) -> np.ndarray:
    """'A-High' ... 'D-Low' per account; 'Disqualified' or 'Insufficient data' for tiers 4 and 5."""
    return np.array([*CELLS, *OTHER_CELLS], dtype=object)[cell_codes(tier, level)]


def cell_codes(tier: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Index into [*CELLS, *OTHER_CELLS] per account (or pattern): tier × level, or the tier's own cell."""
    tier = np.asarray(tier, dtype=np.int64)
    return np.where(tier >= len(TIERS), len(CELLS) + tier - len(TIERS), tier * len(LEVELS) + level)


def actions_for(e: Engagement, tier: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The ICP Action per account: the text of its fit × engagement cell."""
    texts = np.array([e.actions.get(c, "") for c in (*CELLS, *OTHER_CELLS)], dtype=object)
    return texts[cell_codes(tier, level)]


def engagement_key(e: Engagement, res: EngagementResult) -> str:
    """What decides the levels (not the actions): the cache key of the cells' grouping."""
    import json

    return json.dumps([[asdict(s) for s, _ in res.signals], e.half_life_days, res.as_of, res.lines])


def cell_groups(accounts, result, res: EngagementResult, key: str) -> dict:
    """Accounts grouped per (match pattern, engagement level), with their counts, ARR, open deals,
    won and lost deals: cached per trait definitions and engagement key, so a weight move re-reads
    only the patterns' tiers."""
    def compute() -> dict:
        pair = result.patterns.inv.astype(np.int64) * len(LEVELS) + res.level
        uniq, inv = np.unique(pair, return_inverse=True)
        inv = inv.ravel()
        size = len(uniq)
        return {"pat": uniq // len(LEVELS), "level": uniq % len(LEVELS),
                "count": np.bincount(inv, minlength=size).astype(np.int64),
                "arr": np.bincount(inv, weights=np.nan_to_num(accounts.arr), minlength=size),
                "open": np.bincount(inv, weights=accounts.won == 2, minlength=size),
                "won": np.bincount(inv, weights=accounts.won_deals, minlength=size),
                "lost": np.bincount(inv, weights=accounts.lost_deals, minlength=size)}
    return accounts.memo(("eng-cells", tuple(t.definition_key() for t in result.traits), key), compute)


def fit_engagement_matrix(result, res: EngagementResult, accounts, e: Engagement, key: str | None = None) -> pd.DataFrame:
    """One row per cell (A-High ... D-Low, then Disqualified): accounts, ARR, accounts with open
    deals, win rate (won / (won + lost) deals, as the tier cards count them) and the cell's action."""
    g = cell_groups(accounts, result, res, key if key is not None else engagement_key(e, res))
    tier = result.pattern_tier[g["pat"]].astype(np.int64)
    code = cell_codes(tier, g["level"])
    cells = [*CELLS, *OTHER_CELLS]
    n, arr, open_, won, lost = (np.bincount(code, weights=g[k], minlength=len(cells))
                                for k in ("count", "arr", "open", "won", "lost"))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "cell": cells,
            "tier": [c.split("-")[0] if c not in OTHER_CELLS else c for c in cells],
            "level": [c.split("-")[1] if c not in OTHER_CELLS else "" for c in cells],
            "accounts": n.astype(np.int64),
            "arr": arr if accounts.has["arr"] else np.nan,
            "open": open_.astype(np.int64),
            "win_rate": np.where(won + lost > 0, won / (won + lost), np.nan) if accounts.has["won"] else np.nan,
            "action": [e.actions.get(c, "") for c in cells],
        })


def shown_tiers(scored) -> np.ndarray:
    """Per account the tier the export's `ICP Tier` shows: the profile's, or (an ICP set) the tier in
    the ICP the account fits best or comes closest in."""
    if not hasattr(scored, "results"):
        return scored.tier
    c = scored.combos
    per_combo = np.choose(scored.combo_closest.astype(np.int64),
                          [r.pattern_tier[c.pats[:, i]] for i, r in enumerate(scored.results)])
    return per_combo[c.inv]


EXPORT_COLUMNS = ("ICP Engagement", "ICP Engagement Level", "ICP Action")


def export_columns(res: EngagementResult, e: Engagement, scored) -> dict:
    """The per-account engagement columns a scored export carries (export's `extra`)."""
    tier = shown_tiers(scored)
    return {"ICP Engagement": np.round(res.score, 1), "ICP Engagement Level": res.level_labels,
            "ICP Action": actions_for(e, tier, res.level)}


# --------------------------------------------------------------------------- warehouse SQL


def signal_column(s: Signal) -> str:
    """The warehouse column a signal reads (as warehouse.column_name names a trait's)."""
    from .warehouse import column_name

    return column_name(s)  # type: ignore[arg-type]  # role / column, as on a trait


def engagement_expressions(e: Engagement, res: EngagementResult, tier_col: str = "icp_tier"):
    """sqlglot expressions (engagement score, level, action) over a warehouse row holding the signals'
    columns and `tier_col`: the app's arithmetic with the same as-of day, half-life, caps and lines."""
    from sqlglot import exp

    from .sql import column, literal

    weighted = [(s, spec) for s, spec in res.signals if s.weight and (s.kind == "count" or res.as_of is not None)]
    low = sum(min(s.weight, 0) for s, _ in weighted)
    high = sum(max(s.weight, 0) for s, _ in weighted)
    terms = []
    for s, _spec in weighted:
        col = column(signal_column(s))
        if s.kind == "recency":
            since = exp.DateDiff(this=exp.Cast(this=literal(res.as_of), to=exp.DataType.build("DATE")),
                                 expression=exp.Cast(this=col, to=exp.DataType.build("DATE")), unit=exp.var("DAY"))
            days = exp.Greatest(this=exp.Cast(this=since, to=exp.DataType.build("DOUBLE")), expressions=[literal(0.0)])
            comp: exp.Expression = exp.Case(
                ifs=[exp.If(this=exp.Is(this=col.copy(), expression=exp.Null()), true=literal(0.0))],
                default=exp.Pow(this=literal(0.5), expression=exp.Div(this=days, expression=literal(e.half_life_days))))
        else:
            cap = res.caps.get(s.id, 1.0)
            x = exp.Greatest(this=exp.Coalesce(this=exp.Cast(this=col, to=exp.DataType.build("DOUBLE")),
                                               expressions=[literal(0.0)]), expressions=[literal(0.0)])
            comp = exp.Least(this=exp.Div(this=exp.Ln(this=exp.Add(this=literal(1.0), expression=x)),
                                          expression=literal(math.log1p(cap))), expressions=[literal(1.0)])
        terms.append(exp.Mul(this=literal(float(s.weight)), expression=exp.Paren(this=comp)))
    if terms and high > low:
        total: exp.Expression = terms[0]
        for t in terms[1:]:
            total = exp.Add(this=total, expression=t)
        score: exp.Expression = exp.Mul(this=literal(100.0), expression=exp.Div(
            this=exp.Paren(this=exp.Sub(this=exp.Paren(this=total), expression=literal(float(low)))),
            expression=literal(float(high - low))))
    else:
        score = literal(0.0)
    level = exp.Case(ifs=[exp.If(this=exp.GTE(this=exp.column("icp_engagement"), expression=literal(float(v))),
                                 true=literal(k)) for k, v in res.lines.items() if math.isfinite(v)],
                     default=literal("Low"))
    tier = exp.column(tier_col)
    action = exp.Case(ifs=[exp.If(this=exp.and_(exp.EQ(this=tier.copy(), expression=literal(c.split("-")[0])),
                                                exp.EQ(this=exp.column("icp_engagement_level"),
                                                       expression=literal(c.split("-")[1]))),
                                  true=literal(e.actions.get(c, ""))) for c in CELLS]
                      + [exp.If(this=exp.EQ(this=tier.copy(), expression=literal(c)),
                                true=literal(e.actions.get(c, ""))) for c in OTHER_CELLS],
                      default=literal(""))
    return score, level, action


def with_engagement(query, e: Engagement, res: EngagementResult, tier_col: str = "icp_tier"):
    """A scoring query (sqlglot Select) with icp_engagement, icp_engagement_level and icp_action added."""
    from sqlglot import exp

    score, level, action = engagement_expressions(e, res, tier_col)
    s1 = exp.select(exp.Star(), exp.alias_(score, "icp_engagement")).from_(
        exp.alias_(exp.Subquery(this=query), "icp_s", table=True))
    s2 = exp.select(exp.Star(), exp.alias_(level, "icp_engagement_level")).from_(
        exp.alias_(exp.Subquery(this=s1), "icp_e", table=True))
    return exp.select(exp.Star(), exp.alias_(action, "icp_action")).from_(
        exp.alias_(exp.Subquery(this=s2), "icp_l", table=True))


def set_engagement(profiles: list) -> Engagement | None:
    """The engagement of a set of ICPs: the first ICP's (set order) that has one. One engagement per
    export and per warehouse query, since engagement is about the account, not the ICP."""
    return next((p.engagement for p in profiles if p.engagement is not None), None)


def engagement_extra(profiles: list, accounts, scored) -> dict:
    """The engagement columns of a scored export ({} without engagement): export's `extra`."""
    e = set_engagement(profiles)
    res = score_engagement(accounts, e) if e is not None else None
    return export_columns(res, e, scored) if res is not None and e is not None else {}
