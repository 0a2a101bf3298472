"""Durable delivery: failures retried with backoff and delivered once, retry_after honoured,
permanent failures given up, and pending deliveries carried across a restart."""

from __future__ import annotations

import time

from councilbot.messages import Reply
from councilbot.ports import CLERK_CHANNEL, DeliveryError
from councilbot import clock as clock_module

from .kit import ASSISTANT, CLERK, COUNCILLOR, REPORT, field, notifier, one, submit


async def file_report(bot):
    return field(one(await submit(bot, COUNCILLOR, "report", REPORT)), "Reference")


async def row(bot, key):
    (doc,) = [d for d in (await bot.store.find("outbox")) if d["id"] == key]
    return doc


async def delay(bot, key):
    return (clock_module.parse((await row(bot, key))["next_at"]) - clock_module.now()).total_seconds()


async def test_failures_are_retried_with_backoff_and_delivered_exactly_once(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    await bot.outbox.send("hello", CLERK, Reply(text="Hello"))
    key = "hello@test"
    rec.fail_next = 3

    await bot.outbox.drain()
    assert rec.sent == [] and (await row(bot, key))["attempts"] == 1 and await delay(bot, key) == 0.5
    assert (await row(bot, key))["error"] == "simulated outage" and (await row(bot, key))["status"] == "pending"
    await bot.outbox.drain()                      # not due yet: no attempt
    assert (await row(bot, key))["attempts"] == 1

    clock.advance(seconds=0.5)
    await bot.outbox.drain()
    assert (await row(bot, key))["attempts"] == 2 and await delay(bot, key) == 1.0
    clock.advance(seconds=1)
    await bot.outbox.drain()
    assert (await row(bot, key))["attempts"] == 3 and await delay(bot, key) == 2.0
    clock.advance(seconds=2)
    await bot.outbox.drain()
    assert [(to, r.text) for to, r in rec.sent] == [(CLERK, "Hello")]
    assert (await row(bot, key))["status"] == "sent" and await bot.outbox.depth() == 0

    clock.advance(minutes=10)
    await bot.outbox.drain()
    assert await bot.outbox.deliver_due() == 0
    assert len(rec.sent) == 1
    # Queueing the same purpose again stores nothing new.
    await bot.outbox.send("hello", CLERK, Reply(text="Hello"))
    await bot.outbox.drain()
    assert len(rec.sent) == 1


async def test_backoff_is_capped(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    await bot.outbox.send("k", CLERK, Reply(text="x"))
    rec.fail_next = 12
    delays = []
    for _ in range(12):
        await bot.outbox.deliver_due()
        delays.append(await delay(bot, "k@test"))
        clock.advance(seconds=delays[-1])
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0] and max(delays) == 300.0 and delays[-1] == 300.0
    await bot.outbox.drain()
    assert len(rec.sent) == 1


async def test_retry_after_is_honoured(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot, fail_next=1, retry_after=30)
    ref = await file_report(bot)
    await bot.outbox.drain()
    failed = [d for d in (await bot.store.find("outbox")) if d["attempts"] == 1]
    assert len(failed) == 1 and await delay(bot, failed[0]["id"]) == 30
    assert clock_module.parse(failed[0]["next_at"]) > clock_module.now()
    delivered = len(rec.sent)
    assert delivered == 2

    clock.advance(seconds=29)
    await bot.outbox.drain()
    assert len(rec.sent) == delivered
    clock.advance(seconds=2)
    await bot.outbox.drain()
    assert len(rec.sent) == 3
    assert sorted(a for a, _ in rec.sent) == sorted([CLERK, ASSISTANT, CLERK_CHANNEL])
    assert all(ref in r.title for _, r in rec.sent)


async def test_permanent_failure_is_not_retried(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)

    class Refusing:
        platform = "test"
        calls = 0

        async def has_clerk_channel(self):
            return True

        async def send(self, to, reply):
            self.calls += 1
            raise DeliveryError("user_not_found", permanent=True)

        async def update(self, ref, reply):
            raise AssertionError("not expected")

    refusing = Refusing()
    bot.outbox.register(refusing)
    await bot.outbox.send("gone", "test:left", Reply(text="x"))
    await bot.outbox.drain()
    clock.advance(hours=1)
    await bot.outbox.drain()
    assert refusing.calls == 1
    assert (await row(bot, "gone@test"))["status"] == "failed" and (await row(bot, "gone@test"))["error"] == "user_not_found"


async def test_a_crashing_notifier_does_not_stop_the_queue(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    real_send = rec.send
    calls = []

    async def flaky(to, reply):
        calls.append(to)
        if to == CLERK and calls.count(CLERK) == 1:
            raise ValueError("bug in the adapter")
        return await real_send(to, reply)

    rec.send = flaky
    await bot.outbox.send("a", CLERK, Reply(text="a"))
    await bot.outbox.send("b", ASSISTANT, Reply(text="b"))
    await bot.outbox.drain()
    assert [a for a, _ in rec.sent] == [ASSISTANT]
    assert (await row(bot, "a@test"))["error"] == "ValueError"
    clock.advance(seconds=1)
    await bot.outbox.drain()
    assert sorted(a for a, _ in rec.sent) == sorted([ASSISTANT, CLERK])


async def test_restart_in_the_middle_of_delivery_delivers_what_was_pending(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    first = notifier(bot, fail_next=2)           # the first two deliveries fail, the third goes
    ref = await file_report(bot)
    await bot.outbox.drain()
    assert len(first.sent) == 1
    pending = {d["id"] for d in await bot.outbox.pending()}
    assert len(pending) == 2
    await bot.stop()

    again = make_bot(tmp_path)
    assert {d["id"] for d in await again.outbox.pending()} == pending
    second = notifier(again)
    clock.advance(seconds=1)
    await again.outbox.drain()
    everyone = [a for a, _ in first.sent] + [a for a, _ in second.sent]
    assert sorted(everyone) == sorted([CLERK, ASSISTANT, CLERK_CHANNEL])
    assert len(second.sent) == 2 and await again.outbox.depth() == 0
    assert all(ref in r.title for _, r in first.sent + second.sent)


async def test_messages_queued_with_no_notifier_are_delivered_after_restart(tmp_path, make_bot):
    bot = make_bot(tmp_path)                     # nothing registered: everything waits
    ref = await file_report(bot)
    started = time.monotonic()
    await bot.outbox.drain(timeout=3)
    assert time.monotonic() - started < 1.5       # nothing can be delivered: drain does not spin
    assert await bot.outbox.depth() == 3
    await bot.stop()

    again = make_bot(tmp_path)
    rec = notifier(again)
    await again.outbox.drain()
    assert sorted(a for a, _ in rec.sent) == sorted([CLERK, ASSISTANT, CLERK_CHANNEL])
    assert await again.outbox.depth() == 0
    (notice,) = rec.to(CLERK_CHANNEL)
    assert ref in notice.title
    await again.stop()
    third = make_bot(tmp_path)
    rec3 = notifier(third)
    await third.outbox.drain()
    assert rec3.sent == []


async def test_card_update_before_the_card_is_posted_posts_the_decided_card(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    sid = one(await submit(bot, COUNCILLOR, "suggest", {"text": "Minutes of the March meeting are online.",
                                                       "platforms": ["facebook"], "category": "meetings"})).title.split()[1]
    from .kit import press
    await press(bot, CLERK, "suggestion.approve", sid)
    rec = notifier(bot)                          # the channel becomes known only now
    await bot.outbox.drain()
    (card,) = rec.to(CLERK_CHANNEL)
    assert card.buttons == () and "Approved by" in card.text
    assert rec.updated == []


async def test_background_worker_delivers_without_drain(tmp_path, make_bot):
    import asyncio

    bot = make_bot(tmp_path)
    rec = notifier(bot)
    await bot.start()
    try:
        await file_report(bot)
        for _ in range(100):
            if len(rec.sent) == 3:
                break
            await asyncio.sleep(0.02)
        assert len(rec.sent) == 3
    finally:
        await bot.stop()
