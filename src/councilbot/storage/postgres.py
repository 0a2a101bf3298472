"""The storage port on PostgreSQL: many councils, many replicas, one database.

psycopg 3 (async) through one ``AsyncConnectionPool`` per process. Every council's records live in
``councilbot_records`` as JSONB keyed by (council, table, id); see ``migrations/``. The guarantees
hold across replicas because the database decides them, never a replica's memory:

- an event claim is an insert that a unique key lets succeed once;
- reference numbers come from one atomic upsert of a counter row;
- the outbox is handed out with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease written on the
  item, so each due item goes to one worker, and a worker killed mid-send leaves a lease that runs
  out and the item is claimed again;
- periodic jobs run once per interval (an atomic compare-and-set of the last start) and can hold a
  transaction-scoped advisory lock while they run (``exclusive``).

Every query names its council, and every transaction also sets ``councilbot.council``, which the
row-level security policy (migration 0002) checks: a query that forgot its council sees nothing.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Sequence

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from .. import clock
from .migrations import check_current
from .port import (
    COUNTERS, EVENTS, OUTBOX, RUNS, After, Before, Doc, Falsy, Has, In, Lacks, Ne, Prefix, StorageError, Suffix, Truthy,
    Where, check_council, check_doc, check_table, check_where, iso, plain,
)

RECORDS = sql.Identifier("councilbot_records")
Fragment = sql.SQL | sql.Composed
Query = tuple[Fragment, list[Any]]


async def open_postgres(url: str, *, min_size: int = 1, max_size: int = 10, check: bool = True) -> PostgresBackend:
    """Connect (checking the schema is current first, so a database that is behind stops start-up
    with a clear message) and return the backend."""
    if check:
        await asyncio.to_thread(check_current, url)
    pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, open=False, name="councilbot")
    try:
        await pool.open(wait=True, timeout=15)
    except Exception as exc:
        await pool.close()
        raise StorageError(f"cannot connect to the database: {exc}") from None
    return PostgresBackend(pool)


class PostgresBackend:
    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]]) -> None:
        self.pool = pool

    def council(self, council: str) -> PostgresCouncilStore:
        return PostgresCouncilStore(self.pool, check_council(council))

    async def close(self) -> None:
        await self.pool.close()


# Translating a query into SQL. Field names are validated (port.FIELD_NAME) and embedded as
# literals, so the planner sees the same expressions as the indexes in migrations/0001.

def _field(name: str) -> sql.Composable:
    return sql.SQL("doc->{}").format(sql.Literal(name))


def _text(name: str) -> sql.Composable:
    return sql.SQL("(doc->>{})").format(sql.Literal(name))


def _equal(name: str, value: Any) -> Query:
    if value is None:
        return sql.SQL("({f} IS NULL OR {f} = 'null'::jsonb)").format(f=_field(name)), []
    if isinstance(value, str):
        return sql.SQL("({t} = %s AND jsonb_typeof({f}) = 'string')").format(t=_text(name), f=_field(name)), [value]
    return sql.SQL("{f} = %s").format(f=_field(name)), [Jsonb(value)]


def _has(name: str, value: Any) -> Query:
    return sql.SQL("doc @> %s"), [Jsonb({name: [value]})]


def _falsy(name: str) -> Query:
    return (sql.SQL("({f} IS NULL OR {f} IN ('null', 'false', '0', '\"\"', '[]', '{{}}'))").format(f=_field(name)), [])


def _moment(name: str, moment: datetime | float, op: str) -> Query:
    if isinstance(moment, datetime):
        return sql.SQL("councilbot_ts({t}) " + op + " %s").format(t=_text(name)), [moment]
    number = sql.SQL("CASE WHEN jsonb_typeof({f}) = 'number' THEN ({t})::float8 END").format(f=_field(name), t=_text(name))
    return sql.SQL("{n} " + op + " %s").format(n=number), [float(moment)]


def _condition(name: str, cond: Any) -> Query:
    if isinstance(cond, Ne):
        part, params = _equal(name, cond.value)
        return sql.SQL("NOT coalesce({}, false)").format(part), params
    if isinstance(cond, In):
        if not cond.values:
            return sql.SQL("false"), []
        parts = [_equal(name, v) for v in cond.values]
        return (sql.SQL("coalesce(({}), false)").format(sql.SQL(" OR ").join(p for p, _ in parts)),
                [param for _, ps in parts for param in ps])
    if isinstance(cond, Has):
        return _has(name, cond.value)
    if isinstance(cond, Lacks):
        part, params = _has(name, cond.value)
        return sql.SQL("NOT ({})").format(part), params
    if isinstance(cond, Falsy):
        return _falsy(name)
    if isinstance(cond, Truthy):
        part, params = _falsy(name)
        return sql.SQL("NOT {}").format(part), params
    if isinstance(cond, Before):
        part, params = _moment(name, cond.moment, "<")
        return sql.SQL("coalesce({}, false)").format(part), params
    if isinstance(cond, After):
        part, params = _moment(name, cond.moment, ">")
        return sql.SQL("coalesce({}, false)").format(part), params
    if isinstance(cond, Prefix):
        return (sql.SQL("(jsonb_typeof({f}) = 'string' AND starts_with({t}, %s))").format(f=_field(name), t=_text(name)),
                [cond.text])
    if isinstance(cond, Suffix):
        return (sql.SQL("(jsonb_typeof({f}) = 'string' AND right({t}, length(%s)) = %s)").format(f=_field(name), t=_text(name)),
                [cond.text, cond.text])
    return _equal(name, cond)


def _filter(council: str, table: str, where: Where, mentions: str | None) -> Query:
    parts: list[sql.Composable] = [sql.SQL("council = %s AND tbl = %s")]
    params: list[Any] = [council, table]
    for name, cond in where.items():
        part, more = _condition(name, cond)
        parts.append(part)
        params.extend(more)
    if mentions is not None:
        parts.append(sql.SQL("jsonb_path_exists(doc, '$.** ? (@ == $p)', jsonb_build_object('p', %s::text))"))
        params.append(mentions)
    return sql.SQL(" AND ").join(parts), params


def _order(name: str, descending: bool) -> sql.Composable:
    """The ordering of ``port.sort_key``: numbers, then text by code point ("C"), then anything
    else, missing last; the id breaks ties."""
    way = sql.SQL("DESC" if descending else "ASC")
    f, t = _field(name), _text(name)
    return sql.SQL(
        "CASE WHEN {f} IS NULL OR jsonb_typeof({f}) = 'null' THEN 3 WHEN jsonb_typeof({f}) = 'number' THEN 0 "
        "WHEN jsonb_typeof({f}) = 'string' THEN 1 ELSE 2 END {w}, "
        "CASE WHEN jsonb_typeof({f}) = 'number' THEN ({f})::numeric END {w}, "
        "CASE WHEN jsonb_typeof({f}) = 'string' THEN {t} END COLLATE \"C\" {w}, "
        "id COLLATE \"C\" {w}").format(f=f, t=t, w=way)


class PostgresCouncilStore:
    """One council's records in the shared database."""

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]], council: str) -> None:
        self.pool = pool
        self.council = council

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[psycopg.AsyncCursor[tuple[Any, ...]]]:
        """One transaction with this council set for row-level security."""
        async with self.pool.connection() as conn:
            async with conn.transaction():
                cur = conn.cursor()
                await cur.execute("SELECT set_config('councilbot.council', %s, true)", [self.council])
                yield cur

    async def _one(self, query: Fragment | str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        async with self._tx() as cur:
            await cur.execute(query, params)
            return await cur.fetchone()

    async def _all(self, query: Fragment | str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._tx() as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    async def get(self, table: str, record_id: str) -> Doc | None:
        row = await self._one("SELECT doc FROM councilbot_records WHERE council = %s AND tbl = %s AND id = %s",
                              [self.council, check_table(table), record_id])
        return dict(row[0]) if row else None

    async def insert(self, table: str, doc: Doc) -> bool:
        doc = check_doc(doc)
        row = await self._one("INSERT INTO councilbot_records (council, tbl, id, doc) VALUES (%s, %s, %s, %s) "
                              "ON CONFLICT DO NOTHING RETURNING id", [self.council, check_table(table), doc["id"], Jsonb(doc)])
        return row is not None

    async def update(self, table: str, record_id: str, changes: Doc) -> Doc:
        row = await self._one("UPDATE councilbot_records SET doc = doc || %s WHERE council = %s AND tbl = %s AND id = %s "
                              "RETURNING doc", [Jsonb(plain(changes)), self.council, check_table(table), record_id])
        if row is None:
            raise KeyError(f"{table}/{record_id}")
        return dict(row[0])

    async def upsert(self, table: str, doc: Doc) -> Doc:
        doc = check_doc(doc)
        row = await self._one("INSERT INTO councilbot_records (council, tbl, id, doc) VALUES (%s, %s, %s, %s) "
                              "ON CONFLICT (council, tbl, id) DO UPDATE SET doc = councilbot_records.doc || EXCLUDED.doc "
                              "RETURNING doc", [self.council, check_table(table), doc["id"], Jsonb(doc)])
        assert row is not None
        return dict(row[0])

    async def delete(self, table: str, record_id: str) -> bool:
        row = await self._one("DELETE FROM councilbot_records WHERE council = %s AND tbl = %s AND id = %s RETURNING id",
                              [self.council, check_table(table), record_id])
        return row is not None

    async def find(self, table: str, where: Where | None = None, *, mentions: str | None = None,
                   order_by: str | None = None, descending: bool = False, limit: int | None = None) -> list[Doc]:
        cond, params = _filter(self.council, check_table(table), check_where(where), mentions)
        check_where({order_by: None} if order_by else None)
        query = sql.SQL("SELECT doc FROM councilbot_records WHERE {} ORDER BY {}").format(cond, _order(order_by or "id", descending))
        if limit is not None:
            query = sql.SQL("{} LIMIT %s").format(query)
            params.append(max(limit, 0))
        return [dict(row[0]) for row in await self._all(query, params)]

    async def count(self, table: str, where: Where | None = None, *, mentions: str | None = None) -> int:
        cond, params = _filter(self.council, check_table(table), check_where(where), mentions)
        row = await self._one(sql.SQL("SELECT count(*) FROM councilbot_records WHERE {}").format(cond), params)
        return int(row[0]) if row else 0

    async def delete_where(self, table: str, where: Where, *, mentions: str | None = None) -> list[str]:
        cond, params = _filter(self.council, check_table(table), check_where(where), mentions)
        rows = await self._all(sql.SQL("DELETE FROM councilbot_records WHERE {} RETURNING id").format(cond), params)
        return sorted(str(row[0]) for row in rows)

    async def claim(self, key: str) -> bool:
        return await self.insert(EVENTS, {"id": key, "at": clock.now().timestamp(), "state": "pending"})

    async def next_number(self, counter: str) -> int:
        # One statement: concurrent callers queue on the counter row's lock, each gets the next value.
        row = await self._one(
            "INSERT INTO councilbot_records (council, tbl, id, doc) VALUES (%s, %s, %s, jsonb_build_object('id', %s::text, 'value', 1)) "
            "ON CONFLICT (council, tbl, id) DO UPDATE SET doc = jsonb_set(councilbot_records.doc, '{value}', "
            "to_jsonb(coalesce((councilbot_records.doc->>'value')::bigint, 0) + 1)) RETURNING (doc->>'value')::bigint",
            [self.council, COUNTERS, counter, counter])
        assert row is not None
        return int(row[0])

    async def claim_due(self, platform: str, now: datetime, lease_seconds: float, limit: int = 50) -> list[Doc]:
        until = iso(now + timedelta(seconds=lease_seconds))
        rows = await self._all(
            "WITH due AS ("
            " SELECT id FROM councilbot_records"
            " WHERE council = %s AND tbl = %s AND doc->>'status' = 'pending' AND doc->>'platform' = %s"
            " AND councilbot_ts(doc->>'next_at') <= %s"
            " AND (councilbot_ts(doc->>'lease_until') IS NULL OR councilbot_ts(doc->>'lease_until') <= %s)"
            " ORDER BY doc->>'created' COLLATE \"C\", id COLLATE \"C\" LIMIT %s"
            " FOR UPDATE SKIP LOCKED)"
            " UPDATE councilbot_records r SET doc = r.doc || jsonb_build_object("
            " 'lease', replace(gen_random_uuid()::text, '-', ''), 'lease_until', %s::text)"
            " FROM due WHERE r.council = %s AND r.tbl = %s AND r.id = due.id RETURNING r.doc",
            [self.council, OUTBOX, platform, now, now, max(limit, 0), until, self.council, OUTBOX])
        docs = [dict(row[0]) for row in rows]
        docs.sort(key=lambda d: (str(d.get("created", "")), d["id"]))
        return docs

    async def settle(self, item_id: str, lease: str, changes: Doc) -> Doc | None:
        row = await self._one("UPDATE councilbot_records SET doc = doc || %s WHERE council = %s AND tbl = %s AND id = %s "
                              "AND doc->>'lease' = %s RETURNING doc",
                              [Jsonb({**plain(changes), "lease": None, "lease_until": None}), self.council, OUTBOX, item_id, lease])
        return dict(row[0]) if row else None

    async def run_once(self, name: str, interval_seconds: float, now: datetime) -> bool:
        # Compare-and-set in one statement: of replicas racing, the row lock lets one through and
        # the others then see its new start time.
        row = await self._one(
            "INSERT INTO councilbot_records (council, tbl, id, doc) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (council, tbl, id) DO UPDATE SET doc = EXCLUDED.doc "
            "WHERE councilbot_ts(councilbot_records.doc->>'at') IS NULL OR councilbot_ts(councilbot_records.doc->>'at') <= %s "
            "RETURNING id",
            [self.council, RUNS, name, Jsonb({"id": name, "at": iso(now)}), now - timedelta(seconds=interval_seconds)])
        return row is not None

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        return self._exclusive(name)

    @asynccontextmanager
    async def _exclusive(self, name: str) -> AsyncIterator[bool]:
        # Transaction-scoped: if this replica dies, its connection goes and the lock with it.
        async with self._tx() as cur:
            await cur.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [f"{self.council}/{name}"])
            row = await cur.fetchone()
            yield bool(row and row[0])
