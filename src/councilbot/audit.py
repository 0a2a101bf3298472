"""The audit log: who did what to which record, and when. Holds ids and actions, never contents."""

from __future__ import annotations

import uuid
from typing import Any

from . import clock
from .store import Store


class Audit:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, actor: str, action: str, subject: str, **detail: Any) -> None:
        self.store.insert(
            "audit",
            {"id": uuid.uuid4().hex, "at": clock.iso(clock.now()), "actor": actor, "action": action,
             "subject": subject, **detail},
        )
