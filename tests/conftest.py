"""The suite's throwaway PostgreSQL, shared by every folder that needs one (storage, the core's
workflows, the database commands, isolation between councils): one server per test session.

It is started from the machine's own binaries (``initdb``/``pg_ctl``, PostgreSQL 15 under
``/usr/lib/postgresql/15/bin`` here, or ``COUNCILBOT_PG_BIN``), in a temporary folder on a free
loopback port, and stopped at the end. Where the binaries are missing those tests skip saying so;
with ``COUNCILBOT_REQUIRE_POSTGRES=1`` (set by ``.ci/run`` on a machine that has them) they fail
instead, so CI cannot pass by skipping.

The tests connect as an ordinary role that owns its databases (as a deployment should), not as
the superuser, so the row-level security of migration 0002 is in force in every PostgreSQL test.
pytest-postgresql's ``DatabaseJanitor`` creates and drops the databases; its own server fixture
is not used because it runs ``initdb`` as the current user, which PostgreSQL refuses for root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from councilbot.storage.migrations import upgrade
from pg import APP_ROLE, PgServer, free_port, pg_bin, unavailable

@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    binaries = pg_bin()
    if binaries is None:
        unavailable("PostgreSQL binaries (initdb, pg_ctl) were not found (set COUNCILBOT_PG_BIN to their folder)")
        raise AssertionError("unreachable")
    # Not under pytest's tmp_path: that is private to this user, and the server may run as another.
    folder = Path(tempfile.mkdtemp(prefix="councilbot-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []  # initdb refuses to run as root
    if as_root:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    run(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
    port = 0
    for _ in range(3):  # another process may take the free port between choosing and binding it
        port = free_port()
        try:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "30", "-o",
                f"-F -h 127.0.0.1 -p {port} -k {folder} -c synchronous_commit=off -c full_page_writes=off", "start")
            break
        except RuntimeError:
            if "could not bind" not in (folder / "log").read_text(errors="replace"):
                raise
    else:
        raise RuntimeError("could not start PostgreSQL on a free port")
    server = PgServer("127.0.0.1", port)
    try:
        import psycopg

        with psycopg.connect(server.url("postgres", user="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN CREATEDB")
        yield server
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def contract_db(pg_server: PgServer) -> Iterator[str]:
    """One database for the whole contract suite, at the latest schema; each test uses councils
    of its own, which is exactly the isolation under test."""
    with pg_server.janitor("councilbot_contract"):
        url = pg_server.url("councilbot_contract")
        upgrade(url)
        yield url


@pytest.fixture
def fresh_db(pg_server: PgServer) -> Iterator[str]:
    """An empty database (no schema), dropped afterwards: for the migration tests."""
    name = f"councilbot_{uuid.uuid4().hex[:10]}"
    with pg_server.janitor(name):
        yield pg_server.url(name)


