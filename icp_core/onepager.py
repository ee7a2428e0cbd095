"""The ICP one-pager: a printable HTML page that gets passed around the company.

Who we sell to (must-haves, nice-to-haves, proceed with caution, stay away), how the accounts
split into tiers and how each tier wins and stays, the evidence (AUC, lift), and the market
size. Self-contained (inline CSS, no scripts), every user text escaped.

`build_onepager` makes the whole page from a scored dataset (the Share page and
`python -m icp_core onepager` both call it); `onepager_inputs` assembles what it shows and
`render_onepager` draws it.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import pandas as pd

from .backtest import live_backtest
from .dataset import AccountMatrix
from .formatting import TIER_COLORS
from .formatting import count as _count
from .formatting import money as _money
from .formatting import pct as _pct
from .outcomes import EvidenceError, default_outcome
from .profile import INSUFFICIENT, TIERS, TRAIT_CLASSES, Profile
from .reference import reference_auc as compute_reference
from .scoring import ScoreResult, tier_summary
from .traits import signed_weight

CSS = """
table.matrix {border-collapse: collapse; width: 100%; font-size: 12px;}
table.matrix th, table.matrix td {border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top;}
@page { size: A4 landscape; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "Source Sans Pro", "Helvetica Neue", Arial, sans-serif; color: #1f2430; margin: 0;
       background: #fff; }
.page { max-width: 1180px; margin: 0 auto; padding: 28px 36px; }
header { display: flex; justify-content: space-between; align-items: flex-end; border-bottom: 4px solid #1b7f3b;
         padding-bottom: 12px; margin-bottom: 18px; }
h1 { font-size: 30px; margin: 0 0 4px; }
.sub { color: #5b6270; font-size: 15px; max-width: 760px; }
.meta { color: #5b6270; font-size: 13px; text-align: right; }
.grid { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 18px; }
.card { border: 1px solid #e3e6ec; border-radius: 10px; padding: 12px 14px; }
.card h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .06em; margin: 0 0 8px; }
.card ul { margin: 0; padding-left: 0; list-style: none; }
.card li { font-size: 14px; margin: 5px 0; display: flex; gap: 8px; }
.w { font-weight: 700; min-width: 26px; }
.must h2 { color: #1e3a8a; } .nice h2 { color: #1b7f3b; } .caution h2 { color: #b26b00; } .stay h2 { color: #b3261e; }
.empty { color: #9aa0ab; font-size: 13px; }
.tiers { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; margin-bottom: 18px; }
.tier { border-radius: 10px; padding: 10px 12px; color: #fff; }
.tier .name { font-weight: 700; font-size: 15px; }
.tier .big { font-size: 30px; font-weight: 700; line-height: 1.1; }
.tier .line { font-size: 13px; opacity: .95; }
.row { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.kpis { display: flex; gap: 26px; flex-wrap: wrap; }
.kpi .v { font-size: 24px; font-weight: 700; } .kpi .l { font-size: 12px; color: #5b6270; text-transform: uppercase; }
footer { margin-top: 16px; font-size: 11px; color: #8a909c; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def render_onepager(profile: Profile, summary: pd.DataFrame, dataset_name: str, version_label: str,
                    evidence: dict | None = None, tam: dict | None = None, generated: str = "",
                    reach: dict | None = None) -> str:
    """The one-pager as a complete HTML document.

    summary: scoring.tier_summary; evidence: {"outcome", "auc", "lift": {tier: lift},
    "captured_good", "reference_auc"}; tam: {"tam", "sam", "som", "by": text, "segments": [(name, tam)]};
    reach: {"breadth": text, "ltv": [(tier, LTV or None, note)], "set": [(ICP, best-fit accounts, A+B
    accounts)] or None, "none": accounts, "multi_ab": accounts} (onepager_reach).
    """
    groups: dict[str, tuple[str, list[str]]] = {
        "must_have": ("must", []), "nice_to_have": ("nice", []), "caution": ("caution", []), "stay_away": ("stay", [])}
    for t in sorted(profile.traits, key=lambda t: -abs(t.weight)):
        w = signed_weight(t.weight)
        extra = " · disqualifies" if (t.trait_class == "stay_away" and t.disqualify) else ""
        groups[t.trait_class][1].append(f'<li><span class="w">{_e(w)}</span><span>{_e(t.label)}{_e(extra)}</span></li>')
    cards = "".join(
        f'<section class="card {cls}"><h2>{_e(TRAIT_CLASSES[key])}</h2>'
        + (f"<ul>{''.join(items)}</ul>" if items else '<p class="empty">None</p>') + "</section>"
        for key, (cls, items) in groups.items())
    tiers = []
    lift = (evidence or {}).get("lift", {})
    for r in summary.itertuples():
        fg = "#1a1a1a" if r.tier in ("C", INSUFFICIENT) else "#fff"
        lines = [f"{_pct(r.share)} of accounts"]
        if r.low_confidence:
            lines.append(f"{_count(r.low_confidence)} low confidence")
        if not (isinstance(r.win_rate, float) and math.isnan(r.win_rate)):
            lines.append(f"win rate {_pct(r.win_rate)}")
        if not (isinstance(r.churn_rate, float) and math.isnan(r.churn_rate)):
            lines.append(f"churn {_pct(r.churn_rate)}")
        if not (isinstance(r.arr, float) and math.isnan(r.arr)):
            lines.append(f"ARR {_money(r.arr)}")
        if r.tier in lift and lift[r.tier] == lift[r.tier]:
            lines.append(f"lift {lift[r.tier]:.1f}×")
        tiers.append(f'<div class="tier" style="background:{TIER_COLORS[r.tier]};color:{fg}">'
                     f'<div class="name">{"Tier " + r.tier if r.tier in TIERS else r.tier}</div>'
                     f'<div class="big">{_count(r.accounts)}</div>'
                     + "".join(f'<div class="line">{_e(x)}</div>' for x in lines) + "</div>")
    ev = ""
    if evidence:
        ev = ('<section class="card"><h2>Evidence</h2><div class="kpis">'
              f'<div class="kpi"><div class="v">{evidence["auc"]:.2f}</div><div class="l">ROC AUC (held out)</div></div>'
              + (f'<div class="kpi"><div class="v">{evidence["reference_auc"]:.2f}</div>'
                 f'<div class="l">black-box reference</div></div>' if evidence.get("reference_auc") == evidence.get("reference_auc")
                 and evidence.get("reference_auc") is not None else "")
              + f'<div class="kpi"><div class="v">{_pct(evidence["captured_good"])}</div>'
                f'<div class="l">good customers in A+B</div></div></div>'
              f'<p class="sub">Outcome: {_e(evidence["outcome"])}.</p></section>')
    tm = ""
    if tam:
        segs = "".join(f"<li><span>{_e(n)}</span>&nbsp;<b>{_money(v)}</b></li>" for n, v in tam.get("segments", [])[:5])
        tm = ('<section class="card"><h2>Market</h2><div class="kpis">'
              f'<div class="kpi"><div class="v">{_money(tam["tam"])}</div><div class="l">TAM</div></div>'
              f'<div class="kpi"><div class="v">{_money(tam["sam"])}</div><div class="l">SAM</div></div>'
              f'<div class="kpi"><div class="v">{_money(tam["som"])}</div><div class="l">SOM</div></div></div>'
              + (f'<p class="sub">Largest segments by {_e(tam.get("by", "segment"))}:</p><ul>{segs}</ul>' if segs else "")
              + "</section>")
    bottom = f'<div class="row">{ev or ""}{tm or ""}</div>' if (ev or tm) else ""
    bottom += _reach_card(reach) if reach else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(profile.name)} — ICP one-pager</title>
<style>{CSS}</style></head>
<body><div class="page">
<header><div><h1>{_e(profile.name)}</h1><div class="sub">{_e(profile.description)}</div></div>
<div class="meta">{_e(version_label)}<br>Data: {_e(dataset_name)}<br>{_e(generated)}</div></header>
<div class="grid">{cards}</div>
<div class="tiers">{''.join(tiers)}</div>
{bottom}
<footer>Score = 100 × (sum of matched trait weights − lowest possible) / (highest − lowest possible). Failing a
must-have, or matching a disqualifying stay-away, makes an account Disqualified. An account with under
{profile.tier_rule.insufficient_below:g} % of the trait weight known (blank columns) is Insufficient data; under
{profile.tier_rule.low_confidence_below:g} % it is low confidence. Made with ICP Explorer.</footer>
</div></body></html>"""


def _reach_card(reach: dict) -> str:
    """Breadth of A+B, LTV per tier and, for an ICP set, each ICP's best-fit and A+B accounts."""
    ltv = "".join(f"<li><span>Tier {_e(t)}</span>&nbsp;<b>{_money(v) if v is not None else '–'}</b>"
                  + (f" <span class='sub'>({_e(note)})</span>" if note else "") + "</li>"
                  for t, v, note in reach.get("ltv", []))
    icps = "".join(f"<li><span>{_e(n)}</span>&nbsp;<b>{_count(best)}</b> best fit · {_count(ab)} in A+B</li>"
                   for n, best, ab in reach.get("set") or [])
    return ('<div class="row"><section class="card"><h2>Breadth and worth</h2>'
            f'<p class="sub">Breadth of A+B: {_e(reach["breadth"])}.</p>'
            + (f'<p class="sub">Lifetime value per customer (80 % margin):</p><ul>{ltv}</ul>' if ltv else "")
            + "</section>"
            + (f'<section class="card"><h2>ICP set</h2><ul>{icps}</ul><p class="sub">No fit anywhere: '
               f'{_count(reach["none"])} · A or B in two or more ICPs: {_count(reach["multi_ab"])}</p></section>'
               if icps else "")
            + "</div>" + _matrix_card(reach.get("matrix")))


def _matrix_card(matrix: pd.DataFrame | None) -> str:
    """Fit × engagement: accounts and the action per tier × engagement level (issue 17)."""
    if matrix is None:
        return ""
    from .engagement import LEVELS

    cells = matrix.set_index("cell")
    head = "".join(f"<th>{lv}</th>" for lv in LEVELS)
    rows = "".join(
        f"<tr><th>Tier {t}</th>" + "".join(
            f"<td><b>{_count(cells.loc[f'{t}-{lv}', 'accounts'])}</b> {_e(cells.loc[f'{t}-{lv}', 'action'])}</td>"
            for lv in LEVELS) + "</tr>" for t in ("A", "B", "C", "D"))
    return ('<div class="row"><section class="card"><h2>Fit × engagement: accounts and action</h2>'
            f'<table class="matrix"><tr><th></th>{head}</tr>{rows}</table></section></div>')


def onepager_reach(accounts: AccountMatrix, result: ScoreResult, set_score=None, engagement=None) -> dict:
    """The breadth, worth, ICP-set and fit × engagement cards' figures (icp_core.breadth, worth,
    icpset, engagement)."""
    from .breadth import profile_breadth, set_breadth
    from .icpset import NONE, overlap
    from .tam import known_customers, segment_values
    from .worth import cac_column, worth_table

    out: dict = {"breadth": profile_breadth(result, accounts).reading(), "ltv": [], "set": None}
    customers = known_customers(accounts)
    if customers is not None:
        cac = cac_column(accounts.specs)
        worth = worth_table(segment_values(accounts, result, "tier"), customers, accounts.arr, accounts.churned,
                            accounts.column_array(cac) if cac is not None else None)
        out["ltv"] = [(r.segment, r.ltv if r.ltv == r.ltv else None, r.note) for r in worth.itertuples()
                      if r.segment != "All customers"]
    if set_score is not None:
        ov = overlap(set_score)
        best = dict(zip(ov["best_fit"]["icp"], ov["best_fit"]["accounts"], strict=True))
        ab = ov["matrix"][["A", "B"]].sum(axis=1)
        out["set"] = [(n, int(best[n]), int(ab[n])) for n in set_score.names]
        out["none"], out["multi_ab"] = int(best[NONE]), ov["multi_ab"]
        out["breadth"] += f" (the set: {set_breadth(set_score, accounts).reading()})"
    if engagement is not None:
        from .engagement import fit_engagement_matrix, score_engagement

        res = score_engagement(accounts, engagement)
        out["matrix"] = fit_engagement_matrix(result, res, accounts, engagement) if res is not None else None
    return out


def onepager_evidence(accounts: AccountMatrix, result: ScoreResult, outcome,
                      reference_auc: "float | Callable | None" = None) -> dict | None:
    """The Evidence card: the live backtest of `result` on `outcome` (None when the outcome cannot be
    evaluated or gives no AUC). reference_auc: the black-box reference AUC, or a function of the
    outcome that gives it (the app passes its cache), or None to compute it here."""
    if outcome is None:
        return None
    try:
        bt = live_backtest(accounts, result, outcome)
        if math.isnan(bt.auc):
            return None
        ref = reference_auc(outcome) if callable(reference_auc) else reference_auc
        if ref is None:
            ref = compute_reference(accounts, outcome)
    except EvidenceError:
        return None
    return {"outcome": outcome.label(), "auc": bt.auc, "captured_good": bt.captured_good,
            "lift": dict(zip(bt.tiers["tier"], bt.tiers["lift"], strict=True)), "reference_auc": ref}


def onepager_market(accounts: AccountMatrix, result: ScoreResult) -> dict | None:
    """The Market card: TAM / SAM / SOM by ICP tier with default assumptions (None when there is
    no market size, e.g. no ARR to take an ACV from)."""
    from .tam import TamAssumptions, TamError, customer_mask, segment_values, tam_table

    try:
        seg = segment_values(accounts, result, "tier")
        table, totals = tam_table([seg], np.ones(accounts.n, bool), [seg], customer_mask(accounts), accounts.arr,
                                  TamAssumptions())
    except TamError:
        return None
    if not (math.isfinite(totals["tam"]) and totals["tam"] > 0):
        return None
    return {**totals, "by": "ICP tier", "segments": list(zip(table["segment"], table["tam"], strict=True))}


def onepager_inputs(accounts: AccountMatrix, result: ScoreResult, outcome=None,
                    reference_auc: "float | Callable | None" = None) -> tuple[pd.DataFrame, dict | None, dict | None]:
    """(tier summary, evidence, market) for render_onepager. outcome: what a good customer is
    (None: the dataset's default outcome, outcomes.default_outcome)."""
    if outcome is None:
        outcome = default_outcome(accounts)
    return (tier_summary(result, accounts), onepager_evidence(accounts, result, outcome, reference_auc),
            onepager_market(accounts, result))


def build_onepager(accounts: AccountMatrix, result: ScoreResult, profile: Profile, dataset_name: str,
                   version_label: str, outcome=None, reference_auc: "float | Callable | None" = None,
                   generated: str | None = None, set_score=None) -> str:
    """The one-pager of `profile` scored on a dataset (`result`), as a complete HTML document.
    generated: the date line (default: today, UTC); set_score: the ICP set `profile` belongs to
    (icpset.SetScore), for its best-fit counts."""
    summary, evidence, market = onepager_inputs(accounts, result, outcome, reference_auc)
    if generated is None:
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return render_onepager(profile, summary, dataset_name, version_label, evidence, market, generated=generated,
                           reach=onepager_reach(accounts, result, set_score, profile.engagement))


def build_set_onepager(accounts: AccountMatrix, set_score, profiles: list[Profile], dataset_name: str,
                       version_labels: list[str], outcome=None, reference_auc: "float | Callable | None" = None,
                       generated: str | None = None) -> str:
    """One document with a page per ICP of the set (its traits, tiers, evidence, market, breadth and
    worth), the set's best-fit card on the first; each page after the first starts a printed page."""
    pages = [build_onepager(accounts, r, p, dataset_name, label, outcome, reference_auc, generated,
                            set_score=set_score if i == 0 else None)
             for i, (r, p, label) in enumerate(zip(set_score.results, profiles, version_labels, strict=True))]
    first, rest = pages[0], pages[1:]
    bodies = [p[p.index('<div class="page">'):p.rindex("</body>")] for p in rest]
    breaks = "".join(f'<div style="break-before: page; page-break-before: always"></div>{b}' for b in bodies)
    return first.replace("</body>", breaks + "</body>", 1)
