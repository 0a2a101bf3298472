"""Over real HTTP: signatures, commands, DMs, App Home, bot messages, event retries."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from slack_harness import Harness, texts, unmarked, unmarked_events

from councilbot import metrics


def duplicates_ignored() -> float:
    """The core's count of platform retries it recognised and ignored."""
    return metrics.REGISTRY.get_sample_value("councilbot_duplicate_events_total") or 0.0


async def test_forged_signature_is_refused_before_any_listener(harness: Harness) -> None:
    answer = await harness.slack.command("/checkpost", "Our litter pick is on Saturday!", secret="not-the-secret")
    assert answer.status == 401
    unsigned = await harness.slack.command("/policy", "photos", signed=False)
    assert unsigned.status == 401
    await harness.quiet()
    assert unmarked(harness.fake.sent) == []
    assert await unmarked_events(harness.bot) == []


async def test_stale_timestamp_is_refused(harness: Harness) -> None:
    # Slack's rule: reject a request whose timestamp is more than five minutes old (replay).
    answer = await harness.slack.dm("may I post: Litter pick on Saturday!", ts=int(time.time()) - 6 * 60)
    assert answer.status == 401
    await harness.quiet()
    assert unmarked(harness.fake.sent) == []
    assert await unmarked_events(harness.bot) == []


async def test_url_verification_echoes_the_challenge(harness: Harness) -> None:
    body = json.dumps({"token": "t", "challenge": "abc123", "type": "url_verification"})
    answer = await harness.slack.post(body, "application/json")
    assert answer.status == 200
    assert "abc123" in answer.text


async def test_checkpost_is_answered_ephemerally_with_the_verdict(harness: Harness) -> None:
    answer = await harness.slack.command("/checkpost", "Councillor Smith is an idiot and a liar, vote him out!")
    assert answer.status == 200 and answer.text == ""
    [call] = await harness.fake.wait_for("respond")
    assert call.data["response_type"] == "ephemeral"
    header = call.data["blocks"][0]
    assert header["type"] == "header" and "Do not post" in header["text"]["text"]
    sections = [b["text"]["text"] for b in call.data["blocks"] if b["type"] == "section"]
    [attack] = [s for s in sections if s.startswith("*Personal attack")]  # each finding under its bold label
    # The evidence and the clause are Slack block quotes (">" at a line's start, not an escaped "&gt;"),
    # and the fix is shown.
    assert "\n>\u201cCouncillor Smith is an idiot\u201d\n" in attack
    assert "\n>\u201cEngage in personal attacks, online fights or hostile communications\u201d\n" in attack
    assert "*Fix:* Remove the insult; criticise decisions or ideas, not people." in attack
    assert "&gt;" not in texts(call.data)


async def test_checkpost_ok_draft(harness: Harness) -> None:
    await harness.slack.command("/checkpost", "Our litter pick is on Saturday at 10am, meet at the park gates.")
    [call] = await harness.fake.wait_for("respond")
    assert call.data["response_type"] == "ephemeral"
    assert "OK to post" in call.data["blocks"][0]["text"]["text"]


async def test_a_command_mentioning_payload_is_still_a_command(harness: Harness) -> None:
    # slack_bolt treats any body containing "payload" as interactivity and would drop this command.
    answer = await harness.slack.command("/checkpost", "The new bin lorry carries a bigger payload, so collections will be quicker from Monday.")
    assert answer.status == 200
    [call] = await harness.fake.wait_for("respond")
    assert "OK to post" in call.data["blocks"][0]["text"]["text"]


async def test_policy_question(harness: Harness) -> None:
    await harness.slack.command("/policy", "can I post photos of children?")
    [call] = await harness.fake.wait_for("respond")
    assert call.data["response_type"] == "ephemeral"
    assert "ATC-MN-10" in texts(call.data) and "minors" in texts(call.data)


async def test_councilbot_help_and_unknown(harness: Harness) -> None:
    await harness.slack.command("/councilbot", "", user="UCLERK")
    [call] = await harness.fake.wait_for("respond")
    assert "CouncilBot" in texts(call.data)
    assert "people" in texts(call.data)  # the Clerk's own help lists the Clerk's commands


async def test_dm_a_draft(harness: Harness) -> None:
    answer = await harness.slack.dm("may I post: Our litter pick is on Saturday at 10am, meet at the park gates!")
    assert answer.status == 200
    [call] = await harness.fake.wait_for("chat.postMessage")
    assert call.data["channel"] == "DCLLR"
    assert "OK to post" in texts(call.data)
    assert call.token == "xoxb-test"


async def test_dm_that_needs_a_choice_gets_buttons_and_the_press_answers(harness: Harness) -> None:
    await harness.slack.dm("Litter pick this Saturday at the park")
    [call] = await harness.fake.wait_for("chat.postMessage")
    buttons = [e for b in call.data["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {"dm.check", "dm.ask"}
    check = next(b for b in buttons if b["action_id"] == "dm.check")
    await harness.slack.press(check, user="UCLLR", channel="DCLLR")
    [reply] = await harness.fake.wait_for("respond")
    assert reply.data["response_type"] == "ephemeral" and reply.data["replace_original"] is False
    assert "post" in texts(reply.data).lower()


async def test_bot_messages_are_ignored(harness: Harness) -> None:
    await harness.fake.wait_for("auth.test")  # asked at start-up, in the background
    while harness.adapter.bot_user_id is None:
        await asyncio.sleep(0.01)
    await harness.slack.dm("may I post: hello", user="UCLLR", extra={"bot_id": "BOTHER"})
    await harness.slack.dm("may I post: hello", user="UCLLR", extra={"subtype": "bot_message"})
    await harness.slack.dm("may I post: hello", user="UBOT")  # our own bot user (auth.test says UBOT)
    await harness.slack.dm("edited", user="UCLLR", extra={"subtype": "message_changed"})
    await harness.quiet()
    assert unmarked(harness.fake.of("chat.postMessage")) == []
    assert await unmarked_events(harness.bot) == []


async def test_event_retry_creates_one_record(harness: Harness) -> None:
    first = await harness.slack.dm("Litter pick this Saturday at the park", event_id="Ev0RETRY")
    again = await harness.slack.dm("Litter pick this Saturday at the park", event_id="Ev0RETRY")
    assert first.status == again.status == 200
    await harness.fake.wait_for("chat.postMessage", channel="DCLLR")
    await harness.quiet()
    assert len(harness.fake.of("chat.postMessage", channel="DCLLR")) == 1
    assert len((await harness.bot.store.find("drafts"))) == 1


async def test_event_retry_after_a_restart_is_deduped_by_the_core(harness: Harness) -> None:
    body = {"type": "message", "channel_type": "im", "channel": "DCLLR", "user": "UCLLR",
            "text": "Litter pick this Saturday at the park", "ts": "1700000400.000001"}
    await harness.slack.event(body, "Ev0RESTART")
    await harness.fake.wait_for("chat.postMessage")
    harness.adapter._seen_events.clear()  # as if the process restarted between delivery and retry
    ignored = duplicates_ignored()
    answer = await harness.slack.event(body, "Ev0RESTART", retry=1)
    assert answer.status == 200
    # The positive signal: the core counted the retry as a duplicate and ignored it.
    end = time.monotonic() + 10
    while duplicates_ignored() == ignored:
        assert time.monotonic() < end, "the retry never reached the core"
        await asyncio.sleep(0.01)
    await harness.quiet()
    assert len(harness.fake.of("chat.postMessage", channel="DCLLR")) == 1
    assert len((await harness.bot.store.find("drafts"))) == 1


async def test_app_home_is_published(harness: Harness) -> None:
    await harness.slack.event({"type": "app_home_opened", "user": "UCLERK", "channel": "DCLERK", "tab": "home",
                               "event_ts": "1700000500.000001"})
    [call] = await harness.fake.wait_for("views.publish")
    assert call.data["user_id"] == "UCLERK"
    assert call.data["view"]["type"] == "home"
    assert "Your items" in texts(call.data)
    assert "Waiting for a decision" in texts(call.data)  # the Clerk approves posts


async def test_a_flooded_adapter_says_it_is_busy_in_the_ack(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("councilbot_adapters.slack.app.MAX_ANSWERING", 0)
    answer = await harness.slack.command("/checkpost", "Our litter pick is on Saturday!")
    assert answer.status == 200 and "busy" in answer.text
    await harness.quiet()  # (its marker is a DM: events are queued whatever the backlog)
    assert unmarked(harness.fake.sent) == []
