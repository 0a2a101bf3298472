"""A reporter always gets their reference (issue 10, section 3), through the core's door.

The receipt of a report or a suggestion is the immediate answer, and also a copy in the outbox to
the person's direct messages, held for ``RECEIPT_HOLD`` seconds: when the adapter has shown the
answer the copy is withdrawn (one receipt, not two); when the process dies after the record was
written and before the answer was shown, the copy is sent. The same form sent again answers with the same receipt."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from councilbot.context import RECEIPT_HOLD
from councilbot.messages import Incoming, Reply

from .kit import CLEAN_POST, COUNCILLOR, REPORT, notifier, one, submit


class Died(BaseException):
    """The process dying: not an error the core handles, so nothing after it runs."""


def die_after_handling(bot: Any) -> None:
    """The record is written, then the process dies before the answer leaves ``handle``."""
    route = bot.router.route

    async def route_then_die(ctx: Any, incoming: Incoming) -> list[Reply]:
        await route(ctx, incoming)
        raise Died()

    bot.router.route = route_then_die


async def receipts(bot: Any) -> list[dict[str, Any]]:
    return [d for d in (await bot.store.find("outbox")) if ":receipt" in d["id"]]


async def test_the_answer_carries_the_receipt_and_its_held_copy_is_withdrawn(tmp_path, make_bot, clock) -> None:
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    first = one(await submit(bot, COUNCILLOR, "report", REPORT, event_id="ev-1"))
    assert "R-" in first.title and await receipts(bot) == []  # not sent twice in the normal case
    one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"},
                     event_id="ev-2"))
    assert await receipts(bot) == []
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await bot.outbox.drain()
    assert rec.to(COUNCILLOR) == []


async def test_a_crash_after_the_write_still_delivers_the_reference_once(tmp_path, make_bot, clock) -> None:
    bot = make_bot(tmp_path)
    die_after_handling(bot)
    with pytest.raises(Died):  # the process dies after the write, before the answer goes back
        await submit(bot, COUNCILLOR, "report", REPORT, event_id="ev-crash")
    [report] = (await bot.store.find("reports"))
    again = make_bot(tmp_path)  # the restart
    rec = notifier(again)
    await again.outbox.drain()
    assert rec.to(COUNCILLOR) == []  # held: the immediate answer might still have carried it
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await again.outbox.drain()
    [dm] = rec.to(COUNCILLOR)
    assert dm.title == f"Report {report['id']} received" and ("Reference", report["id"]) in [(f.label, f.value) for f in dm.fields]
    # Submit pressed again after the restart: the same receipt, nothing filed or sent again.
    [answer] = await submit(again, COUNCILLOR, "report", REPORT, event_id="ev-crash")
    assert dataclasses.replace(answer, withdraws=()) == dm and len((await again.store.find("reports"))) == 1
    await again.outbox.drain()
    assert len(rec.to(COUNCILLOR)) == 1


async def test_a_crash_after_the_core_answered_but_before_the_answer_was_shown(tmp_path, make_bot, clock) -> None:
    """The core's answer is not the person seeing it: the held copy stays until the adapter says
    it showed the answer (Slack's modal and DM, Teams' card, the console's screen)."""
    bot = make_bot(tmp_path)
    [answer] = await submit(bot, COUNCILLOR, "report", REPORT, event_id="ev-late", shown=False)
    [report] = (await bot.store.find("reports"))
    assert answer.withdraws == (f"{report['id']}:receipt",)
    again = make_bot(tmp_path)  # died before the adapter showed it
    rec = notifier(again)
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await again.outbox.drain()
    assert [r.title for r in rec.to(COUNCILLOR)] == [f"Report {report['id']} received"]


async def test_a_resubmission_before_the_hold_ends_answers_and_withdraws_the_copy(tmp_path, make_bot, clock) -> None:
    bot = make_bot(tmp_path)
    die_after_handling(bot)
    with pytest.raises(Died):
        await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"},
                     event_id="ev-s")
    again = make_bot(tmp_path)
    rec = notifier(again)
    [sid] = [s["id"] for s in (await again.store.find("suggestions"))]
    [answer] = await submit(again, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"},
                            event_id="ev-s")
    assert answer.title == f"Suggestion {sid} sent to the Clerk"
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await again.outbox.drain()
    assert rec.to(COUNCILLOR) == []  # answered in the moment: the held copy was withdrawn
    assert len((await again.store.find("suggestions"))) == 1


async def test_a_crash_before_the_notices_were_queued_still_sends_the_receipt(tmp_path, make_bot, clock) -> None:
    bot = make_bot(tmp_path)
    one(await submit(bot, COUNCILLOR, "report", REPORT))
    [report] = (await bot.store.find("reports"))
    await bot.store.update("reports", report["id"], {"notices_queued": False})  # died between the write and queueing
    for doc in (await bot.store.find("outbox")):
        await bot.store.delete("outbox", doc["id"])
    again = make_bot(tmp_path)
    await again.recover()  # at start-up: recovery queues the notices and the receipt
    rec = notifier(again)
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await again.outbox.drain()
    assert [r.title for r in rec.to(COUNCILLOR)] == [f"Report {report['id']} received"]


async def test_a_form_sent_again_that_created_nothing_is_still_a_quiet_duplicate(tmp_path, make_bot) -> None:
    bot = make_bot(tmp_path)
    event = Incoming("command", COUNCILLOR, name="help", event_id="ev-h")
    assert await bot.handle(event)
    assert await bot.handle(event) == []
