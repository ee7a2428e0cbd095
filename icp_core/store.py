"""Datasets on disk: one DuckDB file per dataset plus a JSON sidecar, per workspace.

Layout under ICP_DATA_DIR (default ./.icp_data):

    workspaces/<workspace>/datasets/<id>.duckdb   tables accounts (clean + raw), raw_opportunities
    workspaces/<workspace>/datasets/<id>.json     name, upload time, column mapping, quality

Ids are 128-bit random hex. A workspace is one user's private space (a browser keeps
its workspace token in the URL; the CLI has its own); the bundled sample lives in the
shared read-only workspace `sample`. Every file is written to a temporary name and moved
into place, so a crash never leaves half a dataset or a truncated sidecar.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Iterator

import duckdb

from .sql import quote_ident

SAMPLE_WORKSPACE = "sample"
_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


OPEN_WAIT_SECONDS = 60.0  # how long an open waits for another process's writer (or a reader, to write)


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open a dataset file, waiting while another process holds a conflicting lock on it (a
    writer, or readers when we write) or, in this process, while connections with the other
    mode are still open; other errors are raised at once."""
    delay, waited = 0.02, 0.0
    while True:
        try:
            with _file_lock(path):  # DuckDB refuses two threads attaching or detaching one file at once
                return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            busy = "lock" in str(exc).lower() or "different configuration" in str(exc).lower()
            if not busy or waited >= OPEN_WAIT_SECONDS:
                raise
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.5)


def _file_lock(path: Path) -> threading.Lock:
    """The lock that serialises opening and closing one database file within this process
    (connections already open run their queries concurrently)."""
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path), threading.Lock())

_ID_RE = re.compile(r"[0-9a-f]{32}")
_WORKSPACE_RE = re.compile(r"[0-9a-f]{32}|sample")


class DatasetNotFound(LookupError):
    pass


def data_dir() -> Path:
    """The data directory: $ICP_DATA_DIR or ./.icp_data."""
    return Path(os.environ.get("ICP_DATA_DIR", ".icp_data")).resolve()


def new_token() -> str:
    """A 128-bit random hex token (dataset ids, workspace ids)."""
    return secrets.token_hex(16)


def workspace_for_identity(secret: str, issuer: str | None, subject: str | None, email: str | None) -> str:
    """The workspace of a signed-in identity (optional sign-in, see app.py): a 128-bit id keyed by
    the server's auth cookie secret, so it cannot be worked out from an e-mail address. Identity is
    the provider's issuer + subject, or the e-mail when the provider gives no subject."""
    who = f"{issuer or ''}\n{subject or ''}" if subject else f"email\n{(email or '').strip().lower()}"
    return hmac.new(secret.encode(), b"icp-workspace\n" + who.encode(), hashlib.sha256).hexdigest()[:32]


def is_workspace_id(text: str | None) -> bool:
    return bool(text) and bool(_WORKSPACE_RE.fullmatch(text or ""))


def is_duckdb_file(path: Path) -> bool:
    """Does the file start like a DuckDB database (magic bytes "DUCK" at offset 8)?"""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[8:12] == b"DUCK"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file, fsync and rename: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


STALE_AFTER_S = 6 * 3600  # no ingest or save takes this long: older leftovers are from a killed process


def _is_stale(path: Path, now: float, older_than_s: float) -> bool:
    try:
        return now - path.lstat().st_mtime > older_than_s
    except OSError:
        return False


def _remove(path: Path) -> bool:
    import shutil

    try:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        return True
    except OSError:
        return False


def sweep_temp_workdirs(older_than_s: float = STALE_AFTER_S) -> int:
    """Remove this app's working folders (icp_*) in the system temp folder that a killed process
    left behind (a killed ingest can leave gigabytes of DuckDB spill files). Returns how many."""
    import tempfile
    import time

    now = time.time()
    return sum(_remove(d) for d in Path(tempfile.gettempdir()).glob("icp_*")
               if d.is_dir() and not d.is_symlink() and _is_stale(d, now, older_than_s))


def sweep_leftovers(root: Path | str | None = None, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove half-written files a killed process left in the data directory (hidden `.….tmp`
    files of atomic writes and dataset builds, and their `.wal`) and stale temp working folders.
    Finished files are never touched. Returns how many were removed."""
    import time

    root = Path(root) if root is not None else data_dir()
    now = time.time()
    removed = 0
    if (root / "workspaces").is_dir():
        for pattern in (".*.tmp", ".*.tmp.wal"):
            removed += sum(_remove(f) for f in (root / "workspaces").rglob(pattern)
                           if f.is_file() and _is_stale(f, now, older_than_s))
    return removed + sweep_temp_workdirs(older_than_s)


class DatasetStore:
    """The datasets of one workspace."""

    def __init__(self, root: Path | str | None = None, workspace: str = SAMPLE_WORKSPACE):
        if not is_workspace_id(workspace):
            raise ValueError("invalid workspace id")
        self.root = Path(root) if root is not None else data_dir()
        self.workspace = workspace
        self.dir = self.root / "workspaces" / workspace / "datasets"

    # paths ------------------------------------------------------------------------------
    def _check_id(self, dataset_id: str) -> str:
        if not isinstance(dataset_id, str) or not _ID_RE.fullmatch(dataset_id):
            raise DatasetNotFound("dataset not found")
        return dataset_id

    def db_path(self, dataset_id: str) -> Path:
        return self.dir / f"{self._check_id(dataset_id)}.duckdb"

    def meta_path(self, dataset_id: str) -> Path:
        return self.dir / f"{self._check_id(dataset_id)}.json"

    # writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def new_dataset_file(self) -> Iterator[tuple[str, Path]]:
        """Yield (id, temp db path); on success the database is moved into place."""
        self.dir.mkdir(parents=True, exist_ok=True)
        dataset_id = new_token()
        tmp = self.dir / f".{dataset_id}.duckdb.tmp"
        try:
            yield dataset_id, tmp
            os.replace(tmp, self.db_path(dataset_id))
        except BaseException:
            self.meta_path(dataset_id).unlink(missing_ok=True)
            raise
        finally:
            for leftover in (tmp, Path(str(tmp) + ".wal")):
                leftover.unlink(missing_ok=True)

    def write_meta(self, dataset_id: str, meta: dict) -> None:
        write_atomic(self.meta_path(dataset_id), json.dumps(meta, indent=1, default=str).encode())

    # reading ----------------------------------------------------------------------------
    def read_meta(self, dataset_id: str) -> dict:
        path = self.meta_path(dataset_id)
        if not path.exists() or not self.db_path(dataset_id).exists():
            raise DatasetNotFound("dataset not found")
        return json.loads(path.read_text())

    def exists(self, dataset_id: str) -> bool:
        try:
            return self.meta_path(dataset_id).exists() and self.db_path(dataset_id).exists()
        except DatasetNotFound:
            return False

    def list_datasets(self) -> tuple[list[dict], list[str]]:
        """(datasets newest first, problems): an unreadable dataset is reported and skipped."""
        datasets: list[dict] = []
        problems: list[str] = []
        if not self.dir.exists():
            return datasets, problems
        for path in sorted(self.dir.glob("*.json")):
            if not _ID_RE.fullmatch(path.stem):
                continue
            try:
                meta = json.loads(path.read_text())
                if not self.db_path(path.stem).exists():
                    continue  # interrupted before the database was moved into place
                if meta.get("id") != path.stem or "name" not in meta:
                    raise ValueError("incomplete metadata")
                if not is_duckdb_file(self.db_path(path.stem)):
                    raise ValueError("damaged database file")
                datasets.append(meta)
            except (OSError, ValueError) as exc:
                name = ""
                try:
                    name = f" “{json.loads(path.read_text()).get('name', '')}”"
                except (OSError, ValueError):
                    pass
                problems.append(f"dataset{name} ({path.stem[:8]}…) could not be read ({exc or type(exc).__name__}); "
                                "skipped, the others are fine")
        datasets.sort(key=lambda m: m.get("created_at", ""), reverse=True)
        return datasets, problems

    @contextlib.contextmanager
    def open_dataset(self, dataset_id: str, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection on the dataset: read-only unless `write` (re-mapping), so any number
        of sessions and server processes read at once; a writer waits for readers and vice versa."""
        path = self.db_path(dataset_id)
        if not path.exists():
            raise DatasetNotFound("dataset not found")
        con = _connect(path, read_only=not write)
        try:
            yield con
        finally:
            with _file_lock(path):
                con.close()

    def delete_dataset(self, dataset_id: str) -> None:
        self.meta_path(dataset_id).unlink(missing_ok=True)
        for path in (self.db_path(dataset_id), Path(str(self.db_path(dataset_id)) + ".wal")):
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, name: str = "store") -> Iterator[None]:
        """An exclusive inter-process lock on this workspace (e.g. to build the sample once)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f".{name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def read_accounts(store: DatasetStore, dataset_id: str, limit: int | None = None,
                  with_raw: bool = False):
    """The clean accounts table as a pandas DataFrame (raw columns only when asked)."""
    with store.open_dataset(dataset_id) as con:
        cols = [d[0] for d in con.execute("SELECT * FROM accounts LIMIT 0").description]
        keep = [c for c in cols if with_raw or not (c.endswith("__raw") or c.endswith("__band"))]
        sql = "SELECT " + ", ".join(quote_ident(c) for c in keep) + " FROM accounts ORDER BY row_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return con.execute(sql).df()


def cli_workspace(root: Path | None = None) -> str:
    """The CLI's own workspace id, created once per data directory."""
    root = Path(root) if root is not None else data_dir()
    path = root / "cli_workspace"
    if path.exists():
        ws = path.read_text().strip()
        if is_workspace_id(ws) and ws != SAMPLE_WORKSPACE:
            return ws
    ws = new_token()
    write_atomic(path, ws.encode())
    return ws


# ------------------------------------------------------------------------------ ICP profiles

def save_numbered(d: Path, record_for) -> dict:
    """Write record_for(version) as d/vNNNN.json with the next free version number and return it.
    Never overwrites: the file is created with an exclusive link, so two sessions saving at once get
    two versions; the write is whole or absent (temp file, fsync, link)."""
    d.mkdir(parents=True, exist_ok=True)
    for _ in range(1000):
        taken = [int(p.stem[1:]) for p in d.glob("v[0-9][0-9][0-9][0-9].json")]
        version = max(taken, default=0) + 1
        record = record_for(version)
        tmp = d / f".v{version:04d}.{secrets.token_hex(4)}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(json.dumps(record, indent=1, ensure_ascii=False).encode())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, d / f"v{version:04d}.json")  # fails if that version exists
            return record
        except FileExistsError:
            continue  # another session saved this number first: take the next one
        finally:
            tmp.unlink(missing_ok=True)
    raise RuntimeError("could not allocate a version number")


class ProfileStore:
    """Saved ICP profiles of one workspace, per dataset, as immutable numbered versions.

        workspaces/<workspace>/profiles/<dataset id>/<profile id>/v0001.json, v0002.json, ...

    Each version file holds {"profile_id", "version", "saved_at", "note", "author", "profile"}.
    Saving never overwrites: a version file is created with an exclusive link, so two sessions
    saving at once get two versions. Profiles of the shared sample dataset are saved in the
    user's own workspace.
    """

    def __init__(self, root: Path | str | None = None, workspace: str = SAMPLE_WORKSPACE):
        if not is_workspace_id(workspace):
            raise ValueError("invalid workspace id")
        self.root = Path(root) if root is not None else data_dir()
        self.workspace = workspace
        self.dir = self.root / "workspaces" / workspace / "profiles"

    def _dir(self, dataset_id: str, profile_id: str | None = None) -> Path:
        if not _ID_RE.fullmatch(dataset_id or "") or (profile_id is not None and not _ID_RE.fullmatch(profile_id)):
            raise DatasetNotFound("profile not found")
        d = self.dir / dataset_id
        return d / profile_id if profile_id else d

    def save_version(self, dataset_id: str, profile: dict, profile_id: str | None = None,
                     note: str = "", author: str = "") -> dict:
        """Save `profile` (its JSON dict) as the next version; returns the version record.
        ProfileError when the note or author is not text or longer than MAX_NOTE_CHARS /
        MAX_AUTHOR_CHARS (see icp_core.profile)."""
        from datetime import datetime, timezone

        from .profile import MAX_AUTHOR_CHARS, MAX_NOTE_CHARS, ProfileError

        for what, value, cap in (("note", note, MAX_NOTE_CHARS), ("author", author, MAX_AUTHOR_CHARS)):
            if not isinstance(value, str):
                raise ProfileError(f"{what}: must be text")
            if len(value) > cap:
                raise ProfileError(f"{what}: at most {cap:,} characters, got {len(value):,}")
        profile_id = profile_id or new_token()
        return save_numbered(self._dir(dataset_id, profile_id), lambda version: {
            "profile_id": profile_id, "version": version,
            "saved_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": note, "author": author, "profile": profile})

    def list_versions(self, dataset_id: str, profile_id: str) -> list[dict]:
        """Version records (without the profile body), oldest first; unreadable files skipped."""
        d = self._dir(dataset_id, profile_id)
        out = []
        for path in sorted(d.glob("v[0-9][0-9][0-9][0-9].json")) if d.exists() else []:
            try:
                rec = json.loads(path.read_text())
                out.append({k: rec[k] for k in ("profile_id", "version", "saved_at", "note", "author")}
                           | {"name": rec["profile"].get("name", "")})
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return out

    def load_version(self, dataset_id: str, profile_id: str, version: int | None = None) -> dict:
        """A version record with its profile dict (the latest when version is None)."""
        if version is None:  # only then are the versions listed (each is a file read)
            versions = self.list_versions(dataset_id, profile_id)
            if not versions:
                raise DatasetNotFound("profile not found")
            version = versions[-1]["version"]
        path = self._dir(dataset_id, profile_id) / f"v{int(version):04d}.json"
        if not path.exists():
            raise DatasetNotFound("profile version not found")
        return json.loads(path.read_text())

    def list_profiles(self, dataset_id: str) -> list[dict]:
        """The latest version record of each saved profile on a dataset, newest first."""
        d = self._dir(dataset_id)
        out = []
        for pdir in d.iterdir() if d.exists() else []:
            if pdir.is_dir() and _ID_RE.fullmatch(pdir.name):
                versions = self.list_versions(dataset_id, pdir.name)
                if versions:
                    out.append(versions[-1] | {"versions": len(versions)})
        out.sort(key=lambda r: r["saved_at"], reverse=True)
        return out


class SetStore:
    """Saved ICP sets of one workspace, per dataset, as immutable numbered versions that pin one
    saved version of each member profile (issue 16):

        workspaces/<workspace>/sets/<dataset id>/<set id>/v0001.json
        {"set_id", "version", "saved_at", "note", "author", "name",
         "members": [{"profile_id", "version", "name"}, ...]}   (set order)

    A later version of a member profile never changes a saved set version; loading a set version
    loads exactly the pinned profile versions (ProfileStore)."""

    def __init__(self, root: Path | str | None = None, workspace: str = SAMPLE_WORKSPACE):
        if not is_workspace_id(workspace):
            raise ValueError("invalid workspace id")
        self.root = Path(root) if root is not None else data_dir()
        self.workspace = workspace
        self.dir = self.root / "workspaces" / workspace / "sets"
        self.profiles = ProfileStore(self.root, workspace)

    def _dir(self, dataset_id: str, set_id: str | None = None) -> Path:
        if not _ID_RE.fullmatch(dataset_id or "") or (set_id is not None and not _ID_RE.fullmatch(set_id)):
            raise DatasetNotFound("ICP set not found")
        return self.dir / dataset_id / set_id if set_id else self.dir / dataset_id

    def save_version(self, dataset_id: str, name: str, members: list[dict], set_id: str | None = None,
                     note: str = "", author: str = "") -> dict:
        """Pin `members` ([{"profile_id", "version"}], set order; each must be a saved profile
        version of this dataset) as the set's next version; returns the record."""
        from datetime import datetime, timezone

        from .icpset import MAX_ICPS
        from .profile import ProfileError

        if not 1 <= len(members) <= MAX_ICPS:
            raise ProfileError(f"an ICP set holds 1 to {MAX_ICPS} profiles, got {len(members)}")
        pinned = []
        for m in members:
            rec = self.profiles.load_version(dataset_id, m["profile_id"], int(m["version"]))
            pinned.append({"profile_id": rec["profile_id"], "version": rec["version"],
                           "name": rec["profile"].get("name", "")})
        set_id = set_id or new_token()
        return save_numbered(self._dir(dataset_id, set_id), lambda version: {
            "set_id": set_id, "version": version,
            "saved_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": note, "author": author, "name": name, "members": pinned})

    def latest(self, dataset_id: str) -> dict | None:
        """The newest saved set version on the dataset (any set), or None."""
        d = self._dir(dataset_id)
        newest = None
        for path in d.glob("*/v[0-9][0-9][0-9][0-9].json") if d.exists() else []:
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if newest is None or (rec.get("saved_at", ""), rec.get("version", 0)) > (
                    newest.get("saved_at", ""), newest.get("version", 0)):
                newest = rec
        return newest

    def load_version(self, dataset_id: str, set_id: str, version: int) -> dict:
        """One saved set version record (DatasetNotFound when there is none)."""
        path = self._dir(dataset_id, set_id) / f"v{int(version):04d}.json"
        if not path.exists():
            raise DatasetNotFound("ICP set version not found")
        return json.loads(path.read_text())

    def load_profiles(self, dataset_id: str, record: dict) -> list[dict]:
        """The pinned profile version records of a set version, in set order."""
        return [self.profiles.load_version(dataset_id, m["profile_id"], m["version"]) for m in record["members"]]


# ------------------------------------------------------------------------------ share links

_SHARE_RE = re.compile(r"[0-9a-f]{32}")


class ShareStore:
    """Read-only share links: a 128-bit random token -> one saved profile version on its dataset.

        shares/<token>.json   {token, workspace, dataset_ws, dataset_id, profile_id, version,
                               created_at, revoked_at}

    `resolve` answers None alike for malformed, unknown and revoked tokens, so a visitor learns
    nothing about which tokens exist. Only the workspace that created a link can revoke it.
    """

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else data_dir()
        self.dir = self.root / "shares"

    def create(self, workspace: str, dataset_ws: str, dataset_id: str, profile_id: str, version: int,
               label: str = "", set_id: str | None = None, set_version: int | None = None) -> dict:
        """A link to one saved profile version, or (set_id, set_version) to one saved ICP set version
        (the viewer gets every ICP at its pinned version; profile_id/version name the first)."""
        from datetime import datetime, timezone

        if not (is_workspace_id(workspace) and is_workspace_id(dataset_ws) and _ID_RE.fullmatch(dataset_id)
                and _ID_RE.fullmatch(profile_id) and int(version) >= 1
                and (set_id is None or (_ID_RE.fullmatch(set_id) and set_version is not None and int(set_version) >= 1))):
            raise ValueError("invalid share target")
        token = new_token()
        record = {"token": token, "workspace": workspace, "dataset_ws": dataset_ws, "dataset_id": dataset_id,
                  "profile_id": profile_id, "version": int(version), "label": label,
                  "set_id": set_id, "set_version": int(set_version) if set_id and set_version is not None else None,
                  "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "revoked_at": None}
        write_atomic(self.dir / f"{token}.json", json.dumps(record).encode())
        return record

    def resolve(self, token: str | None) -> dict | None:
        if not isinstance(token, str) or not _SHARE_RE.fullmatch(token):
            return None
        try:
            record = json.loads((self.dir / f"{token}.json").read_text())
        except (OSError, ValueError):
            return None
        if record.get("revoked_at") or record.get("token") != token:
            return None
        return record

    def revoke(self, token: str, workspace: str) -> bool:
        from datetime import datetime, timezone

        record = self.resolve(token)
        if record is None or record["workspace"] != workspace:
            return False
        record["revoked_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_atomic(self.dir / f"{token}.json", json.dumps(record).encode())
        return True

    def list_for(self, workspace: str) -> list[dict]:
        """The live links a workspace created, newest first."""
        out = []
        for path in self.dir.glob("*.json") if self.dir.exists() else []:
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if record.get("workspace") == workspace and not record.get("revoked_at"):
                out.append(record)
        return sorted(out, key=lambda r: r["created_at"], reverse=True)
