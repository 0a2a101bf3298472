"""One CouncilBot for the same council behind each of its three doors, each driven as a person
would: Slack (signed ``message.im`` events over HTTP, a fake Slack Web API), Teams (Bot Framework
activities over HTTP, a fake Bot Connector) and the terminal (the console session, typed into)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_connector import FakeConnector
from fake_slack import FakeSlack
from slack_harness import SECRET, SlackClient, texts
from teams_helpers import CLERK_CHANNEL, Teams

from councilbot.deployment import Deployment
from councilbot_adapters.console import ConsoleNotifier, Session
from councilbot.app import CouncilBot
from councilbot.config import Settings

COUNCIL = "alsager"


class Door(Protocol):
    """Type as a clerk or a councillor on one platform; read back what that person was shown."""

    platform: str
    bot: CouncilBot

    async def type(self, who: str, text: str) -> str: ...

    def person_id(self, name: str) -> tuple[str, str]:
        """(how the clerk types a new person's id on this platform, the id the core records)."""
        ...


@dataclass
class SlackDoor:
    slack: SlackClient
    fake: FakeSlack
    bot: CouncilBot
    platform: str = "slack"
    users: dict[str, str] = field(default_factory=lambda: {"clerk": "UCLERK", "councillor": "UCLLR"})

    async def type(self, who: str, text: str) -> str:
        user = self.users[who]
        dm = "D" + user[1:]
        before = len(self.fake.of("chat.postMessage", channel=dm))
        answer = await self.slack.dm(text, user=user)
        assert answer.status == 200, answer
        posted = await self.fake.wait_for("chat.postMessage", count=before + 1, channel=dm)
        return "\n".join(texts(call.data) for call in posted[before:])

    def person_id(self, name: str) -> tuple[str, str]:
        user = "U0" + name.upper()
        return f"<@{user}>", f"slack:{user}"  # Slack writes a typed @mention so


@dataclass
class TeamsDoor:
    teams: Teams
    bot: CouncilBot
    platform: str = "teams"
    users: dict[str, str] = field(default_factory=lambda: {"clerk": "aad-clerk", "councillor": "aad-cllr"})

    async def type(self, who: str, text: str) -> str:
        return "\n".join(call.text for call in await self.teams.say(self.users[who], text))

    def person_id(self, name: str) -> tuple[str, str]:
        return f"teams:aad-{name}", f"teams:aad-{name}"


@dataclass
class ConsoleDoor:
    bot: CouncilBot
    platform: str = "console"
    users: dict[str, str] = field(default_factory=lambda: {"clerk": "console:jane", "councillor": "console:sam"})
    shown: list[str] = field(default_factory=list)

    async def type(self, who: str, text: str) -> str:
        # A form asks its questions one by one; a blank answer to the first required one cancels it.
        session = Session(self.bot, self.users[who], read=lambda prompt: "", write=self.shown.append)
        start = len(self.shown)
        assert await session.line(text)
        return "\n".join(self.shown[start:])

    def person_id(self, name: str) -> tuple[str, str]:
        return f"console:{name}", f"console:{name}"


def settings(tmp_path: Path, people: dict[str, str], **platforms: Any) -> Settings:
    return Settings(council=COUNCIL, data_dir=tmp_path / "data", people=people, **platforms)


async def slack_door(tmp_path: Path) -> AsyncIterator[SlackDoor]:
    fake = await FakeSlack().start()
    bot = CouncilBot.from_settings(settings(tmp_path, {"slack:UCLERK": "clerk", "slack:UCLLR": "councillor"}, slack={
        "clerk_channel": "CCLERK", "api_url": fake.api_url, "bot_token": "xoxb-test", "signing_secret": SECRET}))
    await bot.start()
    from councilbot_adapters.slack import mount

    web_app = web.Application()
    mount(web_app, Deployment.of(bot))
    server = TestServer(web_app, host="127.0.0.1", port=0)
    await server.start_server()
    client = SlackClient(f"http://127.0.0.1:{server.port}/slack/events", fake)
    try:
        yield SlackDoor(client, fake, bot)
    finally:
        fake.release()
        await client.close()
        await server.close()
        await bot.stop()
        await fake.close()


async def teams_door(tmp_path: Path) -> AsyncIterator[TeamsDoor]:
    from councilbot_adapters.teams import mount

    connector = FakeConnector()
    await connector.start()
    bot = CouncilBot.from_settings(settings(tmp_path, {"teams:aad-clerk": "clerk", "teams:aad-cllr": "councillor"},
                                            teams={"clerk_channel": CLERK_CHANNEL, "emulator": True}))
    app = web.Application()
    mount(app, Deployment.of(bot))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await bot.start()
    session = aiohttp.ClientSession()
    try:
        yield TeamsDoor(Teams(f"http://127.0.0.1:{port}", connector, bot, app, session), bot)
    finally:
        await session.close()
        await runner.cleanup()
        await bot.stop()
        await connector.stop()


async def console_door(tmp_path: Path) -> AsyncIterator[ConsoleDoor]:
    bot = CouncilBot.from_settings(settings(tmp_path, {"console:jane": "clerk", "console:sam": "councillor"}))
    door = ConsoleDoor(bot)
    bot.outbox.register(ConsoleNotifier(door.shown.append))  # as ``councilbot chat`` does
    await bot.start()
    try:
        yield door
    finally:
        await bot.stop()


DOORS = {"slack": slack_door, "teams": teams_door, "console": console_door}


@pytest.fixture(params=sorted(DOORS))
async def door(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Door]:
    async for opened in DOORS[request.param](tmp_path):
        yield opened
