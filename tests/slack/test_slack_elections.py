"""The pre-election period through Slack over real HTTP: the Clerk adds an election with
/councilbot, the clerk channel gets the checklist, and a councillor's /checkpost cites the period."""

from __future__ import annotations

from datetime import timedelta

from slack_harness import Harness, texts

from councilbot import clock
from councilbot.elections import day

NAMING = "Cllr Ann Hughes opened the spring flower show at the Market House today. The show runs until 4pm."


async def test_the_clerk_adds_an_election_and_checks_follow_the_pre_election_rules(harness: Harness) -> None:
    await harness.slack.command("/checkpost", NAMING, user="UCLLR")
    [before] = await harness.fake.wait_for("respond")
    assert "OK to post" in before.data["blocks"][0]["text"]["text"]

    today = clock.local_date(clock.LONDON)
    notice, poll = today - timedelta(days=1), today + timedelta(days=20)
    add = f"election add {notice.isoformat()} {poll.isoformat()} Town council elections"
    await harness.slack.command("/councilbot", add, user="UCLLR")
    refused = await harness.fake.wait_for("respond", count=2)
    assert "Only the Clerk can add or remove elections" in texts(refused[-1].data)
    assert (await harness.bot.store.find("elections")) == []

    await harness.slack.command("/councilbot", add, user="UCLERK")
    added = await harness.fake.wait_for("respond", count=3)
    assert "added" in texts(added[-1].data) and added[-1].data["response_type"] == "ephemeral"
    [checklist] = await harness.fake.wait_for("chat.postMessage", channel="CCLERK")
    assert "Pre-election period: Town council elections" in texts(checklist.data)
    assert "Turn off comments" in texts(checklist.data)

    await harness.slack.command("/checkpost", NAMING, user="UCLLR")
    during = await harness.fake.wait_for("respond", count=4)
    assert "Do not post" in during[-1].data["blocks"][0]["text"]["text"]
    assert f"Pre-election period until 10pm on {day(poll)}" in texts(during[-1].data)
    assert "PE-NAMES" in texts(during[-1].data)
