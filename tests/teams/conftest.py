"""A real CouncilBot behind the real Teams adapter on 127.0.0.1, and a fake Bot Connector."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))

from fake_connector import FakeConnector
from teams_helpers import Teams, make_settings

from councilbot.deployment import Deployment
from councilbot.config import Settings

ServeFactory = Callable[..., Any]


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def serve(connector: FakeConnector) -> AsyncIterator[ServeFactory]:
    """Start CouncilBot + the Teams adapter on 127.0.0.1 (callable more than once: a restart)."""
    from councilbot_adapters.teams import mount
    from councilbot.app import CouncilBot

    running: list[tuple[web.AppRunner, Any, aiohttp.ClientSession]] = []

    async def start(settings: Settings) -> Teams:
        bot = CouncilBot.from_settings(settings)
        app = web.Application()
        mount(app, Deployment.of(bot))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await bot.start()
        session = aiohttp.ClientSession()
        running.append((runner, bot, session))
        return Teams(f"http://127.0.0.1:{port}", connector, bot, app, session)

    async def stop_all() -> None:
        while running:
            runner, bot, session = running.pop()
            await session.close()
            await runner.cleanup()
            await bot.stop()

    start.stop_all = stop_all  # type: ignore[attr-defined]
    yield start
    await stop_all()


@pytest.fixture
async def teams(serve: ServeFactory, tmp_path: Path) -> Teams:
    return await serve(make_settings(tmp_path))
