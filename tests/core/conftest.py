"""Fixtures for the core workflow tests: a movable clock and ``make_bot(tmp_path, council, people)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import pytest

from councilbot import clock as clock_module
from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.kinds import Role

from .kit import CAST, NAMES, START, FakeClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(START)
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


@pytest.fixture
async def make_bot(clock: FakeClock) -> AsyncIterator[Callable[..., CouncilBot]]:
    """``make_bot(tmp_path, council, people, names, **more settings)``: a CouncilBot on ``tmp_path / "data"``.

    ``people`` defaults to the whole cast (one person per role). Calling it twice with the same
    ``tmp_path`` opens a second bot on the same data folder, as a restart would."""
    bots: list[CouncilBot] = []

    def factory(tmp_path: Path, council: str = "alsager", people: Mapping[str, Role] | None = None,
                names: Mapping[str, str] | None = None, **more: Any) -> CouncilBot:
        settings = Settings(council=council, data_dir=Path(tmp_path) / "data",
                            people=dict(CAST if people is None else people),
                            names=dict(NAMES if names is None else names), **more)
        bot = CouncilBot.from_settings(settings)
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        await bot.stop()


