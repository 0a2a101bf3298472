"""A report filed while nobody could receive it goes to a recipient as soon as one is set up, not
at the next housekeeping pass, whichever way the role was given."""

from __future__ import annotations

from councilbot.context import RECEIPT_HOLD
from councilbot.kinds import Role
from councilbot.ports import CLERK_CHANNEL

from .kit import CLERK, COUNCILLOR, REPORT, notifier, one, submit


async def test_a_new_recipient_receives_the_report_that_waited_at_once_and_the_reporter_is_told_once(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR}, names={})
    chat = notifier(bot)
    receipt = one(await submit(bot, COUNCILLOR, "report", REPORT))
    ref = next(f.value for f in receipt.fields if f.label == "Reference")
    assert "nobody who could receive it" in receipt.text
    await bot.outbox.drain(timeout=2)
    assert chat.to(CLERK) == [] and chat.to(CLERK_CHANNEL) == []

    await bot.people.configure(CLERK, Role.CLERK)  # as the terminal's /as clerk:… does
    await bot.outbox.drain(timeout=2)
    assert [r.title for r in chat.to(CLERK)] == [f"Confidential report {ref}"]
    assert len(chat.to(CLERK_CHANNEL)) == 1
    assert [r.title for r in chat.to(COUNCILLOR)] == [f"Report {ref} delivered"]
    assert (await bot.store.get("reports", ref))["recipients"] == [CLERK]

    # The reporter already has their reference: routing does not send the receipt a second time.
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await bot.outbox.drain(timeout=2)
    assert [r.title for r in chat.to(COUNCILLOR)] == [f"Report {ref} delivered"]
    assert (await bot.housekeeping())["routed"] == 0


async def test_a_receipt_not_yet_shown_still_reaches_the_reporter_when_the_report_is_routed(tmp_path, make_bot, clock):
    """The reporter's answer was lost (the process died before the adapter showed it): the held
    receipt is theirs still, and routing must not withdraw it."""
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR}, names={})
    chat = notifier(bot)
    one(await submit(bot, COUNCILLOR, "report", REPORT, shown=False))
    await bot.people.configure(CLERK, Role.CLERK)
    clock.advance(seconds=RECEIPT_HOLD + 1)
    await bot.outbox.drain(timeout=2)
    titles = [r.title for r in chat.to(COUNCILLOR)]
    assert any(t.endswith("received") for t in titles) and any(t.endswith("delivered") for t in titles)
