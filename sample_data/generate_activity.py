"""Synthetic activity and contacts for the sample accounts (issue 17): engagement and people.

Run ``python sample_data/generate_activity.py`` (after ``generate_sample.py``) to write, next to
this script and from ``accounts.csv``:

activity.csv  one row per account that has any activity (joined on Account ID)
    Last Activity, Last Meeting   dates (YYYY-MM-DD) up to 2025-09-30: recent for open and engaging
                                  deals, recent for a third of closed ones (won or lost alike: how a
                                  deal ended never shows in its activity, so nothing leaks the outcome)
    Website Visits (30d), Emails Opened (30d), Meetings (90d)   counts

contacts.csv  about 3 contacts per account (more for larger companies), matched by e-mail domain
    Contact ID, Full Name, Job Title (English, French, German, Spanish titles, some abbreviated),
    Department (blank for about half), Email (name@<account domain>; 3 % on a free-mail domain
    that matches no account), Company

Seeded: the files are the same on every run.
"""

from __future__ import annotations

import argparse
import csv
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
AS_OF = date(2025, 9, 30)
FIRST = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kenji", "Lea", "Marco",
         "Nadia", "Omar", "Paula", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yusuf", "Zoe")
LAST = ("Adams", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito", "Jansen", "Kowalski",
        "Lopez", "Martin", "Novak", "Okafor", "Petit", "Rossi", "Schmidt", "Tanaka", "Varga", "Weber", "Young")
# (title, department shown in the file or blank, weight): a realistic mix, many individual contributors
TITLES = (
    ("CEO", "Executive", 2), ("Founder & CEO", "", 1), ("CFO", "Finance", 1), ("CTO", "Engineering", 1),
    ("Chief Revenue Officer", "Sales", 1), ("VP, Finance", "Finance", 1), ("VP Sales", "Sales", 2),
    ("VP of Marketing", "", 1), ("Vice President Engineering", "", 1), ("Head of RevOps", "", 1),
    ("Head of Data", "Data", 1), ("Director of Sales", "Sales", 2), ("Marketing Director", "", 1),
    ("Directeur Commercial", "", 1), ("Directrice Financière", "", 1), ("Leiter Vertrieb", "", 1),
    ("Jefe de Ventas", "", 1), ("IT Manager", "IT", 2), ("Sales Manager", "Sales", 2), ("Finance Manager", "", 1),
    ("Product Manager", "Product", 2), ("Customer Success Manager", "", 2), ("Sr. Data Engineer", "", 2),
    ("Senior Software Engineer", "Engineering", 3), ("Lead Developer", "", 1), ("Data Analyst", "Data", 3),
    ("Account Executive", "Sales", 3), ("SDR", "", 2), ("Marketing Specialist", "Marketing", 2),
    ("Accountant", "Finance", 2), ("Software Engineer", "", 3), ("Support Specialist", "", 2),
    ("Operations Coordinator", "", 1), ("HR Business Partner", "HR", 1), ("Office Manager", "", 1),
)
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com")


def domain_of(website: str) -> str:
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", website.strip().lower()).split("/")[0]
    return re.sub(r"^www\.", "", host)


def _day(days_ago: float) -> str:
    return (AS_OF - timedelta(days=int(max(days_ago, 0)))).isoformat()


def generate(accounts_csv: Path, out_dir: Path, seed: int = 17) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    with open(accounts_csv, newline="", encoding="utf-8") as fh:
        accounts = list(csv.DictReader(fh))
    activity, contacts = [], []
    weights = np.array([w for *_, w in TITLES], dtype=float)
    weights /= weights.sum()
    for a in accounts:
        # activity depends on whether a deal is in play now, never on how a closed deal ended (won, lost,
        # churned): engagement is a second axis, and a column that told won from lost would leak the outcome
        stage = a["Deal Stage"]
        if stage in ("Open", "Engaging"):
            recent, meet, visits, opens, meetings = rng.exponential(20), rng.exponential(35), 25, 8, 3
        elif stage in ("Closed Won", "Closed Lost"):
            busy = rng.random() < 0.35
            recent = rng.exponential(25) if busy else 60 + rng.exponential(250)
            meet = rng.exponential(60) if busy else 120 + rng.exponential(300)
            visits, opens, meetings = (10, 4, 1) if busy else (1, 1, 0)
        else:
            if rng.random() < 0.4:
                continue
            recent, meet, visits, opens, meetings = 30 + rng.exponential(200), None, 3, 1, 0
        activity.append({
            "Account ID": a["Account ID"], "Last Activity": _day(recent),
            "Last Meeting": _day(meet) if meet is not None and rng.random() < 0.8 else "",
            "Website Visits (30d)": int(rng.poisson(visits)), "Emails Opened (30d)": int(rng.poisson(opens)),
            "Meetings (90d)": int(rng.poisson(meetings)),
        })
        size = float(re.sub(r"[^0-9]", "", a["Employees"].split("-")[0]) or 10)
        domain = domain_of(a["Website"])
        for _ in range(int(rng.poisson(1.2 + min(np.log10(max(size, 1)), 4)))):
            title, dept, _w = TITLES[rng.choice(len(TITLES), p=weights)]
            first, last = FIRST[rng.integers(len(FIRST))], LAST[rng.integers(len(LAST))]
            mail = FREE_MAIL[rng.integers(3)] if rng.random() < 0.03 else domain
            contacts.append({"Contact ID": f"C-{len(contacts) + 1:06d}", "Full Name": f"{first} {last}",
                             "Job Title": title, "Department": dept if rng.random() < 0.5 else "",
                             "Email": f"{first}.{last}@{mail}".lower(), "Company": a["Account Name"]})
    for name, rows in (("activity.csv", activity), ("contacts.csv", contacts)):
        with open(out_dir / name, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return len(activity), len(contacts)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    print(generate(HERE / "accounts.csv", args.out))
