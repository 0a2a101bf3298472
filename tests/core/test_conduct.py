"""Code of Conduct: flagging a personal post sends its author a private reminder naming the
clauses found; only the Clerk, moderators and the Chair may flag; personal drafts carry the reminder."""

from __future__ import annotations

import pytest

from councilbot.kinds import RuleKind
from councilbot.pack import load_pack

from .kit import (
    ASSISTANT, CHAIR, CLERK, COUNCILLOR, COUNCILLOR2, DEPUTY, MODERATOR, OFFICER, STRANGER, audit_actions, command,
    NAMES, field, message, notifier, one, press, refused, submit,
)

ATTACK = "Councillor Smith is an idiot and a liar."
SELF_CHECK = "Before you post this on your own account:"


async def flag(bot, by, author=COUNCILLOR, text=ATTACK, **extra):
    return one(await submit(bot, by, "flag", {"author": author, "text": text, **extra}))


@pytest.mark.parametrize("council,flagger,clauses", [
    ("alsager", CLERK, ["ATC-MN-13", "ATC-MN-6"]),
    ("alsager", ASSISTANT, ["ATC-MN-13", "ATC-MN-6"]),
    ("alsager", CHAIR, ["ATC-MN-13", "ATC-MN-6"]),
    ("castle-cary", DEPUTY, ["CCTC-CL-5"]),
    ("castle-cary", MODERATOR, ["CCTC-CL-5"]),
    ("castle-cary", CHAIR, ["CCTC-CL-5"]),
])
async def test_flag_sends_author_a_private_reminder_citing_clauses(tmp_path, make_bot, council, flagger, clauses):
    bot = make_bot(tmp_path, council)
    rec = notifier(bot)
    pack = load_pack(council)
    opened = one(await command(bot, flagger, "flag"))
    assert opened.form is not None and opened.form.name == "flag"
    assert {i.name for i in opened.form.inputs} == {"author", "text", "link", "note"}

    reply = await flag(bot, flagger, note="Please take this down.", link="https://facebook.com/p/9")
    assert reply.tone == "ok" and "privately" in reply.title
    for clause in clauses:
        assert clause in reply.text
    await bot.outbox.drain()
    assert [a for a, _ in rec.sent] == [COUNCILLOR]
    (reminder,) = rec.to(COUNCILLOR)
    assert reminder.private
    assert reminder.text.startswith(pack.reminders.opening)
    assert pack.reminders.by_kind["personal-attack"] in reminder.text
    cited = [f.label.split(" ")[0] for f in reminder.fields if f.label not in {"Note", "Post"}]
    assert sorted(set(cited)) == sorted(clauses)
    assert field(reminder, "Note") == "Please take this down."
    assert field(reminder, "Post") == "https://facebook.com/p/9"
    # The reminder does not say who flagged it.
    assert flagger not in reminder.plain() and NAMES[flagger] not in reminder.plain()
    record = (await bot.store.find("flags"))[0]
    assert record["author"] == COUNCILLOR and record["flagged_by"] == flagger
    assert sorted(set(record["clauses"])) == sorted(clauses)
    assert await audit_actions(bot, record["id"]) == [(flagger, "conduct.flagged")]


@pytest.mark.parametrize("council,user", [
    ("alsager", COUNCILLOR2), ("alsager", OFFICER), ("alsager", STRANGER), ("alsager", DEPUTY), ("alsager", MODERATOR),
    ("castle-cary", COUNCILLOR2), ("castle-cary", ASSISTANT), ("castle-cary", STRANGER),
])
async def test_others_cannot_flag_and_are_told_politely(tmp_path, make_bot, council, user):
    bot = make_bot(tmp_path, council)
    rec = notifier(bot)
    reply = one(await command(bot, user, "flag"))
    assert refused([reply]) and "Sorry" in reply.text and "tell the Clerk" in reply.text
    assert refused(await submit(bot, user, "flag", {"author": COUNCILLOR, "text": ATTACK}))
    assert refused(await command(bot, user, "flags"))
    await bot.outbox.drain()
    assert (await bot.store.find("flags")) == [] and rec.sent == []


async def test_repeated_flags_visible_in_flags(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    assert "No posts have been flagged" in one(await command(bot, CLERK, "flags")).text
    await flag(bot, CLERK)
    reply = await flag(bot, ASSISTANT, text="You are an idiot, Dave.")
    assert "flagged 1 time(s) before" in reply.text
    third = await flag(bot, CHAIR, text="What a load of bollocks from the council.")
    assert "flagged 2 time(s) before" in third.text
    await flag(bot, CLERK, author=COUNCILLOR2)
    listing = one(await command(bot, CHAIR, "flags"))
    assert [(f.label, f.value) for f in listing.fields] == [("Cllr Ann Hughes", "3 flag(s)"), ("Cllr Ben Tate", "1 flag(s)")]


async def test_flag_form_checks_its_input(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    assert [f.label for f in (await flag(bot, CLERK, author="U123")).fields] == ["author"]
    assert [f.label for f in (await flag(bot, CLERK, author=CLERK)).fields] == ["author"]
    assert [f.label for f in (await flag(bot, CLERK, text="")).fields] == ["text"]
    assert (await bot.store.find("flags")) == []
    # A link alone is enough; nothing to cite then.
    reply = await flag(bot, CLERK, text="", link="https://facebook.com/p/1")
    assert reply.tone == "ok" and "citing" not in reply.text


@pytest.mark.parametrize("council", ["alsager", "castle-cary"])
@pytest.mark.parametrize("user", [COUNCILLOR, OFFICER, CLERK, STRANGER])
async def test_personal_draft_check_includes_the_code_of_conduct_reminder(tmp_path, make_bot, council, user):
    bot = make_bot(tmp_path, council)
    pack = load_pack(council)
    reply = one(await command(bot, user, "checkpost", "personal: you are an idiot"))
    assert reply.title == "Do not post" and "personal account" in reply.text
    assert reply.footer.startswith(SELF_CHECK)
    assert pack.reminders.by_kind["personal-attack"] in reply.footer
    assert pack.reminders.general[0] in reply.footer
    # The same draft for the council's page is judged, without the personal reminder.
    council_reply = one(await command(bot, user, "checkpost", "you are an idiot"))
    assert council_reply.title == "Do not post" and council_reply.footer == ""


async def test_personal_draft_sent_as_a_message_includes_the_reminder(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    pack = load_pack("alsager")
    reply = one(await message(bot, COUNCILLOR, "personal: you are an idiot"))
    if reply.buttons:  # the core may ask whether this is a draft or a question first
        check = next(b for b in reply.buttons if b.action == "dm.check")
        assert refused(await press(bot, COUNCILLOR2, "dm.check", check.value))  # not someone else's draft
        reply = one(await press(bot, COUNCILLOR, "dm.check", check.value))
    assert reply.title == "Do not post"
    assert reply.footer.startswith(SELF_CHECK) and pack.reminders.by_kind["personal-attack"] in reply.footer
    # "may I post:" is recognised as a draft at once.
    direct = one(await message(bot, COUNCILLOR, "may I post: personal: you are an idiot"))
    assert direct.title == "Do not post" and direct.footer.startswith(SELF_CHECK)


async def test_clean_personal_draft_has_no_reminder(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    reply = one(await command(bot, COUNCILLOR, "checkpost", "personal: Lovely turnout at the litter pick today, thank you all."))
    assert reply.title == "OK to post" and reply.footer == ""


@pytest.mark.parametrize("given", ["Cllr Ann Hughes", "ann hughes", "Hughes", "ann", "test:ann"])
async def test_flag_takes_the_authors_name_on_every_platform(tmp_path, make_bot, given):
    """People write names, not chat ids: a name that fits exactly one person is that person."""
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    reply = await flag(bot, CLERK, author=given)
    assert reply.tone == "ok" and not reply.form_error, reply
    await bot.outbox.drain(timeout=2)
    assert [r.title for r in rec.to(COUNCILLOR)] == ["A reminder about the Code of Conduct"]


async def test_a_name_that_fits_several_people_or_nobody_is_asked_again_for_that_answer(tmp_path, make_bot):
    names = {**NAMES, COUNCILLOR: "Cllr Ann Smith", COUNCILLOR2: "Cllr Ben Smith"}
    bot = make_bot(tmp_path, names=names)
    rec = notifier(bot)
    several = await flag(bot, CLERK, author="Smith")
    assert several.form_error and [f.label for f in several.fields] == ["author"]
    assert "Cllr Ann Smith (test:ann)" in several.text and "Cllr Ben Smith (test:ben)" in several.text
    nobody = await flag(bot, CLERK, author="Zebedee")
    assert nobody.form_error and [f.label for f in nobody.fields] == ["author"]
    assert "I don't know anyone called 'Zebedee'" in nobody.text and "Cllr Ann Smith (test:ann)" in nobody.text
    await bot.outbox.drain(timeout=2)
    assert rec.sent == [] and (await bot.store.find("flags")) == []
    assert (await flag(bot, CLERK, author="Ben Smith")).tone == "ok"


@pytest.mark.parametrize("council", ["alsager", "castle-cary"])
async def test_a_self_check_speaks_to_its_author_and_a_flag_is_the_clerks_reminder(tmp_path, make_bot, council):
    """Checking your own draft is not being flagged: the self-check talks to the author about the
    duties and clauses the draft touches, never as the Clerk's office writing about them. The
    reminder a flag sends stays the Clerk's office's message, a different one."""
    bot = make_bot(tmp_path, council)
    rec = notifier(bot)
    pack = load_pack(council)
    reply = one(await command(bot, COUNCILLOR, "checkpost", f"personal: {ATTACK}"))
    assert reply.title == "Do not post"
    assert reply.footer.startswith(SELF_CHECK)
    assert pack.reminders.opening not in reply.footer
    assert "Clerk's office" not in reply.footer and "Clerk and moderators" not in reply.footer
    assert "Nothing has been published or decided about you" not in reply.footer
    attack = pack.clauses_of(RuleKind.PERSONAL_ATTACK)[0].id
    [duty] = [line for line in reply.footer.splitlines() if line.startswith(f"{attack}: ")]  # the clause, once
    assert pack.reminders.by_kind[RuleKind.PERSONAL_ATTACK] in duty
    assert all(line in reply.footer.splitlines() for line in pack.reminders.general)

    await flag(bot, CLERK, text=ATTACK)
    await bot.outbox.drain()
    (reminder,) = rec.to(COUNCILLOR)
    assert reminder.text.startswith(pack.reminders.opening)
    assert SELF_CHECK not in reminder.plain()
