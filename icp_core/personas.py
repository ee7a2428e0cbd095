"""People at an account (issue 17): contacts / leads, their seniority and department from the job
title, persona fit per contact, and the buying committee per account.

`add_contacts` reads a contacts file (title; department and seniority when the file has them; an
e-mail, account id, domain or name to match accounts: the sources module's key matching), classifies
every title in DuckDB (`seniority_sql` / `department_sql`: ordered regular-expression rules on the
folded title, in English, French, German and Spanish, with the user's corrections first), keeps the
contacts beside the dataset (`<dataset>.contacts.parquet`) and joins the committee roll-up onto the
accounts as ordinary number columns, so "has a decision maker" is a trait like any other:

    Contacts, <role> Contacts (one per committee role), Committee Roles Covered

Committee roles are conditions on seniority, department and title words (defaults: decision
maker = C-level or VP; champion = director or manager; user = senior or individual contributor).

Persona fit (0-100) per contact comes from persona traits stored with the ICP (`Personas`, the
profile's "personas" section): "title contains any of", "seniority in", "department in", weighted
-5..+5 with the fit score's arithmetic. Per account: the best contact (highest persona fit, then
seniority) and the committee coverage.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .ingest import IngestError
from .profile import WEIGHT_MAX, WEIGHT_MIN, ProfileError
from .sql import fetch_one, quote_ident, sql_literal

SENIORITY = ("C-level", "VP", "Director", "Manager", "Senior", "Individual contributor", "Unknown")
DEPARTMENTS = ("Revenue operations", "Finance", "Marketing", "Sales", "Customer success", "Data", "Engineering", "IT",
               "Product", "HR", "Legal", "Operations", "General management", "Other")

# Ordered rules on the folded title (lower case, accents and punctuation removed): the first match wins.
# VP before C-level ("vice president" holds "president"); C-level before director ("managing director").
SENIORITY_RULES = (
    ("VP", r"\b(vp|svp|evp|avp|vice president|vicepresident[ea]?|vice presidente?)\b"),
    ("C-level", r"\b(ceo|cfo|cto|cio|cmo|coo|cro|cpo|cdo|ciso|cco|chief|founder|cofounder|co founder|owner|president"
                r"|presidente?|managing director|general manager|geschaftsfuhrer(in)?|pdg|directeur general"
                r"|director general|partner)\b"),
    ("Director", r"\b(director|directora?|directeur|directrice|direktor(in)?|head|leiter(in)?|jefe|jefa)\b"),
    ("Manager", r"\b(manager|mgr|gerente|responsable|teamleiter|supervisor|chef)\b"),
    ("Senior", r"\b(senior|sr|lead|principal|staff|expert)\b"),
)
DEPARTMENT_RULES = (
    ("Revenue operations", r"\b(revops|revenue operations|sales operations|sales ops|gtm operations)\b"),
    ("Finance", r"\b(finance|financial|finances|finanzen|cfo|controller|controlling|accounting|accountant|treasury"
                r"|fp a|comptable|contable|financier|financiere|financiero|financiera|tresorier|payroll)\b"),
    ("Marketing", r"\b(marketing|cmo|brand|growth|demand gen(eration)?|content|seo|communications?|pr|mercadeo)\b"),
    ("Sales", r"\b(sales|cro|commercial|commerciale?|comercial|vertrieb|business development|bdr|sdr|account executive"
              r"|ventas|ventes|revenue)\b"),
    ("Customer success", r"\b(customer success|customer experience|support|customer service|account manager"
                         r"|onboarding|service client)\b"),
    ("Data", r"\b(data|analytics|analyst|bi|business intelligence|machine learning|ml|ai|donnees|datos)\b"),
    ("Engineering", r"\b(engineer(ing)?|developer|software|devops|sre|cto|architect|programmer|ingenieur|ingeniero"
                    r"|entwickler|desarrollador|developpeur|technical)\b"),
    ("IT", r"\b(it|information technology|cio|ciso|security|infrastructure|sysadmin|systems administrator"
           r"|informatique|informatica|network)\b"),
    ("Product", r"\b(product|cpo|ux|ui|design(er)?|produit|producto)\b"),
    ("HR", r"\b(hr|human resources|people|talent|recruit(er|ing|ment)?|rrhh|ressources humaines|personal)\b"),
    ("Legal", r"\b(legal|counsel|compliance|lawyer|juridique|attorney)\b"),
    ("Operations", r"\b(operations|ops|coo|logistics|supply chain|procurement|purchasing|achats)\b"),
    ("General management", r"\b(ceo|founder|cofounder|co founder|owner|president|presidente?|managing director"
                           r"|general manager|geschaftsfuhrer(in)?|pdg|directeur general|director general|partner)\b"),
)
MAX_CONTACT_COLUMNS = 40
MAX_ROLES = 6
MAX_PERSONA_TRAITS = 30
PERSONA_FIELDS = ("title", "seniority", "department")


def folded_sql(expr: str) -> str:
    """A title folded for the rules: lower case, accents stripped, anything not a letter, digit or
    '&' a single space (so 'Sr.' is 'sr', 'VP, Finance' is 'vp finance', 'FP&A' is 'fp a')."""
    return (f"trim(regexp_replace(regexp_replace(lower(strip_accents(coalesce(CAST({expr} AS VARCHAR), ''))), "
            f"'[^a-z0-9]+', ' ', 'g'), '\\s+', ' ', 'g'))")


def _rules_case(rules, folded: str, default: str) -> str:
    whens = " ".join(f"WHEN regexp_matches({folded}, {sql_literal(rx)}) THEN {sql_literal(name)}" for name, rx in rules)
    return f"CASE {whens} ELSE {sql_literal(default)} END"


def seniority_sql(folded: str) -> str:
    """The seniority of a folded title ('Unknown' when blank, else 'Individual contributor' by default)."""
    return f"CASE WHEN {folded} = '' THEN 'Unknown' ELSE {_rules_case(SENIORITY_RULES, folded, 'Individual contributor')} END"


def department_sql(folded: str) -> str:
    return f"CASE WHEN {folded} = '' THEN 'Other' ELSE {_rules_case(DEPARTMENT_RULES, folded, 'Other')} END"


def classify_titles(titles: list[str], corrections: dict | None = None) -> pd.DataFrame:
    """(title, seniority, department) for each title, by the same SQL rules the join runs; a
    correction (folded title -> [seniority, department]) wins."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS title", [list(titles)])
        _corrections_table(con, corrections or {})
        f = folded_sql("title")
        return con.execute(f"""
            SELECT title, coalesce(c.fix_seniority, {seniority_sql(f)}) AS seniority,
                   coalesce(c.fix_department, {department_sql(f)}) AS department
            FROM t LEFT JOIN corrections c ON c.folded = {f}""").df()
    finally:
        con.close()


def fold_title(title: str) -> str:
    t = title.lower()
    import unicodedata

    t = "".join(ch for ch in unicodedata.normalize("NFKD", t) if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9]+", " ", t)).strip()


def _corrections_table(con, corrections: dict) -> None:
    rows = [(fold_title(k), v[0], v[1]) for k, v in corrections.items()]
    bad = [v for _, s, d in rows for v in (s, d) if v not in SENIORITY + DEPARTMENTS]
    if bad:
        raise IngestError(f"unknown seniority or department in a correction: {bad[0]!r:.40}")
    con.execute("CREATE OR REPLACE TEMP TABLE corrections (folded VARCHAR, fix_seniority VARCHAR, fix_department VARCHAR)")
    if rows:
        con.executemany("INSERT INTO corrections VALUES (?, ?, ?)", rows)


# --------------------------------------------------------------------------- committee roles


@dataclass
class CommitteeRole:
    """A buying-committee role: contacts whose seniority is in `seniority` (any when empty), whose
    department is in `departments` (any when empty) and, when `title_any` is given, whose title
    holds one of those words."""

    name: str
    seniority: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    title_any: list[str] = field(default_factory=list)

    def column(self) -> str:
        return f"{self.name} Contacts"


DEFAULT_ROLES = (
    CommitteeRole("Decision Maker", ["C-level", "VP"]),
    CommitteeRole("Champion", ["Director", "Manager"]),
    CommitteeRole("User", ["Senior", "Individual contributor"]),
)


def validate_roles(roles: list[CommitteeRole]) -> list[CommitteeRole]:
    if not roles or len(roles) > MAX_ROLES:
        raise IngestError(f"define 1 to {MAX_ROLES} committee roles")
    names = [" ".join(r.name.split()) for r in roles]
    if any(not n or len(n) > 40 for n in names):
        raise IngestError("a committee role needs a name of 1-40 characters")
    if len({n.lower() for n in names}) != len(names):
        raise IngestError("two committee roles share a name")
    for r, n in zip(roles, names, strict=True):
        r.name = n
        bad = [s for s in r.seniority if s not in SENIORITY] + [d for d in r.departments if d not in DEPARTMENTS]
        if bad:
            raise IngestError(f"committee role “{n}”: unknown seniority or department {bad[0]!r:.40}")
        if not (r.seniority or r.departments or r.title_any):
            raise IngestError(f"committee role “{n}” has no condition")
    return roles


def role_condition_sql(role: CommitteeRole) -> str:
    parts = []
    if role.seniority:
        parts.append(f"seniority IN ({', '.join(sql_literal(s) for s in role.seniority)})")
    if role.departments:
        parts.append(f"department IN ({', '.join(sql_literal(d) for d in role.departments)})")
    if role.title_any:
        words = [fold_title(w) for w in role.title_any if fold_title(w)]
        parts.append("(" + " OR ".join(f"contains(' ' || title_folded || ' ', {sql_literal(' ' + w + ' ')})"
                                       for w in words) + ")" if words else "FALSE")
    return " AND ".join(parts) or "FALSE"


# --------------------------------------------------------------------------- persona traits


@dataclass
class PersonaTrait:
    """One persona rule: title contains any of `values`, or seniority / department in `values`."""

    field: str  # title | seniority | department
    values: list[str]
    weight: int = 1
    label: str = ""

    def shown(self) -> str:
        what = {"title": "Title has", "seniority": "Seniority in", "department": "Department in"}[self.field]
        return self.label or f"{what} {', '.join(self.values[:4])}" + ("…" if len(self.values) > 4 else "")


DEFAULT_PERSONA_TRAITS = (
    PersonaTrait("seniority", ["C-level", "VP"], 5),
    PersonaTrait("seniority", ["Director"], 3),
    PersonaTrait("seniority", ["Manager"], 1),
)


@dataclass
class Personas:
    """The ICP's persona section: the traits that score a contact 0-100."""

    traits: list[PersonaTrait] = field(default_factory=lambda: [PersonaTrait(**asdict(t)) for t in DEFAULT_PERSONA_TRAITS])

    def to_dict(self) -> dict:
        return {"traits": [asdict(t) for t in self.traits]}


def personas_from_dict(d) -> Personas:
    if not isinstance(d, dict) or set(d) - {"traits"}:
        raise ProfileError("personas: must be an object with 'traits'")
    raw = d.get("traits") or []
    if not isinstance(raw, list) or len(raw) > MAX_PERSONA_TRAITS:
        raise ProfileError(f"personas.traits: a list of at most {MAX_PERSONA_TRAITS} traits")
    traits = []
    for i, t in enumerate(raw):
        where = f"personas.traits[{i}]"
        if not isinstance(t, dict) or set(t) - {"field", "values", "weight", "label"}:
            raise ProfileError(f"{where}: must be an object with field, values, weight")
        fld, values, w, label = t.get("field"), t.get("values"), t.get("weight", 1), t.get("label", "")
        if fld not in PERSONA_FIELDS:
            raise ProfileError(f"{where}.field: one of {', '.join(PERSONA_FIELDS)}")
        if (not isinstance(values, list) or not values or len(values) > 100
                or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in values)):
            raise ProfileError(f"{where}.values: 1-100 texts of at most 100 characters")
        allowed = {"seniority": SENIORITY, "department": DEPARTMENTS}.get(fld)
        if allowed and any(v not in allowed for v in values):
            raise ProfileError(f"{where}.values: {fld} must be one of {', '.join(allowed)}")
        if isinstance(w, bool) or not isinstance(w, int) or not WEIGHT_MIN <= w <= WEIGHT_MAX:
            raise ProfileError(f"{where}.weight: a whole number from -5 to +5")
        if not isinstance(label, str) or len(label) > 200:
            raise ProfileError(f"{where}.label: text of at most 200 characters")
        traits.append(PersonaTrait(fld, list(values), w, label))
    return Personas(traits)


def persona_fit_sql(personas: Personas) -> str:
    """Persona fit 0-100 of a contact row (columns title_folded, seniority, department)."""
    cases, low, high = [], 0, 0
    for t in personas.traits:
        if not t.weight:
            continue
        if t.field == "title":
            words = [fold_title(v) for v in t.values if fold_title(v)]
            cond = " OR ".join(f"contains(' ' || title_folded || ' ', {sql_literal(' ' + w + ' ')})"
                               for w in words) or "FALSE"
        else:
            cond = f"{t.field} IN ({', '.join(sql_literal(v) for v in t.values)})"
        cases.append(f"CASE WHEN {cond} THEN {t.weight} ELSE 0 END")
        low, high = low + min(t.weight, 0), high + max(t.weight, 0)
    if high == low:
        return "CAST(0 AS DOUBLE)"
    return f"(CAST(({' + '.join(cases)}) - ({low}) AS DOUBLE) * {100.0 / (high - low)!r})"


# --------------------------------------------------------------------------- the join


def contacts_path(store, dataset_id: str) -> Path:
    return store.db_path(dataset_id).with_suffix(".contacts.parquet")


def has_contacts(store, dataset_id: str) -> bool:
    return contacts_path(store, dataset_id).exists()


def _pick(specs, role: str | None = None, pattern: str | None = None):
    for s in specs:
        if role and s.role == role:
            return s
    if pattern:
        for s in specs:
            if re.search(pattern, s.header.lower()):
                return s
    return None


@dataclass
class ContactsPreview:
    file_name: str
    rows: int
    title_header: str
    key_header: str
    key_role: str
    matched: int
    accounts_matched: int
    titles: pd.DataFrame  # title, contacts, seniority, department (most frequent titles first)


def _load(con, store, dataset_id: str, path: Path, workdir: Path, title_column: str | None, key_column: str | None):
    """Read the file into src_raw beside a view of the dataset's accounts; pick title / key columns."""
    from .clean import install_cleaning_macros
    from .ingest import read_table
    from .roles import detect_roles
    from .sources import _account_specs, _choose_key

    install_cleaning_macros(con)
    con.execute(f"ATTACH {sql_literal(str(store.db_path(dataset_id)))} AS ds (READ_ONLY)")
    con.execute("CREATE VIEW accounts AS SELECT * FROM ds.accounts")
    info, keys, headers = read_table(con, path, "src_raw", workdir)
    if len(keys) > MAX_CONTACT_COLUMNS:
        raise IngestError(f"{info.file_name} has {len(keys):,} columns; a contacts file is read with at most "
                          f"{MAX_CONTACT_COLUMNS} (title, department, seniority, e-mail, company).")
    specs = detect_roles(con, "src_raw", keys, [h or k for h, k in zip(headers, keys, strict=True)])
    title = next((s for s in specs if s.key == title_column or s.header == title_column), None) if title_column \
        else _pick(specs, "job_title", r"title|position|job|role|poste|cargo")
    if title is None:
        raise IngestError(f"{info.file_name} has no job title column (a header such as “Title” or “Job Title”); "
                          "pick the column that holds the titles.")
    has_text = con.execute(f"SELECT count(*) FROM src_raw WHERE {folded_sql(quote_ident(title.key))} <> ''").fetchone()[0]
    if not has_text:
        raise IngestError(f"the title column “{title.header}” of {info.file_name} has no text in any row: "
                          "nothing to classify.")
    meta = store.read_meta(dataset_id)
    candidates = [s for s in specs if s.key != title.key]
    try:
        key_spec, role = _choose_key(con, candidates, _account_specs(meta), key_column)
    except IngestError as exc:
        rows = con.execute("SELECT count(*) FROM src_raw").fetchone()[0]
        raise IngestError(f"none of the {rows:,} contacts in {info.file_name} matches an account by e-mail domain, "
                          f"account id or name ({exc}).") from None
    dept = _pick([s for s in specs if s.key not in (title.key, key_spec.key)], None, r"depart|function|dept|abteilung")
    level = _pick([s for s in specs if s.key not in (title.key, key_spec.key)], None, r"seniorit|level|niveau")
    name = _pick([s for s in specs if s.key not in (title.key, key_spec.key)], "person_name",
                 r"^(full name|name|contact|contact name|lead name|person)$")
    return info, specs, title, key_spec, role, dept, level, name, meta


def _classified_sql(title, key_spec, role, dept, level, name, meta) -> str:
    from .sources import _account_specs, key_sql

    acc = _account_specs(meta)[role]
    f = folded_sql(quote_ident(title.key))
    dep_src = folded_sql("src." + quote_ident(dept.key)) if dept else "''"
    lev_src = folded_sql("src." + quote_ident(level.key)) if level else "''"
    src_key = key_sql(role, quote_ident(key_spec.key))
    acc_key = key_sql(role, quote_ident(acc.key + "__raw"))
    person = f"CAST(src.{quote_ident(name.key)} AS VARCHAR)" if name else "NULL"
    return f"""
        WITH src AS MATERIALIZED (SELECT row_number() OVER () AS contact_row, *, {f} AS title_folded, {src_key} AS match_key
                     FROM src_raw),
             acc AS MATERIALIZED (SELECT {acc_key} AS k, min(row_id) AS row_id FROM accounts WHERE {acc_key} IS NOT NULL GROUP BY k)
        SELECT src.contact_row, {person} AS contact_name, CAST(src.{quote_ident(title.key)} AS VARCHAR) AS title,
               src.title_folded, CAST(src.{quote_ident(key_spec.key)} AS VARCHAR) AS matched_on,
               acc.row_id AS account_row,
               coalesce(c.fix_seniority, CASE WHEN {lev_src} <> '' AND {seniority_sql(lev_src)} <> 'Individual contributor'
                                          THEN {seniority_sql(lev_src)} ELSE {seniority_sql('src.title_folded')} END)
                   AS seniority,
               coalesce(c.fix_department, CASE WHEN {dep_src} <> '' AND {department_sql(dep_src)} <> 'Other'
                                           THEN {department_sql(dep_src)} ELSE {department_sql('src.title_folded')} END)
                   AS department
        FROM src LEFT JOIN acc ON acc.k = src.match_key
                 LEFT JOIN corrections c ON c.folded = src.title_folded"""


def preview_contacts(store, dataset_id: str, path: Path, title_column: str | None = None,
                     key_column: str | None = None, corrections: dict | None = None, top: int = 200) -> ContactsPreview:
    """What joining a contacts file would do: the title and key columns, how many contacts match an
    account, and the most frequent titles as classified (to correct before joining)."""
    with tempfile.TemporaryDirectory(prefix="icp_contacts_") as tmp:
        con = duckdb.connect(config={"threads": 2})
        try:
            info, _specs, title, key_spec, role, dept, level, name, meta = _load(
                con, store, dataset_id, Path(path), Path(tmp), title_column, key_column)
            _corrections_table(con, corrections or {})
            con.execute(f"CREATE TEMP TABLE classified AS {_classified_sql(title, key_spec, role, dept, level, name, meta)}")
            rows, matched, accs = fetch_one(con, "SELECT count(*), count(account_row), count(DISTINCT account_row) "
                                                 "FROM classified")
            titles = con.execute(f"""SELECT any_value(title) AS title, count(*) AS contacts, any_value(seniority) AS
                                     seniority, any_value(department) AS department FROM classified
                                     WHERE title_folded <> '' GROUP BY title_folded ORDER BY contacts DESC, title
                                     LIMIT {int(top)}""").df()
        finally:
            con.close()
    return ContactsPreview(info.file_name, int(rows), title.header, key_spec.header, role, int(matched), int(accs), titles)


def add_contacts(store, dataset_id: str, path: Path, title_column: str | None = None, key_column: str | None = None,
                 roles: list[CommitteeRole] | None = None, corrections: dict | None = None,
                 progress=lambda fraction, message: None) -> dict:
    """Join a contacts file: classify, match, keep the contacts beside the dataset and add the committee
    roll-up columns to the accounts (atomically, through sources.add_source). Returns the report."""
    from .sources import add_source

    roles = validate_roles([CommitteeRole(**asdict(r)) for r in (roles or DEFAULT_ROLES)])
    meta = store.read_meta(dataset_id)
    if meta.get("contacts"):
        raise IngestError("contacts are already joined to this dataset; load the accounts again to join another "
                          "contacts file.")
    out = contacts_path(store, dataset_id)
    with tempfile.TemporaryDirectory(prefix="icp_contacts_") as tmp:
        con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB", "temp_directory": tmp})
        try:
            progress(0.05, "Reading the contacts file…")
            info, _specs, title, key_spec, role, dept, level, name, meta = _load(
                con, store, dataset_id, Path(path), Path(tmp), title_column, key_column)
            _corrections_table(con, corrections or {})
            progress(0.35, "Classifying titles and matching accounts…")
            role_cols = ", ".join(f"CAST(({role_condition_sql(r)}) AS BOOLEAN) AS {quote_ident('role_' + str(i))}"
                                  for i, r in enumerate(roles))
            con.execute(f"CREATE TEMP TABLE contacts AS SELECT *, {role_cols} FROM "
                        f"({_classified_sql(title, key_spec, role, dept, level, name, meta)})")
            rows, matched = fetch_one(con, "SELECT count(*), count(account_row) FROM contacts")
            if not matched:
                raise IngestError(f"none of the {rows:,} contacts in {info.file_name} matches an account "
                                  f"({key_spec.header} vs the accounts' {role.replace('_', ' ')}).")
            progress(0.6, "Rolling contacts up per account…")
            tmp_parquet = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
            con.execute(f"COPY (SELECT * FROM contacts WHERE account_row IS NOT NULL ORDER BY account_row, contact_row) "
                        f"TO {sql_literal(str(tmp_parquet))} (FORMAT parquet)")
            from .sources import _account_specs

            acc_specs = _account_specs(meta)  # the roll-up is keyed by the accounts' own id, else name, else domain
            key_role = next(r for r in ("account_id", "account_name", "domain") if r in acc_specs)
            acc = acc_specs[key_role]
            key_header = {"account_id": "Account ID", "account_name": "Account Name", "domain": "Website"}[key_role]
            counts = ", ".join(f"count(*) FILTER (WHERE {quote_ident('role_' + str(i))}) AS {quote_ident(r.column())}"
                               for i, r in enumerate(roles))
            covered = " + ".join(f"(count(*) FILTER (WHERE {quote_ident('role_' + str(i))}) > 0)::INTEGER"
                                 for i in range(len(roles)))
            rollup = Path(tmp) / "committee.csv"
            con.execute(f"""COPY (SELECT a.{quote_ident(acc.key + '__raw')} AS {quote_ident(key_header)},
                                         coalesce(r."Contacts", 0) AS "Contacts",
                                         {', '.join(f'coalesce(r.{quote_ident(x.column())}, 0) AS {quote_ident(x.column())}' for x in roles)},
                                         coalesce(r."Committee Roles Covered", 0) AS "Committee Roles Covered"
                                  FROM accounts a LEFT JOIN (
                                      SELECT account_row, count(*) AS "Contacts", {counts}, {covered} AS "Committee Roles Covered"
                                      FROM contacts WHERE account_row IS NOT NULL GROUP BY account_row) r
                                  ON r.account_row = a.row_id
                                  WHERE a.{quote_ident(acc.key + '__raw')} IS NOT NULL)
                            TO {sql_literal(str(rollup))} (HEADER, DELIMITER ',')""")
        except BaseException:
            for leftover in out.parent.glob(f".{out.name}.*.tmp"):
                leftover.unlink(missing_ok=True)
            raise
        finally:
            con.close()
        progress(0.8, "Adding the committee columns to the accounts…")
        try:
            numbers = ["Contacts", "Committee Roles Covered", *[r.column() for r in roles]]
            report = add_source(store, dataset_id, rollup, key_column=None, name="committee",
                                roles=dict.fromkeys(numbers, "number"))
        except BaseException:
            tmp_parquet.unlink(missing_ok=True)
            raise
        os.replace(tmp_parquet, out)
    with store.lock(f"dataset-{dataset_id}"):  # as add_source writes the metadata
        meta = store.read_meta(dataset_id)
        meta["contacts"] = {"file": info.file_name, "rows": int(rows), "matched": int(matched),
                            "title": title.header, "key": key_spec.header, "roles": [asdict(r) for r in roles],
                            "corrections": corrections or {}, "columns": report["columns"]}
        store.write_meta(dataset_id, meta)
    progress(1.0, "Done")
    return meta["contacts"]


# --------------------------------------------------------------------------- reading the contacts


def contacts_frame(store, dataset_id: str, personas: Personas | None, where: str = "TRUE",
                   params: list | None = None, limit: int | None = None) -> pd.DataFrame:
    """The joined contacts with persona fit (highest first within each account)."""
    path = contacts_path(store, dataset_id)
    fit = persona_fit_sql(personas or Personas())
    con = duckdb.connect(config={"threads": 2})
    try:
        return con.execute(
            f"SELECT account_row, contact_row, contact_name, title, seniority, department, "
            f"round({fit}, 1) AS persona_fit FROM read_parquet({sql_literal(str(path))}) WHERE {where} "
            f"ORDER BY account_row, persona_fit DESC, contact_row" + (f" LIMIT {int(limit)}" if limit else ""),
            params or []).df()
    finally:
        con.close()


def best_contacts(store, dataset_id: str, personas: Personas | None) -> pd.DataFrame:
    """Per account row: its best contact (highest persona fit, then the first listed), the fit, and
    how many contacts it has."""
    path = contacts_path(store, dataset_id)
    fit = persona_fit_sql(personas or Personas())
    con = duckdb.connect(config={"threads": 2})
    try:
        return con.execute(f"""
            SELECT account_row, arg_max(coalesce(contact_name, title), struct_pack(f := {fit}, r := -contact_row))
                       AS best_contact,
                   arg_max(title, struct_pack(f := {fit}, r := -contact_row)) AS best_title,
                   round(max({fit}), 1) AS best_fit, count(*) AS contacts
            FROM read_parquet({sql_literal(str(path))}) GROUP BY account_row ORDER BY account_row""").df()
    finally:
        con.close()


def contacts_export(store, dataset_id: str, personas: Personas | None, tier_labels: np.ndarray,
                    account_names: np.ndarray) -> pd.DataFrame:
    """Every joined contact with persona fit, seniority, department, committee roles and its account's
    name and tier (the current scoring)."""
    frame = contacts_frame(store, dataset_id, personas)
    rows = frame["account_row"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "Contact": frame["contact_name"], "Title": frame["title"], "Seniority": frame["seniority"],
        "Department": frame["department"], "Persona Fit": frame["persona_fit"],
        "Account": np.asarray(account_names, dtype=object)[rows - 1] if len(rows) else [],
        "ICP Tier": np.asarray(tier_labels, dtype=object)[rows - 1] if len(rows) else [],
    })
