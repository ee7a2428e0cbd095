"""ICP profiles: traits with -5..+5 weights and classes, a tier rule, as a versioned JSON document.

A `Trait` is one rule on one column. It names its column by the column's mapped **role**
(`industry`, `employees`, `technologies`, ...) where the column has a semantic role, so a
profile built on one CRM's export scores another CRM's export with other headers; any other
column is named by its header. `resolve_profile` binds the traits to a dataset's columns and
names the traits whose column is missing.

Profile JSON (schema version 1), see README "ICP profile format":

    {"schema_version": 1, "name": "...", "description": "...",
     "created_at": "2026-11-25T10:00:00Z", "updated_at": "...",
     "traits": [{"id": "t1", "label": "Industry in Fintech, SaaS", "role": "industry",
                 "column": null, "rule": "in_set", "values": ["fintech", "saas"],
                 "min": null, "max": null, "weight": 5, "trait_class": "nice_to_have",
                 "disqualify": false}, ...],
     "tier_rule": {"mode": "thresholds", "thresholds": {"A": 75, "B": 50, "C": 25},
                   "mix": {"A": 10, "B": 20, "C": 30, "D": 40}}}
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, overload

from .formatting import format_number
from .roles import GENERIC_ROLES, ROLES, ColumnSpec, normalise_header

SCHEMA_VERSION = 1
WEIGHT_MIN, WEIGHT_MAX = -5, 5
TIERS = ("A", "B", "C", "D")
DISQUALIFIED = "Disqualified"
INSUFFICIENT = "Insufficient data"  # too little of the ICP's trait weight could be evaluated (issue 18)
STATUSES = ("ok", "low confidence", "insufficient data")  # ICP Status, by status code 0..2

RULES = {
    "in_set": "value is one of",
    "range": "number between",
    "contains_any": "contains any of",
    "is_true": "is true",
    "is_false": "is false",
    "missing": "is missing",
}

TRAIT_CLASSES = {
    "must_have": "Must-have",
    "nice_to_have": "Nice-to-have",
    "caution": "Proceed with caution",
    "stay_away": "Stay away",
}

# Which rules fit which cleaning kind (see clean.clean_expression)
RULES_FOR_KIND = {
    "category": ("in_set", "missing"),
    "category_folded": ("in_set", "missing"),
    "country": ("in_set", "missing"),
    "stage": ("in_set", "missing"),
    "text": ("in_set", "missing"),
    "id": ("in_set", "missing"),
    "number": ("range", "missing"),
    "year": ("range", "missing"),
    "list": ("contains_any", "missing"),
    "boolean": ("is_true", "is_false", "missing"),
    "churn": ("is_true", "is_false", "missing"),
    "date": ("missing",),
}



class ProfileError(ValueError):
    """A profile that cannot be read or used; the message says what is wrong."""


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_trait_id() -> str:
    return "t" + secrets.token_hex(4)


@dataclass
class Trait:
    """One rule on one column, with a weight and a class.

    role/column: the column's semantic role, or (when it has none) its header.
    rule: in_set | range | contains_any | is_true | is_false | missing.
    values: for in_set / contains_any (matched case-insensitively).
    min/max: for range, inclusive, either may be None (open).
    weight: -5..+5, added to the account's sum when the trait matches.
    trait_class: must_have | nice_to_have | caution | stay_away.
    disqualify: stay-away only: a matching account is Disqualified.
    """

    label: str
    rule: str
    role: str | None = None
    column: str | None = None
    values: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    weight: int = 1
    trait_class: str = "nice_to_have"
    disqualify: bool = False
    id: str = field(default_factory=new_trait_id)

    @property
    def column_ref(self) -> str:
        return self.role if self.role else (self.column or "")

    @property
    def disqualifies(self) -> bool:
        """Does this trait put accounts in the Disqualified tier (failing a must-have, or a
        matched stay-away marked to disqualify)?"""
        return self.trait_class == "must_have" or (self.trait_class == "stay_away" and self.disqualify)

    def definition_key(self) -> str:
        """What decides which accounts match (not weight, class or label): the cache key of
        this trait's match vector."""
        return json.dumps([self.role, self.column, self.rule, sorted(self.values), self.min, self.max])

    def to_dict(self) -> dict:
        return asdict(self)


def default_label(column_label: str, rule: str, values=(), lo=None, hi=None, kind: str = "number") -> str:
    """A readable label: 'Industry in Fintech, SaaS', 'Employees 200–2,000', 'NPS missing'
    (shortened with … to fit MAX_LABEL_CHARS)."""
    label = _default_label(column_label, rule, values, lo, hi, kind)
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _default_label(column_label: str, rule: str, values=(), lo=None, hi=None, kind: str = "number") -> str:
    fmt = (lambda x: str(int(x)) if x == int(x) else f"{x:g}") if kind == "year" else format_number
    if rule in ("in_set", "contains_any"):
        shown = ", ".join(str(v) for v in list(values)[:4]) + ("…" if len(values) > 4 else "")
        return f"{column_label} {'in' if rule == 'in_set' else 'has'} {shown}"
    if rule == "range":
        if lo is not None and hi is not None:
            return f"{column_label} {fmt(lo)}" if lo == hi else f"{column_label} {fmt(lo)}–{fmt(hi)}"
        if lo is not None:
            return f"{column_label} ≥ {fmt(lo)}"
        if hi is not None:
            return f"{column_label} ≤ {fmt(hi)}"
        return f"{column_label} any value"
    if rule == "is_true":
        return f"{column_label}: yes"
    if rule == "is_false":
        return f"{column_label}: no"
    return f"{column_label} missing"


@dataclass
class TierRule:
    """A/B/C/D from score thresholds (score >= A line is A, ...), or from a target mix of
    accounts (percentages of the non-disqualified accounts, solved into thresholds)."""

    mode: str = "thresholds"  # thresholds | mix
    thresholds: dict[str, float] = field(default_factory=lambda: {"A": 75.0, "B": 50.0, "C": 25.0})
    mix: dict[str, float] = field(default_factory=lambda: {"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0})
    # missing-data status: the percent of the traits' absolute weight whose column is filled for an
    # account; below `insufficient_below` it is "Insufficient data" (not tiered), below
    # `low_confidence_below` its tier carries a low-confidence flag (0 and 0 switch it off)
    insufficient_below: float = 50.0
    low_confidence_below: float = 80.0

    def to_dict(self) -> dict:
        return asdict(self)


# Decisive weights (issue 16): practitioners score traits with clear values and avoid middle ones.
DECISIVE_WEIGHTS = (-5, -3, -1, 0, 1, 3, 5)


def decisive_weight(w: int) -> int:
    """The nearest decisive weight; a middle value goes away from zero (+2 -> +3, -4 -> -5)."""
    w = int(w)
    return w if w in DECISIVE_WEIGHTS else w + (1 if w > 0 else -1)


@dataclass
class Profile:
    name: str = "Untitled ICP"
    description: str = ""
    traits: list[Trait] = field(default_factory=list)
    tier_rule: TierRule = field(default_factory=TierRule)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    schema_version: int = SCHEMA_VERSION
    decisive: bool = False  # weights only from DECISIVE_WEIGHTS
    engagement: Any = None  # engagement.Engagement: the second axis (issue 17), never part of the fit
    personas: Any = None  # personas.Personas: persona traits and buying-committee roles (issue 17)
    calibration: Any = None  # calibration.Calibration.summary() of the last round with sales (issue 18)

    def made_decisive(self) -> "Profile":
        """A copy with decisive weights on and every weight rounded to one (decisive_weight)."""
        p = self.copy()
        p.decisive = True
        p.traits = [replace(t, weight=decisive_weight(t.weight)) for t in p.traits]
        return p

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "traits": [t.to_dict() for t in self.traits],
            "tier_rule": self.tier_rule.to_dict(),
            "decisive": self.decisive,
            **({"engagement": self.engagement.to_dict()} if self.engagement is not None else {}),
            **({"personas": self.personas.to_dict()} if self.personas is not None else {}),
            **({"calibration": self.calibration} if self.calibration is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def copy(self) -> "Profile":
        return profile_from_dict(self.to_dict())

    def with_weights(self, weights: dict[str, int]) -> "Profile":
        """The same profile with some trait weights replaced (by trait id)."""
        p = self.copy()
        p.traits = [replace(t, weight=int(weights.get(t.id, t.weight))) for t in p.traits]
        return p


# --------------------------------------------------------------------------- validation


MAX_PROFILE_JSON_BYTES = 1_000_000
"""Largest profile JSON read (bytes, or characters for text); a 100-trait profile is ~40 kB."""
MAX_TRAITS = 100
"""Most traits in one profile: the editor, reasons and the trait-vector cache are sized for it."""
MAX_NAME_CHARS = 200
"""Longest profile name."""
MAX_DESCRIPTION_CHARS = 2_000
"""Longest profile description."""
MAX_LABEL_CHARS = 200
"""Longest trait label (it is copied into every matching account's reasons)."""
MAX_COLUMN_CHARS = 500
"""Longest column header a trait names."""
MAX_VALUES = 500
"""Most values in one trait (in_set / contains_any)."""
MAX_VALUE_CHARS = 500
"""Longest single trait value."""
MAX_ID_CHARS = 64
"""Longest trait id."""
MAX_TIMESTAMP_CHARS = 40
"""Longest created_at / updated_at text."""
MAX_NOTE_CHARS = 500
"""Longest note on a saved version (ProfileStore.save_version)."""
MAX_AUTHOR_CHARS = 100
"""Longest author of a saved version (ProfileStore.save_version)."""


def _show(value, limit: int = 40) -> str:
    """A short repr of a bad value for a message (never the whole of a huge value)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'JSON object'}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(where: str, name: str) -> str:
    return f"{where}.{name}" if where.endswith("]") else f"{where} {name}"


@overload
def _text(value, where: str, limit: int, *, required: bool = False, default: str = "") -> str: ...


@overload
def _text(value, where: str, limit: int, *, required: bool = False, default: None) -> str | None: ...


def _text(value, where: str, limit: int, *, required: bool = False, default: str | None = "") -> str | None:
    """Check a text field: a string of at most `limit` characters (None/"" → default)."""
    if value is None or value == "":
        if required:
            raise ProfileError(f"{where}: is required")
        return default
    if not isinstance(value, str):
        raise ProfileError(f"{where}: must be text, got {_show(value)}")
    if len(value) > limit:
        raise ProfileError(f"{where}: at most {limit:,} characters, got {len(value):,}")
    return value


def _finite(value, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfileError(f"{where}: must be {what}, got {_show(value)}")
    return float(value)


def _number_or_none(value, where: str) -> float | None:
    if value is None or value == "":
        return None
    return _finite(value, where, "a finite number or null")


def _validate_trait_label(t: Trait, where: str | None) -> None:
    if not isinstance(t.label, str) or not t.label.strip():
        raise ProfileError(f"{_field(where or 'trait', 'label')}: a label is required")
    if len(t.label) > MAX_LABEL_CHARS:
        raise ProfileError(f"{_field(where or 'trait', 'label')}: at most {MAX_LABEL_CHARS:,} characters, "
                           f"got {len(t.label):,}")


def _validate_trait_column(t: Trait, where: str) -> None:
    """The column a trait reads: a known role, a column name or both (normalised to text)."""
    t.role = _text(t.role, _field(where, "role"), 100, default=None)
    t.column = _text(t.column, _field(where, "column"), MAX_COLUMN_CHARS, default=None)
    if not (t.role or t.column):
        raise ProfileError(f"{where}: names no column (give 'role' or 'column')")
    if t.role and t.role not in ROLES:
        raise ProfileError(f"{_field(where, 'role')}: unknown role {_show(t.role)}")


def _validate_trait_weight(t: Trait, where: str) -> None:
    """A whole weight from -5 to +5 (made an int), never positive on a stay-away trait."""
    w = t.weight
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w != int(w):
        raise ProfileError(f"{_field(where, 'weight')}: must be a whole number from -5 to +5, got {_show(w)}")
    t.weight = int(w)
    if not WEIGHT_MIN <= t.weight <= WEIGHT_MAX:
        raise ProfileError(f"{_field(where, 'weight')}: weight {t.weight} is outside -5..+5")
    if t.trait_class == "stay_away" and t.weight > 0:
        raise ProfileError(f"{where}: a stay-away trait cannot have a positive weight")


def _validate_trait_values(t: Trait, where: str) -> None:
    """At most MAX_VALUES values, each text or a finite number (made text) of at most
    MAX_VALUE_CHARS characters; set rules need one."""
    if t.values is None:
        t.values = []
    if not isinstance(t.values, list):
        raise ProfileError(f"{_field(where, 'values')}: must be a list, got {_show(t.values)}")
    if len(t.values) > MAX_VALUES:
        raise ProfileError(f"{_field(where, 'values')}: at most {MAX_VALUES:,} values, got {len(t.values):,}")
    values = []
    for j, v in enumerate(t.values):
        vw = f"{_field(where, 'values')}[{j}]"
        if isinstance(v, bool) or not isinstance(v, (str, int, float)) or (isinstance(v, float) and not math.isfinite(v)):
            raise ProfileError(f"{vw}: must be text or a number, got {_show(v)}")
        v = str(v)
        if len(v) > MAX_VALUE_CHARS:
            raise ProfileError(f"{vw}: at most {MAX_VALUE_CHARS:,} characters, got {len(v):,}")
        values.append(v)
    t.values = values
    if t.rule in ("in_set", "contains_any") and not t.values:
        raise ProfileError(f"{where}: needs at least one value")


def _validate_trait_bounds(t: Trait, where: str) -> None:
    """min / max finite numbers or None; a range rule needs one, minimum not above maximum."""
    t.min = _number_or_none(t.min, _field(where, "min"))
    t.max = _number_or_none(t.max, _field(where, "max"))
    if t.rule == "range":
        if t.min is None and t.max is None:
            raise ProfileError(f"{where}: a range needs a minimum, a maximum or both")
        if t.min is not None and t.max is not None and t.min > t.max:
            raise ProfileError(f"{where}: minimum {t.min:g} is above maximum {t.max:g}")


def validate_trait(t: Trait, where: str | None = None) -> Trait:
    """Check one trait (type, range and length of every field); raise ProfileError naming
    the field. Normalises in place (weight to int, values to text) and returns the trait."""
    _validate_trait_label(t, where)
    where = where or f"trait {t.label!r}"
    if t.id is None:
        t.id = new_trait_id()
    t.id = _text(t.id, _field(where, "id"), MAX_ID_CHARS, required=True)
    if not isinstance(t.rule, str) or t.rule not in RULES:
        raise ProfileError(f"{_field(where, 'rule')}: unknown rule {_show(t.rule)} (expected one of {', '.join(RULES)})")
    _validate_trait_column(t, where)
    if not isinstance(t.trait_class, str) or t.trait_class not in TRAIT_CLASSES:
        raise ProfileError(f"{_field(where, 'trait_class')}: unknown class {_show(t.trait_class)} "
                           f"(expected one of {', '.join(TRAIT_CLASSES)})")
    _validate_trait_weight(t, where)
    _validate_trait_values(t, where)
    _validate_trait_bounds(t, where)
    if t.disqualify is None:
        t.disqualify = False
    if not isinstance(t.disqualify, bool):
        raise ProfileError(f"{_field(where, 'disqualify')}: must be true or false, got {_show(t.disqualify)}")
    t.disqualify = t.disqualify and t.trait_class == "stay_away"
    return t


def _tier_numbers(value, where: str, keys: tuple[str, ...], what: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: must be an object with {what} for {', '.join(keys)}, got {_show(value)}")
    out = {}
    for k in keys:
        if k not in value:
            raise ProfileError(f"{where}: needs {what} for {', '.join(keys)} (no {k})")
        out[k] = _finite(value[k], f"{where}.{k}", "a finite number")
    return out


def validate_profile(p: Profile) -> Profile:
    """Check a whole profile (see the MAX_* limits); raise ProfileError naming the field."""
    p.name = _text(p.name, "name", MAX_NAME_CHARS, default="Untitled ICP")
    p.description = _text(p.description, "description", MAX_DESCRIPTION_CHARS)
    p.created_at = _text(p.created_at, "created_at", MAX_TIMESTAMP_CHARS, default=None) or now_iso()
    p.updated_at = _text(p.updated_at, "updated_at", MAX_TIMESTAMP_CHARS, default=None) or now_iso()
    if not isinstance(p.traits, list):
        raise ProfileError(f"traits: must be a list, got {_show(p.traits)}")
    if len(p.traits) > MAX_TRAITS:
        raise ProfileError(f"traits: a profile has at most {MAX_TRAITS} traits, this one has {len(p.traits):,}")
    for i, t in enumerate(p.traits):
        if not isinstance(t, Trait):
            raise ProfileError(f"traits[{i}]: must be a trait object")
        validate_trait(t, f"traits[{i}]")
    ids = [t.id for t in p.traits]
    if len(set(ids)) != len(ids):
        raise ProfileError("two traits share the same id")
    if not isinstance(p.decisive, bool):
        raise ProfileError(f"decisive: must be true or false, got {_show(p.decisive)}")
    if p.decisive:
        odd = [t.label for t in p.traits if t.weight not in DECISIVE_WEIGHTS]
        if odd:
            raise ProfileError(f"decisive weights are {', '.join(f'{w:+d}' for w in DECISIVE_WEIGHTS)}: "
                               f"“{odd[0][:60]}” has another weight")
    r = p.tier_rule
    if not isinstance(r, TierRule):
        raise ProfileError("tier_rule: must be an object")
    if not isinstance(r.mode, str) or r.mode not in ("thresholds", "mix"):
        raise ProfileError(f"tier_rule.mode: unknown mode {_show(r.mode)} (expected 'thresholds' or 'mix')")
    th = _tier_numbers(r.thresholds, "tier_rule.thresholds", ("A", "B", "C"), "numbers")
    if not (100 >= th["A"] >= th["B"] >= th["C"] >= 0):
        raise ProfileError("tier_rule.thresholds: must satisfy 100 ≥ A ≥ B ≥ C ≥ 0")
    r.thresholds = th
    mix = _tier_numbers(r.mix, "tier_rule.mix", TIERS, "percentages")
    if any(m < 0 for m in mix.values()) or abs(sum(mix.values()) - 100) > 0.5:
        raise ProfileError(f"tier_rule.mix: the target mix must be non-negative and add up to 100 % "
                           f"(it adds up to {sum(mix.values()):g} %)")
    r.mix = mix
    _validate_status_lines(r)
    return p


def _validate_status_lines(r: TierRule) -> None:
    """The missing-data status lines: percentages, the insufficient one at or under the other."""
    for name in ("insufficient_below", "low_confidence_below"):
        v = getattr(r, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 100:
            raise ProfileError(f"tier_rule.{name}: must be a percentage from 0 to 100, got {_show(v)}")
        setattr(r, name, float(v))
    if r.insufficient_below > r.low_confidence_below:
        raise ProfileError("tier_rule: the insufficient-data line must not be above the low-confidence line "
                           f"({r.insufficient_below:g} % > {r.low_confidence_below:g} %)")


def _read_sections(p: Profile, d: dict) -> None:
    """The optional sections stored with the ICP: engagement, personas, calibration (each validated
    by its own module)."""
    from .calibration import calibration_from_dict
    from .engagement import engagement_from_dict
    from .personas import personas_from_dict

    for name, read in (("engagement", engagement_from_dict), ("personas", personas_from_dict),
                       ("calibration", calibration_from_dict)):
        if d.get(name) is not None:
            setattr(p, name, read(d[name]))


def profile_from_dict(d: dict) -> Profile:
    """A Profile from its JSON form, validated; ProfileError (one message naming the field)
    for anything else, whatever the input."""
    if not isinstance(d, dict):
        raise ProfileError("not a profile: a profile must be a JSON object")
    version = d.get("schema_version")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise ProfileError(f"unsupported profile schema_version {_show(version)} (this version reads {SCHEMA_VERSION})")
    traits_in = d.get("traits")
    if traits_in is None:
        traits_in = []
    if not isinstance(traits_in, list):
        raise ProfileError(f"traits: must be a list, got {_show(traits_in)}")
    if len(traits_in) > MAX_TRAITS:
        raise ProfileError(f"traits: a profile has at most {MAX_TRAITS} traits, this one has {len(traits_in):,}")
    traits = []
    allowed = set(Trait.__dataclass_fields__)
    for i, td in enumerate(traits_in):
        if not isinstance(td, dict):
            raise ProfileError(f"traits[{i}]: must be an object, got {_show(td)}")
        unknown = set(td) - allowed
        if unknown:
            shown = ", ".join(_show(u, 30) for u in sorted(unknown, key=str)[:5])
            raise ProfileError(f"traits[{i}]: unknown field(s) {shown}")
        for req in ("label", "rule"):
            if req not in td:
                raise ProfileError(f"traits[{i}].{req}: is required")
        traits.append(Trait(**td))
    tr = d.get("tier_rule")
    if tr is None:
        tr = {}
    if not isinstance(tr, dict):
        raise ProfileError(f"tier_rule: must be an object, got {_show(tr)}")
    defaults = TierRule()
    mode, thresholds, mix = tr.get("mode"), tr.get("thresholds"), tr.get("mix")
    rule = TierRule(mode=mode if mode is not None else "thresholds",
                    thresholds=thresholds if thresholds is not None else defaults.thresholds,
                    mix=mix if mix is not None else defaults.mix,
                    insufficient_below=tr.get("insufficient_below", defaults.insufficient_below),
                    low_confidence_below=tr.get("low_confidence_below", defaults.low_confidence_below))
    # unchecked input (may be None or any type): validate_profile below checks and fills each field
    unchecked: dict[str, Any] = {key: d.get(key) for key in ("name", "description", "created_at", "updated_at")}
    decisive = d.get("decisive", False)
    p = Profile(traits=traits, tier_rule=rule, decisive=decisive if decisive is not None else False, **unchecked)
    _read_sections(p, d)
    p = validate_profile(p)
    # the dicts came from the caller: keep copies only
    p.tier_rule.thresholds, p.tier_rule.mix = dict(p.tier_rule.thresholds), dict(p.tier_rule.mix)
    return p


def profile_from_json(text: str | bytes) -> Profile:
    """A Profile from JSON text; ProfileError for anything that is not a valid profile
    (too large, not JSON, nested too deeply, any field of the wrong type or size)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise ProfileError("not a profile: expected JSON text")
    if len(text) > MAX_PROFILE_JSON_BYTES:
        raise ProfileError(f"not a profile: larger than {MAX_PROFILE_JSON_BYTES:,} bytes ({len(text):,})")
    try:
        d = json.loads(text)
    except RecursionError:
        raise ProfileError("not a profile: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, too-long integers
        raise ProfileError(f"not valid JSON ({str(exc)[:200]})") from None
    return profile_from_dict(d)


# --------------------------------------------------------------------------- binding to a dataset

def trait_ref_for(spec: ColumnSpec) -> dict:
    """How a trait on this column refers to it: by semantic role, else by header."""
    if spec.role not in GENERIC_ROLES:
        return {"role": spec.role, "column": None}
    return {"role": None, "column": spec.header}


def usable_columns(specs: list[ColumnSpec]) -> list[ColumnSpec]:
    """Columns a trait can be built on (everything except ignored / identity-only columns)."""
    return [s for s in specs if s.role != "ignore" and s.role not in ("account_id", "account_name", "domain")]


def find_column(trait: Trait, specs: list[ColumnSpec]) -> ColumnSpec | None:
    if trait.role:
        for s in specs:
            if s.role == trait.role:
                return s
        return None
    want = normalise_header(trait.column or "")
    for s in specs:
        if normalise_header(s.header) == want or s.key == trait.column:
            return s
    return None


@dataclass
class Binding:
    """A profile bound to a dataset: each usable trait with its column; the rest reported."""

    traits: list[tuple[Trait, ColumnSpec]]
    missing: list[Trait]  # traits whose column the dataset lacks
    unfit: list[tuple[Trait, str]]  # traits whose rule does not fit the column's kind

    @property
    def problems(self) -> list[str]:
        out = [f"“{t.label}” needs a column with role “{ROLES[t.role].label}”" if t.role
               else f"“{t.label}” needs a column named “{t.column}”" for t in self.missing]
        out += [f"“{t.label}”: {why}" for t, why in self.unfit]
        return out


def resolve_profile(profile: Profile, specs: list[ColumnSpec]) -> Binding:
    bound, missing, unfit = [], [], []
    for t in profile.traits:
        s = find_column(t, specs)
        if s is None or s.role == "ignore":
            missing.append(t)
            continue
        allowed = RULES_FOR_KIND.get(s.kind, ("missing",))
        if t.rule not in allowed:
            unfit.append((t, f"rule “{RULES[t.rule]}” does not fit column “{s.header}” "
                             f"({ROLES[s.role].label.lower()})"))
            continue
        bound.append((t, s))
    return Binding(bound, missing, unfit)


# --------------------------------------------------------------------------- versions

def _paired_traits(old: Profile, new: Profile) -> tuple[list[tuple[Trait, Trait]], list[Trait], list[Trait]]:
    """(old and new versions of the same trait, matched by id, else by definition; traits only
    in old; traits only in new)."""
    old_by_id = {t.id: t for t in old.traits}
    new_by_id = {t.id: t for t in new.traits}
    pairs = [(old_by_id[i], new_by_id[i]) for i in old_by_id if i in new_by_id]
    rest_old = [t for t in old.traits if t.id not in new_by_id]
    rest_new = [t for t in new.traits if t.id not in old_by_id]
    by_def = {t.definition_key(): t for t in rest_new}
    for t in list(rest_old):
        twin = by_def.pop(t.definition_key(), None)
        if twin is not None:
            pairs.append((t, twin))
            rest_old.remove(t)
            rest_new.remove(twin)
    return pairs, rest_old, rest_new


def _trait_changes(a: Trait, b: Trait) -> list[str]:
    """What changed from trait version `a` to `b`: weight, class, disqualify, rule, label."""
    what = []
    if a.weight != b.weight:
        what.append(f"weight {a.weight:+d} → {b.weight:+d}")
    if a.trait_class != b.trait_class:
        what.append(f"class {TRAIT_CLASSES[a.trait_class]} → {TRAIT_CLASSES[b.trait_class]}")
    if a.disqualify != b.disqualify:
        what.append("now disqualifies" if b.disqualify else "no longer disqualifies")
    if a.definition_key() != b.definition_key():
        what.append("rule changed")
    if a.label != b.label:
        what.append(f"renamed from “{a.label}”")
    return what


def _tier_rule_changes(ra: TierRule, rb: TierRule) -> list[str]:
    """What changed from tier rule `ra` to `rb`: the mode, and the new mode's lines or targets."""
    rules = []
    if ra.mode != rb.mode:
        rules.append(f"tiers from {'a target mix' if rb.mode == 'mix' else 'score thresholds'} "
                     f"(was {'a target mix' if ra.mode == 'mix' else 'score thresholds'})")
    if rb.mode == "thresholds":
        for k in ("A", "B", "C"):
            if ra.thresholds[k] != rb.thresholds[k]:
                rules.append(f"tier {k} line {ra.thresholds[k]:g} → {rb.thresholds[k]:g}")
    else:
        for k in TIERS:
            if ra.mix[k] != rb.mix[k]:
                rules.append(f"tier {k} target {ra.mix[k]:g} % → {rb.mix[k]:g} %")
    for name, what in (("insufficient_below", "insufficient-data line"), ("low_confidence_below", "low-confidence line")):
        if getattr(ra, name) != getattr(rb, name):
            rules.append(f"{what} {getattr(ra, name):g} % → {getattr(rb, name):g} % of the trait weight known")
    return rules


def diff_profiles(old: Profile, new: Profile) -> dict:
    """What changed between two versions: traits added / removed (matched by id, else by
    definition), weight, class, rule and label changes, and tier rule changes.

    Returns {"added": [Trait], "removed": [Trait], "changed": [(old, new, [what changed])],
    "tier_rule": [text]}."""
    pairs, rest_old, rest_new = _paired_traits(old, new)
    changed = []
    for a, b in pairs:
        what = _trait_changes(a, b)
        if what:
            changed.append((a, b, what))
    rules = _tier_rule_changes(old.tier_rule, new.tier_rule)
    return {"added": rest_new, "removed": rest_old, "changed": changed, "tier_rule": rules}


def adopt_traits(profile: Profile, traits: list[Trait]) -> Profile:
    """Put suggested traits into a profile: a trait with the same definition (column, rule,
    values, range) takes the suggested weight and class; others are added."""
    p = profile.copy()
    by_def = {t.definition_key(): t for t in p.traits}
    if p.decisive:  # suggested weights rounded to decisive ones
        traits = [replace(t, weight=decisive_weight(t.weight)) for t in traits]
    for s in traits:
        existing = by_def.get(s.definition_key())
        if existing is not None:
            existing.weight, existing.trait_class = s.weight, s.trait_class
            existing.disqualify = existing.disqualify and s.trait_class == "stay_away"
        else:
            p.traits.append(Trait(**{**s.to_dict(), "id": new_trait_id()}))
    return p
