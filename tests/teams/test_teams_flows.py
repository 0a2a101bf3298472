"""Each workflow end to end over real HTTP: Teams activities in, Bot Connector calls out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fake_connector import Call
from teams_helpers import (
    CLERK_CHANNEL,
    Teams,
    button_data,
    make_settings,
    personal_conversation,
    submit_data,
)

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


async def settled(teams: Teams, timeout: float = 5.0) -> None:
    """Wait until the outbox worker has nothing left it can send (a copy for a clerk channel no
    platform knows yet waits for one), and a marker queued after that has gone out. (Not
    ``outbox.drain()``: running a second delivery pass beside the started worker can deliver the
    same item twice.)"""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while sendable := [d["id"] for d in await teams.bot.outbox.pending() if d["platform"]]:
        assert loop.time() < end, sendable
        await asyncio.sleep(0.05)
    await teams.quiet()


def in_clerk_channel(call: Call) -> bool:
    return call.op == "send" and call.conversation == CLERK_CHANNEL


def to_person(aad: str, text: str) -> Any:
    return lambda c: c.conversation == personal_conversation(aad) and text in c.text


async def test_policy_question_is_answered_in_the_personal_chat(teams: Teams) -> None:
    [answer] = await teams.say("aad-cllr", "policy who has the final say")
    assert answer.op == "reply" and answer.card is not None
    assert answer.body["replyToId"].startswith("activity-")
    assert "From the policy" in answer.text
    [free] = await teams.say("aad-resident", "Can I post photos of children at the fete?")
    assert "policy" in free.text.lower()


async def test_draft_check_gives_a_verdict_card(teams: Teams) -> None:
    [verdict] = await teams.say("aad-cllr", "checkpost Join us at the litter pick on Saturday at 10am, everyone welcome!")
    assert verdict.card is not None
    assert any(h in verdict.text for h in ("OK to post", "Caution", "Do not post"))
    [bad] = await teams.say("aad-cllr", "checkpost Councillor Smith is a useless idiot and a liar, vote him out")
    assert "Do not post" in bad.text
    body = bad.card["body"][0]
    assert body["type"] == "Container" and body["style"] == "attention"


async def test_report_form_submit_gives_receipt_and_clerk_channel_notice(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    await teams.say("aad-clerk", "help")  # the clerk has a personal chat with the bot
    [form] = await teams.say("aad-resident", "report")
    card = form.card
    assert card is not None
    kinds = {e["id"]: e["type"] for e in card["body"] if e.get("id")}
    assert kinds["in:what"] == "Input.Text" and kinds["in:platform"] == "Input.ChoiceSet"
    assert kinds["in:danger"] == "Input.Toggle" and kinds["in:evidence"] == "Input.Text"
    what = next(e for e in card["body"] if e.get("id") == "in:what")
    assert what["isMultiline"] and what["isRequired"] and what["errorMessage"]
    assert card["actions"][0]["type"] == "Action.Execute"
    assert card["actions"][0]["data"]["form"] == "report"

    # Submitted as Action.Submit (a message with a value), the way the Emulator and older clients do.
    data = submit_data(card, what="Threatening messages on our Facebook page", platform="facebook",
                       when="last night", danger="false", evidence="https://facebook.com/x\nhttps://facebook.com/y")
    before = len(teams.connector.calls)
    status, _ = await teams.post(teams.personal("aad-resident", value=data, reply_to=form.response_id))
    assert status == 200
    turn = teams.connector.calls[before:]
    # The form card is replaced by the receipt (so it cannot be sent twice).
    [receipt] = [c for c in turn if c.op == "update"]
    assert receipt.activity_id == form.response_id and "received" in receipt.text
    assert "actions" not in receipt.card
    [record] = (await teams.bot.store.find("reports"))
    assert record["evidence"] == ["https://facebook.com/x", "https://facebook.com/y"] and record["urgent"] is False

    [notice] = await teams.connector.wait_for(in_clerk_channel)
    assert f"New report {record['id']}" in notice.text
    assert "Threatening" not in notice.text  # the channel learns that a report exists, never what it says
    assert "replyToId" not in notice.body or not notice.body["replyToId"]
    await teams.connector.wait_for(to_person("aad-clerk", "Threatening messages"))


async def test_suggestion_approval_in_the_clerk_channel(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    await teams.say("aad-cllr", "hello")
    [form] = await teams.say("aad-cllr", "suggest Litter pick on Saturday 10am at the Market House, all welcome")
    card = form.card
    platforms = next(e for e in card["body"] if e.get("id") == "in:platforms")
    assert platforms["isMultiSelect"] is True
    text = next(e for e in card["body"] if e.get("id") == "in:text")
    assert text["value"].startswith("Litter pick")

    # Submitted with Action.Execute: the answer is the invoke response, replacing the form.
    data = submit_data(card, text=text["value"], platforms="facebook,instagram", category="event", has_image="true")
    status, body = await teams.post(teams.invoke("aad-cllr", data, reply_to=form.response_id))
    assert status == 200 and body["statusCode"] == 200 and body["type"] == CARD
    assert "sent to the Clerk" in str(body["value"])
    [suggestion] = (await teams.bot.store.find("suggestions"))
    assert suggestion["platforms"] == ["facebook", "instagram"] and suggestion["has_image"] is True

    [approval] = await teams.connector.wait_for(lambda c: in_clerk_channel(c) and "Suggested post" in c.text)
    assert [a["title"] for a in approval.card["actions"]][:3] == ["Approve", "Request changes", "Reject"]

    # A councillor pressing Approve is refused, privately, and nothing changes.
    approve = button_data(approval.card, "Approve")
    status, body = await teams.post(teams.invoke("aad-cllr", approve, channel_card=approval))
    assert status == 200 and body["type"] == MESSAGE and "Only the Clerk" in body["value"]
    assert (await teams.bot.store.get("suggestions", suggestion["id"]))["status"] == "pending"

    # The clerk approves: the card loses its buttons, the author is told in their chat.
    status, body = await teams.post(teams.invoke("aad-clerk", approve, channel_card=approval))
    assert status == 200 and body["statusCode"] == 200 and "approved" in str(body["value"])
    [updated] = await teams.connector.wait_for(lambda c: c.op == "update" and c.activity_id == approval.response_id)
    assert updated.conversation == CLERK_CHANNEL
    assert "Approved by Clara Clerk" in updated.text or "Approved by" in updated.text
    assert "actions" not in updated.card
    await teams.connector.wait_for(to_person("aad-cllr", f"Your suggested post {suggestion['id']} was approved"))
    assert (await teams.bot.store.get("suggestions", suggestion["id"]))["status"] == "approved"


async def test_reject_asks_for_a_comment_in_place(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    await teams.say("aad-cllr", "hello")
    [form] = await teams.say("aad-cllr", "suggest Our summer fete is on 12 July on the Horse Pond")
    data = submit_data(form.card, text="Our summer fete is on 12 July on the Horse Pond", platforms="facebook",
                       category="event")
    await teams.post(teams.invoke("aad-cllr", data))
    [approval] = await teams.connector.wait_for(lambda c: in_clerk_channel(c) and "Suggested post" in c.text)
    status, body = await teams.post(teams.invoke("aad-clerk", button_data(approval.card, "Reject"), channel_card=approval))
    comment_form = body["value"]
    assert body["type"] == CARD and comment_form["actions"][0]["data"]["form"] == "decision"
    # Submitting without the required comment: the form stays, with the reason.
    status, body = await teams.post(teams.invoke("aad-clerk", submit_data(comment_form, comment=""), channel_card=approval))
    assert body["type"] == MESSAGE and "comment" in body["value"].lower()
    status, body = await teams.post(teams.invoke("aad-clerk", submit_data(comment_form, comment="Date clashes with the carnival"),
                                                 channel_card=approval))
    assert status == 200
    assert body["type"] == CARD and "rejected" in str(body["value"])
    await teams.connector.wait_for(to_person("aad-cllr", "Date clashes with the carnival"))
    [updated] = await teams.connector.wait_for(lambda c: c.op == "update" and c.activity_id == approval.response_id)
    assert "actions" not in updated.card


async def test_a_form_the_core_turns_down_stays_open_even_with_no_input_at_fault(teams: Teams) -> None:
    """The core says a form was turned down (``Reply.form_error``); Teams keeps the form, with the
    person's answers, whether or not the message names an input. (It used to keep it only when a
    field named an input, and replaced a card it could no longer honour with the error.)"""
    await teams.post(teams.bot_added_to_team())
    [form] = await teams.say("aad-cllr", "suggest Our summer fete is on 12 July on the Horse Pond")
    data = submit_data(form.card, text="Our summer fete is on 12 July on the Horse Pond", platforms="facebook",
                       category="event")
    await teams.post(teams.invoke("aad-cllr", data))
    [approval] = await teams.connector.wait_for(lambda c: in_clerk_channel(c) and "Suggested post" in c.text)
    _, body = await teams.post(teams.invoke("aad-clerk", button_data(approval.card, "Reject"), channel_card=approval))
    comment_form = body["value"]
    # A comment card CouncilBot can no longer honour (one an older version sent asks for a decision it has no more).
    stale = {**submit_data(comment_form, comment="Date clashes"), "context": "withdraw:" + comment_form["actions"][0]["data"]["context"].split(":", 1)[1]}
    status, body = await teams.post(teams.invoke("aad-clerk", stale, channel_card=approval))
    assert status == 200 and body["type"] == MESSAGE and "expired" in body["value"]
    assert (await teams.bot.store.find("suggestions"))[0]["status"] == "pending"


async def test_same_activity_twice_makes_one_record(teams: Teams) -> None:
    await teams.post(teams.bot_added_to_team())
    [form] = await teams.say("aad-resident", "report")
    data = submit_data(form.card, what="Abusive comments under the flood post", platform="facebook", when="today")
    activity = teams.invoke("aad-resident", data)
    first = await teams.post(activity)
    second = await teams.post(activity)  # Teams redelivers a slow turn with the same id
    assert first[0] == second[0] == 200
    assert len((await teams.bot.store.find("reports"))) == 1
    await teams.connector.wait_for(in_clerk_channel)
    await settled(teams)
    assert len(teams.connector.ops("send", CLERK_CHANNEL)) == 1


async def test_one_form_submitted_twice_makes_one_record(teams: Teams) -> None:
    """Two presses of Submit on one card are two activities with their own ids: still one report."""
    await teams.post(teams.bot_added_to_team())
    [form] = await teams.say("aad-resident", "report")
    data = submit_data(form.card, what="Abusive comments under the flood post", platform="facebook", when="today")
    status, first = await teams.post(teams.invoke("aad-resident", data))
    assert status == 200
    status, again = await teams.post(teams.invoke("aad-resident", data))
    # Not filed twice, and answered with the same receipt (the reference), not a bare "Already received".
    [ref] = [r["id"] for r in (await teams.bot.store.find("reports"))]
    assert status == 200 and again == first and ref in str(again) and "Already received" not in str(again)
    assert (await teams.post(teams.personal("aad-resident", value=data)))[0] == 200  # the Action.Submit fallback
    assert len((await teams.bot.store.find("reports"))) == 1
    # The same card with the answers changed (after fixing a mistake) is a new submission; a new card too.
    assert (await teams.post(teams.invoke("aad-resident", {**data, "in:when": "yesterday"})))[0] == 200
    [again] = await teams.say("aad-resident", "report")
    assert (await teams.post(teams.invoke("aad-resident", submit_data(again.card, what="Abusive comments under the flood post",
                                                                      platform="facebook", when="today"))))[0] == 200
    assert len((await teams.bot.store.find("reports"))) == 3


async def test_other_bot_framework_channels_are_refused_when_signed_in(serve: Any, tmp_path: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Web Chat and Direct Line clients choose their own ids; roles are keyed on the AAD id Teams vouches for."""
    from councilbot_adapters.teams import TEAMS

    secured = await serve(make_settings(tmp_path, app_id="5f0c6a4e-6a43-4bd4-9d0b-3f3b0e0b1c2d", app_password="x",
                                        tenant_id="tenant-castle-cary"))

    async def accept(activity: Any, header: str) -> object:
        return object()  # as if the token were valid

    monkeypatch.setattr(secured.app[TEAMS].endpoint.auth, "authenticate_request", accept)
    for channel in ("webchat", "directline", "emulator"):
        activity = secured.personal("aad-clerk", "reports")
        activity["channelId"] = channel
        status, text = await secured.post(activity, {"Authorization": "Bearer anything"})
        assert status == 403 and "Teams only" in str(text), (channel, status)
    assert (await secured.bot.store.find("events")) == [] and secured.connector.calls == []


async def test_set_clerk_channel_is_for_the_clerk_and_survives_restart(serve: Any, tmp_path: Any) -> None:
    settings = make_settings(tmp_path)
    teams = await serve(settings)
    other = "19:office@thread.tacv2"
    before = len(teams.connector.calls)
    await teams.post(teams.in_channel("aad-cllr", "set clerk channel", channel=other))
    [refused] = teams.connector.calls[before:]
    assert "Only the Clerk" in refused.text and refused.conversation.startswith(other)
    await teams.post(teams.in_channel("aad-clerk", "set clerk channel", channel=other))
    assert "now the clerk channel" in teams.connector.calls[-1].text
    await serve.stop_all()

    teams = await serve(settings)  # a restart: the stored reference is all it has
    [form] = await teams.say("aad-resident", "report")
    data = submit_data(form.card, what="A threat sent by email to the office", platform="email", when="this morning")
    await teams.post(teams.invoke("aad-resident", data))
    [notice] = await teams.connector.wait_for(lambda c: c.op == "send" and c.conversation == other)
    assert "New report" in notice.text
    assert not teams.connector.ops("send", CLERK_CHANNEL)


async def test_private_answer_to_a_channel_mention_goes_to_a_personal_chat(teams: Teams) -> None:
    before = len(teams.connector.calls)
    await teams.post(teams.in_channel("aad-chair", "policy who has the final say", channel="19:general@thread.tacv2"))
    turn = teams.connector.calls[before:]
    created = [c for c in turn if c.op == "create"]
    assert created and created[0].body["members"][0]["id"] == "29:aad-chair"
    answer = [c for c in turn if c.conversation == created[0].response_id]
    assert answer and "From the policy" in answer[0].text
    note = [c for c in turn if c.conversation.startswith("19:general@thread.tacv2")]
    assert note and "private chat" in note[0].text and "From the policy" not in note[0].text


async def test_slow_invoke_is_answered_in_time_and_the_reply_follows(teams: Teams) -> None:
    from councilbot_adapters.teams import TEAMS

    teams.app[TEAMS].handler.invoke_budget = 0.2
    real = teams.bot.handle

    async def slow(incoming: Any) -> Any:
        await asyncio.sleep(1.5)
        return await real(incoming)

    teams.bot.handle = slow
    [form] = await teams.say("aad-resident", "report")
    data = submit_data(form.card, what="Someone keeps messaging me threats", platform="other", when="all week")
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await teams.post(teams.invoke("aad-resident", data))
    assert loop.time() - started < 1.2  # answered on the budget (0.2 s), long before the core (1.5 s)
    assert status == 200 and body["type"] == MESSAGE and "Working on it" in body["value"]
    await teams.connector.wait_for(to_person("aad-resident", "received"))


async def test_a_slow_receipt_teams_refuses_is_retried_from_the_outbox(teams: Teams) -> None:
    """The reporter's receipt comes after the invoke's answer; if the connector refuses it then,
    it is queued durably and still arrives."""
    from councilbot_adapters.teams import TEAMS

    teams.app[TEAMS].handler.invoke_budget = 0.2
    real = teams.bot.handle

    async def slow(incoming: Any) -> Any:
        await asyncio.sleep(0.4)
        return await real(incoming)

    [form] = await teams.say("aad-resident", "report")
    teams.bot.handle = slow
    teams.connector.fail(503, times=1, only="send", conversation=personal_conversation("aad-resident"))
    data = submit_data(form.card, what="Someone keeps messaging me threats", platform="other", when="all week")
    status, _ = await teams.post(teams.invoke("aad-resident", data))
    assert status == 200
    [receipt] = await teams.connector.wait_for(to_person("aad-resident", "received"))
    assert ("send", 503) in teams.connector.attempts
    await settled(teams)  # the outbox records the delivery just after the connector took it
    assert any(d["id"].startswith("teams-reply:") and d["status"] == "sent" for d in (await teams.bot.store.find("outbox")))
    assert len([c for c in teams.connector.calls if to_person("aad-resident", "received")(c)]) == 1


async def test_a_report_naming_the_clerk_in_small_letters_is_asked_about_on_the_card_and_never_reaches_her(teams: Teams) -> None:
    """The "Is this about …?" question is the invoke's answer and the card stays open; answered,
    the report goes round the Clerk to the Chair."""
    from councilbot.kinds import Role

    await teams.post(teams.bot_added_to_team())
    await teams.bot.people.set("teams:aad-clerk", Role.CLERK, "Jane Pargeter")
    [form] = await teams.say("aad-resident", "report")
    answers = {"what": "jane keeps shouting at me in the office", "platform": "in-person", "when": "yesterday"}
    status, body = await teams.post(teams.invoke("aad-resident", submit_data(form.card, **answers)))
    assert status == 200 and body["type"] == MESSAGE and "Is this about the Town Clerk (Jane Pargeter)?" in body["value"]
    assert (await teams.bot.store.find("reports")) == []
    status, body = await teams.post(teams.invoke("aad-resident", submit_data(form.card, **answers, about="clerk")))
    assert status == 200
    [record] = (await teams.bot.store.find("reports"))
    assert record["recipients"] == ["teams:aad-chair"] and "teams:aad-clerk" in record["excluded"]
    [copy] = await teams.connector.wait_for(lambda c: c.op == "send" and "jane keeps shouting" in c.text)
    await settled(teams)
    created = {c.response_id: json.dumps(c.body) for c in teams.connector.calls if c.op == "create"}
    assert "aad-chair" in created[copy.conversation]  # the Chair's own chat, opened for it
    assert not any("aad-clerk" in body for body in created.values())
    assert not [c for c in teams.connector.calls if c.conversation == personal_conversation("aad-clerk")]
