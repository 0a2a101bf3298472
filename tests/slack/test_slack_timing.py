"""Slack's 3-second rule: with a Web API that takes 10 s per call, every kind of request is still
acknowledged in well under a second, and the answers arrive once Slack answers."""

from __future__ import annotations

import asyncio
import time

from slack_harness import Harness

from councilbot import clock
from councilbot.messages import Incoming

FAST = 1.0


async def test_everything_acks_fast_while_the_web_api_takes_10s(harness: Harness) -> None:
    # The core loads its checking model on the first check (over a second, on the event loop);
    # that is the core's start-up cost, not Slack's, so pay it before measuring.
    await harness.bot.handle(Incoming(kind="command", user="slack:UWARM", name="checkpost", text="warm up"))
    # A modal to submit later, opened while Slack is still quick.
    await harness.slack.command("/report", user="UCLLR")
    [opened] = await harness.fake.wait_for("views.open")
    view = opened.data["view"]

    harness.fake.slow(10)
    answers = {
        "command": await harness.slack.command("/checkpost", "Our litter pick is on Saturday!"),
        "policy": await harness.slack.command("/policy", "photos of children"),
        "form command": await harness.slack.command("/suggest", user="UCLLR"),
        "dm": await harness.slack.dm("may I post: Our litter pick is on Saturday!"),
        "home": await harness.slack.event({"type": "app_home_opened", "user": "UCLLR", "tab": "home"}),
        "action": await harness.slack.press({"action_id": "report.view", "value": f"R-{clock.now().year}-0001"}, user="UCLERK"),
        "shortcut": await harness.slack.shortcut("check_message", "Vote for me!", author="UOTHER", user="UCLLR"),
        "flag": await harness.slack.shortcut("flag_conduct", "You are a liar", author="UOTHER", user="UCLERK"),
        "submission": await harness.slack.submit(view, {"what": "Threats by email.", "platform": "email", "when": "today"}, user="UCLLR"),
        "invalid submission": await harness.slack.submit(view, {"what": "", "platform": "email", "when": "today"}, user="UCLLR"),
    }
    for what, answer in answers.items():
        assert answer.status == 200, what
        assert answer.seconds < FAST, f"{what} took {answer.seconds:.2f}s to ack"
    assert answers["invalid submission"].json()["response_action"] == "errors"
    assert len((await harness.bot.store.find("reports"))) == 1  # recorded before the ack, Slack or no Slack

    # The answers have reached Slack and wait on it (four response_url posts held there), none
    # delivered yet; once Slack answers, everything is.
    end = time.monotonic() + 10
    while harness.fake.attempts.count("respond") < 4:
        assert time.monotonic() < end, harness.fake.attempts
        await asyncio.sleep(0.02)
    assert harness.fake.of("respond") == []
    harness.fake.release()
    await harness.fake.wait_for("respond", count=4, timeout=10)  # checkpost, policy, action, shortcut
    await harness.fake.wait_for("views.publish", timeout=10)
