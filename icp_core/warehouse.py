"""Warehouse SQL: a profile compiled to one query that scores a table where the CRM lives.

The query is built as one sqlglot expression from the trait compiler's conditions
(`traits.condition`, the very expressions the app runs on DuckDB) and rendered for DuckDB,
Snowflake, BigQuery, PostgreSQL and Spark SQL. It gives exactly the app's scores and tiers:
the same trait conditions, the same score arithmetic (an integer sum times the same double),
the same tier lines (for a target mix, the lines solved on the dataset the profile was scored
on), and the reason and flag texts the app writes (`traits.reason_piece` / `flag_piece`).

The input table has one column per trait column, named by the trait's role (`industry`,
`employees`, `technologies`, ...) or, for other columns, by `column_name(header)`; numbers
numeric, booleans boolean, technologies one ';'-separated string. `input_columns(profile)`
lists them.
"""

from __future__ import annotations

import re
from typing import cast

from sqlglot import exp

from .profile import Profile, Trait, normalise_header
from .sql import column, ident, literal, quote_ident
from .traits import (
    INPUT_KINDS,
    SEPARATOR,
    condition,
    flag_piece,
    flag_raised_on_miss,
    input_column,
    known,
    reason_piece,
    reason_traits,
)

DIALECTS = {"duckdb": "duckdb", "snowflake": "snowflake", "bigquery": "bigquery", "postgres": "postgres",
            "spark": "spark"}


class SqlError(ValueError):
    pass


def column_name(trait: Trait) -> str:
    """The warehouse column a trait reads: its role, or its header as snake_case."""
    if trait.role:
        return trait.role
    name = re.sub(r"[^a-z0-9]+", "_", normalise_header(trait.column or "")).strip("_")
    return name or "column"


def input_columns(profile: Profile, engagement: bool = True) -> dict[str, str]:
    """{warehouse column: what it must hold} for the profile's traits (and engagement signals)."""
    out: dict[str, str] = {}
    for t in profile.traits:
        out.setdefault(column_name(t), INPUT_KINDS[t.rule])
    for sig in (profile.engagement.signals if profile.engagement is not None and engagement else []):
        out.setdefault(column_name(sig), "a date (engagement recency)" if sig.kind == "recency"
                       else "a number (engagement count)")
    return out


def _comment(text) -> str:
    """Text for a `-- ` SQL comment: on one line, so a newline in a name cannot end the comment."""
    return " ".join(str(text).split())


def _when_text(pieces: list[tuple[exp.Expression, str]]) -> exp.Expression:
    """The texts whose condition holds, joined by SEPARATOR ('' when none): CASE per piece,
    concatenated, minus the leading separator."""
    if not pieces:
        return literal("")
    parts = [exp.Case(ifs=[exp.If(this=when, true=literal(SEPARATOR + text))], default=literal(""))
             for when, text in pieces]
    joined: exp.Expression = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    return exp.Substring(this=joined, start=exp.Literal.number(len(SEPARATOR) + 1))


def profile_query(profile: Profile, thresholds: dict[str, float], table: exp.Expression,
                  suffix: str = "") -> exp.Select:
    """The scoring query as one sqlglot expression over `table` (see profile_sql). `suffix` names
    its match columns m<i><suffix> and outputs icp_score<suffix> ... (one stage of an ICP set)."""
    from .profile import STATUSES
    from .scoring import evidence_weights, status_flag

    traits = profile.traits
    rule = profile.tier_rule
    low = sum(min(t.weight, 0) for t in traits)
    high = sum(max(t.weight, 0) for t in traits)
    m = [exp.column(f"m{i}{suffix}") for i in range(len(traits))]
    k = [exp.column(f"k{i}{suffix}") for i in range(len(traits))]
    matched = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("t"))).from_(
        exp.alias_(table, "t", table=True))
    for i, t in enumerate(traits):
        matched = matched.select(exp.alias_(condition(t, column(column_name(t))), f"m{i}{suffix}"),
                                 exp.alias_(known(t, column(column_name(t))), f"k{i}{suffix}"))
    cases = [exp.Case(ifs=[exp.If(this=mi.copy(), true=exp.Literal.number(t.weight))], default=exp.Literal.number(0))
             for t, mi in zip(traits, m, strict=True) if t.weight]
    total: exp.Expression = cases[0] if cases else exp.Literal.number(0)
    for case in cases[1:]:
        total = exp.Add(this=total, expression=case)
    if high > low:
        diff = exp.Sub(this=exp.Paren(this=total), expression=exp.Paren(this=exp.Literal.number(low)))
        score: exp.Expression = exp.Mul(this=exp.Cast(this=exp.Paren(this=diff), to=exp.DataType.build("DOUBLE")),
                                        expression=literal(100.0 / (high - low)))
    else:
        score = exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build("DOUBLE"))
    # missing-data status (scoring.score_accounts): known weight · 100 < line · total weight, in integers
    ew = [int(x) for x in evidence_weights([t.weight for t in traits])]
    kw_parts = [exp.Case(ifs=[exp.If(this=ki.copy(), true=exp.Literal.number(w))], default=exp.Literal.number(0))
                for w, ki in zip(ew, k, strict=True)]
    kw: exp.Expression = exp.Literal.number(0)
    for part in kw_parts:
        kw = exp.Add(this=kw, expression=part)
    ev_total = sum(ew)

    def below(line: float) -> exp.Expression:
        if not ev_total:
            return exp.false()
        return exp.LT(this=exp.Mul(this=exp.Paren(this=kw.copy()), expression=exp.Literal.number(100)),
                      expression=literal(float(line) * ev_total))
    must_pairs = [(mi, ki) for t, mi, ki in zip(traits, m, k, strict=True) if t.trait_class == "must_have"]
    dq_stay: list[exp.Expression] = [mi.copy() for t, mi in zip(traits, m, strict=True)
                                     if t.trait_class == "stay_away" and t.disqualify]
    disq_known: list[exp.Expression] = [cast(exp.Expression, exp.and_(exp.Not(this=mi.copy()), ki.copy()))
                                        for mi, ki in must_pairs]
    disq_known += [d.copy() for d in dq_stay]
    disq: list[exp.Expression] = [exp.Not(this=mi.copy()) for mi, _ in must_pairs]
    disq += dq_stay
    insufficient: exp.Expression = below(rule.insufficient_below)
    if disq_known:
        insufficient = cast(exp.Expression, exp.and_(insufficient, exp.Not(this=exp.Paren(this=exp.or_(*disq_known)))))
    status = exp.Case(ifs=[exp.If(this=insufficient.copy(), true=literal(STATUSES[2])),
                           exp.If(this=below(rule.low_confidence_below), true=literal(STATUSES[1]))],
                      default=literal(STATUSES[0]))
    ifs = [exp.If(this=exp.or_(*disq_known), true=literal("Disqualified"))] if disq_known else []
    ifs += [exp.If(this=exp.EQ(this=exp.column(f"icp_status{suffix}"), expression=literal(STATUSES[2])),
                   true=literal("Insufficient data"))]
    ifs += [exp.If(this=exp.or_(*disq), true=literal("Disqualified"))] if disq else []
    ifs += [exp.If(this=exp.GTE(this=exp.column(f"icp_score{suffix}"), expression=literal(float(thresholds[k]))),
                   true=literal(k)) for k in ("A", "B", "C") if thresholds[k] != float("inf")]
    tier = exp.Case(ifs=ifs, default=literal("D"))
    reasons = _when_text([(m[i].copy(), reason_piece(traits[i])) for i in reason_traits(traits)])
    status_col = exp.column(f"icp_status{suffix}")
    flags = _when_text([((exp.Not(this=mi.copy()) if flag_raised_on_miss(t) else mi.copy()), text)
                        for t, mi in zip(traits, m, strict=True) if (text := flag_piece(t)) is not None]
                       + [(exp.EQ(this=status_col.copy(), expression=literal(STATUSES[code])), status_flag(code, rule))
                          for code in (1, 2)])
    # the CTE names carry the suffix too: Spark hoists a set's nested WITHs into one and refuses repeats
    matched_cte, scored_cte = f"matched{suffix}", f"scored{suffix}"
    scored = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(matched_cte)),
                        exp.alias_(score, f"icp_score{suffix}"), exp.alias_(status, f"icp_status{suffix}")
                        ).from_(matched_cte)
    return (exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(scored_cte)),
                       exp.alias_(tier, f"icp_tier{suffix}"), exp.alias_(reasons, f"icp_reasons{suffix}"),
                       exp.alias_(flags, f"icp_flags{suffix}"))
            .from_(scored_cte).with_(matched_cte, as_=matched).with_(scored_cte, as_=scored))


def _engagement_header(engagement) -> list[str]:
    if engagement is None:
        return []
    e, res = engagement
    return [f"-- engagement: half-life {e.half_life_days:g} days to {res.as_of}; levels "
            + ", ".join(f"{k} >= {v:g}" for k, v in res.lines.items()) + "; icp_action per tier × level"]


def profile_sql(profile: Profile, thresholds: dict[str, float], table: str = "accounts",
                dialect: str = "duckdb", engagement=None) -> str:
    """One SELECT that adds icp_score, icp_status, icp_tier, icp_reasons and icp_flags to every row of `table`.

    `thresholds`: the A/B/C lines (ScoreResult.thresholds: the solved ones for a target mix).
    `engagement`: (Engagement, EngagementResult) adds icp_engagement, icp_engagement_level and
    icp_action (engagement.with_engagement: the as-of day, caps and level lines the app used).
    """
    if dialect not in DIALECTS:
        raise SqlError(f"unknown dialect {dialect!r} (one of {', '.join(DIALECTS)})")
    query = profile_query(profile, thresholds, _table(table))
    if engagement is not None:
        from .engagement import with_engagement

        query = with_engagement(query, *engagement)
    low = sum(min(t.weight, 0) for t in profile.traits)
    high = sum(max(t.weight, 0) for t in profile.traits)
    header = [f"-- ICP profile: {_comment(profile.name)}",
              f"-- score = 100 * (sum of matched weights - ({low})) / ({high} - ({low}))",
              "-- tier lines: " + ", ".join(f"{k} >= {v:g}" for k, v in thresholds.items()),
              f"-- status: insufficient data under {profile.tier_rule.insufficient_below:g} % of the trait weight known "
              f"(k<i>: the column is filled), low confidence under {profile.tier_rule.low_confidence_below:g} %"]
    header += [f"-- m{i}: {_comment(t.label)}" for i, t in enumerate(profile.traits)] + _engagement_header(engagement)
    return "\n".join(header) + "\n" + query.sql(dialect=DIALECTS[dialect], pretty=True)


TIER_RANK = {"A": 0, "B": 1, "C": 2, "D": 3, "Disqualified": 4, "Insufficient data": 5}  # scoring.TIER_LABELS


def set_sql(names: list[str], profiles: list[Profile], thresholds: list[dict[str, float]], table: str = "accounts",
            dialect: str = "duckdb", engagement=None) -> str:
    """One SELECT scoring every ICP of a set on every row of `table`: per ICP i (set order)
    icp_score_<i>, icp_tier_<i>, icp_reasons_<i>, icp_flags_<i>; then icp_best_fit (the ICP's name
    where the tier is highest, then the score, ties to the first; 'none' when D or Disqualified
    everywhere) and icp_score, icp_tier, icp_reasons, icp_flags of the ICP it fits best (or comes
    closest in), as icpset.fit_order does in the app."""
    if dialect not in DIALECTS:
        raise SqlError(f"unknown dialect {dialect!r} (one of {', '.join(DIALECTS)})")
    stage: exp.Expression = _table(table)
    for i, (p, th) in enumerate(zip(profiles, thresholds, strict=True)):
        stage = exp.Subquery(this=profile_query(p, th, stage, suffix=f"_{i}"))
    keys = []
    for i in range(len(profiles)):
        rank = exp.Case(ifs=[exp.If(this=exp.EQ(this=exp.column(f"icp_tier_{i}"), expression=literal(t)),
                                    true=exp.Literal.number(r)) for t, r in TIER_RANK.items()])
        keys.append(exp.Sub(this=exp.Mul(this=rank, expression=exp.Literal.number(1000)),
                            expression=exp.column(f"icp_score_{i}")))
    # the first ICP whose key is at most every other's: the closest (ties to the first listed)
    closest_ifs = [exp.If(this=exp.and_(*[exp.LTE(this=keys[i].copy(), expression=keys[j].copy())
                                          for j in range(len(keys)) if j != i]) if len(keys) > 1 else exp.true(),
                          true=exp.Literal.number(i)) for i in range(len(keys))]
    closest = exp.Case(ifs=closest_ifs[:-1], default=exp.Literal.number(len(keys) - 1)) if len(keys) > 1 \
        else exp.Literal.number(0)
    pick = exp.column("icp_closest")

    def of_closest(col: str) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=exp.EQ(this=pick.copy(), expression=exp.Literal.number(i)),
                                    true=exp.column(f"{col}_{i}")) for i in range(len(keys))])
    best_key = exp.Case(ifs=[exp.If(this=exp.EQ(this=pick.copy(), expression=exp.Literal.number(i)),
                                    true=keys[i].copy()) for i in range(len(keys))])
    best = exp.Case(ifs=[exp.If(this=exp.GTE(this=best_key, expression=exp.Literal.number(2500)), true=literal("none"))]
                    + [exp.If(this=exp.EQ(this=pick.copy(), expression=exp.Literal.number(i)), true=literal(n))
                       for i, n in enumerate(names)])
    ranked = exp.select(exp.Star(), exp.alias_(closest, "icp_closest")).from_(exp.alias_(stage, "s", table=True))
    query = exp.select(exp.Star(), exp.alias_(best, "icp_best_fit"),
                       *[exp.alias_(of_closest(c), c)
                         for c in ("icp_score", "icp_status", "icp_tier", "icp_reasons", "icp_flags")]
                       ).from_(exp.alias_(exp.Subquery(this=ranked), "r", table=True))
    if engagement is not None:
        from .engagement import with_engagement

        query = with_engagement(query, *engagement)
    header = [f"-- ICP set: {len(names)} ICPs, best fit = highest tier, then score (ties: the first listed)"]
    header += _engagement_header(engagement)
    header += [f"-- ICP {i}: {_comment(n)}; tier lines " + ", ".join(f"{k} >= {v:g}" for k, v in th.items())
               for i, (n, th) in enumerate(zip(names, thresholds, strict=True))]
    return "\n".join(header) + "\n" + query.sql(dialect=DIALECTS[dialect], pretty=True)


def _table(name: str) -> exp.Table:
    """A table reference: dotted parts quoted one by one (db.schema.table)."""
    if not name or not re.fullmatch(r"[A-Za-z0-9_.\-$ ]+", name):
        raise SqlError(f"invalid table name {name!r}")
    parts = [ident(p) for p in name.split(".")]
    if len(parts) > 3:
        raise SqlError(f"invalid table name {name!r} (at most catalog.schema.table)")
    return exp.Table(this=parts[-1], db=parts[-2] if len(parts) > 1 else None,
                     catalog=parts[-3] if len(parts) > 2 else None)


def dbt_model(profile: Profile, thresholds: dict[str, float], source: str = "ref('accounts')", engagement=None,
              dialect: str = "duckdb") -> str:
    """The same query as a dbt model file (the input is a dbt ref/source), in the warehouse's dialect."""
    return _dbt(profile_sql(profile, thresholds, table="__DBT_SOURCE__", dialect=dialect, engagement=engagement),
                source)


def dbt_set_model(names: list[str], profiles: list[Profile], thresholds: list[dict[str, float]],
                  source: str = "ref('accounts')", engagement=None) -> str:
    """set_sql as a dbt model file."""
    return _dbt(set_sql(names, profiles, thresholds, table="__DBT_SOURCE__", dialect="duckdb", engagement=engagement),
                source)


def _dbt(body: str, source: str) -> str:
    """A query on the placeholder table __DBT_SOURCE__ as a dbt model reading `source`."""
    # dbt renders the whole file with Jinja: every "{" from labels, values or column names is written
    # as {{ '{' }}, which renders back to "{", so user text can never open a Jinja tag
    body = body.replace("{", "{{ '{' }}")
    for quoted in ('"__DBT_SOURCE__"', "`__DBT_SOURCE__`"):  # ANSI quotes, or BigQuery / Spark backticks
        body = body.replace(quoted, "{{ " + source + " }}")
    return "{{ config(materialized='table') }}\n" + body + "\n"


def warehouse_view_sql(profile: Profile, specs, source_table: str = "accounts") -> str:
    """A DuckDB SELECT over the app's clean accounts table shaped like the warehouse input
    (one column per trait column, read as the app's traits read it: `traits.input_column`):
    used to prove equality."""
    from .profile import find_column

    cols = {}
    for t in profile.traits:
        s = find_column(t, specs)
        if s is None:
            raise SqlError(f"no column for trait {t.label!r}")
        cols[column_name(t)] = input_column(s.key, s.kind).sql("duckdb")
    for sig in (profile.engagement.signals if profile.engagement is not None else []):
        s = find_column(sig, specs)
        if s is not None:
            cols.setdefault(column_name(sig), quote_ident(s.key))
    select = ", ".join(f"{e} AS {quote_ident(n)}" for n, e in cols.items()) or "1 AS one"
    return f"SELECT row_id, {select} FROM {quote_ident(source_table)}"
