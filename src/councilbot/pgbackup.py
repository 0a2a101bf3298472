"""Backups when the records are in PostgreSQL (``database_url``): ``pg_dump`` and ``pg_restore``, the
database's own tools, plus the files that still live on disk.

One ``.tar.gz`` holds everything a council needs back:

- ``.councilbot-backup``: says what this is ("CouncilBot PostgreSQL backup, format 1");
- ``database.dump``: ``pg_dump --format=custom`` of the whole database (every council);
- ``data/...``: from ``data_dir``, the kept evidence files (``.evidence/<sha256>``, in any council's
  folder) and the bundle-signing key, so restored reports still have their screenshots and bundles
  are still signed with the key the police were given.

Why these choices:

- The password never goes on a command line (any user of the machine can read those): the child
  gets the connection settings without it and the password in its own ``PGPASSWORD``; every
  message is passed through ``storage.admin.redact``.
- Row-level security hides every council's records from the bot's own database user unless it names
  the council, so ``pg_dump`` as that user would stop (it refuses to dump a table it cannot read
  whole, and never silently dumps nothing). Backups are made as a user that may read every council
  (the database's superuser, or a user with BYPASSRLS), given in ``COUNCILBOT_BACKUP_DATABASE_URL``;
  restores too, and they keep each object's owner as dumped, so the tables stay the bot's.
- ``pg_restore --clean --if-exists --single-transaction``: the database is replaced in one
  transaction, so a restore that fails leaves it exactly as it was. It refuses while any other
  client is connected (a replica still serving would write into the middle of it).
- Evidence files are named by their SHA-256, so they are added back beside whatever is there (the
  data folder may be a volume every replica shares, which cannot be moved aside); a signing key that
  differs from the backup's is kept aside, never deleted.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from . import clock
from .backup import MARKER, SIGNING_KEY, BackupError
from .storage.admin import Outcome, check_url, one_line, redact, run_check, split_password
from .storage.port import StorageError

MARKER_TEXT = b"CouncilBot PostgreSQL backup, format 1\n"
DUMP = "database.dump"
DATA = "data"
BACKUP_URL_ENV = "COUNCILBOT_BACKUP_DATABASE_URL"
_FILE = re.compile(r"(?:[^/]+/)*(?:\.evidence/[0-9a-f]{64}|" + re.escape(SIGNING_KEY) + ")")
TIMEOUT = 3600.0  # a dump of a county's councils is minutes; an hour means something is stuck


def backup_url(database_url: str | None) -> str | None:
    """The URL backups and restores use: ``COUNCILBOT_BACKUP_DATABASE_URL`` if set, else database_url."""
    return os.environ.get(BACKUP_URL_ENV) or database_url


def pg_tool(name: str) -> Path:
    """``pg_dump``/``pg_restore``: in ``COUNCILBOT_PG_BIN`` if set (only there), else on the PATH, else
    the newest under /usr/lib/postgresql (where Debian and Ubuntu put them)."""
    chosen = os.environ.get("COUNCILBOT_PG_BIN")
    if chosen:
        candidates = [Path(chosen) / name]
    else:
        on_path = shutil.which(name)
        candidates = [Path(on_path)] if on_path else []
        candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                             key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0, reverse=True)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = f"in COUNCILBOT_PG_BIN ({chosen})" if chosen else "on the PATH or under /usr/lib/postgresql/*/bin"
    raise BackupError(f"{name} was not found {where}: install the PostgreSQL client programs "
                      "(on Debian or Ubuntu: apt install postgresql-client), or set COUNCILBOT_PG_BIN to the folder holding them")


def _run(name: str, args: list[str], url: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool on the database: settings on its command line, the password only in its environment."""
    tool = pg_tool(name)
    try:
        conninfo, password = split_password(check_url(url))
    except StorageError as exc:
        raise BackupError(str(exc)) from None
    env = dict(os.environ)
    env.pop(BACKUP_URL_ENV, None)
    env.pop("COUNCILBOT_DATABASE_URL", None)
    if password is not None:
        env["PGPASSWORD"] = password
    try:
        return subprocess.run([str(tool), *args, f"--dbname={conninfo}"], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish within {timeout:.0f} seconds; nothing was changed") from None
    except OSError as exc:
        raise BackupError(f"cannot run {tool}: {exc.strerror}") from None


def _said(done: subprocess.CompletedProcess[str], url: str) -> str:
    return one_line(redact(done.stderr or done.stdout or f"exit status {done.returncode}", url))


def _disk_files(data_dir: Path) -> list[Path]:
    """The files of ``data_dir`` a PostgreSQL deployment still keeps on disk: evidence and the signing key."""
    if not data_dir.is_dir():
        return []
    found = [p for p in data_dir.rglob("*") if p.is_file() and _FILE.fullmatch(p.relative_to(data_dir).as_posix())]
    return sorted(found)


@dataclass(frozen=True)
class Made:
    files: int  # files from data_dir (evidence, signing key) besides the database


def make_pg_backup(url: str, data_dir: Path, target: Path) -> Made:
    if not target.name or target.is_dir():
        raise BackupError(f"{target}: give the backup a file name, such as councilbot-backup.tar.gz")
    tmp = target.with_name(f".{target.name}.tmp")
    with tempfile.TemporaryDirectory(prefix=".councilbot-dump-", dir=target.parent if target.parent.is_dir() else None) as work:
        dump = Path(work) / DUMP
        done = _run("pg_dump", ["--format=custom", f"--file={dump}"], url)
        if done.returncode != 0:
            said = _said(done, url)
            if "row-level security" in said:
                raise BackupError(
                    "the database user in database_url may not read every council's records (row-level security, as it "
                    f"should be for the bot): set {BACKUP_URL_ENV} to the URL of a user that may, such as the database's "
                    f"superuser (or a user with BYPASSRLS), for this command; no backup was written ({said})")
            raise BackupError(f"pg_dump failed, no backup was written: {said}")
        files = _disk_files(data_dir)
        try:
            with tarfile.open(tmp, "w:gz") as tar:
                mark = tarfile.TarInfo(MARKER)
                mark.size = len(MARKER_TEXT)
                tar.addfile(mark, io.BytesIO(MARKER_TEXT))
                tar.add(dump, arcname=DUMP)
                for path in files:
                    tar.add(path, arcname=f"{DATA}/{path.relative_to(data_dir).as_posix()}")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"{target}: cannot write the backup ({exc.strerror})") from None
    return Made(len(files))


def is_pg_backup(source: Path) -> bool:
    """Whether the file is a PostgreSQL backup (so a TinyDB restore can say so instead of "no tables")."""
    try:
        with tarfile.open(source, "r:gz") as tar:
            member = tar.getmember(MARKER)
            fh = tar.extractfile(member)
            return fh is not None and fh.read(len(MARKER_TEXT) + 1) == MARKER_TEXT
    except (tarfile.TarError, OSError, KeyError):
        return False


@dataclass(frozen=True)
class Restored:
    files: int  # evidence files and keys put back in data_dir
    schema: Outcome  # the database's schema after the restore: not ok means "run councilbot db upgrade"
    key_set_aside: Path | None


def _unpack(source: Path, staging: Path) -> list[str]:
    """Check and extract the backup; the ``data/...`` names it holds."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    if not is_pg_backup(source):
        raise BackupError(f"{source}: not a CouncilBot PostgreSQL backup (a backup of a TinyDB data folder is restored "
                          "with database_url unset); nothing was changed")
    try:
        with tarfile.open(source, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            for m in members:
                if m.name.startswith("/") or ".." in Path(m.name).parts:
                    raise BackupError(f"{source}: unsafe path {m.name!r} in the backup; nothing was changed")
            wanted = [m for m in members if m.name == DUMP or
                      (m.name.startswith(f"{DATA}/") and _FILE.fullmatch(m.name.removeprefix(f"{DATA}/")))]
            if DUMP not in {m.name for m in wanted}:
                raise BackupError(f"{source}: the backup holds no {DUMP}; nothing was changed")
            tar.extractall(staging, members=wanted, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{source}: not a readable backup ({exc}); nothing was changed") from None
    names = [m.name.removeprefix(f"{DATA}/") for m in wanted if m.name != DUMP]
    for name in names:
        if "/.evidence/" in f"/{name}" and hashlib.sha256((staging / DATA / name).read_bytes()).hexdigest() != Path(name).name:
            raise BackupError(f"{source}: the evidence file {name} in the backup is damaged; nothing was changed")
    return names


def _others_connected(url: str) -> int:
    """Other clients connected to the database now (a replica still serving, a psql left open)."""
    try:
        with psycopg.connect(check_url(url), autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchone()
    except StorageError as exc:
        raise BackupError(str(exc)) from None
    except psycopg.Error as exc:
        raise BackupError(one_line(redact(f"cannot connect to the database: {exc}", url))) from None
    return int(row[0]) if row else 0


def restore_pg_backup(source: Path, url: str, data_dir: Path) -> Restored:
    try:
        check_url(url)
    except StorageError as exc:
        raise BackupError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix=".councilbot-restore-") as work:
        staging = Path(work)
        names = _unpack(source, staging)
        dump = staging / DUMP
        try:  # reads the dump only: a damaged one is found before the database is touched
            listing = subprocess.run([str(pg_tool("pg_restore")), "--list", str(dump)], capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackupError(f"cannot run pg_restore ({exc}); nothing was changed") from None
        if listing.returncode != 0:
            raise BackupError(f"{source}: the database dump in the backup cannot be read ({one_line(listing.stderr)}); nothing was changed")
        others = _others_connected(url)
        if others:
            raise BackupError(f"{others} other connection(s) to the database are open: stop every 'councilbot serve' (and any "
                              "other client) first, then restore; nothing was changed")
        done = _run("pg_restore", ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", str(dump)], url)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed, and the database was left as it was: {_said(done, url)}")
        key_aside = _put_files(staging / DATA, names, data_dir)
    return Restored(len(names), run_check(url), key_aside)


def _put_files(staged: Path, names: list[str], data_dir: Path) -> Path | None:
    """Evidence is added beside what is there (same name, same bytes); a different signing key is kept aside."""
    aside: Path | None = None
    try:
        for name in names:
            target = data_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.name == SIGNING_KEY and target.is_file():
                if target.read_bytes() == (staged / name).read_bytes():
                    continue
                aside = target.with_name(f"{SIGNING_KEY}.before-restore-{clock.now():%Y%m%dT%H%M%S%f}")
                target.rename(aside)
            elif target.is_file():
                continue  # named by its SHA-256: the same file
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(staged / name, tmp)
            if target.name == SIGNING_KEY:
                tmp.chmod(0o600)
            os.replace(tmp, target)
    except OSError as exc:
        raise BackupError(f"{data_dir}: the database was restored, but the evidence files could not all be put back "
                          f"({exc.strerror}); run the restore again once this is fixed") from None
    return aside
