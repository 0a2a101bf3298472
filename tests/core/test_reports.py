"""Reports of threats and abuse: receipt, confidential delivery, conflict-aware routing, the
recipients' workflow, visibility, audit, overdue reminders and retention."""

from __future__ import annotations

import re

from councilbot import reports as reports_module
from councilbot.ports import CLERK_CHANNEL

from .kit import (
    TABLES,
    ASSISTANT, CHAIR, CLERK, COUNCILLOR, COUNCILLOR2, DEPUTY, REPORT, actions, audit_actions, command, field,
    notifier, one, press, refused, submit,
)


async def file_report(bot, user=COUNCILLOR, **changes):
    reply = one(await submit(bot, user, "report", {**REPORT, **changes}))
    ref = field(reply, "Reference")
    return ref, reply


async def test_report_command_opens_the_form(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    reply = one(await command(bot, COUNCILLOR, "report"))
    assert reply.form is not None and reply.form.name == "report"
    names = {i.name for i in reply.form.inputs}
    assert {"what", "platform", "when", "who", "about", "danger", "evidence"} <= names


async def test_filing_gives_reference_and_receipt_with_evidence_advice(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, reply = await file_report(bot)
    assert re.fullmatch(r"R-2026-\d{4}", ref)
    assert ref in reply.title and reply.tone == "ok"
    text = reply.plain()
    assert "in confidence" in text
    assert reports_module.EVIDENCE_ADVICE in text
    assert reports_module.DANGER_ADVICE not in text  # not urgent: no "call 999 now" first
    assert text.splitlines()[-2] == reports_module.SAFETY_LINE  # but where to turn if that changes
    # References are never reused.
    ref2, _ = await file_report(bot, COUNCILLOR2)
    assert ref2 != ref and ref2 == "R-2026-0002"


async def test_missing_what_is_refused_with_the_field_named(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    reply = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "what": "  "}))
    assert reply.tone == "danger" and [f.label for f in reply.fields] == ["what"]
    assert (await bot.store.find("reports")) == []


async def test_delivered_by_dm_to_recipients_and_channel_gets_notice_without_contents(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, _ = await file_report(bot)
    await bot.outbox.drain()
    # Alsager: the Clerk and the Assistant Clerk receive reports, each by direct message.
    for recipient in (CLERK, ASSISTANT):
        (copy,) = rec.to(recipient)
        assert ref in copy.title and "URGENT" not in copy.title
        assert field(copy, "What happened") == REPORT["what"]
        assert field(copy, "From") == REPORT["who"]
        assert field(copy, "Reported by") == "Cllr Ann Hughes"
        assert {"report.ack", "report.note", "report.host", "report.close"} <= actions(copy)
    assert rec.to(CHAIR) == [] and rec.to(DEPUTY) == []
    (notice,) = rec.to(CLERK_CHANNEL)
    assert ref in notice.plain()
    assert not notice.private
    channel_text = notice.plain()
    for secret in (REPORT["what"], REPORT["who"], "LocalWatcher77", "Ann Hughes", "know where I live", REPORT["link"]):
        assert secret not in channel_text
    assert not notice.fields
    # Nothing else went anywhere: two DMs and one notice.
    assert len(rec.sent) == 3


async def test_castle_cary_recipients_are_clerk_and_deputy(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    rec = notifier(bot)
    ref, _ = await file_report(bot)
    await bot.outbox.drain()
    assert sorted(a for a, _ in rec.sent if a != CLERK_CHANNEL) == sorted([CLERK, DEPUTY])
    assert (await bot.store.get("reports", ref))["recipients"] == sorted([CLERK, DEPUTY])


async def test_immediate_danger_says_999_first_and_clerk_copy_is_urgent(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, reply = await file_report(bot, danger=True)
    lines = reply.text.splitlines()
    assert "999" in lines[0] and "before anything else" in lines[0]
    assert reply.tone == "danger"
    assert reports_module.EVIDENCE_ADVICE in reply.text
    await bot.outbox.drain()
    (copy,) = rec.to(CLERK)
    assert copy.title.startswith("URGENT") and copy.tone == "danger"
    (notice,) = rec.to(CLERK_CHANNEL)
    assert notice.text.startswith("URGENT")
    assert REPORT["what"] not in notice.plain()


async def test_danger_toggle_given_as_text_counts(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, reply = await file_report(bot, danger="true")
    assert (await bot.store.get("reports", ref))["urgent"] is True
    assert "999" in reply.text.splitlines()[0]


async def test_report_naming_the_clerk_goes_to_the_chair_and_clerk_cannot_see_it(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, reply = await file_report(bot, who="The town clerk, from her personal account")
    assert "Chair of the Council" in reply.text and "cannot see it" in reply.text
    record = await bot.store.get("reports", ref)
    assert record["recipients"] == [CHAIR]
    assert CLERK in record["excluded"]
    await bot.outbox.drain()
    assert [a for a, _ in rec.sent] == [CHAIR]
    assert rec.to(CLERK) == [] and rec.to(CLERK_CHANNEL) == []
    # The Clerk gets the same answer as for a report that does not exist.
    missing = one(await press(bot, CLERK, "report.view", "R-2026-0999"))
    hidden = one(await press(bot, CLERK, "report.view", ref))
    assert refused([hidden]) and hidden.text == missing.text.replace("R-2026-0999", ref)
    for action in ("report.ack", "report.note", "report.host", "report.close"):
        assert refused(await press(bot, CLERK, action, ref)), action
    for form, key in (("report_note", "note"), ("report_host", "detail"), ("report_close", "outcome")):
        assert refused(await submit(bot, CLERK, form, {key: "x"}, value=ref)), form
    listing = one(await command(bot, CLERK, "reports"))
    assert ref not in listing.plain()
    assert (await bot.store.get("reports", ref))["status"] == "open"
    assert ("test:clerk", "report.read") not in await audit_actions(bot, ref)
    # The Chair can read and act on it.
    view = one(await press(bot, CHAIR, "report.view", ref))
    assert field(view, "What happened") == REPORT["what"]


async def test_report_about_clerk_by_form_answer_goes_to_chair(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    rec = notifier(bot)
    ref, _ = await file_report(bot, about="clerk", who="")
    record = await bot.store.get("reports", ref)
    assert record["recipients"] == [CHAIR] and record["excluded"] == [CLERK]
    await bot.outbox.drain()
    assert [a for a, _ in rec.sent] == [CHAIR]
    assert refused(await press(bot, CLERK, "report.view", ref))
    # The Deputy Clerk is not a recipient either: it went to the Chair instead.
    assert refused(await press(bot, DEPUTY, "report.view", ref))


async def test_report_naming_the_clerk_by_name_goes_round_them(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot, who="Jane Pargeter")
    record = await bot.store.get("reports", ref)
    assert record["recipients"] == [CHAIR] and CLERK in record["excluded"]


async def test_assistant_clerk_is_not_mistaken_for_the_clerk(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot, who="the assistant town clerk")
    record = await bot.store.get("reports", ref)
    assert record["excluded"] == [ASSISTANT]
    assert record["recipients"] == [CHAIR]
    assert CLERK not in record["excluded"]


async def test_full_workflow_with_reporter_told_and_every_step_audited(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, _ = await file_report(bot)
    await bot.outbox.drain()

    # Two reads by the Clerk are two audit entries.
    for _ in range(2):
        view = one(await press(bot, CLERK, "report.view", ref))
        assert field(view, "What happened") == REPORT["what"]

    clock.advance(hours=1)
    ack = one(await press(bot, CLERK, "report.ack", ref))
    assert field(ack, "Status") == "acknowledged" and "report.ack" not in actions(ack)
    again = one(await press(bot, ASSISTANT, "report.ack", ref))
    assert "already acknowledged" in again.text
    await bot.outbox.drain()
    (told,) = rec.to(COUNCILLOR)
    assert "acknowledged" in told.text and ref in told.text

    form = one(await press(bot, CLERK, "report.note", ref)).form
    assert form is not None and form.name == "report_note" and form.context == ref
    noted = one(await submit(bot, ASSISTANT, "report_note", {"note": "Spoke to the police, ref 123."}, value=ref))
    assert "Spoke to the police, ref 123." in noted.plain()
    assert one(await press(bot, CLERK, "report.host", ref)).form.name == "report_host"
    hosted = one(await submit(bot, CLERK, "report_host", {"detail": "Reported the account to Facebook"}, value=ref))
    assert "Reported the account to Facebook" in field(hosted, "Reported to the platform")
    assert one(await press(bot, CLERK, "report.close", ref)).form.name == "report_close"
    empty = one(await submit(bot, CLERK, "report_close", {"outcome": ""}, value=ref))
    assert empty.tone == "danger"
    assert (await bot.store.get("reports", ref))["status"] == "acknowledged"
    closed = one(await submit(bot, CLERK, "report_close", {"outcome": "Account suspended by Facebook."}, value=ref))
    # Once closed, only the reference numbers and the evidence bundle remain (the police may come later).
    assert actions(closed) == {"report.refs", "report.bundle"}
    record = await bot.store.get("reports", ref)
    assert record["status"] == "closed" and record["outcome"] == "Account suspended by Facebook."
    assert record["acknowledged_by"] == CLERK and record["closed_by"] == CLERK
    await bot.outbox.drain()
    told = rec.to(COUNCILLOR)
    assert len(told) == 2 and "closed" in told[1].text and "Account suspended by Facebook." in told[1].text
    # Closing twice changes nothing and tells nobody again.
    again = one(await submit(bot, ASSISTANT, "report_close", {"outcome": "Other"}, value=ref))
    assert "already closed" in again.text
    assert (await bot.store.get("reports", ref))["outcome"] == "Account suspended by Facebook."
    await bot.outbox.drain()
    assert len(rec.to(COUNCILLOR)) == 2

    # The reporter sees the status, not the workflow.
    mine = one(await press(bot, COUNCILLOR, "report.view", ref))
    assert "closed" in mine.text and REPORT["what"] not in mine.plain()
    assert refused(await press(bot, COUNCILLOR, "report.ack", ref))

    assert await audit_actions(bot, ref) == [
        (COUNCILLOR, "report.filed"),
        (CLERK, "report.read"),
        (CLERK, "report.read"),
        (CLERK, "report.acknowledged"),
        (ASSISTANT, "report.note"),
        (CLERK, "report.host_reported"),
        (CLERK, "report.closed"),
    ]
    # The audit log holds ids and actions, never the contents.
    assert REPORT["what"] not in str((await bot.store.find("audit")))


async def test_councillor_cannot_view_or_act_on_someone_elses_report(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot)
    for action in ("report.view", "report.ack", "report.note", "report.host", "report.close"):
        reply = one(await press(bot, COUNCILLOR2, action, ref))
        assert refused([reply]) and REPORT["what"] not in reply.plain(), action
    for form, key in (("report_note", "note"), ("report_host", "detail"), ("report_close", "outcome")):
        assert refused(await submit(bot, COUNCILLOR2, form, {key: "x"}, value=ref)), form
    assert "No reports to show" in one(await command(bot, COUNCILLOR2, "reports")).text
    record = await bot.store.get("reports", ref)
    assert record["status"] == "open" and record["notes"] == [] and record["host_reported"] is None
    assert [a for _, a in await audit_actions(bot, ref)] == ["report.filed"]


async def test_overdue_reminders_once_a_day_and_listed_as_overdue(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, _ = await file_report(bot)          # Monday 10:00: due Wednesday 10:00
    await bot.outbox.drain()
    sent_before = len(rec.sent)

    clock.advance(days=1, hours=23)          # Wednesday 09:00: not yet due
    assert (await bot.housekeeping())["overdue_reminded"] == 0
    assert "OVERDUE" not in one(await command(bot, CLERK, "reports")).plain()

    clock.advance(hours=2)                   # Wednesday 11:00: overdue
    assert (await bot.housekeeping())["overdue_reminded"] == 1
    await bot.outbox.drain()
    reminders = rec.sent[sent_before:]
    assert sorted(a for a, _ in reminders) == sorted([CLERK, ASSISTANT])
    assert all(ref in r.title and "Overdue" in r.title for _, r in reminders)
    listing = one(await command(bot, CLERK, "reports"))
    assert "OVERDUE" in listing.plain() and "1 overdue" in listing.text

    clock.advance(hours=5)                   # same day: no second reminder
    assert (await bot.housekeeping())["overdue_reminded"] == 0
    await bot.outbox.drain()
    assert len(rec.sent) == sent_before + 2

    clock.advance(days=1)                    # next day: one more each
    assert (await bot.housekeeping())["overdue_reminded"] == 1
    await bot.outbox.drain()
    assert len(rec.sent) == sent_before + 4

    await press(bot, CLERK, "report.ack", ref)
    clock.advance(days=1)
    assert (await bot.housekeeping())["overdue_reminded"] == 0
    assert "OVERDUE" not in one(await command(bot, CLERK, "reports")).plain()


async def test_deadline_counts_working_days_over_a_weekend(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    clock.advance(days=4)                    # Friday 6 March 10:00: due Tuesday 10 March 10:00
    ref, reply = await file_report(bot)
    assert "Tue 10 Mar 2026" in reply.text
    clock.advance(days=3, hours=23)          # Tuesday 09:00
    assert (await bot.housekeeping())["overdue_reminded"] == 0
    clock.advance(hours=2)
    assert (await bot.housekeeping())["overdue_reminded"] == 1


async def test_overdue_report_about_clerk_reminds_only_the_chair(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    await file_report(bot, about="clerk")
    await bot.outbox.drain()
    clock.advance(days=3)
    await bot.housekeeping()
    await bot.outbox.drain()
    assert {a for a, _ in rec.sent} == {CHAIR}
    assert len(rec.to(CHAIR)) == 2


async def test_closed_reports_purged_after_retention_and_logged(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    notifier(bot)
    old, _ = await file_report(bot)
    kept_open, _ = await file_report(bot, COUNCILLOR2)
    await submit(bot, CLERK, "report_close", {"outcome": "Resolved."}, value=old)
    clock.advance(days=10)
    recent, _ = await file_report(bot)
    await submit(bot, CLERK, "report_close", {"outcome": "Resolved too."}, value=recent)
    await bot.outbox.drain()

    clock.advance(days=364)                  # 374 days after the first close, 364 after the second
    assert (await bot.housekeeping())["purged"] == 1
    assert await bot.store.get("reports", old) is None
    assert await bot.store.get("reports", recent) is not None
    assert await bot.store.get("reports", kept_open) is not None
    purged = [d for d in (await bot.store.find("audit")) if d["action"] == "report.purged"]
    assert [(d["actor"], d["subject"], d["retention_days"]) for d in purged] == [("system", old, 365)]
    # Storage limitation: nothing of the purged report's contents is left anywhere in the store.
    for table in TABLES:
        for doc in (await bot.store.find(table)):
            assert REPORT["what"] not in str(doc) or old not in str(doc), (table, doc.get("id"))
    assert (await bot.housekeeping())["purged"] == 0
    clock.advance(days=2)
    assert (await bot.housekeeping())["purged"] == 1
    assert await bot.store.get("reports", recent) is None
