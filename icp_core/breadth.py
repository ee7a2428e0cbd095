"""How broad an ICP is (issue 16, item 3).

An ICP made too broad (to inflate TAM) gives weak messaging and higher churn; one too narrow is not
worth pursuing. For tiers A+B (of one ICP, or of a set: A or B in any of its ICPs):

    market share    = accounts in A+B / all scored accounts (the market)
    customer share  = current customers in A+B / all current customers
    pipeline share  = accounts with open deals in A+B / all accounts with open deals
    concentration   = customer share / market share

Readings (README, "Breadth"): market share under 2 % is **narrow**; otherwise a concentration
under 1.5× is **broad**, 1.5× to 2.5× **balanced**, 2.5× or more **focused**. Customers are
tam.known_customers: won accounts, else not churned, else ARR above 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .formatting import pct

NARROW_BELOW = 0.02  # market share in A+B
BROAD_BELOW = 1.5  # concentration
FOCUSED_FROM = 2.5


@dataclass(frozen=True)
class Breadth:
    market: int  # scored accounts
    market_in_ab: int
    customers: int  # current customers (0: the data says nothing about customers)
    customers_in_ab: int
    pipeline: int  # accounts with open deals
    pipeline_in_ab: int

    @property
    def market_share(self) -> float:
        return self.market_in_ab / self.market if self.market else math.nan

    @property
    def customer_share(self) -> float:
        return self.customers_in_ab / self.customers if self.customers else math.nan

    @property
    def pipeline_share(self) -> float:
        return self.pipeline_in_ab / self.pipeline if self.pipeline else math.nan

    @property
    def concentration(self) -> float:
        m, c = self.market_share, self.customer_share
        return c / m if m and not math.isnan(c) else math.nan

    @property
    def kind(self) -> str:
        """narrow, broad, balanced or focused (see the module docstring); "" when it cannot be said."""
        if not self.market or math.isnan(self.concentration):
            return "narrow" if self.market and self.market_share < NARROW_BELOW else ""
        if self.market_share < NARROW_BELOW:
            return "narrow"
        if self.concentration < BROAD_BELOW:
            return "broad"
        return "focused" if self.concentration >= FOCUSED_FROM else "balanced"

    def reading(self) -> str:
        """'broad: 48 % of the market for 60 % of customers (1.25×)', and the open pipeline."""
        market = f"{pct(self.market_share)} of the market"
        if self.market and not self.market_in_ab:
            return "no account is in tier A or B yet"
        if not self.customers:
            text = f"A+B hold {market} (no customer data to compare with)"
        else:
            ratio = "" if math.isnan(self.concentration) else f" ({self.concentration:.2f}×)"
            text = (f"{self.kind + ': ' if self.kind else ''}{market} for {pct(self.customer_share)} of "
                    f"customers{ratio}")
        if self.pipeline:
            text += f" · {pct(self.pipeline_share)} of open pipeline"
        return text

    def to_dict(self) -> dict:
        return {"kind": self.kind, "market_share": self.market_share, "customer_share": self.customer_share,
                "pipeline_share": self.pipeline_share, "concentration": self.concentration,
                "market": self.market, "customers": self.customers, "pipeline": self.pipeline,
                "reading": self.reading()}


def breadth_of(in_ab: np.ndarray, accounts) -> Breadth:
    """Breadth of the accounts marked `in_ab` (per account: A or B) on the dataset."""
    from .tam import known_customers

    in_ab = np.asarray(in_ab, dtype=bool)
    customers = known_customers(accounts)
    open_deals = accounts.won == 2
    return Breadth(
        market=int(len(in_ab)), market_in_ab=int(in_ab.sum()),
        customers=int(customers.sum()) if customers is not None else 0,
        customers_in_ab=int((customers & in_ab).sum()) if customers is not None else 0,
        pipeline=int(open_deals.sum()), pipeline_in_ab=int((open_deals & in_ab).sum()))


def _pattern_counts(result, accounts) -> dict:
    """Current customers and open-deal accounts per match pattern of the result (O(n) once per
    set of trait definitions, kept in the dataset's cache; every slider move after is O(patterns))."""
    from .tam import known_customers

    def compute() -> dict:
        inv, u = result.patterns.inv, len(result.patterns.count)
        customers = known_customers(accounts)
        return {"customers": np.bincount(inv, weights=customers, minlength=u) if customers is not None else None,
                "pipeline": np.bincount(inv, weights=accounts.won == 2, minlength=u)}
    if not hasattr(accounts, "memo"):
        return compute()
    return accounts.memo(("breadth",) + tuple(t.definition_key() for t in result.traits), compute)


def _breadth(in_ab: np.ndarray, count: np.ndarray, customers, pipeline: np.ndarray) -> Breadth:
    """Breadth from per-group (pattern or combination) counts and an A+B flag per group."""
    return Breadth(market=int(count.sum()), market_in_ab=int(count[in_ab].sum()),
                   customers=int(customers.sum()) if customers is not None else 0,
                   customers_in_ab=int(customers[in_ab].sum()) if customers is not None else 0,
                   pipeline=int(pipeline.sum()), pipeline_in_ab=int(pipeline[in_ab].sum()))


def profile_breadth(result, accounts) -> Breadth:
    """Breadth of one scored profile (its tiers A and B), per match pattern."""
    counts = _pattern_counts(result, accounts)
    return _breadth(result.pattern_tier <= 1, result.patterns.count, counts["customers"], counts["pipeline"])


def set_breadth(score, accounts) -> Breadth:
    """Breadth of an ICP set: accounts that are A or B in at least one of its ICPs, per combination
    of match patterns. (A set whose combinations were grouped without the dataset counts its
    customers per account.)"""
    from .tam import known_customers

    c = score.combos
    in_ab = np.zeros(len(c.count), dtype=bool)
    for i, r in enumerate(score.results):
        in_ab |= r.pattern_tier[c.pats[:, i]] <= 1
    if not c.customers.any() and not c.pipeline.any():
        return breadth_of(in_ab[c.inv], accounts)
    has_customers = known_customers(accounts) is not None
    return _breadth(in_ab, c.count, c.customers if has_customers else None, c.pipeline)


def market_breadth(market_result, customer_result, accounts) -> Breadth:
    """Breadth against a separate market list (the TAM page's market): the market share in A+B is
    the market list's (scored by the same profile), customers and open pipeline come from the
    customer dataset (`accounts`, scored as `customer_result`)."""
    own = profile_breadth(customer_result, accounts)
    in_ab = market_result.pattern_tier <= 1
    return Breadth(market=int(market_result.patterns.count.sum()),
                   market_in_ab=int(market_result.patterns.count[in_ab].sum()),
                   customers=own.customers, customers_in_ab=own.customers_in_ab,
                   pipeline=own.pipeline, pipeline_in_ab=own.pipeline_in_ab)
