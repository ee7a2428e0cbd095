"""CRM exports in the shapes real tools write them, seeded, for tests and benchmarks.

Each function returns a DataFrame of text as the tool exports it: order lines (one row per
order, the customer repeating), a HubSpot "all deals" export, a Salesforce Accounts +
Opportunities pair (18-character ids, `StageName`, `IsWon` = 1 or blank, always-empty system
columns) and a Salesforce Lead export. The true per-customer facts (rows, won/lost counts) are
returned beside, so tests compare the roll-up with what was generated, not with itself.

    python sample_data/generate_exports.py order_lines 1000000 100000 OUT.csv
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

INDUSTRIES = ["Software", "Fintech", "Healthcare", "Retail", "Manufacturing", "Education", "Logistics"]
COUNTRIES = ["United States", "Germany", "United Kingdom", "France", "Brazil", "Spain", "Canada"]
CITIES = ["Wilmington", "Wellington", "Guangzhou", "Hangzhou", "Austin", "Boston", "Lyon", "Porto"]
PRODUCTS = ["Core", "Core Plus", "Analytics", "Connectors", "Support Gold", "Seats"]
FIRST = ["Maria", "Marta", "Jose", "Anna", "Ahmed", "Li", "Sven", "Chloe", "Ravi", "Olga"]
LAST = ["Fernandez", "Hernandez", "Smith", "Muller", "Dubois", "Tanaka", "Rossi", "Silva"]


def _customers(n: int, rng: np.random.Generator, prefix: str = "CUST") -> pd.DataFrame:
    return pd.DataFrame({
        "id": [f"{prefix}-{i:06d}" for i in range(1, n + 1)],
        "name": [f"Customer {i} {['Ltd', 'Inc', 'GmbH', 'SA'][i % 4]}" for i in range(1, n + 1)],
        "industry": rng.choice(INDUSTRIES, n),
        "country": rng.choice(COUNTRIES, n),
        "city": rng.choice(CITIES, n),
        "employees": rng.integers(5, 5000, n),
    })


def order_lines(rows: int, customers: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(order lines, truth per customer: id, lines, amount). Every customer has at least one line."""
    rng = np.random.default_rng(seed)
    c = _customers(customers, rng)
    who = np.concatenate([np.arange(customers), rng.integers(0, customers, max(rows - customers, 0))])[:rows]
    rng.shuffle(who)
    qty = rng.integers(1, 20, rows)
    price = rng.choice([49.0, 99.0, 199.0, 499.0, 1250.0], rows)
    days = rng.integers(0, 3 * 365, rows)
    df = pd.DataFrame({
        "Order ID": [f"SO-{i:07d}" for i in range(1, rows + 1)],
        "Customer ID": c["id"].to_numpy()[who],
        "Customer Name": c["name"].to_numpy()[who],
        "Country": c["country"].to_numpy()[who],
        "City": c["city"].to_numpy()[who],
        "Industry": c["industry"].to_numpy()[who],
        "Product": rng.choice(PRODUCTS, rows),
        "Quantity": qty,
        "Unit Price": price,
        "Amount": (qty * price).round(2),
        "Order Date": (pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
    })
    truth = df.groupby("Customer ID").agg(lines=("Order ID", "size"), amount=("Amount", "sum")).reset_index()
    return df, truth


HUBSPOT_STAGES = {"Closed: won": "won", "Closed: lost": "lost", "Closed: abandoned": "lost",
                  "Awaiting outcome": "open", "Appointment scheduled": "open", "Contract sent": "open"}


def hubspot_deals(rows: int, companies: int, seed: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(a HubSpot 'all deals' export, truth per company: name, won, lost, open)."""
    rng = np.random.default_rng(seed)
    c = _customers(companies, rng, "HS")
    who = np.concatenate([np.arange(companies), rng.integers(0, companies, max(rows - companies, 0))])[:rows]
    stage = rng.choice(list(HUBSPOT_STAGES), rows, p=[0.3, 0.25, 0.1, 0.15, 0.1, 0.1])
    minutes = rng.integers(0, 2 * 365 * 24 * 60, rows)
    df = pd.DataFrame({
        "Deal ID": [str(9_000_000_000 + i) for i in range(rows)],
        "Deal Name": [f"Deal {i}" for i in range(rows)],
        "Associated Company": c["name"].to_numpy()[who],
        "Industry": c["industry"].to_numpy()[who],
        "Deal Stage": stage,
        "Amount": rng.integers(1, 200, rows) * 500,
        "Close Date": (pd.Timestamp("2023-01-01") + pd.to_timedelta(minutes, unit="min")).strftime("%Y-%m-%d %H:%M"),
        "Pipeline": "Sales Pipeline",
        "Deal owner": rng.choice(["Ana Costa", "Ben Ode"], rows),
    })
    outcome = pd.Series(stage).map(HUBSPOT_STAGES)
    truth = pd.DataFrame({"company": df["Associated Company"], "o": outcome}).pivot_table(
        index="company", columns="o", aggfunc="size", fill_value=0).reset_index()
    return df, truth


def _sf_id(prefix: str, i: int) -> str:
    return f"{prefix}5g000{i:010d}AAC"


def salesforce_pair(accounts: int, deals: int, seed: int = 9) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(Salesforce Account export, Opportunity export, truth: won, lost, open counts).

    The Account export has 56 columns, 19 of them always empty system columns; the Opportunity
    export's IsWon is 1 or blank, so only StageName tells lost from open."""
    rng = np.random.default_rng(seed)
    c = _customers(accounts, rng, "SF")
    ids = [_sf_id("001", i) for i in range(accounts)]
    acc = {
        "Id": ids, "IsDeleted": "", "MasterRecordId": "", "Name": c["name"], "Type": "Customer",
        "ParentId": "", "BillingStreet": [f"{i} Main St" for i in range(accounts)],
        "BillingCity": c["city"], "BillingState": "", "BillingPostalCode": rng.integers(10000, 99999, accounts).astype(str),
        "BillingCountry": c["country"], "Phone": [f"+1 208-555-{i % 10000:04d}" for i in range(accounts)],
        "Website": [f"https://www.customer{i}.example" for i in range(accounts)],
        "Industry": c["industry"], "AnnualRevenue": rng.integers(1, 500, accounts) * 100_000,
        "NumberOfEmployees": c["employees"], "OwnerId": _sf_id("005", 1), "CreatedDate": "2021-03-04T10:22:00.000Z",
        "YearStarted": rng.integers(1950, 2022, accounts).astype(str),
        "NaicsDesc": rng.choice(["Software Publishers", "Hospitals", "Commercial Banking"], accounts),
        "AccountSource": rng.choice(["Web", "Partner Referral", "Trade Show"], accounts),
    }
    for i in range(56 - len(acc)):
        acc[f"Empty_System_Field_{i + 1}__c"] = ""
    accounts_df = pd.DataFrame(acc)
    who = np.concatenate([np.arange(accounts), rng.integers(0, accounts, max(deals - accounts, 0))])[:deals]
    stage = rng.choice(["Closed Won", "Closed Lost", "Prospecting", "Negotiation/Review"], deals, p=[.35, .35, .15, .15])
    opp = pd.DataFrame({
        "Id": [_sf_id("006", i) for i in range(deals)],
        "AccountId": np.array(ids)[who],
        "Name": [f"Opportunity {i}" for i in range(deals)],
        "StageName": stage,
        "IsWon": np.where(stage == "Closed Won", "1", ""),
        "IsClosed": np.where(np.isin(stage, ["Closed Won", "Closed Lost"]), "1", ""),
        "Amount": rng.integers(1, 100, deals) * 1000,
        "CloseDate": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, deals), unit="D")).strftime("%Y-%m-%d"),
    })
    truth = {"won": int((stage == "Closed Won").sum()), "lost": int((stage == "Closed Lost").sum()),
             "open": int(np.isin(stage, ["Prospecting", "Negotiation/Review"]).sum())}
    return accounts_df, opp, truth


def salesforce_leads(rows: int, companies: int, seed: int = 10) -> pd.DataFrame:
    """A Salesforce Lead export: people at companies (Salutation, names, email, phone, postal code)."""
    rng = np.random.default_rng(seed)
    c = _customers(companies, rng, "LD")
    who = np.concatenate([np.arange(companies), rng.integers(0, companies, max(rows - companies, 0))])[:rows]
    first, last = rng.choice(FIRST, rows), rng.choice(LAST, rows)
    return pd.DataFrame({
        "Lead ID": [_sf_id("00Q", i) for i in range(rows)],
        "Salutation": rng.choice(["Mr.", "Ms.", "Dr.", "Mrs."], rows),
        "First Name": first, "Last Name": last,
        "Title": rng.choice(["VP Sales", "CFO", "Head of IT", "Analyst", "CEO"], rows),
        "Company": c["name"].to_numpy()[who],
        "Email": [f"{f.lower()}.{la.lower()}{i}@customer.example" for i, (f, la) in enumerate(zip(first, last, strict=True))],
        "Phone": [f"'+1 208-555-{i % 10000:04d}" for i in range(rows)],
        "Industry": c["industry"].to_numpy()[who],
        "Country": c["country"].to_numpy()[who],
        "Postal Code": rng.integers(10000, 99999, rows).astype(str),
        "Lead Status": rng.choice(["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                                   "Closed - Not Converted"], rows),
        "Lead Source": rng.choice(["Web", "Phone Inquiry", "Partner Referral"], rows),
    })


if __name__ == "__main__":
    kind, rows, keys, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if kind != "order_lines":
        raise SystemExit("only order_lines can be written from the command line")
    order_lines(rows, keys)[0].to_csv(out, index=False)
    print(f"wrote {rows:,} order lines for {keys:,} customers to {out}")
