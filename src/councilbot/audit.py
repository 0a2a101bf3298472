"""The audit log: who did what to which record, and when. Holds ids and actions, never contents."""

from __future__ import annotations

import time
import uuid
from typing import Any

from . import clock
from .storage.port import Store


class Audit:
    """Entries have ids that sort in the order they were written (nanoseconds, then a random part
    so replicas never collide): the log reads in order even when several share one second."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, actor: str, action: str, subject: str, **detail: Any) -> None:
        await self.store.insert(
            "audit",
            {"id": f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}", "at": clock.iso(clock.now()), "actor": actor, "action": action,
             "subject": subject, **detail},
        )
