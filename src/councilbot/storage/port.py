"""The async storage port: what the core awaits, with TinyDB and PostgreSQL behind it.

Why this shape: a query is plain data (``where={"status": "open"}``) that a database can answer
with an index, and nothing blocks the event loop: TinyDB runs in one worker thread
(``storage.tiny``), PostgreSQL is natively async (``storage.postgres``).

A ``Backend`` is one database (a TinyDB data folder, a PostgreSQL pool) shared by every council in
the deployment. ``backend.council(id)`` gives a ``Store`` bound to one council: every record it
reads or writes carries that council id, so one council can never see another's rows (no call
takes a council id, so none can be forgotten).

Queries. ``where`` maps a top-level field to a plain JSON value (equality; ``None`` also matches a
missing field) or to one of the conditions below. ``mentions=person`` matches a record holding that
string anywhere inside it (subject access and erasure). ``order_by`` sorts by one field (numbers by
value, then text by code point, then anything else, a missing field last, the record id breaking
ties); ``limit`` caps the rows. Timestamps are ISO 8601 text in UTC as ``clock.iso`` writes them,
or epoch seconds (an event claim's ``at``); ``Before``/``After`` take a ``datetime`` for the first
and a number for the second, and a record missing the field never matches either.
"""

from __future__ import annotations

import json
import re
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Protocol, Sequence

Doc = dict[str, Any]

COUNCIL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
FIELD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$")

EVENTS = "events"
COUNTERS = "counters"
OUTBOX = "outbox"
RUNS = "runs"


class StorageError(Exception):
    """Storage cannot be used as asked; the message says what is wrong and what to do."""


class SchemaBehind(StorageError):
    """The database's schema is not the version this CouncilBot needs."""


# Conditions. Frozen dataclasses: a query is data, so a database can answer it.

@dataclass(frozen=True)
class Ne:
    """Not equal (a missing field counts as ``None``)."""
    value: Any


@dataclass(frozen=True)
class In:
    """Equal to one of these values."""
    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Has:
    """A list field that contains this value (text, a number or a boolean)."""
    value: Any


@dataclass(frozen=True)
class Lacks:
    """A missing field, or a list field that does not contain this value (text, a number or a boolean)."""
    value: Any


@dataclass(frozen=True)
class Falsy:
    """Missing, null, false, 0, "" or an empty list/object: a flag not set yet."""


@dataclass(frozen=True)
class Truthy:
    """Present and not falsy."""


@dataclass(frozen=True)
class Before:
    """Strictly earlier: a ``datetime`` compares ISO timestamps, a number compares epoch seconds."""
    moment: datetime | float


@dataclass(frozen=True)
class After:
    """Strictly later (see ``Before``)."""
    moment: datetime | float


@dataclass(frozen=True)
class Prefix:
    """Text starting with this."""
    text: str


@dataclass(frozen=True)
class Suffix:
    """Text ending with this."""
    text: str


Condition = Ne | In | Has | Lacks | Falsy | Truthy | Before | After | Prefix | Suffix
Where = Mapping[str, Any]


class Store(Protocol):
    """One council's records. Every method is a coroutine; nothing here blocks the event loop."""

    council: str

    async def get(self, table: str, record_id: str) -> Doc | None: ...

    async def insert(self, table: str, doc: Doc) -> bool:
        """Store a new record (``doc["id"]`` is its id); False, and no change, if the id is taken."""
        ...

    async def update(self, table: str, record_id: str, changes: Doc) -> Doc:
        """Merge ``changes`` into the record and return it as now stored; KeyError if there is none."""
        ...

    async def upsert(self, table: str, doc: Doc) -> Doc:
        """Insert, or merge into the record with that id; the record as now stored."""
        ...

    async def delete(self, table: str, record_id: str) -> bool: ...

    async def find(self, table: str, where: Where | None = None, *, mentions: str | None = None,
                   order_by: str | None = None, descending: bool = False, limit: int | None = None) -> list[Doc]: ...

    async def count(self, table: str, where: Where | None = None, *, mentions: str | None = None) -> int: ...

    async def delete_where(self, table: str, where: Where, *, mentions: str | None = None) -> list[str]:
        """Delete every matching record; the ids deleted."""
        ...

    async def claim(self, key: str) -> bool:
        """Claim an incoming event: True once per key, across every replica (a platform retry that
        reaches another replica gets False). The claim is ``events/{key}`` with ``state: pending``."""
        ...

    async def next_number(self, counter: str) -> int:
        """1, 2, 3... per counter, allocated in the store: two replicas never get the same number."""
        ...

    async def claim_due(self, platform: str, now: datetime, lease_seconds: float, limit: int = 50) -> list[Doc]:
        """Outbox items for ``platform`` that are pending, due (``next_at`` <= now) and not leased,
        oldest first, each leased to this caller until ``now + lease_seconds``: no other worker gets
        it meanwhile. A worker killed mid-send never settles, so its lease runs out and the item is
        claimed again. Each returned item carries its lease token as ``lease``."""
        ...

    async def settle(self, item_id: str, lease: str, changes: Doc) -> Doc | None:
        """Record what became of a claimed outbox item and end its lease. None (and no change) if
        the item is gone (forgotten meanwhile) or another worker holds it now (this lease expired)."""
        ...

    async def run_once(self, name: str, interval_seconds: float, now: datetime) -> bool:
        """True for exactly one caller per ``interval_seconds`` across all replicas: the one that
        should run the periodic job ``name`` now."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Hold the lock ``name`` for this council while the block runs, if no one else holds it:
        yields True if held, False if another worker (here or on another replica) has it."""
        ...


class Backend(Protocol):
    """One database shared by every council in the deployment."""

    def council(self, council: str) -> Store: ...

    async def close(self) -> None: ...


# Shared helpers: the backends validate the same way, and TinyDB filters with ``matches``, which
# is also the reference meaning of a query that the PostgreSQL translation must agree with.

def check_council(council: str) -> str:
    if not isinstance(council, str) or not COUNCIL_ID.match(council):
        raise StorageError(f"invalid council id {council!r}: use lower-case letters, digits, '-' and '_' (at most 63)")
    return council


def check_table(table: str) -> str:
    if not isinstance(table, str) or not TABLE_NAME.match(table):
        raise StorageError(f"invalid table name {table!r}")
    return table


def check_where(where: Where | None) -> Where:
    where = where or {}
    for name in where:
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise StorageError(f"invalid field name {name!r}")
    return where


def check_doc(doc: Doc) -> Doc:
    """A private copy, exactly as JSON keeps it (tuples become lists): both backends hand back the same."""
    record_id = doc.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise StorageError("a record needs a text id")
    try:
        plain: Doc = json.loads(json.dumps(doc, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"the record cannot be stored as JSON ({exc})") from None
    return plain


def plain(changes: Doc) -> Doc:
    """A private copy of fields to write, exactly as JSON keeps them."""
    try:
        copied: Doc = json.loads(json.dumps(changes, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"the change cannot be stored as JSON ({exc})") from None
    return copied


def is_due(doc: Doc, now: datetime) -> bool:
    """A pending outbox item whose time has come and which no worker holds (its lease, if any, has run out)."""
    due = _compare(doc.get("next_at"), now)
    if doc.get("status") != "pending" or due is None or due > 0:
        return False
    lease = _compare(doc.get("lease_until"), now)
    return lease is None or lease <= 0


def ran_within(doc: Doc | None, interval_seconds: float, now: datetime) -> bool:
    """Whether a periodic job's last start (``at``) is less than ``interval_seconds`` before ``now``."""
    last = _compare(doc.get("at"), now) if doc is not None else None
    return last is not None and last > -interval_seconds


def iso(moment: datetime) -> str:
    """A timestamp as records keep it: UTC, ISO 8601, the fraction of a second kept (a lease or a
    backoff shorter than a second must not round to nothing)."""
    if moment.tzinfo is None:
        raise StorageError("timestamps must carry a time zone")
    return moment.astimezone(timezone.utc).isoformat()


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _compare(value: Any, moment: datetime | float) -> float | None:
    """value - moment (seconds), or None if the field is not a timestamp of that kind."""
    if isinstance(moment, datetime):
        stamp = _timestamp(value)
        return None if stamp is None else (stamp - moment).total_seconds()
    number = _number(value)
    return None if number is None else number - float(moment)


def _contains(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return value == text
    if isinstance(value, dict):
        return any(_contains(v, text) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, text) for v in value)
    return False


def _holds(value: Any, cond: Any) -> bool:
    if isinstance(cond, Ne):
        return bool(value != cond.value)
    if isinstance(cond, In):
        return value in cond.values
    if isinstance(cond, Has):
        return isinstance(value, list) and cond.value in value
    if isinstance(cond, Lacks):
        return not (isinstance(value, list) and cond.value in value)
    if isinstance(cond, Falsy):
        return not value
    if isinstance(cond, Truthy):
        return bool(value)
    if isinstance(cond, Before):
        diff = _compare(value, cond.moment)
        return diff is not None and diff < 0
    if isinstance(cond, After):
        diff = _compare(value, cond.moment)
        return diff is not None and diff > 0
    if isinstance(cond, Prefix):
        return isinstance(value, str) and value.startswith(cond.text)
    if isinstance(cond, Suffix):
        return isinstance(value, str) and value.endswith(cond.text)
    return bool(value == cond)


def matches(doc: Doc, where: Where | None = None, mentions: str | None = None) -> bool:
    """Whether a record answers a query (what TinyDB runs; PostgreSQL runs the same in SQL)."""
    if mentions is not None and not _contains(doc, mentions):
        return False
    return all(_holds(doc.get(name), cond) for name, cond in (where or {}).items())


def sort_key(field: str) -> Any:
    """The one ordering both backends use: numbers by value, then text by code point, a missing or
    null field last, the id breaking ties."""
    def key(doc: Doc) -> tuple[int, float, str, str]:
        value = doc.get(field)
        number = _number(value)
        if number is not None:
            return (0, number, "", str(doc.get("id", "")))
        if isinstance(value, str):
            return (1, 0.0, value, str(doc.get("id", "")))
        if value is None:
            return (3, 0.0, "", str(doc.get("id", "")))
        return (2, 0.0, "", str(doc.get("id", "")))  # booleans, lists, objects: by id only
    return key


def arrange(docs: Sequence[Doc], order_by: str | None, descending: bool, limit: int | None) -> list[Doc]:
    ordered = sorted(docs, key=sort_key(order_by or "id"), reverse=descending)
    return ordered if limit is None else ordered[:max(limit, 0)]
