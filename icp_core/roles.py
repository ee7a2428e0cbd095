"""Column roles: what each column of an upload means, detected from headers and values.

A role says what a column is in the field's words (`industry`, `employees`, `deal_stage`,
...). Roles decide how a column is cleaned (its kind) and let an ICP profile refer to
`industry` rather than to one CRM's header. Columns without a semantic role keep a
generic role (`category`, `number`, `boolean`, `date`, `text`) and stay usable as traits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field

import duckdb

from .clean import date_format_counts, number_lookup_sql
from .sql import quote_ident


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    kind: str  # cleaning kind, see clean.clean_expression
    group: str  # identity | firmographic | technographic | outcome | generic
    patterns: tuple[str, ...] = ()  # full-match regexes on the normalised header, best first


ROLES: dict[str, Role] = {r.name: r for r in (
    Role("account_id", "Account ID", "id", "identity", (
        r"(account|company|customer|client|org|organization|organisation)\s?(id|number|no|key|code)",
        r"(sfdc|salesforce|hubspot|crm|record|object)\s?(account\s)?id", r"id", r"account\s?#")),
    Role("account_name", "Account name", "id", "identity", (
        r"(account|company|customer|client|organization|organisation|org|business)\s?name",
        r"account|company|customer|organization|organisation|client"
        r"|empresa|firma|unternehmen|entreprise|societe|raison\ssociale|firmenname|razao\ssocial"
        r"|(nom|nome|nombre|name)\s(de\s|da\s|del\s)?(l\s|la\s)?(entreprise|empresa|societe|compania|companhia|cliente|client)",
        r"name|nom|nome|nombre|firmenname")),
    Role("domain", "Website / domain", "text", "identity", (
        r"(company\s)?(website|domain|web\s?site|homepage|homepage\surl|url|web)( url)?",)),
    Role("industry", "Industry", "category_folded", "firmographic", (
        r"(primary\s|gics\s|company\s|account\s)?(industry|sector|vertical)(\s(name|code|group|vertical))?"
        r"|setor|secteur(\sd\s?activite)?|branche|industrie|industria|ramo|rubro|sector\sde\sactividad"
        r"|secteur\sactivite|(activity|business)\s(sector|segment)",
        r"category(\scode)?")),
    Role("country", "Country", "country", "firmographic", (
        r"(hq\s|billing\s|shipping\s|headquarters\s|office\s|company\s|account\s)?country(\s(code|name|iso|id))?"
        r"|pais|pays|land|nation|paese|code\s(pays|pais)|(pays|pais)\scode",
        r"office\slocation|hq\slocation|headquarters|location")),
    Role("region", "Region", "category", "firmographic", (
        r"(sales\s)?(region|geo|geography|territory|sales\sregion|market)",)),
    Role("employees", "Employees", "number", "firmographic", (
        r"(number\sof\s|no\sof\s|num\s|total\s|#\s?|company\s)?employees?(\s(count|number|band|range|size))?",
        r"employee\s(count|number|band|range)"
        r"|(numero\sde\s|n\sde\s|no\sde\s|nombre\sde\s|anzahl\s|quantidade\sde\s|cantidad\sde\s)?"
        r"(funcionarios|empleados|mitarbeiter(zahl)?|effectifs?|salaries|colaboradores|trabajadores|beschaftigte)",
        r"headcount|head\scount|company\ssize|fte|staff|size")),
    Role("annual_revenue", "Annual revenue", "number", "firmographic", (
        r"(annual\s|yearly\s|total\s)?(revenue|turnover)(\s(usd|m|mm|range|band|in\s\w+))?"
        r"|(jahres)?umsatz(\s\w+)?|faturamento(\sanual)?|receita(\sanual)?|ingresos(\sanuales)?"
        r"|chiffre\sd\s?affaires(\s\w+)?|ca\sannuel|facturacion(\sanual)?",
        r"annual\ssales|sales\svolume")),
    Role("funding_stage", "Funding stage", "category", "firmographic", (
        r"(funding|investment|company)\s(stage|round|series)|last\sfunding\s(type|round)|series",)),
    Role("founded_year", "Founded year", "year", "firmographic", (
        r"(year\s)?(founded|established|incorporated)(\s(year|in))?",
        r"(founding|foundation|inception|incorporation)\s(year|date)|founded\sat")),
    Role("technologies", "Technologies", "list", "technographic", (
        r"(tech(nology|nologies)?|software|tools?)\s?(stack|used|in\suse|installed)?",
        r"technographics?|installed\s(technologies|software)|integrations?|stack")),
    Role("deal_stage", "Won / lost (deal stage)", "stage", "outcome", (
        r"(deal|opportunity|opp|sales)\s?(stage|status|outcome|result)(\sname)?|stage\s?name|(pipeline\s)?stage",
        r"(is\s)?(won|closed\swon|win)(\s(flag|lost))?|won\slost|win\sloss|outcome|result",
        r"stage|status")),
    Role("arr", "ARR / deal value", "number", "outcome", (
        r"arr|annual\srecurring\srevenue|acv|tcv|arr\samount(\susd)?",
        r"(deal|opportunity|opp|contract|close|closed|won)\s(value|amount|size)(\susd)?"
        r"|amount\s(received|won|booked|signed)|(received|won|booked|signed)\samount",
        r"((estimated|expected|total|actual)\s)?amount|mrr|mrr\samount|monthly\srecurring\srevenue")),
    Role("churned", "Churned / retained", "churn", "outcome", (
        r"(is\s)?churn(ed)?(\s(flag|status|yn))?", r"(is\s)?(cancell?ed|lost\scustomer)")),
    Role("nps", "NPS", "number", "outcome", (
        r"nps(\sscore)?|net\spromoter(\sscore)?|likelihood\sto\srecommend",)),
    Role("sales_cycle_days", "Sales-cycle days", "number", "outcome", (
        r"(sales\s)?cycle(\s(length|time))?(\s(days|in\sdays))?|days\sto\s(close|win)|time\sto\sclose",)),
    Role("signup_date", "Signup date", "date", "outcome", (
        r"(sign\s?up|signed\sup|start|join|joined|onboard(ed|ing)?|customer\ssince|created|create|contract\sstart|first\spurchase)(\sdate|\sat|\son)?",)),
    Role("close_date", "Close date", "date", "outcome", (
        r"((actual|real)\s)?(close|closed|closing|won|win)(\sdate|\sat|\son)?|date\sclosed",)),
    # identifiers and contact details: never traits (kind text). Their group is "generic"
    # because a file often has several of each (First Name + Last Name, many id columns);
    # IDENTIFIER_ROLES lists them.
    Role("email", "Email address", "text", "generic", (
        r"(.*\s)?e\s?mails?(\s.*)?|(.*\s)?(courriel|correo(\selectronico)?)(\s.*)?",)),
    Role("phone", "Phone number", "text", "generic", (
        r"(.*\s)?(phone|telephone|tel|mobile|cell|fax|telefon|telefone|telefono|handy|portable|celular)"
        r"(\s(number|no|nr|#))?(\s.*)?",)),
    Role("postal_code", "Postal / ZIP code", "text", "generic", (
        r"(.*\s)?(zip|postal|postcode|zipcode|post\scode|plz|cep|postleitzahl)(\s.*)?"
        r"|(.*\s)?(code|codigo|cod)\spostal(\s.*)?",)),
    Role("person_name", "Person name", "text", "generic", (
        r"(contact\s|lead\s|person\s|customer\s|client\s)?(first|last|middle|full|given|family|sur|display)\s?name"
        r"|salutation|anrede|civilite|title\sprefix|name\sprefix|surname|forename|prenom|vorname|nachname"
        r"|nom\sde\sfamille|primeiro\snome|sobrenome|apellidos?|nombre\sde\spila",
        r"(contact|lead|person|buyer|champion|decision\smaker)(\sname)?")),
    Role("job_title", "Job title", "text", "generic", (
        r"(job\s|contact\s|lead\s)?(title|position|designation|job\stitle|job\srole)"
        r"|cargo|puesto|poste|titre|berufsbezeichnung",)),
    Role("owner", "Owner / sales rep", "text", "generic", (
        r"(account\s|lead\s|contact\s|deal\s|opportunity\s|opp\s|record\s|company\s|case\s|hubspot\s)?owner"
        r"(\s(name|full\sname|alias|email|id))?|(sales\s)?(rep|representative)(\sname)?|sales\s?person"
        r"|account\s(manager|executive)|ae|csm|sdr|bdr|assigned\sto|responsable|vendedor|verantwortlich",)),
    Role("record_id", "Record ID", "text", "generic", (
        r"(lead|opportunity|opp|contact|order|invoice|deal|ticket|case|quote|transaction|purchase\sorder|po"
        r"|parent|master\srecord|created\sby|last\smodified\sby|modified\sby|owner|user|person"
        r"|campaign|product|activity|task|event|line\sitem|contract|subscription|payment)"
        r"\s?(id|ids|nbr|number|no|num|#|key|ref|reference|uuid|guid)",
        r"(deal|opportunity|opp|ticket|case|project)\s(name|title)"
        r"|is\sdeleted|system\smod\s?stamp|(external|legacy|source|crm|sfdc|salesforce|hubspot|pipedrive)\s(id|key)",
        r".+\s(id|ids|uuid|guid)")),
    # generic roles: any other column stays usable as a trait
    Role("category", "Category", "category", "generic"),
    Role("number", "Number", "number", "generic"),
    Role("boolean", "Yes / no", "boolean", "generic"),
    Role("date", "Date", "date", "generic"),
    Role("text", "Text (not a trait)", "text", "generic"),
    Role("ignore", "Ignore", "text", "generic"),
)}

GENERIC_ROLES = tuple(n for n, r in ROLES.items() if r.group == "generic")
# identifiers and contact details: several columns may hold each, none is a trait
IDENTIFIER_ROLES = ("email", "phone", "postal_code", "person_name", "job_title", "owner", "record_id")

# roles whose values are checked before a header match is believed
_VALUE_CHECKS = {
    "country": "country", "employees": "number", "annual_revenue": "number",
    "founded_year": "year", "deal_stage": "stage", "arr": "number", "churned": "churn",
    "nps": "number", "sales_cycle_days": "number", "signup_date": "date", "close_date": "date",
    "email": "email", "phone": "phone", "postal_code": "postal",
}
# value shapes (DuckDB regular expressions) of identifiers and contact details
_EMAIL_RE = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
_URL_RE = r"(https?://|www\.)\S+"
_PHONE_RE = (r"\x27?((\+|00)[0-9][0-9 ().\-/]{6,}[0-9]"
             r"|\(?[0-9]{3}\)?[ .\-]?[0-9]{3}[ .\-][0-9]{4}"
             r"|0[0-9]{1,4}([ .\-/][0-9]{2,4}){2,4})(\s?(x|ext\.?|extension)\s?[0-9]{1,6})?")
_SALUTATION_RE = r"(mr|mrs|ms|miss|mx|dr|prof|sir|madam|mme|mlle|herr|frau|sr|sra|srta|dra)\.?"
_RECORD_ID_RE = (r"[a-zA-Z0-9]{3}[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?"
                 r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_POSTAL_RE = r"[A-Za-z0-9][A-Za-z0-9 \-]{1,9}"
_MIN_SHARE = 0.6  # share of non-empty sample values that must parse for a role to stick


@dataclass
class ColumnSpec:
    """One column of a dataset: where it came from, its role and how it is cleaned."""

    key: str  # identifier in the dataset's tables (safe, unique)
    header: str  # the header as the file had it
    role: str
    scale: float = 1.0  # multiplier for amounts, e.g. 1e6 when revenue is in millions
    date_formats: list[str] = field(default_factory=list)
    source: str = "accounts"  # accounts | opportunities (rolled up)

    @property
    def kind(self) -> str:
        return ROLES[self.role].kind

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ColumnSpec":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def normalise_header(header: str) -> str:
    """'AnnualRevenue (USD)' -> 'annual revenue usd'; accents go: 'País' -> 'pais'."""
    text = unicodedata.normalize("NFKD", str(header).replace("ß", "ss"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"[^0-9a-zA-Z#]+", " ", text).strip().lower()
    return re.sub(r"\s+", " ", text)


def column_keys(headers: list[str]) -> list[str]:
    """Safe, unique snake_case keys for a file's headers (blank and duplicate ones included)."""
    keys: list[str] = []
    seen: set[str] = set()
    for i, header in enumerate(headers):
        base = normalise_header(header).replace("#", "no").replace(" ", "_")[:60].strip("_")
        if not base or base[0].isdigit():
            base = f"col_{i + 1}" if not base else f"c_{base}"
        if base.endswith("__raw") or base.endswith("__band") or base == "row_id":
            base = base.rstrip("_") + "_col"
        key, n = base, 2
        while key in seen:
            key, n = f"{base}_{n}", n + 1
        seen.add(key)
        keys.append(key)
    return keys


def match_header_role(header: str) -> tuple[str, int] | None:
    """The semantic role a header names, with the rank of the pattern (lower is better). A rolled-up
    column's most frequent value ('IndustryVertical (most frequent)') stands for the column itself."""
    h = normalise_header(re.sub(r"\s*\(most frequent\)$", "", str(header)))
    best: tuple[str, int] | None = None
    for role in ROLES.values():
        for rank, pattern in enumerate(role.patterns):
            if re.fullmatch(pattern, h):
                if best is None or rank < best[1]:
                    best = (role.name, rank)
                break
    return best


def _value_profiles(con: duckdb.DuckDBPyConnection, table: str, keys: list[str],
                    sample_rows: int = 5000) -> dict[str, dict]:
    """Per column, the share of its non-empty sample values that parse as each kind.

    All columns are profiled together: the sample is unpivoted to (column, value) so
    the cost is a few queries whatever the number of columns.
    """
    cols = ", ".join(quote_ident(k) for k in keys)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE icp_profile_long AS
        SELECT col, icp_nullify(v) AS v FROM (
            UNPIVOT (SELECT {cols} FROM {quote_ident(table)} LIMIT {int(sample_rows)})
            ON COLUMNS(*) INTO NAME col VALUE v)
        WHERE icp_nullify(v) IS NOT NULL""")
    rows = con.execute(f"""
        SELECT p.col, count(*), count(DISTINCT p.v),
               count(n.value), count(icp_parse_bool(p.v)),
               count(icp_parse_churn(p.v)), count(icp_parse_stage(p.v)),
               count(CASE WHEN icp_parse_stage(p.v) IN ('won', 'lost') THEN 1 END),
               count(c.name),
               count(CASE WHEN regexp_matches(p.v, '[;|]') THEN 1 END),
               count(CASE WHEN regexp_full_match(p.v, '(1[89]|20)[0-9]{{2}}') THEN 1 END),
               max(length(p.v)),
               count(CASE WHEN icp_parse_stage(p.v) = 'lost' AND icp_parse_bool(p.v) IS NULL THEN 1 END),
               count(CASE WHEN c.name IS NOT NULL AND length(icp_country_key(p.v)) > 3 THEN 1 END),
               count(CASE WHEN regexp_full_match(p.v, '{_EMAIL_RE}') THEN 1 END),
               count(CASE WHEN regexp_full_match(lower(p.v), '{_URL_RE}') THEN 1 END),
               count(CASE WHEN regexp_full_match(p.v, '{_PHONE_RE}')
                           AND length(regexp_replace(p.v, '[^0-9]', '', 'g')) BETWEEN 7 AND 16 THEN 1 END),
               count(CASE WHEN regexp_full_match(lower(p.v), '{_SALUTATION_RE}') THEN 1 END),
               count(CASE WHEN regexp_full_match(p.v, '{_RECORD_ID_RE}') AND regexp_matches(p.v, '[0-9]')
                           AND regexp_matches(p.v, '[A-Za-z]') THEN 1 END),
               count(CASE WHEN regexp_full_match(p.v, '{_POSTAL_RE}') AND regexp_matches(p.v, '[0-9]') THEN 1 END),
               count(CASE WHEN regexp_matches(p.v, '(\\S+\\s+){{5}}\\S') THEN 1 END)
        FROM icp_profile_long p
        LEFT JOIN ({number_lookup_sql("SELECT v AS s, col FROM icp_profile_long", group="col")}) n
          ON n.key = p.v AND n.g = p.col
        LEFT JOIN icp_countries c ON c.key = icp_country_key(p.v)
        GROUP BY p.col""").fetchall()
    date_counts = date_format_counts(con, "icp_profile_long", "v", "col")
    profiles = {}
    for k in keys:
        profiles[k] = {"nonnull": 0, "distinct": 0, "number": 0.0, "boolean": 0.0, "churn": 0.0,
                       "stage": 0.0, "won_or_lost": 0, "lost_words": 0, "country": 0.0,
                       "country_names": 0.0, "separators": 0.0, "year": 0.0, "date": 0.0,
                       "date_formats": [], "max_len": 0, "email": 0.0, "url": 0.0, "phone": 0.0,
                       "salutation": 0.0, "record_id": 0.0, "postal": 0.0, "prose": 0.0}
    for (col, n, distinct, num, boolean, churn, stage, wl, country, seps, year, max_len, lost_words,
         country_names, email, url, phone, salutation, record_id, postal, prose) in rows:
        formats = date_counts.get(col, [])
        profiles[col] = {
            "nonnull": n, "distinct": distinct, "number": num / n, "boolean": boolean / n,
            "churn": churn / n, "stage": stage / n, "won_or_lost": wl, "lost_words": lost_words,
            "country": country / n, "country_names": country_names / n,
            "separators": seps / n, "year": year / n,
            "date": (formats[0][0] / n) if formats else 0.0,
            "date_formats": [fmt for _, fmt in formats], "max_len": max_len or 0,
            "email": email / n, "url": url / n, "phone": phone / n, "salutation": salutation / n,
            "record_id": record_id / n, "postal": postal / n, "prose": prose / n,
        }
    con.execute("DROP TABLE icp_profile_long")
    return profiles


def _generic_role(p: dict) -> str:
    if p["nonnull"] == 0:
        return "category"
    # identifiers and contact details, known by their values
    if p["email"] >= 0.8:
        return "email"
    if p["url"] >= 0.8:
        return "text"
    if p["phone"] >= 0.8 and p["date"] < 0.5:
        return "phone"
    if p["salutation"] >= 0.8:
        return "person_name"
    if p["record_id"] >= 0.9 and p["distinct"] >= 0.5 * p["nonnull"] and p["number"] < 0.5:
        return "record_id"
    if p["boolean"] >= 0.95 and p["distinct"] <= 2:
        return "boolean"
    if p["date"] >= 0.9 and p["number"] < 0.9:
        return "date"
    if p["number"] >= 0.9:
        return "number"
    # free text or ids: nearly every value distinct, or long prose
    if (p["distinct"] > 50 and p["distinct"] >= 0.5 * p["nonnull"]) or p["max_len"] > 200:
        return "text"
    # prose: most values are sentences, nearly all different
    if p["prose"] >= 0.5 and p["distinct"] >= 0.8 * p["nonnull"]:
        return "text"
    return "category"


def _fits(role: str, p: dict) -> bool:
    check = _VALUE_CHECKS.get(role)
    if check is None or p["nonnull"] == 0:
        return True
    if check == "stage":
        return p["stage"] >= _MIN_SHARE and p["won_or_lost"] > 0
    if check == "year":
        return p["year"] >= _MIN_SHARE or p["date"] >= _MIN_SHARE
    if check == "number":
        return p["number"] >= _MIN_SHARE and p["date"] < 0.9
    if check == "country":
        # two-letter codes alone are not enough: 'MS' / 'MR' are salutations as often as
        # Montserrat / Mauritania, and 'CA' / 'IN' are states
        return p["country"] >= _MIN_SHARE and p["salutation"] < 0.5
    return p[check] >= _MIN_SHARE


def detect_roles(con: duckdb.DuckDBPyConnection, table: str, keys: list[str],
                 headers: list[str]) -> list[ColumnSpec]:
    """Guess every column's role from its header and a sample of its values.

    Each semantic role goes to at most one column (the best header match whose values
    fit); a column whose values are mostly country names becomes `country` even when its
    header does not say so. Everything else gets a generic role from its values.
    """
    profiles = _value_profiles(con, table, keys)
    # (lost-less stage, rank, -share of country names, position, role, key)
    candidates: list[tuple[int, int, float, int, str, str]] = []
    for pos, (key, header) in enumerate(zip(keys, headers, strict=True)):
        match = match_header_role(header)
        if match and _fits(match[0], profiles[key]):
            # a stage column that names a lost stage beats a won flag (IsWon = 1 or blank
            # cannot tell lost from open), whatever their headers' ranks
            stageless = int(match[0] == "deal_stage" and profiles[key]["lost_words"] == 0)
            # of two country columns ('Country Code', 'Country Name'), the one with names
            names = -profiles[key]["country_names"] if match[0] == "country" else 0.0
            candidates.append((stageless, match[1], names, pos, match[0], key))
    candidates = _prefer_the_stage_naming_lost_deals(candidates, profiles)
    assigned: dict[str, str] = {}  # key -> role
    taken: set[str] = set()
    for *_order, role, key in sorted(candidates):
        if key not in assigned and (role not in taken or role in IDENTIFIER_ROLES):
            assigned[key] = role
            taken.add(role)
    if "country" not in taken:
        for key in keys:
            p = profiles[key]
            # by values alone: mostly country names (codes alone are states, salutations, ...)
            if (key not in assigned and p["country"] >= 0.8 and p["country_names"] >= 0.5
                    and p["distinct"] >= 2 and p["salutation"] < 0.5):
                assigned[key] = "country"
                break
    specs = []
    for key, header in zip(keys, headers, strict=True):
        p = profiles[key]
        role = assigned.get(key) or _generic_role(p)
        formats = p["date_formats"] if ROLES[role].kind in ("date", "year") else []
        specs.append(ColumnSpec(key=key, header=header, role=role, date_formats=list(formats),
                                scale=guess_scale(header) if ROLES[role].kind == "number" else 1.0))
    return specs


def _prefer_the_stage_naming_lost_deals(candidates: list, profiles: dict[str, dict]) -> list:
    """Of two deal-stage columns, the one whose values name clearly more lost deals (3 times as many,
    and 20 more in the sample) wins over a better header: a pipeline 'Stage' that records only a few
    losses next to a 'Status' that records them all would read a 99 % win rate (a real Acumatica
    export: Stage has 34 lost deals, Status 271)."""
    stages = [c for c in candidates if c[4] == "deal_stage"]
    if len(stages) < 2:
        return candidates
    best = min(stages)
    lost = {c[5]: profiles[c[5]]["lost_words"] for c in stages}
    other = max(stages, key=lambda c: lost[c[5]])
    if other is best or lost[other[5]] < max(3 * lost[best[5]], lost[best[5]] + 20):
        return candidates
    return [(-1, *c[1:]) if c is other else c for c in candidates]


def guess_scale(header: str) -> float:
    """Multiplier a header announces: 'Revenue ($M)' -> 1e6, 'ARR (k)' -> 1e3."""
    h = normalise_header(header)
    if re.search(r"\b(m|mm|mn|mil|million|millions|in millions)\b", h):
        return 1e6
    if re.search(r"\b(bn|billion|billions)\b", h):
        return 1e9
    if re.search(r"\b(k|thousand|thousands|000s)\b", h):
        return 1e3
    return 1.0
