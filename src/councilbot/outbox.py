"""Durable delivery: every message is stored before it is sent, retried with backoff until the
platform takes it (across restarts), and marked sent once it has been."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta, timezone
from typing import Any

from . import clock, metrics
from .messages import Reply, reply_from_dict, reply_to_dict
from .ports import CLERK_CHANNEL, DeliveryError, Notifier, platform_of
from .store import Store

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0
FAILED_PASS_PAUSE = 2.0  # seconds before trying again after a pass that failed (a full disk)


def _purpose(delivery_id: str) -> str:
    """What a delivery is for ("notice", "card"), without the record or recipient: logs must not
    reveal who received a report."""
    parts = delivery_id.split(":")
    return parts[1] if len(parts) > 1 else "message"


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store
        # What is still to send, kept in memory so a pass does not scan every message ever sent.
        self._pending: set[str] = {d["id"] for d in store.find("outbox", lambda d: d["status"] == "pending")}
        self.notifiers: dict[str, Notifier] = {}
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()  # one pass at a time: the worker and drain() must not both send an item
        self._lanes: dict[str, asyncio.Task[int]] = {}  # deliveries in flight, one lane per platform
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def register(self, notifier: Notifier) -> None:
        self.notifiers[notifier.platform] = notifier
        self._wake.set()

    # Enqueueing. Ids are derived from the purpose, so enqueueing twice (a retried event, a
    # recovery after a crash) stores one delivery.

    def send(self, key: str, to: str, reply: Reply, card: str | None = None, hold: float = 0.0) -> None:
        """Queue a message to ``CLERK_CHANNEL`` (one copy per platform with a clerk channel) or a user.
        ``hold`` seconds: not sent before then, and ``release`` may still withdraw it (a receipt
        that the immediate answer delivers in the normal case)."""
        if to == CLERK_CHANNEL:
            platforms = [p for p, n in self.notifiers.items() if n.has_clerk_channel()] or [""]
        else:
            platforms = [platform_of(to)]
        for platform in platforms:
            self._add({"id": f"{key}@{platform}", "op": "send", "to": to, "platform": platform,
                       "reply": reply_to_dict(reply), "card": card}, hold)

    def release(self, keys: list[str]) -> int:
        """Withdraw held copies not sent yet (ids ``{key}@...``): the person got the message another
        way (the immediate answer). One already sent stays as it is. Returns how many were withdrawn."""
        gone = 0
        for key in keys:
            for item_id in self._unsent(key):
                gone += self.store.delete("outbox", item_id)
                self._pending.discard(item_id)
        return gone

    def _unsent(self, key: str) -> list[str]:
        """The ids of ``key``'s copies (one per platform, ``{key}@...``) still waiting to be sent."""
        return [i for i in self._pending if i.startswith(f"{key}@")]

    def update_card(self, key: str, card: str, reply: Reply) -> None:
        """Replace a posted card everywhere it was posted; a card not yet posted is posted as updated."""
        for pending in [d for d in self.pending() if d.get("card") == card and d["op"] == "send"]:
            self.store.update("outbox", pending["id"], {"reply": reply_to_dict(reply)})
        for posted in self.store.find("cards", lambda d: d.get("card") == card):
            self._add({"id": f"{key}@{posted['platform']}", "op": "update", "ref": posted["ref"],
                       "platform": posted["platform"], "reply": reply_to_dict(reply), "card": None})

    def expedite(self, keys: list[str]) -> int:
        """Send held copies now rather than when their hold ends: the adapter wants this copy to be
        the one the person keeps (Slack's direct-message receipt after the modal). Returns how many."""
        now = clock.iso(clock.now())
        moved = 0
        for key in keys:
            for item_id in self._unsent(key):
                self.store.update("outbox", item_id, {"next_at": now, "held_until": now})
                moved += 1
        if moved:
            self._wake.set()
        return moved

    def forget(self, key: str) -> int:
        """Drop every delivery queued for a record (ids ``{key}:...``), sent or not, with the card
        refs it left: a purged or erased record must not live on in copies of its messages."""
        gone = 0
        for doc in self.store.find("outbox", lambda d: str(d["id"]).startswith(f"{key}:")):
            gone += self.store.delete("outbox", doc["id"])
            self._pending.discard(doc["id"])
        for doc in self.store.find("cards", lambda d: str(d.get("card", "")).endswith(f":{key}")):
            self.store.delete("cards", doc["id"])
        return gone

    def _add(self, doc: dict[str, Any], hold: float = 0.0) -> None:
        moment = clock.now()
        now = clock.iso(moment)
        due = clock.iso(moment + timedelta(seconds=hold)) if hold else now
        doc.update({"status": "pending", "attempts": 0, "created": now, "next_at": due, "error": None})
        if hold:
            doc["held_until"] = due  # late only from then on (the delivery health check)
        if self.store.insert("outbox", doc):
            self._pending.add(doc["id"])
            self._wake.set()

    # Inspection, for metrics and the Clerk.

    def pending(self) -> list[dict[str, Any]]:
        docs = [self.store.get("outbox", i) for i in list(self._pending)]
        return sorted((d for d in docs if d is not None and d["status"] == "pending"), key=lambda d: d["created"])

    def depth(self) -> int:
        return len(self.pending())

    def oldest_age(self) -> float:
        items = self.pending()
        return (clock.now() - clock.parse(items[0]["created"])).total_seconds() if items else 0.0

    def by_platform(self) -> dict[str, dict[str, float]]:
        """Depth and oldest age (seconds) of what waits, per platform, for the delivery health
        check: one platform down must show as that platform, not be averaged away. A copy for the
        clerk channel that no platform knows yet is counted under "unassigned"."""
        now = clock.now()
        out: dict[str, dict[str, float]] = {p: {"depth": 0, "oldest_seconds": 0.0} for p in self.notifiers}
        for item in self.pending():
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
        lanes: dict[str, list[dict[str, Any]]] = {}
        for item in self.pending():
            if clock.parse(item["next_at"]) > now:
                continue
            platform = item["platform"]
            if not platform:
                ready = [p for p, n in self.notifiers.items() if n.has_clerk_channel()]
                if not ready:
                    continue
                # The clerk channel became known: fan the waiting copy out to it (copies first, so a
                # crash in between leaves a duplicate key, never a lost message).
                base = item["id"].rsplit("@", 1)[0]
                for p in ready:
                    self._add({**{k: item[k] for k in ("op", "to", "reply", "card")}, "id": f"{base}@{p}", "platform": p})
                self.store.delete("outbox", item["id"])
                self._pending.discard(item["id"])
                continue
            if platform in self.notifiers and platform not in self._lanes:  # none of a lane in flight twice
                lanes.setdefault(platform, []).append(item)
        # Platforms deliver side by side, each at its own pace; within a platform, order is kept
        # (a card is posted before it is updated).
        for platform, items in lanes.items():
            self._lanes[platform] = asyncio.create_task(self._lane(self.notifiers[platform], items),
                                                        name=f"councilbot-outbox-{platform}")
        if self._lanes:
            await asyncio.wait(list(self._lanes.values()), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        return self._finished_lanes()

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
        if self.store.get("outbox", item["id"]) is None:  # forgotten since the pass began (an erasure)
            self._pending.discard(item["id"])
            return False
        reply = reply_from_dict(item["reply"])
        try:
            if item["op"] == "update":
                await notifier.update(item["ref"], reply)
                ref = None
            else:
                ref = await notifier.send(item["to"], reply)
        except DeliveryError as exc:
            self._failed(item, str(exc), exc.retry_after, exc.permanent)
            return False
        except Exception as exc:  # a notifier bug must not stop the queue
            log.exception("delivery crashed", extra={"purpose": _purpose(item["id"])})
            self._failed(item, exc.__class__.__name__, None, False)
            return False
        self._pending.discard(item["id"])
        current = self.store.get("outbox", item["id"])
        if current is None:  # forgotten while it was being sent (an erasure, a purge): nothing to record
            return True
        self.store.update("outbox", item["id"], {"status": "sent", "sent_at": clock.iso(clock.now()), "ref": ref})
        if ref and item.get("card"):
            # The latest posting of a card is the one to update (a revised suggestion posts a new card).
            card = {"id": f"{item['card']}@{item['platform']}", "card": item["card"], "platform": item["platform"], "ref": ref}
            if not self.store.insert("cards", card):
                self.store.update("cards", card["id"], card)
            if current["reply"] != item["reply"]:
                # Decided while the card was on its way: bring the posted card up to date.
                self._add({"id": f"{item['id']}:catch-up", "op": "update", "ref": ref, "platform": item["platform"],
                           "reply": current["reply"], "card": None})
        metrics.DELIVERED.labels(item["platform"]).inc()
        log.info("delivered", extra={"purpose": _purpose(item["id"]), "platform": item["platform"]})
        return True

    def _failed(self, item: dict[str, Any], error: str, retry_after: float | None, permanent: bool) -> None:
        attempts = item["attempts"] + 1
        metrics.DELIVERY_FAILURES.labels(item["platform"], str(permanent).lower()).inc()
        if self.store.get("outbox", item["id"]) is None:  # forgotten meanwhile: nothing left to retry
            self._pending.discard(item["id"])
            return
        if permanent:
            self.store.update("outbox", item["id"], {"status": "failed", "attempts": attempts, "error": error})
            self._pending.discard(item["id"])
            log.warning("delivery failed for good", extra={"purpose": _purpose(item["id"]), "platform": item["platform"], "error": error})
            return
        delay = retry_after if retry_after is not None else min(MAX_BACKOFF, 0.5 * 2 ** (attempts - 1))
        next_at = clock.now() + timedelta(seconds=delay)
        # Keep the fraction of a second: clock.iso() truncates, which would retry before the
        # backoff (or a platform's retry_after) has passed, and turn a 0.5 s backoff into none.
        self.store.update("outbox", item["id"], {"attempts": attempts, "error": error,
                                                 "next_at": next_at.astimezone(timezone.utc).isoformat()})
        log.info("delivery will be retried", extra={"purpose": _purpose(item["id"]), "attempts": attempts, "delay": delay})

    async def run(self, interval: float = 0.25) -> None:
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
            channel = any(n.has_clerk_channel() for n in self.notifiers.values())
            due = [i for i in self.pending() if clock.parse(i["next_at"]) <= now and (i["platform"] in self.notifiers or (not i["platform"] and channel))]
            if not due:
                return
            await self.deliver_due()
            await asyncio.sleep(0.01)
