"""The trait compiler and the words a trait puts in reasons and flags.

One trait becomes one sqlglot boolean expression (`condition`), never NULL, written from
portable pieces (CASE, COALESCE, LOWER, TRIM, STRPOS, ||). The app renders it for DuckDB to
compute match vectors (`condition_sql`); the warehouse query renders the very same expression
for Snowflake, BigQuery, PostgreSQL, Spark and dbt (`warehouse.profile_query`). A rule is
therefore written once, and the app and the warehouse agree by construction.

The input a trait reads is one column: text, number, boolean, or a multi-valued column as one
';'-separated text (the app's list columns are joined that way by `input_column`).

The texts in reasons and flags ('Industry in fintech (+5)', 'Stay away: Government') are
owned here too (`reason_piece`, `flag_piece`, `reason_traits`, `SEPARATOR`); the app's
explanations and the warehouse SQL both write them.
"""

from __future__ import annotations

from typing import cast

import sqlglot
from sqlglot import exp

from .export import FORMULA_PREFIXES
from .profile import Trait
from .sql import column, literal

SEPARATOR = " · "
MINUS = "\u2212"
LIST_SEPARATOR = ";"

# what the warehouse column read by a trait must hold, per rule
INPUT_KINDS = {"in_set": "text", "range": "number", "contains_any": "';'-separated text",
               "is_true": "boolean", "is_false": "boolean", "missing": "any"}


# --------------------------------------------------------------------------- the compiler

def _text(e: exp.Expression) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build("VARCHAR"))


def _norm(value) -> str:
    return str(value).strip().lower()


def condition(trait: Trait, col: exp.Expression) -> exp.Expression:
    """The trait's match on input `col` as a portable boolean expression that is never NULL."""
    if trait.rule == "in_set":
        expr: exp.Expression | exp.Condition = exp.In(this=exp.Lower(this=exp.Trim(this=_text(col))),
                                      expressions=[literal(_norm(v)) for v in trait.values])
    elif trait.rule == "contains_any":
        hay = exp.DPipe(this=exp.DPipe(this=literal(LIST_SEPARATOR), expression=exp.Lower(this=_text(col))),
                        expression=literal(LIST_SEPARATOR))
        tests = [exp.GT(this=exp.StrPosition(this=hay.copy(),
                                             substr=literal(LIST_SEPARATOR + _norm(v) + LIST_SEPARATOR)),
                        expression=exp.Literal.number(0)) for v in trait.values]
        expr = exp.or_(*tests) if tests else exp.false()
    elif trait.rule == "range":
        parts: list[exp.Expression] = []
        if trait.min is not None:
            parts.append(exp.GTE(this=col.copy(), expression=literal(float(trait.min))))
        if trait.max is not None:
            parts.append(exp.LTE(this=col.copy(), expression=literal(float(trait.max))))
        expr = exp.and_(*parts) if parts else exp.true()
    elif trait.rule == "is_true":
        expr = exp.EQ(this=col, expression=exp.true())
    elif trait.rule == "is_false":
        expr = exp.EQ(this=col, expression=exp.false())
    elif trait.rule == "missing":
        expr = exp.or_(exp.Is(this=col.copy(), expression=exp.Null()),
                       exp.EQ(this=exp.Trim(this=_text(col.copy())), expression=literal("")))
    else:  # profile.validate_trait keeps this unreachable
        raise ValueError(f"unknown rule {trait.rule!r}")
    return exp.Coalesce(this=exp.Paren(this=cast(exp.Expression, expr)), expressions=[exp.false()])


def known(trait: Trait, col: exp.Expression) -> exp.Expression:
    """Whether the trait could be evaluated on input `col` (issue 18's missing-data status): the value
    is neither NULL nor blank text (an empty list reads as ''). Never NULL. A "missing" trait is
    about the blank itself, so it is always evaluable."""
    if trait.rule == "missing":
        return exp.true()
    filled = exp.NEQ(this=exp.Trim(this=_text(col)), expression=literal(""))
    return exp.Coalesce(this=exp.Paren(this=filled), expressions=[exp.false()])


def known_sql(trait: Trait, key: str, kind: str) -> str:
    """known() on the app's clean column `key`, as DuckDB SQL."""
    return known(trait, input_column(key, kind)).sql("duckdb")


def input_column(key: str, kind: str) -> exp.Expression:
    """A clean accounts-table column as a trait reads it: list columns joined with ';' (their
    items are split on ;,| and trimmed when cleaned, so no item holds a ';')."""
    if kind == "list":
        joined = f"array_to_string(list_transform({column(key).sql('duckdb')}, x -> trim(x)), ';')"
        return cast(exp.Expression, sqlglot.parse_one(joined, read="duckdb"))
    return column(key)


def condition_sql(trait: Trait, key: str, kind: str) -> str:
    """The trait's match on the app's clean column `key` (of cleaning `kind`), as DuckDB SQL."""
    return condition(trait, input_column(key, kind)).sql("duckdb")


# --------------------------------------------------------------------------- reason and flag wording

def signed_weight(w: int) -> str:
    """A trait weight as shown in reasons: +5, −3 (a true minus sign), 0."""
    return f"+{w}" if w > 0 else (f"{MINUS}{-w}" if w < 0 else "0")


def lead_label(label: str) -> str:
    """A trait label placed at the start of a reason: in quotes when it starts like a formula
    (“-EMEA”), so reasons never begin with =, +, -, @, a tab or a CR."""
    return f"“{label}”" if str(label).startswith(FORMULA_PREFIXES) else str(label)


def reason_piece(t: Trait) -> str:
    """One matched trait in the reasons: 'Industry in Fintech (+5)', 'Government (−5, stay away)'.
    The label comes first, so the text never starts with a sign a spreadsheet would take for a
    formula (and get an apostrophe in CRM exports)."""
    cls = {"caution": ", caution", "stay_away": ", stay away"}.get(t.trait_class, "")
    return f"{lead_label(t.label)} ({signed_weight(t.weight)}{cls})"


def flag_piece(t: Trait) -> str | None:
    """The flag a trait raises ('Caution: …', 'Stay away: …', 'Disqualified: fails must-have “…”'),
    or None for a nice-to-have."""
    if t.trait_class == "must_have":
        return f"Disqualified: fails must-have “{t.label}”"
    if t.trait_class == "stay_away":
        return f"{'Disqualified: ' if t.disqualify else ''}Stay away: {t.label}"
    if t.trait_class == "caution":
        return f"Caution: {t.label}"
    return None


def flag_raised_on_miss(t: Trait) -> bool:
    """A must-have raises its flag when it does not match; caution and stay-away when they do."""
    return t.trait_class == "must_have"


def reason_traits(traits: list[Trait]) -> list[int]:
    """The traits that appear in reasons when matched, in reason order: largest absolute weight
    first, positive before negative on ties (weight 0 only for caution and stay-away)."""
    order = sorted(range(len(traits)), key=lambda i: (-abs(traits[i].weight), -traits[i].weight, i))
    return [i for i in order if traits[i].weight != 0 or traits[i].trait_class in ("caution", "stay_away")]
