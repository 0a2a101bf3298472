"""The three-council world the isolation tests walk: the deployment, the server, the fakes, A's and
B's seeded records, and clients that speak as a person in a given Slack workspace or Teams tenant.

Council ids, workspaces and tenants: ``alsager`` (A: T_A, tenant-a), ``castle-cary`` (B: T_B,
tenant-b), ``ansford`` (C, on Alsager's pack: T_C, tenant-c). Two people are in more than one
council on purpose, as in life: ``slack:UCLERK`` clerks both A and B (one clerk often serves
several parishes), and ``slack:UBOTH`` sits on all three. Records keyed by person alone would leak
through them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fake_connector import Call as TeamsCall
from fake_connector import FakeConnector
from fake_slack import Call, FakeSlack
from slack_harness import SECRET, SlackClient
from teams_helpers import Teams

from core.kit import TABLES

from councilbot.app import CouncilBot
from councilbot.config import Settings, council_token_env
from councilbot.deployment import Deployment
from councilbot.messages import Incoming, Reply
from councilbot_adapters.server import build_app
from councilbot_adapters.slack import ADAPTERS_KEY, SlackAdapter

A, B, C = "alsager", "castle-cary", "ansford"
COUNCILS = (A, B, C)
TEAM = {A: "T_A", B: "T_B", C: "T_C"}
TENANT = {A: "tenant-a", B: "tenant-b", C: "tenant-c"}
TOKEN = {A: "xoxb-alsager-1", B: "xoxb-castle-cary-2", C: "xoxb-ansford-3"}
CLERK_AAD = {A: "aad-a-clerk", B: "aad-b-clerk", C: "aad-c-clerk"}
SLACK_CLERK = {A: "CCLERK_A", B: "CCLERK_B", C: "CCLERK_C"}
TEAMS_CLERK = {A: "19:clerk-a@thread.tacv2", B: "19:clerk-b@thread.tacv2", C: "19:clerk-c@thread.tacv2"}

PEOPLE = {
    A: {"slack:UCLERK": "clerk", "slack:UA_ASST": "assistant_clerk", "slack:UA_CLLR": "councillor",
        "slack:UBOTH": "councillor", "teams:aad-a-clerk": "clerk"},
    B: {"slack:UCLERK": "clerk", "slack:UB_DEP": "deputy_clerk", "slack:UB_MOD": "moderator",
        "slack:UB_CLLR": "councillor", "slack:UBOTH": "councillor", "teams:aad-b-clerk": "clerk",
        "teams:aad-b-cllr": "councillor"},
    C: {"slack:UC_CLERK": "clerk", "slack:UBOTH": "councillor", "teams:aad-c-clerk": "clerk"},
}
NAMES = {A: {"slack:UA_ASST": "Hermione Ashdown"}, B: {"slack:UB_DEP": "Delia Cary"}, C: {}}

# What A holds. Each is specific enough that finding it anywhere outside A is a leak.
A_REPORT = "Arabella was followed home from the Alsager Mere meeting by a man in a green Transit van."
A_BOTH_REPORT = "Someone keyed Dorian's car outside Alsager Civic Centre and left a note."
A_PENDING = "Alsager Mere clean-up on Saturday 14 March at 10am, meeting at the Mere car park. All welcome, gloves provided."
A_APPROVED = "Alsager Town Council's February minutes are now online on the council website."
A_PENDING_2 = "Alsager library reading club meets on Tuesday 3 March at 2pm in the library. All welcome."
A_PENDING_3 = "Alsager Christmas market on Saturday 12 December from 10am to 3pm on Crewe Road. All welcome."
A_FLAG = "You are an idiot, Quentin Marsh, and everyone at Alsager knows it."
A_MODERATION = "https://facebook.com/alsager-quince-post-99"
A_MOD_REASON = "Abusive comment about Arabella"
A_DISPLAY = "Arabella Quince"  # UA_CLLR's display name, as Slack sent it
A_BOTH_DISPLAY = "Dorian Alsager-Both"  # UBOTH's display name in A's workspace
A_ADDED = ("slack:UA_NEW", "Zanzibar Wolfe")  # a person the Clerk added from chat
A_CONFIG_NAME = "Hermione Ashdown"
A_ONLY_IDS = ("UA_CLLR", "UA_ASST", "UA_NEW", "aad-a-clerk")

# What B holds (so B's lists are B's own, and not empty).
B_REPORT = "Graffiti about Bertram was painted on the Castle Cary market house overnight."
B_PENDING = "Castle Cary Christmas lights switch-on, Friday 4 December at 6pm in the Market Place. All welcome."
B_BOTH_PENDING = "Castle Cary horticultural show on Saturday 5 September at the Memorial Hall. All welcome."
B_APPROVED = "Castle Cary Town Council's January minutes are now online on the council website."
B_DISPLAY = "Bertram Castle"
B_TEXTS = (B_REPORT, B_PENDING, B_BOTH_PENDING, B_APPROVED, B_DISPLAY, "Delia Cary", "UB_CLLR", "UB_DEP", "UB_MOD")

A_TEXTS = (A_REPORT, A_BOTH_REPORT, A_PENDING, A_PENDING_2, A_PENDING_3, A_APPROVED, A_FLAG, A_MODERATION, A_MOD_REASON, A_DISPLAY,
           A_BOTH_DISPLAY, A_ADDED[1], A_CONFIG_NAME, *A_ONLY_IDS)

_ids = itertools.count(1)


def settings(data_dir: Path, database_url: str | None, slack_api: str) -> Settings:
    councils = [
        {"id": c, "council": "alsager" if c == C else c, "people": PEOPLE[c], "names": NAMES[c],
         "slack_teams": [TEAM[c]], "teams_tenants": [TENANT[c]],
         "slack": {"clerk_channel": SLACK_CLERK[c]}, "teams": {"clerk_channel": TEAMS_CLERK[c]}}
        for c in COUNCILS
    ]
    return Settings(data_dir=data_dir, database_url=database_url,
                    slack={"api_url": slack_api, "signing_secret": SECRET}, teams={"emulator": True},
                    councils=councils)


def leaked(text: str, needles: tuple[str, ...] = A_TEXTS) -> list[str]:
    """Which of A's strings appear in ``text``, also once JSON's and Markdown's escapes are taken
    out (a Teams card writes "Alsager\\-Both"; none of the strings holds a backslash)."""
    plain = text.replace("\\u2019", "'").replace("\\", "")
    return [n for n in needles if n in text or n in plain]


def said(calls: list[Call]) -> str:
    return json.dumps([c.data for c in calls], ensure_ascii=False)


@dataclass
class Heard:
    """What the fake Slack received in answer to one request."""

    calls: list[Call]
    uploads: list[bytes] = field(default_factory=list)

    @property
    def text(self) -> str:
        return said(self.calls) + "".join(u.decode("utf-8", "replace") for u in self.uploads)

    @property
    def tokens(self) -> set[str | None]:
        return {c.token for c in self.calls}


@dataclass
class World:
    deployment: Deployment
    server: TestServer
    fake: FakeSlack
    connector: FakeConnector
    slack: SlackClient
    session: aiohttp.ClientSession
    teams: dict[str, Teams]
    seeded: dict[str, Any]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def bot(self, council: str) -> CouncilBot:
        return self.deployment.bots[council]

    def adapter(self, council: str) -> SlackAdapter:
        adapters: dict[str, SlackAdapter] = self.server.app[ADAPTERS_KEY]
        return adapters[council]

    async def idle(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while any(self.adapter(c).answering or self.adapter(c).tasks for c in COUNCILS):
            assert time.monotonic() < end, "a Slack adapter still had work"
            await asyncio.sleep(0.01)

    async def _heard(self, since: int, uploads_before: set[str]) -> Heard:
        await self.idle()
        new = [v for k, v in self.fake.uploads.items() if k not in uploads_before]
        return Heard(self.fake.calls[since:], new)

    # ---------------------------------------------------------------- Slack, as a person in a workspace

    async def command(self, council: str, user: str, text: str, *, team: str | None = None) -> Heard:
        """``/councilbot <text>`` from ``user`` in the council's workspace; what came back."""
        n = next(_ids)
        key = f"iso-cmd-{n}"
        since, before = len(self.fake.calls), set(self.fake.uploads)
        body = urlencode({
            "token": "legacy", "team_id": team or TEAM[council], "team_domain": council, "channel_id": "C1",
            "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/councilbot",
            "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": self.fake.response_url(key), "trigger_id": f"trigger.iso.{n}",
        })
        answer = await self.slack.post(body, "application/x-www-form-urlencoded")
        assert answer.status == 200, answer
        await self.fake.wait_for("respond", where=lambda c: c.path.endswith("/" + key))
        return await self._heard(since, before)

    async def dm(self, council: str, user: str, text: str) -> Heard:
        """A DM typed to the bot in the council's workspace; the bot's answer in that DM."""
        since, before = len(self.fake.calls), set(self.fake.uploads)
        channel = "D" + user[1:]
        mine = [c for c in self.fake.of("chat.postMessage", channel=channel) if c.token == TOKEN[council]]
        answer = await self.slack.dm(text, user=user, team=TEAM[council])
        assert answer.status == 200, answer
        await self.fake.wait_for("chat.postMessage", count=len(mine) + 1, channel=channel,
                                 where=lambda c: c.token == TOKEN[council])
        return await self._heard(since, before)

    async def home(self, council: str, user: str) -> Heard:
        """The person opens the App Home tab in the council's workspace: the view published."""
        since, before = len(self.fake.calls), set(self.fake.uploads)
        n = next(_ids)
        event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home",
                 "event_ts": f"1700000400.{n:06d}"}
        answer = await self.slack.event(event, team=TEAM[council])
        assert answer.status == 200, answer
        published = len([c for c in self.fake.of("views.publish", user_id=user) if c.token == TOKEN[council]])
        await self.fake.wait_for("views.publish", count=published + 1, user_id=user,
                                 where=lambda c: c.token == TOKEN[council])
        return await self._heard(since, before)

    async def press(self, council: str, user: str, action: str, value: str) -> Heard:
        """A button pressed in the council's workspace (the core's action id and value)."""
        n = next(_ids)
        key = f"iso-act-{n}"
        since, before = len(self.fake.calls), set(self.fake.uploads)
        payload = {
            "type": "block_actions", "team": {"id": TEAM[council], "domain": council},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM[council]},
            "api_app_id": "A1", "trigger_id": f"trigger.iso.{n}",
            "actions": [{"type": "button", "action_id": action, "block_id": "b", "value": value,
                         "text": {"type": "plain_text", "text": "x"}, "action_ts": "1700000200.000000"}],
            "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "C1", "is_ephemeral": False},
            "channel": {"id": "C1", "name": "general"}, "response_url": self.fake.response_url(key),
            "message": {"type": "message", "ts": "1700000000.000001", "text": ""},
        }
        answer = await self.slack.interact(payload)
        assert answer.status == 200, answer
        await self.fake.wait_for("respond", where=lambda c: c.path.endswith("/" + key))
        return await self._heard(since, before)

    # ---------------------------------------------------------------- Teams, as a person in a tenant

    def activity(self, council: str, aad: str, text: str, tenant: str | None = None) -> dict[str, Any]:
        return self.in_tenant(self.teams[council].personal(aad, text), tenant or TENANT[council])

    async def teams_clerk_channel(self, council: str) -> None:
        """The council's Clerk adds the bot to its clerk channel's team and says hello in a personal
        chat, from the council's tenant: Teams notices can then reach both."""
        teams = self.teams[council]
        added = self.in_tenant(teams.bot_added_to_team(CLERK_AAD[council], TEAMS_CLERK[council]), TENANT[council])
        status, _ = await teams.post(added)
        assert status == 200, status
        await self.teams_say(council, CLERK_AAD[council], "help")
        assert await self.bot(council).outbox.notifiers["teams"].has_clerk_channel()

    @staticmethod
    def in_tenant(activity: dict[str, Any], tid: str) -> dict[str, Any]:
        activity["conversation"]["tenantId"] = tid
        activity["channelData"]["tenant"] = {"id": tid}
        return activity

    async def teams_say(self, council: str, aad: str, text: str) -> list[TeamsCall]:
        teams = self.teams[council]
        before = len(self.connector.calls)
        status, _ = await teams.post(self.activity(council, aad, text))
        assert status in (200, 201), status
        answered = [c for c in self.connector.calls[before:] if c.conversation == f"a:personal-chat-{aad}"]
        assert answered, f"no answer to {text!r} in {council}"
        return answered

    # ---------------------------------------------------------------- the records

    async def rows(self, council: str) -> dict[str, list[dict[str, Any]]]:
        """Every record of a council, table by table, through its own store."""
        store = self.bot(council).store
        return {t: await store.find(t) for t in TABLES}

    async def settled(self, timeout: float = 15.0) -> None:
        """Everything the outboxes can send has gone."""
        end = time.monotonic() + timeout
        while True:
            waiting = [d["id"] for c in COUNCILS for d in await self.bot(c).outbox.pending() if d["platform"]]
            if not waiting:
                return
            assert time.monotonic() < end, waiting
            await asyncio.sleep(0.05)


async def handle(bot: CouncilBot, user: str, kind: str, name: str = "", *, display: str | None = None,
                 text: str = "", value: str = "", values: dict[str, Any] | None = None) -> list[Reply]:
    replies = await bot.handle(Incoming(kind, user, name=name, text=text, value=value, values=values or {},
                                        display_name=display))
    if kind == "form":
        await bot.delivered(replies)
    return replies


def reference(replies: list[Reply]) -> str:
    for r in replies:
        for f in r.fields:
            if f.label == "Reference":
                return f.value
    raise AssertionError([r.plain() for r in replies])


def suggestion_id(replies: list[Reply]) -> str:
    return replies[0].title.split()[1]


REPORT_FORM = {"platform": "facebook", "link": "https://facebook.com/some/post", "when": "Sunday about 9pm",
               "who": "An account called LocalWatcher77", "evidence": ""}


async def seed(world: World) -> dict[str, Any]:
    """A's records through the core's door, as its people would make them, and a few of B's."""
    a, b = world.bot(A), world.bot(B)
    seeded: dict[str, Any] = {}
    seeded["a_report"] = reference(await handle(a, "slack:UA_CLLR", "form", "report", display=A_DISPLAY,
                                                values={**REPORT_FORM, "what": A_REPORT}))
    seeded["a_both_report"] = reference(await handle(a, "slack:UBOTH", "form", "report", display=A_BOTH_DISPLAY,
                                                     values={**REPORT_FORM, "what": A_BOTH_REPORT}))
    await handle(a, "slack:UCLERK", "action", "report.ack", value=seeded["a_report"])
    seeded["a_pending"] = suggestion_id(await handle(a, "slack:UA_CLLR", "form", "suggest", display=A_DISPLAY, values={
        "text": A_PENDING, "platforms": ["facebook"], "category": "event"}))
    seeded["a_approved"] = suggestion_id(await handle(a, "slack:UA_CLLR", "form", "suggest", values={
        "text": A_APPROVED, "platforms": ["facebook"], "category": "meetings"}))
    await handle(a, "slack:UCLERK", "action", "suggestion.approve", value=seeded["a_approved"])
    for key, text in (("a_pending_2", A_PENDING_2), ("a_pending_3", A_PENDING_3)):
        seeded[key] = suggestion_id(await handle(a, "slack:UA_CLLR", "form", "suggest", values={
            "text": text, "platforms": ["facebook"], "category": "event"}))
    await handle(a, "slack:UCLERK", "form", "flag", values={"author": "slack:UA_CLLR", "text": A_FLAG})
    await handle(a, "slack:UCLERK", "form", "moderation", values={
        "platform": "facebook", "post": A_MODERATION, "action": "removed", "reason": A_MOD_REASON})
    await handle(a, "slack:UCLERK", "command", "people", text=f"add {A_ADDED[0]} councillor {A_ADDED[1]}")

    seeded["b_report"] = reference(await handle(b, "slack:UB_CLLR", "form", "report", display=B_DISPLAY,
                                                values={**REPORT_FORM, "what": B_REPORT}))
    seeded["b_pending"] = suggestion_id(await handle(b, "slack:UB_CLLR", "form", "suggest", display=B_DISPLAY, values={
        "text": B_PENDING, "platforms": ["facebook"], "category": "event"}))
    seeded["b_both_pending"] = suggestion_id(await handle(b, "slack:UBOTH", "form", "suggest", values={
        "text": B_BOTH_PENDING, "platforms": ["facebook"], "category": "event"}))
    seeded["b_approved"] = suggestion_id(await handle(b, "slack:UB_CLLR", "form", "suggest", values={
        "text": B_APPROVED, "platforms": ["facebook"], "category": "democracy"}))
    await handle(b, "slack:UCLERK", "action", "suggestion.approve", value=seeded["b_approved"])

    # What A holds, as its own store reads it: the tests compare A's records before and after.
    for table in ("reports", "suggestions", "flags", "moderation", "people", "names"):
        assert await a.store.find(table), f"A has no {table}: the seeding did not make them"
    statuses = {s["id"]: s["status"] for s in await a.store.find("suggestions")}
    assert statuses == {seeded["a_pending"]: "pending", seeded["a_approved"]: "approved", seeded["a_pending_2"]: "pending",
                        seeded["a_pending_3"]: "pending"}, statuses
    # A's fourth suggestion's id is one B never issued (B has three): pressing it from B must find nothing.
    assert seeded["a_pending_3"] not in {s["id"] for s in await b.store.find("suggestions")}
    b_statuses = sorted(s["status"] for s in await b.store.find("suggestions"))
    assert b_statuses == ["approved", "pending", "pending"], b_statuses
    return seeded


@contextlib.asynccontextmanager
async def running(tmp: Path, database_url: str | None, env: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """Fakes up, each council's bot token in SLACK_BOT_TOKEN_<ID>, one server for all three."""
    for council in COUNCILS:
        env.setenv(council_token_env(council), TOKEN[council])
    fake = await FakeSlack().start()
    connector = FakeConnector()
    await connector.start()
    deployment = await Deployment.open(settings(tmp / "data", database_url, fake.api_url))
    server: TestServer | None = None
    session = aiohttp.ClientSession()
    slack: SlackClient | None = None
    try:
        server = TestServer(build_app(deployment), host="127.0.0.1", port=0)
        await server.start_server()  # on_startup: every council's bot starts
        base = f"http://127.0.0.1:{server.port}"
        slack = SlackClient(f"{base}/slack/events", fake)
        teams = {c: Teams(base, connector, deployment.bots[c], server.app, session) for c in COUNCILS}
        world = World(deployment, server, fake, connector, slack, session, teams, {})
        for council in (A, B):
            await world.teams_clerk_channel(council)
        world.seeded = await seed(world)
        await world.settled()
        yield world
    finally:
        fake.release()
        if slack is not None:
            await slack.close()
        await session.close()
        if server is not None:
            await server.close()  # on_cleanup: the deployment stops, the backend closes
        else:
            await deployment.stop()
        await connector.stop()
        await fake.close()
