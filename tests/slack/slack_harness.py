"""Helpers for the Slack tests: a client that signs requests exactly as Slack does and builds
Slack's payloads, the harness the fixtures hand out, and settings for a real CouncilBot.
(Not in conftest.py: ``from conftest import`` is ambiguous once tests/teams has one too.)"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from councilbot_adapters.slack import SlackAdapter
from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Reply
from fake_slack import Call, FakeSlack

SECRET = "8f14e45fceea167a5a36dedd4bea2543"  # the shape of a real signing secret: `serve` refuses any other
_ids = itertools.count(1)


def sign(body: str, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over "v0:{timestamp}:{raw body}" with the signing secret."""
    ts = int(time.time()) if ts is None else ts
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Answer:
    status: int
    text: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackClient:
    """Plays Slack's side of the HTTP conversation with our /slack/events endpoint."""

    def __init__(self, url: str, fake: FakeSlack) -> None:
        self.url = url
        self.fake = fake
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    async def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None, signed: bool = True,
                   ts: int | None = None, secret: str = SECRET) -> Answer:
        all_headers = {"Content-Type": content_type, **(sign(body, ts, secret) if signed else {}), **(headers or {})}
        start = time.monotonic()
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as resp:
            text = await resp.text()
        return Answer(resp.status, text, time.monotonic() - start)

    # -- the three kinds of request Slack sends

    async def command(self, command: str, text: str = "", user: str = "UCLLR", channel: str = "C1", **kw: Any) -> Answer:
        n = next(_ids)
        body = urlencode({
            "token": "legacy-verification-token", "team_id": "T1", "team_domain": "alsager", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": "A1", "is_enterprise_install": "false", "response_url": self.fake.response_url(f"cmd{n}"),
            "trigger_id": f"trigger.cmd.{n}",
        })
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    async def interact(self, payload: dict[str, Any], **kw: Any) -> Answer:
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw)

    async def event(self, event: dict[str, Any], event_id: str | None = None, *, retry: int | None = None, team: str = "T1",
                    **kw: Any) -> Answer:
        body = json.dumps({
            "token": "legacy", "team_id": team, "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": int(time.time()), "event": event,
        })
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return await self.post(body, "application/json", headers=headers, **kw)

    # -- payload builders

    async def dm(self, text: str, user: str = "UCLLR", event_id: str | None = None, *, extra: dict[str, Any] | None = None, **kw: Any) -> Answer:
        n = next(_ids)
        event = {"type": "message", "channel_type": "im", "channel": "D" + user[1:], "user": user, "text": text,
                 "ts": f"1700000100.{n:06d}", "event_ts": f"1700000100.{n:06d}", **(extra or {})}
        return await self.event(event, event_id, **kw)

    async def press(self, button: dict[str, Any], user: str = "UCLERK", *, channel: str | None = "CCLERK",
                    message_ts: str = "1700000000.000001") -> Answer:
        n = next(_ids)
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": "T1", "domain": "alsager"}, "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "api_app_id": "A1", "trigger_id": f"trigger.act.{n}",
            "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "b", "value": button.get("value", ""),
                         "text": button.get("text"), "action_ts": "1700000200.000000"}],
        }
        if channel:
            payload.update(container={"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
                           channel={"id": channel, "name": "clerk"}, response_url=self.fake.response_url(f"act{n}"),
                           message={"type": "message", "ts": message_ts, "text": ""})
        return await self.interact(payload)

    async def shortcut(self, callback_id: str, text: str, author: str, user: str = "UCLERK", channel: str = "C1",
                       ts: str = "1700000300.000100") -> Answer:
        n = next(_ids)
        return await self.interact({
            "type": "message_action", "callback_id": callback_id, "trigger_id": f"trigger.sc.{n}",
            "team": {"id": "T1", "domain": "alsager"}, "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "channel": {"id": channel, "name": "general"}, "response_url": self.fake.response_url(f"sc{n}"),
            "message_ts": ts, "message": {"type": "message", "user": author, "text": text, "ts": ts},
        })

    async def submit(self, view: dict[str, Any], answers: dict[str, Any], user: str = "UCLLR", **kw: Any) -> Answer:
        """A view_submission for a modal we opened, with ``answers`` typed in (by input name)."""
        return await self.interact(submission(view, answers, user), **kw)


def submission(view: dict[str, Any], answers: dict[str, Any], user: str = "UCLLR") -> dict[str, Any]:
    """The view_submission payload Slack sends for ``view`` with ``answers`` typed in (by input
    name). Build it once and post it twice to play a submission Slack delivers twice."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        answer = answers.get(block["block_id"])
        state: dict[str, Any] = {"type": element["type"]}
        if element["type"] == "plain_text_input":
            state["value"] = answer
        elif element["type"] == "static_select":
            state["selected_option"] = next((o for o in element["options"] if o["value"] == answer), None)
        elif element["type"] in ("checkboxes", "multi_static_select"):
            if answer is True:  # a ticked toggle
                wanted = [element["options"][0]["value"]]
            else:
                wanted = [answer] if isinstance(answer, str) else list(answer or [])
            state["selected_options"] = [o for o in element["options"] if o["value"] in wanted]
        elif element["type"] == "datepicker":
            state["selected_date"] = answer
        elif element["type"] == "file_input":
            state["files"] = answer or []
        values[block["block_id"]] = {element["action_id"]: state}
    return {
        "type": "view_submission", "team": {"id": "T1", "domain": "alsager"},
        "user": {"id": user, "username": user.lower(), "name": user.lower()}, "api_app_id": "A1",
        "trigger_id": f"trigger.sub.{next(_ids)}",
        "view": {**view, "id": view.get("id", "V1"), "hash": view.get("hash", "h1"), "state": {"values": values}},
        "response_urls": [],
    }


# Someone who only ever sends markers: a test about to assert that something did NOT happen first
# waits for a positive signal that everything before it has been dealt with (``quiet``).
MARKER = "UMARK"
MARKER_CHANNELS = ("DMARK", MARKER)  # the marker's DM with the bot; the outbox's posts to the marker


def unmarked(calls: list[Call]) -> list[Call]:
    """What was said to anyone but the marker."""
    return [c for c in calls if c.data.get("channel") not in MARKER_CHANNELS]


async def unmarked_events(bot: CouncilBot) -> list[dict[str, Any]]:
    """The delivery ids the core has claimed, but the marker's."""
    return [e for e in (await bot.store.find("events")) if not str(e["id"]).startswith(f"slack:{MARKER}:")]


async def quiet(client: SlackClient, bot: CouncilBot, adapter: SlackAdapter, timeout: float = 10.0) -> None:
    """Return once everything Slack sent before now has been dealt with, so that asserting that
    something did not happen means something (a fixed sleep passes vacuously on a slow machine).
    The signals: a marker DM has been answered (the adapter answers after the ack, one request at a
    time, in order); a marker queued in the outbox now has reached Slack (each platform's deliveries
    go out one at a time, oldest first); and no reply is still on its way."""
    fake = client.fake
    n = next(_ids)
    answered = len(fake.of("chat.postMessage", channel="DMARK"))
    answer = await client.dm(f"may I post: quiet marker {n}", user=MARKER, event_id=f"EvMARK{n}")
    assert answer.status == 200, answer
    await bot.outbox.send(f"marker-{n}", f"slack:{MARKER}", Reply(text=f"quiet marker {n}"))
    await fake.wait_for("chat.postMessage", count=answered + 1, channel="DMARK", timeout=timeout)
    await fake.wait_for("chat.postMessage", channel=MARKER, timeout=timeout, where=lambda c: f"quiet marker {n}" in json.dumps(c.data))
    end = time.monotonic() + timeout
    while adapter.answering or adapter.tasks:
        assert time.monotonic() < end, "the Slack adapter still had work after the markers"
        await asyncio.sleep(0.01)


@dataclass
class Harness:
    slack: SlackClient
    fake: FakeSlack
    bot: CouncilBot
    adapter: SlackAdapter

    async def quiet(self) -> None:
        """See ``quiet``: wait for a positive signal before asserting that nothing happened."""
        await quiet(self.slack, self.bot, self.adapter)


def make_settings(tmp_path: Path, api_url: str) -> Settings:
    return Settings(
        council="alsager", data_dir=tmp_path,
        people={"slack:UCLERK": "clerk", "slack:UCLLR": "councillor"},
        slack={"clerk_channel": "CCLERK", "api_url": api_url, "bot_token": "xoxb-test", "signing_secret": SECRET},
    )


def texts(call_data: dict[str, Any]) -> str:
    """Everything a person would read in a posted message or view, for assertions."""
    return json.dumps(call_data.get("blocks") or call_data.get("view") or call_data, ensure_ascii=False) + (call_data.get("text") or "")
