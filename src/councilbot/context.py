"""What every workflow needs, assembled once: the pack, the store, people, the audit log, the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from concurrent.futures import Executor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from .audit import Audit
from .errors import BadInput
from .messages import Reply
from .outbox import Outbox
from .pack import Pack
from .people import People
from .store import TinyStore

if TYPE_CHECKING:
    from .elections import Election


# The tables whose records are created by an incoming event and numbered (R-, S-, F-, M-).
NUMBERED = ("reports", "suggestions", "flags", "moderation")
# A digest of the event being handled: written into the record it creates, in the same write, so
# that after a crash the record shows the event was finished (see CouncilBot._interrupted). Per
# task, not per bot: while one event waits for the checker, another may be handled.
_EVENT: ContextVar[str | None] = ContextVar("councilbot_event", default=None)
# Receipts queued (held) while handling the current event, withdrawn once the immediate answer
# carrying them is returned (see Ctx.receipt).
_HELD: ContextVar[list[tuple[str, Reply]] | None] = ContextVar("councilbot_held", default=None)
# How long a durable receipt waits before it is sent: long enough for the immediate answer to
# withdraw it, short enough that a reporter whose answer died with the process hears soon.
RECEIPT_HOLD = 60.0
T = TypeVar("T")


@dataclass
class Ctx:
    pack: Pack
    store: TinyStore
    people: People
    audit: Audit
    outbox: Outbox
    # Where CPU work (the checker, the policy lookup) runs, off the event loop that answers every
    # platform's requests; None runs it in place (tools and tests that build a Ctx by hand).
    cpu: Executor | None = None
    # Elections set in councilbot.toml; those the Clerk adds in chat are in the records.
    elections: tuple["Election", ...] = ()

    @property
    def event(self) -> str | None:
        return _EVENT.get()

    @contextlib.contextmanager
    def handling(self, event: str | None) -> Iterator[list[tuple[str, Reply]]]:
        """Mark the records written in this block (in this task) as made by ``event``; yields the
        receipts held meanwhile (outbox key, message), for the caller to tie to its answer."""
        token = _EVENT.set(event)
        held: list[tuple[str, Reply]] = []
        held_token = _HELD.set(held)
        try:
            yield held
        finally:
            _HELD.reset(held_token)
            _EVENT.reset(token)

    def receipt(self, key: str, to: str, reply: Reply) -> None:
        """A receipt that matters (a report's reference) also goes through the outbox, held for
        ``RECEIPT_HOLD`` seconds: if the process dies before the immediate answer is returned, it
        still reaches the person's direct messages; once the answer has been shown, it is withdrawn
        (or sent at once, where the adapter wants a copy to keep), so the person is told once.
        Outside an event (recovery at start-up) it simply goes."""
        self.outbox.send(key, to, reply, hold=RECEIPT_HOLD)
        held = _HELD.get()
        if held is not None:
            held.append((key, reply))

    async def compute(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the CPU executor, so a long check or lookup never holds up the
        acknowledgement of another person's request. ``work`` must only read (the pack, the
        text): every write to the store stays on the event loop, in order."""
        if self.cpu is None:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(self.cpu, functools.partial(work, *args))


def reference(ctx: Ctx, prefix: str) -> str:
    """Case references like R-2026-0042: a per-year counter, never reused."""
    from . import clock

    year = clock.now().year
    number = ctx.store.next_number(f"{prefix}-{year}")
    return f"{prefix}-{year}-{number:04d}"


def insert_numbered(ctx: Ctx, table: str, prefix: str, record: dict[str, Any]) -> dict[str, Any]:
    """Store a new record under the next free reference. A counter left behind (a restored backup)
    skips numbers already used instead of silently dropping the new record."""
    for _ in range(10_000):
        doc = {"id": reference(ctx, prefix), **record, **({"event": ctx.event} if ctx.event else {})}
        if ctx.store.insert(table, doc):
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
