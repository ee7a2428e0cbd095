"""One dataset's accounts in memory: the typed, cached API every analysis reads.

`AccountMatrix` loads a dataset's outcomes and display columns once and serves, from one
bounded LRU cache shared by every session (thread-safe):

* `column_array(spec)`: a numeric column as float64 (NaN where empty);
* `column_codes(spec)`: a categorical column as (codes, values);
* `quarters(spec)`: a date column as year * 10 + quarter (-1 where empty);
* `value_options(spec)`: the column's values with counts, or its quantiles;
* `matches(bound)`: the match vector of each trait (compiled by `traits.condition_sql`);
* `patterns(bound)`: the accounts grouped by which traits they match (`Patterns`);
* `memo(key, compute)`: any other derived per-dataset result.

The cache only speeds things up: a result never depends on an entry still being cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .profile import Trait, trait_ref_for
from .roles import ColumnSpec
from .sql import quote_ident
from .traits import condition_sql, known_sql


def _outcome_columns(specs: list[ColumnSpec]) -> dict[str, ColumnSpec]:
    """The columns that carry outcomes: won/lost, churned, ARR (first by role, then roll-up)."""
    by_role = {s.role: s for s in specs}
    by_key = {s.key: s for s in specs}
    out = {}
    if "deal_stage" in by_role:
        out["won"] = by_role["deal_stage"]
    elif "opp_outcome" in by_key:
        out["won"] = by_key["opp_outcome"]
    if "churned" in by_role:
        out["churned"] = by_role["churned"]
    if "arr" in by_role:
        out["arr"] = by_role["arr"]
    elif "opp_won_value" in by_key:
        out["arr"] = by_key["opp_won_value"]
    return out


DISPLAY_ROLES = ("account_name", "account_id", "industry", "country", "employees", "annual_revenue", "arr")


def _nbytes(value) -> int:
    """Approximate memory held by a cached value (arrays, Patterns, tuples, dicts, frames)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, Patterns):
        return sum(_nbytes(v) for v in (value.matrix, value.inv, value.count, value.order, value.offsets,
                                         value.agg or {}))
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=False).sum())
    if isinstance(value, dict):
        return 64 + sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 64 + sum(_nbytes(v) for v in value)
    return 64


def day_to_iso(day: float) -> str:
    """A day number (AccountMatrix.day_numbers) as an ISO date."""
    from datetime import date, timedelta

    return (date(1970, 1, 1) + timedelta(days=int(day))).isoformat()


class AccountMatrix:
    """One dataset's accounts in memory for scoring: outcomes, a few display columns, and one
    bounded LRU cache of everything derived from them (see the module docstring).

    Shared between sessions (st.cache_resource); thread-safe.
    """

    cache_max_bytes = 768 * 2**20  # per dataset; a trait vector is 1 byte per account
    cache_max_entries = 1024

    def __init__(self, connect, specs: list[ColumnSpec]):
        """connect: a zero-argument callable returning a context manager that yields a DuckDB
        connection on the dataset (e.g. lambda: store.open_dataset(id))."""
        self._connect = connect
        self.specs = specs
        self.outcome_specs = _outcome_columns(specs)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple, tuple[object, int]] = OrderedDict()  # key -> (value, bytes)
        self._cache_bytes = 0
        by_role = {s.role: s for s in specs}
        display = [by_role[r] for r in DISPLAY_ROLES if r in by_role]
        if "account_name" not in by_role and "account_id" not in by_role and specs:
            display.insert(0, specs[0])
        self.display_specs = display
        sel = ["row_id"] + [quote_ident(s.key) for s in display]
        o = self.outcome_specs
        won_sql = (f"CASE {quote_ident(o['won'].key)} WHEN 'won' THEN 1 WHEN 'lost' THEN 0 WHEN 'open' THEN 2 ELSE -1 END"
                   if "won" in o else "-1")
        churn_sql = (f"CASE WHEN {quote_ident(o['churned'].key)} THEN 1 WHEN NOT {quote_ident(o['churned'].key)} "
                     f"THEN 0 ELSE -1 END" if "churned" in o else "-1")
        arr_sql = f"CAST({quote_ident(o['arr'].key)} AS DOUBLE)" if "arr" in o else "CAST(NULL AS DOUBLE)"
        with connect() as con:
            outcomes = con.execute(
                f"SELECT CAST({won_sql} AS TINYINT) AS won, CAST({churn_sql} AS TINYINT) AS churned, "
                f"{arr_sql} AS arr FROM accounts ORDER BY row_id").fetchnumpy()
            self.display = con.execute(
                f"SELECT {', '.join(dict.fromkeys(sel))} FROM accounts ORDER BY row_id").df()
        self.won = np.asarray(outcomes["won"], dtype=np.int8)
        self.churned = np.asarray(outcomes["churned"], dtype=np.int8)
        arr = outcomes["arr"]
        self.arr = np.asarray(arr.filled(np.nan) if hasattr(arr, "filled") else arr, dtype=np.float64)
        self.n = len(self.won)
        self.display.columns = ["row_id"] + [s.header for s in display][: len(self.display.columns) - 1]
        self.has = {"won": "won" in o, "churned": "churned" in o, "arr": "arr" in o}
        # won / lost deals per account: the account's own stage, or its rolled-up opportunities
        keys = {s.key: s for s in specs}
        if "won" in o and o["won"].source == "opportunities" and {"opp_won_count", "opp_lost_count"} <= set(keys):
            self.won_deals = np.nan_to_num(self.column_array(keys["opp_won_count"]))
            self.lost_deals = np.nan_to_num(self.column_array(keys["opp_lost_count"]))
        else:
            self.won_deals = (self.won == 1).astype(np.float64)
            self.lost_deals = (self.won == 0).astype(np.float64)

    # ------------------------------------------------------------------ the one cache

    def _get(self, key: tuple):
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            self._cache.move_to_end(key)
            return hit[0]

    def _get_many(self, keys: list[tuple]) -> dict:
        """{key: value} for the keys cached now (one lock for all of them)."""
        found = {}
        with self._lock:
            for key in keys:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit[0]
        return found

    def _put(self, key: tuple, value) -> None:
        self._put_many({key: value})

    def _put_many(self, items: dict) -> None:
        """Keep the values, then evict the least recently used entries past the budget (at least
        the newest entry stays, however large)."""
        sized = {key: (value, _nbytes(value)) for key, value in items.items()}
        with self._lock:
            for key, entry in sized.items():
                old = self._cache.pop(key, None)
                if old is not None:
                    self._cache_bytes -= old[1]
                self._cache[key] = entry
                self._cache_bytes += entry[1]
            while len(self._cache) > 1 and (self._cache_bytes > self.cache_max_bytes
                                            or len(self._cache) > self.cache_max_entries):
                _, (_, freed) = self._cache.popitem(last=False)
                self._cache_bytes -= freed

    def cache_info(self) -> dict:
        """{"entries", "bytes"} held by the cache now."""
        with self._lock:
            return {"entries": len(self._cache), "bytes": self._cache_bytes}

    def _cached(self, key: tuple, compute):
        """The cached value for `key`, computed (outside the lock) and kept when missing."""
        value = self._get(key)
        if value is None:
            value = compute()
            self._put(key, value)
        return value

    def memo(self, key, compute):
        """A derived per-dataset result, computed once and kept in the shared cache."""
        return self._cached(("memo", key), compute)

    def memo_peek(self, key):
        """The memo for `key` when it is already computed, else None (never computes)."""
        return self._get(("memo", key))

    def column_array(self, spec: ColumnSpec) -> np.ndarray:
        """A numeric column as float64 in row order (NaN where empty), cached."""
        return self._cached(("num", spec.key), lambda: self._read_number(spec))

    def _read_number(self, spec: ColumnSpec) -> np.ndarray:
        with self._connect() as con:
            arr = con.execute(f"SELECT CAST({quote_ident(spec.key)} AS DOUBLE) AS v FROM accounts "
                              f"ORDER BY row_id").fetchnumpy()["v"]
        return np.asarray(arr.filled(np.nan) if hasattr(arr, "filled") else arr, dtype=np.float64)

    def quarters(self, spec: ColumnSpec) -> np.ndarray:
        """A date column as year * 10 + quarter (20243 = 2024 Q3) in row order, -1 where empty."""
        return self._cached(("quarter", spec.key), lambda: self._read_quarters(spec))

    def _read_quarters(self, spec: ColumnSpec) -> np.ndarray:
        col = quote_ident(spec.key)
        with self._connect() as con:
            q = con.execute(f"SELECT CAST(year({col}) * 10 + quarter({col}) AS INTEGER) AS c FROM accounts "
                            f"ORDER BY row_id").fetchnumpy()["c"]
        return np.asarray(q.filled(-1) if hasattr(q, "filled") else q, dtype=np.int64)

    def day_numbers(self, spec: ColumnSpec) -> np.ndarray:
        """A date column as days since 1970-01-01 (float64, NaN where empty) in row order, cached."""
        return self._cached(("days", spec.key), lambda: self._read_days(spec))

    def _read_days(self, spec: ColumnSpec) -> np.ndarray:
        with self._connect() as con:
            v = con.execute(f"SELECT CAST(date_diff('day', DATE '1970-01-01', CAST({quote_ident(spec.key)} AS DATE)) "
                            f"AS DOUBLE) AS d FROM accounts ORDER BY row_id").fetchnumpy()["d"]
        return np.asarray(v.filled(np.nan) if hasattr(v, "filled") else v, dtype=np.float64)

    def column_codes(self, spec: ColumnSpec) -> tuple[np.ndarray, list[str]]:
        """A categorical column as (codes, values): codes[i] indexes values, -1 where empty.
        Values are the clean text; cached."""
        return self._cached(("codes", spec.key), lambda: self._read_codes(spec))

    def _read_codes(self, spec: ColumnSpec) -> tuple[np.ndarray, list[str]]:
        col = quote_ident(spec.key)
        with self._connect() as con:
            values = [r[0] for r in con.execute(
                f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM accounts WHERE {col} IS NOT NULL ORDER BY v").fetchall()]
            codes = con.execute(
                f"SELECT coalesce(d.i, 0) - 1 AS c FROM accounts a LEFT JOIN "
                f"(SELECT unnest(?::VARCHAR[]) AS v, unnest(range(1, len(?::VARCHAR[]) + 1)) AS i) d "
                f"ON CAST(a.{col} AS VARCHAR) = d.v ORDER BY a.row_id", [values, values]).fetchnumpy()["c"]
        return np.asarray(codes, dtype=np.int32), values

    def search(self, text: str) -> np.ndarray:
        """Accounts whose name or id contains `text` (case-insensitive), as a boolean mask."""
        needle = text.strip().lower()
        if not needle:
            return np.ones(self.n, dtype=bool)
        haystack = self.memo("search_text", self._search_text)
        return pd.Series(haystack).str.contains(needle, regex=False).to_numpy(dtype=bool)

    def _search_text(self) -> np.ndarray:
        cols = [self.display[s.header].astype("string").fillna("").str.lower() for s in self.display_specs[:2]]
        if not cols:
            return np.full(self.n, "", dtype=object)
        joined = cols[0] if len(cols) == 1 else cols[0] + "\x1f" + cols[1]
        return joined.to_numpy(dtype=object)

    def value_options(self, spec: ColumnSpec, limit: int = 200) -> dict:
        """The column's real values, to offer when building a trait: {"values": [(value, count)],
        most common first} for categories and technologies, {"quantiles": {...}} for numbers."""
        key = ("options", spec.key, spec.kind, limit)
        return self._cached(key, lambda: self._read_options(spec, limit))

    def _read_options(self, spec: ColumnSpec, limit: int) -> dict:
        col = quote_ident(spec.key)
        with self._connect() as con:
            if spec.kind == "list":
                rows = con.execute(f"SELECT v, count(*) AS n FROM (SELECT unnest({col}) AS v FROM accounts) "
                                   f"WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?", [limit]).fetchall()
                out = {"values": rows}
            elif spec.kind in ("number", "year"):
                q = con.execute(f"SELECT min({col}), quantile_cont({col}, [0.1, 0.25, 0.5, 0.75, 0.9]), max({col}), "
                                f"count({col}) FROM accounts").fetchone()
                out = {"quantiles": ({"min": q[0], "p10": q[1][0], "p25": q[1][1], "median": q[1][2],
                                      "p75": q[1][3], "p90": q[1][4], "max": q[2]} if q[3] else {})}
            elif spec.kind in ("boolean", "churn", "date"):
                out = {}
            else:
                rows = con.execute(f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM accounts "
                                   f"WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT ?", [limit]).fetchall()
                out = {"values": rows}
        return out

    def patterns(self, bound: list[tuple[Trait, ColumnSpec]]) -> Patterns:
        """The accounts grouped by match pattern for these traits (cached per set of trait
        definitions, so a weight, class or tier change reuses it)."""
        key = ("patterns",) + tuple(t.definition_key() for t, _ in bound)
        return self._cached(key, lambda: group_patterns(self.matches(bound), self, self.known_matrix(bound)))

    def known_matrix(self, bound: list[tuple[Trait, ColumnSpec]]) -> np.ndarray:
        """An (n_accounts, n_traits) boolean matrix: could each trait be evaluated on each account
        (its column is not blank: traits.known), cached per column like the match vectors."""
        keys = [s.key if t.rule != "missing" else None for t, s in bound]
        found = self._vectors("known", {k: (lambda t=t, s=s: known_sql(t, s.key, s.kind))
                                        for k, (t, s) in zip(keys, bound, strict=True) if k is not None})
        if not bound:
            return np.zeros((self.n, 0), dtype=bool)
        ones = np.ones(self.n, dtype=bool)
        return np.column_stack([found[k] if k is not None else ones for k in keys])

    def _vectors(self, tag: str, wanted: dict) -> dict:
        """{key: boolean vector per account} for {key: () -> DuckDB boolean expression}: the cached
        ones from the cache (as (tag, key)), the others computed together in one query and cached.
        Every vector is held in the returned dict (a local reference) before a matrix is built: the
        bounded cache is only an accelerator, so another session evicting an entry meanwhile (or
        more vectors than the cache holds) can never make a lookup fail."""
        found = {k[1]: v for k, v in self._get_many([(tag, k) for k in wanted]).items()}
        todo = [k for k in wanted if k not in found]
        if todo:
            exprs = [f"{wanted[k]()} AS v{i}" for i, k in enumerate(todo)]
            with self._connect() as con:
                cols = con.execute(f"SELECT {', '.join(exprs)} FROM accounts ORDER BY row_id").fetchnumpy()
            new = {k: np.asarray(cols[f"v{i}"], dtype=bool) for i, k in enumerate(todo)}
            found.update(new)
            self._put_many({(tag, k): v for k, v in new.items()})
        return found

    def technology_flags(self, spec: ColumnSpec, limit: int) -> tuple[list[str], np.ndarray]:
        """The `limit` most common values of a multi-valued column and an (n_accounts, len(values))
        boolean matrix: does each account list each value (cached like any trait match)."""
        values = [v for v, _ in self.value_options(spec, limit=limit)["values"]]
        if not values:
            return [], np.zeros((self.n, 0), dtype=bool)
        ref = trait_ref_for(spec)
        return values, self.matches([(Trait(label=v, rule="contains_any", values=[v], **ref), spec) for v in values])

    def matches(self, bound: list[tuple[Trait, ColumnSpec]]) -> np.ndarray:
        """An (n_accounts, n_traits) boolean matrix for the bound traits, in their order.
        Definitions not seen before are computed together in one DuckDB query."""
        keys = [t.definition_key() for t, _ in bound]
        found = self._vectors("match", {k: (lambda t=t, s=s: condition_sql(t, s.key, s.kind))
                                        for k, (t, s) in zip(keys, bound, strict=True)})
        vectors = [found[k] for k in keys]
        if not vectors:
            return np.zeros((self.n, 0), dtype=bool)
        return np.column_stack(vectors)


@dataclass
class Patterns:
    """Accounts grouped by which traits they match. A weight change only re-scores the distinct
    match patterns (usually a few hundred, whatever the number of accounts); per-pattern sums
    of the outcomes make tier summaries O(patterns) too."""

    matrix: np.ndarray  # (U, k) bool: the distinct match patterns
    inv: np.ndarray  # (n,) pattern of each account
    count: np.ndarray  # (U,) accounts per pattern
    order: np.ndarray  # (n,) account positions grouped by pattern, row order within a pattern
    offsets: np.ndarray  # (U + 1,) start of each pattern's accounts in `order`
    agg: dict[str, np.ndarray] | None = None  # per-pattern won, lost, churned, churn_known, arr
    known: np.ndarray | None = None  # (U, k) bool: could each trait be evaluated (None: all could)

    @property
    def known_matrix(self) -> np.ndarray:
        return self.known if self.known is not None else np.ones(self.matrix.shape, dtype=bool)

    @property
    def n(self) -> int:
        return len(self.inv)


def group_patterns(matrix: np.ndarray, accounts: "AccountMatrix | None" = None,
                   known: np.ndarray | None = None) -> Patterns:
    """Group the rows of a boolean match matrix into distinct patterns (with outcome sums). With
    `known` (same shape: could each trait be evaluated), a pattern is the matches and the knowns."""
    n, k = matrix.shape
    both = matrix if known is None else np.hstack([matrix, np.asarray(known, dtype=bool)])
    if k == 0:
        inv = np.zeros(n, dtype=np.int64)
        uniq = np.zeros((1 if n else 0, 0), dtype=bool)
    else:
        packed = np.packbits(both, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        uniq = both[first]
    inv = inv.astype(np.int64).ravel()
    u = len(uniq)
    count = np.bincount(inv, minlength=u)
    order = np.argsort(inv, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(count)])
    agg = None
    if accounts is not None:
        agg = {
            "won": np.bincount(inv, weights=accounts.won_deals, minlength=u),
            "lost": np.bincount(inv, weights=accounts.lost_deals, minlength=u),
            "churned": np.bincount(inv, weights=(accounts.churned == 1), minlength=u),
            "churn_known": np.bincount(inv, weights=(accounts.churned >= 0), minlength=u),
            "arr": np.bincount(inv, weights=np.nan_to_num(accounts.arr), minlength=u),
        }
    uniq_known = uniq[:, k:] if known is not None else None
    return Patterns(uniq[:, :k], inv, count, order, offsets, agg, uniq_known)


