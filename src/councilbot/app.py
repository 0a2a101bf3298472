"""CouncilBot assembled: settings in, one ``handle`` door out, background delivery and housekeeping."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Sequence

from . import bundle, clock, elections, metrics, reports, suggestions, toxicity
from .audit import Audit
from .bot import Router
from .config import Settings
from .context import NUMBERED, Ctx
from .messages import Incoming, Reply, well_formed_incoming
from .outbox import Outbox
from .pack import load_pack
from .people import People
from .store import TinyStore

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 300.0


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
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        clock.use_zone(settings.timezone)
        self.pack = load_pack(settings.council)
        self.store = TinyStore(settings.data_dir)
        self.people = People(self.store, self.pack, settings.people, settings.names)
        self.audit = Audit(self.store)
        self.outbox = Outbox(self.store)
        self.ctx = Ctx(self.pack, self.store, self.people, self.audit, self.outbox, cpu=cpu_executor(),
                       elections=elections.from_settings(settings))
        self.router = Router(self.ctx)
        self.people.listeners.append(self._people_changed)
        # Events being handled in this process now: a platform's retry that arrives while the
        # first delivery waits for the checker is a duplicate, not an interrupted event.
        self._in_flight: set[str] = set()
        self._releasing: dict[asyncio.TimerHandle, list[str]] = {}  # see ``delivered``
        self._housekeeping: asyncio.Task[None] | None = None
        self.recover()

    @classmethod
    def from_settings(cls, settings: Settings) -> "CouncilBot":
        return cls(settings)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """The only door into the core. A platform's retry of an event already handled returns nothing.

        Every read and write of the records happens on the caller's event loop; only the checker
        and the policy lookup are awaited, in a worker thread (``Ctx.compute``)."""
        incoming = well_formed_incoming(incoming)
        metrics.EVENTS.labels(incoming.kind).inc()
        # Keyed by person too: a delivery id is only unique within what its platform sends one person.
        key = f"{incoming.user}:{incoming.event_id}" if incoming.event_id else None
        claimed = False
        try:
            if key is not None:
                if key in self._in_flight or (not self.store.claim(key) and not self._interrupted(key)):
                    metrics.DUPLICATES.inc()
                    log.info("duplicate event ignored", extra={"kind": incoming.kind})
                    if incoming.kind == "form" and key not in self._in_flight:
                        return self._receipt_again(key, incoming.user)
                    return []
                claimed = True
                self._in_flight.add(key)
            self.people.saw(incoming.user, incoming.display_name)
            with self.ctx.handling(event_digest(key) if key is not None else None) as held:
                replies = await self.router.route(incoming)
            # The answer carries the receipt: its held outbox copy is withdrawn once the adapter
            # has delivered the answer (``delivered``), not before, so a crash in between loses nothing.
            replies = _withdrawing(replies, held)
            if claimed and key is not None:
                self.store.update("events", key, {"state": "done"})
        except Exception:
            log.exception("handler failed", extra={"kind": incoming.kind, "handler": incoming.name})
            if claimed and key is not None:
                try:
                    self.store.delete("events", key)  # let the platform's retry try again
                except Exception:
                    log.exception("could not release the event claim")
            # Nothing was changed, so a form stays open with the person's answers, to send again.
            return [Reply(text="Sorry, something went wrong on our side. Nothing was lost; please try again.", tone="danger",
                          form_error=incoming.kind == "form")]
        finally:
            if claimed and key is not None:
                self._in_flight.discard(key)
        if key is not None and replies and replies[0].form_error:
            # Turned down as bad input, so nothing was changed: the same submission sent again (a
            # person pressing Submit once more) is judged again, not answered with silence.
            try:
                self.store.delete("events", key)
            except Exception:
                log.exception("could not release the event claim")
        return replies

    def _interrupted(self, key: str) -> bool:
        """A claim still "pending" was taken by a process that died before finishing the event
        (claim and handling run without a pause, so nothing else can be half-way through it): the
        platform's retry is handled, so what the person sent is not lost."""
        claim = self.store.get("events", key)
        if claim is None or claim.get("state") != "pending":
            return False
        digest = event_digest(key)
        if any(self.store.find(table, lambda d: d.get("event") == digest) for table in NUMBERED):
            self.store.update("events", key, {"state": "done"})  # its record was written: done after all
            return False
        log.warning("handling again an event that a crash interrupted")
        return True

    def _receipt_again(self, key: str, user: str) -> list[Reply]:
        """The same form sent again (Submit pressed once more after a crash or a lost answer) gets
        the receipt of the record it created, in the same words: never silence, which would leave
        the person without their reference. Its held outbox copy is then no longer needed."""
        digest = event_digest(key)
        replies: list[Reply] = []
        for record in self.store.find("reports", lambda d: d.get("event") == digest and d.get("reporter") == user):
            told = reports.receipt(self.ctx, record)
            replies.extend(_withdrawing([told], [(f"{record['id']}:receipt", told)]))
        for record in self.store.find("suggestions", lambda d: d.get("event") == digest and d.get("submitter") == user):
            again = suggestions.receipt(self.ctx, record)
            if again is not None:
                replies.extend(_withdrawing([again], [(f"{record['id']}:receipt:v{record['version']}", again)]))
        return replies

    def delivered(self, replies: Sequence[Reply], *, after: float = 0.0) -> None:
        """The adapter has shown these replies (or queued them durably for the person): withdraw
        the held outbox copies they make unnecessary, so the person is not told twice. ``after``
        seconds: the answer is still being written out (an HTTP response the platform shows), so
        withdraw only once it surely has been; a crash before then sends the copy as well."""
        keys = [key for reply in replies for key in reply.withdraws]
        if not keys:
            return
        if after <= 0:
            self.outbox.release(keys)
            return
        handle = asyncio.get_running_loop().call_later(after, self._release_later, keys)
        self._releasing[handle] = keys

    def _release_later(self, keys: list[str]) -> None:
        self._releasing = {h: k for h, k in self._releasing.items() if k is not keys}
        self.outbox.release(keys)

    def keep(self, replies: Sequence[Reply]) -> list[Reply]:
        """Send the held copies of these replies now, as the copy the person keeps (a direct
        message), instead of sending the replies again; returns the replies that had no such copy."""
        self.outbox.expedite([key for reply in replies for key in reply.withdraws])
        return [reply for reply in replies if not reply.withdraws]

    def can(self, user: str, action: str) -> bool:
        return self.people.can(user, action)

    def recover(self) -> None:
        """After a crash between storing a record and queueing its notices, queue them now."""
        for record in self.store.find("reports", lambda r: not r.get("notices_queued")):
            reports.queue_notices(self.ctx, record)
        for record in self.store.find("suggestions", lambda s: s["status"] == "pending" and not s.get("notices_queued")):
            suggestions.queue_card(self.ctx, record)

    def _people_changed(self) -> None:
        """Someone's role changed: a report that waited for a recipient goes to them now, not at
        the next housekeeping pass."""
        try:
            routed = self.route_waiting()
        except Exception:
            log.exception("routing waiting reports failed")
            return
        if routed:
            log.info("waiting reports routed", extra={"count": routed})

    def route_waiting(self) -> int:
        """Route the reports that waited for a recipient; returns how many. Outside the current
        event, so the reporter's messages are never attached to (and withdrawn with) the answer to
        whoever changed a role. The reporter's receipt was shown when they filed: queueing the
        notices again must not send it a second time (they are told "now delivered" instead),
        while a receipt still waiting to be sent is left to go."""
        waiting = {item["id"] for item in self.outbox.pending()}
        with self.ctx.handling(None) as held:
            routed = reports.route_unrouted(self.ctx)
        self.outbox.release([key for key, _ in held if not any(i.startswith(f"{key}@") for i in waiting)])
        return routed

    def housekeeping(self) -> dict[str, Any]:
        return {"routed": self.route_waiting(), "overdue_reminded": reports.remind_overdue(self.ctx),
                "purged": reports.purge_closed(self.ctx), "bundles_removed": bundle.sweep(self.ctx),
                "drafts_expired": self._expire_drafts(), "pruned": self._prune(),
                "pre_election_notices": elections.announce(self.ctx)}

    def _prune(self) -> int:
        """Keep memory and files bounded over years: platform retries come within hours, so event
        claims go after a week; delivered messages go after 90 days (the records themselves stay)."""
        now = clock.now().timestamp()
        old_events = self.store.find("events", lambda d: now - float(d.get("at", now)) > 7 * 86400)
        done = self.store.find("outbox", lambda d: d["status"] != "pending" and bool(d.get("sent_at"))
                               and now - clock.parse(str(d["sent_at"])).timestamp() > 90 * 86400)
        return sum(self.store.delete("events", d["id"]) for d in old_events) + sum(self.store.delete("outbox", d["id"]) for d in done)

    def _expire_drafts(self) -> int:
        """Messages waiting for "check or look up?" are kept a day at most."""
        cutoff = clock.now().timestamp() - 86400
        old = self.store.find("drafts", lambda d: clock.parse(d.get("at", "1970-01-01T00:00:00+00:00")).timestamp() < cutoff)
        return sum(self.store.delete("drafts", d["id"]) for d in old)

    async def _housekeeping_loop(self) -> None:
        while True:
            try:
                self.housekeeping()
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    async def start(self) -> None:
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
            self.outbox.release(keys)
        self._releasing.clear()
        await self.outbox.stop()
        self.store.close()
        old, self.ctx.cpu = self.ctx.cpu, cpu_executor()  # a fresh one makes no thread until used
        if isinstance(old, ThreadPoolExecutor):
            old.shutdown(wait=False)
