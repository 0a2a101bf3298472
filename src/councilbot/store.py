"""TinyDB files, the embedded store's engine (``storage.tiny`` runs it in its worker thread; the
core only ever sees the async port, ``storage.port``).

TinyDB rewrites its whole file on every write, so one file per table would make a write cost
grow with the data. Records are kept in shards of at most ``SHARD_SIZE`` documents: a write
rewrites one shard, so filing a report costs the same with 100 records stored as with 50,000.
Every shard write is atomic (temp file, fsync, rename, fsync of the folder), so a crash at any
moment leaves the last acknowledged state readable.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

SHARD_SIZE = 100
Doc = dict[str, Any]


class StoreError(Exception):
    """The data directory cannot be used as it is; the message names the file and what is wrong."""


class DataLock:
    """One process per data folder: the store keeps records in memory and rewrites whole shards,
    so a second writer (a CLI command while the bot serves) would silently undo the first."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / ".lock"
        self._fh: Any = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot use the data folder ({exc.strerror})") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreError(f"{self.path.parent}: CouncilBot is already using this data folder (pid {holder}). "
                             "Stop it first, or do this from chat while it runs.") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class WriteBatch:
    """Shard writes held back while ``open``, so that several operations' changes to one file cost
    one write and one fsync (group commit): ``TinyStore.commit`` writes them, in the order the files
    were first changed, before any of those operations is reported done."""

    def __init__(self) -> None:
        self.open = False
        self.dirty: dict[AtomicJSONStorage, None] = {}  # an ordered set


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file, and reads from memory after the first load
    (this process is the only writer)."""

    def __init__(self, path: str, batch: WriteBatch | None = None) -> None:
        self.path = Path(path)
        self.batch = batch
        self._cache: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._cache is None:
            if not self.path.exists():
                return None
            try:
                # Never "" -> {}: this store never writes an empty file, so an empty one is damage.
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise StoreError(f"{self.path}: the data file is damaged ({exc}); it has not been changed. "
                                 "Restore it from a backup (councilbot restore) or move it aside.") from None
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot read the data file ({exc.strerror})") from None
            if not tinydb_shaped(loaded):
                raise StoreError(f"{self.path}: the data file does not hold TinyDB tables; it has not been changed. "
                                 "Restore it from a backup (councilbot restore) or move it aside.")
            self._cache = loaded
        return self._cache

    def write(self, data: dict[str, Any]) -> None:
        if self.batch is not None and self.batch.open:
            self._cache = data  # written by TinyStore.commit
            self.batch.dirty[self] = None
            return
        self._write_file(data)

    def flush(self) -> None:
        """Write what a batch held back (nothing if this file was reloaded since)."""
        if self._cache is not None:
            self._write_file(self._cache)

    def _write_file(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            # json.dumps, not json.dump: dump streams through the pure-Python encoder, several times
            # slower, and this runs on every write while holding the GIL the event loop needs.
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            self._cache = None  # memory may be ahead of disk now: reload on next read
            raise
        self._cache = data

    def close(self) -> None:
        self._cache = None


def tinydb_shaped(data: Any) -> bool:
    """TinyDB's layout: {table: {"<doc id>": {record}}}. Anything else would fail deep inside TinyDB."""
    return isinstance(data, dict) and all(
        isinstance(table, dict) and all(isinstance(k, str) and k.isdigit() and isinstance(v, dict) for k, v in table.items())
        for table in data.values())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _plain(doc: Doc) -> Doc:
    """A private copy exactly as the file will hold it (tuples become lists), so a record reads
    the same before and after a restart."""
    copied: Doc = json.loads(json.dumps(doc, ensure_ascii=False))
    return copied


class _Table:
    """One logical table: its shards, and an in-memory index of where each record lives."""

    def __init__(self, folder: Path, name: str, batch: WriteBatch | None = None) -> None:
        self.folder = folder
        self.name = name
        self.batch = batch
        self.shards: list[TinyDB] = []
        self.where: dict[str, tuple[int, int]] = {}  # record id -> (shard index, TinyDB doc id)
        self.docs: dict[str, Doc] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{folder}: cannot use this table's folder ({exc.strerror}); it has not been changed.") from None
        for path in sorted(folder.glob("*.json")):
            if not path.is_file():
                raise StoreError(f"{path}: expected a data file, found something else; it has not been changed.")
            self._open(path)
        if not self.shards:
            self._open(folder / "0000.json")

    def _open(self, path: Path) -> None:
        db = TinyDB(str(path), storage=AtomicJSONStorage, batch=self.batch)
        index = len(self.shards)
        self.shards.append(db)
        for document in db.table(self.name).all():
            record_id = document.get("id")
            if isinstance(record_id, str):
                self.where[record_id] = (index, document.doc_id)
                self.docs[record_id] = dict(document)

    def insert(self, doc: Doc) -> None:
        doc = _plain(doc)
        shard = self.shards[-1]
        if len(shard.table(self.name)) >= SHARD_SIZE:
            shard = TinyDB(str(self.folder / f"{len(self.shards):04d}.json"), storage=AtomicJSONStorage, batch=self.batch)
            self.shards.append(shard)
        doc_id = shard.table(self.name).insert(doc)
        self.where[doc["id"]] = (len(self.shards) - 1, doc_id)
        self.docs[doc["id"]] = copy.deepcopy(doc)

    def update(self, record_id: str, doc: Doc) -> None:
        doc = _plain(doc)
        index, doc_id = self.where[record_id]
        self.shards[index].table(self.name).upsert(Document(doc, doc_id=doc_id))
        self.docs[record_id] = copy.deepcopy(doc)

    def update_many(self, docs: dict[str, Doc]) -> None:
        """Replace several records with one write per shard (not one per record): a lane leasing
        a batch of deliveries would otherwise rewrite the same shard file once per item."""
        docs = {record_id: _plain(doc) for record_id, doc in docs.items()}
        by_shard: dict[int, list[int]] = {}
        for record_id in docs:
            index, doc_id = self.where[record_id]
            by_shard.setdefault(index, []).append(doc_id)

        def replace(current: Any) -> None:
            current.update(docs[current["id"]])

        for index, doc_ids in by_shard.items():
            self.shards[index].table(self.name).update(replace, doc_ids=doc_ids)
        for record_id, doc in docs.items():
            self.docs[record_id] = copy.deepcopy(doc)

    def delete(self, record_id: str) -> None:
        index, doc_id = self.where.pop(record_id)
        self.shards[index].table(self.name).remove(doc_ids=[doc_id])
        self.docs.pop(record_id, None)


def keep_out_of_git(data_dir: Path) -> None:
    """Records are personal data: a data folder made inside a git checkout (``data``, or any
    ``data_dir`` a council picks, and the copies restore sets aside) ignores itself, as a virtualenv
    does, so ``git add -A`` never picks it up. Backups copy only ``*.json``, so this file stays out."""
    marker = data_dir / ".gitignore"
    if not marker.exists():
        try:
            marker.write_text("# CouncilBot's records: never commit them\n*\n", encoding="utf-8")
        except OSError:
            pass  # a read-only marker is no reason to refuse the records


class TinyStore:
    """The embedded store: a folder per table under ``data_dir``, shards of TinyDB files inside."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.data_dir}: cannot create the data folder ({exc.strerror})") from None
        if not os.access(self.data_dir, os.W_OK):
            raise StoreError(f"{self.data_dir}: the data folder is not writable")
        keep_out_of_git(self.data_dir)
        self._lock = threading.RLock()
        self._batch = WriteBatch()
        self._tables: dict[str, _Table] = {}
        for folder in sorted(p for p in self.data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            self._table(folder.name)

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            if not name.replace("_", "").replace("-", "").isalnum():
                raise StoreError(f"invalid table name {name!r}")
            table = self._tables[name] = _Table(self.data_dir / name, name, self._batch)
        return table

    def tables(self) -> list[str]:
        return sorted(self._tables)

    def insert(self, table: str, doc: Doc) -> bool:
        """Store a new record; False (and no change) if a record with that id exists already."""
        with self._lock:
            t = self._table(table)
            if doc["id"] in t.docs:
                return False
            t.insert(doc)
            return True

    def update(self, table: str, record_id: str, changes: Doc) -> Doc:
        with self._lock:
            t = self._table(table)
            if record_id not in t.docs:
                raise KeyError(f"{table}/{record_id}")
            doc = {**t.docs[record_id], **changes}
            t.update(record_id, doc)
            return copy.deepcopy(t.docs[record_id])

    def update_many(self, table: str, changes: dict[str, Doc]) -> list[Doc]:
        """``update`` for several records (record id -> changes) at once, written once per shard."""
        with self._lock:
            t = self._table(table)
            missing = [record_id for record_id in changes if record_id not in t.docs]
            if missing:
                raise KeyError(f"{table}/{missing[0]}")
            t.update_many({record_id: {**t.docs[record_id], **change} for record_id, change in changes.items()})
            return [copy.deepcopy(t.docs[record_id]) for record_id in changes]

    def get(self, table: str, record_id: str) -> Doc | None:
        with self._lock:
            doc = self._table(table).docs.get(record_id)
            return copy.deepcopy(doc) if doc is not None else None

    def all(self, table: str) -> list[Doc]:
        with self._lock:
            return [copy.deepcopy(d) for d in self._table(table).docs.values()]

    def find(self, table: str, pred: Callable[[Doc], bool]) -> list[Doc]:
        with self._lock:
            return [copy.deepcopy(d) for d in self._table(table).docs.values() if pred(d)]

    def count(self, table: str) -> int:
        with self._lock:
            return len(self._table(table).docs)

    def delete(self, table: str, record_id: str) -> bool:
        with self._lock:
            t = self._table(table)
            if record_id not in t.docs:
                return False
            t.delete(record_id)
            return True

    def claim(self, key: str) -> bool:
        """Record that an incoming event is being handled ("pending" until the core marks it
        "done"); False if it was claimed before (a platform retry)."""
        from . import clock

        return self.insert("events", {"id": key, "at": clock.now().timestamp(), "state": "pending"})

    def next_number(self, counter: str) -> int:
        with self._lock:
            current = self.get("counters", counter)
            if current is None:
                self.insert("counters", {"id": counter, "value": 1})
                return 1
            return int(self.update("counters", counter, {"value": current["value"] + 1})["value"])

    def defer(self) -> None:
        """Hold shard writes in memory until ``commit`` (group commit, see ``WriteBatch``). Nothing
        done meanwhile may be reported done before ``commit`` returned."""
        with self._lock:
            self._batch.open = True

    def commit(self) -> None:
        """Write (atomically, fsynced) every shard changed since ``defer``, and stop deferring. If it
        raises, memory is ahead of the disk: close this store and open the folder again."""
        with self._lock:
            self._batch.open = False
            dirty = list(self._batch.dirty)
            self._batch.dirty.clear()
            for storage in dirty:
                storage.flush()

    def files(self) -> Iterator[Path]:
        yield from sorted(self.data_dir.rglob("*.json"))

    def close(self) -> None:
        with self._lock:
            for table in self._tables.values():
                for shard in table.shards:
                    shard.close()
            self._tables.clear()
