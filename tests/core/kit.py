"""Helpers for the core workflow tests: the cast, a movable clock, and short spellings of the
four kinds of Incoming. Fixtures live in conftest.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from councilbot.app import CouncilBot
from councilbot.kinds import Role
from councilbot.messages import Incoming, Reply
from councilbot.testing import RecordingNotifier

# Monday 2 March 2026, 10:00 UTC: a working day, so deadlines are easy to reason about.
START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

CLERK = "test:clerk"
DEPUTY = "test:deputy"
ASSISTANT = "test:assistant"
MODERATOR = "test:moderator"
CHAIR = "test:chair"
COUNCILLOR = "test:ann"
COUNCILLOR2 = "test:ben"
OFFICER = "test:officer"
STRANGER = "test:stranger"

CAST: dict[str, Role] = {
    CLERK: Role.CLERK,
    DEPUTY: Role.DEPUTY_CLERK,
    ASSISTANT: Role.ASSISTANT_CLERK,
    MODERATOR: Role.MODERATOR,
    CHAIR: Role.CHAIR,
    COUNCILLOR: Role.COUNCILLOR,
    COUNCILLOR2: Role.COUNCILLOR,
    OFFICER: Role.OFFICER,
}
NAMES: dict[str, str] = {
    CLERK: "Jane Pargeter",
    ASSISTANT: "Sam Okafor",
    DEPUTY: "Priya Doyle",
    CHAIR: "Robert Finch",
    MODERATOR: "Alex Moore",
    COUNCILLOR: "Cllr Ann Hughes",
    COUNCILLOR2: "Cllr Ben Tate",
}


class FakeClock:
    """Replaces ``councilbot.clock.now``; every module reads time through it."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


# Every table the core writes (the store has no list of them: on PostgreSQL they are all one table).
TABLES = ("reports", "suggestions", "people", "names", "audit", "outbox", "flags", "moderation", "counters", "events",
          "cards", "drafts", "elections", "election_periods", "runs")


def notifier(bot: CouncilBot, **kwargs: Any) -> RecordingNotifier:
    recorder = RecordingNotifier(**kwargs)
    bot.outbox.register(recorder)
    return recorder


# The four kinds of Incoming, spelled briefly.

async def message(bot: CouncilBot, user: str, text: str, **kw: Any) -> list[Reply]:
    return await bot.handle(Incoming("message", user, text=text, **kw))


async def command(bot: CouncilBot, user: str, name: str, text: str = "", **kw: Any) -> list[Reply]:
    return await bot.handle(Incoming("command", user, name=name, text=text, **kw))


async def press(bot: CouncilBot, user: str, action: str, value: str, **kw: Any) -> list[Reply]:
    return await bot.handle(Incoming("action", user, name=action, value=value, **kw))


async def submit(bot: CouncilBot, user: str, form: str, values: Mapping[str, Any], value: str = "", *,
                 shown: bool = True, **kw: Any) -> list[Reply]:
    """A form submitted and its answer shown, as an adapter does (``shown=False``: the process
    died after the core answered, before the adapter could show it)."""
    replies = await bot.handle(Incoming("form", user, name=form, values=dict(values), value=value, **kw))
    if shown:
        await bot.delivered(replies)
    return replies


def one(replies: list[Reply]) -> Reply:
    assert len(replies) == 1, replies
    return replies[0]


def refused(replies: list[Reply]) -> bool:
    """The core's polite refusal: one caution reply, no form, nothing else."""
    return len(replies) == 1 and replies[0].tone == "caution" and replies[0].form is None


def field(reply: Reply, label: str) -> str:
    for f in reply.fields:
        if f.label == label:
            return f.value
    raise AssertionError(f"no field {label!r} in {[f.label for f in reply.fields]}")


def actions(reply: Reply) -> set[str]:
    return {b.action for b in reply.buttons}


async def audit_actions(bot: CouncilBot, subject: str | None = None) -> list[tuple[str, str]]:
    rows = sorted((await bot.store.find("audit")), key=lambda d: d["at"])
    return [(d["actor"], d["action"]) for d in rows if subject is None or d.get("subject") == subject]


REPORT = {
    "what": "Someone keeps sending me messages saying they know where I live and will come round.",
    "platform": "facebook",
    "link": "https://facebook.com/some/post",
    "when": "Sunday about 9pm",
    "who": "An account called LocalWatcher77",
    "evidence": "https://facebook.com/msg/1\nhttps://facebook.com/msg/2",
}

CLEAN_POST = "Our community litter pick is on Saturday 14 March at 10am, meeting at Milton Park. All welcome, gloves provided."
