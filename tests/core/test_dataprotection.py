"""UK GDPR: subject access returns a person's records with everyone else's identifiers redacted;
erasure removes what is theirs and takes their identifier out of everything else."""

from __future__ import annotations

import json

from councilbot import dataprotection

from .kit import (
    TABLES,
    ASSISTANT, CLEAN_POST, CLERK, COUNCILLOR, COUNCILLOR2, REPORT, command, field, message, notifier, one, press,
    submit,
)

OTHERS = (CLERK, ASSISTANT, COUNCILLOR2, "test:chair")


async def populate(bot):
    """Ann files a report and two suggestions, gets flagged and asks the bot something; Ben and the
    Clerk's office have their own records that mention her."""
    notifier(bot)
    ref = field(one(await submit(bot, COUNCILLOR, "report", REPORT)), "Reference")
    await press(bot, CLERK, "report.ack", ref)
    await submit(bot, ASSISTANT, "report_note", {"note": "Called her back."}, value=ref)
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})).title.split()[1]
    await press(bot, CLERK, "suggestion.approve", sid)
    draft_sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": "Vote Labour at the election on Thursday!",
                                                               "platforms": ["facebook"], "category": "event"})).buttons[0].value
    await submit(bot, CLERK, "flag", {"author": COUNCILLOR, "text": "You are an idiot, Ben."})
    await message(bot, COUNCILLOR, "Litter pick at Milton Park with Ben")   # ambiguous: kept as a pending draft
    # Someone else's records: Ben's report, Ben's suggestion, a flag on Ben by the Clerk.
    other_ref = field(one(await submit(bot, COUNCILLOR2, "report", {**REPORT, "what": "Ben's own trouble"})), "Reference")
    other_sid = one(await submit(bot, COUNCILLOR2, "suggest", {"text": "Minutes are online.", "platforms": ["facebook"],
                                                               "category": "meetings"})).title.split()[1]
    await submit(bot, CLERK, "flag", {"author": COUNCILLOR2, "text": "What a load of bollocks."})
    await bot.outbox.drain()
    return ref, sid, draft_sid, other_ref, other_sid


async def everything(bot) -> str:
    return json.dumps({t: (await bot.store.find(t)) for t in TABLES if t != "events"})


async def test_export_person_returns_their_records_with_others_redacted(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, sid, draft_sid, other_ref, other_sid = await populate(bot)
    out = await dataprotection.export_person(bot.ctx, COUNCILLOR, actor=CLERK)

    assert [r["id"] for r in out["reports"]] == [ref]
    report = out["reports"][0]
    assert report["reporter"] == COUNCILLOR and report["what"] == REPORT["what"]
    assert report["recipients"] == ["[another person]", "[another person]"]
    assert report["acknowledged_by"] == "[another person]"
    assert [n["by"] for n in report["notes"]] == ["[another person]"]
    assert sorted(s["id"] for s in out["suggestions"]) == sorted([sid, draft_sid])
    approved = next(s for s in out["suggestions"] if s["id"] == sid)
    assert approved["decisions"][0]["by"] == "[another person]"
    (flag,) = out["flags"]
    assert flag["author"] == COUNCILLOR and flag["flagged_by"] == "[another person]"
    assert other_ref not in json.dumps(out) and other_sid not in json.dumps(out)
    assert "Ben's own trouble" not in json.dumps(out)
    # What the bot sent them is theirs too.
    assert any(d["to"] == COUNCILLOR for d in out["outbox"])
    # Their draft held for a question/check is part of what is held about them.
    assert any(d.get("text") == "Litter pick at Milton Park with Ben" for d in out.get("drafts", []))
    # No other person's identifier appears anywhere in the export.
    dumped = json.dumps(out)
    for other in OTHERS:
        assert other not in dumped, other
    assert COUNCILLOR in dumped
    # The export itself is logged.
    assert any(d["action"] == "person.exported" and d["actor"] == CLERK and d["subject"] == COUNCILLOR
               for d in (await bot.store.find("audit")))


async def test_export_of_a_clerk_redacts_the_people_they_dealt_with(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    await populate(bot)
    await command(bot, CLERK, "people", "add test:newbie councillor Nia Jones")
    out = await dataprotection.export_person(bot.ctx, CLERK)
    dumped = json.dumps(out)
    assert CLERK in dumped
    for other in (COUNCILLOR, COUNCILLOR2, ASSISTANT, "test:newbie"):
        assert other not in dumped, other


async def test_erase_person_removes_their_records_and_scrubs_their_id(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, sid, draft_sid, other_ref, other_sid = await populate(bot)
    await command(bot, CLERK, "people", f"add {COUNCILLOR} councillor Ann Hughes")
    await submit(bot, CLERK, "report_close", {"outcome": "Resolved."}, value=ref)  # open cases are not erased
    counts = await dataprotection.erase_person(bot.ctx, COUNCILLOR, actor=CLERK)

    assert await bot.store.get("reports", ref) is None
    assert await bot.store.get("suggestions", sid) is None and await bot.store.get("suggestions", draft_sid) is None
    assert [f["author"] for f in (await bot.store.find("flags"))] == [COUNCILLOR2]
    assert counts["reports"] == 1 and counts["suggestions"] == 2 and counts["flags"] == 1
    assert await bot.store.get("people", COUNCILLOR) is None
    # Other people's records are untouched.
    assert (await bot.store.get("reports", other_ref))["what"] == "Ben's own trouble"
    assert (await bot.store.get("suggestions", other_sid))["status"] == "pending"
    # Their identifier is gone from every table, and so is what they wrote.
    remaining = await everything(bot)
    assert COUNCILLOR not in remaining
    assert REPORT["what"] not in remaining
    assert CLEAN_POST not in remaining
    assert "Litter pick at Milton Park with Ben" not in remaining
    # The audit log keeps the actions (with the identifier taken out) and logs the erasure.
    actions = [(d["actor"], d["action"]) for d in (await bot.store.find("audit"))]
    assert ("[erased]", "report.filed") in actions and (CLERK, "person.erased") in actions
    # The bot carries on for everyone else.
    rec = notifier(bot)
    await press(bot, CLERK, "suggestion.approve", other_sid)
    await bot.outbox.drain()
    assert rec.to(COUNCILLOR2)


async def test_erasure_survives_a_restart(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    await populate(bot)
    await dataprotection.erase_person(bot.ctx, COUNCILLOR, include_open=True)
    await bot.stop()
    again = make_bot(tmp_path)
    assert COUNCILLOR not in await everything(again)
