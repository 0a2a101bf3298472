"""The storage port on TinyDB: the embedded default, for one process on one machine.

It wraps the existing ``store.TinyStore`` (sharded, atomic, fsynced files) unchanged. Its I/O blocks,
so every call runs in ONE dedicated worker thread: the event loop never waits on a disk, and writes
happen in the order they were awaited. Calls queued while the thread was busy run together as one
batch whose changed files are then written and fsynced once (group commit); each call's answer is
given only after that, so an acknowledged record is on disk, and under load a write costs one
fsync per batch rather than per call. A batch's reads run first and are answered at once: its calls
were all waiting together, so any order is one they could have run in, and before its writes the
memory holds only what is on disk. Each council has its own folder under the data folder
(``data_dir/<council>/<table>/0000.json``), so councils cannot see each other's files; a single
council's records stay where they always were, in ``data_dir`` itself (``home``).

TinyDB has one writer per folder (the ``DataLock`` the CLI takes), so "across replicas" here means
across tasks in this process: claims, numbers, outbox leases and ``run_once`` are all decided in the
one thread, one call at a time.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import AsyncIterator, Callable, TypeVar

from ..store import TinyStore
from .port import (
    OUTBOX, RUNS, Doc, StorageError, Where, arrange, check_council, check_doc, check_table, check_where, is_due, iso,
    matches, plain, ran_within,
)

T = TypeVar("T")
_Call = tuple[str, Callable[[TinyStore], object], "asyncio.Future[object]", bool]  # council, work, answer, read-only
# At most this many calls in one batch: a bigger one delays its first caller's answer for little gain.
MAX_BATCH = 64


class TinyBackend:
    """Every council's TinyDB folders under ``data_dir``, served by one worker thread."""

    def __init__(self, data_dir: Path, home: str | None = None) -> None:
        """``home``: the one council whose records are in ``data_dir`` itself, as a single council's
        always were (``data_dir/<table>/``); every other council has a folder of its own."""
        self.data_dir = Path(data_dir)
        self.home = home
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="councilbot-store")
        self._stores: dict[str, TinyStore] = {}  # touched only in the worker thread
        self._held: set[tuple[str, str]] = set()  # ``exclusive`` locks, touched only on the loop
        self._closed = False
        # Calls waiting for the worker thread; ``_draining``: a drain job is queued or running.
        self._queue: deque[_Call] = deque()
        self._queue_lock = threading.Lock()
        self._draining = False

    def folder(self, council: str) -> Path:
        return self.data_dir if council == self.home else self.data_dir / council

    def council(self, council: str) -> TinyCouncilStore:
        return TinyCouncilStore(self, check_council(council))

    def open_now(self, council: str) -> None:
        """Open a council's files here and now (before the worker thread's first call), so a
        damaged file stops start-up with its name (``StoreError``) instead of failing a request."""
        self._in_thread(check_council(council), lambda store: None)

    async def opened(self, council: str) -> None:
        """``open_now`` from the event loop, in the worker thread."""
        await self.call(check_council(council), lambda store: None)

    async def call(self, council: str, work: Callable[[TinyStore], T], read: bool = False) -> T:
        """``work`` on the council's TinyStore, in the worker thread, answered once its writes
        (and those of the calls batched with it) are on disk; ``read``: it writes nothing."""
        if self._closed:
            raise StorageError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        with self._queue_lock:
            self._queue.append((council, work, future, read))
            start = not self._draining
            self._draining = True
        if start:
            loop.run_in_executor(self._executor, self._drain)
        return await future  # type: ignore[return-value]

    def _drain(self) -> None:
        """Worker thread: run queued calls in batches until the queue is empty."""
        try:
            while True:
                with self._queue_lock:
                    if not self._queue:
                        self._draining = False
                        return
                    batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                for part in ([c for c in batch if c[3]], [c for c in batch if not c[3]]):  # reads, then writes
                    if part:
                        _send_answers(self._run_batch(part))
        except BaseException:
            with self._queue_lock:
                self._draining = False  # the next call starts a drain again
            raise

    def _run_batch(self, batch: list[_Call]) -> list[tuple[asyncio.Future[object], bool, object]]:
        """Run each call with writes held back, then write each council's changed files once."""
        done: list[tuple[str, asyncio.Future[object], bool, object]] = []
        deferred: dict[str, TinyStore] = {}
        for council, work, future, _ in batch:
            try:
                store = self._store(council)
                if council not in deferred:
                    store.defer()
                    deferred[council] = store
                done.append((council, future, True, work(store)))
            except Exception as exc:  # handed to the caller, as run_in_executor would
                done.append((council, future, False, exc))
        failed: dict[str, Exception] = {}
        for council, store in deferred.items():
            try:
                store.commit()
            except Exception as exc:
                # Memory is ahead of the disk: forget it, and read the folder again on the next call.
                failed[council] = exc
                self._stores.pop(council, None)
                store.close()
        return [(future, False, failed[council]) if ok and council in failed else (future, ok, value)
                for council, future, ok, value in done]

    def _store(self, council: str) -> TinyStore:
        store = self._stores.get(council)
        if store is None:
            store = self._stores[council] = TinyStore(self.folder(council))
        return store

    def _in_thread(self, council: str, work: Callable[[TinyStore], T]) -> T:
        return work(self._store(council))

    @asynccontextmanager
    async def exclusive(self, council: str, name: str) -> AsyncIterator[bool]:
        key = (council, name)
        if key in self._held:
            yield False
            return
        self._held.add(key)
        try:
            yield True
        finally:
            self._held.discard(key)

    async def close(self) -> None:
        if self._closed:
            return

        def close_all() -> None:
            for store in self._stores.values():
                store.close()
            self._stores.clear()

        await asyncio.get_running_loop().run_in_executor(self._executor, close_all)
        self._closed = True
        self._executor.shutdown(wait=True)


def _send_answers(answers: list[tuple[asyncio.Future[object], bool, object]]) -> None:
    """Worker thread: hand each caller's result to the loop it waits on (a backend may be shared
    by several loops, as the tests' servers and checkers do); a loop already closed gets nothing."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[object], bool, object]]] = {}
    for answer in answers:
        by_loop.setdefault(answer[0].get_loop(), []).append(answer)
    for loop, theirs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_answer, theirs)
        except RuntimeError:  # closed: nobody is waiting any more
            pass


def _answer(answers: list[tuple[asyncio.Future[object], bool, object]]) -> None:
    """On the loop: give a batch's callers their results (one callback for the whole batch)."""
    for future, ok, value in answers:
        if future.done():  # the caller was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            assert isinstance(value, BaseException)
            future.set_exception(value)


class TinyCouncilStore:
    """One council's records in its own folder."""

    def __init__(self, backend: TinyBackend, council: str) -> None:
        self.backend = backend
        self.council = council

    async def get(self, table: str, record_id: str) -> Doc | None:
        check_table(table)
        return await self.backend.call(self.council, lambda s: s.get(table, record_id), read=True)

    async def insert(self, table: str, doc: Doc) -> bool:
        check_table(table)
        doc = check_doc(doc)
        return await self.backend.call(self.council, lambda s: s.insert(table, doc))

    async def update(self, table: str, record_id: str, changes: Doc) -> Doc:
        check_table(table)
        changes = plain(changes)
        return await self.backend.call(self.council, lambda s: s.update(table, record_id, changes))

    async def upsert(self, table: str, doc: Doc) -> Doc:
        check_table(table)
        doc = check_doc(doc)

        def work(s: TinyStore) -> Doc:
            if s.insert(table, doc):
                found = s.get(table, doc["id"])
                assert found is not None
                return found
            return s.update(table, doc["id"], doc)

        return await self.backend.call(self.council, work)

    async def delete(self, table: str, record_id: str) -> bool:
        check_table(table)
        return await self.backend.call(self.council, lambda s: s.delete(table, record_id))

    async def find(self, table: str, where: Where | None = None, *, mentions: str | None = None,
                   order_by: str | None = None, descending: bool = False, limit: int | None = None) -> list[Doc]:
        check_table(table)
        where = check_where(where)
        found = await self.backend.call(self.council, lambda s: s.find(table, lambda d: matches(d, where, mentions)), read=True)
        return arrange(found, order_by, descending, limit)

    async def count(self, table: str, where: Where | None = None, *, mentions: str | None = None) -> int:
        return len(await self.find(table, where, mentions=mentions))

    async def delete_where(self, table: str, where: Where, *, mentions: str | None = None) -> list[str]:
        check_table(table)
        where = check_where(where)

        def work(s: TinyStore) -> list[str]:
            ids = sorted(d["id"] for d in s.find(table, lambda d: matches(d, where, mentions)))
            return [i for i in ids if s.delete(table, i)]

        return await self.backend.call(self.council, work)

    async def claim(self, key: str) -> bool:
        return await self.backend.call(self.council, lambda s: s.claim(key))

    async def next_number(self, counter: str) -> int:
        return await self.backend.call(self.council, lambda s: s.next_number(counter))

    async def claim_due(self, platform: str, now: datetime, lease_seconds: float, limit: int = 50) -> list[Doc]:
        until = iso(now + timedelta(seconds=lease_seconds))

        def work(s: TinyStore) -> list[Doc]:
            due = s.find(OUTBOX, lambda d: d.get("platform") == platform and is_due(d, now))
            # One write for the whole batch (per shard), not one per item.
            return s.update_many(OUTBOX, {d["id"]: {"lease": uuid.uuid4().hex, "lease_until": until}
                                          for d in arrange(due, "created", False, limit)})

        return await self.backend.call(self.council, work)

    async def settle(self, item_id: str, lease: str, changes: Doc) -> Doc | None:
        changes = plain(changes)

        def work(s: TinyStore) -> Doc | None:
            current = s.get(OUTBOX, item_id)
            if current is None or current.get("lease") != lease:
                return None
            return s.update(OUTBOX, item_id, {**changes, "lease": None, "lease_until": None})

        return await self.backend.call(self.council, work)

    async def run_once(self, name: str, interval_seconds: float, now: datetime) -> bool:
        def work(s: TinyStore) -> bool:
            if ran_within(s.get(RUNS, name), interval_seconds, now):
                return False
            record = {"id": name, "at": iso(now)}
            if not s.insert(RUNS, record):
                s.update(RUNS, name, record)
            return True

        return await self.backend.call(self.council, work)

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        return self.backend.exclusive(self.council, name)
