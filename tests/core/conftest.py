"""Fixtures for the core workflow tests: a movable clock and ``make_bot(tmp_path, council, people)``,
which runs every test on TinyDB and on PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import pytest

from councilbot import clock as clock_module
from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.kinds import Role
from councilbot.storage.port import Backend
from councilbot.storage.postgres import open_postgres

from .kit import CAST, NAMES, START, FakeClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(START)
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


@pytest.fixture(params=["tiny", "postgres"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Every workflow test runs on both stores: TinyDB in the data folder, and PostgreSQL."""
    if request.param == "postgres" and request.node.get_closest_marker("tinydb"):
        pytest.skip("about TinyDB's own files")
    return str(request.param)


@pytest.fixture
async def make_bot(clock: FakeClock, backend_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., CouncilBot]]:
    """``make_bot(tmp_path, council, people, names, **more settings)``: a CouncilBot on ``tmp_path / "data"``
    (TinyDB) or on the suite's PostgreSQL, as a council of its own.

    ``people`` defaults to the whole cast (one person per role). Calling it twice with the same
    ``tmp_path`` opens a second bot on the same records, as a restart would."""
    bots: list[CouncilBot] = []
    backend: Backend | None = None
    if backend_kind == "postgres":
        backend = await open_postgres(str(request.getfixturevalue("contract_db")), max_size=4)

    def factory(tmp_path: Path, council: str = "alsager", people: Mapping[str, Role] | None = None,
                names: Mapping[str, str] | None = None, **more: Any) -> CouncilBot:
        settings = Settings(council=council, data_dir=Path(tmp_path) / "data",
                            people=dict(CAST if people is None else people),
                            names=dict(NAMES if names is None else names), **more)
        if backend is None:
            bot = CouncilBot.from_settings(settings)
        else:  # the same folder is the same council: a second bot on it is a restart
            council_id = "t-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
            bot = CouncilBot(settings, backend, council_id)
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        await bot.stop()
    if backend is not None:
        await backend.close()
