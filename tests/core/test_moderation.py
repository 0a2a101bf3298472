"""Moderation records: what a moderator removed or reported, kept for the Council's records."""

from __future__ import annotations

import csv
import io

from councilbot import moderation as moderation_module

from .kit import CLERK, DEPUTY, MODERATOR, audit_actions, command, one, refused, submit

ACTION = {"platform": "facebook", "post": "https://facebook.com/p/77", "action": "removed-and-reported",
          "reason": "Defamatory comment about a resident"}


async def test_moderation_is_recorded_audited_and_exported(tmp_path, make_bot):
    bot = make_bot(tmp_path, "castle-cary")
    form = one(await command(bot, MODERATOR, "moderation")).form
    assert form.name == "moderation" and {o.value for o in form.inputs[2].options} == set(moderation_module.ACTIONS)
    reply = one(await submit(bot, MODERATOR, "moderation", ACTION))
    assert reply.tone == "ok" and "Council's records" in reply.text
    (record,) = (await bot.store.find("moderation"))
    assert record["id"] == "M-2026-0001" and record["moderator"] == MODERATOR and record["action"] == "removed-and-reported"
    assert await audit_actions(bot, record["id"]) == [(MODERATOR, "moderation.recorded")]
    one(await submit(bot, DEPUTY, "moderation", {**ACTION, "action": "hidden", "post": "comment 2"}))
    rows = list(csv.DictReader(io.StringIO(await moderation_module.export(bot.ctx))))
    assert [(r["id"], r["moderator"], r["action"]) for r in rows] == [
        ("M-2026-0001", "Alex Moore", "removed-and-reported"), ("M-2026-0002", "Priya Doyle", "hidden")]


async def test_moderation_form_checks_its_input(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    reply = one(await submit(bot, CLERK, "moderation", {**ACTION, "action": "banned"}))
    assert reply.tone == "danger" and [f.label for f in reply.fields] == ["action"]
    reply = one(await submit(bot, CLERK, "moderation", {**ACTION, "reason": ""}))
    assert [f.label for f in reply.fields] == ["reason"]
    assert (await bot.store.find("moderation")) == []
    assert refused(await submit(bot, MODERATOR, "moderation", ACTION))  # Alsager: no moderator role
