"""Who may do what, through the core's door, for every role in both councils. The table is
written out by hand from the two policies so that a change to either pack or to the permission
code shows up here."""

from __future__ import annotations

import pytest

from councilbot.people import PERMISSIONS

from .kit import (
    ASSISTANT, CHAIR, CLEAN_POST, CLERK, COUNCILLOR, COUNCILLOR2, DEPUTY, MODERATOR, OFFICER, REPORT, STRANGER,
    command, field, message, notifier, one, press, refused, submit,
)

ACTOR = {
    "councillor": COUNCILLOR, "officer": OFFICER, "clerk": CLERK, "deputy_clerk": DEPUTY,
    "assistant_clerk": ASSISTANT, "moderator": MODERATOR, "chair": CHAIR, "unknown": STRANGER,
}
ROLES = tuple(ACTOR)

ALLOWED = {
    "alsager": {
        "approve": {"clerk", "assistant_clerk"},
        "read_report": {"clerk", "assistant_clerk"},
        "flag": {"clerk", "assistant_clerk", "chair"},
        "export": {"clerk", "assistant_clerk"},
        "erase": {"clerk"},
        "manage_people": {"clerk"},
        "moderation": {"clerk", "assistant_clerk"},
    },
    "castle-cary": {
        "approve": {"clerk", "deputy_clerk", "moderator"},
        "read_report": {"clerk", "deputy_clerk"},
        "flag": {"clerk", "deputy_clerk", "moderator", "chair"},
        "export": {"clerk", "deputy_clerk", "moderator"},
        "erase": {"clerk", "deputy_clerk"},
        "manage_people": {"clerk", "deputy_clerk"},
        "moderation": {"clerk", "deputy_clerk", "moderator"},
    },
}
TABLE = [
    pytest.param(council, action, role, role in allowed, id=f"{council}-{action}-{role}")
    for council, actions in ALLOWED.items()
    for action, allowed in actions.items()
    for role in ROLES
]


async def _approve(bot, user):
    reply = one(await submit(bot, COUNCILLOR2, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}))
    sid = reply.title.split()[1]
    answer = await press(bot, user, "suggestion.approve", sid)
    done = (await bot.store.get("suggestions", sid))["status"] == "approved"
    assert done != refused(answer)
    return done


async def _read_report(bot, user):
    filed = one(await submit(bot, COUNCILLOR2, "report", REPORT))
    ref = field(filed, "Reference")
    answer = one(await press(bot, user, "report.view", ref))
    seen = REPORT["what"] in answer.plain()
    assert seen != refused([answer])
    reads = [d for d in (await bot.store.find("audit")) if d["action"] == "report.read"]
    assert len(reads) == (1 if seen else 0)
    return seen


async def _flag(bot, user):
    opened = one(await command(bot, user, "flag"))
    sent = one(await submit(bot, user, "flag", {"author": COUNCILLOR2, "text": "You are an idiot."}))
    may_open = opened.form is not None
    flagged = len((await bot.store.find("flags"))) == 1
    assert may_open == flagged and flagged != refused([sent])
    return flagged


async def _export(bot, user):
    answer = one(await command(bot, user, "export", "csv"))
    exported = answer.text.startswith("id,approved_at,approved_by")
    assert exported != refused([answer])
    return exported


async def _erase(bot, user):
    # Erasure is run by the operator's tool; the permission is what the core exposes for it.
    return await bot.can(user, "erase")


async def _manage_people(bot, user):
    answer = one(await command(bot, user, "people", "add test:newbie councillor New Person"))
    added = bot.people.role("test:newbie") is not None
    listing = one(await command(bot, user, "people"))
    assert added != refused([answer]) and added != refused([listing])
    return added


async def _moderation(bot, user):
    opened = one(await command(bot, user, "moderation"))
    answer = one(await submit(bot, user, "moderation", {"platform": "facebook", "post": "https://facebook.com/p/1",
                                                         "action": "removed", "reason": "Abusive comment"}))
    recorded = len((await bot.store.find("moderation"))) == 1
    assert (opened.form is not None) == recorded and recorded != refused([answer])
    return recorded


CHECKS = {"approve": _approve, "read_report": _read_report, "flag": _flag, "export": _export, "erase": _erase,
          "manage_people": _manage_people, "moderation": _moderation}


@pytest.mark.parametrize("council,action,role,allowed", TABLE)
async def test_access_table(tmp_path, make_bot, council, action, role, allowed):
    bot = make_bot(tmp_path, council)
    assert await CHECKS[action](bot, ACTOR[role]) is allowed


@pytest.mark.parametrize("council", ["alsager", "castle-cary"])
async def test_unknown_user_gets_policy_tools_and_report_form_only(tmp_path, make_bot, council):
    bot = make_bot(tmp_path, council)
    rec = notifier(bot)
    for permission in PERMISSIONS:
        assert not await bot.can(STRANGER, permission), permission

    # Alsager's policy covers children's photos; Castle Cary's says nothing, and the answer says so.
    title = "From the policy" if council == "alsager" else "Not in the policy"
    answer = one(await command(bot, STRANGER, "policy", "photos of children"))
    assert answer.title == title and answer.fields
    answer = one(await message(bot, STRANGER, "Can I post photos of children?"))
    assert answer.title == title
    assert one(await command(bot, STRANGER, "checkpost", CLEAN_POST)).title == "OK to post"
    form = one(await command(bot, STRANGER, "report")).form
    assert form is not None and form.name == "report"
    filed = one(await submit(bot, STRANGER, "report", REPORT))
    ref = field(filed, "Reference")
    await bot.outbox.drain()
    assert rec.to(CLERK)  # the report reached the Clerk
    mine = one(await command(bot, STRANGER, "reports"))
    assert [f.label for f in mine.fields] == [f"{ref} (yours)"] and not mine.buttons

    for name, text in (("suggest", ""), ("pending", ""), ("flag", ""), ("flags", ""), ("moderation", ""),
                       ("people", ""), ("people", "add test:me clerk"), ("export", "")):
        assert refused(await command(bot, STRANGER, name, text)), name
    assert bot.people.role("test:me") is None
    assert refused(await submit(bot, STRANGER, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}))
    assert refused(await submit(bot, STRANGER, "moderation", {"platform": "facebook", "post": "x", "action": "removed", "reason": "x"}))
    assert (await bot.store.find("suggestions")) == [] and (await bot.store.find("moderation")) == []

    help_text = one(await command(bot, STRANGER, "help")).text
    assert "/report" in help_text and "/checkpost" in help_text and "/policy" in help_text
    for other in ("/suggest", "pending", "flag", "moderation", "people:"):
        assert other not in help_text, other


async def test_people_added_in_chat_gain_and_lose_their_role(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    bad = one(await command(bot, CLERK, "people", "add test:newbie wizard"))
    assert bad.tone == "danger" and bot.people.role("test:newbie") is None
    assert one(await command(bot, CLERK, "people", "add U999 councillor")).tone == "danger"
    one(await command(bot, CLERK, "people", "add test:newbie assistant_clerk Nia Jones"))
    assert await bot.can("test:newbie", "approve") and bot.people.name("test:newbie") == "Nia Jones"
    listing = one(await command(bot, CLERK, "people"))
    assert ("Nia Jones", "test:newbie \u2014 assistant clerk") in [(f.label, f.value) for f in listing.fields]
    # A removal in chat wins over the config file too.
    one(await command(bot, CLERK, "people", f"remove {ASSISTANT}"))
    assert not await bot.can(ASSISTANT, "approve") and bot.people.role(ASSISTANT) is None
    assert refused(await command(bot, ASSISTANT, "pending"))
    assert [(d["actor"], d["action"], d["subject"]) for d in (await bot.store.find("audit"))] == [
        (CLERK, "people.added", "test:newbie"), (CLERK, "people.removed", ASSISTANT)]
