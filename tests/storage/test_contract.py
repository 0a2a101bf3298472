"""One contract for the async storage port, run on TinyDB and on PostgreSQL alike: whatever the
core will do through the port behaves the same on both, including under concurrency."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from councilbot.storage import open_backend
from councilbot.storage.port import (
    After, Backend, Before, Falsy, Has, In, Lacks, Ne, Prefix, StorageError, Suffix, Truthy, matches,
)
from councilbot.storage.postgres import PostgresBackend
from councilbot.storage.tiny import TinyBackend

Replicas = Callable[[], Awaitable[Backend]]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in docs]


async def test_insert_get_update_upsert_delete(backend: Backend, council: str) -> None:
    s = backend.council(council)
    assert await s.insert("reports", {"id": "R-1", "status": "open", "recipients": ("a", "b")}) is True
    # An id already taken is refused and the record left as it was.
    assert await s.insert("reports", {"id": "R-1", "status": "closed"}) is False
    got = await s.get("reports", "R-1")
    assert got == {"id": "R-1", "status": "open", "recipients": ["a", "b"]}  # as JSON keeps it
    got["status"] = "changed in my copy"
    assert (await s.get("reports", "R-1"))["status"] == "open"  # type: ignore[index]

    updated = await s.update("reports", "R-1", {"status": "acknowledged", "notes": "seen"})
    assert updated == {"id": "R-1", "status": "acknowledged", "recipients": ["a", "b"], "notes": "seen"}
    assert await s.get("reports", "R-1") == updated
    with pytest.raises(KeyError):
        await s.update("reports", "R-404", {"status": "x"})

    assert await s.upsert("people", {"id": "p", "role": "clerk", "name": "A"}) == {"id": "p", "role": "clerk", "name": "A"}
    assert await s.upsert("people", {"id": "p", "name": "B"}) == {"id": "p", "role": "clerk", "name": "B"}

    assert await s.delete("reports", "R-1") is True
    assert await s.delete("reports", "R-1") is False
    assert await s.get("reports", "R-1") is None
    assert await s.get("never-written", "x") is None


DOCS: list[dict[str, Any]] = [
    {"id": "R-1", "status": "open", "reporter": "u:1", "recipients": ["u:9"], "excluded": [], "n": 3,
     "created": at(30), "at": 100.0, "notices_queued": True, "event": "e1"},
    {"id": "R-2", "status": "closed", "reporter": "u:2", "recipients": ["u:9", "u:8"], "excluded": ["u:8"], "n": 1,
     "created": at(10), "closed_at": at(-86400 * 400), "at": 50, "notices_queued": False},
    {"id": "R-3", "status": "open", "reporter": "u:1", "recipients": [], "excluded": [], "n": 2,
     "created": at(20), "about": {"who": ["u:7"], "text": "u:7 said so"}},
    {"id": "S-1", "status": "escalated", "submitter": "u:2", "created": at(40), "n": "text", "card": "suggestion:S-1"},
    {"id": "R-10", "status": None, "reporter": "u:3", "recipients": ["u:9"], "excluded": ["u:9"], "created": "not a time"},
]

QUERIES: list[tuple[dict[str, Any], str | None, list[str]]] = [
    ({"status": "open"}, None, ["R-1", "R-3"]),
    ({"reporter": "u:1", "status": "open"}, None, ["R-1", "R-3"]),
    ({"n": 3}, None, ["R-1"]),
    ({"status": None}, None, ["R-10"]),                       # null
    ({"closed_at": None}, None, ["R-1", "R-10", "R-3", "S-1"]),  # missing
    ({"status": Ne("closed")}, None, ["R-1", "R-10", "R-3", "S-1"]),
    ({"status": In(["open", "escalated"])}, None, ["R-1", "R-3", "S-1"]),
    ({"status": In([])}, None, []),
    ({"recipients": Has("u:9")}, None, ["R-1", "R-10", "R-2"]),
    ({"recipients": Has("u:9"), "excluded": Lacks("u:9")}, None, ["R-1", "R-2"]),
    ({"notices_queued": Falsy()}, None, ["R-10", "R-2", "R-3", "S-1"]),
    ({"recipients": Falsy(), "status": Ne("closed")}, None, ["R-3", "S-1"]),
    ({"closed_at": Truthy()}, None, ["R-2"]),
    ({"created": Before(T0 + timedelta(seconds=25))}, None, ["R-2", "R-3"]),   # "not a time" never matches
    ({"created": After(T0 + timedelta(seconds=20))}, None, ["R-1", "S-1"]),
    ({"closed_at": Before(T0 - timedelta(days=365))}, None, ["R-2"]),
    ({"at": Before(75)}, None, ["R-2"]),                      # epoch seconds
    ({"at": After(75)}, None, ["R-1"]),
    ({"id": Prefix("R-1")}, None, ["R-1", "R-10"]),
    ({"card": Suffix(":S-1")}, None, ["S-1"]),
    ({"event": "e1"}, None, ["R-1"]),
    ({}, "u:7", ["R-3"]),                                     # anywhere inside, nested
    ({"status": "open"}, "u:9", ["R-1"]),
    ({}, "u:", []),                                           # whole values only, not substrings
]


@pytest.mark.parametrize("where,mentions,expected", QUERIES)
async def test_find_and_count_answer_queries(backend: Backend, council: str, where: dict[str, Any],
                                             mentions: str | None, expected: list[str]) -> None:
    s = backend.council(council)
    for doc in DOCS:
        await s.insert("reports", doc)
    found = await s.find("reports", where, mentions=mentions)
    assert sorted(ids(found)) == sorted(expected)
    # The reference meaning (what TinyDB filters with) agrees, so both backends mean the same.
    assert sorted(ids(found)) == sorted(d["id"] for d in DOCS if matches(d, where, mentions))
    assert await s.count("reports", where, mentions=mentions) == len(expected)


async def test_order_by_and_limit(backend: Backend, council: str) -> None:
    s = backend.council(council)
    for doc in DOCS:
        await s.insert("reports", doc)
    # Numbers by value, then text, missing last; the id breaks ties.
    assert ids(await s.find("reports", order_by="n")) == ["R-2", "R-3", "R-1", "S-1", "R-10"]
    assert ids(await s.find("reports", order_by="n", descending=True)) == ["R-10", "S-1", "R-1", "R-3", "R-2"]
    assert ids(await s.find("reports", {"status": "open"}, order_by="created")) == ["R-3", "R-1"]
    assert ids(await s.find("reports", order_by="created", limit=2)) == ["R-2", "R-3"]
    assert ids(await s.find("reports")) == ["R-1", "R-10", "R-2", "R-3", "S-1"]  # by id, code point order
    assert await s.find("reports", limit=0) == []


async def test_delete_where_returns_what_it_deleted(backend: Backend, council: str) -> None:
    s = backend.council(council)
    for doc in DOCS:
        await s.insert("reports", doc)
    assert await s.delete_where("reports", {"id": Prefix("R-1")}) == ["R-1", "R-10"]
    assert await s.delete_where("reports", {"id": Prefix("R-1")}) == []
    assert sorted(ids(await s.find("reports"))) == ["R-2", "R-3", "S-1"]


async def test_one_council_never_sees_another(backend: Backend, council: str) -> None:
    a, b = backend.council(council), backend.council(council + "-b")
    await a.insert("reports", {"id": "R-1", "status": "open", "reporter": "u:1"})
    await a.insert("outbox", {"id": "o1", "status": "pending", "platform": "slack", "next_at": at(0), "created": at(0)})
    assert await a.claim("u:1:ev1") is True
    # The same ids in another council are other records.
    assert await b.get("reports", "R-1") is None
    assert await b.find("reports") == [] and await b.count("reports") == 0
    assert await b.find("reports", mentions="u:1") == []
    assert await b.insert("reports", {"id": "R-1", "status": "closed"}) is True
    assert await b.delete_where("reports", {"status": Ne("nothing")}) == ["R-1"]
    assert (await a.get("reports", "R-1"))["status"] == "open"  # type: ignore[index]
    with pytest.raises(KeyError):
        await b.update("outbox", "o1", {"status": "sent"})
    assert await b.claim_due("slack", T0 + timedelta(hours=1), 60) == []
    assert await b.claim("u:1:ev1") is True  # a claim in one council is not a claim in another
    assert [await a.next_number("R-2026"), await b.next_number("R-2026"), await a.next_number("R-2026")] == [1, 1, 2]
    assert await a.run_once("housekeeping", 300, T0) and await b.run_once("housekeeping", 300, T0)
    async with a.exclusive("housekeeping") as held_a, b.exclusive("housekeeping") as held_b:
        assert held_a and held_b


async def test_event_is_claimed_once_across_replicas(replicas: Replicas, council: str) -> None:
    one, two = (await replicas()).council(council), (await replicas()).council(council)
    results = await asyncio.gather(*(s.claim("u:1:Ev123") for s in (one, two) for _ in range(5)))
    assert sorted(results) == [False] * 9 + [True]
    claim = await two.get("events", "u:1:Ev123")
    assert claim is not None and claim["state"] == "pending" and isinstance(claim["at"], float)
    # Marked done and later pruned as the core does; a released claim can be taken again.
    assert (await one.update("events", "u:1:Ev123", {"state": "done"}))["state"] == "done"
    assert await one.claim("u:1:Ev123") is False
    assert await two.delete_where("events", {"at": Before(claim["at"] + 1)}) == ["u:1:Ev123"]
    assert await one.claim("u:1:Ev123") is True


async def test_numbers_never_collide_between_replicas(replicas: Replicas, council: str) -> None:
    one, two = (await replicas()).council(council), (await replicas()).council(council)
    numbers = await asyncio.gather(*(s.next_number("R-2026") for _ in range(40) for s in (one, two)))
    assert sorted(numbers) == list(range(1, 81))
    assert await one.next_number("S-2026") == 1  # each counter counts on its own
    assert await two.next_number("R-2026") == 81


def outbox_item(n: int, platform: str = "slack", **extra: Any) -> dict[str, Any]:
    return {"id": f"R-{n}:notice@{platform}", "op": "send", "to": "u:9", "platform": platform, "status": "pending",
            "attempts": 0, "created": at(n), "next_at": at(n), "error": None, **extra}


async def test_each_due_item_is_claimed_by_one_replica(replicas: Replicas, council: str) -> None:
    one, two = (await replicas()).council(council), (await replicas()).council(council)
    for n in range(30):
        await one.insert("outbox", outbox_item(n))
    await one.insert("outbox", outbox_item(100, "teams"))                   # another platform
    await one.insert("outbox", outbox_item(101, next_at=at(10_000)))       # not due yet (held, backing off)
    await one.insert("outbox", outbox_item(102, status="sent"))            # done already
    now = T0 + timedelta(seconds=200)

    async def worker(store: Any) -> list[str]:
        got: list[str] = []
        for _ in range(20):  # 30 items, 4 at a time: far fewer rounds if each is handed out once
            batch = await store.claim_due("slack", now, 60, limit=4)
            if not batch:
                return got
            got += ids(batch)
        raise AssertionError(f"items handed out again and again: {got}")

    first, second = await asyncio.gather(worker(one), worker(two))
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(f"R-{n}:notice@slack" for n in range(30))
    # Oldest first within a claim.
    assert ids(await one.claim_due("teams", now, 60, limit=10)) == ["R-100:notice@teams"]


async def test_a_lease_that_runs_out_is_claimed_again(replicas: Replicas, council: str) -> None:
    one, two = (await replicas()).council(council), (await replicas()).council(council)
    await one.insert("outbox", outbox_item(1))
    await one.insert("outbox", outbox_item(2))
    [first, second] = await one.claim_due("slack", T0 + timedelta(seconds=5), lease_seconds=30)
    assert first["id"] == "R-1:notice@slack" and first["lease"]
    # While the lease runs, no other worker gets it.
    assert await two.claim_due("slack", T0 + timedelta(seconds=20), 30) == []
    # The first worker settles one item; it was "killed" before settling the other.
    sent = await one.settle(second["id"], second["lease"], {"status": "sent", "sent_at": at(6)})
    assert sent is not None and sent["status"] == "sent" and sent["lease"] is None and sent["lease_until"] is None
    # Its lease has run out: another replica claims it again, under a new lease.
    [again] = await two.claim_due("slack", T0 + timedelta(seconds=36), 30)
    assert again["id"] == first["id"] and again["lease"] != first["lease"]
    # The old worker, back from the dead, cannot settle what it no longer holds.
    assert await one.settle(first["id"], first["lease"], {"status": "sent"}) is None
    failed = await two.settle(again["id"], again["lease"], {"attempts": 1, "next_at": at(100), "error": "503"})
    assert failed is not None and failed["status"] == "pending" and failed["attempts"] == 1
    # Backing off: not due until next_at, then claimed once more.
    assert await one.claim_due("slack", T0 + timedelta(seconds=99), 30) == []
    assert ids(await one.claim_due("slack", T0 + timedelta(seconds=100), 30)) == [first["id"]]
    # An item forgotten (erased) meanwhile cannot be settled.
    assert await one.delete("outbox", first["id"])
    assert await one.settle(first["id"], "any", {"status": "sent"}) is None


async def test_periodic_job_runs_once_per_interval_across_replicas(replicas: Replicas, council: str) -> None:
    one, two = (await replicas()).council(council), (await replicas()).council(council)
    runs = await asyncio.gather(*(s.run_once("housekeeping", 300, T0) for _ in range(4) for s in (one, two)))
    assert sorted(runs) == [False] * 7 + [True]
    assert not await one.run_once("housekeeping", 300, T0 + timedelta(seconds=299))
    assert await one.run_once("retention", 300, T0)  # another job has its own interval
    later = await asyncio.gather(*(s.run_once("housekeeping", 300, T0 + timedelta(seconds=300)) for s in (two, one)))
    assert sorted(later) == [False, True]


async def test_exclusive_is_held_by_one_worker_at_a_time(replicas: Replicas, council: str) -> None:
    one, two = (await replicas()).council(council), (await replicas()).council(council)
    async with one.exclusive("housekeeping") as held:
        assert held is True
        async with two.exclusive("housekeeping") as other:
            assert other is False
        async with two.exclusive("reminders") as different:
            assert different is True
    async with two.exclusive("housekeeping") as after:
        assert after is True


async def test_bad_names_are_refused(backend: Backend, council: str) -> None:
    with pytest.raises(StorageError, match="council id"):
        backend.council("../other")
    s = backend.council(council)
    with pytest.raises(StorageError, match="table"):
        await s.get("reports/../x", "R-1")
    with pytest.raises(StorageError, match="field"):
        await s.find("reports", {"status') OR true --": "x"})
    with pytest.raises(StorageError, match="id"):
        await s.insert("reports", {"status": "no id"})
    with pytest.raises(StorageError, match="JSON"):
        await s.insert("reports", {"id": "R-1", "when": object()})


async def test_the_configuration_chooses_the_backend(kind: str, storage_url: str, tmp_path: Path, council: str) -> None:
    url = storage_url if kind == "postgres" else None
    backend = await open_backend(url, tmp_path / "data")
    try:
        assert isinstance(backend, PostgresBackend if kind == "postgres" else TinyBackend)
        assert await backend.council(council).insert("reports", {"id": "R-1"})
    finally:
        await backend.close()
    with pytest.raises(StorageError, match="must start with postgresql://"):
        await open_backend("mysql://somewhere/db", tmp_path / "data")
