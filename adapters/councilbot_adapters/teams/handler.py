"""The Teams ActivityHandler: records where people and channels can be reached, turns activities
into ``Incoming`` (``inbound``), hands them to the core, and puts the core's replies where they
belong. It decides nothing about councils: the only thing it answers itself is
"set clerk channel", which is about Teams plumbing, and it asks the core whether the person
may do that.

Where replies go:
- personal chat: into the chat;
- a team channel: ``private`` replies to the person's personal chat (Teams has no ephemeral
  messages), public ones into the thread;
- a card button or form (``adaptiveCard/action`` invoke): answered within Teams' 5 s with the
  reply as the card's replacement (seen only by the person who pressed) or a short message;
  anything slower is delivered as a message when it is ready.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from contextvars import ContextVar
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity

from councilbot.messages import Incoming, Reply
from councilbot.ports import DeliveryError

from .. import common
from . import files, inbound
from .cards import CONTENT_TYPE, reply_card
from .notifier import TeamsNotifier, to_activity, to_wire
from .references import ReferenceBook

if TYPE_CHECKING:
    from councilbot.app import CouncilBot

log = logging.getLogger(__name__)
ALREADY_RECEIVED = "Already received: this was dealt with when it first arrived."

# Teams shows an error if an invoke is not answered within 5 s; leave room for the network.
INVOKE_BUDGET_SECONDS = 4.0
# An invoke's answer is shown once the HTTP response is written, after the handler returns: a held
# receipt it carries is withdrawn this long after (a crash in between sends the copy as well).
RESPONSE_WRITTEN = 2.0
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
ERROR_TYPE = "application/vnd.microsoft.error"
SORRY = "Sorry, something went wrong on our side. Please try again."
# The activity exactly as Teams sent it. botbuilder's models drop what they do not model (mention
# entities' ``mentioned``/``text``) and misname ``conversation.tenantId`` (as ``tenantID``), so
# translation works on the received JSON; the endpoint sets this around each turn.
WIRE: ContextVar[dict[str, Any] | None] = ContextVar("teams_wire_activity", default=None)


def wire_of(turn_context: TurnContext) -> dict[str, Any]:
    received = WIRE.get()
    if received is not None and received.get("id") == turn_context.activity.id:
        return received
    return to_wire(turn_context.activity)


def invoke_card(card: dict[str, Any]) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": CONTENT_TYPE, "value": card})


def invoke_message(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": MESSAGE_TYPE, "value": text[:500]})


def invoke_error(status: HTTPStatus, message: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": int(status), "type": ERROR_TYPE,
                                            "value": {"code": status.phrase.replace(" ", ""), "message": message}})


def _is_rich(reply: Reply) -> bool:
    return bool(reply.fields or reply.buttons or reply.form or reply.title or len(reply.text) > 300)


def _text_activity(text: str) -> Activity:
    return Activity(type="message", text=text)


class TeamsHandler(ActivityHandler):  # type: ignore[misc]  # botbuilder ships no type information
    # Offers files made for one person (an evidence bundle) as a short-lived signed link (mount sets it).
    downloads: files.Downloads | None = None
    def __init__(self, core: CouncilBot, book: ReferenceBook, notifier: TeamsNotifier, *,
                 allow_plain_ids: bool, invoke_budget: float = INVOKE_BUDGET_SECONDS) -> None:
        super().__init__()
        self.core = core
        self.book = book
        self.notifier = notifier
        self.allow_plain_ids = allow_plain_ids
        self.invoke_budget = invoke_budget
        self._background: set[asyncio.Task[None]] = set()

    # Every activity: remember where things are, then dispatch by type.

    async def on_turn(self, turn_context: TurnContext) -> None:
        try:
            await self._remember(wire_of(turn_context))
        except Exception:  # a storage hiccup must not cost the person their answer
            log.exception("could not record a Teams conversation reference")
        await super().on_turn(turn_context)

    async def _remember(self, wire: dict[str, Any]) -> None:
        if not wire.get("serviceUrl") or wire.get("type") not in ("message", "invoke", "conversationUpdate", "installationUpdate"):
            return
        if wire.get("membersRemoved") or str(wire.get("action", "")).startswith("remove"):
            return  # a goodbye, not a way in
        reference = inbound.reference_of(wire)
        kind = inbound.conversation_type(wire)
        user = inbound.user_id(wire, self.allow_plain_ids)
        aad = inbound.aad_of(user) if user else None
        if kind == "personal" and aad:
            await self.book.remember_personal(aad, reference)
        elif kind == "channel":
            channel = inbound.team_channel_id(wire)
            if channel:
                reference.pop("user", None)
                data = wire.get("channelData") or {}
                await self.book.remember_channel(channel, reference, (data.get("team") or {}).get("id"),
                                           (data.get("channel") or {}).get("name"))
        sender = wire.get("from") or {}
        if aad and sender.get("id") and wire.get("type") in ("message", "invoke"):
            await self.book.remember_member(aad, sender["id"], wire["serviceUrl"], inbound.tenant_id(wire), wire.get("recipient"))
        if wire.get("channelId") == "msteams":
            await self.book.remember_service(wire["serviceUrl"], inbound.tenant_id(wire), wire.get("recipient"))

    # Messages (typed text, or an Action.Submit from a client without Universal Actions).

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        wire = wire_of(turn_context)
        if (not inbound.is_personal(wire) and not isinstance(wire.get("value"), dict)
                and inbound.SET_CLERK_CHANNEL.match(inbound.clean_text(wire))):
            await self._set_clerk_channel(turn_context, wire)
            return
        # Screenshots attached in the personal chat: downloaded now, kept with the report.
        incoming = await files.evidence_incoming(turn_context, wire, self.allow_plain_ids) or inbound.to_incoming(wire, self.allow_plain_ids)
        if incoming is None:
            return
        replies = await self._handle(incoming)
        if incoming.kind == "form" and replies and await self._replace_submitted_form(turn_context, wire, incoming, replies[0]):
            replies = replies[1:]
        await self._deliver(turn_context, wire, incoming, replies)

    async def _replace_submitted_form(self, turn_context: TurnContext, wire: dict[str, Any], incoming: Incoming,
                                      reply: Reply) -> bool:
        """An Action.Submit form in a personal chat becomes its receipt, so it cannot be sent twice."""
        target = wire.get("replyToId")
        if not target or not inbound.is_personal(wire) or reply.form_error:  # a form turned down stays open
            return False
        activity = to_activity(reply)
        activity.id = target
        try:
            await turn_context.update_activity(activity)
            return True
        except Exception as exc:
            log.info("could not replace a submitted form card (%s); sending the reply instead", exc.__class__.__name__)
            return False

    async def _answer_here(self, turn_context: TurnContext, incoming: Incoming, reply: Reply) -> None:
        """Reply in the conversation; if the Bot Connector will not take it (down, throttling, or
        refusing this conversation), queue it for the person's personal chat through the durable
        outbox, so a receipt the core has already promised (a report's reference) is not lost."""
        try:
            await turn_context.send_activity(to_activity(reply))
        except Exception as exc:
            await common.queue_for_person(self.core.outbox, incoming.user, [reply], exc)

    async def _say(self, turn_context: TurnContext, text: str) -> None:
        """A short remark about what was just done; if Teams will not take it, the deed still stands."""
        try:
            await turn_context.send_activity(_text_activity(text))
        except Exception as exc:
            log.warning("could not send a remark (%s)", exc.__class__.__name__)

    async def _set_clerk_channel(self, turn_context: TurnContext, wire: dict[str, Any]) -> None:
        channel = inbound.team_channel_id(wire)
        user = inbound.user_id(wire, self.allow_plain_ids)
        if not channel or user is None:
            await self._say(turn_context, "Say this in the team channel that should become the clerk channel.")
            return
        if not await self._can(user, "manage_people"):
            await self._say(turn_context, "Only the Clerk can choose the clerk channel.")
            return
        await self.book.set_clerk_channel(channel, user)
        await self._say(turn_context,
                        "This channel is now the clerk channel: report notices and suggested posts for approval will appear here.")

    async def _can(self, user: str, action: str) -> bool:
        can = getattr(self.core, "can", None)
        if can is None:
            log.error("the core has no can(user, action); refusing %s", action)
            return False
        try:
            allowed = can(user, action)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            return bool(allowed)
        except Exception:
            log.exception("permission check failed")
            return False

    # Installs and team membership.

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """References were recorded in ``on_turn``. Installed in someone's personal scope: greet them
        with the core's help, so they know what to do. Removed from a team: forget its channels."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        wire = wire_of(turn_context)
        if any(m.id == bot_id for m in activity.members_removed or []):
            await self._forget(wire)
            return
        if any(m.id == bot_id for m in activity.members_added or []) and inbound.is_personal(wire):
            user = inbound.user_id(wire, self.allow_plain_ids)
            if user:
                incoming = Incoming(kind="command", user=user, name="help", event_id=activity.id,
                                    display_name=inbound.display_name(wire))
                await self._deliver(turn_context, wire, incoming, await self._handle(incoming))

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        wire = wire_of(turn_context)
        if str(wire.get("action", "")).startswith("remove"):
            await self._forget(wire)

    async def _forget(self, wire: dict[str, Any]) -> None:
        team = ((wire.get("channelData") or {}).get("team") or {}).get("id")
        if team:
            await self.book.forget_team(str(team))
            return
        user = inbound.user_id(wire, self.allow_plain_ids)
        aad = inbound.aad_of(user) if user else None
        if aad and inbound.is_personal(wire):
            await self.book.forget_personal(aad)

    # Card buttons and forms (Action.Execute).

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        if turn_context.activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        wire = wire_of(turn_context)
        incoming = inbound.to_incoming(wire, self.allow_plain_ids)
        if incoming is None:
            return invoke_error(HTTPStatus.BAD_REQUEST, "This card's action is not one CouncilBot understands.")
        task = asyncio.ensure_future(self._handle(incoming))
        try:
            replies = await asyncio.wait_for(asyncio.shield(task), self.invoke_budget)
        except TimeoutError:
            reference = inbound.reference_of(wire)
            self._later(task, wire, incoming, reference)
            return invoke_message("Working on it: the answer will follow as a message.")
        return await self._answer_invoke(turn_context, wire, incoming, replies)

    async def _answer_invoke(self, turn_context: TurnContext, wire: dict[str, Any], incoming: Incoming,
                             replies: list[Reply]) -> InvokeResponse:
        if not replies:  # a redelivery, or the same card sent again: the core handled it the first time
            return invoke_message(ALREADY_RECEIVED)
        first, rest = replies[0], list(replies[1:])
        personal = inbound.is_personal(wire)
        if first.form_error:
            # Keep the form and the person's answers; say what to fix.
            response = invoke_message(f"{first.text} " + " ".join(f.value for f in first.fields if f.value != first.text))
        elif first.form is not None or incoming.kind == "form" or personal:
            # A form opens in place; a submitted form becomes its receipt; in a personal chat the
            # pressed card becomes the answer. Replacement is seen only by the person who pressed.
            response = invoke_card(reply_card(first))
        elif first.private and not _is_rich(first):
            response = invoke_message(first.text)
        else:
            response = invoke_message("I've sent you the details in a private chat." if first.private else (first.text or "Done."))
            rest.insert(0, first)
        if rest:  # sent after the invoke is answered, so they cannot push it past Teams' 5 s
            done: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()
            done.set_result(rest)
            self._later(done, wire, incoming, inbound.reference_of(wire))
        # Teams shows the receipt once this response is written: withdraw its held copy a little later.
        await self.core.delivered([first], after=RESPONSE_WRITTEN)
        return response

    def _later(self, task: asyncio.Future[list[Reply]], wire: dict[str, Any], incoming: Incoming,
               reference: dict[str, Any]) -> None:
        """Replies that cannot be the invoke's answer (the core was slower than the budget, or there
        are several): deliver them as messages when ready, outside the invoke."""

        async def finish() -> None:
            replies = await task
            try:
                for reply in replies:
                    try:
                        if await self._shown_here(wire, reply):
                            await self.notifier.post(reference, reply, "slow reply")
                        else:
                            await self.notifier.post(await self.notifier.reference_for(incoming.user), reply, "slow reply")
                    except DeliveryError as exc:
                        await common.queue_for_person(self.core.outbox, incoming.user, [reply], exc)
            finally:
                await self.core.delivered(replies)

        background = asyncio.ensure_future(finish())
        self._background.add(background)
        background.add_done_callback(self._background.discard)

    async def finish_background(self, *_: Any) -> None:
        """On shutdown: let slow replies finish (briefly) instead of dropping them."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=5.0)

    # Talking to the core and delivering its replies.

    async def _handle(self, incoming: Incoming) -> list[Reply]:
        try:
            replies = list(await self.core.handle(incoming))
            return [self._offer(r) if r.file else r for r in replies]
        except Exception:
            log.exception("the core failed on a Teams activity")
            return [Reply(text=SORRY, tone="danger", form_error=incoming.kind == "form")]  # a form stays open

    def _offer(self, reply: Reply) -> Reply:
        if self.downloads is None:
            return Reply(text="Sorry, files cannot be sent in Teams here.", title=reply.title, tone="danger")
        return self.downloads.as_link(reply, self.core.council_id)

    async def _shown_here(self, wire: dict[str, Any], reply: Reply) -> bool:
        """Teams has no ephemeral messages: in a personal chat anything may be shown; in a channel
        only a public reply, and only in the clerk channel (pending cards must not land in whatever
        channel someone typed "pending" in). Everything else moves to the person's personal chat."""
        if inbound.is_personal(wire):
            return True
        return not reply.private and inbound.team_channel_id(wire) == await self.notifier.book.clerk_channel_id()

    async def _deliver(self, turn_context: TurnContext, wire: dict[str, Any], incoming: Incoming,
                       replies: list[Reply]) -> None:
        try:
            await self._deliver_all(turn_context, wire, incoming, replies)
        finally:
            await self.core.delivered(replies)

    async def _deliver_all(self, turn_context: TurnContext, wire: dict[str, Any], incoming: Incoming,
                           replies: list[Reply]) -> None:
        moved = failed = False
        for reply in replies:
            if await self._shown_here(wire, reply):
                await self._answer_here(turn_context, incoming, reply)
                continue
            try:
                await self.notifier.post(await self.notifier.reference_for(incoming.user), reply, "private reply")
                moved = True
            except DeliveryError as exc:
                if exc.permanent:  # no personal chat can be opened: say so here
                    log.warning("could not move a private reply to a personal chat (%s)", exc.__class__.__name__)
                    failed = True
                else:  # Teams is struggling: the outbox brings it when it can
                    await common.queue_for_person(self.core.outbox, incoming.user, [reply], exc)
                    moved = True
        if failed:
            await self._say(turn_context,
                            "I couldn't open a private chat with you. Please start a chat with me (CouncilBot) and try again.")
        elif moved and wire.get("type") == "message":
            await self._say(turn_context, "I've answered you in a private chat.")
