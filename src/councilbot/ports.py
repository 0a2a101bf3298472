"""The notifier port: how the core reaches people later. Each chat adapter implements it."""

from __future__ import annotations

from typing import Protocol

from .messages import Reply

CLERK_CHANNEL = "clerk-channel"


class DeliveryError(Exception):
    """A delivery that did not happen. ``retry_after`` (seconds) honours a platform's rate limit;
    ``permanent`` means retrying cannot help (an unknown user, a missing channel)."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Notifier(Protocol):
    """One chat platform's way of posting. Addresses are ``CLERK_CHANNEL`` or a
    platform-qualified user id (``slack:U123``); refs are opaque strings the notifier returns."""

    platform: str

    async def has_clerk_channel(self) -> bool:
        """Whether this platform knows where the clerk channel is (config or a recorded channel)."""
        ...

    async def send(self, to: str, reply: Reply) -> str | None:
        """Post a reply; return a ref for updating it later (a card), or None."""
        ...

    async def update(self, ref: str, reply: Reply) -> None:
        """Replace a message posted earlier (an approval card after a decision)."""
        ...


def platform_of(user_id: str) -> str:
    """``slack:U123`` -> ``slack``; ids always carry their platform so they never mix."""
    return user_id.split(":", 1)[0] if ":" in user_id else ""
