"""The throwaway PostgreSQL the tests share (fixtures in ``tests/conftest.py``): how to find its
binaries, the ordinary role the bot connects as, and the server's address."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_postgresql.janitor import DatabaseJanitor

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
