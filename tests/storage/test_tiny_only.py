"""What only the TinyDB backend has: a folder per council in the data folder, kept across a
restart, and its blocking file I/O in one worker thread (the event loop keeps running, and
writes happen in the order they were awaited)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Callable

import pytest

from councilbot.store import TinyStore
from councilbot.storage.port import StorageError
from councilbot.storage.tiny import TinyBackend


async def test_each_council_has_its_own_folder_kept_across_a_restart(tmp_path: Path) -> None:
    backend = TinyBackend(tmp_path / "data")
    town, parish = backend.council("town"), backend.council("parish")
    await town.insert("reports", {"id": "R-1", "status": "open"})
    assert await town.next_number("R-2026") == 1
    await parish.insert("reports", {"id": "R-1", "status": "closed"})
    await backend.close()

    assert (tmp_path / "data" / "town" / "reports" / "0000.json").is_file()
    assert (tmp_path / "data" / "parish" / "reports" / "0000.json").is_file()
    assert TinyStore(tmp_path / "data" / "parish").get("reports", "R-1") == {"id": "R-1", "status": "closed"}

    again = TinyBackend(tmp_path / "data")
    try:
        assert await again.council("town").get("reports", "R-1") == {"id": "R-1", "status": "open"}
        assert await again.council("town").next_number("R-2026") == 2  # numbers are never reused
    finally:
        await again.close()


async def test_file_work_runs_in_one_worker_thread_while_the_loop_runs_on(tmp_path: Path) -> None:
    backend = TinyBackend(tmp_path / "data")
    try:
        release = threading.Event()
        seen: list[str] = []

        def slow(store: TinyStore) -> bool:
            seen.append(threading.current_thread().name)
            release.wait(timeout=10)  # a slow disk
            return store.insert("reports", {"id": "R-1"})

        slow_call = asyncio.ensure_future(backend.call("town", slow))
        # The loop is not blocked: another task runs (and ends) while the write waits on the disk.
        ticked = asyncio.ensure_future(asyncio.sleep(0))
        await asyncio.wait_for(ticked, timeout=5)
        assert not slow_call.done()
        release.set()
        assert await slow_call is True
        assert seen and seen[0].startswith("councilbot-store") and seen[0] != threading.current_thread().name
        # Writes happen in the order they were awaited: the update never overtakes the insert.
        town = backend.council("town")
        inserted, updated = await asyncio.gather(town.insert("reports", {"id": "R-2", "status": "open"}),
                                                 town.update("reports", "R-2", {"status": "closed"}))
        assert inserted is True and updated["status"] == "closed"
    finally:
        await backend.close()
    with pytest.raises(StorageError, match="closed"):
        await backend.council("town").get("reports", "R-1")


async def _hold_the_worker(backend: TinyBackend) -> tuple[threading.Event, asyncio.Future[object]]:
    """Keep the worker thread busy (a slow disk) so the calls made meanwhile wait together."""
    release, started = threading.Event(), threading.Event()

    def slow(store: TinyStore) -> None:
        started.set()
        release.wait(timeout=10)

    held = asyncio.ensure_future(backend.call("town", slow))
    assert await asyncio.to_thread(started.wait, 10)
    return release, held


async def test_calls_waiting_together_share_one_fsynced_write_and_are_answered_once_it_is_on_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = TinyBackend(tmp_path / "data")
    town = backend.council("town")
    shard = tmp_path / "data" / "town" / "reports" / "0000.json"
    try:
        await town.insert("reports", {"id": "R-0"})
        release, held = await _hold_the_worker(backend)
        syncs: list[int] = []
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])
        on_disk_when_answered: dict[str, bool] = {}

        def note(ref: str) -> Callable[[asyncio.Future[bool]], None]:
            return lambda _: on_disk_when_answered.__setitem__(ref, ref in shard.read_text(encoding="utf-8"))

        calls = []
        for n in range(1, 11):
            call = asyncio.ensure_future(town.insert("reports", {"id": f"R-{n}"}))
            call.add_done_callback(note(f"R-{n}"))
            calls.append(call)
        release.set()
        await held
        assert await asyncio.gather(*calls) == [True] * 10
        # Ten inserts into one shard: one write with its two fsyncs (file, folder), not twenty.
        assert len(syncs) == 2
        assert on_disk_when_answered == {f"R-{n}": True for n in range(1, 11)}
    finally:
        await backend.close()


async def test_a_failed_group_commit_fails_every_call_in_it_and_memory_follows_the_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = TinyBackend(tmp_path / "data")
    town = backend.council("town")
    try:
        await town.insert("reports", {"id": "R-0", "status": "open"})
        release, held = await _hold_the_worker(backend)

        def full_disk(src: object, dst: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", full_disk)
        calls = [asyncio.ensure_future(town.insert("reports", {"id": f"R-{n}"})) for n in range(1, 4)]
        calls.append(asyncio.ensure_future(town.update("reports", "R-0", {"status": "closed"})))
        release.set()
        await held
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, OSError) for r in results), results
        monkeypatch.undo()
        # None of it is believed: the folder was read again, as it is on disk.
        assert [await town.get("reports", f"R-{n}") for n in range(1, 4)] == [None, None, None]
        assert await town.get("reports", "R-0") == {"id": "R-0", "status": "open"}
        assert await town.insert("reports", {"id": "R-1"}) is True
    finally:
        await backend.close()
    assert TinyStore(tmp_path / "data" / "town").get("reports", "R-1") == {"id": "R-1"}
