"""Typed commands are read once, in the core, with one table (``councilbot.typed``). The same
words over Slack, Teams and the terminal are in tests/doors; here, the table itself and the door."""

from __future__ import annotations

import pytest

from councilbot import typed
from councilbot.kinds import Role
from councilbot.messages import Incoming

from .kit import CLERK, COUNCILLOR, one


@pytest.mark.parametrize("text, expected", [
    ("policy photos of children", ("policy", "photos of children")),
    ("/checkpost personal twitter: hello", ("checkpost", "personal twitter: hello")),
    ("Policy: flags", ("policy", "flags")),
    ("suggest Litter pick\non Saturday", ("suggest", "Litter pick\non Saturday")),
    ("report", ("report", "")),
    ("REPORTS", ("reports", "")),
    ("pending", ("pending", "")),
    ("help", ("help", "")),
    ("flag", ("flag", "")),
    ("home", ("home", "")),
    ("people", ("people", "")),
    ("people add teams:aad-9 councillor Jane Smith", ("people", "add teams:aad-9 councillor Jane Smith")),
    ("people remove slack:U9", ("people", "remove slack:U9")),
    ("export", ("export", "")),
    ("export json", ("export", "json")),
    ("escalate S-2026-0007 the photo needs consent", ("escalate", "S-2026-0007 the photo needs consent")),
    ("election add 2027-03-29 2027-05-06 Town council elections", ("election", "add 2027-03-29 2027-05-06 Town council elections")),
    ("election list", ("election", "list")),
    ("elections", ("elections", "")),
    ("link R-2026-0012 R-2026-0015", ("link", "R-2026-0012 R-2026-0015")),
    ("link R-2026-0012, R-2026-0015 and R-2026-0019", ("link", "R-2026-0012, R-2026-0015 and R-2026-0019")),
    ("evidence R-2026-0012 https://facebook.com/posts/1", ("evidence", "R-2026-0012 https://facebook.com/posts/1")),
    ("evidence of a great turnout", None),
    # With a "/", as a slash command: any word, taking what follows.
    ("/report", ("report", "")),
    ("/flag Dave is a liar", ("flag", "Dave is a liar")),
    ("/escalate", ("escalate", "")),
    ("/councilbot export json", ("export", "json")),
    ("/councilbot", ("help", "")),
    ("/frobnicate now", ("frobnicate", "now")),
    # Drafts and questions that start with a command's word stay drafts and questions.
    ("Escalate your concerns to us at the drop-in!", None),
    ("Report on tonight's meeting: great turnout!", None),
    ("People of Castle Cary, the fete is on!", None),
    ("Flag day on Saturday: buy a flag for the lifeboats!", None),
    ("Export of the minutes is delayed", None),
    ("Pending the vote, the car park stays open.", None),
    ("Can I post photos of children?", None),
    ("Election day is Thursday: polls are open 7am to 10pm.", None),
    ("Link to the consultation is on our website", None),
    ("/r/alsager says hello", None),
])
def test_the_one_table(text: str, expected: tuple[str, str] | None) -> None:
    assert typed.command(text) == expected


async def test_typed_words_do_what_the_slash_commands_do(tmp_path, make_bot) -> None:
    """'report' typed in a DM opens the report form, as /report does; 'export json' and
    'people add' act, as /councilbot's do. Before, only Teams read these; Slack and the terminal
    asked "check it or look it up?"."""
    bot = make_bot(tmp_path)
    form = one(await bot.handle(Incoming("message", COUNCILLOR, text="report", typed=True)))
    assert form.form is not None and form.form.name == "report"
    exported = one(await bot.handle(Incoming("message", CLERK, text="export json", typed=True)))
    assert exported.title == "Approved posts (JSON)"
    added = one(await bot.handle(Incoming("message", CLERK, text="people add test:zoe officer Zoe Hart", typed=True)))
    assert added.tone == "ok" and bot.people.role("test:zoe") is Role.OFFICER
    unknown = one(await bot.handle(Incoming("message", CLERK, text="/frobnicate", typed=True)))
    assert "frobnicate" in unknown.text and unknown.tone == "caution"
    assert not (await bot.store.find("drafts"))  # nothing was taken for a draft waiting for "check or look up?"


async def test_a_message_not_marked_typed_is_read_as_before(tmp_path, make_bot) -> None:
    """Backwards compatible: an adapter that does not say the text was typed gets the old reading,
    where only the words that stand alone ("pending") are commands."""
    bot = make_bot(tmp_path)
    [choice] = await bot.handle(Incoming("message", COUNCILLOR, text="report"))
    assert {b.action for b in choice.buttons} == {"dm.check", "dm.ask"}
    pending = one(await bot.handle(Incoming("message", CLERK, text="pending")))
    assert not pending.buttons or "dm.check" not in {b.action for b in pending.buttons}
