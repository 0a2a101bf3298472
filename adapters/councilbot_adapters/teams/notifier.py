"""The core's ``Notifier`` port for Teams: proactive posts to the clerk channel and to people's
personal chats through stored conversation references, and in-place card updates.

The outbox owns retrying (with backoff, across restarts), so connector failures are translated
into ``DeliveryError`` here and the SDK's own HTTP retries are switched off for these calls: a
POST the SDK retried by itself after a 5xx could be delivered twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
import requests
from msrest.exceptions import ClientRequestError, HttpOperationError

from councilbot.messages import Reply
from councilbot.ports import CLERK_CHANNEL, DeliveryError

from .. import common
from . import connector
from .cards import message_activity
from .inbound import aad_of
from .references import ReferenceBook
from .tokens import token_missing

log = logging.getLogger(__name__)
TEAMS_CHANNEL = "msteams"


def encode_ref(reference: dict[str, Any], activity_id: str) -> str:
    """The outbox keeps this string to update the card later: where it was posted, and its id."""
    return json.dumps({"conversation": reference, "activity": activity_id}, separators=(",", ":"), sort_keys=True)


def decode_ref(ref: str) -> tuple[dict[str, Any], str]:
    try:
        data = json.loads(ref)
        return dict(data["conversation"]), str(data["activity"])
    except (ValueError, KeyError, TypeError):
        raise DeliveryError(f"not a Teams message reference: {ref[:80]!r}", permanent=True) from None


def delivery_error(exc: Exception, what: str) -> DeliveryError:
    """Connector failures -> what the outbox should do: 429 waits as told, 5xx/401/network retry,
    other 4xx (bot removed from the team, user blocked the app, bad request) give up."""
    if isinstance(exc, DeliveryError):
        return exc
    missing = token_missing(exc)
    if missing is not None:  # the login service has not issued the bot's token yet: wait for it, not for us
        return DeliveryError(f"{what}: no Bot Framework token yet", retry_after=missing.retry_after)
    if isinstance(exc, HttpOperationError) and getattr(exc, "response", None) is not None:
        status = int(getattr(exc.response, "status_code", 0) or 0)
        return common.http_failure(f"{what}: Bot Connector", status, exc.response.headers)
    if isinstance(exc, ClientRequestError) and isinstance(getattr(exc, "inner_exception", None), requests.Timeout):
        return DeliveryError(f"{what}: the Bot Connector did not answer within {connector.CONNECTOR_TIMEOUT:g} s")
    if isinstance(exc, ClientRequestError):
        return DeliveryError(f"{what}: could not reach the Bot Connector ({exc.__class__.__name__})")
    log.warning("teams delivery failed unexpectedly", exc_info=exc)
    return DeliveryError(f"{what}: {exc.__class__.__name__}")


async def _as_new_message(context: TurnContext, activities: list[Activity], proceed: Callable[[], Awaitable[Any]]) -> Any:
    """A proactive turn would otherwise send each post as a reply to its made-up continuation
    activity; in a channel that must be a new post (a new thread), not a reply."""
    for activity in activities:
        activity.reply_to_id = None  # the SDK's annotation says str, but None is what it sends
    return await proceed()


def to_wire(model: Any) -> dict[str, Any]:
    """An SDK model -> wire-format JSON (the SDK is untyped; this is the one place that says so)."""
    return cast(dict[str, Any], model.serialize())


def sdk_reference(reference: dict[str, Any]) -> ConversationReference:
    """Wire reference -> SDK model. The SDK's ConversationAccount keys the tenant as ``tenantID``,
    so Teams' ``tenantId`` is copied across or it would be lost on the way out."""
    data = dict(reference)
    conversation = dict(data.get("conversation") or {})
    if conversation.get("tenantId") and not conversation.get("tenantID"):
        conversation["tenantID"] = conversation["tenantId"]
    data["conversation"] = conversation
    return cast(ConversationReference, ConversationReference.deserialize(data))


def to_activity(reply: Reply) -> Activity:
    return cast(Activity, Activity.deserialize(message_activity(reply)))


class TeamsNotifier:
    """``Notifier`` for Teams. Refs encode the conversation reference and the posted activity id."""

    platform = "teams"

    def __init__(self, adapter: CloudAdapter, book: ReferenceBook, app_id: str | None) -> None:
        self.adapter = adapter
        self.book = book
        self.app_id: Any = app_id or None  # the SDK wants None, not "", when auth is off

    async def has_clerk_channel(self) -> bool:
        return await self.book.clerk_reference() is not None

    async def send(self, to: str, reply: Reply) -> str | None:
        reference = await self.reference_for(to)
        activity_id = await self.post(reference, reply, what="message to the clerk channel" if to == CLERK_CHANNEL else "message to a person")
        return encode_ref(reference, activity_id)

    async def update(self, ref: str, reply: Reply) -> None:
        reference, activity_id = decode_ref(ref)

        async def replace(context: TurnContext) -> None:
            activity = to_activity(reply)
            activity.id = activity_id
            await context.update_activity(activity)

        await self._continue(reference, replace, "card update")

    async def forget_person(self, user: str) -> int:
        """Erase what this adapter holds about ``teams:<aad>`` (for the core's erasure, if it asks)."""
        aad = aad_of(user)
        return await self.book.forget_person(aad) if aad else 0

    # Building blocks the handler shares.

    async def reference_for(self, to: str) -> dict[str, Any]:
        if to == CLERK_CHANNEL:
            reference = await self.book.clerk_reference()
            if reference is None:
                channel = await self.book.clerk_channel_id()
                raise DeliveryError(
                    f"the Teams clerk channel {channel or '(not configured)'} has not been seen yet: add the bot to "
                    "its team, or mention it there with 'set clerk channel'", permanent=True)
            return reference
        aad = aad_of(to)
        if aad is None:
            raise DeliveryError("the recipient is not a Teams user", permanent=True)
        reference = await self.book.personal(aad)
        if reference is None:
            reference = await self._open_personal(aad)
        return reference

    async def post(self, reference: dict[str, Any], reply: Reply, what: str = "message") -> str:
        """Post a new message into a referenced conversation; return its activity id."""
        posted: dict[str, str] = {}

        async def send(context: TurnContext) -> None:
            context.on_send_activities(_as_new_message)
            response = await context.send_activity(to_activity(reply))
            posted["id"] = (response.id if response else None) or ""

        await self._continue(reference, send, what)
        return posted.get("id", "")

    async def _continue(self, reference: dict[str, Any], logic: Callable[[TurnContext], Awaitable[None]], what: str) -> None:
        try:
            await self.adapter.continue_conversation(sdk_reference(reference), logic, self.app_id)
        except Exception as exc:
            raise delivery_error(exc, what) from exc

    async def _open_personal(self, aad: str) -> dict[str, Any]:
        """Someone not yet in a personal chat with the bot: open one (Teams allows this for people
        who have the app or are in a team it is installed in), and remember it."""
        member = await self.book.member(aad)
        if member is None:
            # Never seen: Teams also accepts the AAD object id as the member id, if the app is
            # installed for that person or in a team they belong to.
            service = await self.book.service()
            if service is None or not service.get("service_url"):
                raise DeliveryError("no Teams conversation with this person yet, and the bot has not been "
                                    "reached from Teams at all", permanent=True)
            member = {**service, "member_id": aad}
        tenant = member.get("tenant_id")
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount.deserialize(member["bot"]) if member.get("bot") else None,
            members=[ChannelAccount(id=member["member_id"])],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )
        created: dict[str, Any] = {}

        async def keep(context: TurnContext) -> None:
            created["reference"] = to_wire(TurnContext.get_conversation_reference(context.activity))

        try:
            await self.adapter.create_conversation(self.app_id, keep, params, TEAMS_CHANNEL, member["service_url"])
        except Exception as exc:
            raise delivery_error(exc, "opening a personal chat") from exc  # no id: errors reach the logs
        reference: dict[str, Any] = created["reference"]
        await self.book.remember_personal(aad, reference)
        return reference
