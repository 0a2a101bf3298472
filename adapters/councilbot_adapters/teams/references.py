"""Where the bot can reach people later: conversation references recorded as activities arrive,
kept in the core's store (one small table of this adapter's own) so they survive restarts and
are included in backups.

Teams only lets a bot post proactively into a conversation it has seen, so every channel the bot
is in and every person who messages it leaves a reference here. References are wire-format
dicts (``ConversationReference.serialize()``): no botbuilder types, so the table outlives an SDK
change.
"""

from __future__ import annotations

import logging
from typing import Any

from councilbot import clock
from councilbot.storage.port import Prefix, Store

from .. import TEAMS_REFERENCES

log = logging.getLogger(__name__)

TABLE = TEAMS_REFERENCES  # registered with the core as personal data (by the package)
PERSON_PREFIX = "teams:"
_CLERK_KEY = "clerk-channel"
_SERVICE_KEY = "service"


def channel_reference(reference: dict[str, Any], channel_id: str) -> dict[str, Any]:
    """A reference to the channel itself (not one thread in it), so posts start new threads."""
    ref = dict(reference)
    conversation = dict(ref.get("conversation") or {})
    conversation.update({"id": channel_id, "isGroup": True, "conversationType": "channel"})
    ref["conversation"] = conversation
    ref.pop("activityId", None)
    return ref


class ReferenceBook:
    def __init__(self, store: Store, configured_clerk_channel: str = "") -> None:
        self.store = store
        self.configured_clerk_channel = configured_clerk_channel.strip()

    async def _put(self, key: str, doc: dict[str, Any]) -> None:
        """Write only what changed: references arrive with every message and each write is fsynced."""
        current = await self.store.get(TABLE, key)
        if current is not None and all(current.get(k) == v for k, v in doc.items()):
            return
        await self.store.upsert(TABLE, {**doc, "id": key, "seen": clock.iso(clock.now())})

    async def _get(self, key: str) -> dict[str, Any] | None:
        return await self.store.get(TABLE, key)

    # Recording.

    async def remember_channel(self, channel_id: str, reference: dict[str, Any], team_id: str | None = None,
                         name: str | None = None) -> None:
        await self._put(f"channel:{channel_id}", {"reference": channel_reference(reference, channel_id), "team": team_id,
                                            "name": name})

    async def remember_personal(self, aad: str, reference: dict[str, Any]) -> None:
        ref = dict(reference)
        ref.pop("activityId", None)
        await self._put(f"user:{aad}", {"reference": ref, "person": PERSON_PREFIX + aad})

    async def remember_member(self, aad: str, member_id: str, service_url: str, tenant_id: str | None,
                        bot: dict[str, Any] | None) -> None:
        """Enough to open a personal chat with someone seen only in a channel."""
        await self._put(f"member:{aad}", {"member_id": member_id, "service_url": service_url, "tenant_id": tenant_id,
                                    "bot": bot, "person": PERSON_PREFIX + aad})

    async def remember_service(self, service_url: str, tenant_id: str | None, bot: dict[str, Any] | None) -> None:
        """The tenant's Bot Connector endpoint and the bot's account: enough to open a chat with a
        configured person (the Clerk, say) who has never written to the bot."""
        await self._put(_SERVICE_KEY, {"service_url": service_url, "tenant_id": tenant_id, "bot": bot})

    async def service(self) -> dict[str, Any] | None:
        return await self._get(_SERVICE_KEY)

    async def set_clerk_channel(self, channel_id: str, by: str) -> None:
        """Chosen in Teams by a clerk ("@CouncilBot set clerk channel"); wins over the config file,
        because it is the later, deliberate choice and the bot has certainly seen that channel."""
        await self._put(_CLERK_KEY, {"channel": channel_id, "by": by})
        log.info("teams clerk channel set", extra={"channel": channel_id})

    # Forgetting: the bot was removed, so posting there would only fail (403) from now on.

    async def forget_team(self, team_id: str) -> None:
        await self.store.delete_where(TABLE, {"id": Prefix("channel:"), "team": team_id})
        log.info("teams team forgotten: the bot was removed", extra={"team": team_id})

    async def forget_personal(self, aad: str) -> None:
        await self.store.delete(TABLE, f"user:{aad}")

    async def forget_person(self, aad: str) -> int:
        """UK GDPR erasure: everything held about one person (their chat reference, their Teams
        id and display name). Each record carries ``person`` so a store-wide search finds it too."""
        return sum([await self.store.delete(TABLE, key) for key in (f"user:{aad}", f"member:{aad}")])

    # Looking up.

    async def clerk_channel_id(self) -> str:
        chosen = await self._get(_CLERK_KEY)
        return str(chosen["channel"]) if chosen and chosen.get("channel") else self.configured_clerk_channel

    async def clerk_reference(self) -> dict[str, Any] | None:
        channel = await self.clerk_channel_id()
        return await self.channel(channel) if channel else None

    async def channel(self, channel_id: str) -> dict[str, Any] | None:
        doc = await self._get(f"channel:{channel_id}")
        return doc["reference"] if doc else None

    async def personal(self, aad: str) -> dict[str, Any] | None:
        doc = await self._get(f"user:{aad}")
        return doc["reference"] if doc else None

    async def member(self, aad: str) -> dict[str, Any] | None:
        return await self._get(f"member:{aad}")
