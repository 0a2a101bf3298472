"""Holes a fresh-eyes review found, each pinned by a test: report routing, access after a role
change, subject access, who may change the chain, card races, numbering, delivery robustness."""

from __future__ import annotations

import asyncio

from councilbot.app import IN_FLIGHT_SECONDS
from councilbot.dataprotection import subject_access
from councilbot.kinds import Role
from councilbot.ports import CLERK_CHANNEL

from .kit import (ASSISTANT, CHAIR, CLEAN_POST, CLERK, COUNCILLOR, COUNCILLOR2, MODERATOR, REPORT, command, message,
                  notifier, one, press, refused, submit)


async def _file(bot, user=COUNCILLOR, **changes):
    reply = one(await submit(bot, user, "report", {**REPORT, **changes}))
    ref = next(f.value for f in reply.fields if f.label == "Reference")
    return ref, reply


async def test_a_role_named_in_what_happened_routes_around_that_role(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot, who="", what="The town clerk has been sending me abusive messages.")
    record = await bot.store.get("reports", ref)
    assert CLERK in record["excluded"] and CLERK not in record["recipients"] and record["recipients"] == [CHAIR]
    assert refused(await press(bot, CLERK, "report.view", ref))


async def test_a_full_name_with_a_bracketed_title_still_routes_around(tmp_path, make_bot):
    bot = make_bot(tmp_path, names={CLERK: "Jane Pargeter (Town Clerk)", CHAIR: "Robert Finch"})
    ref, _ = await _file(bot, who="Jane Pargeter")
    assert (await bot.store.get("reports", ref))["recipients"] == [CHAIR]


async def test_a_platform_display_name_never_reroutes_a_report(tmp_path, make_bot):
    bot = make_bot(tmp_path, names={})
    await command(bot, CLERK, "help", display_name="Will Jones")  # what the platform calls the Clerk
    ref, _ = await _file(bot, what="Will Jones from the football club keeps posting my address.")
    assert CLERK in (await bot.store.get("reports", ref))["recipients"]  # a namesake, not the Clerk: only names the Clerk gave count
    named, _ = await _file(bot, what="Will Jones keeps posting my address.", about="clerk")
    assert CLERK not in (await bot.store.get("reports", named))["recipients"]


async def test_the_clerk_and_the_chair_named_together_are_both_left_out(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot, who="The clerk and the Chair")
    record = await bot.store.get("reports", ref)
    assert {CLERK, CHAIR} <= set(record["excluded"]) and record["recipients"] == [ASSISTANT]


async def test_nobody_safe_to_receive_it_is_told_truthfully(tmp_path, make_bot):
    people = {CLERK: Role.CLERK, CHAIR: Role.CHAIR, COUNCILLOR: Role.COUNCILLOR}
    bot = make_bot(tmp_path, people=people, names={CLERK: "Jane Pargeter", CHAIR: "Robert Finch"})
    ref, reply = await _file(bot, who="The Town Clerk and Robert Finch")
    record = await bot.store.get("reports", ref)
    assert record["recipients"] == [] and set(record["excluded"]) == {CLERK, CHAIR}
    assert "nobody who could receive it safely" in reply.text
    assert refused(await press(bot, CLERK, "report.view", ref)) and refused(await press(bot, CHAIR, "report.view", ref))


async def test_losing_the_role_loses_access_to_reports(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot)
    assert ASSISTANT in (await bot.store.get("reports", ref))["recipients"]
    one(await command(bot, CLERK, "people", f"remove {ASSISTANT}"))
    assert refused(await press(bot, ASSISTANT, "report.view", ref))
    assert refused(await press(bot, ASSISTANT, "report.ack", ref))


async def test_subject_access_withholds_a_report_about_the_requester(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot, who="the Town Clerk")
    result = await subject_access(bot.ctx, CLERK)
    assert "reports" not in result.export
    assert ref not in str(result.export)  # not even its reference: that it exists is confidential too
    assert {"table": "reports", "id": ref} in [{"table": w["table"], "id": w["id"]} for w in result.withheld]
    assert REPORT["what"] not in str(result.export)


async def test_the_clerk_cannot_change_the_chain_from_chat(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    assert refused(await command(bot, CLERK, "people", "add test:other-account chair"))
    assert refused(await command(bot, CLERK, "people", f"remove {CHAIR}"))
    assert bot.people.role(CHAIR) is Role.CHAIR
    one(await command(bot, CLERK, "people", "add test:newbie councillor New Person"))
    assert bot.people.role("test:newbie") is Role.COUNCILLOR


async def test_a_decided_card_tells_only_approvers_who_decided(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    one(await press(bot, CLERK, "suggestion.approve", sid))
    answer = one(await press(bot, COUNCILLOR2, "suggestion.approve", sid))
    assert refused([answer]) and "Pargeter" not in answer.text


async def test_a_counter_left_behind_skips_used_numbers(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    first, _ = await _file(bot)
    await bot.store.update("counters", first.rsplit("-", 1)[0], {"value": 0})  # as after restoring an old counter
    second, reply = await _file(bot)
    assert second != first and await bot.store.get("reports", second) is not None and second in reply.text


async def test_delivery_survives_a_record_forgotten_while_sending(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, _ = await _file(bot)
    real_send = rec.send

    async def slow_send(to, reply):
        await bot.outbox.forget(ref)  # an erasure lands while this message is on its way
        return await real_send(to, reply)

    rec.send = slow_send  # type: ignore[method-assign]
    await bot.outbox.deliver_due()  # must not raise
    rec.send = real_send  # type: ignore[method-assign]
    # The one in flight went; the rest of the report's messages, forgotten meanwhile, did not.
    assert len(rec.sent) == 1 and await bot.outbox.depth() == 0 and (await bot.store.find("outbox")) == []


async def test_a_card_decided_while_being_posted_is_brought_up_to_date(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    real_send = rec.send

    async def racing_send(to, reply):
        ref = await real_send(to, reply)
        if to == CLERK_CHANNEL and reply.buttons:
            await press(bot, CLERK, "suggestion.approve", sid)  # decided while the card was in flight
        return ref

    rec.send = racing_send  # type: ignore[method-assign]
    await bot.outbox.drain()
    rec.send = real_send  # type: ignore[method-assign]
    await bot.outbox.drain()
    assert rec.updated and not rec.updated[-1][1].buttons and "Approved" in rec.updated[-1][1].text


async def test_the_worker_keeps_going_after_a_failed_pass(tmp_path, make_bot, monkeypatch):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    calls = {"n": 0}
    real = bot.outbox._deliver_due

    async def flaky() -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        return await real()

    monkeypatch.setattr(bot.outbox, "_deliver_due", flaky)
    monkeypatch.setattr("councilbot.outbox.FAILED_PASS_PAUSE", 0.01)
    await _file(bot)
    bot.outbox.start()
    for _ in range(200):
        if rec.sent:
            break
        await asyncio.sleep(0.02)
    await bot.outbox.stop()
    assert calls["n"] >= 2 and rec.sent


async def test_a_chair_written_suggestion_can_still_be_settled(tmp_path, make_bot):
    bot = make_bot(tmp_path, council="castle-cary")
    sid = one(await submit(bot, CHAIR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    one(await submit(bot, MODERATOR, "decision", {"comment": "We disagree."}, value=f"escalate:{sid}"))
    assert refused(await press(bot, CHAIR, "suggestion.approve", sid))  # not their own
    one(await press(bot, CLERK, "suggestion.approve", sid))
    assert (await bot.store.get("suggestions", sid))["status"] == "approved"


async def test_flagging_someone_on_an_unknown_platform_is_refused(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    notifier(bot)
    reply = one(await submit(bot, CLERK, "flag", {"author": "myspace:tom", "text": "what a f*cking mess"}))
    assert reply.tone == "danger" and (await bot.store.find("flags")) == []


async def test_an_ambiguous_message_is_forgotten_once_answered(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    buttons = one(await message(bot, COUNCILLOR, "Cllr Smith is a liar")).buttons
    draft_id = buttons[0].value
    assert await bot.store.get("drafts", draft_id) is not None
    one(await press(bot, COUNCILLOR, "dm.check", draft_id))
    assert await bot.store.get("drafts", draft_id) is None


async def test_a_second_escalation_after_a_revision_reaches_the_chair_again(tmp_path, make_bot):
    bot = make_bot(tmp_path, council="castle-cary")
    rec = notifier(bot)
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    one(await submit(bot, MODERATOR, "decision", {"comment": "We disagree."}, value=f"escalate:{sid}"))
    one(await submit(bot, CHAIR, "decision", {"comment": "Add the time."}, value=f"changes:{sid}"))
    one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST + " 10am.", "platforms": ["facebook"], "category": "event"}, value=sid))
    one(await command(bot, MODERATOR, "escalate", f"{sid} Still disagree about the photo."))
    await bot.outbox.drain()
    assert len([r for r in rec.to(CHAIR) if r.title.startswith("Your decision is needed")]) == 2


async def test_stopping_makes_a_last_delivery_pass(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    bot.outbox.start()
    await _file(bot)
    await bot.outbox.stop()
    assert rec.sent and await bot.outbox.depth() == 0


async def test_a_former_recipient_cannot_even_open_a_report_form(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot)
    one(await command(bot, CLERK, "people", f"remove {ASSISTANT}"))
    for action in ("report.close", "report.note", "report.host"):
        assert refused(await press(bot, ASSISTANT, action, ref))


async def test_the_clerk_settles_every_way_when_the_chair_wrote_it(tmp_path, make_bot):
    bot = make_bot(tmp_path, council="castle-cary")
    sid = one(await submit(bot, CHAIR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    one(await submit(bot, MODERATOR, "decision", {"comment": "We disagree."}, value=f"escalate:{sid}"))
    assert one(await press(bot, CLERK, "suggestion.reject", sid)).form is not None
    one(await submit(bot, CLERK, "decision", {"comment": "Not now."}, value=f"reject:{sid}"))
    assert (await bot.store.get("suggestions", sid))["status"] == "rejected"


async def test_a_bare_command_word_typed_as_a_message_is_the_command(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    assert one(await message(bot, CLERK, "pending")).title == "Pending suggestions"
    assert one(await message(bot, CLERK, "/reports")).title == "Reports"


async def test_housekeeping_prunes_old_event_claims_and_delivered_messages(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    notifier(bot)
    ref = next(f.value for f in one(await submit(bot, COUNCILLOR, "report", REPORT, event_id="Ev-old")).fields if f.label == "Reference")
    one(await press(bot, CLERK, "report.ack", ref))  # acknowledged: no overdue reminders to add
    await bot.outbox.drain()
    clock.advance(days=8)
    await bot.housekeeping()
    assert (await bot.store.find("events")) == [] and (await bot.store.find("outbox"))  # delivered messages stay 90 days
    clock.advance(days=90)
    await bot.housekeeping()
    assert (await bot.store.find("outbox")) == [] and len((await bot.store.find("reports"))) == 1  # the record itself stays


async def test_lone_surrogates_from_a_platform_are_stored_not_crashed_on(tmp_path, make_bot):
    """JSON may carry "\\ud800"; such text cannot be written to disk, so it is repaired at the door
    and the suggestion is filed and survives a restart."""
    bot = make_bot(tmp_path)
    text = CLEAN_POST + " \ud800 and \ud83d\ude00"
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": text, "platforms": ["facebook"], "category": "event"},
                           display_name="Sam \udfff")).title.split()[1]
    again = make_bot(tmp_path)
    stored = (await again.store.get("suggestions", sid))["text"]
    assert stored.endswith(" \ufffd and \U0001F600")


async def test_a_report_whose_handling_a_crash_interrupted_is_filed_on_the_retry(tmp_path, make_bot, clock):
    """The claim on the event is written first; if the process dies before the record, the
    platform's retry of the same event must file it, not be ignored as a duplicate (Slack retries
    after a minute, well past the time a live replica takes to handle an event)."""
    bot = make_bot(tmp_path)
    assert await bot.store.claim(f"{COUNCILLOR}:evt-1")  # as the process did just before it died
    again = make_bot(tmp_path)
    clock.advance(seconds=IN_FLIGHT_SECONDS + 1)
    [receipt] = await submit(again, COUNCILLOR, "report", REPORT, event_id="evt-1")
    [report] = (await again.store.find("reports"))
    assert report["id"] in receipt.title + receipt.text + str(receipt.fields)
    assert (await again.store.get("events", f"{COUNCILLOR}:evt-1"))["state"] == "done"
    assert await submit(again, COUNCILLOR, "report", REPORT, event_id="evt-1") == [receipt]  # and only once
    assert len((await again.store.find("reports"))) == 1


async def test_a_retry_while_another_replica_still_handles_the_event_is_a_duplicate(tmp_path, make_bot, clock):
    """Replicas share the store: a claim younger than IN_FLIGHT_SECONDS may be in hand elsewhere,
    so the platform's retry that reached this replica files nothing; once the claim is that old
    with no record, its handler died, and the retry files the report."""
    first = make_bot(tmp_path)
    assert await first.store.claim(f"{COUNCILLOR}:evt-2")  # another replica is handling it now
    assert await submit(first, COUNCILLOR, "report", REPORT, event_id="evt-2") == []
    assert await first.store.find("reports") == []
    clock.advance(seconds=IN_FLIGHT_SECONDS + 1)
    [receipt] = await submit(first, COUNCILLOR, "report", REPORT, event_id="evt-2")
    assert len(await first.store.find("reports")) == 1 and "received" in receipt.title


async def test_a_retry_after_the_record_was_written_does_not_file_it_twice(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    first = await submit(bot, COUNCILLOR, "report", REPORT, event_id="evt-2")
    await bot.store.update("events", f"{COUNCILLOR}:evt-2", {"state": "pending"})  # died before marking it done
    again = make_bot(tmp_path)
    assert await submit(again, COUNCILLOR, "report", REPORT, event_id="evt-2") == first  # its receipt, again
    assert len((await again.store.find("reports"))) == 1
    assert COUNCILLOR not in (await again.store.find("reports"))[0]["event"]  # a digest, not the person's id


async def test_the_last_person_who_manages_people_cannot_remove_or_demote_themselves(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    for words in (f"remove {CLERK}", f"add {CLERK} councillor"):
        assert refused(await command(bot, CLERK, "people", words))
        assert bot.ctx.people.role(CLERK) == Role.CLERK
    # With a second clerk, the first may step down; the second keeps the bot manageable.
    one(await command(bot, CLERK, "people", "add test:newclerk clerk Nia Evans"))
    assert not refused(await command(bot, CLERK, "people", f"remove {CLERK}"))
    assert bot.ctx.people.role(CLERK) is None
    assert refused(await command(bot, "test:newclerk", "people", "remove test:newclerk"))


async def test_a_report_filed_before_anyone_can_receive_it_reaches_them_once_they_are_set_up(tmp_path, make_bot):
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR}, names={})
    chat = notifier(bot)
    ref, reply = await _file(bot)
    assert "nobody who could receive it" in reply.text
    assert (await bot.store.get("reports", ref))["recipients"] == []
    await bot.outbox.drain(timeout=2)
    assert chat.to(CLERK_CHANNEL) == []  # the channel is not told a report went to recipients that do not exist
    await bot.stop()

    # The operator adds the Clerk to the config and restarts: housekeeping routes the report.
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, CLERK: Role.CLERK}, names={})
    chat = notifier(bot)
    assert (await bot.housekeeping())["routed"] == 1
    await bot.outbox.drain(timeout=2)
    assert any(ref in (r.title or "") for r in chat.to(CLERK))
    assert any("now reached" in r.text for r in chat.to(COUNCILLOR))
    assert len(chat.to(CLERK_CHANNEL)) == 1
    assert not refused(await press(bot, CLERK, "report.view", ref))
    assert (await bot.housekeeping())["routed"] == 0  # once



async def test_a_report_about_the_clerk_with_no_chair_waits_for_the_chair_not_for_a_clerk_appointee(tmp_path, make_bot):
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, CLERK: Role.CLERK}, names={})
    ref, _ = await _file(bot, who="the Town Clerk")
    assert (await bot.store.get("reports", ref))["recipients"] == []
    one(await command(bot, CLERK, "people", f"add {ASSISTANT} assistant_clerk Sam Okafor"))
    assert (await bot.housekeeping())["routed"] == 0  # someone the Clerk just appointed is not who should read it
    await bot.stop()
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, CLERK: Role.CLERK, CHAIR: Role.CHAIR}, names={})
    assert (await bot.housekeeping())["routed"] == 1
    assert (await bot.store.get("reports", ref))["recipients"] == [CHAIR]


async def test_a_report_naming_a_clerk_who_was_not_yet_set_up_never_reaches_that_clerk(tmp_path, make_bot):
    """Who a report involves is worked out again when it is finally routed: "the Town Clerk" in a
    report filed before there was a Clerk means the Clerk who has just been added."""
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR}, names={})
    ref, _ = await _file(bot, about="clerk", who="The Town Clerk")
    assert (await bot.store.get("reports", ref))["recipients"] == []
    await bot.stop()
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, CLERK: Role.CLERK}, names={})
    chat = notifier(bot)
    assert (await bot.housekeeping())["routed"] == 0
    record = await bot.store.get("reports", ref)
    assert record["recipients"] == [] and CLERK in record["excluded"]
    await bot.outbox.drain(timeout=2)
    assert chat.to(CLERK) == [] and refused(await press(bot, CLERK, "report.view", ref))
    await bot.stop()
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, CLERK: Role.CLERK, CHAIR: Role.CHAIR}, names={})
    assert (await bot.housekeeping())["routed"] == 1
    assert (await bot.store.get("reports", ref))["recipients"] == [CHAIR]
    assert refused(await press(bot, CLERK, "report.view", ref))
