"""What only the TinyDB backend has: a folder per council in the data folder, kept across a
restart, and its blocking file I/O in one worker thread (the event loop keeps running, and
writes happen in the order they were awaited)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

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
