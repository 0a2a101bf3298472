"""Whole workflows through Slack: reports, suggested posts and their approval, shortcuts,
form validation, and delivery through a Web API that fails before it succeeds."""

from __future__ import annotations

import json

import asyncio
import time
from typing import Any

from slack_harness import Harness, texts, unmarked
from fake_slack import Call

from councilbot import clock


async def settled(harness: Harness, timeout: float = 15.0) -> None:
    """Wait until the outbox has nothing left to send or retry (held copies included) and the
    adapter no reply on its way."""
    end = time.monotonic() + timeout
    while await harness.bot.outbox.depth() or harness.adapter.answering or harness.adapter.tasks:
        assert time.monotonic() < end, [(d["id"], d["attempts"], d["error"]) for d in await harness.bot.outbox.pending()]
        await asyncio.sleep(0.02)


def buttons_of(call: Call) -> list[dict[str, Any]]:
    return [e for b in call.data.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


async def open_form(harness: Harness, command: str, text: str = "", user: str = "UCLLR") -> dict[str, Any]:
    before = len(harness.fake.of("views.open"))
    answer = await harness.slack.command(command, text, user=user)
    assert answer.status == 200
    calls = await harness.fake.wait_for("views.open", count=before + 1)
    return dict(calls[-1].data["view"])


async def test_report_modal_submission_receipt_and_clerk_notice(harness: Harness) -> None:
    view = await open_form(harness, "/report", user="UCLLR")
    assert view["type"] == "modal" and view["callback_id"] == "councilbot_form"
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds["what"] == "plain_text_input" and kinds["platform"] == "static_select"
    assert kinds["danger"] == "checkboxes" and kinds["evidence"] == "plain_text_input"
    assert kinds["evidence_files"] == "file_input"  # screenshots
    answer = await harness.slack.submit(view, {
        "what": "A man keeps sending me threatening messages about the planning vote.",
        "platform": "facebook", "when": "last night about 9pm", "danger": False,
        "evidence": "https://facebook.com/x/1",
        "evidence_files": [harness.fake.add_file("shot.png", b"\x89PNG\r\n\x1a\n" + b"pixels" * 10)],
    }, user="UCLLR")
    # The modal itself now shows the receipt with the reference, inside the HTTP response.
    shown = json.loads(answer.text)
    assert answer.status == 200 and shown["response_action"] == "update"
    [report] = (await harness.bot.store.find("reports"))
    assert report["id"] == f"R-{clock.now().year}-0001" and report["id"] in json.dumps(shown["view"]) and "submit" not in shown["view"]
    # The receipt also arrives as a DM to the reporter, to keep.
    receipt = await harness.fake.wait_for("chat.postMessage", channel="UCLLR")
    assert "received" in texts(receipt[0].data)
    [record] = (await harness.bot.store.find("reports"))
    assert record["evidence"] == ["https://facebook.com/x/1"]
    assert [f["name"] for f in record["files"]] == ["shot.png"]  # the screenshot itself, kept (tests/slack/test_slack_evidence.py)
    # The notice in the clerk channel (through the outbox) never says what the report says.
    [notice] = await harness.fake.wait_for("chat.postMessage", channel="CCLERK")
    assert record["id"] in texts(notice.data) and "threatening" not in texts(notice.data)
    # The confidential copy goes to the Clerk by DM.
    [copy] = await harness.fake.wait_for("chat.postMessage", channel="UCLERK")
    assert "threatening" in texts(copy.data)


async def test_invalid_submission_shows_errors_in_the_modal(harness: Harness) -> None:
    view = await open_form(harness, "/report")
    answer = await harness.slack.submit(view, {"what": "", "platform": "facebook", "when": "today"})
    assert answer.status == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"what"}
    await harness.quiet()
    assert (await harness.bot.store.find("reports")) == []
    assert unmarked(harness.fake.of("chat.postMessage")) == []


async def test_suggest_approve_by_clerk_only(harness: Harness) -> None:
    view = await open_form(harness, "/suggest", "Our litter pick is on Saturday at 10am, meet at the park gates.", user="UCLLR")
    text_block = next(b for b in view["blocks"] if b.get("block_id") == "text")
    assert text_block["element"]["initial_value"].startswith("Our litter pick")
    answer = await harness.slack.submit(view, {
        "text": "Our litter pick is on Saturday at 10am, meet at the park gates.",
        "platforms": ["facebook"], "category": "event", "has_image": False,
    }, user="UCLLR")
    assert answer.status == 200
    [card] = await harness.fake.wait_for("chat.postMessage", channel="CCLERK")
    approve = next(b for b in buttons_of(card) if b["action_id"] == "suggestion.approve")
    sid = approve["value"]
    assert [b["action_id"] for b in buttons_of(card)][:3] == ["suggestion.approve", "suggestion.changes", "suggestion.reject"]
    await harness.fake.wait_for("chat.postMessage", channel="UCLLR")  # "sent to the Clerk"

    # A councillor may not approve: refused, politely, only to them.
    await harness.slack.press(approve, user="UCLLR", message_ts=card.data.get("ts", "1"))
    [refusal] = await harness.fake.wait_for("respond")
    assert refusal.data["response_type"] == "ephemeral" and "Only the Clerk" in texts(refusal.data)
    assert (await harness.bot.store.get("suggestions", sid))["status"] == "pending"

    # The Clerk approves: the card loses its buttons, the submitter is told.
    await harness.slack.press(approve, user="UCLERK")
    [update] = await harness.fake.wait_for("chat.update")
    assert update.data["channel"] == "CCLERK"
    assert buttons_of(update) == []
    assert "Approved" in texts(update.data)
    told = await harness.fake.wait_for("chat.postMessage", count=2, channel="UCLLR")
    assert "approved" in texts(told[-1].data)
    assert (await harness.bot.store.get("suggestions", sid))["status"] == "approved"


async def test_request_changes_opens_a_comment_modal(harness: Harness) -> None:
    view = await open_form(harness, "/suggest", user="UCLLR")
    await harness.slack.submit(view, {"text": "Council meeting on Monday at 7pm in the Town Hall.", "platforms": ["facebook", "twitter"],
                                      "category": "meetings"}, user="UCLLR")
    [card] = await harness.fake.wait_for("chat.postMessage", channel="CCLERK")
    changes = next(b for b in buttons_of(card) if b["action_id"] == "suggestion.changes")
    await harness.slack.press(changes, user="UCLERK")
    calls = await harness.fake.wait_for("views.open", count=2)
    comment_view = calls[-1].data["view"]
    assert calls[-1].data["trigger_id"].startswith("trigger.act.")
    await harness.slack.submit(comment_view, {"comment": "Please add the room number."}, user="UCLERK")
    [update] = await harness.fake.wait_for("chat.update")
    assert "Please add the room number." in texts(update.data)


async def test_web_api_500_then_429_still_delivers_exactly_once(harness: Harness) -> None:
    harness.fake.fail(500, 1, method="chat.postMessage")
    harness.fake.fail(429, 1, method="chat.postMessage", retry_after=1)
    harness.fake.fail(500, 1, method="chat.postMessage")
    view = await open_form(harness, "/report", user="UCLLR")
    await harness.slack.submit(view, {"what": "Threatening emails again.", "platform": "email", "when": "today"}, user="UCLLR")
    [record] = (await harness.bot.store.find("reports"))
    [notice] = await harness.fake.wait_for("chat.postMessage", channel="CCLERK", timeout=15)
    await harness.fake.wait_for("chat.postMessage", channel="UCLERK", timeout=15)
    await harness.fake.wait_for("chat.postMessage", channel="UCLLR", timeout=15)
    await settled(harness)  # nothing left to send or retry
    assert harness.fake.attempts.count("chat.postMessage") == 3 + 3  # the three failures really happened
    await harness.quiet()
    # Each message once: the receipt (the adapter's own reply), the notice and the copy (the outbox).
    assert len(harness.fake.of("chat.postMessage", channel="CCLERK")) == 1
    assert len(harness.fake.of("chat.postMessage", channel="UCLERK")) == 1
    assert len(harness.fake.of("chat.postMessage", channel="UCLLR")) == 1
    assert record["id"] in texts(notice.data)


async def test_permanent_slack_error_is_not_retried(harness: Harness) -> None:
    harness.fake.fail(200, 1, method="chat.postMessage", error="channel_not_found")
    view = await open_form(harness, "/report", user="UCLLR")
    await harness.slack.submit(view, {"what": "Abusive comments.", "platform": "facebook", "when": "today"}, user="UCLLR")
    await harness.fake.wait_for("chat.postMessage", count=2, where=lambda c: c.data["channel"] in ("CCLERK", "UCLERK", "UCLLR"))
    # The positive signal: nothing is waiting to be retried (a refused notice is marked failed,
    # the receipt's held copy withdrawn) and no reply is on its way.
    await settled(harness)
    assert harness.fake.attempts.count("chat.postMessage") == 3  # 1 refused for good + 2 delivered


async def test_check_message_shortcut(harness: Harness) -> None:
    answer = await harness.slack.shortcut("check_message", "Vote Conservative on Thursday!", author="UOTHER", user="UCLLR")
    assert answer.status == 200
    [reply] = await harness.fake.wait_for("respond")
    assert reply.data["response_type"] == "ephemeral"
    assert "post" in texts(reply.data).lower()


async def test_flag_shortcut_refused_for_a_councillor(harness: Harness) -> None:
    await harness.slack.shortcut("flag_conduct", "Councillor X is a liar", author="UOTHER", user="UCLLR")
    [reply] = await harness.fake.wait_for("respond")
    assert reply.data["response_type"] == "ephemeral"
    assert "only the Clerk" in texts(reply.data)
    assert harness.fake.of("views.open") == []


async def test_flag_shortcut_opens_the_flag_form_for_the_clerk(harness: Harness) -> None:
    await harness.slack.shortcut("flag_conduct", "Councillor X is a liar", author="UCLLR", user="UCLERK")
    [call] = await harness.fake.wait_for("views.open")
    view = call.data["view"]
    author = next(b for b in view["blocks"] if b.get("block_id") == "author")
    assert author["element"]["initial_value"] == "slack:UCLLR"
    await harness.slack.submit(view, {"author": "slack:UCLLR", "text": "Councillor X is a liar"}, user="UCLERK")
    reminder = await harness.fake.wait_for("chat.postMessage", channel="UCLLR")
    assert "Code of Conduct" in texts(reminder[0].data)


async def test_a_long_pending_list_is_one_ephemeral_answer(harness: Harness) -> None:
    for n in range(3):
        view = await open_form(harness, "/suggest", user="UCLLR")
        await harness.slack.submit(view, {"text": f"Council meeting number {n} on Monday at 7pm.", "platforms": ["facebook"],
                                          "category": "meetings"}, user="UCLLR")
    await harness.fake.wait_for("chat.postMessage", count=3, channel="CCLERK")
    await harness.slack.command("/councilbot", "pending", user="UCLERK", channel="CGENERAL")
    [answer] = await harness.fake.wait_for("respond")
    await harness.quiet()
    assert len(harness.fake.of("respond")) == 1  # a response_url takes only five posts
    assert answer.data["response_type"] == "ephemeral"  # not in #general, whatever the card says
    approves = [b for b in buttons_of(answer) if b["action_id"] == "suggestion.approve"]
    assert len(approves) == 3 and len(answer.data["blocks"]) <= 50


async def test_a_reply_slack_will_not_take_reaches_the_dm_through_the_outbox(harness: Harness) -> None:
    """A response_url that has expired (or Slack refusing for longer than a reply can wait): the
    answer is not dropped, the outbox delivers it to the person's DM."""
    harness.fake.fail(404, 1, method="respond", error="expired_url")
    answer = await harness.slack.command("/checkpost", "Vote Conservative on Thursday!", user="UCLLR")
    assert answer.status == 200
    [dm] = await harness.fake.wait_for("chat.postMessage", channel="UCLLR", timeout=10)
    assert "do not post" in texts(dm.data).lower()
    assert "respond" in harness.fake.attempts and harness.fake.of("respond") == []
    [queued] = [d for d in (await harness.bot.store.find("outbox")) if d["id"].startswith("slack-reply:")]
    assert queued["to"] == "slack:UCLLR"


async def test_replies_still_owed_at_shutdown_go_to_the_outbox(harness: Harness) -> None:
    """SIGTERM while Slack hangs: the answer the person was promised is kept for the next start."""
    harness.fake.slow(30)
    answer = await harness.slack.command("/checkpost", "Vote Conservative on Thursday!", user="UCLLR")
    assert answer.status == 200
    for _ in range(50):  # the core has answered; the reply is now waiting on Slack
        if "respond" in harness.fake.attempts:
            break
        await asyncio.sleep(0.05)
    await harness.adapter.close(grace=0.2)
    harness.fake.release()
    [kept] = [d for d in (await harness.bot.store.find("outbox")) if d["id"].startswith("slack-reply:")]
    assert kept["to"] == "slack:UCLLR" and "post" in json.dumps(kept["reply"]).lower()


async def test_a_report_naming_the_clerk_in_small_letters_asks_in_the_modal_and_never_reaches_her(harness: Harness) -> None:
    """The "Is this about …?" question comes back on the modal's own field, the other answers
    kept; answered, the report goes round the Clerk to the Chair."""
    from councilbot.kinds import Role

    await harness.bot.people.set("slack:UCLERK", Role.CLERK, "Jane Pargeter")
    await harness.bot.people.set("slack:UCHAIR", Role.CHAIR, "Pat Moss")
    view = await open_form(harness, "/report")
    answers = {"what": "jane keeps shouting at me in the office", "platform": "in-person", "when": "yesterday"}
    body = (await harness.slack.submit(view, answers)).json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"about"}
    assert "Is this about the Town Clerk (Jane Pargeter)?" in body["errors"]["about"]
    assert (await harness.bot.store.find("reports")) == []
    answer = await harness.slack.submit(view, {**answers, "about": "clerk"})
    assert answer.status == 200 and answer.json()["response_action"] == "update"
    [record] = (await harness.bot.store.find("reports"))
    assert record["recipients"] == ["slack:UCHAIR"] and "slack:UCLERK" in record["excluded"]
    await harness.fake.wait_for("chat.postMessage", channel="UCHAIR")
    await settled(harness)
    assert [c for c in harness.fake.of("chat.postMessage") if c.data.get("channel") == "UCLERK"] == []
