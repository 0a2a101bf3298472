"""Fixtures: a fake Slack Web API, and a real CouncilBot behind the Slack adapter on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from councilbot.deployment import Deployment
from councilbot_adapters.slack import ADAPTER_KEY, mount
from councilbot.app import CouncilBot
from fake_slack import FakeSlack
from slack_harness import Harness, SlackClient, make_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.close()


@pytest.fixture
async def harness(tmp_path: Path, fake: FakeSlack) -> AsyncIterator[Harness]:
    bot = CouncilBot.from_settings(make_settings(tmp_path, fake.api_url))
    await bot.start()
    web_app = web.Application()
    mount(web_app, Deployment.of(bot))
    server = TestServer(web_app, host="127.0.0.1", port=0)
    await server.start_server()
    client = SlackClient(f"http://127.0.0.1:{server.port}/slack/events", fake)
    try:
        yield Harness(client, fake, bot, web_app[ADAPTER_KEY])
    finally:
        fake.release()
        await client.close()
        await server.close()  # runs the adapter's cleanup: replies in flight finish
        await bot.stop()
