"""A decision that lands while its card is between "sent" and "recorded where it was posted"
(bench/replicas.py found it with several replicas: one sends the card, another records the
approval in that moment) still updates the posted card, as does one after a sender was killed
between those two writes."""

from __future__ import annotations

from typing import Any

import pytest

from councilbot.ports import CLERK_CHANNEL

from .kit import CLEAN_POST, CLERK, COUNCILLOR, notifier, one, press, submit


async def _suggest(bot: Any) -> str:
    reply = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}))
    return str(reply.title.split()[1])


async def test_a_card_decided_between_its_sending_and_its_recording_is_updated(tmp_path, make_bot) -> None:
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid = await _suggest(bot)
    store = bot.outbox.store
    real_settle = store.settle

    async def racing_settle(item_id: str, lease: str, changes: dict[str, Any]) -> Any:
        settled = await real_settle(item_id, lease, changes)
        if item_id.startswith(f"{sid}:card:"):
            await press(bot, CLERK, "suggestion.approve", sid)  # the card is sent, not yet recorded in "cards"
        return settled

    store.settle = racing_settle
    await bot.outbox.drain()
    store.settle = real_settle
    await bot.outbox.drain()
    [posted] = [r for to, r in rec.sent if to == CLERK_CHANNEL and sid in (r.title or "")]
    assert posted.buttons  # posted as it was before the decision
    assert rec.updated and not rec.updated[-1][1].buttons and "Approved" in rec.updated[-1][1].text


async def test_a_card_whose_sender_died_before_recording_it_is_still_updated(tmp_path, make_bot) -> None:
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid = await _suggest(bot)
    await bot.outbox.drain()
    # As if the sender had been killed after marking the card sent, before recording where it was posted.
    assert await bot.store.delete("cards", f"suggestion:{sid}@{rec.platform}")
    await press(bot, CLERK, "suggestion.approve", sid)
    await bot.outbox.drain()
    assert rec.updated and not rec.updated[-1][1].buttons and "Approved" in rec.updated[-1][1].text


async def test_a_crash_after_the_card_is_queued_still_leaves_the_submitters_receipt_queued(tmp_path, make_bot, monkeypatch) -> None:
    """Killed between queueing the card and queueing the receipt (bench/replicas.py, a SIGKILL):
    the suggestion is pending with its notices marked queued, so recovery will not run again; the
    receipt must already be in the outbox, or the submitter never gets the copy they keep."""
    bot = make_bot(tmp_path)
    notifier(bot)

    async def killed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr("councilbot.context.Ctx.receipt", killed)
    await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"})
    [record] = await bot.store.find("suggestions")
    assert record["status"] == "pending" and record["notices_queued"]
    receipt = await bot.store.get("outbox", f"{record['id']}:receipt:v1@test")
    assert receipt is not None and receipt["to"] == COUNCILLOR and receipt["status"] == "pending"


async def test_a_sender_killed_after_posting_a_card_decided_meanwhile_leaves_its_catch_up_queued(tmp_path, make_bot) -> None:
    """Decided while the card was on its way, then the sender died before recording where the card
    went: the catch-up update was queued first, so the posted card is still brought up to date."""
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    sid = await _suggest(bot)
    real_send, store = rec.send, bot.outbox.store
    real_upsert = store.upsert

    async def racing_send(to: str, reply: Any) -> Any:
        ref = await real_send(to, reply)
        if to == CLERK_CHANNEL and reply.buttons:
            await press(bot, CLERK, "suggestion.approve", sid)  # decided while the card was in flight
        return ref

    async def killed(table: str, doc: dict[str, Any]) -> Any:
        if table == "cards":
            raise RuntimeError("the process died here")
        return await real_upsert(table, doc)

    rec.send, store.upsert = racing_send, killed
    with pytest.raises(RuntimeError):
        await bot.outbox.deliver_due()
    rec.send, store.upsert = real_send, real_upsert
    await bot.outbox.drain()
    assert rec.updated and not rec.updated[-1][1].buttons and "Approved" in rec.updated[-1][1].text
