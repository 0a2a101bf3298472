"""The pre-election period through the core's door: checks, suggested posts, the Clerk's
`election` command, and the clerk channel's start and end messages."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from councilbot.app import CouncilBot
from councilbot.config import ElectionSettings
from councilbot.messages import Reply
from councilbot.ports import CLERK_CHANNEL

from .kit import (
    ASSISTANT, CLEAN_POST, CLERK, COUNCILLOR, audit_actions, command, notifier, one,
    refused, submit,
)

# Town council elections: the Notice of Election on Monday 29 March 2027, polling day Thursday
# 6 May 2027 (British Summer Time, so 10pm there is 21:00 UTC).
ELECTION = ElectionSettings(name="Town council elections", notice=date(2027, 3, 29), poll=date(2027, 5, 6))
DAY_BEFORE_NOTICE = datetime(2027, 3, 28, 11, 0, tzinfo=timezone.utc)
DURING = datetime(2027, 4, 14, 9, 0, tzinfo=timezone.utc)
POLLING_DAY_2159 = datetime(2027, 5, 6, 20, 59, tzinfo=timezone.utc)
POLLING_DAY_2201 = datetime(2027, 5, 6, 21, 1, tzinfo=timezone.utc)
CITED = "Pre-election period until 10pm on 6 May 2027"

# A council post the policy itself allows: only the pre-election rules hold it back.
NAMING = "Cllr Ann Hughes opened the spring flower show at the Market House today. The show runs until 4pm."
BY_NAME = "Ann Hughes opened the spring flower show at the Market House today. The show runs until 4pm."
RETURNING_OFFICER = ("Statement of persons nominated from the Returning Officer at Cheshire East Council: Ann Hughes, "
                     "Ben Tate, Carol Price. Polls are open 7am-10pm on Thursday 6 May.")
CAMPAIGN = "personal: Vote for me on 6 May! I am standing again for Alsager West. Re-elect Ann Hughes."


@pytest.fixture
def make(make_bot: Callable[..., CouncilBot]) -> Callable[..., CouncilBot]:
    """A bot whose councilbot.toml sets ``elections``; the same folder twice is a restart."""

    def factory(tmp_path: Path, elections: list[ElectionSettings] | None = None, council: str = "alsager") -> CouncilBot:
        return make_bot(tmp_path, council, elections=list(elections or []))

    return factory


def verdict(reply: Reply) -> str:
    return reply.title


async def checked(bot: CouncilBot, text: str) -> Reply:
    return one(await command(bot, COUNCILLOR, "checkpost", text))


async def test_naming_a_councillor_is_ok_before_the_notice_blocked_during_and_ok_after_10pm_on_polling_day(tmp_path, make, clock):
    bot = make(tmp_path, [ELECTION])
    clock.set(DAY_BEFORE_NOTICE)
    before = await checked(bot, NAMING)
    assert verdict(before) == "OK to post" and "Pre-election" not in before.plain()

    clock.set(DURING)
    during = await checked(bot, NAMING)
    assert verdict(during) == "Do not post"
    text = during.plain()
    assert f"{CITED}: the council's pages must not name, quote, tag or picture candidates or sitting councillors" in text
    assert "PE-NAMES" in text and "Code of Recommended Practice on Local Authority Publicity (2011), paragraph 34" in text
    assert "\u201cCllr Ann Hughes\u201d" in text  # the words that did it, quoted
    # By full name alone too: sitting councillors' names come from the people set up in CouncilBot.
    assert verdict(await checked(bot, BY_NAME)) == "Do not post"

    clock.set(POLLING_DAY_2159)  # 9:59pm on polling day (BST): polls are still open
    assert verdict(await checked(bot, NAMING)) == "Do not post"
    clock.set(POLLING_DAY_2201)  # 10:01pm: the period is over, and nothing is changed any more
    after = await checked(bot, NAMING)
    assert verdict(after) == "OK to post" and "Pre-election" not in after.plain()


async def test_a_returning_officer_notice_listing_candidates_stays_ok_and_says_the_period_is_on(tmp_path, make, clock):
    bot = make(tmp_path, [ELECTION])
    clock.set(DURING)
    reply = await checked(bot, RETURNING_OFFICER)
    assert verdict(reply) == "OK to post"
    assert f"{CITED}: post only factual information" in reply.footer  # the period is cited all the same
    assert "turns off comments" in reply.footer


async def test_a_councillors_own_campaign_post_gets_the_imprint_and_council_resources_reminders_not_a_block(tmp_path, make, clock):
    bot = make(tmp_path, [ELECTION])
    clock.set(DAY_BEFORE_NOTICE)
    outside = await checked(bot, CAMPAIGN)
    assert "imprint" not in outside.plain() and "logo" not in outside.plain()

    clock.set(DURING)
    reply = await checked(bot, CAMPAIGN)
    assert verdict(reply) != "Do not post"
    assert verdict(reply) == verdict(outside)  # reminders only: the verdict is the policy's own
    assert f"{CITED}: digital campaign material from a candidate or councillor needs an imprint" in reply.footer
    assert "never the council's logo, social media accounts, email, premises or photos" in reply.footer
    assert "PE-" not in "".join(f.label for f in reply.fields)  # no pre-election finding on a personal account
    # A post that already carries an imprint is not reminded of it.
    imprinted = await checked(bot, CAMPAIGN + " Promoted by Ann Hughes, 1 High Street, Alsager.")
    assert "needs an imprint" not in imprinted.footer and "council's logo" in imprinted.footer


async def test_a_suggested_post_is_judged_with_the_rules_and_the_approval_card_carries_a_banner(tmp_path, make, clock):
    bot = make(tmp_path, [ELECTION])
    recorder = notifier(bot)
    clock.set(DURING)
    returned = one(await submit(bot, COUNCILLOR, "suggest", {"text": NAMING, "platforms": ["facebook"], "category": "event"}))
    assert returned.title.startswith("Not sent") and any("PE-NAMES" in f.label for f in returned.fields)

    sent = one(await submit(bot, COUNCILLOR, "suggest", {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}))
    assert "sent to the Clerk" in sent.title
    await bot.outbox.drain()
    card = recorder.to(CLERK_CHANNEL)[-1]
    assert card.fields[0].label.endswith("Pre-election period")
    assert "Until 10pm on 6 May 2027 (Town council elections)" in card.fields[0].value

    clock.set(POLLING_DAY_2201)  # after the period the same post's card has no banner
    pending = await command(bot, CLERK, "pending")
    assert pending and not any("Pre-election" in f.label for r in pending for f in r.fields)


async def test_help_home_and_lookups_say_the_period_is_on(tmp_path, make, clock):
    bot = make(tmp_path, [ELECTION])
    clock.set(DAY_BEFORE_NOTICE)
    assert "Pre-election period" not in one(await command(bot, COUNCILLOR, "help")).text
    assert not any(r.title == "Pre-election period" for r in await command(bot, COUNCILLOR, "home"))

    clock.set(DURING)
    help_text = one(await command(bot, COUNCILLOR, "help")).text
    assert help_text.splitlines()[0].endswith(f"{CITED} (Town council elections). Council posts are also checked against "
                                              "the pre-election rules: no candidates or councillors named or pictured, "
                                              "nothing controversial, no party or campaign material. Ask 'pre-election "
                                              "rules' to see them.")
    home = await command(bot, COUNCILLOR, "home")
    assert home[0].title == "Pre-election period" and CITED in home[0].text
    answer = one(await command(bot, COUNCILLOR, "policy", "what are the pre-election rules?"))
    assert answer.text.startswith(f"{CITED} (Town council elections)")
    assert {"PE-NAMES", "PE-TOPICS", "PE-IMPRINT"} <= {f.label.split(" ")[0] for f in answer.fields}


async def test_election_add_is_the_clerks_audited_and_survives_a_restart(tmp_path, make, clock):
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc))
    bot = make(tmp_path)
    assert refused(await command(bot, COUNCILLOR, "election", "add 2027-03-29 2027-05-06 Town council elections"))
    assert refused(await command(bot, ASSISTANT, "election", "add 2027-03-29 2027-05-06 Town council elections"))
    assert (await bot.store.find("elections")) == []

    bad = one(await command(bot, CLERK, "election", "add 2027-05-06 2027-03-29 Town council elections"))
    assert bad.tone == "danger" and "after polling day" in bad.text
    typo = one(await command(bot, CLERK, "election", "add 2026-03-29 2027-05-06 Town council elections"))
    assert typo.tone == "danger" and "check the dates" in typo.text
    assert "is not a date" in one(await command(bot, CLERK, "election", "add 29-03-2027 2027-05-06 Town elections")).text

    added = one(await command(bot, CLERK, "election", "add 29/03/2027 2027-05-06 Town council elections"))
    assert added.title == "Election E-2026-0001 added"
    assert "from 29 March 2027 until 10pm on 6 May 2027" in added.text
    assert (CLERK, "election.added") in await audit_actions(bot, "E-2026-0001")
    again = one(await command(bot, CLERK, "election", "add 2027-03-29 2027-05-06 Town council elections"))
    assert "already set up" in again.text and len((await bot.store.find("elections"))) == 1

    await bot.stop()
    bot = make(tmp_path)  # restarted on the same data folder
    listing = one(await command(bot, COUNCILLOR, "election", "list"))  # anyone may see them
    assert [f.label for f in listing.fields] == ["Town council elections (E-2026-0001)"]
    clock.set(DURING)
    assert verdict(await checked(bot, NAMING)) == "Do not post"

    assert refused(await command(bot, COUNCILLOR, "election", "remove E-2026-0001"))
    assert one(await command(bot, CLERK, "election", "remove E-2026-0001")).title == "Election E-2026-0001 removed"
    assert (CLERK, "election.removed") in await audit_actions(bot, "E-2026-0001")
    assert verdict(await checked(bot, NAMING)) == "OK to post"


async def test_an_election_in_the_config_file_cannot_be_removed_from_chat(tmp_path, make, clock):
    bot = make(tmp_path, [ELECTION])
    listing = one(await command(bot, CLERK, "elections"))
    assert [f.label for f in listing.fields] == ["Town council elections (councilbot.toml)"]
    reply = one(await command(bot, CLERK, "election", "remove E-2026-0001"))
    assert refused([reply]) and "councilbot.toml" in reply.text


def _period_messages(*recorders: Any) -> list[Reply]:
    return [r for rec in recorders for r in rec.to(CLERK_CHANNEL) if "Pre-election period" in r.title]


async def test_the_clerk_channel_is_told_once_when_a_period_starts_and_once_when_it_ends_across_restarts(tmp_path, make, clock):
    clock.set(DAY_BEFORE_NOTICE)
    bot = make(tmp_path, [ELECTION])
    first = notifier(bot)
    assert (await bot.housekeeping())["pre_election_notices"] == 0

    clock.set(datetime(2027, 3, 28, 23, 5, tzinfo=timezone.utc))  # 00:05 BST on the notice day
    assert (await bot.housekeeping())["pre_election_notices"] == 1
    assert (await bot.housekeeping())["pre_election_notices"] == 0
    await bot.outbox.drain()
    await bot.stop()
    bot = make(tmp_path, [ELECTION])  # a restart during the period
    second = notifier(bot)
    assert (await bot.housekeeping())["pre_election_notices"] == 0
    await bot.outbox.drain()
    started = _period_messages(first, second)
    assert [m.title for m in started] == ["Pre-election period: Town council elections"]
    start = started[0]
    assert "runs until 10pm on 6 May 2027" in start.text and start.private is False
    checklist = " ".join(f.value for f in start.fields)
    assert "Turn off comments" in checklist and "digital imprint" in checklist
    assert "Alsager Town Council is in the pre-election period before the elections on 6 May 2027" in checklist
    assert "Code of Recommended Practice on Local Authority Publicity 2011 (paragraphs 33 to 35)" in start.footer

    clock.set(POLLING_DAY_2159)
    assert (await bot.housekeeping())["pre_election_notices"] == 0
    clock.set(POLLING_DAY_2201)
    assert (await bot.housekeeping())["pre_election_notices"] == 1
    await bot.stop()
    bot = make(tmp_path, [ELECTION])  # and again after polls close
    third = notifier(bot)
    assert (await bot.housekeeping())["pre_election_notices"] == 0
    await bot.outbox.drain()
    ended = [m for m in _period_messages(first, second, third) if m.title.startswith("Pre-election period over")]
    assert len(ended) == 1 and "Polls closed at 10pm on 6 May 2027" in ended[0].text
    assert len(_period_messages(first, second, third)) == 2


async def test_adding_an_election_in_its_period_sends_the_checklist_at_once_and_removing_it_ends_the_period(tmp_path, make, clock):
    clock.set(DURING)
    bot = make(tmp_path)
    recorder = notifier(bot)
    added = one(await command(bot, CLERK, "election", "add 2027-03-29 2027-05-06 Town council elections"))
    assert "in force now" in added.text
    await bot.outbox.drain()
    assert [m.title for m in _period_messages(recorder)] == ["Pre-election period: Town council elections"]
    await command(bot, CLERK, "election", "remove E-2027-0001")
    await bot.outbox.drain()
    ended = _period_messages(recorder)[-1]
    assert ended.title == "Pre-election period over: Town council elections" and "was removed" in ended.text


async def test_outside_every_period_a_check_is_exactly_as_before(tmp_path, make, clock):
    plain = make(tmp_path / "a")
    configured = make(tmp_path / "b", [ELECTION])
    clock.set(DAY_BEFORE_NOTICE)
    for text in (NAMING, CAMPAIGN, RETURNING_OFFICER, "The council has set its precept for 2027/28."):
        assert (await checked(plain, text)) == (await checked(configured, text))


async def test_outside_a_period_a_question_about_an_ordinary_campaign_is_answered_from_the_policy_alone(tmp_path, make, clock):
    """'Campaign' is a word of everyday council life (a litter-pick campaign): outside a period the
    answer is the policy's own, without the pre-election rules in front of it; inside one they apply."""
    bot = make(tmp_path, [ELECTION])
    question = "Can the council run a campaign to recruit litter-pick volunteers?"
    clock.set(DAY_BEFORE_NOTICE)
    outside = one(await command(bot, COUNCILLOR, "policy", question))
    assert outside.title != "From the pre-election rules" and not any(f.label.startswith("PE-") for f in outside.fields)
    assert "pre-election" not in outside.text.lower()
    # Asked about the rules themselves, a clerk planning ahead still gets them.
    ahead = one(await command(bot, COUNCILLOR, "policy", "what are the pre-election rules?"))
    assert any(f.label.startswith("PE-NEW") for f in ahead.fields)
    clock.set(DURING)
    during = one(await command(bot, COUNCILLOR, "policy", question))
    assert during.text.startswith(CITED) and any(f.label.startswith("PE-NEW") for f in during.fields)


async def test_a_mention_of_the_notice_of_poll_does_not_excuse_naming_a_councillor_by_title(tmp_path, make, clock):
    """The returning officer's exemption is for factual notices, which name candidates but never
    'Cllr Hughes': a post about a councillor is not let through by a line about the notice of poll."""
    bot = make(tmp_path, [ELECTION])
    clock.set(DURING)
    with_notice = NAMING + " The notice of poll is on our website."
    reply = await checked(bot, with_notice)
    assert verdict(reply) == "Do not post" and "\u201cCllr Ann Hughes\u201d" in reply.plain()
    pictured = "Our councillors pictured at the flower show. The list of candidates is on our website."
    assert verdict(await checked(bot, pictured)) == "Do not post"
    assert verdict(await checked(bot, RETURNING_OFFICER)) == "OK to post"  # names alone, in a notice: fine
    clock.set(DAY_BEFORE_NOTICE)
    assert verdict(await checked(bot, with_notice)) == "OK to post"
