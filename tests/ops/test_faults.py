"""Downstream faults: the Slack Web API and the Teams Bot Connector answer 500, then 429 with
Retry-After, then hang, for a while each, then recover. Reports and suggestions filed meanwhile
must have every notice delivered exactly once after recovery; while delivery is failing,
GET /metrics must show the outbox depth above 0 and the failure counter rising; afterwards the
depth returns to 0.

Hanging: each adapter's timeout for one call (Slack's ``API_TIMEOUT``, the Teams connector's
``CONNECTOR_TIMEOUT``) is made short here, so a hung platform is a real client timeout. A request
that timed out was never processed by the fake: what a retry then delivers is the only copy."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fake_connector import FakeConnector
from fake_slack import FakeSlack
from slack_harness import submission
from teams_helpers import CLERK_CHANNEL, personal_conversation, submit_data

from .stack import SLACK_CLERK_CHANNEL, Stack, check_records, running

SLACK_TIMEOUT = TEAMS_TIMEOUT = 0.5  # seconds; the adapters' default is 15
PHASES = {"500": 1.0, "429": 1.0, "hang": 1.5}  # at least this long, and until both platforms failed in it
PHASE_DEADLINE = 12.0  # a phase in which a platform never fails is a test failure


class FailingSlack(FakeSlack):
    """The fake Web API with a switch: while ``phase`` is not "ok", every call fails that way."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = "ok"
        self.faults: Counter[str] = Counter()
        self.recovered = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        phase, method = self.phase, request.match_info["method"]
        if phase == "ok" or method == "auth.test":
            return await super()._api(request)
        await request.read()
        self.attempts.append(method)
        self.faults[phase] += 1
        if phase == "500":
            return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        if phase == "429":
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        await self.recovered.wait()  # hang past the client's timeout; it has given up by now
        return web.json_response({"ok": False, "error": "hung"}, status=504)


class FailingConnector(FakeConnector):
    def __init__(self) -> None:
        super().__init__()
        self.phase = "ok"
        self.faults: Counter[str] = Counter()
        self.recovered = asyncio.Event()

    async def _record(self, request: web.Request, op: str, status: int = 200) -> web.Response:
        phase = self.phase
        if phase == "ok":
            return await super()._record(request, op, status)
        self.faults[phase] += 1
        if phase == "500":
            self.attempts.append((op, 500))
            return web.json_response({"error": {"code": "ServiceError", "message": "fake 500"}}, status=500)
        if phase == "429":
            self.attempts.append((op, 429))
            return web.json_response({"error": {"code": "Throttled", "message": "slow down"}}, status=429,
                                     headers={"Retry-After": "0.5"})
        self.attempts.append((op, 0))
        await self.recovered.wait()  # hang past the client's timeout; it has given up by now
        return web.json_response({"error": {"code": "GatewayTimeout", "message": "hung"}}, status=504)


async def notices(stack: Stack) -> list[str]:
    """The clerk notices and approval cards waiting in the outbox (receipts and replies aside)."""
    return [d["id"] for d in await stack.bot.outbox.pending() if d["id"].startswith(("R-", "S-")) and ":receipt" not in d["id"]]


def failures(metrics: dict[str, float], platform: str) -> float:
    return sum(v for k, v in metrics.items()
               if k.startswith("councilbot_delivery_failures_total{") and f'platform="{platform}"' in k)


async def forms(stack: Stack) -> dict[str, dict[str, Any]]:
    """The modals and form cards people fill in (opened while the platforms are still up)."""
    found: dict[str, dict[str, Any]] = {}
    for command in ("/report", "/suggest"):
        await stack.slack.command(command, user="UCLLR")
        found[command] = dict((await stack.fake.wait_for("views.open", count=len(found) + 1))[-1].data["view"])
    [found["teams report"]] = [c.card for c in await stack.teams.say("aad-resident", "report") if c.card]
    [found["teams suggest"]] = [c.card for c in await stack.teams.say("aad-cllr", "suggest") if c.card]
    return found


async def file_records(stack: Stack, found: dict[str, dict[str, Any]]) -> None:
    """Two reports and two suggestions, one of each from each platform, over HTTP. Filing needs
    only our own server: the answers are the HTTP responses (a modal closing, an invoke's card)."""
    answers = [
        await stack.slack.interact(submission({**found["/report"], "id": "VF1"}, {
            "what": "fault report slack: threats on Facebook", "platform": "facebook", "when": "today"}, user="URES1")),
        await stack.slack.interact(submission({**found["/suggest"], "id": "VF2"}, {
            "text": "Fault suggestion slack: litter pick on Saturday at 10am at the park gates.",
            "platforms": ["facebook"], "category": "community-group"}, user="UCLLR")),
    ]
    assert [a.status for a in answers] == [200, 200], answers
    for activity in (
        stack.teams.invoke("aad-resident", submit_data(found["teams report"], what="fault report teams: abuse on Facebook",
                                                       platform="facebook", when="today")),
        stack.teams.invoke("aad-cllr", submit_data(found["teams suggest"], text="Fault suggestion teams: Town Council "
                                                   "meeting on Monday at 7pm.", platforms="facebook", category="meetings")),
    ):
        status, body = await stack.teams.post(activity)
        assert status == 200 and "received" in json.dumps(body) or "sent to the Clerk" in json.dumps(body), body


async def test_notices_survive_500s_429s_and_hangs_and_are_delivered_once(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("councilbot_adapters.slack.notifier.API_TIMEOUT", SLACK_TIMEOUT)
    monkeypatch.setattr("councilbot_adapters.teams.connector.CONNECTOR_TIMEOUT", TEAMS_TIMEOUT)
    # The backoff's growth (to 5 minutes) is tested in tests/core; a low ceiling keeps recovery quick here.
    monkeypatch.setattr("councilbot.outbox.MAX_BACKOFF", 2.0)
    fake, connector = FailingSlack(), FailingConnector()
    async with running(tmp_path, fake=fake, connector=connector) as stack:
        await stack.teams_clerk_channel()
        found = await forms(stack)
        await stack.settle()
        start = await stack.metrics()
        fake.phase = connector.phase = "500"
        await file_records(stack, found)
        assert (await check_records(stack.bot))["reports"] == 2
        # 2 reports x (2 channels + 2 Clerks) + 2 suggestions x 2 channels. (Not the outbox's depth: it
        # also holds each receipt's durable copy: the Slack filers' DM receipts, which are the copies
        # they keep, and Teams' held copies until its cards are surely shown.)
        queued = len(await notices(stack))
        assert queued == 12, await notices(stack)
        assert len([d for d in await stack.bot.outbox.pending() if ":receipt" in d["id"] and d["platform"] == "slack"]) == 2

        # While failing: depth stays up and failures keep being counted, on both platforms, in each phase.
        counter: list[float] = []
        for phase, minimum in PHASES.items():
            fake.phase = connector.phase = phase
            before, started = await stack.metrics(), time.monotonic()
            errors: set[str] = set()
            while True:
                sample = await stack.metrics()
                assert sample["councilbot_outbox_depth"] > 0, (phase, sample["councilbot_outbox_depth"])
                counter.append(sample.get("councilbot_delivery_failures_total", 0.0))
                errors |= {f"{d['platform']}: {d['error']}" for d in await stack.bot.outbox.pending() if d["error"]}
                rising = all(failures(sample, p) > failures(before, p) for p in ("slack", "teams"))
                if rising and fake.faults[phase] and connector.faults[phase] and time.monotonic() - started >= minimum:
                    break
                assert time.monotonic() - started < PHASE_DEADLINE, (phase, fake.faults, connector.faults, sample)
                await asyncio.sleep(0.2)
            if phase == "hang":  # real client timeouts on both
                assert any(e.startswith("slack: slack unreachable: TimeoutError") for e in errors), errors
                assert any(e.startswith("teams:") and "did not answer within" in e for e in errors), errors
        assert counter == sorted(counter) and counter[-1] > counter[0], counter  # never goes back, and rose
        # Nothing reached a clerk while both platforms were down.
        assert not [c for c in fake.of("chat.postMessage") if c.data.get("channel") in (SLACK_CLERK_CHANNEL, "UCLERK")]
        assert not [c for c in connector.ops("send") if c.conversation in (CLERK_CHANNEL, personal_conversation("aad-clerk"))]

        # Recovery: everything goes out, once, and the depth returns to 0.
        fake.phase = connector.phase = "ok"
        fake.recovered.set()
        connector.recovered.set()
        deadline = time.monotonic() + 30
        while (await stack.metrics())["councilbot_outbox_depth"] > 0:
            assert time.monotonic() < deadline, [(d["id"], d["attempts"], d["error"]) for d in await stack.bot.outbox.pending()]
            await asyncio.sleep(0.2)
        # Before counting: markers queued now have gone out on both platforms, after anything that
        # was still on its way, and the Slack adapter has no reply in flight.
        await stack.quiet()
        final = await stack.metrics()
        assert final["councilbot_outbox_depth"] == 0 and final["councilbot_outbox_oldest_seconds"] == 0
        status, ready = await stack.request("GET", "/readyz")
        assert status == 200 and json.loads(ready)["outbox_depth"] == 0
        assert final["councilbot_deliveries_total"] - start.get("councilbot_deliveries_total", 0.0) >= queued
        await _assert_each_notice_once(stack)


async def _assert_each_notice_once(stack: Stack) -> None:
    bot, fake, connector = stack.bot, stack.fake, stack.connector
    outbox = (await bot.store.find("outbox"))
    sent = [d for d in outbox if d["id"].startswith(("R-", "S-")) and ":receipt" not in d["id"]]
    kept = [d for d in outbox if ":receipt" in d["id"] and d["platform"] == "slack"]  # the Slack filers' DM receipts
    assert sorted(d["status"] for d in kept) == ["sent", "sent"], kept
    assert not [d for d in outbox if ":receipt" in d["id"] and d["platform"] == "teams" and d["status"] == "sent"]
    assert len(sent) == 12 and {d["status"] for d in sent} == {"sent"}, [(d["id"], d["status"]) for d in sent]
    for platform in ("slack", "teams"):  # retried after failing, and then sent
        assert any(d["attempts"] >= 1 for d in sent if d["platform"] == platform), [(d["id"], d["attempts"]) for d in sent]
    posts = fake.of("chat.postMessage")
    sends = connector.ops("send")

    def slack(channel: str, needle: str) -> int:
        return sum(1 for c in posts if c.data.get("channel") == channel and needle in json.dumps(c.data))

    def teams(conversation: str, needle: str) -> int:
        return sum(1 for c in sends if c.conversation == conversation and needle in c.text)

    reports = (await bot.store.find("reports"))
    suggestions = (await bot.store.find("suggestions"))
    assert len(reports) == 2 and len(suggestions) == 2
    for r in reports:
        assert slack(SLACK_CLERK_CHANNEL, f"New report {r['id']}") == 1
        assert slack("UCLERK", f"Confidential report {r['id']}") == 1
        assert teams(CLERK_CHANNEL, f"New report {r['id']}") == 1
        assert teams(personal_conversation("aad-clerk"), f"Confidential report {r['id']}") == 1
    for s in suggestions:
        assert s["status"] == "pending"
        assert slack(SLACK_CLERK_CHANNEL, f"Suggested post {s['id']}") == 1
        assert teams(CLERK_CHANNEL, f"Suggested post {s['id']}") == 1
    # And nothing else was posted to the clerks twice.
    assert len([c for c in posts if c.data.get("channel") in (SLACK_CLERK_CHANNEL, "UCLERK")]) == 6
    assert len([c for c in sends if c.conversation in (CLERK_CHANNEL, personal_conversation("aad-clerk"))]) == 6


async def test_a_hung_slack_does_not_hold_up_teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each platform delivers at its own pace: a Teams notice queued while the Slack lane is stuck on
    a hung Web API (each call waiting out its timeout) still reaches the Clerk at once."""
    monkeypatch.setattr("councilbot_adapters.slack.notifier.API_TIMEOUT", 4)
    fake, connector = FailingSlack(), FailingConnector()
    async with running(tmp_path, fake=fake, connector=connector) as stack:
        await stack.teams_clerk_channel()
        found = await forms(stack)
        await stack.settle()
        fake.phase = "hang"
        answer = await stack.slack.interact(submission({**found["/report"], "id": "VH1"}, {
            "what": "hang report slack: threats", "platform": "facebook", "when": "today"}, user="URES1"))
        assert answer.status == 200
        deadline = time.monotonic() + 10
        while not fake.faults["hang"]:  # the Slack lane is now waiting on a hung call
            assert time.monotonic() < deadline, fake.faults
            await asyncio.sleep(0.02)
        started = time.monotonic()
        status, _ = await stack.teams.post(stack.teams.invoke("aad-resident", submit_data(
            found["teams report"], what="hang report teams: abuse", platform="facebook", when="today")))
        assert status == 200
        [ref] = [r["id"] for r in (await stack.bot.store.find("reports")) if r["what"].startswith("hang report teams")]
        # Held behind the hung Slack lane this would take 7 s or more (two Slack calls of 4 s each).
        await connector.wait_for(lambda c: c.conversation == CLERK_CHANNEL and f"New report {ref}" in c.text, timeout=3.0)
        await connector.wait_for(lambda c: c.conversation == personal_conversation("aad-clerk")
                                 and f"Confidential report {ref}" in c.text, timeout=3.0)
        assert time.monotonic() - started < 3.0
        assert not fake.of("chat.postMessage", channel=SLACK_CLERK_CHANNEL)  # Slack is still down
        fake.phase = "ok"
        fake.recovered.set()
        await stack.settle(timeout=20)
        assert len(fake.of("chat.postMessage", channel=SLACK_CLERK_CHANNEL)) == 2  # both reports, once each
        assert len(connector.ops("send", CLERK_CHANNEL)) == 2
