"""Durable delivery: every message is stored before it is sent, retried with backoff until the
platform takes it (across restarts), and marked sent once it has been."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from . import clock, metrics
from .messages import Reply, reply_from_dict, reply_to_dict
from .ports import CLERK_CHANNEL, DeliveryError, Notifier, platform_of
from .storage.port import OUTBOX, Prefix, Store, Suffix, Where

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0
FAILED_PASS_PAUSE = 2.0  # seconds before trying again after a pass that failed (a full disk)
# How often a pass looks for what is due when nothing here woke it: items queued by another
# replica, retries whose backoff has passed, held receipts whose hold has ended.
POLL_SECONDS = 0.25
# A lane leases this many items at a time, for this long: a replica killed mid-send leaves them
# to another after the lease, and a slow platform (a 30 s timeout, retried) still finishes a batch
# well within it.
LANE_BATCH = 20
LEASE_SECONDS = 120.0


def _unsent(key: str) -> Where:
    """``key``'s copies (one per platform, ``{key}@...``) still waiting to be sent."""
    return {"id": Prefix(f"{key}@"), "status": "pending"}


def _purpose(delivery_id: str) -> str:
    """What a delivery is for ("notice", "card"), without the record or recipient: logs must not
    reveal who received a report."""
    parts = delivery_id.split(":")
    return parts[1] if len(parts) > 1 else "message"


class Outbox:
    """One council's deliveries. Nothing is kept in memory between passes: several replicas may
    share the store, and each item is sent by whichever of them leases it (``Store.claim_due``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.notifiers: dict[str, Notifier] = {}
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()  # one pass at a time: the worker and drain() must not both send an item
        self._lanes: dict[str, asyncio.Task[int]] = {}  # deliveries in flight, one lane per platform
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def register(self, notifier: Notifier) -> None:
        self.notifiers[notifier.platform] = notifier
        self._wake.set()

    async def _clerk_platforms(self) -> list[str]:
        return [p for p, n in self.notifiers.items() if await n.has_clerk_channel()]

    # Enqueueing. Ids are derived from the purpose, so enqueueing twice (a retried event, a
    # recovery after a crash) stores one delivery.

    async def send(self, key: str, to: str, reply: Reply, card: str | None = None, hold: float = 0.0) -> None:
        """Queue a message to ``CLERK_CHANNEL`` (one copy per platform with a clerk channel) or a user.
        ``hold`` seconds: not sent before then, and ``release`` may still withdraw it (a receipt
        that the immediate answer delivers in the normal case)."""
        platforms = (await self._clerk_platforms() or [""]) if to == CLERK_CHANNEL else [platform_of(to)]
        for platform in platforms:
            await self._add({"id": f"{key}@{platform}", "op": "send", "to": to, "platform": platform,
                             "reply": reply_to_dict(reply), "card": card}, hold)

    async def release(self, keys: list[str]) -> int:
        """Withdraw held copies not sent yet (ids ``{key}@...``): the person got the message another
        way (the immediate answer). One already sent stays as it is. Returns how many were withdrawn."""
        gone = 0
        for key in keys:
            gone += len(await self.store.delete_where(OUTBOX, _unsent(key)))
        return gone

    async def update_card(self, key: str, card: str, reply: Reply) -> None:
        """Replace a posted card everywhere it was posted; a card not yet posted is posted as updated."""
        for pending in await self.store.find(OUTBOX, {"card": card, "op": "send", "status": "pending"}):
            await self.store.update(OUTBOX, pending["id"], {"reply": reply_to_dict(reply)})
        posted_cards = await self.store.find("cards", {"card": card})
        if not posted_cards:
            # Sent but not yet recorded in "cards" (its sender is between the two writes, on this
            # replica or another, or was killed there): the sent item itself holds where it went.
            # One already holding this reply was updated above while on its way: its sender sends the catch-up.
            latest: dict[str, dict[str, Any]] = {}
            for sent in await self.store.find(OUTBOX, {"card": card, "op": "send", "status": "sent"}, order_by="sent_at"):
                if sent.get("ref") and sent.get("reply") != reply_to_dict(reply):
                    latest[sent["platform"]] = sent
            posted_cards = list(latest.values())
        for posted in posted_cards:
            await self._add({"id": f"{key}@{posted['platform']}", "op": "update", "ref": posted["ref"],
                             "platform": posted["platform"], "reply": reply_to_dict(reply), "card": None})

    async def expedite(self, keys: list[str]) -> int:
        """Send held copies now rather than when their hold ends: the adapter wants this copy to be
        the one the person keeps (Slack's direct-message receipt after the modal). Returns how many."""
        now = clock.iso(clock.now())
        moved = 0
        for key in keys:
            for item in await self.store.find(OUTBOX, _unsent(key)):
                await self.store.update(OUTBOX, item["id"], {"next_at": now, "held_until": now})
                moved += 1
        if moved:
            self._wake.set()
        return moved

    async def forget(self, key: str) -> int:
        """Drop every delivery queued for a record (ids ``{key}:...``), sent or not, with the card
        refs it left: a purged or erased record must not live on in copies of its messages."""
        gone = await self.store.delete_where(OUTBOX, {"id": Prefix(f"{key}:")})
        await self.store.delete_where("cards", {"card": Suffix(f":{key}")})
        return len(gone)

    async def _add(self, doc: dict[str, Any], hold: float = 0.0) -> None:
        moment = clock.now()
        now = clock.iso(moment)
        # A hold keeps its fraction of a second (clock.iso truncates: 0.3 s would be no hold at all).
        due = (moment + timedelta(seconds=hold)).astimezone(timezone.utc).isoformat() if hold else now
        doc.update({"status": "pending", "attempts": 0, "created": now, "next_at": due, "error": None})
        if hold:
            doc["held_until"] = due  # late only from then on (the delivery health check)
        if await self.store.insert(OUTBOX, doc):
            self._wake.set()

    # Inspection, for metrics and the Clerk.

    async def pending(self) -> list[dict[str, Any]]:
        return await self.store.find(OUTBOX, {"status": "pending"}, order_by="created")

    async def depth(self) -> int:
        return await self.store.count(OUTBOX, {"status": "pending"})

    async def by_platform(self) -> dict[str, dict[str, float]]:
        """Depth and oldest age (seconds) of what waits, per platform, for the delivery health
        check: one platform down must show as that platform, not be averaged away. A copy for the
        clerk channel that no platform knows yet is counted under "unassigned"."""
        now = clock.now()
        out: dict[str, dict[str, float]] = {p: {"depth": 0, "oldest_seconds": 0.0} for p in self.notifiers}
        for item in await self.pending():
            entry = out.setdefault(item["platform"] or "unassigned", {"depth": 0, "oldest_seconds": 0.0})
            entry["depth"] += 1
            age = (now - clock.parse(item.get("held_until") or item["created"])).total_seconds()
            entry["oldest_seconds"] = max(entry["oldest_seconds"], round(max(age, 0.0), 3))
        return out

    # Delivering.

    async def deliver_due(self) -> int:
        """One pass over what is due; returns how many were delivered."""
        async with self._busy:
            delivered = await self._deliver_due()
            if self._lanes:
                await asyncio.wait(list(self._lanes.values()))
            return delivered + self._finished_lanes()

    async def _deliver_due(self, wait: float = 0.25) -> int:
        """Start a lane for each platform with something due and no lane in flight, then wait until
        a lane is done or ``wait`` seconds pass, never for every platform: a slow, failing or hung
        Slack holds up only Slack, and Teams keeps delivering. Returns what finished lanes delivered."""
        now = clock.now()
        await self._assign_clerk_copies(now)
        for platform, notifier in self.notifiers.items():
            if platform in self._lanes:  # none of a lane in flight twice
                continue
            # Leased to this worker: no other replica sends these meanwhile; one killed mid-send
            # leaves its lease to run out, and the item is claimed again.
            items = await self.store.claim_due(platform, now, LEASE_SECONDS, LANE_BATCH)
            if items:
                # Platforms deliver side by side, each at its own pace; within a platform, order is
                # kept (a card is posted before it is updated).
                self._lanes[platform] = asyncio.create_task(self._lane(notifier, items), name=f"councilbot-outbox-{platform}")
        if self._lanes:
            await asyncio.wait(list(self._lanes.values()), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        return self._finished_lanes()

    async def _assign_clerk_copies(self, now: datetime) -> None:
        """A copy for the clerk channel queued before any platform knew the channel: once one does,
        fan it out (copies first, so a crash in between leaves a duplicate key, never a lost message)."""
        waiting = [i for i in await self.store.find(OUTBOX, {"status": "pending", "platform": ""})
                   if clock.parse(i["next_at"]) <= now]
        ready = await self._clerk_platforms() if waiting else []
        for item in waiting if ready else []:
            base = item["id"].rsplit("@", 1)[0]
            for p in ready:
                await self._add({**{k: item[k] for k in ("op", "to", "reply", "card")}, "id": f"{base}@{p}", "platform": p})
            await self.store.delete(OUTBOX, item["id"])

    def _finished_lanes(self) -> int:
        """Forget lanes that are done; how many they delivered (a lane's own failure is raised)."""
        done = {p: t for p, t in self._lanes.items() if t.done()}
        for platform in done:
            del self._lanes[platform]
        failed = next((t.exception() for t in done.values() if not t.cancelled() and t.exception()), None)
        if failed is not None:
            raise failed
        return sum(t.result() for t in done.values() if not t.cancelled())

    async def _lane(self, notifier: Notifier, items: list[dict[str, Any]]) -> int:
        delivered = 0
        for item in items:
            if await self._attempt(notifier, item):
                delivered += 1
        return delivered

    async def _attempt(self, notifier: Notifier, item: dict[str, Any]) -> bool:
        if await self.store.get(OUTBOX, item["id"]) is None:  # forgotten since it was claimed (an erasure)
            return False
        reply = reply_from_dict(item["reply"])
        try:
            if item["op"] == "update":
                await notifier.update(item["ref"], reply)
                ref = None
            else:
                ref = await notifier.send(item["to"], reply)
        except DeliveryError as exc:
            await self._failed(item, str(exc), exc.retry_after, exc.permanent)
            return False
        except Exception as exc:  # a notifier bug must not stop the queue
            log.exception("delivery crashed", extra={"purpose": _purpose(item["id"])})
            await self._failed(item, exc.__class__.__name__, None, False)
            return False
        current = await self.store.settle(item["id"], item["lease"], {"status": "sent", "sent_at": clock.iso(clock.now()), "ref": ref})
        if current is None:  # forgotten while it was being sent (an erasure, a purge), or re-leased: nothing to record
            return True
        if ref and item.get("card"):
            if current["reply"] != item["reply"]:
                # Decided while the card was on its way: bring the posted card up to date. Queued
                # before the card is recorded in "cards", which a later decision finds it by
                # (until then update_card reads the sent item): a process killed between the two
                # writes leaves both kinds of update possible, never neither.
                await self._add({"id": f"{item['id']}:catch-up", "op": "update", "ref": ref, "platform": item["platform"],
                                 "reply": current["reply"], "card": None})
            # The latest posting of a card is the one to update (a revised suggestion posts a new card).
            await self.store.upsert("cards", {"id": f"{item['card']}@{item['platform']}", "card": item["card"],
                                              "platform": item["platform"], "ref": ref})
        metrics.DELIVERED.labels(item["platform"]).inc()
        log.info("delivered", extra={"purpose": _purpose(item["id"]), "platform": item["platform"]})
        return True

    async def _failed(self, item: dict[str, Any], error: str, retry_after: float | None, permanent: bool) -> None:
        attempts = item["attempts"] + 1
        metrics.DELIVERY_FAILURES.labels(item["platform"], str(permanent).lower()).inc()
        if permanent:
            if await self.store.settle(item["id"], item["lease"], {"status": "failed", "attempts": attempts, "error": error}):
                log.warning("delivery failed for good", extra={"purpose": _purpose(item["id"]), "platform": item["platform"], "error": error})
            return
        delay = retry_after if retry_after is not None else min(MAX_BACKOFF, 0.5 * 2 ** (attempts - 1))
        next_at = clock.now() + timedelta(seconds=delay)
        # Keep the fraction of a second: clock.iso() truncates, which would retry before the
        # backoff (or a platform's retry_after) has passed, and turn a 0.5 s backoff into none.
        if await self.store.settle(item["id"], item["lease"], {"attempts": attempts, "error": error,
                                                               "next_at": next_at.astimezone(timezone.utc).isoformat()}):
            log.info("delivery will be retried", extra={"purpose": _purpose(item["id"]), "attempts": attempts, "delay": delay})

    async def run(self, interval: float = POLL_SECONDS) -> None:
        try:
            while not self._stopping:
                try:
                    async with self._busy:
                        await self._deliver_due()
                except Exception:  # a full disk or a bug must not stop delivery for good
                    log.exception("delivery pass failed; retrying")
                    await asyncio.sleep(FAILED_PASS_PAUSE)
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=interval)
                except asyncio.TimeoutError:
                    pass
            # Stopping: one last pass, so what is due goes out before shutdown, and let what is on
            # its way finish (stop() bounds the wait).
            try:
                async with self._busy:
                    await self._deliver_due()
            except Exception:
                log.exception("last delivery pass failed; what is left goes out at the next start")
            if self._lanes:
                await asyncio.wait(list(self._lanes.values()))
        finally:
            for task in self._lanes.values():
                task.cancel()  # only if stop() gave up waiting: the items stay pending for next time
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("delivery lane failed", exc_info=task.exception())
            self._lanes.clear()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="councilbot-outbox")

    async def stop(self, flush_seconds: float = 5.0) -> None:
        """Stop after one last pass, so what is due goes out before shutdown."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=flush_seconds)
            except asyncio.TimeoutError:
                self._task.cancel()
                # Wait for the cancellation to reach the lanes before the store is closed.
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def drain(self, timeout: float = 5.0) -> None:
        """Deliver until nothing is due (tests and the console use this)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            now = clock.now()
            # A clerk-channel copy with no platform yet waits for a notifier that knows the channel;
            # counting it as due without one would spin here until the timeout.
            channel = bool(await self._clerk_platforms())
            due = [i for i in await self.pending()
                   if clock.parse(i["next_at"]) <= now and (i["platform"] in self.notifiers or (not i["platform"] and channel))]
            if not due:
                return
            await self.deliver_due()
            await asyncio.sleep(0.01)
