"""Synthetic B2B CRM exports for ICP Explorer: accounts plus their deals.

Run ``python sample_data/generate_sample.py`` to write ``accounts.csv`` (3,000
accounts) and ``opportunities.csv`` next to this script. See ``--help`` for the
options. The numbers are made up, but they hold a real, built-in signal, so the
app has something true to find.

accounts.csv
------------
Each cell is a string, as in a CRM export. Blank cells are empty strings.

==================  ========================================================
Account ID          ``ACC-000001``, ``ACC-000002``, ... Never blank.
Account Name        Unique: a made-up word ("Bluepeak") plus a suffix that
                    suits the industry ("Labs", "Health", "Freight"). About
                    15% end in a legal form ("GmbH", "Inc."). When a name is
                    taken, a number is added ("Bluepeak Labs 2"). Never blank.
Website             Built from the name: ``https://www.bluepeaklabs.com``, and
                    sometimes ``www.``, ``http://``, a country TLD, ``.io``
                    (SaaS) or ``.gov`` (US Government).
Industry            Fintech, SaaS, Healthcare, E-commerce, Manufacturing,
                    Education, Government, Media, Logistics, Retail. About
                    3.5% are in another case or have extra spaces
                    (" fintech", "SaaS "). About 0.5% have a typo
                    ("Helthcare").
Country             12 countries. Each is written as an English name, an ISO
                    code, or a common short form: "US", "USA", "U.S.",
                    "United States", "UK", "GB", "United Kingdom", "DE",
                    "DEU", "Germany", ...
Region              NA / EMEA / APAC / LATAM. Always matches the real country.
Employees           Company size is log-normal (median about 90). About 60%
                    of rows give an exact number ("347"). The rest give a
                    band ("1-10", "11-50", "51-200", "201-500", "501-1,000",
                    "1,001-5,000", "5,001-10,000", "10,000+").
Annual Revenue      Roughly $140k per employee, with noise. Written in mixed
                    formats: "$2.5M", "$850k", "2,500,000", "36.9 Million",
                    "1.2 Billion", "2500000". German, French, Dutch and
                    Spanish accounts sometimes give euros instead ("€850k",
                    "€2.3M", converted at 0.92 EUR per USD).
Funding Stage       Bootstrapped, Seed, Series A/B/C, Series D+, Public,
                    PE-backed. Depends on company size.
Founded             Year from 1950 to 2024. Younger for Seed and Series A
                    companies.
Tech Stack          1-6 tools out of 15 (Salesforce, HubSpot, Snowflake,
                    Segment, AWS, GCP, Azure, Stripe, Zendesk, Intercom,
                    Databricks, Marketo, Slack, Jira, Shopify). They are listed
                    in that (picklist) order and joined with "; " (85%),
                    ", " (10%) or "|" (5%). Which tools a company uses
                    depends on its industry and size.
Deal Stage          Closed Won / Closed Lost (about 35% each) / Open /
                    Engaging (about 30% together).
ARR                 Won accounts only: "$48,000" or "48000". Grows with size.
Churned             Won accounts only: "Yes" / "No".
NPS                 Won accounts only: 0-10. Blank for about 30% of them.
Sales Cycle Days    Closed accounts (won or lost) only.
Signup Date         Won accounts only: YYYY-MM-DD, 0-30 days after the close
                    date (2021-2025).
Close Date          Closed accounts only: M/D/YYYY (2021-01-01 .. 2025-09-30).
Lead Source         Inbound, Outbound, Partner, Event, Referral.
==================  ========================================================

Messiness: ``messy`` (default 0.03) is the share of cells that get replaced, in
every column except Account ID and Account Name. A replaced cell becomes a
blank, "N/A", "-" or "Select". The mixed formats, case variants and typos above
are always there and do not depend on ``messy``.

The built-in signal
-------------------
About 70% of accounts have a closed deal. The other 30% are Open or Engaging,
chosen at random. Whether a closed deal is won follows a logistic model::

    logit P(won) = -0.85
        + industry:   Fintech, SaaS +1.2; Healthcare +0.4;
                      Education -0.8; Government -1.5; others 0
        + employees:  200-2,000 +0.9; under 20 -1.0
        + tech stack: Snowflake +0.8; Segment +0.5; Salesforce +0.3
        + Series B or Series C +0.4
        + lead source Partner or Referral +0.4
        + region EMEA +0.2
        + Normal(0, 0.5) noise

Without the intercept and the noise, this sum is the account's "fit". The
rates below are for large n; 3,000 accounts give the same picture with more
noise.

* About 51% of closed deals are won.
* By industry, Fintech and SaaS win about 70% of closed deals, Government about
  23% and Education about 29%.
* By size, accounts with 200-2,000 employees win about 70%, and accounts with
  fewer than 20 employees about 27%.
* Fintech or SaaS with 200-2,000 employees win about 88%. Government or
  Education with fewer than 20 employees win about 10%.

Traits also shape what happens after a win (won accounts only):

* Churn: logit = -1.8 + 1.8 for Government/Education + 1.5 for under 20
  employees - 0.4 for Fintech/SaaS - 0.3 for 200-2,000 employees - 0.3 for
  using Snowflake + Normal(0, 0.3). About 16% of won accounts churn
  overall. ICP-like accounts (Fintech/SaaS with 200-2,000 employees) churn
  about 7%, Government/Education about 46%, and accounts under 20
  employees about 38%.
* NPS is round(6.3 + 0.9 * fit - 2.2 if churned + Normal(0, 1.6)), clipped to
  0-10. It averages about 7.6 for retained accounts and 4.9 for churned ones.
* Sales cycle days are about 55 * exp(-0.3 * fit), longer for bigger
  companies, with log-normal noise. The median is about 34 days for the best
  third of accounts by fit and 55 days for the worst third.

opportunities.csv
-----------------
About 70% of accounts have 1-5 deals. Columns: Opportunity ID (``OPP-0000001``,
numbered in order of Engage Date), Account (the account's name. About 17% are
in another case or have extra spaces, e.g. "bluepeak labs ". About 3% are
blank), Product (Core / Core Plus / Enterprise; bigger companies buy bigger
products), Deal Stage (Won / Lost / Engaging / Prospecting), Engage Date,
Close Date (YYYY-MM-DD, blank while the deal is open), Close Value (a whole
number, blank while the deal is open). Each deal is won about as often as the
average of two things: the account's fit score, recomputed from its exported
traits, and the account's own outcome (Closed Won counts as 1, Closed Lost as
0). So accounts that fit well, and accounts that were won, win more of their
deals.

``generate_accounts(1_000_000)`` takes about 7 s on 2 CPU cores. The work is done on
whole numpy arrays. The only Python loops are over small word lists and over
the distinct tech-stack combinations.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

ACCOUNT_COLUMNS = [
    "Account ID",
    "Account Name",
    "Website",
    "Industry",
    "Country",
    "Region",
    "Employees",
    "Annual Revenue",
    "Funding Stage",
    "Founded",
    "Tech Stack",
    "Deal Stage",
    "ARR",
    "Churned",
    "NPS",
    "Sales Cycle Days",
    "Signup Date",
    "Close Date",
    "Lead Source",
]
OPPORTUNITY_COLUMNS = [
    "Opportunity ID",
    "Account",
    "Product",
    "Deal Stage",
    "Engage Date",
    "Close Date",
    "Close Value",
]

# --------------------------------------------------------------------------
# Vocabularies and model parameters
# --------------------------------------------------------------------------

INDUSTRIES = np.array(
    ["Fintech", "SaaS", "Healthcare", "E-commerce", "Manufacturing",
     "Education", "Government", "Media", "Logistics", "Retail"]
)
INDUSTRY_WEIGHTS = np.array([0.10, 0.18, 0.11, 0.10, 0.12, 0.07, 0.05, 0.07, 0.09, 0.11])
INDUSTRY_WIN_COEF = np.array([1.2, 1.2, 0.4, 0.0, 0.0, -0.8, -1.5, 0.0, 0.0, 0.0])
INDUSTRY_TYPOS = np.array(
    ["Fintch", "Sass", "Helthcare", "E-comerce", "Manufacturng",
     "Educaton", "Goverment", "Meida", "Logisitics", "Retial"]
)
# Shift of log(employees): Government and Manufacturing employers run larger.
INDUSTRY_SIZE_SHIFT = np.array([-0.1, -0.1, 0.2, -0.2, 0.4, 0.2, 0.8, -0.1, 0.2, 0.1])
FINTECH, SAAS, HEALTHCARE, ECOMMERCE, MANUFACTURING, EDUCATION, GOVERNMENT, MEDIA, LOGISTICS, RETAIL = range(10)

REGIONS = np.array(["NA", "EMEA", "APAC", "LATAM"])
NA_, EMEA, APAC, LATAM = range(4)

# name, region, weight, spellings, spelling weights, legal form, ccTLD, eurozone
_COUNTRY_SPEC = [
    ("United States", NA_, 0.38, ["United States", "US", "USA", "U.S."], [0.35, 0.35, 0.20, 0.10], "Inc.", ".com", False),
    ("United Kingdom", EMEA, 0.12, ["United Kingdom", "UK", "GB"], [0.50, 0.35, 0.15], "Ltd", ".co.uk", False),
    ("Germany", EMEA, 0.08, ["Germany", "DE", "DEU"], [0.75, 0.18, 0.07], "GmbH", ".de", True),
    ("France", EMEA, 0.05, ["France", "FR", "FRA"], [0.75, 0.18, 0.07], "SAS", ".fr", True),
    ("Canada", NA_, 0.07, ["Canada", "CA", "CAN"], [0.75, 0.18, 0.07], "Inc.", ".ca", False),
    ("Australia", APAC, 0.05, ["Australia", "AU", "AUS"], [0.75, 0.18, 0.07], "Pty Ltd", ".com.au", False),
    ("Netherlands", EMEA, 0.04, ["Netherlands", "NL", "NLD"], [0.75, 0.18, 0.07], "B.V.", ".nl", True),
    ("India", APAC, 0.07, ["India", "IN", "IND"], [0.75, 0.18, 0.07], "Pvt Ltd", ".in", False),
    ("Brazil", LATAM, 0.04, ["Brazil", "BR", "BRA"], [0.75, 0.18, 0.07], "Ltda", ".com.br", False),
    ("Singapore", APAC, 0.03, ["Singapore", "SG", "SGP"], [0.75, 0.18, 0.07], "Pte Ltd", ".sg", False),
    ("Sweden", EMEA, 0.03, ["Sweden", "SE", "SWE"], [0.75, 0.18, 0.07], "AB", ".se", False),
    ("Spain", EMEA, 0.04, ["Spain", "ES", "ESP"], [0.75, 0.18, 0.07], "S.L.", ".es", True),
]
COUNTRIES = np.array([c[0] for c in _COUNTRY_SPEC])
COUNTRY_WEIGHTS = np.array([c[2] for c in _COUNTRY_SPEC])
COUNTRY_REGION = np.array([c[1] for c in _COUNTRY_SPEC])
COUNTRY_LEGAL = np.array([c[5] for c in _COUNTRY_SPEC])
COUNTRY_TLD = np.array([c[6] for c in _COUNTRY_SPEC])
COUNTRY_EUROZONE = np.array([c[7] for c in _COUNTRY_SPEC])
_MAX_SPELLINGS = max(len(c[3]) for c in _COUNTRY_SPEC)
COUNTRY_SPELLINGS = np.array([c[3] + [""] * (_MAX_SPELLINGS - len(c[3])) for c in _COUNTRY_SPEC])
# Cumulative spelling probabilities, forced to exactly 1.0 from each country's last spelling on
# (so float round-off can never pick a padding "" slot).
COUNTRY_SPELLING_CUM = np.array(
    [np.r_[np.cumsum(c[4])[:-1], [1.0] * (_MAX_SPELLINGS - len(c[4]) + 1)] for c in _COUNTRY_SPEC]
)

FUNDING_STAGES = np.array(
    ["Bootstrapped", "Seed", "Series A", "Series B", "Series C", "Series D+", "Public", "PE-backed"]
)
SERIES_B, SERIES_C = 3, 4
# P(stage | size class); size classes: <20, 20-199, 200-2,000, 2,001-9,999, 10,000+
FUNDING_BY_SIZE = np.array(
    [
        [0.45, 0.30, 0.17, 0.05, 0.02, 0.00, 0.00, 0.01],
        [0.30, 0.10, 0.25, 0.20, 0.09, 0.03, 0.01, 0.02],
        [0.18, 0.02, 0.10, 0.22, 0.22, 0.12, 0.05, 0.09],
        [0.12, 0.00, 0.02, 0.06, 0.12, 0.20, 0.28, 0.20],
        [0.08, 0.00, 0.00, 0.01, 0.04, 0.10, 0.52, 0.25],
    ]
)
FUNDING_MEAN_AGE = np.array([14.0, 3.0, 5.0, 7.0, 10.0, 13.0, 38.0, 25.0])
SIZE_EDGES = np.array([20, 200, 2001, 10000])  # searchsorted(side="right") -> class 0..4
SIZE_BUCKETS = np.array(["<20", "20-199", "200-2,000", "2,001-9,999", "10,000+"])

TOOLS = np.array(
    ["Salesforce", "HubSpot", "Snowflake", "Segment", "AWS", "GCP", "Azure", "Stripe",
     "Zendesk", "Intercom", "Databricks", "Marketo", "Slack", "Jira", "Shopify"]
)
(SALESFORCE, HUBSPOT, SNOWFLAKE, SEGMENT, AWS, GCP, AZURE, STRIPE, ZENDESK, INTERCOM,
 DATABRICKS, MARKETO, SLACK, JIRA, SHOPIFY) = range(15)
TOOL_BASE_LOGIT = np.array(
    [0.9, 0.9, 0.3, 0.0, 1.3, 0.3, 0.5, 0.4, 0.3, 0.1, -0.3, -0.2, 1.2, 0.9, -0.8]
)
TOOL_COUNT_P = np.array([0.25, 0.40, 0.55, 0.65, 0.70])  # k = 1 + Binomial(5, p[size])
STACK_SEPARATORS = np.array(["; ", ", ", "|"])
STACK_SEPARATOR_P = np.array([0.85, 0.10, 0.05])

DEAL_STAGES = np.array(["Closed Won", "Closed Lost", "Open", "Engaging"])
WON, LOST, OPEN, ENGAGING = range(4)
LEAD_SOURCES = np.array(["Inbound", "Outbound", "Partner", "Event", "Referral"])
LEAD_WEIGHTS = np.array([0.35, 0.30, 0.12, 0.10, 0.13])
PARTNER, REFERRAL = 2, 4

EMPLOYEE_BANDS = np.array(
    ["1-10", "11-50", "51-200", "201-500", "501-1,000", "1,001-5,000", "5,001-10,000", "10,000+"]
)
EMPLOYEE_BAND_UPPER = np.array([10, 50, 200, 500, 1000, 5000, 10000])  # searchsorted(side="left")
# Value used for a band when only the band is known (by generate_opportunities).
EMPLOYEE_BAND_VALUE = dict(zip(EMPLOYEE_BANDS.tolist(), [5, 30, 110, 330, 720, 2400, 7000, 20000], strict=True))

PLACEHOLDERS = np.array(["", "N/A", "-", "Select"])
PLACEHOLDER_P = np.array([0.55, 0.20, 0.15, 0.10])

WIN_INTERCEPT = -0.85
CLOSED_SHARE = 0.70
CHURN_INTERCEPT = -1.8
TODAY = np.datetime64("2025-12-01")
CLOSE_START, CLOSE_END = np.datetime64("2021-01-01"), np.datetime64("2025-09-30")

# Company-name parts. "Blue" + "peak" -> "Bluepeak"; + a suffix -> "Bluepeak Labs".
_NAME_HEADS = [
    "North", "Blue", "Silver", "Red", "Green", "Bright", "Clear", "Swift", "Iron", "Star",
    "Sun", "Cloud", "Stone", "River", "Oak", "Pine", "Maple", "Cedar", "Granite", "Summit",
    "Harbor", "Crystal", "Gold", "Black", "White", "Deep", "High", "True", "Prime", "Nova",
    "East", "West", "South", "Ever", "Sky", "Sea", "Frost", "Fox", "Wolf", "Hawk",
    "Bear", "Elm", "Birch", "Copper", "Amber", "Coral", "Lumen", "Terra", "Aero", "Vita",
]
_NAME_TAILS = [
    "wind", "peak", "field", "bridge", "stone", "gate", "light", "wave", "point", "ridge",
    "path", "line", "forge", "spring", "brook", "crest", "view", "hill", "port", "dale",
    "mark", "side", "shore", "core", "leaf", "rock", "vale", "haven", "tide", "beam",
    "loop", "nest", "grove", "well", "ford", "star",
]
NAME_STEMS = np.array([h + t for h in _NAME_HEADS for t in _NAME_TAILS if h.lower() != t])
GENERIC_SUFFIXES = [
    "Labs", "Systems", "Group", "Technologies", "Solutions", "Partners", "Works",
    "Digital", "Dynamics", "Ventures", "Global",
]
INDUSTRY_SUFFIXES = [  # 6 per industry, in INDUSTRIES order
    ["Pay", "Payments", "Capital", "Finance", "Ledger", "Money"],
    ["Software", "Cloud", "Analytics", "Data", "AI", "Apps"],
    ["Health", "Bio", "Medical", "Care", "Therapeutics", "Diagnostics"],
    ["Commerce", "Shop", "Market", "Goods", "Direct", "Store"],
    ["Industries", "Manufacturing", "Materials", "Robotics", "Engineering", "Machines"],
    ["Learning", "Academy", "Education", "Institute", "Tutors", "Campus"],
    ["County", "Authority", "Council", "Public Services", "Agency", "Municipality"],
    ["Media", "Studios", "Publishing", "Broadcasting", "Entertainment", "Press"],
    ["Logistics", "Freight", "Shipping", "Transport", "Supply", "Cargo"],
    ["Retail", "Stores", "Outfitters", "Brands", "Boutique", "Mart"],
]
NAME_SUFFIXES = np.array(GENERIC_SUFFIXES + [s for block in INDUSTRY_SUFFIXES for s in block])
assert len(set(NAME_SUFFIXES.tolist())) == len(NAME_SUFFIXES), "name suffixes must be distinct"
NAME_SUFFIX_SLUGS = np.strings.lower(np.strings.replace(NAME_SUFFIXES, " ", ""))  # for domains
NAME_STEM_SLUGS = np.strings.lower(NAME_STEMS)
N_GENERIC = len(GENERIC_SUFFIXES)
# Chance that a company uses a generic suffix rather than an industry one.
GENERIC_SUFFIX_P = np.array([0.5, 0.5, 0.4, 0.4, 0.5, 0.2, 0.0, 0.4, 0.4, 0.4])
WEB_PREFIXES = np.array(["https://www.", "www.", "https://", "http://www."])
WEB_PREFIX_P = np.array([0.75, 0.10, 0.08, 0.07])

PRODUCTS = np.array(["Core", "Core Plus", "Enterprise"])
PRODUCT_BASE_VALUE = np.array([12_000.0, 30_000.0, 85_000.0])
OPP_STAGES = np.array(["Won", "Lost", "Engaging", "Prospecting"])


# --------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _cat(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays / scalars."""
    out = parts[0]
    for p in parts[1:]:
        out = np.strings.add(out, p)
    return np.asarray(out)


def _sample_rows(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row; ``cum`` is an (n, k) array of cumulative probabilities."""
    u = rng.random(cum.shape[0])
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


_DIGITS3 = np.arange(1000).astype(str)
_DIGITS3_PADDED = np.strings.zfill(_DIGITS3, 3)


def _int_text(v: np.ndarray) -> np.ndarray:
    """Non-negative integers -> decimal strings (a lookup table when the values are small)."""
    v = np.asarray(v, dtype=np.int64)
    if v.size and v.min() >= 0 and v.max() < 1_000_000:
        return np.arange(v.max() + 1).astype(str)[v]
    return v.astype(str)


def _padded_ids(prefix: str, n: int, width: int) -> np.ndarray:
    """'ACC-000001' .. for 1..n, zero-padded to ``width`` digits (more digits if needed)."""
    i = np.arange(1, n + 1)
    high = np.strings.zfill(np.arange(n // 1000 + 1).astype(str), max(width - 3, 1))
    return _cat(prefix, high[i // 1000], _DIGITS3_PADDED[i % 1000])


def _commas(v: np.ndarray) -> np.ndarray:
    """Non-negative integers -> '2,500,000'."""
    v = np.asarray(v, dtype=np.int64)
    group, rest = v % 1000, v // 1000
    out = np.where(rest > 0, _DIGITS3_PADDED[group], _DIGITS3[group])
    while rest.size and rest.max() > 0:
        group, higher = rest % 1000, rest // 1000
        g = np.where(higher > 0, _DIGITS3_PADDED[group], _DIGITS3[group])
        out = np.where(rest > 0, _cat(g, ",", out), out)
        rest = higher
    return out


def _one_decimal(x: np.ndarray) -> np.ndarray:
    """Floats -> '2.5' / '36.9' / '3' (trailing '.0' dropped)."""
    tenths = np.rint(np.asarray(x, dtype=np.float64) * 10).astype(np.int64)
    whole, frac = tenths // 10, tenths % 10
    whole = _int_text(whole)
    return np.where(frac > 0, _cat(whole, ".", _DIGITS3[frac]), whole)


def _short_money(v: np.ndarray) -> np.ndarray:
    """USD amounts -> '850k' / '2.5M' / '1.2B' (no currency sign)."""
    v = np.asarray(v, dtype=np.float64)
    out = np.where(
        v >= 1e9,
        _cat(_one_decimal(v / 1e9), "B"),
        np.where(v >= 1e6, _cat(_one_decimal(v / 1e6), "M"),
                 _cat(_int_text(np.rint(v / 1e3)), "k")),
    )
    return out


def _word_money(v: np.ndarray) -> np.ndarray:
    """'36.9 Million' / '1.2 Billion'; below a million falls back to '850,000'."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(
        v >= 1e9,
        _cat(_one_decimal(v / 1e9), " Billion"),
        np.where(v >= 1e6, _cat(_one_decimal(v / 1e6), " Million"), _commas(np.rint(v))),
    )


def _date_vocab(start: np.datetime64, end: np.datetime64, us_format: bool) -> np.ndarray:
    """All dates in [start, end] as strings: ISO 'YYYY-MM-DD' or US 'M/D/YYYY'."""
    days = np.arange(start, end + np.timedelta64(1, "D"), dtype="datetime64[D]")
    if not us_format:
        return days.astype(str)
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return _cat(month.astype(str), "/", day.astype(str), "/", year.astype(str))


def _fill(mask: np.ndarray, values: np.ndarray, width: int) -> np.ndarray:
    """Array of blanks with ``values`` placed where ``mask`` is true."""
    out = np.full(mask.shape[0], "", dtype=f"<U{max(width, 1)}")
    out[mask] = values
    return out


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "U":
        a = a.astype(str)
    return a if a.dtype.itemsize // 4 >= width else a.astype(f"<U{width}")


# --------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------

def _simulate_accounts(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw the clean, typed account traits and outcomes (no formatting, no mess)."""
    ind = rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_WEIGHTS)
    cty = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS)
    region = COUNTRY_REGION[cty]

    log_emp = rng.normal(np.log(80.0) + INDUSTRY_SIZE_SHIFT[ind], 1.75)
    emp = np.clip(np.rint(np.exp(log_emp)), 1, 250_000).astype(np.int64)
    size = np.searchsorted(SIZE_EDGES, emp, side="right")
    revenue = np.maximum(emp * np.exp(rng.normal(np.log(140_000.0), 0.3, n)), 50_000.0)

    stage = _sample_rows(rng, np.cumsum(FUNDING_BY_SIZE, axis=1)[size])
    age = rng.gamma(3.0, FUNDING_MEAN_AGE[stage] / 3.0)
    founded = np.clip(2024 - np.floor(age), 1950, 2024).astype(np.int64)

    # Tech stack: k tools drawn without replacement, weighted by industry/size-
    # dependent propensities (Gumbel top-k trick).
    logit = np.broadcast_to(TOOL_BASE_LOGIT.astype(np.float32), (n, len(TOOLS))).copy()
    is_ind = lambda *codes: np.isin(ind, codes)  # noqa: E731
    logit[:, SHOPIFY] += 2.5 * is_ind(ECOMMERCE, RETAIL)
    logit[:, STRIPE] += 1.5 * is_ind(FINTECH, SAAS, ECOMMERCE)
    logit[:, SNOWFLAKE] += 0.6 * is_ind(FINTECH, SAAS) + 0.8 * (size >= 2)
    logit[:, SEGMENT] += 0.6 * is_ind(SAAS, ECOMMERCE, MEDIA)
    logit[:, INTERCOM] += 0.5 * is_ind(SAAS)
    logit[:, AZURE] += 0.8 * is_ind(GOVERNMENT, HEALTHCARE, EDUCATION, MANUFACTURING)
    logit[:, DATABRICKS] += 0.8 * (size >= 3)
    logit[:, MARKETO] += 0.6 * (size >= 3)
    logit[:, SALESFORCE] += 0.8 * (size >= 2)
    logit[:, HUBSPOT] += 0.8 * (size <= 1) - 0.8 * (size >= 3)
    gumbel = -np.log(-np.log(rng.random((n, len(TOOLS)), dtype=np.float32) + np.float32(1e-12)))
    order = np.argsort(-(logit + gumbel), axis=1)[:, :6]
    k = 1 + rng.binomial(5, TOOL_COUNT_P[size])
    tools = np.zeros((n, len(TOOLS)), dtype=bool)
    tools[np.arange(n)[:, None], order] = np.arange(6)[None, :] < k[:, None]
    del logit, gumbel, order

    lead = rng.choice(len(LEAD_SOURCES), size=n, p=LEAD_WEIGHTS)

    # Win model (see module docstring).
    fit = (
        INDUSTRY_WIN_COEF[ind]
        + 0.9 * ((emp >= 200) & (emp <= 2000))
        - 1.0 * (emp < 20)
        + 0.8 * tools[:, SNOWFLAKE]
        + 0.5 * tools[:, SEGMENT]
        + 0.3 * tools[:, SALESFORCE]
        + 0.4 * np.isin(stage, (SERIES_B, SERIES_C))
        + 0.4 * np.isin(lead, (PARTNER, REFERRAL))
        + 0.2 * (region == EMEA)
    )
    p_win = _sigmoid(WIN_INTERCEPT + fit + rng.normal(0.0, 0.5, n))
    closed = rng.random(n) < CLOSED_SHARE
    won = closed & (rng.random(n) < p_win)
    deal = np.where(closed, np.where(won, WON, LOST), np.where(rng.random(n) < 0.5, OPEN, ENGAGING))

    churn_logit = (
        CHURN_INTERCEPT
        + 1.8 * is_ind(GOVERNMENT, EDUCATION)
        + 1.5 * (emp < 20)
        - 0.4 * is_ind(FINTECH, SAAS)
        - 0.3 * ((emp >= 200) & (emp <= 2000))
        - 0.3 * tools[:, SNOWFLAKE]
        + rng.normal(0.0, 0.3, n)
    )
    churned = won & (rng.random(n) < _sigmoid(churn_logit))

    nps = np.clip(np.rint(6.3 + 0.9 * fit - 2.2 * churned + rng.normal(0.0, 1.6, n)), 0, 10)
    nps = np.where(won & (rng.random(n) >= 0.30), nps, -1).astype(np.int64)  # -1 = not given

    log_cycle = np.log(55.0) + 0.15 * (np.log(emp) - np.log(80.0)) - 0.3 * fit + 0.1 * (deal == LOST)
    cycle = np.clip(np.rint(np.exp(log_cycle + rng.normal(0.0, 0.45, n))), 7, 720).astype(np.int64)
    cycle = np.where(closed, cycle, -1)

    span = int((CLOSE_END - CLOSE_START).astype(np.int64)) + 1
    close_day = np.where(closed, rng.integers(0, span, n), -1)
    signup_day = np.where(won, close_day + rng.integers(0, 31, n), -1)

    arr = 9_000.0 * (emp / 50.0) ** 0.45 * np.exp(rng.normal(0.0, 0.45, n))
    arr = np.where(won, np.rint(np.clip(arr, 2_400, 2_000_000) / 100) * 100, 0).astype(np.int64)

    return dict(
        industry=ind, country=cty, region=region, employees=emp, size=size, revenue=revenue,
        funding=stage, founded=founded, tools=tools, lead=lead, fit=fit, deal=deal,
        churned=churned, nps=nps, cycle=cycle, close_day=close_day, signup_day=signup_day, arr=arr,
    )


def _render_accounts(lat: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Turn the clean traits into CRM-export strings (mixed formats, variants)."""
    n = lat["industry"].shape[0]
    ind, cty, emp = lat["industry"], lat["country"], lat["employees"]
    deal = lat["deal"]
    won, closed = deal == WON, (deal == WON) | (deal == LOST)
    cols: dict[str, np.ndarray] = {}

    cols["Account ID"] = _padded_ids("ACC-", n, 6)

    # Names: stem + suffix; the k-th repeat of a name gets " k".
    stem = rng.integers(0, len(NAME_STEMS), n)
    generic = rng.random(n) < GENERIC_SUFFIX_P[ind]
    suffix = np.where(generic, rng.integers(0, N_GENERIC, n), N_GENERIC + 6 * ind + rng.integers(0, 6, n))
    code = stem * len(NAME_SUFFIXES) + suffix
    uniq, inv = np.unique(code, return_inverse=True)
    u_stem, u_suffix = uniq // len(NAME_SUFFIXES), uniq % len(NAME_SUFFIXES)
    name = _widen(_cat(NAME_STEMS[u_stem], " ", NAME_SUFFIXES[u_suffix]), 48)[inv]
    domain = _widen(_cat(NAME_STEM_SLUGS[u_stem], NAME_SUFFIX_SLUGS[u_suffix]), 40)[inv]
    occ = pd.Series(code).groupby(code, sort=False).cumcount().to_numpy()
    dup = occ > 0
    if dup.any():
        num = _int_text(occ[dup] + 1)
        name[dup] = _cat(name[dup], " ", num)
        domain[dup] = _cat(domain[dup], num)
    legal = (rng.random(n) < 0.15) & ~np.isin(ind, (GOVERNMENT, EDUCATION))
    name[legal] = _cat(name[legal], " ", COUNTRY_LEGAL[cty[legal]])
    cols["Account Name"] = name

    tld = np.full(n, ".com", dtype="<U8")
    local = (rng.random(n) < 0.35) & (cty != 0)
    tld[local] = COUNTRY_TLD[cty[local]]
    tld[(ind == SAAS) & (rng.random(n) < 0.30)] = ".io"
    tld[(ind == GOVERNMENT) & (cty == 0)] = ".gov"
    prefix = WEB_PREFIXES[rng.choice(len(WEB_PREFIXES), size=n, p=WEB_PREFIX_P)]
    cols["Website"] = _cat(prefix, domain, tld)

    # Industry: canonical, case/whitespace variants (~3.5%), typos (~0.5%).
    variants = np.stack(
        [INDUSTRIES, np.strings.lower(INDUSTRIES), np.strings.upper(INDUSTRIES),
         _cat(" ", INDUSTRIES), _cat(INDUSTRIES, " "), _cat(" ", np.strings.lower(INDUSTRIES)),
         INDUSTRY_TYPOS],
        axis=1,
    )
    u = rng.random(n)
    variant = np.where(u < 0.005, 6, np.where(u < 0.04, 1 + rng.integers(0, 5, n), 0))
    cols["Industry"] = variants[ind, variant]

    cols["Country"] = COUNTRY_SPELLINGS[cty, _sample_rows(rng, COUNTRY_SPELLING_CUM[cty])]
    cols["Region"] = REGIONS[lat["region"]]

    band = EMPLOYEE_BANDS[np.searchsorted(EMPLOYEE_BAND_UPPER, emp, side="left")]
    employees = _widen(band, 12)
    exact = rng.random(n) < 0.60
    employees[exact] = _int_text(emp[exact])
    cols["Employees"] = employees

    # Revenue in mixed formats; each format is computed only for its rows.
    rev = lat["revenue"]
    fmt = rng.choice(5, size=n, p=[0.32, 0.26, 0.16, 0.26, 0.0])
    fmt[COUNTRY_EUROZONE[cty] & (rng.random(n) < 0.35)] = 4
    revenue = np.full(n, "", dtype="<U24")
    for f, render in enumerate(
        [
            lambda v: _cat("$", _short_money(v)),
            lambda v: _commas(np.rint(v)),
            _word_money,
            lambda v: _int_text(np.rint(v)),
            lambda v: _cat("€", _short_money(v * 0.92)),
        ]
    ):
        m = fmt == f
        if m.any():
            revenue[m] = render(rev[m])
    cols["Annual Revenue"] = revenue

    cols["Funding Stage"] = FUNDING_STAGES[lat["funding"]]
    cols["Founded"] = _int_text(lat["founded"])

    # Tech stack: picklist order, one string per distinct (tool set, separator).
    bits = (lat["tools"].astype(np.int64) << np.arange(len(TOOLS))).sum(axis=1)
    sep = rng.choice(len(STACK_SEPARATORS), size=n, p=STACK_SEPARATOR_P)
    uniq, inv = np.unique(bits * len(STACK_SEPARATORS) + sep, return_inverse=True)
    tools_list = TOOLS.tolist()
    stack_vocab = np.array(
        [
            str(STACK_SEPARATORS[c % len(STACK_SEPARATORS)]).join(
                t for j, t in enumerate(tools_list) if (c // len(STACK_SEPARATORS)) >> j & 1
            )
            for c in uniq.tolist()
        ]
    )
    cols["Tech Stack"] = stack_vocab[inv]

    cols["Deal Stage"] = DEAL_STAGES[deal]

    arr = lat["arr"][won]
    arr_txt = np.where(rng.random(arr.shape[0]) < 0.55, _cat("$", _commas(arr)), _int_text(arr))
    cols["ARR"] = _fill(won, arr_txt, 16)
    cols["Churned"] = _fill(won, np.where(lat["churned"][won], "Yes", "No"), 3)
    has_nps = lat["nps"] >= 0
    cols["NPS"] = _fill(has_nps, _int_text(lat["nps"][has_nps]), 2)
    cols["Sales Cycle Days"] = _fill(closed, _int_text(lat["cycle"][closed]), 4)
    iso = _date_vocab(CLOSE_START, CLOSE_END + np.timedelta64(31, "D"), us_format=False)
    us = _date_vocab(CLOSE_START, CLOSE_END, us_format=True)
    cols["Signup Date"] = _fill(won, iso[lat["signup_day"][won]], 10)
    cols["Close Date"] = _fill(closed, us[lat["close_day"][closed]], 10)
    cols["Lead Source"] = LEAD_SOURCES[lat["lead"]]
    return cols


def _add_mess(cols: dict[str, np.ndarray], rng: np.random.Generator, messy: float) -> None:
    """Blank out / placeholder a ``messy`` share of cells outside the ID columns."""
    if messy <= 0:
        return
    for name in ACCOUNT_COLUMNS[2:]:
        a = _widen(cols[name], 6)  # room for "Select"
        m = rng.random(a.shape[0]) < messy
        a[m] = PLACEHOLDERS[rng.choice(len(PLACEHOLDERS), size=int(m.sum()), p=PLACEHOLDER_P)]
        cols[name] = a


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for traits, formatting and mess, so ``messy`` does not change the rest."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))


def _to_frame(cols: dict[str, np.ndarray], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.array(np.asarray(cols[c]), dtype="str") for c in columns})


def generate_accounts(n: int, seed: int = 7, messy: float = 0.03) -> pd.DataFrame:
    """Synthetic CRM account export: ``n`` rows, every column a string (see module docstring).

    The same ``(n, seed)`` always gives the same accounts. ``messy`` only changes
    which cells become blanks or placeholders.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= messy <= 1.0:
        raise ValueError("messy must be between 0 and 1")
    if n == 0:
        return pd.DataFrame({c: pd.array([], dtype="str") for c in ACCOUNT_COLUMNS})
    trait_rng, format_rng, mess_rng = _streams(seed)
    cols = _render_accounts(_simulate_accounts(n, trait_rng), format_rng)
    _add_mess(cols, mess_rng, messy)
    return _to_frame(cols, ACCOUNT_COLUMNS)


def clean_accounts(n: int, seed: int = 7) -> pd.DataFrame:
    """The typed truth behind ``generate_accounts(n, seed)``: same rows, before formatting and mess.

    Used for checking the signal. Columns: industry, country, region, employees,
    size_bucket, revenue, funding_stage, founded, lead_source, deal_stage, won,
    closed, churned, nps (NaN if not given), sales_cycle_days, fit, plus one
    boolean column per tool.
    """
    lat = _simulate_accounts(n, _streams(seed)[0])
    out = pd.DataFrame(
        {
            "industry": INDUSTRIES[lat["industry"]],
            "country": COUNTRIES[lat["country"]],
            "region": REGIONS[lat["region"]],
            "employees": lat["employees"],
            "size_bucket": pd.Categorical(SIZE_BUCKETS[lat["size"]], categories=SIZE_BUCKETS, ordered=True),
            "revenue": lat["revenue"],
            "funding_stage": FUNDING_STAGES[lat["funding"]],
            "founded": lat["founded"],
            "lead_source": LEAD_SOURCES[lat["lead"]],
            "deal_stage": DEAL_STAGES[lat["deal"]],
            "won": lat["deal"] == WON,
            "closed": lat["deal"] <= LOST,
            "churned": lat["churned"],
            "nps": np.where(lat["nps"] >= 0, lat["nps"], np.nan),
            "sales_cycle_days": np.where(lat["cycle"] >= 0, lat["cycle"], np.nan),
            "fit": lat["fit"],
        }
    )
    for j, tool in enumerate(TOOLS.tolist()):
        out[f"uses_{tool.lower()}"] = lat["tools"][:, j]
    return out


# --------------------------------------------------------------------------
# Opportunities
# --------------------------------------------------------------------------

def _column(accounts: pd.DataFrame, name: str, lower: bool = True) -> pd.Series:
    """A column as stripped (and lower-cased) strings; all blanks if it is missing."""
    if name not in accounts.columns:
        return pd.Series("", index=accounts.index, dtype="str")
    s = accounts[name].astype("str").fillna("").str.strip()
    return s.str.lower() if lower else s


def _fit_from_export(accounts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Re-score exported (string, possibly messy) accounts with the win model.

    Returns ``(fit, employees)``. Unknown values add nothing to ``fit``.
    ``employees`` is NaN when the size is unknown.
    """
    ind_coef = {s.lower(): c for s, c in zip(INDUSTRIES.tolist(), INDUSTRY_WIN_COEF.tolist(), strict=True)}
    ind_coef.update({s.lower(): c for s, c in zip(INDUSTRY_TYPOS.tolist(), INDUSTRY_WIN_COEF.tolist(), strict=True)})
    fit = _column(accounts, "Industry").map(ind_coef).fillna(0.0).to_numpy(dtype=float, copy=True)

    raw = _column(accounts, "Employees", lower=False)
    emp = pd.to_numeric(raw.str.replace(",", "", regex=False), errors="coerce")
    emp = emp.fillna(raw.map(EMPLOYEE_BAND_VALUE)).to_numpy(dtype=float)
    fit += 0.9 * ((emp >= 200) & (emp <= 2000)) - 1.0 * (emp < 20)

    stack = _column(accounts, "Tech Stack")
    for tool, coef in (("snowflake", 0.8), ("segment", 0.5), ("salesforce", 0.3)):
        fit += coef * stack.str.contains(tool, regex=False).to_numpy(dtype=bool)
    fit += 0.4 * _column(accounts, "Funding Stage").isin(["series b", "series c"]).to_numpy()
    fit += 0.4 * _column(accounts, "Lead Source").isin(["partner", "referral"]).to_numpy()
    fit += 0.2 * (_column(accounts, "Region") == "emea").to_numpy()
    return fit, emp


def generate_opportunities(accounts: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Deals file for ``accounts`` (the output of :func:`generate_accounts`, or the CSV read back).

    About 70% of accounts get 1-5 deals. How often a deal is won follows the
    account's fit (recomputed from its exported traits) and the account's own
    Deal Stage.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x0BB5]))
    n_acc = len(accounts)
    names = accounts["Account Name"].astype("str").fillna("").to_numpy(dtype=str)
    fit, emp = _fit_from_export(accounts)
    stage = _column(accounts, "Deal Stage").to_numpy(dtype=str)
    p_fit = _sigmoid(WIN_INTERCEPT + fit)
    anchor = np.where(stage == "closed won", 1.0, np.where(stage == "closed lost", 0.0, p_fit))
    p_deal_acc = np.clip(0.5 * p_fit + 0.5 * anchor, 0.02, 0.98)

    has = rng.random(n_acc) < 0.70
    counts = np.where(has, 1 + rng.choice(5, size=n_acc, p=[0.40, 0.25, 0.17, 0.11, 0.07]), 0)
    acc = np.repeat(np.arange(n_acc), counts)
    m = acc.shape[0]
    if m == 0:
        return pd.DataFrame({c: pd.array([], dtype="str") for c in OPPORTUNITY_COLUMNS})
    e = emp[acc]
    fit_d = fit[acc]

    # Product by company size (unknown size -> middle mix).
    cum = np.cumsum(
        np.select(
            [np.isnan(e)[:, None], (e < 50)[:, None], (e < 1000)[:, None]],
            [np.array([[0.50, 0.35, 0.15]]), np.array([[0.75, 0.22, 0.03]]), np.array([[0.40, 0.40, 0.20]])],
            default=np.array([[0.15, 0.35, 0.50]]),
        ),
        axis=1,
    )
    product = _sample_rows(rng, cum)

    closed = rng.random(m) < 0.80
    won = closed & (rng.random(m) < p_deal_acc[acc])
    deal_stage = np.where(closed, np.where(won, 0, 1), np.where(rng.random(m) < 0.55, 2, 3))

    # Closed deals: close date in 2021-01-01 .. TODAY, engaged one sales cycle earlier.
    # Open deals: engaged in the last 180 days.
    size_term = np.where(np.isnan(e), 0.0, 0.15 * (np.log(np.nan_to_num(e, nan=80.0).clip(1)) - np.log(80.0)))
    cycle = np.clip(np.rint(np.exp(np.log(55.0) + size_term - 0.3 * fit_d + rng.normal(0, 0.45, m))), 7, 540)
    span = int((TODAY - CLOSE_START).astype(np.int64)) + 1
    close = CLOSE_START + rng.integers(0, span, m).astype("timedelta64[D]")
    recent = TODAY - rng.integers(0, 181, m).astype("timedelta64[D]")
    engage = np.where(closed, close - cycle.astype("timedelta64[D]"), recent)

    size_factor = np.where(np.isnan(e), 1.0, (np.nan_to_num(e, nan=100.0).clip(1) / 100.0) ** 0.2)
    value = np.rint(PRODUCT_BASE_VALUE[product] * size_factor * np.exp(rng.normal(0, 0.35, m)) / 100) * 100

    # Account name as typed in the deal: mostly exact, some case/space variants, ~3% blank.
    nm = _widen(names[acc], max(8, (names.dtype.itemsize // 4) + 2 if names.size else 8))
    variant = rng.choice(8, size=m, p=[0.80, 0.05, 0.03, 0.03, 0.03, 0.02, 0.01, 0.03])
    for v, f in {
        1: np.strings.lower,
        2: lambda s: _cat(np.strings.lower(s), " "),
        3: np.strings.upper,
        4: lambda s: _cat(s, " "),
        5: lambda s: _cat(" ", s),
        6: lambda s: np.strings.replace(s, " ", "  ", 1),
    }.items():
        sel = variant == v
        if sel.any():
            nm[sel] = f(nm[sel])
    nm[variant == 7] = ""

    # IDs in order of engage date.
    orderd = np.argsort(engage, kind="stable")
    cols = {
        "Opportunity ID": _padded_ids("OPP-", m, 7),
        "Account": nm[orderd],
        "Product": PRODUCTS[product][orderd],
        "Deal Stage": OPP_STAGES[deal_stage][orderd],
        "Engage Date": engage.astype(str)[orderd],
        "Close Date": np.where(closed, close.astype(str), "")[orderd],
        "Close Value": np.where(closed, value.astype(np.int64).astype(str), "")[orderd],
    }
    return _to_frame(cols, OPPORTUNITY_COLUMNS)


# --------------------------------------------------------------------------
# Signal check and CLI
# --------------------------------------------------------------------------

def signal_report(n: int = 3000, seed: int = 7) -> str:
    """Win rate (among closed deals) and churn by segment, from :func:`clean_accounts`."""
    df = clean_accounts(n, seed)
    closed = df[df["closed"]]
    won = df[df["won"]]

    def table(frame: pd.DataFrame, by: str, value: str, label: str) -> pd.DataFrame:
        g = frame.groupby(by, observed=True)[value]
        return pd.DataFrame({"n": g.size(), label: g.mean().round(3)}).sort_values(label, ascending=False)

    icp = closed["industry"].isin(["Fintech", "SaaS"]) & closed["size_bucket"].eq("200-2,000")
    gov_edu = closed["industry"].isin(["Government", "Education"])
    worst = gov_edu | closed["employees"].lt(20)
    worst_cell = gov_edu & closed["employees"].lt(20)
    parts = [
        f"accounts={len(df)} closed={len(closed)} won={len(won)} "
        f"win rate among closed={closed['won'].mean():.3f} churn among won={won['churned'].mean():.3f}",
        "\nWin rate among closed, by industry:\n" + table(closed, "industry", "won", "win_rate").to_string(),
        "\nWin rate among closed, by employee bucket:\n"
        + table(closed, "size_bucket", "won", "win_rate").sort_index().to_string(),
        "\nChurn rate among won, by industry:\n" + table(won, "industry", "churned", "churn_rate").to_string(),
        "\nChurn rate among won, by employee bucket:\n"
        + table(won, "size_bucket", "churned", "churn_rate").sort_index().to_string(),
        f"\nICP (Fintech/SaaS, 200-2,000 employees): win rate {closed.loc[icp, 'won'].mean():.3f} "
        f"(n={int(icp.sum())}), churn {won.loc[won.index.isin(closed.index[icp]), 'churned'].mean():.3f}",
        f"Anti-ICP (Government/Education or <20 employees): win rate {closed.loc[worst, 'won'].mean():.3f} "
        f"(n={int(worst.sum())}), churn {won.loc[won.index.isin(closed.index[worst]), 'churned'].mean():.3f}",
        f"Worst cell (Government/Education and <20 employees): win rate {closed.loc[worst_cell, 'won'].mean():.3f} "
        f"(n={int(worst_cell.sum())})",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic CRM exports (accounts.csv, opportunities.csv).")
    parser.add_argument("--n", type=int, default=3000, help="number of accounts (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--messy", type=float, default=0.03, help="share of messy cells (default 0.03)")
    parser.add_argument(
        "--out-dir", type=Path, default=Path(__file__).resolve().parent,
        help="output folder (default: the folder of this script, i.e. sample_data/)",
    )
    parser.add_argument(
        "--opportunities", action=argparse.BooleanOptionalAction, default=True,
        help="also write opportunities.csv (default: yes)",
    )
    parser.add_argument("--check", action="store_true", help="print the signal check tables")
    args = parser.parse_args(argv)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    accounts = generate_accounts(args.n, seed=args.seed, messy=args.messy)
    accounts.to_csv(args.out_dir / "accounts.csv", index=False, encoding="utf-8")
    print(f"wrote {args.out_dir / 'accounts.csv'} ({len(accounts):,} rows, {time.perf_counter() - t0:.1f}s)")
    if args.opportunities:
        opps = generate_opportunities(accounts, seed=args.seed)
        opps.to_csv(args.out_dir / "opportunities.csv", index=False, encoding="utf-8")
        print(f"wrote {args.out_dir / 'opportunities.csv'} ({len(opps):,} rows)")
    if args.check:
        print(signal_report(args.n, args.seed))


if __name__ == "__main__":
    main()
