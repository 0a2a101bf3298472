"""What every workflow needs: one council's pack, store, people, audit log and outbox, and what is per event."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from zoneinfo import ZoneInfo

from . import clock
from .audit import Audit
from .clock import LONDON
from .errors import BadInput
from .messages import Reply
from .outbox import Outbox
from .pack import Pack
from .people import People
from .storage.port import Store

if TYPE_CHECKING:
    from .elections import Election


# The tables whose records are created by an incoming event and numbered (R-, S-, F-, M-).
NUMBERED = ("reports", "suggestions", "flags", "moderation")
# How long a durable receipt waits before it is sent: long enough for the immediate answer to
# withdraw it, short enough that a reporter whose answer died with the process hears soon.
RECEIPT_HOLD = 60.0
T = TypeVar("T")


@dataclass
class Ctx:
    """One council's parts, and (in the copy ``handling`` makes for each event) what is per event.

    Per-event state travels in this value, passed down explicitly: two events handled at once, for
    one council or two, never see each other's."""

    pack: Pack
    store: Store
    people: People
    audit: Audit
    outbox: Outbox
    # The council's time zone: what people read, working days, "10pm on polling day".
    zone: ZoneInfo = LONDON
    # The council's folder for files kept beside the records: evidence, bundles, the signing key
    # (several replicas share it as one volume).
    files: Path = Path("data")
    # Where CPU work (the checker, the policy lookup) runs, off the event loop that answers every
    # platform's requests; None runs it in place (tools and tests that build a Ctx by hand).
    cpu: Executor | None = None
    # Elections set in councilbot.toml; those the Clerk adds in chat are in the records.
    elections: tuple["Election", ...] = ()
    # A digest of the event being handled: written into the record it creates, in the same write,
    # so that after a crash the record shows the event was finished (see CouncilBot._interrupted).
    event: str | None = None
    # Receipts queued (held) while handling the event, (outbox key, message), for the caller to tie
    # to its answer and withdraw once that is shown (see ``receipt``). None outside an event.
    held: list[tuple[str, Reply]] | None = None

    def handling(self, event: str | None) -> "Ctx":
        """The context for one event: records written through it are marked as made by ``event``,
        and the receipts it holds are collected in its own ``held`` list."""
        return replace(self, event=event, held=[])

    async def receipt(self, key: str, to: str, reply: Reply) -> None:
        """A receipt that matters (a report's reference) also goes through the outbox, held for
        ``RECEIPT_HOLD`` seconds: if the process dies before the immediate answer is returned, it
        still reaches the person's direct messages; once the answer has been shown, it is withdrawn
        (or sent at once, where the adapter wants a copy to keep), so the person is told once.
        Outside an event (recovery at start-up) it simply goes."""
        await self.outbox.send(key, to, reply, hold=RECEIPT_HOLD)
        if self.held is not None:
            self.held.append((key, reply))

    async def compute(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the CPU executor, so a long check or lookup never holds up the
        acknowledgement of another person's request. ``work`` must only read (the pack, the
        text): every write goes through the store."""
        if self.cpu is None:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(self.cpu, functools.partial(work, *args))

    def human(self, moment: datetime | str) -> str:
        """A time as the council's people read it, in its zone."""
        return clock.human(moment, self.zone)


async def reference(ctx: Ctx, prefix: str) -> str:
    """Case references like R-2026-0042: a per-year counter, allocated by the store (so replicas
    sharing one database never hand out the same number), never reused."""
    year = clock.now().year
    number = await ctx.store.next_number(f"{prefix}-{year}")
    return f"{prefix}-{year}-{number:04d}"


async def insert_numbered(ctx: Ctx, table: str, prefix: str, record: dict[str, Any]) -> dict[str, Any]:
    """Store a new record under the next free reference. A counter left behind (a restored backup)
    skips numbers already used instead of silently dropping the new record."""
    for _ in range(10_000):
        doc = {"id": await reference(ctx, prefix), **record, **({"event": ctx.event} if ctx.event else {})}
        if await ctx.store.insert(table, doc):
            return doc
    raise RuntimeError(f"no free {prefix} reference")


def text_value(values: object, name: str, *, required: bool = True, limit: int = 5000, label: str | None = None) -> str:
    raw = values.get(name) if isinstance(values, dict) else None
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise BadInput(f"{label or name} must be text", name)
    value = raw.strip()
    if required and not value:
        raise BadInput(f"Please fill in {label or name}.", name)
    if len(value) > limit:
        raise BadInput(f"{label or name} is {len(value):,} characters; the limit is {limit:,}.", name)
    return value


def list_value(values: object, name: str) -> list[str]:
    raw = values.get(name) if isinstance(values, dict) else None
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [p.strip() for p in raw.replace(",", "\n").splitlines() if p.strip()]
    if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
        return [x for x in raw if x]
    raise BadInput(f"{name} must be a list of choices", name)


def bool_value(values: object, name: str) -> bool:
    raw = values.get(name) if isinstance(values, dict) else None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return raw.strip().lower() in {"true", "yes", "y", "1", "on"}
    if isinstance(raw, (list, tuple)):
        return bool(raw)
    return False
