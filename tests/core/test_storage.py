"""Durable storage: records survive a restart, a crash mid-write leaves the last acknowledged
state, a damaged file stops start-up without being touched, and a crash between storing a record
and queueing its notices is repaired at start-up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest

from councilbot import store as store_module
from councilbot.messages import Incoming
from councilbot.ports import CLERK_CHANNEL
from councilbot.store import StoreError

from .kit import (
    TABLES,
    ASSISTANT, CHAIR, CLEAN_POST, CLERK, COUNCILLOR, COUNCILLOR2, REPORT, command, field, notifier, one, press,
    submit,
)

SUGGESTION = {"text": CLEAN_POST, "platforms": ["facebook"], "category": "event"}


async def file_report(bot, user=COUNCILLOR, **changes):
    return field(one(await submit(bot, user, "report", {**REPORT, **changes})), "Reference")


async def suggest(bot, user=COUNCILLOR):
    return one(await submit(bot, user, "suggest", SUGGESTION)).title.split()[1]


def shard_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data").rglob("*.json"))


async def test_records_survive_closing_and_reopening(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref = await file_report(bot)
    sid = await suggest(bot)
    await press(bot, CLERK, "suggestion.approve", sid)
    await command(bot, CLERK, "people", "add test:newbie councillor Nia Jones")
    await submit(bot, CLERK, "flag", {"author": COUNCILLOR2, "text": "You are an idiot."})
    before = {t: sorted((await bot.store.find(t)), key=lambda d: d["id"]) for t in TABLES}
    await bot.stop()

    again = make_bot(tmp_path)
    await again.people.load()
    after = {t: sorted((await again.store.find(t)), key=lambda d: d["id"]) for t in TABLES}
    assert after == before
    assert (await again.store.get("reports", ref))["what"] == REPORT["what"]
    assert (await again.store.get("suggestions", sid))["status"] == "approved"
    assert again.people.role("test:newbie").value == "councillor" and again.people.name("test:newbie") == "Nia Jones"
    # Counters carry on: references are never reused after a restart.
    assert await file_report(again, COUNCILLOR2) == "R-2026-0002"
    # And the work carries on where it was left.
    rec = notifier(again)
    one(await press(again, ASSISTANT, "report.ack", ref))
    await again.outbox.drain()
    assert any(ref in r.text and "acknowledged" in r.text for r in rec.to(COUNCILLOR))


@pytest.mark.tinydb
async def test_many_records_across_shards_survive_and_a_write_touches_one_shard(tmp_path, make_bot, monkeypatch):
    monkeypatch.setattr(store_module, "SHARD_SIZE", 3)
    bot = make_bot(tmp_path)
    refs = [await file_report(bot, f"test:person{i}") for i in range(7)]
    folder = tmp_path / "data" / "reports"
    assert sorted(p.name for p in folder.glob("*.json")) == ["0000.json", "0001.json", "0002.json"]
    stamps = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    one(await press(bot, CLERK, "report.ack", refs[4]))
    changed = [p.name for p in folder.glob("*.json") if p.read_bytes() != stamps[p.name]]
    assert changed == ["0001.json"]
    await bot.stop()

    again = make_bot(tmp_path)
    assert sorted(r["id"] for r in (await again.store.find("reports"))) == refs
    assert (await again.store.get("reports", refs[4]))["status"] == "acknowledged"
    one(await press(again, CLERK, "report.ack", refs[0]))
    assert (await again.store.get("reports", refs[0]))["status"] == "acknowledged"


def _fail_replace_when(monkeypatch, predicate):
    real = os.replace

    def replace(src, dst, *a, **kw):
        if predicate(Path(dst)):
            raise OSError(28, "No space left on device (simulated crash before rename)")
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.tinydb
async def test_crash_between_temp_write_and_rename_keeps_last_acknowledged_state(tmp_path, make_bot, monkeypatch):
    bot = make_bot(tmp_path)
    ref = await file_report(bot)
    on_disk = {p: p.read_bytes() for p in shard_files(tmp_path)}

    _fail_replace_when(monkeypatch, lambda dst: True)
    with contextlib.suppress(Exception):  # the process is presumed dead at this point
        await press(bot, CLERK, "report.ack", ref)
    with contextlib.suppress(Exception):
        await submit(bot, COUNCILLOR2, "report", REPORT, event_id="Ev-crash")
    # The temp file was written, the rename never happened: every real file is as it was.
    assert list((tmp_path / "data").rglob(".*.tmp"))
    assert {p: p.read_bytes() for p in shard_files(tmp_path)} == on_disk
    monkeypatch.undo()

    again = make_bot(tmp_path)                        # restart: the leftover temp files are ignored
    record = await again.store.get("reports", ref)
    assert record["status"] == "open" and record["what"] == REPORT["what"]
    assert [r["id"] for r in (await again.store.find("reports"))] == [ref]
    assert [d["action"] for d in (await again.store.find("audit"))] == ["report.filed"]
    for path in shard_files(tmp_path):
        json.loads(path.read_text())
    # The event whose claim never reached the disk is handled when the platform retries it.
    filed = await submit(again, COUNCILLOR2, "report", REPORT, event_id="Ev-crash")
    assert len((await again.store.find("reports"))) == 2
    assert await submit(again, COUNCILLOR2, "report", REPORT, event_id="Ev-crash") == filed
    assert len((await again.store.find("reports"))) == 2
    one(await press(again, CLERK, "report.ack", ref))
    assert (await again.store.get("reports", ref))["status"] == "acknowledged"


@pytest.mark.tinydb
async def test_failed_write_leaves_memory_and_disk_agreeing(tmp_path, make_bot, monkeypatch):
    bot = make_bot(tmp_path)
    ref = await file_report(bot)
    _fail_replace_when(monkeypatch, lambda dst: dst.parent.name == "reports")
    with contextlib.suppress(Exception):
        await press(bot, CLERK, "report.ack", ref)
    monkeypatch.undo()
    # The same process carries on: it does not believe in the write that failed.
    assert (await bot.store.get("reports", ref))["status"] == "open"
    one(await press(bot, CLERK, "report.ack", ref))
    assert (await bot.store.get("reports", ref))["status"] == "acknowledged"
    await bot.stop()
    assert (await make_bot(tmp_path).store.get("reports", ref))["status"] == "acknowledged"


@pytest.mark.parametrize("damage", [b'{"reports": {"1": {"id": "R-2026-0001", "wh', b"\xff\xfe\x00garbage", b"[1, 2, 3]",
                                    b"", b'{"reports": []}', b'{"reports": {"1": "x"}}', b'{"reports": {"abc": {"id": "R"}}}'],
                         ids=["truncated", "not utf-8", "a list", "empty", "table a list", "record a string", "bad doc id"])
@pytest.mark.tinydb
async def test_corrupt_shard_is_reported_at_start_up_and_left_untouched(tmp_path, make_bot, damage):
    bot = make_bot(tmp_path)
    await file_report(bot)
    await suggest(bot)
    await bot.stop()
    shard = tmp_path / "data" / "reports" / "0000.json"
    shard.write_bytes(damage)
    others = {p: p.read_bytes() for p in shard_files(tmp_path) if p != shard}

    with pytest.raises(StoreError) as err:
        make_bot(tmp_path)
    assert str(shard) in str(err.value)
    assert "not been changed" in str(err.value)
    assert shard.read_bytes() == damage
    assert {p: p.read_bytes() for p in shard_files(tmp_path) if p != shard} == others
    assert not list(shard.parent.glob(".*.tmp"))


async def test_crash_between_storing_a_report_and_queueing_notices_is_recovered(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref = await file_report(bot)
    sid = await suggest(bot)
    # Simulate the crash: the records are stored, their notices never queued.
    await bot.store.update("reports", ref, {"notices_queued": False})
    await bot.store.update("suggestions", sid, {"notices_queued": False})
    for row in (await bot.store.find("outbox")):
        await bot.store.delete("outbox", row["id"])
    await bot.stop()

    again = make_bot(tmp_path)
    await again.recover()  # at start-up
    assert (await again.store.get("reports", ref))["notices_queued"] is True
    assert (await again.store.get("suggestions", sid))["notices_queued"] is True
    rec = notifier(again)
    await again.outbox.drain()
    assert sorted(a for a, _ in rec.sent) == sorted([CLERK, ASSISTANT, CLERK_CHANNEL, CLERK_CHANNEL])
    assert [r.title for r in rec.to(CLERK)] == [f"Confidential report {ref}"]
    assert {r.title for r in rec.to(CLERK_CHANNEL)} == {f"New report {ref}", f"Suggested post {sid}"}
    await again.stop()

    # Recovering again (a crash after queueing, before the flag was saved) sends nothing twice.
    third = make_bot(tmp_path)
    await third.store.update("reports", ref, {"notices_queued": False})
    await third.recover()
    rec3 = notifier(third)
    await third.outbox.drain()
    assert rec3.sent == []


async def test_real_crash_at_the_outbox_write_is_recovered_at_start_up(tmp_path, make_bot, monkeypatch):
    bot = make_bot(tmp_path)
    _fail_replace_when(monkeypatch, lambda dst: dst.parent.name == "outbox")
    with contextlib.suppress(Exception):
        await submit(bot, COUNCILLOR, "report", {**REPORT, "about": "clerk"})
    monkeypatch.undo()
    restarted = make_bot(tmp_path)
    await restarted.recover()  # at start-up
    (record,) = await restarted.store.find("reports")
    assert record["recipients"] == [CHAIR]

    again = make_bot(tmp_path)
    rec = notifier(again)
    await again.outbox.drain()
    assert [a for a, _ in rec.sent] == [CHAIR]
    assert (await again.store.get("reports", record["id"]))["notices_queued"] is True


async def test_handler_failure_answers_with_an_apology(tmp_path, make_bot, monkeypatch):
    """The contract: ``handle`` returns replies; a failing handler gives a polite apology and
    releases the event so the platform's retry is handled."""
    bot = make_bot(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(bot.router, "route", boom)
    replies = await bot.handle(Incoming("form", COUNCILLOR, name="report", values=REPORT, event_id="Ev-1"))
    assert one(replies).tone == "danger" and "try again" in replies[0].text
    # Nothing was changed, so the form stays open with the answers (Slack's modal, Teams' card).
    assert replies[0].form_error
    monkeypatch.undo()
    assert len(await bot.handle(Incoming("form", COUNCILLOR, name="report", values=REPORT, event_id="Ev-1"))) == 1


@pytest.mark.tinydb
@pytest.mark.parametrize("damage", ["table is a file", "shard is a folder"])
async def test_data_folder_of_the_wrong_shape_is_reported_plainly(tmp_path, make_bot, damage):
    bot = make_bot(tmp_path)
    await file_report(bot)
    await bot.stop()
    if damage == "table is a file":
        target = tmp_path / "data" / "suggestions"
        shutil.rmtree(target, ignore_errors=True)
        target.write_text("not a folder")
    else:
        target = tmp_path / "data" / "reports" / "0001.json"
        target.mkdir()
    with pytest.raises(StoreError) as err:
        await make_bot(tmp_path).store.find("suggestions")
    assert str(target) in str(err.value)
