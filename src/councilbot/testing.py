"""A recording notifier: ship the fake with the interface, so every workflow test is short."""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import Reply
from .ports import DeliveryError


@dataclass
class RecordingNotifier:
    """Records what the core asked to send; ``fail_next`` makes the next N deliveries fail."""

    platform: str = "test"
    clerk_channel: bool = True
    sent: list[tuple[str, Reply]] = field(default_factory=list)
    updated: list[tuple[str, Reply]] = field(default_factory=list)
    fail_next: int = 0
    retry_after: float | None = None

    async def has_clerk_channel(self) -> bool:
        return self.clerk_channel

    async def send(self, to: str, reply: Reply) -> str | None:
        self._maybe_fail()
        self.sent.append((to, reply))
        return f"{self.platform}-msg-{len(self.sent)}"

    async def update(self, ref: str, reply: Reply) -> None:
        self._maybe_fail()
        self.updated.append((ref, reply))

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeliveryError("simulated outage", retry_after=self.retry_after)

    def to(self, address: str) -> list[Reply]:
        return [r for a, r in self.sent if a == address]
