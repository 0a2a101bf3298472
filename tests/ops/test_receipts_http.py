"""A reporter always gets their reference (issue 10, section 3), over real HTTP against the whole
server: the same Slack modal submitted again after a crash and a restart is answered with the
report's receipt (not an empty 200 that closes the modal silently), and a receipt whose answer
died with the process reaches the reporter's DM from the outbox after the restart, once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slack_harness import submission

from councilbot.messages import Incoming, Reply

from .stack import Stack, running

ANSWERS = {"what": "threats on Facebook after the meeting", "platform": "facebook", "when": "today"}


async def report_form(stack: Stack, user: str) -> dict[str, Any]:
    await stack.slack.command("/report", user=user)
    [opened] = await stack.fake.wait_for("views.open")
    return dict(opened.data["view"])


async def test_the_same_modal_sent_again_after_a_restart_gets_its_reference(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        payload = submission({**(await report_form(stack, "URES")), "id": "VREP1"}, ANSWERS, user="URES")
        first = await stack.slack.interact(payload)
        [report] = (await stack.bot.store.find("reports"))
        assert first.status == 200 and report["id"] in first.text
        # The copy to keep: the receipt as a DM, sent from the outbox (so a crash cannot lose it).
        [dm] = await stack.fake.wait_for("chat.postMessage", channel="URES")
        assert report["id"] in json.dumps(dm.data)
        # As if the process died after writing the record and before finishing the event.
        [claim] = [d for d in (await stack.bot.store.find("events"))]
        await stack.bot.store.update("events", claim["id"], {"state": "pending"})
        await stack.settle()
    async with running(tmp_path) as stack:  # the restart; the person presses Submit again
        again = await stack.slack.interact(payload)
        body = again.json()
        assert again.status == 200 and body is not None and body["response_action"] == "update", again.text
        shown = json.dumps(body["view"])
        assert report["id"] in shown and "received" in shown
        assert [r["id"] for r in (await stack.bot.store.find("reports"))] == [report["id"]]  # filed once
        # The DM went the first time: pressing Submit again does not send it twice. (A new report
        # afterwards is the signal that the DMs of both submissions have been dealt with.)
        later = submission({**(await report_form(stack, "URES")), "id": "VREP9"}, ANSWERS, user="URES")
        assert (await stack.slack.interact(later)).status == 200
        [dm] = await stack.fake.wait_for("chat.postMessage", channel="URES")
        await stack.settle()
        newer = [r["id"] for r in (await stack.bot.store.find("reports")) if r["id"] != report["id"]]
        assert len(newer) == 1 and newer[0] in json.dumps(dm.data) and report["id"] not in json.dumps(dm.data)
        assert len([c for c in stack.fake.of("chat.postMessage") if c.data.get("channel") == "URES"]) == 1


class Died(BaseException):
    """The process dying: nothing after it runs."""


async def test_a_receipt_whose_answer_died_with_the_process_reaches_the_dm_once(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # 60 s in production. Over a second here: the outbox stores due times to the whole second, so a
    # shorter hold can be no hold at all, and this process would send the receipt before it "dies".
    monkeypatch.setattr("councilbot.context.RECEIPT_HOLD", 2.0)
    async with running(tmp_path) as stack:
        route = stack.bot.router.route

        async def route_then_die(ctx: Any, incoming: Incoming) -> list[Reply]:
            await route(ctx, incoming)
            raise Died()

        stack.bot.router.route = route_then_die  # type: ignore[method-assign]
        with pytest.raises(Died):
            await stack.bot.handle(Incoming("form", "slack:URES", name="report", values=ANSWERS, event_id="VREP2"))
        stack.bot.outbox.notifiers.clear()  # nothing more leaves this process: it is dead
        [report] = (await stack.bot.store.find("reports"))
    async with running(tmp_path) as stack:
        [dm] = await stack.fake.wait_for("chat.postMessage", channel="URES", timeout=10)
        assert report["id"] in json.dumps(dm.data)
        await stack.settle()
        await stack.quiet()  # a second copy would have gone out before these markers
        assert len(stack.fake.of("chat.postMessage", channel="URES")) == 1
