"""A platform's retry of the same event (same ``event_id``) creates one record, even across a restart."""

from __future__ import annotations

from councilbot.messages import Incoming

from .kit import CLEAN_POST, CLERK, COUNCILLOR, REPORT, notifier, one

SUGGESTION = {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}


async def test_same_event_twice_files_one_report(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    event = Incoming("form", COUNCILLOR, name="report", values=REPORT, event_id="Ev123")
    first = await bot.handle(event)
    assert "received" in one(first).title
    # The same form again (Submit pressed once more): the same receipt, with the reference.
    assert await bot.handle(event) == first
    assert len((await bot.store.find("reports"))) == 1
    await bot.outbox.drain()
    assert len(rec.to(CLERK)) == 1
    # A different event from the same person is a new report.
    await bot.handle(Incoming("form", COUNCILLOR, name="report", values=REPORT, event_id="Ev124"))
    assert len((await bot.store.find("reports"))) == 2
    # Without an event id nothing can be deduplicated: each submission counts.
    await bot.handle(Incoming("form", COUNCILLOR, name="report", values=REPORT))
    assert len((await bot.store.find("reports"))) == 3


async def test_same_event_twice_submits_one_suggestion(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    event = Incoming("form", COUNCILLOR, name="suggest", values=SUGGESTION, event_id="Ev-s-1")
    first = await bot.handle(event)
    assert len(first) == 1
    assert await bot.handle(event) == first  # the same answer, with the suggestion's number
    assert len((await bot.store.find("suggestions"))) == 1
    await bot.outbox.drain()
    assert len(rec.sent) == 1


async def test_retried_approval_decides_once(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    sid = one(await bot.handle(Incoming("form", COUNCILLOR, name="suggest", values=SUGGESTION))).title.split()[1]
    press = Incoming("action", CLERK, name="suggestion.approve", value=sid, event_id="Ev-a-1")
    assert "approved" in one(await bot.handle(press)).text
    assert await bot.handle(press) == []
    assert len((await bot.store.get("suggestions", sid))["decisions"]) == 1


async def test_event_ids_are_per_platform(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    await bot.handle(Incoming("form", "slack:U1", name="report", values=REPORT, event_id="E1"))
    await bot.handle(Incoming("form", "teams:abc", name="report", values=REPORT, event_id="E1"))
    assert sorted(r["reporter"] for r in (await bot.store.find("reports"))) == ["slack:U1", "teams:abc"]


async def test_retry_after_a_restart_is_still_ignored(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    event = Incoming("form", COUNCILLOR, name="report", values=REPORT, event_id="Ev-r-1")
    first = await bot.handle(event)
    await bot.stop()
    again = make_bot(tmp_path)
    assert await again.handle(event) == first  # not filed again; the same receipt
    assert len((await again.store.find("reports"))) == 1
