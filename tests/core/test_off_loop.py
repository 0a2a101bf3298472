"""The core keeps CPU work off the event loop and bounds what reaches it (issue 10, section 1):
the checker and the policy lookup run in the core's worker thread, while every read and write of
the records stays on the loop; a question or a message over its limit is answered plainly,
before any work; and a platform's retry that arrives while the first delivery waits for the
checker is a duplicate, not a second record."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import councilbot.bot
import councilbot.conduct
import councilbot.suggestions
from councilbot.app import event_digest
from councilbot.checker import MAX_DRAFT
from councilbot.lookup import MAX_QUESTION
from councilbot.messages import Incoming

from .kit import CLEAN_POST, CLERK, COUNCILLOR, command, message, one, submit

SUGGESTION = {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}


def record_threads(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, seen: list[str]) -> None:
    real = getattr(module, name)

    def run(*args: Any) -> Any:
        seen.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(module, name, run)


async def test_checks_and_lookups_run_in_the_worker_thread(tmp_path, make_bot, monkeypatch) -> None:
    bot = make_bot(tmp_path)
    seen: list[str] = []
    record_threads(monkeypatch, councilbot.bot, "check", seen)
    record_threads(monkeypatch, councilbot.bot, "ask", seen)
    record_threads(monkeypatch, councilbot.suggestions, "check_many", seen)
    record_threads(monkeypatch, councilbot.conduct, "check", seen)
    await command(bot, COUNCILLOR, "checkpost", "Our litter pick is on Saturday!")
    await command(bot, COUNCILLOR, "policy", "photos of children")
    await message(bot, COUNCILLOR, "can I post photos of the carnival?")
    await message(bot, COUNCILLOR, "may I post: Our litter pick is on Saturday!")
    await submit(bot, COUNCILLOR, "suggest", SUGGESTION)
    await submit(bot, CLERK, "flag", {"author": COUNCILLOR, "text": "The chairman is a liar and a crook."})
    assert len(seen) == 6 and all(name.startswith("councilbot-cpu") for name in seen), seen
    assert threading.current_thread().name not in seen


async def test_a_question_over_the_limit_is_answered_plainly(tmp_path, make_bot) -> None:
    bot = make_bot(tmp_path)
    reply = one(await command(bot, COUNCILLOR, "policy", "photos " * 1000))
    assert reply.tone == "caution"
    assert reply.text.startswith(f"That question is {len(('photos ' * 1000).strip()):,} characters; the limit is {MAX_QUESTION:,}.")
    at_limit = one(await command(bot, COUNCILLOR, "policy", ("photos of children " * 200)[:MAX_QUESTION]))
    assert "limit" not in at_limit.text


async def test_a_message_over_any_limit_is_answered_before_it_is_read(tmp_path, make_bot) -> None:
    bot = make_bot(tmp_path)
    reply = one(await message(bot, COUNCILLOR, "words " * 200_000))
    assert reply.tone == "caution" and f"I can check drafts of up to {MAX_DRAFT:,} characters" in reply.text
    assert (await bot.store.find("drafts")) == []
    draft = one(await command(bot, COUNCILLOR, "checkpost", "personal twitter: " + "x" * (MAX_DRAFT + 1)))
    assert draft.text.startswith(f"That draft is {MAX_DRAFT + 1:,} characters; the limit is {MAX_DRAFT:,}.")
    # The words that say where a post goes do not count against the draft.
    ok = one(await command(bot, COUNCILLOR, "checkpost", "personal twitter: " + "Lovely day. " * (MAX_DRAFT // 12)))
    assert "limit" not in ok.text


async def test_a_platform_named_thousands_of_times_is_checked_once(tmp_path, make_bot, monkeypatch) -> None:
    bot = make_bot(tmp_path)
    sizes: list[int] = []
    real = councilbot.suggestions.check_many

    def counted(items: Any) -> Any:
        sizes.append(len(items))
        return real(items)

    monkeypatch.setattr(councilbot.suggestions, "check_many", counted)
    await submit(bot, COUNCILLOR, "suggest", {**SUGGESTION, "platforms": ["facebook", "twitter"] * 5000})
    assert sizes == [2]
    [record] = (await bot.store.find("suggestions"))
    assert record["platforms"] == ["facebook", "twitter"]


async def test_a_retry_while_the_first_waits_for_the_checker_is_a_duplicate(tmp_path, make_bot, monkeypatch) -> None:
    bot = make_bot(tmp_path)
    entered, release = threading.Event(), threading.Event()
    real = councilbot.suggestions.check_many

    def held(items: Any) -> Any:
        entered.set()
        release.wait(10)
        return real(items)

    monkeypatch.setattr(councilbot.suggestions, "check_many", held)
    first = asyncio.create_task(submit(bot, COUNCILLOR, "suggest", SUGGESTION, event_id="Ev-1"))
    while not entered.is_set():
        await asyncio.sleep(0.01)
    # The loop is free while the first is being checked: the retry is answered at once.
    assert await submit(bot, COUNCILLOR, "suggest", SUGGESTION, event_id="Ev-1") == []
    release.set()
    assert "S-20" in one(await first).title
    [record] = (await bot.store.find("suggestions"))
    assert record["event"] == event_digest(f"{COUNCILLOR}:Ev-1")


async def test_events_handled_at_once_each_mark_their_own_record(tmp_path, make_bot, monkeypatch) -> None:
    """Which event made a record is kept per task: two submissions checked at the same time each
    mark their own suggestion (crash recovery relies on it)."""
    bot = make_bot(tmp_path)
    gate = threading.Barrier(2, timeout=10)
    real = councilbot.suggestions.check_many
    bot.ctx.cpu = None  # both checks at once, each in its own thread below, so they overlap

    async def overlapping(work: Any, *args: Any) -> Any:
        def run() -> Any:
            gate.wait()
            return work(*args)
        return await asyncio.to_thread(run)

    monkeypatch.setattr(bot.ctx, "compute", overlapping)
    monkeypatch.setattr(councilbot.suggestions, "check_many", real)
    replies = await asyncio.gather(
        bot.handle(Incoming("form", COUNCILLOR, name="suggest", values=SUGGESTION, event_id="Ev-A")),
        bot.handle(Incoming("form", CLERK, name="suggest", values={**SUGGESTION, "text": CLEAN_POST + " Bring gloves."},
                            event_id="Ev-B")))
    assert all("S-20" in one(r).title for r in replies)
    marks = {s["submitter"]: s["event"] for s in (await bot.store.find("suggestions"))}
    assert marks == {COUNCILLOR: event_digest(f"{COUNCILLOR}:Ev-A"), CLERK: event_digest(f"{CLERK}:Ev-B")}
