"""The database commands an operator runs for a PostgreSQL deployment (issue 12): ``councilbot db
upgrade|check``, and ``backup``/``restore`` through pg_dump/pg_restore with the evidence files, against
a real throwaway PostgreSQL (the suite's own server, ``tests/conftest.py``). Every command
runs as the operator would run it, in a subprocess; the database URL always carries a password, which
must never appear in anything it prints."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import psycopg
import pytest

from councilbot.storage.migrations import current_version, upgrade
from councilbot.storage.postgres import open_postgres
from pg import APP_ROLE, PgServer, free_port

from .test_operate import cli

PASSWORD = "Tr0ub4dor-and-3"
PNG = b"\x89PNG\r\n\x1a\n" + b"a screenshot of the abuse" * 40
KEY = b"-----BEGIN PRIVATE KEY-----\nthe council's bundle-signing key\n-----END PRIVATE KEY-----\n"


def with_password(url: str, user: str = APP_ROLE) -> str:
    """The test server trusts loopback, so any password connects: what matters is that it is never shown."""
    return url.replace(f"postgresql://{user}@", f"postgresql://{user}:{PASSWORD}@", 1)


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    out = cli(*args, cwd=cwd, **env)
    assert PASSWORD not in out.stdout + out.stderr, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def config(folder: Path, url: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['council = "castle-cary"', 'data_dir = "data"']
    if url:
        lines.insert(0, f'database_url = "{url}"')
    (folder / "councilbot.toml").write_text("\n".join(lines) + "\n")
    return folder


# ---------------------------------------------------------------- db upgrade / db check


def test_db_upgrade_on_an_empty_database_and_db_check_before_and_after(fresh_db: str, tmp_path: Path) -> None:
    here = config(tmp_path, with_password(fresh_db))
    behind = run("db", "check", cwd=here)
    assert behind.returncode == 1, behind
    [line] = behind.stderr.splitlines()  # one line, naming what to run
    assert line.startswith("councilbot: the database is at schema version 0 but this CouncilBot needs version 2")
    assert line.endswith("run: councilbot db upgrade")
    done = run("db", "upgrade", cwd=here)
    assert (done.returncode, done.stdout.strip()) == (0, "schema at version 2 (applied 1, 2)"), done.stderr
    assert current_version(fresh_db) == 2
    again = run("db", "upgrade", cwd=here)
    assert (again.returncode, again.stdout.strip()) == (0, "schema at version 2 (already up to date)")
    current = run("db", "check", cwd=here)
    assert (current.returncode, current.stdout.strip(), current.stderr) == (0, "schema at version 2: up to date", "")


def test_db_takes_the_url_from_the_environment_and_says_when_the_database_is_ahead(fresh_db: str, tmp_path: Path) -> None:
    here = config(tmp_path, None)
    assert run("db", "upgrade", cwd=here, COUNCILBOT_DATABASE_URL=with_password(fresh_db)).returncode == 0
    assert current_version(fresh_db) == 2
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO councilbot_schema (version, name) VALUES (3, 'from_a_newer_councilbot')")
    ahead = run("db", "check", cwd=here, COUNCILBOT_DATABASE_URL=with_password(fresh_db))
    assert ahead.returncode == 1 and "schema version 3, newer than this CouncilBot" in ahead.stderr


@pytest.mark.parametrize("shape", ["closed port", "no such database", "space in the password", "not postgresql"])
def test_a_wrong_or_unreachable_url_is_exit_2_with_a_clear_message_and_no_password(
        shape: str, pg_server: PgServer, tmp_path: Path) -> None:
    url = {
        "closed port": f"postgresql://{APP_ROLE}:{PASSWORD}@127.0.0.1:{free_port()}/councilbot",
        "no such database": with_password(pg_server.url("no_such_database")),
        # libpq quotes the part of a URL it cannot parse, password and all, in its error
        "space in the password": f"postgresql://{APP_ROLE}:{PASSWORD} x@127.0.0.1:{pg_server.port}/councilbot",
        "not postgresql": f"mysql://{APP_ROLE}:{PASSWORD}@127.0.0.1/councilbot",
    }[shape]
    for command in ("upgrade", "check"):
        out = run("db", command, cwd=tmp_path, COUNCILBOT_DATABASE_URL=url)
        assert out.returncode == 2, (out.stdout, out.stderr)
        [line] = out.stderr.splitlines()
        expected = "database_url must start with postgresql://" if shape == "not postgresql" else (
            'unexpected spaces found in "***"' if shape == "space in the password" else "cannot connect to the database")
        assert line.startswith("councilbot: ") and expected in line, line


def test_with_tinydb_there_is_nothing_to_migrate(tmp_path: Path) -> None:
    here = config(tmp_path, None)
    for command in ("upgrade", "check"):
        out = run("db", command, cwd=here)
        assert out.returncode == 0 and out.stdout.startswith("nothing to migrate: the records are TinyDB files in"), out
    assert not (here / "data").exists()  # nothing was created either


# ---------------------------------------------------------------- backup / restore


async def _records(url: str) -> dict[str, list[str]]:
    backend = await open_postgres(url)
    try:
        return {c: [d["id"] for d in await backend.council(c).find("reports")] for c in ("alsager", "castle-cary")}
    finally:
        await backend.close()


async def _put(url: str, council: str, *ids: str) -> None:
    backend = await open_postgres(url)
    try:
        for ident in ids:
            assert await backend.council(council).insert("reports", {"id": ident, "status": "open"})
    finally:
        await backend.close()


async def _wipe(url: str) -> None:
    backend = await open_postgres(url)
    try:
        for council in ("alsager", "castle-cary"):
            await backend.council(council).delete_where("reports", {})
    finally:
        await backend.close()


def _evidence(data: Path, sub: str = "") -> Path:
    folder = data / sub / ".evidence"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha256(PNG).hexdigest()
    path.write_bytes(PNG)
    return path


def _owner(url: str) -> str:
    return with_password(url.replace(f"postgresql://{APP_ROLE}@", "postgresql://postgres@", 1), user="postgres")


async def test_backup_wipe_restore_brings_back_the_rows_and_the_evidence(fresh_db: str, tmp_path: Path) -> None:
    upgrade(fresh_db)
    await _put(fresh_db, "alsager", "R-2026-0001", "R-2026-0002")
    await _put(fresh_db, "castle-cary", "R-2026-0001")
    here = config(tmp_path, with_password(fresh_db))
    shot, other_shot = _evidence(here / "data"), _evidence(here / "data", "castle-cary")
    (here / "data" / ".bundle-signing-key.pem").write_bytes(KEY)
    (here / "data" / "stray.json").write_text("{}")  # not evidence: a PostgreSQL backup does not carry it

    # As the bot's own database user, row-level security hides the councils' rows: no backup, and it says why.
    refused = run("backup", "b.tar.gz", cwd=here)
    assert refused.returncode == 2 and "COUNCILBOT_BACKUP_DATABASE_URL" in refused.stderr, refused.stderr
    assert not (here / "b.tar.gz").exists()

    owner = {"COUNCILBOT_BACKUP_DATABASE_URL": _owner(fresh_db)}
    made = run("backup", "b.tar.gz", cwd=here, **owner)
    assert made.returncode == 0, made.stderr
    assert "3 evidence and key files" in made.stdout
    with tarfile.open(here / "b.tar.gz") as tar:
        names = set(tar.getnames())
    assert names == {".councilbot-backup", "database.dump", "data/.bundle-signing-key.pem",
                     f"data/.evidence/{shot.name}", f"data/castle-cary/.evidence/{other_shot.name}"}

    # Lose everything: the rows, an evidence file, the key; and write a record after the backup.
    await _wipe(fresh_db)
    await _put(fresh_db, "castle-cary", "R-2026-0099")
    shot.unlink()
    (here / "data" / ".bundle-signing-key.pem").write_bytes(b"a different key")

    # While anything else is connected (a replica still serving), restore refuses and changes nothing.
    with psycopg.connect(fresh_db):
        busy = run("restore", "b.tar.gz", cwd=here, **owner)
    assert busy.returncode == 2 and "1 other connection(s) to the database are open" in busy.stderr, busy.stderr
    assert await _records(fresh_db) == {"alsager": [], "castle-cary": ["R-2026-0099"]}

    restored = run("restore", "b.tar.gz", cwd=here, **owner)
    assert restored.returncode == 0, restored.stderr
    assert await _records(fresh_db) == {"alsager": ["R-2026-0001", "R-2026-0002"], "castle-cary": ["R-2026-0001"]}
    assert shot.read_bytes() == PNG and other_shot.read_bytes() == PNG
    assert (here / "data" / ".bundle-signing-key.pem").read_bytes() == KEY
    [aside] = (here / "data").glob(".bundle-signing-key.pem.before-restore-*")
    assert aside.read_bytes() == b"a different key"  # never deleted
    # The restored database still belongs to the bot's user, with row-level security in force.
    check = run("db", "check", cwd=here)
    assert check.returncode == 0, check.stderr
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM councilbot_records").fetchone() == (0,)


async def test_restoring_a_backup_from_an_older_schema_says_to_upgrade(fresh_db: str, tmp_path: Path) -> None:
    upgrade(fresh_db, target=1)  # version 1 has no row-level security: the bot's own user can dump it
    here = config(tmp_path, with_password(fresh_db))
    assert run("backup", "old.tar.gz", cwd=here).returncode == 0
    upgrade(fresh_db)
    restored = run("restore", "old.tar.gz", cwd=here)
    assert restored.returncode == 1 and restored.stdout.startswith("restored the PostgreSQL database"), restored
    assert "schema version 1 but this CouncilBot needs version 2" in restored.stderr
    assert restored.stderr.strip().endswith("run: councilbot db upgrade")
    assert current_version(fresh_db) == 1
    assert run("db", "upgrade", cwd=here).returncode == 0 and current_version(fresh_db) == 2


def test_pg_dump_gets_the_password_in_its_environment_never_on_its_command_line(fresh_db: str, tmp_path: Path) -> None:
    """A stand-in pg_dump (in COUNCILBOT_PG_BIN) that writes down how it was called, then runs the real one."""
    upgrade(fresh_db, target=1)
    real = subprocess.run(["sh", "-c", "command -v pg_dump"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout.strip()
    if not real:
        pytest.skip("no pg_dump on this machine")
    tools = tmp_path / "bin"
    tools.mkdir()
    spy = tools / "pg_dump"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/argv"\nprintf "%s" "$PGPASSWORD" > "{tmp_path}/pgpassword"\n'
                   f'exec {real} "$@"\n')
    spy.chmod(0o755)
    here = config(tmp_path / "site", with_password(fresh_db))
    made = run("backup", "b.tar.gz", cwd=here, COUNCILBOT_PG_BIN=str(tools))
    assert made.returncode == 0, made.stderr
    argv = (tmp_path / "argv").read_text()
    assert PASSWORD not in argv and "--format=custom" in argv and f"user={APP_ROLE}" in argv
    assert (tmp_path / "pgpassword").read_text() == PASSWORD


def test_without_pg_dump_backup_says_what_to_install(fresh_db: str, tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    here = config(tmp_path / "site", with_password(fresh_db))
    out = run("backup", "b.tar.gz", cwd=here, COUNCILBOT_PG_BIN=str(empty))
    assert out.returncode == 2 and "pg_dump was not found in COUNCILBOT_PG_BIN" in out.stderr, out.stderr
    assert "apt install postgresql-client" in out.stderr and not (here / "b.tar.gz").exists()


def test_a_backup_of_one_kind_is_not_restored_as_the_other(fresh_db: str, tmp_path: Path) -> None:
    upgrade(fresh_db, target=1)
    pg_site = config(tmp_path / "pg", with_password(fresh_db))
    assert run("backup", "pg.tar.gz", cwd=pg_site).returncode == 0
    tiny_site = config(tmp_path / "tiny", None)
    (tiny_site / "data" / "reports").mkdir(parents=True)
    (tiny_site / "data" / "reports" / "0000.json").write_text('{"_default": {}}')
    assert run("backup", "tiny.tar.gz", cwd=tiny_site).returncode == 0

    # A PostgreSQL backup into a TinyDB folder: refused, the folder untouched.
    os.replace(pg_site / "pg.tar.gz", tiny_site / "pg.tar.gz")
    wrong = run("restore", "pg.tar.gz", cwd=tiny_site)
    assert wrong.returncode == 2 and "it is a backup of a PostgreSQL database" in wrong.stderr, wrong.stderr
    assert (tiny_site / "data" / "reports" / "0000.json").is_file() and not list(tiny_site.glob("data.before-restore-*"))
    # A TinyDB backup into PostgreSQL: refused before the database is touched.
    os.replace(tiny_site / "tiny.tar.gz", pg_site / "tiny.tar.gz")
    other = run("restore", "tiny.tar.gz", cwd=pg_site)
    assert other.returncode == 2 and "not a CouncilBot PostgreSQL backup" in other.stderr, other.stderr
    assert current_version(fresh_db) == 1


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_with_a_wrong_or_unreachable_url_exit_2_without_the_password(
        command: str, fresh_db: str, tmp_path: Path) -> None:
    upgrade(fresh_db, target=1)
    here = config(tmp_path, None)
    assert run("backup", "b.tar.gz", cwd=here, COUNCILBOT_DATABASE_URL=with_password(fresh_db)).returncode == 0
    for url, said in ((f"mysql://{APP_ROLE}:{PASSWORD}@127.0.0.1/councilbot", "database_url must start with postgresql://"),
                      (f"postgresql://{APP_ROLE}:{PASSWORD}@127.0.0.1:{free_port()}/councilbot", "connection to server at")):
        out = run(command, "b.tar.gz", cwd=here, COUNCILBOT_DATABASE_URL=url)
        assert out.returncode == 2 and said in out.stderr, (url, out.stderr)
        assert len(out.stderr.splitlines()) == 1


def test_a_damaged_dump_is_found_before_the_database_is_touched(fresh_db: str, tmp_path: Path) -> None:
    upgrade(fresh_db, target=1)
    here = config(tmp_path, with_password(fresh_db))
    with tarfile.open(here / "b.tar.gz", "w:gz") as tar:
        for name, data in ((".councilbot-backup", b"CouncilBot PostgreSQL backup, format 1\n"), ("database.dump", b"PGDMP cut short")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = run("restore", "b.tar.gz", cwd=here)
    assert out.returncode == 2 and "the database dump in the backup cannot be read" in out.stderr, out.stderr
    assert current_version(fresh_db) == 1
    # An evidence file whose bytes no longer match its name (its SHA-256): refused, nothing put back.
    with tarfile.open(here / "e.tar.gz", "w:gz") as tar:
        name = f"data/.evidence/{hashlib.sha256(PNG).hexdigest()}"
        for member, data in ((".councilbot-backup", b"CouncilBot PostgreSQL backup, format 1\n"), ("database.dump", b"PGDMP"),
                             (name, PNG + b"one byte more")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = run("restore", "e.tar.gz", cwd=here)
    assert out.returncode == 2 and f"the evidence file {name.removeprefix('data/')} in the backup is damaged" in out.stderr, out.stderr
    assert not (here / "data").exists() and current_version(fresh_db) == 1


# ---------------------------------------------------------------- the bot itself on PostgreSQL


def test_serve_refuses_a_database_that_is_behind_then_serves_once_upgraded(fresh_db: str, tmp_path: Path) -> None:
    """Start-up checks the schema: on a database nobody upgraded, ``serve`` stops at once with one
    plain line naming the command to run (never a traceback, never the password); after
    ``db upgrade``, ``export-posts`` reads the (empty) records from the same database."""
    here = config(tmp_path, with_password(fresh_db))
    refused = run("serve", "--host", "127.0.0.1", "--port", str(free_port()), cwd=here)
    assert refused.returncode == 2, refused
    assert "councilbot db upgrade" in refused.stderr
    assert run("db", "upgrade", cwd=here).returncode == 0
    exported = run("export-posts", "--format", "json", cwd=here)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == "[]"
    assert not (here / "data" / "suggestions").exists()  # the records are in PostgreSQL, not in files
