"""Soak: many reports, suggestions and DMs filed through Slack and Teams over real HTTP, each
delivery sent 2-4 times (Slack retries with X-Slack-Retry-Num and the same event_id; a Slack
modal submission delivered again; Teams redelivering the same activity id), some copies at the
same moment. Afterwards: exactly one record per distinct event, one answer per event, and exactly
one clerk notice per record on each platform, all delivered once."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from slack_harness import submission
from teams_helpers import CLERK_CHANNEL, personal_conversation, submit_data

from .stack import SLACK_CLERK_CHANNEL, Stack, check_records, running

N = 8  # distinct deliveries of each kind, per platform
Send = Callable[[int], Awaitable[Any]]  # copy number -> one delivery


async def deliver(rng: random.Random, send: Send) -> list[Any]:
    """One event delivered 2-4 times: all at once, one after another, or the first alone and the
    retries together."""
    copies = rng.randint(2, 4)
    how = rng.choice(["together", "in turn", "first then together"])
    if how == "together":
        return list(await asyncio.gather(*(send(i) for i in range(copies))))
    if how == "in turn":
        return [await send(i) for i in range(copies)]
    first = await send(0)
    return [first, *await asyncio.gather(*(send(i) for i in range(1, copies)))]


async def slack_view(stack: Stack, command: str) -> dict[str, Any]:
    """The modal the adapter opens for a command, as Slack would hand it back on submission."""
    before = len(stack.fake.of("views.open"))
    answer = await stack.slack.command(command, user="UCLLR")
    assert answer.status == 200
    calls = await stack.fake.wait_for("views.open", count=before + 1)
    return dict(calls[-1].data["view"])


async def test_duplicate_deliveries_make_one_record_and_one_notice_each(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    async with running(tmp_path) as stack:
        await stack.teams_clerk_channel()
        report_view = await slack_view(stack, "/report")
        suggest_view = await slack_view(stack, "/suggest")
        [report_card] = [c.card for c in await stack.teams.say("aad-resident", "report") if c.card]
        [suggest_card] = [c.card for c in await stack.teams.say("aad-cllr", "suggest") if c.card]
        statuses: Counter[int] = Counter()
        teams_answers: dict[str, list[Any]] = {}
        jobs: list[Awaitable[Any]] = []

        # Slack: reports and suggestions as modal submissions, each delivered again unchanged.
        for i in range(N):
            payload = submission({**report_view, "id": f"VSOAKR{i}", "hash": f"hr{i}"}, {
                "what": f"soak report slack-{i}: threatening messages on our Facebook page", "platform": "facebook",
                "when": "last night", "danger": i % 3 == 0, "evidence": f"https://facebook.com/post/{i}"}, user=f"URES{i}")
            jobs.append(deliver(rng, lambda _, p=payload: stack.slack.interact(p)))
            payload = submission({**suggest_view, "id": f"VSOAKS{i}", "hash": f"hs{i}"}, {
                "text": f"Soak litter pick {i} is on Saturday at 10am, meet at the park gates.",
                "platforms": ["facebook"], "category": "community-group"}, user="UCLLR")
            jobs.append(deliver(rng, lambda _, p=payload: stack.slack.interact(p)))
            # DMs that need a choice store a draft: Slack's retries carry the same event_id.
            event = {"type": "message", "channel_type": "im", "channel": "DCLLR", "user": "UCLLR",
                     "text": f"Soak question {i} about the park", "ts": f"1700000600.{i:06d}"}
            jobs.append(deliver(rng, lambda copy, e=event, n=i: stack.slack.event(e, f"EvSOAK{n}", retry=copy or None)))

        # Teams: the same activity (same id) delivered again; forms as Action.Execute invokes and
        # as Action.Submit messages (older clients).
        for i in range(N):
            data = submit_data(report_card, what=f"soak report teams-{i}: abusive comments on Facebook",
                               platform="facebook", when="this morning", danger="false")
            activity = stack.teams.invoke("aad-resident", data)
            teams_answers[f"teams-{i}"] = []
            jobs.append(deliver(rng, lambda _, a=activity, k=f"teams-{i}": _teams(stack, a, teams_answers[k])))
            data = submit_data(suggest_card, text=f"Soak Town Council meeting {i} on Monday at 7pm in the Town Hall.",
                               platforms="facebook", category="meetings", has_image="false")
            activity = stack.teams.invoke("aad-cllr", data) if i % 2 else stack.teams.personal("aad-cllr", value=data)
            jobs.append(deliver(rng, lambda _, a=activity: _teams(stack, a, [])))

        rng.shuffle(jobs)
        sem = asyncio.Semaphore(6)  # several distinct events in flight at once, as under load

        async def limited(job: Awaitable[Any]) -> list[Any]:
            async with sem:
                return list(await job)

        for results in await asyncio.gather(*(limited(j) for j in jobs)):
            for result in results:
                statuses[getattr(result, "status", None) or result] += 1
        assert set(statuses) == {200}, statuses  # every copy acknowledged: Slack and Teams stop retrying

        await stack.settle()
        await stack.quiet()  # replies still being posted after the acks, and any duplicate, are out before the markers
        await _assert_one_of_each(stack, teams_answers)


async def _teams(stack: Stack, activity: dict[str, Any], answers: list[Any]) -> int:
    status, body = await stack.teams.post(activity)
    answers.append(body)
    return status


async def _assert_one_of_each(stack: Stack, teams_answers: dict[str, list[Any]]) -> None:
    bot, fake, connector = stack.bot, stack.fake, stack.connector
    counts = await check_records(bot)

    # One record per distinct event.
    reports = (await bot.store.find("reports"))
    whats = Counter(r["what"].split(":")[0] for r in reports)
    assert whats == Counter({f"soak report {p}-{i}": 1 for p in ("slack", "teams") for i in range(N)}), whats
    suggestions = (await bot.store.find("suggestions"))
    texts = Counter(s["text"] for s in suggestions)
    assert len(texts) == 2 * N and set(texts.values()) == {1}, texts
    assert all(s["status"] == "pending" for s in suggestions), [(s["id"], s["status"]) for s in suggestions]
    drafts = Counter(d["text"] for d in (await bot.store.find("drafts")))
    assert drafts == Counter({f"Soak question {i} about the park": 1 for i in range(N)}), drafts
    assert counts == {**counts, "reports": 2 * N, "suggestions": 2 * N, "drafts": N}

    # Every queued delivery went out, none failed, none is waiting.
    outbox = (await bot.store.find("outbox"))
    assert outbox and {d["status"] for d in outbox} == {"sent"}, Counter(d["status"] for d in outbox)

    # Exactly one clerk notice per record on each platform (and one confidential copy per Clerk).
    slack_posts = fake.of("chat.postMessage")
    teams_sends = connector.ops("send")

    def slack_count(channel: str, needle: str) -> int:
        return sum(1 for c in slack_posts if c.data.get("channel") == channel and needle in json.dumps(c.data))

    def teams_count(conversation: str, needle: str) -> int:
        return sum(1 for c in teams_sends if c.conversation == conversation and needle in c.text)

    for r in reports:
        ref = r["id"]
        assert r["recipients"] == ["slack:UCLERK", "teams:aad-clerk"], r["recipients"]
        assert slack_count(SLACK_CLERK_CHANNEL, f"New report {ref}") == 1, ref
        assert teams_count(CLERK_CHANNEL, f"New report {ref}") == 1, ref
        assert slack_count("UCLERK", f"Confidential report {ref}") == 1, ref
        assert teams_count(personal_conversation("aad-clerk"), f"Confidential report {ref}") == 1, ref
    for s in suggestions:
        assert slack_count(SLACK_CLERK_CHANNEL, f"Suggested post {s['id']}") == 1, s["id"]
        assert teams_count(CLERK_CHANNEL, f"Suggested post {s['id']}") == 1, s["id"]
    assert len([c for c in slack_posts if c.data.get("channel") == SLACK_CLERK_CHANNEL]) == 2 * N + 2 * N
    assert len([c for c in teams_sends if c.conversation == CLERK_CHANNEL]) == 2 * N + 2 * N

    # One answer per event too: one reply per DM. A report's receipt goes out at least once; a copy
    # that arrives after the first was answered is answered with the same receipt (a person pressing
    # Submit again must get their reference, issue 10), one still in flight gets nothing. Never more
    # receipts than copies (2-4). On Slack the DM receipt is the outbox's kept copy, sent once per
    # record; on Teams the card showed it and the held copy is withdrawn, never sent.
    for r in (r for r in reports if r["reporter"].startswith("slack:")):
        user = r["reporter"].removeprefix("slack:")
        assert 1 <= slack_count(user, f"Your report {r['id']}") <= 4, r["id"]
    kept = [d for d in (await bot.store.find("outbox")) if ":receipt" in d["id"]]
    slack_reporters = [r for r in reports if r["reporter"].startswith("slack:")]
    slack_kept = [d for d in kept if d["platform"] == "slack"]
    assert {d["status"] for d in slack_kept} == {"sent"}, slack_kept
    assert {f"{r['id']}:receipt@slack" for r in slack_reporters} <= {d["id"] for d in slack_kept}
    assert all(d["status"] == "pending" for d in kept if d["platform"] == "teams"), kept
    for d in (await bot.store.find("drafts")):
        assert sum(1 for c in slack_posts if c.data.get("channel") == "DCLLR" and d["id"] in json.dumps(c.data)) == 1
    by_what = {r["what"].split(":")[0].removeprefix("soak report "): r["id"] for r in reports}
    for key, answers in teams_answers.items():
        with_receipt = [a for a in answers if f"Report {by_what[key]} received" in json.dumps(a)]
        assert with_receipt and all(a == with_receipt[0] for a in with_receipt), (key, answers)
        assert all(a in with_receipt or "Already received" in json.dumps(a) for a in answers), (key, answers)


async def test_a_refused_submission_sent_again_is_judged_again(tmp_path: Path) -> None:
    """Dedupe must not swallow a second press of Submit on a form that was turned down: nothing
    was filed, so it gets the same errors again; once fixed, duplicates of it file one report."""
    async with running(tmp_path) as stack:
        view = {**await slack_view(stack, "/report"), "id": "VAGAIN", "hash": "h1"}
        missing_what = submission(view, {"platform": "facebook", "when": "today"}, user="URES1")
        for _ in range(2):
            answer = await stack.slack.interact(missing_what)
            data = answer.json() or {}  # an empty ack would close the modal: the press was swallowed
            assert answer.status == 200 and data.get("response_action") == "errors", (answer.status, answer.text)
            assert "what" in data["errors"]
        fixed = submission(view, {"what": "Threats in my inbox", "platform": "facebook", "when": "today"}, user="URES1")
        answers = await asyncio.gather(*(stack.slack.interact(fixed) for _ in range(3)))
        assert {a.status for a in answers} == {200}
        assert not any(a.text and "errors" in a.text for a in answers)  # the modal closes every time
        assert [r["what"] for r in (await stack.bot.store.find("reports"))] == ["Threats in my inbox"]

        # Teams redelivering a refused form gets the same message, not "Already received".
        [card] = [c.card for c in await stack.teams.say("aad-resident", "report") if c.card]
        activity = stack.teams.invoke("aad-resident", submit_data(card, platform="facebook", when="today"))
        for _ in range(2):
            status, body = await stack.teams.post(activity)
            assert status == 200 and "Already received" not in json.dumps(body) and "what" in json.dumps(body).lower(), body
        assert len((await stack.bot.store.find("reports"))) == 1
