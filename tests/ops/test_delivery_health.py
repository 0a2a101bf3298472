"""Readiness that means something (issue 10, section 4): /readyz stays "can take requests", and
GET /healthz/delivery (and /metrics) says when what was promised is not going out: Slack down,
notices waiting longer than the threshold -> 503 with the oldest age and depth per platform; Slack
back -> 200. Also the event loop's lag probe: a stall on the loop shows in /metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from fake_slack import FakeSlack

from councilbot.config import ConfigError, load_settings
from councilbot.messages import Incoming

from .stack import running

THRESHOLD = 0.5  # seconds; the default is 300


class DownSlack(FakeSlack):
    """The fake Web API, answering 500 to everything but auth.test while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def _api(self, request: web.Request) -> web.Response:
        if self.down and request.match_info["method"] != "auth.test":
            await request.read()
            return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        return await super()._api(request)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.1)


async def test_delivery_health_turns_503_while_slack_is_down_and_200_after(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("councilbot.outbox.MAX_BACKOFF", 0.5)  # recovery within a second here
    fake = DownSlack()
    async with running(tmp_path, fake=fake) as stack:
        await stack.teams_clerk_channel()
        await stack.settle()
        stack.bot.settings = stack.bot.settings.model_copy(update={"delivery_alert_seconds": THRESHOLD})
        status, body = await stack.request("GET", "/healthz/delivery")
        assert status == 200 and json.loads(body)["healthy"] is True, body

        fake.down = True
        replies = await stack.bot.handle(Incoming("form", "slack:URES", name="report",
                                                  values={"what": "abuse on Facebook", "when": "today"}))
        assert replies and "received" in replies[0].title
        await stack.bot.delivered(replies)  # shown to the reporter, as an adapter would: its held copy goes
        waiting = [d for d in await stack.bot.outbox.pending() if d["platform"] == "slack"]
        assert len(waiting) >= 2, waiting  # the Clerk's copy and the channel notice, at least

        async def stale() -> bool:  # Slack's notices late; Teams' delivered (it may take a moment under load)
            status, raw = await stack.request("GET", "/healthz/delivery")
            return status == 503 and json.loads(raw)["platforms"]["teams"]["depth"] == 0

        await _until(stale)
        status, raw = await stack.request("GET", "/healthz/delivery")
        body = json.loads(raw)
        assert status == 503 and body["healthy"] is False and body["threshold_seconds"] == THRESHOLD, body
        slack = body["platforms"]["slack"]
        assert slack["depth"] >= 2 and slack["oldest_seconds"] > THRESHOLD, body
        assert body["platforms"]["teams"] == {"depth": 0, "oldest_seconds": 0.0}, body  # Teams delivered
        status, ready = await stack.request("GET", "/readyz")
        assert status == 200 and json.loads(ready)["ready"] is True  # still takes requests

        sample = await stack.metrics()
        assert sample['councilbot_outbox_platform_depth{platform="slack"}'] >= 2
        assert sample['councilbot_outbox_platform_oldest_seconds{platform="slack"}'] > THRESHOLD
        assert sample['councilbot_outbox_platform_depth{platform="teams"}'] == 0
        assert sample["councilbot_delivery_healthy"] == 0
        assert sample["councilbot_delivery_alert_seconds"] == THRESHOLD

        fake.down = False

        async def healed() -> bool:
            status, _ = await stack.request("GET", "/healthz/delivery")
            return status == 200

        await _until(healed)
        status, raw = await stack.request("GET", "/healthz/delivery")
        body = json.loads(raw)
        assert body["healthy"] is True and body["platforms"]["slack"] == {"depth": 0, "oldest_seconds": 0.0}, body
        sample = await stack.metrics()
        assert sample["councilbot_delivery_healthy"] == 1
        assert sample['councilbot_outbox_platform_depth{platform="slack"}'] == 0


async def test_a_stall_on_the_event_loop_shows_in_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("councilbot.metrics.LAG_SAMPLE_SECONDS", 0.05)
    async with running(tmp_path) as stack:
        await asyncio.sleep(0.2)  # the probe has sampled
        time.sleep(0.4)  # a blocking call on the loop: every request waits behind it  # noqa: ASYNC251
        await asyncio.sleep(0.2)
        sample = await stack.metrics()
        assert sample["councilbot_event_loop_lag_seconds"] >= 0.3, sample["councilbot_event_loop_lag_seconds"]


def test_the_delivery_threshold_must_be_positive(tmp_path: Path) -> None:
    config = tmp_path / "councilbot.toml"
    config.write_text("delivery_alert_seconds = 0\n")
    with pytest.raises(ConfigError, match="delivery_alert_seconds"):
        load_settings(config)
    config.write_text("delivery_alert_seconds = 120\n")
    assert load_settings(config).delivery_alert_seconds == 120
