"""The whole server as it runs in production, on 127.0.0.1: ``councilbot_adapters.server.build_app(deployment)``
with a real CouncilBot, Slack pointed at a fake Web API and Teams in local no-auth mode against a
fake Bot Connector. Shared by the robustness tests in this folder.

Also: which fields a stored record must have (the "no partial record" checks), and a reader for
``GET /metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import aiohttp
from aiohttp.test_utils import TestServer

from fake_connector import FakeConnector
from fake_slack import FakeSlack
from slack_harness import SECRET, SlackClient, quiet
from slack_harness import unmarked_events as slack_unmarked_events
from teams_helpers import CLERK_CHANNEL, Teams
from teams_helpers import MARKER as TEAMS_MARKER

from councilbot.deployment import Deployment
from councilbot_adapters.server import build_app
from councilbot_adapters.slack import ADAPTER_KEY
from councilbot.app import CouncilBot
from councilbot.config import Settings

SLACK_CLERK_CHANNEL = "CCLERK"
PEOPLE = {
    "slack:UCLERK": "clerk", "slack:UCLLR": "councillor",
    "teams:aad-clerk": "clerk", "teams:aad-cllr": "councillor",
}
CLERKS = ("slack:UCLERK", "teams:aad-clerk")  # Alsager: reports go to the Clerk (one on each platform)


def settings(data_dir: Path, slack_api_url: str) -> Settings:
    return Settings(
        council="alsager", data_dir=data_dir, people=PEOPLE,
        slack={"clerk_channel": SLACK_CLERK_CHANNEL, "api_url": slack_api_url, "bot_token": "xoxb-test",
               "signing_secret": SECRET},
        teams={"clerk_channel": CLERK_CHANNEL, "emulator": True},  # no app id: local no-auth mode (127.0.0.1 only)
    )


def sign_bytes(body: bytes, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (the harness's ``sign`` takes text)."""
    ts = int(time.time()) if ts is None else ts
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Stack:
    bot: CouncilBot
    server: TestServer
    fake: FakeSlack
    connector: FakeConnector
    slack: SlackClient
    teams: Teams
    session: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def request(self, method: str, path: str, *, data: bytes | None = None,
                      headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
        async with self.session.request(method, self.base + path, data=data, headers=headers or {},
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            return resp.status, await resp.read()

    async def healthy(self) -> bool:
        status, body = await self.request("GET", "/healthz", timeout=5)
        return status == 200 and b'"ok"' in body

    async def metrics(self) -> dict[str, float]:
        status, body = await self.request("GET", "/metrics")
        assert status == 200, status
        return parse_metrics(body.decode())

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until the outbox worker has nothing left to send (never a second delivery pass
        beside the worker: that could itself send an item twice)."""
        end = time.monotonic() + timeout
        while await self.bot.outbox.depth() and time.monotonic() < end:
            await asyncio.sleep(0.05)
        assert await self.bot.outbox.depth() == 0, [(d["id"], d["attempts"], d["error"]) for d in await self.bot.outbox.pending()]
        await asyncio.sleep(0.1)

    async def quiet(self, timeout: float = 10.0) -> None:
        """Positive signals, on both platforms, that everything before now has been dealt with,
        for a test about to assert that something did not happen (a duplicate, a stray message):
        a marker DM answered by the Slack adapter, markers through the outbox delivered to Slack
        and to Teams, no Slack reply in flight. (``slack_harness.quiet``, ``Teams.quiet``.)"""
        await quiet(self.slack, self.bot, self.server.app[ADAPTER_KEY], timeout)
        await self.teams.quiet(timeout)

    async def teams_clerk_channel(self) -> None:
        """Teams learns the clerk channel when the bot is added to its team, and the Clerk's
        personal chat when the Clerk first writes: then notices can reach both."""
        status, _ = await self.teams.post(self.teams.bot_added_to_team("aad-clerk"))
        assert status == 200, status
        status, _ = await self.teams.post(self.teams.personal("aad-clerk", "help"))
        assert status == 200, status
        assert await self.bot.outbox.notifiers["teams"].has_clerk_channel()


async def unmarked_events(bot: CouncilBot) -> list[dict[str, Any]]:
    """The delivery ids the core has claimed, but those of ``Stack.quiet``'s markers."""
    return [e for e in await slack_unmarked_events(bot) if not str(e["id"]).startswith(f"teams:{TEAMS_MARKER}:")]


@contextlib.asynccontextmanager
async def running(tmp_path: Path, fake: FakeSlack | None = None,
                  connector: FakeConnector | None = None) -> AsyncIterator[Stack]:
    """Fakes, bot and server up; everything down again afterwards (the bot's outbox flushed)."""
    fake = fake or FakeSlack()
    connector = connector or FakeConnector()
    await fake.start()
    await connector.start()
    bot = CouncilBot.from_settings(settings(tmp_path / "data", fake.api_url))
    app = build_app(Deployment.of(bot))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()  # on_startup: bot.start()
    base = f"http://127.0.0.1:{server.port}"
    session = aiohttp.ClientSession()
    teams = Teams(base, connector, bot, app, session)
    slack = SlackClient(f"{base}/slack/events", fake)
    try:
        yield Stack(bot, server, fake, connector, slack, teams, session)
    finally:
        fake.release()
        await slack.close()
        await session.close()
        await server.close()  # on_cleanup: the Slack adapter drains, bot.stop() flushes the outbox
        await connector.stop()
        await fake.close()


T = TypeVar("T")


class Served:
    """The stack on its own event loop in a background thread. Hypothesis runs a property as a
    plain function, example after example; this lets it drive the live server (``run``) and
    lets the test check the stored records before and after the whole run."""

    def __init__(self, tmp_path: Path, **kw: Any) -> None:
        self._cm = running(tmp_path, **kw)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ops-server", daemon=True)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Self:
        self._thread.start()
        self.stack: Stack = self.run(self._cm.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._cm.__aexit__(None, None, None))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@contextlib.contextmanager
def logged_errors() -> Iterator[list[logging.LogRecord]]:
    """Every ERROR (or worse) logged anywhere in the process while the block runs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield records
    finally:
        root.removeHandler(handler)


def described(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:200]}" for r in records]


# ---------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {name: value summed over labels} plus {name{labels}: value}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match or line.startswith("#"):
            continue
        name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
        out[name] = out.get(name, 0.0) + value
        if labels:
            out[name + labels] = value
    return out


# ---------------------------------------------------------------- records

REPORT_FIELDS = {
    "id": str, "reporter": str, "created": str, "status": str, "urgent": bool, "what": str, "platform": str,
    "link": str, "when": str, "who": str, "evidence": list, "recipients": list, "excluded": list, "notes": list,
    "due": str, "notices_queued": bool,
}
SUGGESTION_FIELDS = {
    "id": str, "submitter": str, "created": str, "version": int, "decisions": list, "status": str,
    "notices_queued": bool, "text": str, "platforms": list, "category": str, "has_image": bool, "verdict": str,
    "findings": list,
}
OUTBOX_FIELDS = {"id": str, "op": str, "platform": str, "reply": dict, "status": str, "attempts": int,
                 "created": str, "next_at": str}
DRAFT_FIELDS = {"id": str, "user": str, "text": str}


def incomplete(doc: dict[str, Any], fields: dict[str, type]) -> list[str]:
    """What is missing or of the wrong type in a stored record (empty: the record is whole)."""
    return [f"{name}: {type(doc.get(name)).__name__}" for name, kind in fields.items()
            if name not in doc or not isinstance(doc[name], kind)]


async def check_records(bot: CouncilBot) -> dict[str, int]:
    """Every stored report, suggestion, draft and outbox item is complete and consistent: a report
    or suggestion exists with its notices queued, and each reference issued names a stored record
    (a number taken but no record would be a write that stopped half way). Returns the counts."""
    store = bot.store
    problems: list[str] = []
    reports = await store.find("reports")
    suggestions = await store.find("suggestions")
    outbox = {d["id"]: d for d in await store.find("outbox")}
    for r in reports:
        problems += [f"report {r.get('id')}: {p}" for p in incomplete(r, REPORT_FIELDS)]
        if not re.fullmatch(r"R-\d{4}-\d{4,}", str(r.get("id"))):
            problems.append(f"report id {r.get('id')!r}")
        if r.get("status") not in {"open", "acknowledged", "closed"} or not r.get("what") or not r.get("when"):
            problems.append(f"report {r.get('id')}: status {r.get('status')!r}, what/when empty")
        if not r.get("recipients") or r.get("notices_queued") is not True:
            problems.append(f"report {r.get('id')}: recipients {r.get('recipients')}, notices_queued {r.get('notices_queued')}")
        for recipient in r.get("recipients") or ():
            if not any(k.startswith(f"{r['id']}:notice:{recipient}@") for k in outbox):
                problems.append(f"report {r['id']}: no notice queued for {recipient}")
        if not r.get("excluded") and not any(k.startswith(f"{r['id']}:channel@") for k in outbox):
            problems.append(f"report {r['id']}: no clerk-channel notice queued")
    for s in suggestions:
        problems += [f"suggestion {s.get('id')}: {p}" for p in incomplete(s, SUGGESTION_FIELDS)]
        if s.get("status") not in {"new", "returned", "pending", "escalated", "approved", "rejected", "changes_requested"}:
            problems.append(f"suggestion {s.get('id')}: status {s.get('status')!r}")
        if s.get("status") == "new":  # stored, then neither returned nor sent on: stopped half way
            problems.append(f"suggestion {s.get('id')}: left half-submitted")
        if s.get("status") == "pending" and not any(k.startswith(f"{s['id']}:card:") for k in outbox):
            problems.append(f"suggestion {s.get('id')}: pending but no approval card queued")
        if not s.get("text") or not s.get("platforms"):
            problems.append(f"suggestion {s.get('id')}: empty text or platforms")
    for d in outbox.values():
        problems += [f"outbox {d.get('id')}: {p}" for p in incomplete(d, OUTBOX_FIELDS)]
        if d.get("op") == "send" and not isinstance(d.get("to"), str):
            problems.append(f"outbox {d.get('id')}: no recipient")
    for d in await store.find("drafts"):
        problems += [f"draft {d.get('id')}: {p}" for p in incomplete(d, DRAFT_FIELDS)]
    for counter in await store.find("counters"):
        prefix = str(counter["id"])[:1]
        table = {"R": reports, "S": suggestions}.get(prefix)
        if table is not None:
            issued = {f"{counter['id']}-{n:04d}" for n in range(1, int(counter["value"]) + 1)}
            missing = issued - {str(doc["id"]) for doc in table}
            if missing:
                problems.append(f"references issued without a record: {sorted(missing)}")
    assert not problems, "partial records:\n" + "\n".join(problems)
    return {"reports": len(reports), "suggestions": len(suggestions), "drafts": len(await store.find("drafts")),
            "outbox": len(outbox)}


@contextlib.asynccontextmanager
async def acks_measured(slack: SlackClient) -> AsyncIterator[list[float]]:
    """Signed /checkpost commands, one after another, for as long as the block runs: the seconds
    each took to be acknowledged."""
    seconds: list[float] = []
    stop = asyncio.Event()

    async def ping() -> None:
        while not stop.is_set():
            answer = await slack.command("/checkpost", "Our litter pick is on Saturday at 10am!", user="UCLLR")
            assert answer.status == 200, answer
            seconds.append(answer.seconds)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(ping())
    try:
        yield seconds
    finally:
        stop.set()
        await task
