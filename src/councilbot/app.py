"""CouncilBot assembled: settings in, one ``handle`` door out, background delivery and housekeeping."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Coroutine, Sequence
from zoneinfo import ZoneInfo

from . import bundle, clock, elections, metrics, reports, suggestions, toxicity
from .audit import Audit
from .bot import Router
from .config import Settings
from .context import NUMBERED, Ctx
from .messages import Incoming, Reply, well_formed_incoming
from .outbox import Outbox
from .pack import load_pack
from .people import People
from .storage.port import Backend, Before, Falsy, Ne
from .storage.tiny import TinyBackend

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 300.0
# A claim younger than this may still be in hand (on another replica): its retry is a duplicate.
# Older and unfinished, its process died: the retry is handled (Slack retries after 1 and 5 minutes).
IN_FLIGHT_SECONDS = 30.0
SEEN_EVENTS = 10_000  # read-only events remembered per process, for platform retries


def cpu_executor() -> ThreadPoolExecutor:
    """One thread for the checker and the lookup: they run one at a time (as they did on the loop),
    and the loop stays free to acknowledge requests while they do."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="councilbot-cpu")


def event_digest(key: str) -> str:
    """An event's claim key without the person's id in it, fit to keep in a record."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _withdrawing(replies: list[Reply], held: list[tuple[str, Reply]]) -> list[Reply]:
    """The reply that is a held receipt names its outbox key; a receipt the answer does not carry
    word for word is named by every reply (any one shown tells the person)."""
    out = list(replies)
    for key, receipt in held:
        at = [i for i, reply in enumerate(out) if replace(reply, withdraws=()) == receipt] or range(len(out))
        for i in at:
            out[i] = replace(out[i], withdraws=out[i].withdraws + (key,))
    return out


class CouncilBot:
    """One council's core: its pack, people and records, behind the one door, ``handle``.

    A deployment that serves several councils holds one of these per council, all on one storage
    backend (``deployment.Deployment``); built on its own (``CouncilBot(settings)``), it keeps its
    records in TinyDB files in ``settings.data_dir``, as a single town council's does."""

    def __init__(self, settings: Settings, backend: Backend | None = None, council_id: str | None = None,
                 files: Path | None = None) -> None:
        self.settings = settings
        self.council_id = council_id or settings.council
        self._owns_backend = backend is None
        # On its own, the council's records are in data_dir itself (as they always were).
        if backend is None:
            tiny = TinyBackend(settings.data_dir, home=self.council_id)
            tiny.open_now(self.council_id)  # damaged files are reported at start-up, not at the first request
            backend = tiny
        self.backend: Backend = backend
        self.pack = load_pack(settings.council)
        self.store = self.backend.council(self.council_id)
        self.people = People(self.store, self.pack, settings.people, settings.names)
        self.audit = Audit(self.store)
        self.outbox = Outbox(self.store)
        self.ctx = Ctx(self.pack, self.store, self.people, self.audit, self.outbox, zone=ZoneInfo(settings.timezone),
                       files=files or settings.data_dir, cpu=cpu_executor(), elections=elections.from_settings(settings))
        self.router = Router()
        self.people.listeners.append(self._people_changed)
        # Events being handled in this process now: a platform's retry that arrives while the
        # first delivery waits for the checker is a duplicate, not an interrupted event.
        self._in_flight: set[str] = set()
        # Read-only events (a check, a lookup) seen lately: they take no durable claim (nothing is
        # written), so a platform's retry is recognised here instead.
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._releasing: dict[asyncio.TimerHandle, list[str]] = {}  # see ``delivered``
        self._tasks: set[asyncio.Task[Any]] = set()
        self._housekeeping: asyncio.Task[None] | None = None
        self._recovered = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "CouncilBot":
        return cls(settings)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """The only door into the core. A platform's retry of an event already handled returns nothing.

        Nothing here blocks the event loop: the store is awaited (TinyDB in its worker thread,
        PostgreSQL over the network), and the checker and the policy lookup run in a worker thread
        (``Ctx.compute``). What is per event travels in the event's own ``Ctx``."""
        incoming = well_formed_incoming(incoming)
        metrics.EVENTS.labels(incoming.kind).inc()
        await self._recover_once()
        # Keyed by person too: a delivery id is only unique within what its platform sends one person.
        key = f"{incoming.user}:{incoming.event_id}" if incoming.event_id else None
        durable = key is not None and not self.router.reads_only(incoming)
        claimed = False
        try:
            if key is not None and not durable:
                if key in self._seen:
                    metrics.DUPLICATES.inc()
                    log.info("duplicate event ignored", extra={"kind": incoming.kind})
                    return []
                self._remember(key)
            if durable and key is not None:
                if key in self._in_flight or (not await self.store.claim(key) and not await self._interrupted(key)):
                    metrics.DUPLICATES.inc()
                    log.info("duplicate event ignored", extra={"kind": incoming.kind})
                    if incoming.kind == "form" and key not in self._in_flight:
                        return await self._receipt_again(key, incoming.user)
                    return []
                claimed = True
                self._in_flight.add(key)
            await self.people.load()
            await self.people.saw(incoming.user, incoming.display_name)
            ctx = self.ctx.handling(event_digest(key) if claimed and key is not None else None)
            replies = await self.router.route(ctx, incoming)
            # The answer carries the receipt: its held outbox copy is withdrawn once the adapter
            # has delivered the answer (``delivered``), not before, so a crash in between loses nothing.
            replies = _withdrawing(replies, ctx.held or [])
            if claimed and key is not None:
                await self.store.update("events", key, {"state": "done"})
        except Exception:
            log.exception("handler failed", extra={"kind": incoming.kind, "handler": incoming.name})
            if claimed and key is not None:
                try:
                    await self.store.delete("events", key)  # let the platform's retry try again
                except Exception:
                    log.exception("could not release the event claim")
            # Nothing was changed, so a form stays open with the person's answers, to send again.
            return [Reply(text="Sorry, something went wrong on our side. Nothing was lost; please try again.", tone="danger",
                          form_error=incoming.kind == "form")]
        finally:
            if claimed and key is not None:
                self._in_flight.discard(key)
        if claimed and key is not None and replies and replies[0].form_error:
            # Turned down as bad input, so nothing was changed: the same submission sent again (a
            # person pressing Submit once more) is judged again, not answered with silence.
            try:
                await self.store.delete("events", key)
            except Exception:
                log.exception("could not release the event claim")
        return replies

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        while len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)

    async def _interrupted(self, key: str) -> bool:
        """A claim still "pending" after ``IN_FLIGHT_SECONDS`` was taken by a process that died
        before finishing the event: the platform's retry is handled, so what the person sent is not
        lost. A younger one may still be in hand on another replica, so its retry is a duplicate."""
        claim = await self.store.get("events", key)
        if claim is None or claim.get("state") != "pending":
            return False
        if clock.now().timestamp() - float(claim.get("at") or 0) < IN_FLIGHT_SECONDS:
            return False
        digest = event_digest(key)
        if any([await self.store.count(table, {"event": digest}) for table in NUMBERED]):
            await self.store.update("events", key, {"state": "done"})  # its record was written: done after all
            return False
        log.warning("handling again an event that a crash interrupted")
        return True

    async def _receipt_again(self, key: str, user: str) -> list[Reply]:
        """The same form sent again (Submit pressed once more after a crash or a lost answer) gets
        the receipt of the record it created, in the same words: never silence, which would leave
        the person without their reference. Its held outbox copy is then no longer needed."""
        digest = event_digest(key)
        await self.people.load()
        replies: list[Reply] = []
        for record in await self.store.find("reports", {"event": digest, "reporter": user}):
            told = reports.receipt(self.ctx, record)
            replies.extend(_withdrawing([told], [(f"{record['id']}:receipt", told)]))
        for record in await self.store.find("suggestions", {"event": digest, "submitter": user}):
            again = suggestions.receipt(self.ctx, record)
            if again is not None:
                replies.extend(_withdrawing([again], [(f"{record['id']}:receipt:v{record['version']}", again)]))
        return replies

    async def delivered(self, replies: Sequence[Reply], *, after: float = 0.0) -> None:
        """The adapter has shown these replies (or queued them durably for the person): withdraw
        the held outbox copies they make unnecessary, so the person is not told twice. ``after``
        seconds: the answer is still being written out (an HTTP response the platform shows), so
        withdraw only once it surely has been; a crash before then sends the copy as well."""
        keys = [key for reply in replies for key in reply.withdraws]
        if not keys:
            return
        if after <= 0:
            await self.outbox.release(keys)
            return
        handle = asyncio.get_running_loop().call_later(after, self._release_later, keys)
        self._releasing[handle] = keys

    def _release_later(self, keys: list[str]) -> None:
        self._releasing = {h: k for h, k in self._releasing.items() if k is not keys}
        self._spawn(self.outbox.release(keys), "release")

    def _spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Background work kept until done (and awaited at ``stop``), its failure logged."""
        task = asyncio.get_running_loop().create_task(work, name=f"councilbot-{what}")
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background %s failed", what, exc_info=t.exception())

        task.add_done_callback(done)

    async def keep(self, replies: Sequence[Reply]) -> list[Reply]:
        """Send the held copies of these replies now, as the copy the person keeps (a direct
        message), instead of sending the replies again; returns the replies that had no such copy."""
        await self.outbox.expedite([key for reply in replies for key in reply.withdraws])
        return [reply for reply in replies if not reply.withdraws]

    async def can(self, user: str, action: str) -> bool:
        """Whether a person may take an action now (roles as the store holds them: another replica may have changed one)."""
        await self.people.load()
        return self.people.can(user, action)

    async def _recover_once(self) -> None:
        if not self._recovered:
            self._recovered = True
            await self.recover()

    async def recover(self) -> None:
        """After a crash between storing a record and queueing its notices, queue them now."""
        await self.people.load()
        for record in await self.store.find("reports", {"notices_queued": Falsy()}):
            await reports.queue_notices(self.ctx, record)
        for record in await self.store.find("suggestions", {"status": "pending", "notices_queued": Falsy()}):
            await suggestions.queue_card(self.ctx, record)

    async def _people_changed(self) -> None:
        """Someone's role changed: a report that waited for a recipient goes to them now, not at
        the next housekeeping pass."""
        try:
            routed = await self.route_waiting()
        except Exception:
            log.exception("routing waiting reports failed")
            return
        if routed:
            log.info("waiting reports routed", extra={"count": routed})

    async def route_waiting(self) -> int:
        """Route the reports that waited for a recipient; returns how many. Outside the current
        event, so the reporter's messages are never attached to (and withdrawn with) the answer to
        whoever changed a role. The reporter's receipt was shown when they filed: queueing the
        notices again must not send it a second time (they are told "now delivered" instead),
        while a receipt still waiting to be sent is left to go."""
        waiting = {item["id"] for item in await self.outbox.pending()}
        ctx = self.ctx.handling(None)
        routed = await reports.route_unrouted(ctx)
        await self.outbox.release([key for key, _ in ctx.held or [] if not any(i.startswith(f"{key}@") for i in waiting)])
        return routed

    async def housekeeping(self) -> dict[str, Any]:
        await self.people.load()
        return {"routed": await self.route_waiting(), "overdue_reminded": await reports.remind_overdue(self.ctx),
                "purged": await reports.purge_closed(self.ctx), "bundles_removed": await bundle.sweep(self.ctx),
                "drafts_expired": await self._expire_drafts(), "pruned": await self._prune(),
                "pre_election_notices": await elections.announce(self.ctx)}

    async def _prune(self) -> int:
        """Keep the records bounded over years: platform retries come within hours, so event
        claims go after a week; delivered messages go after 90 days (the records themselves stay)."""
        now = clock.now()
        events = await self.store.delete_where("events", {"at": Before(now.timestamp() - 7 * 86400)})
        sent = await self.store.delete_where("outbox", {"status": Ne("pending"), "sent_at": Before(now - timedelta(days=90))})
        return len(events) + len(sent)

    async def _expire_drafts(self) -> int:
        """Messages waiting for "check or look up?" are kept a day at most."""
        return len(await self.store.delete_where("drafts", {"at": Before(clock.now() - timedelta(days=1))}))

    async def _housekeeping_loop(self) -> None:
        """Once per interval across every replica sharing the store: one runs it, the others skip."""
        while True:
            try:
                async with self.store.exclusive("housekeeping") as mine:
                    if mine and await self.store.run_once("housekeeping", HOUSEKEEPING_SECONDS, clock.now()):
                        await self.housekeeping()
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    async def start(self) -> None:
        await self._recover_once()
        # Load the language model before the first request rather than during it.
        await asyncio.to_thread(toxicity.warm)
        self.outbox.start()
        if self._housekeeping is None:
            self._housekeeping = asyncio.create_task(self._housekeeping_loop(), name="councilbot-housekeeping")

    async def stop(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            self._housekeeping = None
        for handle, keys in list(self._releasing.items()):  # a graceful stop: those answers went out
            handle.cancel()
            await self.outbox.release(keys)
        self._releasing.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.outbox.stop()
        if self._owns_backend:
            await self.backend.close()
        if isinstance(self.ctx.cpu, ThreadPoolExecutor):
            self.ctx.cpu.shutdown(wait=False)
