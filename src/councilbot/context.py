"""What every workflow needs, assembled once: the pack, the store, people, the audit log, the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .audit import Audit
from .errors import BadInput
from .outbox import Outbox
from .pack import Pack
from .people import People
from .store import TinyStore


# The tables whose records are created by an incoming event and numbered (R-, S-, F-, M-).
NUMBERED = ("reports", "suggestions", "flags", "moderation")


@dataclass
class Ctx:
    pack: Pack
    store: TinyStore
    people: People
    audit: Audit
    outbox: Outbox
    # A digest of the event being handled: written into the record it creates, in the same write,
    # so that after a crash the record shows the event was finished (see CouncilBot._interrupted).
    event: str | None = None


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
