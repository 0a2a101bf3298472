"""The confidential path, airtight: every notice to a reporter names the role that acted; a report
that names someone in the chain by first name or surname goes round them (and an ambiguous name
is asked about, in plain words); subject access redacts the same way everywhere and keeps what is
withheld apart; erasure leaves open cases alone unless told; every receipt has a safety line."""

from __future__ import annotations

import json

import pytest

from councilbot import dataprotection
from councilbot import reports as reports_module
from councilbot.kinds import Role

from .kit import (
    ASSISTANT, CHAIR, CLEAN_POST, CLERK, COUNCILLOR, COUNCILLOR2, DEPUTY, NAMES, REPORT, command, field, notifier, one, press,
    submit,
)

SAFETY = "If this changes or you feel unsafe, call 999; for non-emergencies call 101."


async def _file(bot, user=COUNCILLOR, **changes):
    reply = one(await submit(bot, user, "report", {**REPORT, **changes}))
    return field(reply, "Reference"), reply


def _about(form):
    return next(i for i in form.inputs if i.name == "about")


# 1. Every notice to a reporter names the role that actually acted.

async def test_the_reporter_is_told_the_chair_acknowledged_and_closed_a_report_about_the_clerk(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, receipt = await _file(bot, who="The Town Clerk")
    assert "the Town Clerk" in receipt.text and "the Chair of the Council" in receipt.text
    await press(bot, CHAIR, "report.ack", ref)
    await submit(bot, CHAIR, "report_close", {"outcome": "Spoken to the Clerk."}, value=ref)
    await bot.outbox.drain()
    (acked,) = [r for r in rec.to(COUNCILLOR) if r.title == f"Report {ref} acknowledged"]
    (closed,) = [r for r in rec.to(COUNCILLOR) if r.title == f"Report {ref} closed"]
    assert "acknowledged by the Chair of the Council" in acked.text
    assert "Clerk" not in acked.text  # never "the Clerk's office": the Clerk had nothing to do with it
    assert "closed by the Chair of the Council" in closed.text
    # The reporter's own view of the report says the same.
    assert "closed by the Chair of the Council" in one(await press(bot, COUNCILLOR, "report.view", ref)).text
    home = (await command(bot, COUNCILLOR, "home"))[0]
    assert field(home, f"Report {ref}").startswith("closed by the Chair of the Council")


async def test_each_officer_is_named_by_their_own_role(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    rec = notifier(bot)
    ref, receipt = await _file(bot)
    assert "sent in confidence to the Town Clerk and the Deputy Clerk" in receipt.text
    await press(bot, DEPUTY, "report.ack", ref)
    assert "acknowledged by the Deputy Clerk" in one(await press(bot, COUNCILLOR, "report.view", ref)).text
    await submit(bot, CLERK, "report_close", {"outcome": "Account blocked."}, value=ref)
    await bot.outbox.drain()
    texts = [r.text for r in rec.to(COUNCILLOR)]
    assert any("acknowledged by the Deputy Clerk." in t for t in texts), texts
    assert any("closed by the Town Clerk. Outcome: Account blocked." in t for t in texts), texts


async def test_a_report_that_waited_for_a_recipient_says_who_now_has_it(tmp_path, make_bot):
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR}, names={})
    ref, _ = await _file(bot)
    await bot.stop()
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, ASSISTANT: Role.ASSISTANT_CLERK}, names={})
    rec = notifier(bot)
    assert (await bot.housekeeping())["routed"] == 1
    await bot.outbox.drain()
    (told,) = [r for r in rec.to(COUNCILLOR) if "now reached" in r.text]
    assert f"Your report {ref} has now reached the Assistant Clerk" in told.text


# 2. First names and surnames of the people in the chain; an ambiguous name is asked about.

async def test_the_report_form_is_not_sent_to_the_clerk_by_name(tmp_path, make_bot):
    """Someone reporting the Clerk must not press a button that says it goes to her."""
    form = reports_module.form((make_bot(tmp_path)).ctx)
    assert "clerk" not in form.submit_label.lower() and "confidence" in form.submit_label


async def test_the_form_asks_in_plain_words_naming_the_roles_of_the_people_in_the_chain(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    about = _about(reports_module.form(bot.ctx))
    assert about.label == "Is this about the Town Clerk, the Assistant Clerk or the Chair of the Council?"
    labels = [o.label for o in about.options]
    assert labels[0].startswith("No") and any("Jane Pargeter" in label and "Town Clerk" in label for label in labels)
    castle = make_bot(tmp_path / "cc", "castle-cary")
    assert _about(reports_module.form(castle.ctx)).label == \
        "Is this about the Town Clerk, the Deputy Clerk or the Chair of the Council?"
    # Only the roles someone holds: no Assistant Clerk set up, none asked about.
    small = make_bot(tmp_path / "small", people={CLERK: Role.CLERK, CHAIR: Role.CHAIR, COUNCILLOR: Role.COUNCILLOR})
    assert _about(reports_module.form(small.ctx)).label == "Is this about the Town Clerk or the Chair of the Council?"


@pytest.mark.parametrize("what", [
    "Jane keeps shouting at me in meetings.",
    "Mrs Pargeter keeps shouting at me in meetings.",
    "JANE has been sending me nasty messages.",
])
async def test_a_report_naming_the_clerk_by_first_name_or_surname_goes_round_her(tmp_path, make_bot, what):
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    ref, receipt = await _file(bot, who="", what=what, about="none")
    record = await bot.store.get("reports", ref)
    assert CLERK in record["excluded"] and record["recipients"] == [CHAIR]
    assert "mentions the Town Clerk" in receipt.text and "cannot see it" in receipt.text
    await bot.outbox.drain()
    assert rec.to(CLERK) == []


async def test_a_surname_of_the_chair_routes_round_the_chair(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot, who="Councillor Finch")
    record = await bot.store.get("reports", ref)
    assert record["excluded"] == [CHAIR] and CHAIR not in record["recipients"]


async def test_a_name_that_is_also_an_everyday_word_routes_only_when_written_as_a_name(tmp_path, make_bot):
    bot = make_bot(tmp_path, names={**NAMES, CLERK: "Will Hall (Town Clerk)"})
    # In small letters it may be the everyday word: the reporter is asked, and "no" is believed.
    ref, _ = await _file(bot, who="", what="They said they will wait for me outside the village hall.", about="none")
    assert CLERK in (await bot.store.get("reports", ref))["recipients"]
    named, _ = await _file(bot, who="", what="Will keeps shouting at me outside the village hall.")
    assert CLERK in (await bot.store.get("reports", named))["excluded"]


@pytest.mark.parametrize("what", ["jane keeps shouting at me in meetings.", "mrs pargeter keeps shouting at me."])
async def test_a_name_typed_in_small_letters_is_asked_about_never_sent_to_her(tmp_path, make_bot, what):
    """People type names in small letters in chat: "jane" must not reach Jane because it lacks a capital."""
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    answer = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "who": "", "what": what}))
    assert answer.form_error and (await bot.store.find("reports")) == []
    question = field(answer, "about")
    assert "Is this about the Town Clerk (Jane Pargeter)?" in question and "more than one person" not in question
    ref, _ = await _file(bot, who="", what=what, about="clerk")
    record = await bot.store.get("reports", ref)
    assert CLERK in record["excluded"] and record["recipients"] == [CHAIR]
    await bot.outbox.drain()
    assert rec.to(CLERK) == []


async def test_a_first_name_two_people_share_is_asked_about_not_guessed(tmp_path, make_bot):
    names = {**NAMES, COUNCILLOR2: "Cllr Jane Tate"}
    bot = make_bot(tmp_path, names=names)
    answer = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "who": "", "what": "Jane keeps shouting at me."}))
    assert answer.tone == "danger" and answer.form_error
    question = field(answer, "about")
    assert "Jane" in question and "the Town Clerk (Jane Pargeter)" in question
    assert "Tate" not in question  # who else shares the name is nobody's business
    assert (await bot.store.find("reports")) == []  # nothing filed, nothing guessed

    # Answered: about the Clerk, so round her.
    ref, _ = await _file(bot, who="", what="Jane keeps shouting at me.", about="clerk")
    assert CLERK in (await bot.store.get("reports", ref))["excluded"]
    # Answered: none of them (the councillor called Jane), so to the Clerk as usual.
    other, _ = await _file(bot, who="", what="Jane keeps shouting at me.", about="none")
    assert CLERK in (await bot.store.get("reports", other))["recipients"]
    # The full name says who is meant, so there is nothing to ask.
    full, _ = await _file(bot, who="", what="Jane Tate keeps shouting at me.")
    assert CLERK in (await bot.store.get("reports", full))["recipients"]


async def test_two_people_in_the_chain_with_one_first_name_are_both_offered(tmp_path, make_bot):
    bot = make_bot(tmp_path, names={**NAMES, ASSISTANT: "Jane Okafor"})
    answer = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "who": "Jane", "what": "She shouts at me."}))
    question = field(answer, "about")
    assert "the Town Clerk (Jane Pargeter)" in question and "the Assistant Clerk (Jane Okafor)" in question
    ref, _ = await _file(bot, who="Jane", what="She shouts at me.", about="assistant_clerk")
    record = await bot.store.get("reports", ref)
    assert record["excluded"] == [ASSISTANT] and record["recipients"] == [CHAIR]  # round the chain, as for any


async def test_a_report_that_waited_goes_up_the_chain_when_a_name_became_ambiguous_meanwhile(tmp_path, make_bot):
    """Nobody can be asked any more once a report is filed: an unanswered ambiguity is settled by
    sending it further up the chain, never to a person it may be about."""
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR}, names={})
    ref, _ = await _file(bot, who="", what="Jane keeps shouting at me.")
    await bot.stop()
    bot = make_bot(tmp_path, people={COUNCILLOR: Role.COUNCILLOR, CLERK: Role.CLERK, CHAIR: Role.CHAIR,
                                     COUNCILLOR2: Role.COUNCILLOR},
                   names={CLERK: "Jane Pargeter", COUNCILLOR2: "Jane Tate", CHAIR: "Robert Finch"})
    assert (await bot.housekeeping())["routed"] == 1
    record = await bot.store.get("reports", ref)
    assert record["recipients"] == [CHAIR] and CLERK in record["excluded"]


# 3. Subject access: one redaction everywhere; what is withheld kept apart.

async def _clerks_records(bot):
    """The Clerk received Ann's report (the Assistant added a note); Ben reported the Clerk."""
    notifier(bot)
    received, _ = await _file(bot)
    await press(bot, CLERK, "report.ack", received)
    await submit(bot, ASSISTANT, "report_note", {"note": "Called her back."}, value=received)
    about_her, _ = await _file(bot, COUNCILLOR2, who="", what="The Town Clerk keeps shouting at me.")
    await bot.outbox.drain()
    return received, about_her


async def test_subject_access_redacts_other_people_the_same_way_in_every_section(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    received, about_her = await _clerks_records(bot)
    result = await dataprotection.subject_access(bot.ctx, CLERK)
    out = result.export
    dumped = json.dumps(out)
    # The outbox copy of the report she received says who reported it in the record itself.
    copies = [d for d in out["outbox"] if d["id"].startswith(f"{received}:notice")]
    assert copies, out["outbox"]
    reported_by = next(f["value"] for f in copies[0]["reply"]["fields"] if f["label"] == "Reported by")
    assert reported_by == "[another person]"
    for other_name in (NAMES[COUNCILLOR], "Ann Hughes", NAMES[ASSISTANT], NAMES[COUNCILLOR2]):
        assert other_name not in dumped, other_name
    for other_id in (COUNCILLOR, COUNCILLOR2, ASSISTANT, CHAIR):
        assert other_id not in dumped, other_id
    assert out["reports"][0]["reporter"] == "[another person]"
    # Her own name and id stay: it is her data.
    assert CLERK in dumped
    # The report about her is not hinted at in any way: not by reference, not by a count.
    assert about_her not in dumped and "withheld" not in dumped
    assert "keeps shouting" not in dumped
    # It is kept for the operator's review, in full, apart from what she is given.
    assert [w["id"] for w in result.withheld if w["table"] == "reports"] == [about_her]
    assert result.withheld[0]["record"]["what"] == "The Town Clerk keeps shouting at me."


async def test_subject_access_redacts_the_name_in_a_notice_as_in_the_record(tmp_path, make_bot):
    """Ann's suggestion was approved by the Clerk: the record says "[another person]", and so must
    the notice she was sent ("… was approved by Jane Pargeter")."""
    bot = make_bot(tmp_path)
    await _clerks_records(bot)
    answer = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}))
    sid = answer.title.split()[1]
    await press(bot, CLERK, "suggestion.approve", sid)
    await bot.outbox.drain()
    out = (await dataprotection.subject_access(bot.ctx, COUNCILLOR)).export
    (notice,) = [d for d in out["outbox"] if "approved by" in d["reply"]["text"]]
    assert notice["reply"]["text"].endswith("approved by [another person].")
    assert next(s for s in out["suggestions"] if s["id"] == sid)["decisions"][0]["by"] == "[another person]"
    dumped = json.dumps(out)
    assert COUNCILLOR in dumped and CLEAN_POST in dumped  # hers stays hers
    for other in (CLERK, ASSISTANT, NAMES[CLERK], NAMES[ASSISTANT], NAMES[COUNCILLOR2]):
        assert other not in dumped, other


# 4. Erasure leaves open cases alone unless told.

async def test_erasure_refuses_while_a_case_involving_the_person_is_open(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    received, about_her = await _clerks_records(bot)
    before = {t: (await bot.store.find(t)) for t in ("reports", "outbox", "audit")}
    with pytest.raises(dataprotection.OpenCases) as refusal:
        await dataprotection.erase_person(bot.ctx, COUNCILLOR)
    assert refusal.value.refs == [received]
    with pytest.raises(dataprotection.OpenCases) as clerk_refusal:  # she received one; one is about her
        await dataprotection.erase_person(bot.ctx, CLERK)
    assert clerk_refusal.value.refs == sorted([received, about_her])
    assert {t: (await bot.store.find(t)) for t in ("reports", "outbox", "audit")} == before  # nothing touched

    # Once her case is closed, the reporter can be erased as before.
    await submit(bot, CLERK, "report_close", {"outcome": "Dealt with."}, value=received)
    assert (await dataprotection.erase_person(bot.ctx, COUNCILLOR))["reports"] == 1
    assert await bot.store.get("reports", received) is None
    # The operator may insist: the open case about the Clerk keeps going, without her id.
    await dataprotection.erase_person(bot.ctx, CLERK, include_open=True)
    assert CLERK not in json.dumps(await bot.store.get("reports", about_her))


# 5. A safety line on every receipt.

async def test_every_receipt_has_a_safety_line(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    _, plain = await _file(bot)
    assert SAFETY in plain.text
    _, urgent = await _file(bot, danger=True)
    assert urgent.text.splitlines()[0] == reports_module.DANGER_ADVICE and "999" in urgent.text
    nobody = make_bot(tmp_path / "nobody", people={COUNCILLOR: Role.COUNCILLOR}, names={})
    _, unrouted = await _file(nobody)
    assert SAFETY in unrouted.text


async def test_a_name_changed_in_chat_does_not_hide_the_name_in_the_config_file(tmp_path, make_bot):
    """The Clerk can rename people from chat, herself included: a report naming her by the name in
    the config file must still go round her, not to her."""
    bot = make_bot(tmp_path)
    rec = notifier(bot)
    await command(bot, CLERK, "people", "add test:clerk clerk Zara Quill")
    for what in ("Jane keeps shouting at me in meetings.", "Mrs Pargeter keeps shouting at me.", "Zara keeps shouting at me."):
        ref, _ = await _file(bot, who="", what=what, about="none")
        record = await bot.store.get("reports", ref)
        assert CLERK in record["excluded"] and record["recipients"] == [CHAIR], what
    await bot.outbox.drain()
    assert rec.to(CLERK) == []


async def test_a_name_in_the_where_answer_routes_round_her_too(tmp_path, make_bot):
    """"Link or description of where" is written freely too: "on Jane Pargeter's Facebook page"."""
    bot = make_bot(tmp_path)
    ref, _ = await _file(bot, who="", what="Nasty comments about me all week.", link="On Jane Pargeter's Facebook page",
                         about="none")
    record = await bot.store.get("reports", ref)
    assert CLERK in record["excluded"] and record["recipients"] == [CHAIR]


async def test_a_report_that_waited_reads_the_where_answer_when_it_is_routed(tmp_path, make_bot):
    bot = make_bot(tmp_path, people={})  # nobody can receive it yet: the report waits
    rec = notifier(bot)
    ref, _ = await _file(bot, who="", what="Nasty comments about me all week.", link="On Jane Pargeter's Facebook page")
    assert (await bot.store.get("reports", ref))["recipients"] == []
    await bot.people.set(CLERK, Role.CLERK)  # the Clerk arrives: it is about her, so it keeps waiting
    await bot.people.set(CHAIR, Role.CHAIR)
    record = await bot.store.get("reports", ref)
    assert CLERK in record["excluded"] and record["recipients"] == [CHAIR]
    await bot.outbox.drain()
    assert rec.to(CLERK) == []
