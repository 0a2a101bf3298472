"""Suggested posts: the approval card, who may decide, decisions told and final, changes and
revision, drafts the checker blocks, Castle Cary's escalation to the Chair, listing and export."""

from __future__ import annotations

import csv
import io
import json

from councilbot import suggestions as suggestions_module
from councilbot.ports import CLERK_CHANNEL

from .kit import (
    ASSISTANT, CHAIR, CLEAN_POST, CLERK, COUNCILLOR, COUNCILLOR2, DEPUTY, MODERATOR, OFFICER, STRANGER, actions,
    audit_actions, command, field, notifier, one, press, refused, submit,
)

BLOCKED_POST = "Vote Labour at the election on Thursday!"
DECIDE = {"suggestion.approve", "suggestion.changes", "suggestion.reject"}


def post(text=CLEAN_POST, platforms=("facebook",), category="event", **extra):
    return {"text": text, "platforms": list(platforms), "category": category, **extra}


async def suggest(bot, user=COUNCILLOR, **kw):
    reply = one(await submit(bot, user, "suggest", post(**kw)))
    sid = reply.title.split()[1]
    assert sid.startswith("S-2026-"), reply.title
    return sid, reply


async def test_suggest_command_opens_form_with_the_councils_channels(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    reply = one(await command(bot, COUNCILLOR, "suggest", "Litter pick on Saturday"))
    assert reply.form is not None and reply.form.name == "suggest"
    platforms = next(i for i in reply.form.inputs if i.name == "platforms")
    assert [o.value for o in platforms.options] == ["facebook", "twitter"]
    assert next(i for i in reply.form.inputs if i.name == "text").initial == "Litter pick on Saturday"
    assert refused(await command(bot, STRANGER, "suggest"))
    assert refused(await submit(bot, STRANGER, "suggest", post()))
    assert (await bot.store.find("suggestions")) == []


async def test_clean_suggestion_sends_an_approval_card_to_the_clerk_channel(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid, reply = await suggest(bot)
    assert "sent to the Clerk" in reply.title and field(reply, "Check") == "OK to post"
    await bot.outbox.drain()
    (card,) = rec.to(CLERK_CHANNEL)
    assert len(rec.sent) == 1
    assert sid in card.title and not card.private
    assert field(card, "Post") == CLEAN_POST and field(card, "Suggested by") == "Cllr Ann Hughes"
    assert [(b.action, b.value) for b in card.buttons] == [
        ("suggestion.approve", sid), ("suggestion.changes", sid), ("suggestion.reject", sid)]
    # Alsager has no escalation, and its card carries the policy's note on councillor direction.
    assert "suggestion.escalate" not in actions(card)
    assert "direction of an individual Councillor" in card.footer
    assert (await bot.store.get("suggestions", sid))["status"] == "pending"


async def test_bad_platform_and_category_are_refused(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    reply = one(await submit(bot, COUNCILLOR, "suggest", post(platforms=["instagram"])))
    assert reply.tone == "danger" and [f.label for f in reply.fields] == ["platforms"]
    reply = one(await submit(bot, COUNCILLOR, "suggest", post(category="nonsense")))
    assert [f.label for f in reply.fields] == ["category"]
    assert (await bot.store.find("suggestions")) == []


async def test_approve_by_the_clerk_updates_card_tells_submitter_and_is_final(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid, _ = await suggest(bot)
    await bot.outbox.drain()
    card_ref = "test-msg-1"

    # A councillor pressing Approve is refused and changes nothing.
    assert refused(await press(bot, COUNCILLOR2, "suggestion.approve", sid))
    assert refused(await press(bot, CHAIR, "suggestion.approve", sid))
    assert (await bot.store.get("suggestions", sid))["status"] == "pending"

    done = one(await press(bot, CLERK, "suggestion.approve", sid))
    assert "approved" in done.text
    await bot.outbox.drain()
    (ref, updated) = rec.updated[-1]
    assert ref == card_ref and len(rec.updated) == 1
    assert updated.buttons == ()
    assert "Approved by Jane Pargeter" in updated.text
    (told,) = rec.to(COUNCILLOR)
    assert "approved by Jane Pargeter" in told.text and sid in told.text

    # A second press says who decided and changes nothing.
    again = one(await press(bot, ASSISTANT, "suggestion.approve", sid))
    assert "already approved by Jane Pargeter" in again.text and "Nothing has changed" in again.text
    again = one(await press(bot, ASSISTANT, "suggestion.reject", sid))
    assert "already approved" in again.text and again.form is None
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "approved" and len(record["decisions"]) == 1
    assert record["decisions"][0]["by"] == CLERK
    await bot.outbox.drain()
    assert len(rec.updated) == 1 and len(rec.to(COUNCILLOR)) == 1
    assert [a for _, a in await audit_actions(bot, sid)] == ["suggestion.submitted", "suggestion.approved"]


async def test_submitter_cannot_approve_their_own(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid, _ = await suggest(bot, CLERK)
    reply = one(await press(bot, CLERK, "suggestion.approve", sid))
    assert refused([reply]) and "your own" in reply.text
    assert refused(await submit(bot, CLERK, "decision", {"comment": "fine"}, value=f"reject:{sid}"))
    assert (await bot.store.get("suggestions", sid))["status"] == "pending"
    one(await press(bot, ASSISTANT, "suggestion.approve", sid))
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "approved" and record["decisions"][0]["by"] == ASSISTANT
    await bot.outbox.drain()
    assert "approved by Sam Okafor" in rec.to(CLERK)[0].text


async def test_request_changes_needs_a_comment_then_revision_goes_back_to_pending(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid, _ = await suggest(bot)
    await bot.outbox.drain()

    form = one(await press(bot, CLERK, "suggestion.changes", sid)).form
    assert form is not None and form.name == "decision" and form.context == f"changes:{sid}"
    assert refused(await press(bot, COUNCILLOR2, "suggestion.changes", sid))
    blank = one(await submit(bot, CLERK, "decision", {"comment": "   "}, value=f"changes:{sid}"))
    assert blank.tone == "danger" and [f.label for f in blank.fields] == ["comment"]
    assert (await bot.store.get("suggestions", sid))["status"] == "pending"

    one(await submit(bot, CLERK, "decision", {"comment": "Please add the meeting point postcode."}, value=f"changes:{sid}"))
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "changes_requested" and len(record["decisions"]) == 1
    await bot.outbox.drain()
    (told,) = rec.to(COUNCILLOR)
    assert "Please add the meeting point postcode." in told.text and "sent back for changes" in told.text
    assert [(b.action, b.value) for b in told.buttons] == [("suggestion.revise", sid)]
    (_, card) = rec.updated[-1]
    assert card.buttons == () and "Please add the meeting point postcode." in card.text

    # Only the author may revise; the Revise button opens the form filled in.
    assert refused(await press(bot, COUNCILLOR2, "suggestion.revise", sid))
    form = one(await press(bot, COUNCILLOR, "suggestion.revise", sid)).form
    assert form.name == "suggest" and form.context == sid
    assert next(i for i in form.inputs if i.name == "text").initial == CLEAN_POST

    revised_text = CLEAN_POST + " Meet at the gates, ST7 2AA."
    reply = one(await submit(bot, COUNCILLOR, "suggest", post(text=revised_text), value=sid))
    assert sid in reply.title
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "pending" and record["version"] == 2 and record["text"] == revised_text
    assert len((await bot.store.find("suggestions"))) == 1
    await bot.outbox.drain()
    cards = rec.to(CLERK_CHANNEL)
    assert len(cards) == 2 and field(cards[1], "Post") == revised_text and actions(cards[1]) == DECIDE
    # Revising again while pending is refused.
    assert refused(await submit(bot, COUNCILLOR, "suggest", post(text="again"), value=sid))

    # The decision on the revision updates the revision's card, not the first one.
    one(await press(bot, ASSISTANT, "suggestion.approve", sid))
    await bot.outbox.drain()
    (ref, updated) = rec.updated[-1]
    assert ref == "test-msg-3"  # card v1, told, card v2
    assert rec.sent[2][0] == CLERK_CHANNEL
    assert "Approved by Sam Okafor" in updated.text
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "approved" and [d["decision"] for d in record["decisions"]] == ["changes_requested", "approved"]
    assert [a for _, a in await audit_actions(bot, sid)] == [
        "suggestion.submitted", "suggestion.changes_requested", "suggestion.revised", "suggestion.approved"]


async def test_reject_needs_a_comment_and_tells_the_author(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid, _ = await suggest(bot)
    assert one(await press(bot, CLERK, "suggestion.reject", sid)).form.context == f"reject:{sid}"
    assert one(await submit(bot, CLERK, "decision", {}, value=f"reject:{sid}")).tone == "danger"
    one(await submit(bot, CLERK, "decision", {"comment": "We posted this last week."}, value=f"reject:{sid}"))
    await bot.outbox.drain()
    (told,) = rec.to(COUNCILLOR)
    assert "rejected" in told.text and "We posted this last week." in told.text and not told.buttons
    assert refused(await submit(bot, COUNCILLOR, "suggest", post(), value=sid))


async def test_do_not_post_draft_is_returned_not_sent_until_forwarded(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    reply = one(await submit(bot, COUNCILLOR, "suggest", post(text=BLOCKED_POST)))
    sid = reply.title.split()[2].rstrip(":")
    assert reply.tone == "danger" and "Not sent" in reply.title
    assert "ATC-GM-2" in reply.plain()
    assert {(b.action, b.value) for b in reply.buttons} == {("suggestion.revise", sid), ("suggestion.forward", sid)}
    assert (await bot.store.get("suggestions", sid))["status"] == "returned"
    await bot.outbox.drain()
    assert rec.sent == []
    assert refused(await press(bot, CLERK, "suggestion.approve", sid))
    assert "Nothing is waiting" in one(await command(bot, CLERK, "pending")).text

    assert refused(await press(bot, COUNCILLOR2, "suggestion.forward", sid))
    sent = one(await press(bot, COUNCILLOR, "suggestion.forward", sid))
    assert "sent to the Clerk" in sent.title
    await bot.outbox.drain()
    (card,) = rec.to(CLERK_CHANNEL)
    assert "asked for a look anyway" in field(card, "Check") and actions(card) == DECIDE
    assert any("ATC-GM-2" in f.label for f in card.fields)
    assert "already with the Clerk" in one(await press(bot, COUNCILLOR, "suggestion.forward", sid)).text
    assert [a for _, a in await audit_actions(bot, sid)] == ["suggestion.submitted", "suggestion.forwarded"]


async def test_returned_draft_can_be_revised_into_a_clean_one(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    reply = one(await submit(bot, COUNCILLOR, "suggest", post(text=BLOCKED_POST)))
    sid = reply.buttons[0].value
    one(await submit(bot, COUNCILLOR, "suggest", post(), value=sid))
    assert (await bot.store.get("suggestions", sid))["status"] == "pending"
    await bot.outbox.drain()
    assert len(rec.to(CLERK_CHANNEL)) == 1


async def test_castle_cary_escalation_hands_the_decision_to_the_chair(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    rec = notifier(bot)
    sid, _ = await suggest(bot, platforms=("facebook", "instagram"))
    await bot.outbox.drain()
    (card,) = rec.to(CLERK_CHANNEL)
    assert actions(card) == DECIDE | {"suggestion.escalate"}
    assert "final say rests with the Chair of the Council" in card.footer

    # The Chair does not decide ordinary suggestions, nor escalate.
    assert refused(await press(bot, CHAIR, "suggestion.approve", sid))
    assert refused(await press(bot, COUNCILLOR2, "suggestion.escalate", sid))
    form = one(await press(bot, MODERATOR, "suggestion.escalate", sid)).form
    assert form.name == "decision" and form.context == f"escalate:{sid}"
    one(await submit(bot, MODERATOR, "decision", {"comment": "We disagree on the photo."}, value=f"escalate:{sid}"))
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "escalated" and record["escalated_by"] == MODERATOR
    await bot.outbox.drain()
    (ask,) = rec.to(CHAIR)
    assert sid in ask.title and "We disagree on the photo." in ask.text and actions(ask) == DECIDE
    (_, updated) = rec.updated[-1]
    assert "Escalated to the Chair" in updated.text and "suggestion.escalate" not in actions(updated)
    # Escalating twice is refused.
    assert refused(await submit(bot, CLERK, "decision", {"comment": "again"}, value=f"escalate:{sid}"))

    # Clerk, Deputy and moderator can no longer decide.
    for user in (CLERK, DEPUTY, MODERATOR):
        assert refused(await press(bot, user, "suggestion.approve", sid)), user
        assert refused(await press(bot, user, "suggestion.reject", sid)), user
        assert refused(await submit(bot, user, "decision", {"comment": "no"}, value=f"reject:{sid}")), user
    assert (await bot.store.get("suggestions", sid))["status"] == "escalated"

    # The Chair decides, and that is final.
    assert one(await press(bot, CHAIR, "suggestion.changes", sid)).form.context == f"changes:{sid}"
    one(await press(bot, CHAIR, "suggestion.approve", sid))
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "approved" and len(record["decisions"]) == 1
    assert record["decisions"][0]["by"] == CHAIR and record["decisions"][0]["final"] is True
    for user in (CLERK, MODERATOR, CHAIR):
        reply = one(await press(bot, user, "suggestion.reject", sid))
        assert "already approved by Robert Finch" in reply.text and reply.form is None
    assert len((await bot.store.get("suggestions", sid))["decisions"]) == 1
    await bot.outbox.drain()
    (told,) = rec.to(COUNCILLOR)
    assert "approved by Robert Finch" in told.text
    assert [a for _, a in await audit_actions(bot, sid)] == [
        "suggestion.submitted", "suggestion.escalated", "suggestion.approved"]


async def test_castle_cary_moderator_can_decide_pending(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    sid, _ = await suggest(bot, OFFICER)
    one(await press(bot, MODERATOR, "suggestion.approve", sid))
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "approved" and record["decisions"][0]["final"] is False


async def test_alsager_has_no_escalation(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    sid, _ = await suggest(bot)
    for user in (CLERK, ASSISTANT):
        assert refused(await press(bot, user, "suggestion.escalate", sid))
        assert refused(await submit(bot, user, "decision", {"comment": "disagree"}, value=f"escalate:{sid}"))
    assert (await bot.store.get("suggestions", sid))["status"] == "pending"


async def test_pending_listing_only_for_approvers(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    sid, _ = await suggest(bot)
    sid2, _ = await suggest(bot, COUNCILLOR2, text="The library is closed on Monday for a staff training day.")
    for user in (COUNCILLOR, OFFICER, CHAIR, STRANGER, DEPUTY, "test:moderator"):
        assert refused(await command(bot, user, "pending")), user
    listing = await command(bot, CLERK, "pending")
    assert [c.title for c in listing] == [f"Suggested post {sid}", f"Suggested post {sid2}"]
    assert all(actions(c) == DECIDE for c in listing)
    await press(bot, ASSISTANT, "suggestion.approve", sid)
    assert [c.title for c in await command(bot, ASSISTANT, "pending")] == [f"Suggested post {sid2}"]


async def test_castle_cary_chair_sees_pending(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    sid, _ = await suggest(bot)
    assert [c.title for c in await command(bot, CHAIR, "pending")] == [f"Suggested post {sid}"]
    assert [c.title for c in await command(bot, MODERATOR, "pending")] == [f"Suggested post {sid}"]
    assert refused(await command(bot, COUNCILLOR, "pending"))


async def test_export_csv_and_json_of_approved_posts(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    first, _ = await suggest(bot, platforms=("facebook", "twitter"))
    second, _ = await suggest(bot, COUNCILLOR2, text="Minutes of the March meeting are now online.", category="meetings")
    rejected, _ = await suggest(bot, OFFICER, text="The market returns on Friday.")
    pending_only, _ = await suggest(bot, OFFICER, text="Road closure on Crewe Road next week.")
    clock.advance(minutes=5)
    await press(bot, CLERK, "suggestion.approve", first)
    await press(bot, ASSISTANT, "suggestion.approve", second)
    await submit(bot, CLERK, "decision", {"comment": "Not ours to post."}, value=f"reject:{rejected}")

    rows = list(csv.DictReader(io.StringIO(await suggestions_module.export(bot.ctx, "csv"))))
    assert [r["id"] for r in rows] == [first, second]
    assert rows[0] == {"id": first, "approved_at": "2026-03-02T10:05:00+00:00", "approved_by": "Jane Pargeter",
                       "platforms": "facebook,twitter", "category": "event", "text": CLEAN_POST}
    assert rows[1]["approved_by"] == "Sam Okafor" and rows[1]["category"] == "meetings"
    data = json.loads(await suggestions_module.export(bot.ctx, "json"))
    assert data == rows
    assert pending_only not in str(data) and rejected not in str(data)

    # Through the door: the Clerk may export, a councillor may not; exports are audited.
    reply = one(await command(bot, CLERK, "export", "json"))
    assert json.loads(reply.text) == data and "JSON" in reply.title
    reply = one(await command(bot, CLERK, "export"))
    assert reply.text.splitlines()[0] == ",".join(suggestions_module.EXPORT_COLUMNS)
    assert refused(await command(bot, COUNCILLOR, "export"))
    exports = [d for d in (await bot.store.find("audit")) if d["action"] == "suggestions.exported"]
    assert [(d["actor"], d["format"]) for d in exports] == [(CLERK, "json"), (CLERK, "csv")]


async def test_castle_cary_a_moderator_who_disagrees_with_a_decision_escalates_it(tmp_path, make_bot):
    bot = make_bot(tmp_path, council="castle-cary")
    rec = notifier(bot)
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    one(await submit(bot, CLERK, "decision", {"comment": "Not this month."}, value=f"reject:{sid}"))
    # Another moderator disagrees and hands it to the Chair, with a reason.
    assert "what the moderators disagree on" in one(await command(bot, MODERATOR, "escalate", sid)).text
    assert (await bot.store.get("suggestions", sid))["status"] == "rejected"
    one(await command(bot, MODERATOR, "escalate", f"{sid} The event is council-run; it should go out."))
    record = await bot.store.get("suggestions", sid)
    assert record["status"] == "escalated" and record["decisions"][0]["decision"] == "rejected"
    await bot.outbox.drain()
    assert any("referred to the Chair" in r.title for r in rec.to(COUNCILLOR))
    # The clerk cannot re-decide; the Chair's decision is final and cannot be escalated again.
    assert refused(await press(bot, CLERK, "suggestion.approve", sid))
    one(await press(bot, CHAIR, "suggestion.approve", sid))
    final = await bot.store.get("suggestions", sid)
    assert final["status"] == "approved" and final["decisions"][-1]["final"] is True
    assert refused(await command(bot, MODERATOR, "escalate", f"{sid} still disagree"))
