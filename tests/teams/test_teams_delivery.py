"""Proactive delivery through the Teams notifier: failures become DeliveryError, the outbox
retries, and each message reaches Teams once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from teams_helpers import CLERK_CHANNEL, Teams, make_settings, submit_data

from councilbot.messages import Button, Reply
from councilbot.ports import CLERK_CHANNEL as CLERK
from councilbot.ports import DeliveryError


def notifier(teams: Teams) -> Any:
    from councilbot_adapters.teams import TEAMS

    return teams.app[TEAMS].notifier


async def file_report(teams: Teams, what: str = "Threats on the Facebook page") -> None:
    [form] = await teams.say("aad-resident", "report")
    data = submit_data(form.card, what=what, platform="facebook", when="yesterday")
    status, _ = await teams.post(teams.invoke("aad-resident", data))
    assert status == 200


async def sent(teams: Teams, suffix: str, timeout: float = 10.0) -> None:
    """Wait until the outbox has recorded the delivery whose id ends with ``suffix`` as sent."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not any(d["id"].endswith(suffix) and d["status"] == "sent" for d in (await teams.bot.store.find("outbox"))):
        assert loop.time() < end, (await teams.bot.store.find("outbox"))
        await asyncio.sleep(0.02)


async def test_connector_5xx_then_success_delivers_once(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    teams.connector.fail(500, times=1, only="send", conversation=CLERK_CHANNEL)
    teams.connector.fail(503, times=1, only="send", conversation=CLERK_CHANNEL)
    await file_report(teams)
    [notice] = await teams.connector.wait_for(lambda c: c.op == "send" and c.conversation == CLERK_CHANNEL)
    assert "New report" in notice.text
    failures = [a for a in teams.connector.attempts if a[0] == "send" and a[1] >= 500]
    assert len(failures) == 2
    # Positive signals before counting: the outbox recorded the notice as sent (it is never sent
    # again then), and a marker queued after it has gone out on the same lane.
    await sent(teams, ":channel@teams")
    await teams.quiet()
    assert len(teams.connector.ops("send", CLERK_CHANNEL)) == 1
    [item] = [d for d in (await teams.bot.store.find("outbox")) if d["id"].endswith(":channel@teams")]
    assert item["status"] == "sent" and item["attempts"] == 2


async def test_rate_limit_is_honoured(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    teams.connector.fail(429, times=1, retry_after=0.3, only="send", conversation=CLERK_CHANNEL)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await file_report(teams)
    await teams.connector.wait_for(lambda c: c.op == "send" and c.conversation == CLERK_CHANNEL)
    assert loop.time() - started >= 0.3
    assert ("send", 429) in teams.connector.attempts
    assert len(teams.connector.ops("send", CLERK_CHANNEL)) == 1


async def test_notifier_maps_failures_to_delivery_errors(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    n = notifier(teams)
    reply = Reply(text="hello", title="Test")

    teams.connector.fail(429, times=1, retry_after=7)
    with pytest.raises(DeliveryError) as rate:
        await n.send(CLERK, reply)
    assert rate.value.retry_after == 7 and not rate.value.permanent

    teams.connector.fail(502, times=1)
    with pytest.raises(DeliveryError) as server:
        await n.send(CLERK, reply)
    assert server.value.retry_after is None and not server.value.permanent

    teams.connector.fail(403, times=1)
    with pytest.raises(DeliveryError) as gone:
        await n.send(CLERK, reply)
    assert gone.value.permanent

    with pytest.raises(DeliveryError) as other_platform:
        await n.send("slack:U1", reply)
    assert other_platform.value.permanent

    with pytest.raises(DeliveryError) as bad_ref:
        await n.update("not a reference", reply)
    assert bad_ref.value.permanent

    # And when it works: a ref that updates the same message in place.
    ref = await n.send(CLERK, Reply(text="pending", buttons=(Button("x.approve", "Approve", "1"),)))
    decoded = json.loads(ref)
    assert decoded["conversation"]["conversation"]["id"] == CLERK_CHANNEL
    await n.update(ref, Reply(text="decided"))
    [update] = teams.connector.ops("update")
    assert update.activity_id == decoded["activity"] and "decided" in update.text and "actions" not in update.card


@pytest.mark.parametrize("header, wait", [("1.5", 1.5), ("soon", 2.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
async def test_any_retry_after_becomes_a_wait(teams: Teams, header: str, wait: float) -> None:
    """Seconds (fractions too), a date (past: no wait), or something unreadable (the default wait):
    always a DeliveryError the outbox can act on. An unreadable one used to raise out of the notifier."""
    await teams.post(teams.bot_added_to_team())
    teams.connector.fail(429, times=1, retry_after=header)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as limited:
        await notifier(teams).send(CLERK, Reply(text="hello"))
    assert limited.value.retry_after == wait and not limited.value.permanent


async def test_missing_clerk_channel_reference_is_permanent(teams: Teams) -> None:
    n = notifier(teams)
    assert await n.has_clerk_channel() is False
    with pytest.raises(DeliveryError) as missing:
        await n.send(CLERK, Reply(text="x"))
    assert missing.value.permanent
    with pytest.raises(DeliveryError) as nobody:
        await n.send("teams:aad-unknown", Reply(text="x"))
    assert nobody.value.permanent  # the bot has never been reached from Teams at all


async def test_clerk_notices_wait_until_the_clerk_channel_is_known(teams: Teams) -> None:
    await file_report(teams, "Abuse in the comments")
    # The outbox has had its chance (a marker queued after the report has gone out) and keeps the
    # channel notice waiting for a channel, unsent.
    await teams.quiet()
    [waiting] = [d for d in (await teams.bot.store.find("outbox")) if d["id"].endswith(":channel@")]
    assert waiting["status"] == "pending" and waiting["platform"] == ""
    assert not teams.connector.ops("send", CLERK_CHANNEL)
    await teams.post(teams.bot_added_to_team())
    [notice] = await teams.connector.wait_for(lambda c: c.op == "send" and c.conversation == CLERK_CHANNEL)
    assert "New report" in notice.text


async def test_a_person_never_seen_is_reached_by_opening_a_chat(teams: Teams) -> None:
    # The resident has used the bot, so the tenant's service URL is known; the clerk never has.
    await teams.post(teams.bot_added_to_team(aad="aad-chair"))
    await file_report(teams, "Someone posted my home address")
    [created] = await teams.connector.wait_for(lambda c: c.op == "create" and c.body["members"][0]["id"] == "aad-clerk")
    assert created.body["channelData"]["tenant"]["id"] == "tenant-castle-cary"  # how Teams reads the tenant
    await teams.connector.wait_for(lambda c: c.conversation == created.response_id and "home address" in c.text)


async def test_references_survive_a_restart(serve: Any, tmp_path: Any) -> None:
    settings = make_settings(tmp_path)
    teams = await serve(settings)
    await teams.post(teams.bot_added_to_team())
    await teams.say("aad-cllr", "hello")
    await serve.stop_all()
    teams = await serve(settings)
    n = notifier(teams)
    assert await n.has_clerk_channel()
    await n.send("teams:aad-cllr", Reply(text="Reminder"))
    [sent] = teams.connector.ops("send", "a:personal-chat-aad-cllr")
    assert "Reminder" in sent.text


async def test_removing_the_bot_from_the_team_forgets_its_channels(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    n = notifier(teams)
    assert await n.has_clerk_channel()
    goodbye = teams.bot_added_to_team()
    goodbye["membersRemoved"] = goodbye.pop("membersAdded")
    goodbye["channelData"]["eventType"] = "teamMemberRemoved"
    status, _ = await teams.post(goodbye)
    assert status == 200
    assert not await n.has_clerk_channel()  # notices wait in the outbox instead of failing with 403


async def test_what_the_adapter_holds_about_a_person_can_be_erased(teams: Teams) -> None:
    from councilbot_adapters.teams.references import TABLE

    await teams.say("aad-cllr", "hello")
    held = [d for d in await teams.bot.store.find(TABLE) if d.get("person") == "teams:aad-cllr"]
    assert {d["id"] for d in held} == {"user:aad-cllr", "member:aad-cllr"}
    assert await notifier(teams).forget_person("teams:aad-cllr") == 2
    assert [d for d in await teams.bot.store.find(TABLE) if d.get("person") == "teams:aad-cllr"] == []


async def test_a_reply_the_connector_refuses_is_queued_not_lost(teams: Teams) -> None:
    """The Bot Connector failing the in-turn reply must not fail the turn (a 5xx to Teams): the
    answer goes to the person's personal chat through the outbox once the connector is back."""
    from teams_helpers import personal_conversation

    teams.connector.fail(503, times=1, only="reply")
    status, _ = await teams.post(teams.personal("aad-cllr", "may I post: Our litter pick is on Saturday at 10am!"))
    assert status == 200
    assert ("reply", 503) in teams.connector.attempts
    [late] = await teams.connector.wait_for(
        lambda c: c.op == "send" and c.conversation == personal_conversation("aad-cllr"))
    assert late.text.startswith("OK to post")
    for _ in range(50):  # the outbox records the delivery just after the connector took it
        [queued] = [d for d in (await teams.bot.store.find("outbox")) if d["id"].startswith("teams-reply:")]
        if queued["status"] == "sent":
            break
        await asyncio.sleep(0.05)
    assert queued["to"] == "teams:aad-cllr" and queued["status"] == "sent"


async def test_absurdly_long_ids_are_refused_before_the_turn(teams: Teams) -> None:
    activity = teams.personal("aad-cllr", "hello")
    activity["conversation"]["id"] = "x" * 5000
    status, body = await teams.post(activity)
    assert status == 400 and "longer than" in str(body)
    assert teams.connector.calls == []


@pytest.mark.parametrize("known", [True, False], ids=["chat exists", "chat must be opened"])
async def test_failed_deliveries_never_log_who_they_were_for(teams: Teams, caplog: pytest.LogCaptureFixture, known: bool) -> None:
    """A report routed round the Clerk must not show up in the logs the Clerk reads as "a notice
    for the Chair": the recipient's id stays out of every log line about the failure."""
    import logging

    if known:
        await teams.say("aad-chair", "help")  # a conversation exists, and Teams then refuses for good
    teams.connector.fail(403, times=5)
    caplog.set_level(logging.INFO)  # what a deployment logs
    await teams.bot.outbox.send("R-2026-0099:notice", "teams:aad-chair", Reply(text="Confidential report"))
    for _ in range(50):
        if any(d["status"] == "failed" for d in (await teams.bot.store.find("outbox"))):
            break
        await asyncio.sleep(0.1)
    assert any(d["status"] == "failed" for d in (await teams.bot.store.find("outbox")))
    ours = [r for r in caplog.records if r.name.startswith("councilbot")]  # not the fake's access log
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    assert "delivery failed for good" in logged and "aad-chair" not in logged
