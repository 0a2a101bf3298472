"""Versioned schema migrations for the PostgreSQL store.

Each file ``NNNN_name.sql`` here is one version, applied once, in order, in its own transaction,
and recorded in ``councilbot_schema``. ``upgrade`` brings a database up to date (several replicas
starting at once take turns behind an advisory lock); ``check_current`` is what a replica runs at
start, so it refuses a database that is behind instead of failing later on a missing column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from ..port import SchemaBehind, StorageError

FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 0x636F756E63696C  # "councilbot" migrations: one upgrader at a time
SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS councilbot_schema (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this CouncilBot, oldest first."""
    found = []
    for entry in resources.files(__package__).iterdir():
        match = FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StorageError(f"migrations must be numbered 1, 2, 3... without gaps: found {[m.version for m in found]}")
    return found


def latest() -> int:
    return migrations()[-1].version


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to the database: {str(exc).strip()}") from None


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    exists = conn.execute("SELECT to_regclass('councilbot_schema') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    return [int(str(row[0])) for row in conn.execute("SELECT version FROM councilbot_schema ORDER BY version")]


def current_version(url: str) -> int:
    """The newest version applied to the database (0: none)."""
    with _connect(url) as conn:
        return max(_applied(conn), default=0)


def upgrade(url: str, target: int | None = None) -> list[int]:
    """Apply every migration not applied yet (up to ``target``, default all); the versions applied.
    Running it again applies nothing."""
    wanted = [m for m in migrations() if target is None or m.version <= target]
    with _connect(url) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            conn.execute(SCHEMA_TABLE)
            done = set(_applied(conn))
            applied = []
            for migration in wanted:
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute("INSERT INTO councilbot_schema (version, name) VALUES (%s, %s)",
                                 [migration.version, migration.name])
                applied.append(migration.version)
            return applied
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def check_current(url: str) -> int:
    """The database's schema version if it is the one this CouncilBot needs; otherwise a clear
    error naming both versions and what to run."""
    shipped = migrations()
    with _connect(url) as conn:
        applied = _applied(conn)
    have = max(applied, default=0)
    need = shipped[-1].version
    if have > need:
        raise SchemaBehind(f"the database is at schema version {have}, newer than this CouncilBot (version {need}): "
                           "upgrade CouncilBot, or restore a backup made for this version")
    missing = [m for m in shipped if m.version not in applied]
    if missing:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in missing)
        raise SchemaBehind(f"the database is at schema version {have} but this CouncilBot needs version {need} "
                           f"(not applied: {names}); run: councilbot db upgrade")
    return have
