"""Fixtures for the storage contract suite: each test runs on TinyDB and on a real PostgreSQL.

PostgreSQL is a throwaway server this suite starts itself from the machine's own binaries
(``initdb``/``pg_ctl``, PostgreSQL 15 under ``/usr/lib/postgresql/15/bin`` here, or
``COUNCILBOT_PG_BIN``), in a temporary folder on a free loopback port, and stops at the end.
Where the binaries are missing those tests skip saying so; with ``COUNCILBOT_REQUIRE_POSTGRES=1``
(set by ``.ci/run`` on a machine that has them) they fail instead, so CI cannot pass by skipping.

The suite connects as an ordinary role that owns its databases (as a deployment should), not as
the superuser, so the row-level security of migration 0002 is in force in every PostgreSQL test.
pytest-postgresql's ``DatabaseJanitor`` creates and drops the databases; its own server fixture
is not used because it runs ``initdb`` as the current user, which PostgreSQL refuses for root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from councilbot.storage.migrations import upgrade
from councilbot.storage.port import Backend
from councilbot.storage.postgres import open_postgres
from councilbot.storage.tiny import TinyBackend

APP_ROLE = "councilbot_app"


def pg_bin() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``COUNCILBOT_PG_BIN`` if set (only there), else the
    newest under /usr/lib/postgresql, else the PATH."""
    if os.environ.get("COUNCILBOT_PG_BIN"):
        chosen = Path(os.environ["COUNCILBOT_PG_BIN"])
        return chosen if (chosen / "initdb").exists() and (chosen / "pg_ctl").exists() else None
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


def unavailable(reason: str) -> None:
    if os.environ.get("COUNCILBOT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason}, and COUNCILBOT_REQUIRE_POSTGRES=1 says the PostgreSQL tests must run", pytrace=False)
    pytest.skip(f"{reason}: the PostgreSQL storage tests are skipped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int

    def url(self, dbname: str, user: str = APP_ROLE) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def janitor(self, dbname: str) -> DatabaseJanitor:
        return DatabaseJanitor(user=APP_ROLE, host=self.host, port=self.port, dbname=dbname)


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


@pytest.fixture(params=["tiny", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "postgres":
        return str(request.getfixturevalue("contract_db"))
    return str(tmp_path / "data")


@pytest.fixture
async def replicas(kind: str, storage_url: str) -> AsyncIterator[Callable[[], Awaitable[Backend]]]:
    """``await replicas()``: one more process's view of the same storage. On PostgreSQL a new
    connection pool (another replica); TinyDB has one writer per data folder by design (the
    DataLock), so there every "replica" is the same backend, shared by concurrent tasks."""
    opened: list[Backend] = []
    shared: list[TinyBackend] = []

    async def make() -> Backend:
        if kind == "postgres":
            backend: Backend = await open_postgres(storage_url, max_size=6)
            opened.append(backend)
            return backend
        if not shared:
            shared.append(TinyBackend(Path(storage_url)))
            opened.append(shared[0])
        return shared[0]

    yield make
    for backend in opened:
        await backend.close()


@pytest.fixture
async def backend(replicas: Callable[[], Awaitable[Backend]]) -> Backend:
    return await replicas()


@pytest.fixture
def council() -> str:
    """A council id of this test's own (the PostgreSQL database is shared by the whole suite)."""
    return f"c-{uuid.uuid4().hex[:12]}"
