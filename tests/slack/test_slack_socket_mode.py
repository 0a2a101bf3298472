"""Socket Mode: the same listeners over Slack's WebSocket instead of HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from councilbot.deployment import Deployment
from councilbot_adapters.slack import run_socket_mode
from slack_harness import make_settings
from councilbot.app import CouncilBot
from councilbot.config import ConfigError
from fake_slack import FakeSlack


async def test_socket_mode_acks_and_answers(tmp_path: Path, fake: FakeSlack) -> None:
    settings = make_settings(tmp_path, fake.api_url)
    settings = settings.model_copy(update={"slack": settings.slack.model_copy(update={"app_token": SecretStr("xapp-test"), "signing_secret": None})})
    bot = CouncilBot.from_settings(settings)
    await bot.start()
    running = asyncio.create_task(run_socket_mode(Deployment.of(bot)))
    try:
        await fake.wait_for("apps.connections.open")
        fake.envelopes.put_nowait({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {"command": "/checkpost", "text": "Our litter pick is on Saturday!", "user_id": "UCLLR",
                        "user_name": "cllr", "channel_id": "C1", "team_id": "T1", "api_app_id": "A1",
                        "response_url": fake.response_url("sock1"), "trigger_id": "trigger.sock.1"},
        })
        deadline = time.monotonic() + 5
        while not fake.socket_acks and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert [a["envelope_id"] for a in fake.socket_acks] == ["env-1"]
        [answer] = await fake.wait_for("respond")
        assert answer.data["response_type"] == "ephemeral" and "OK to post" in str(answer.data["blocks"])
        assert fake.of("apps.connections.open")[0].token == "xapp-test"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await bot.stop()


async def test_socket_mode_needs_an_app_token(tmp_path: Path, fake: FakeSlack) -> None:
    bot = CouncilBot.from_settings(make_settings(tmp_path, fake.api_url))
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        await run_socket_mode(Deployment.of(bot))
    await bot.stop()
