"""The slack-bolt AsyncApp: verify, ack, translate, hand to the core, render what comes back.

Slack's rules this file lives by:
- Every request must be acknowledged within 3 seconds, or Slack shows the person an error
  (commands, buttons, modals) or sends the event again (Events API). So listeners ack first;
  the core is asked afterwards, once the ack has been written (``RESPONDED``), and every Web API
  call runs in a background task: neither a slow Web API nor the core ever delays an ack. The
  core never blocks the event loop (its store is awaited, its checks run in a worker thread),
  so the next request's ack is written while earlier answers are still being worked out.
- The one exception is a modal submission: whether the modal closes or shows errors *is* the
  ack, so the core is asked before acking (it only touches its own store; what it sends later
  goes through its outbox). Web API calls still come after the ack.
- Bolt checks the signature and timestamp of every HTTP request before any listener runs.
- A trigger_id opens a modal only within 3 s of the interaction, a response_url takes 5 posts
  in 30 minutes, chat.postMessage about one a second per channel: replies are packed to fit.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Sequence, cast

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.webhook.async_client import AsyncWebhookClient

from councilbot.config import ConfigError, Settings
from councilbot.messages import Form, Incoming, Reply
from councilbot.ports import DeliveryError

from .. import common
from . import blocks, inbound
from . import files as slack_files
from .installations import WORKSPACE, SlackInstallations, Workspace, oauth_configured
from .notifier import SlackNotifier, delivery_error, make_client, retry_handlers

if TYPE_CHECKING:
    from councilbot.app import CouncilBot

log = logging.getLogger(__name__)

# Seconds an (awaiting) core may take on a submission before the modal just closes and the answer
# comes by DM. Today's core never awaits inside handle(), so this guards a future async core.
FORM_ACK_BUDGET = 2.0
BUSY = "CouncilBot is very busy just now; please try again in a minute."
MAX_ANSWERING = 500  # beyond this many answers under way, a command is told the bot is busy
# Set by the HTTP handler for each request and opened once its response has been written, so the
# core is asked only after Slack has its ack. Listener tasks inherit it (asyncio copies the
# context into tasks). Unset (Socket Mode): no waiting.
RESPONDED: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("slack_responded", default=None)
SORRY = Reply(text="Sorry, something went wrong on my side. Please try again in a minute.", tone="danger")


class SlackAdapter:
    """One Slack workspace in front of one CouncilBot (``SLACK_BOT_TOKEN``), or, with
    ``installations`` ("Add to Slack"), every workspace that installed it, each answered with its
    own token. Holds no records: the core keeps those."""

    def __init__(self, bot: CouncilBot, settings: Settings, *, http: bool = True,
                 installations: SlackInstallations | None = None) -> None:
        slack = settings.slack
        if slack.bot_token is None and installations is None and not (http and oauth_configured(slack)):
            raise ConfigError("slack.bot_token is not set (environment variable SLACK_BOT_TOKEN)")
        if http and slack.signing_secret is None:
            raise ConfigError("slack.signing_secret is not set (environment variable SLACK_SIGNING_SECRET)")
        self.bot = bot
        self.settings = settings
        self.token = slack.bot_token.get_secret_value() if slack.bot_token else ""
        self.installations = installations
        self.notifier = SlackNotifier(settings)
        self.client = self.notifier.client
        self.tasks: set[asyncio.Task[Any]] = set()
        self.answering = 0  # core calls under way or waiting for their ack to be written
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._bot_id: str | None = None
        self._bot_user_id: str | None = None
        self._identity_task: asyncio.Task[None] | None = None
        self._identity_after = 0.0
        self.app = AsyncApp(
            name="councilbot",
            # The app's client carries no token: authorize() supplies it per request.
            client=make_client(settings, token=False),
            # bolt's type says a result, but its middleware takes None as "not installed here".
            authorize=cast(Callable[..., Awaitable[AuthorizeResult]], self._authorizer()),
            signing_secret=slack.signing_secret.get_secret_value() if slack.signing_secret else None,
            request_verification_enabled=http,  # Socket Mode has no HTTP signature to check
            process_before_response=False,  # long-running server: respond as soon as ack() is called
        )
        self._register()

    # ------------------------------------------------------------ plumbing

    def _authorizer(self) -> Callable[..., Awaitable[AuthorizeResult | None]]:
        """The token for each request: the static one (one workspace), or the workspace's own (see
        ``authorize`` below). Bolt's default would call auth.test on the first request, putting a
        Web API round trip in front of the ack; we learn who we are in the background instead
        (only needed to ignore our own messages, which carry bot_id anyway).
        A plain function, not a method: bolt injects authorize's arguments by parameter name."""

        def single(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult | None:
            if not self.token:
                return None
            self.learn_identity()
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=self.token,
                                   bot_id=self._bot_id, bot_user_id=self._bot_user_id)

        async def authorize(context: Any, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult | None:
            """With "Add to Slack" (``self.installations``), the workspace the request came from,
            by its stored installation (its token refreshed first if due); a workspace without one
            gets bolt's "please install" answer, unless a SLACK_BOT_TOKEN is also set, which then
            serves it as before. What is found is kept for this request's replies (``WORKSPACE``),
            which run after the ack."""
            installations = self.installations
            if installations is None:
                return single(enterprise_id, team_id)
            WORKSPACE.set(None)
            try:
                found = await installations.authorize(enterprise_id, team_id, getattr(context, "is_enterprise_install", False))
            except Exception as exc:  # the database is down: the request cannot be served now
                log.error("slack: could not read the workspace's installation (%s)", exc.__class__.__name__)
                return None
            if found is None:
                return single(enterprise_id, team_id)
            WORKSPACE.set(Workspace(team_id, enterprise_id, found.bot_token or "", found.bot_user_id))
            return found

        return authorize

    def current_token(self) -> str:
        """The bot token for the request being answered: its workspace's, or the single one."""
        workspace = WORKSPACE.get()
        return workspace.token if workspace is not None else self.token

    def current_bot_user_id(self) -> str | None:
        workspace = WORKSPACE.get()
        return workspace.bot_user_id if workspace is not None else self._bot_user_id

    async def call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """A Web API call answering the current request, with its workspace's token."""
        workspace = WORKSPACE.get()
        if workspace is not None:
            kwargs["token"] = workspace.token
        return await self.notifier.call(method, **kwargs)

    @property
    def bot_user_id(self) -> str | None:
        return self._bot_user_id

    def learn_identity(self) -> None:
        """Ask auth.test who we are, in the background (at start-up, and again if it failed)."""
        if (self.token and self._bot_user_id is None and self._identity_task is None
                and time.monotonic() >= self._identity_after):
            self._identity_task = self.spawn(self._learn_identity())

    async def _learn_identity(self) -> None:
        try:
            data = await self.client.auth_test()
            self._bot_id, self._bot_user_id = data.get("bot_id"), data.get("user_id")
        except Exception as exc:
            log.warning("auth.test failed; will ask again later: %s", exc)
            self._identity_after = time.monotonic() + 30
        finally:
            self._identity_task = None

    def spawn(self, coro: Coroutine[Any, Any, Any], context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        """Run work after the ack. Tasks are kept (asyncio only holds weak references) and drained on close."""
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack background task failed", exc_info=task.exception())

    async def close(self, grace: float = 5.0) -> None:
        """Let queued work and replies in flight finish (up to ``grace`` seconds), then cancel the rest."""
        pending = set(self.tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1)

    def first_delivery(self, event_id: str | None) -> bool:
        """Slack re-sends an event it thinks we missed (X-Slack-Retry-Num). One we have already
        taken is acked and dropped here; after a restart the core's event_id dedupe catches it."""
        if not event_id:
            return True
        if event_id in self._seen_events:
            return False
        self._seen_events[event_id] = None
        while len(self._seen_events) > 5000:
            self._seen_events.popitem(last=False)
        return True

    async def ask(self, incoming: Incoming) -> list[Reply]:
        """The core's door; a crash there becomes an apology, never silence."""
        try:
            return list(await self.bot.handle(incoming))
        except Exception:
            log.exception("core failed", extra={"kind": incoming.kind, "handler": incoming.name})
            return [dataclasses.replace(SORRY, form_error=incoming.kind == "form")]  # a form stays open

    async def ask_with_files(self, incoming: Incoming, files: list[dict[str, Any]]) -> list[Reply]:
        """Screenshots in the form are downloaded now, with the bot's token, before Slack can
        delete them; the core checks and keeps the bytes. (Slow downloads only move the answer to
        the DM: the modal closes after FORM_ACK_BUDGET either way.)"""
        if files:
            uploads = await slack_files.download(files, self.current_token(), self.settings.slack.api_url)
            incoming = dataclasses.replace(incoming, values={**incoming.values, blocks.EVIDENCE_BLOCK: uploads})
        return await self.ask(incoming)

    def busy(self) -> bool:
        return self.answering >= MAX_ANSWERING

    def answer(self, incoming: Incoming, deliver: Callable[[list[Reply]], Coroutine[Any, Any, None]]) -> None:
        """Ask the core once this request's ack has been written; deliver its replies alongside."""
        gate = RESPONDED.get()

        async def job() -> None:
            try:
                if gate is not None:
                    await gate.wait()
                replies = await self.ask(incoming)
            finally:
                self.answering -= 1
            self.spawn(deliver(replies))

        self.answering += 1
        self.spawn(job())

    # ------------------------------------------------------------ delivering replies

    async def persist(self, call: Callable[[], Awaitable[Any]], attempts: int = 4) -> None:
        """An immediate reply is not in the core's outbox, so ride out a short Slack outage here:
        the client has already retried once; then wait as Slack asks (Retry-After) or back off."""
        for attempt in range(attempts):
            try:
                await call()
                return
            except DeliveryError as exc:
                if exc.permanent or attempt == attempts - 1:
                    raise
                await asyncio.sleep(min(exc.retry_after if exc.retry_after is not None else 2.0**attempt, 30.0))

    async def open_form(self, trigger_id: str, form: Form) -> None:
        """A trigger_id is valid for 3 seconds after the interaction: one try (plus the client's quick retry)."""
        await self.call("views_open", trigger_id=trigger_id, view=blocks.form_view(form))

    async def respond(self, response_url: str, message: dict[str, Any]) -> None:
        """Answer through the interaction's response_url, always ephemeral: the core cannot know
        which channel a command was typed in, so only the person who asked sees the answer.
        (A card the core marks public, e.g. from ``pending``, is public in the clerk channel only.)"""
        webhook = AsyncWebhookClient(response_url, timeout=15, retry_handlers=retry_handlers())
        try:
            resp = await webhook.send(text=message["text"], blocks=message["blocks"], response_type="ephemeral", replace_original=False)
        except Exception as exc:
            raise delivery_error(exc) from exc
        if resp.status_code != 200:  # 404 expired_url, used_url (5 uses, 30 minutes): retrying cannot help
            raise common.http_failure("response_url", resp.status_code, resp.headers)

    async def deliver(self, replies: Sequence[Reply], *, user: str, trigger_id: str | None = None,
                      response_url: str | None = None, channel: str | None = None) -> None:
        """Show replies where the person is: a form as a modal (while the trigger is fresh), the
        rest through response_url (ephemeral), in the DM they wrote in, or as a new DM.

        A receipt kept durably in the outbox (a report's reference) is not sent again here: as a new
        DM it is that copy, sent now, so a crash at any moment neither loses nor repeats it;
        elsewhere the copy is withdrawn once the reply is shown."""
        if response_url is None and channel is None:
            await self._deliver(await self.bot.keep(replies), user=user, trigger_id=trigger_id, response_url=None, channel=None)
            return
        try:
            await self._deliver(replies, user=user, trigger_id=trigger_id, response_url=response_url, channel=channel)
        finally:
            await self.bot.delivered(replies)

    async def _deliver(self, replies: Sequence[Reply], *, user: str, trigger_id: str | None,
                       response_url: str | None, channel: str | None) -> None:
        pending = [await self.send_file(user, r) if r.file else r for r in replies]
        form_at = next((i for i, r in enumerate(pending) if r.form is not None), None)
        if trigger_id and form_at is not None:  # a trigger_id opens one modal, within 3 s
            reply = pending[form_at]
            assert reply.form is not None
            try:
                await self.open_form(trigger_id, reply.form)
            except DeliveryError as exc:  # expired_trigger_id after a queue or a slow Slack
                log.warning("could not open a modal (%s); sending a button that opens it", exc)
            else:
                del pending[form_at]
                if reply.text or reply.title or reply.fields:
                    pending.insert(form_at, dataclasses.replace(reply, form=None))
        # A form not opened stays on its reply and is drawn as a button that opens it.
        target = channel or inbound.slack_user(user) or user
        messages = blocks.pack_messages(pending)
        for at, (message, carried) in enumerate(messages):
            send: Callable[[], Awaitable[Any]] = (
                functools.partial(self.respond, response_url, message) if response_url
                else functools.partial(self.call, "chat_postMessage", channel=target, **message))
            try:
                await self.persist(send)
            except asyncio.CancelledError:
                # Shutting down while Slack is slow: what is still to say goes to the outbox,
                # which the next start delivers.
                await common.queue_for_person(self.bot.outbox, user, [r for _, rest in messages[at:] for r in rest],
                                        asyncio.CancelledError())
                raise
            except Exception as exc:
                if isinstance(exc, DeliveryError) and exc.permanent and not response_url:
                    log.warning("slack refused a reply for good (%s)", exc)
                    continue
                # Slack is down for longer than a reply can wait, or the response_url has expired:
                # the core's durable outbox takes these replies to the person's DM, so a receipt
                # is never lost.
                await common.queue_for_person(self.bot.outbox, user, carried, exc)

    async def send_file(self, user: str, reply: Reply) -> Reply:
        """A file for the person alone (an evidence bundle): uploaded into their DM with the bot,
        with the reply's words as its comment; what is shown where they pressed says where it went."""
        path = Path(reply.file)
        slack_id = inbound.slack_user(user)
        try:
            if not slack_id:
                raise DeliveryError("not a Slack user", permanent=True)
            opened = await self.call("conversations_open", users=slack_id)
            channel = str((opened.get("channel") or {}).get("id") or "")
            await self.call("files_upload_v2", channel=channel, file=str(path), filename=path.name,
                            title=reply.title or path.name, initial_comment=reply.text[:3000])
        except (DeliveryError, OSError) as exc:
            log.warning("could not upload a file to a person's DM (%s)", exc.__class__.__name__)
            return Reply(text="Sorry, the file could not be sent to you just now. Please press the button again in a minute.",
                         title=reply.title, tone="danger")
        path.unlink(missing_ok=True)  # sent: no copy is left lying in the data folder
        return dataclasses.replace(reply, file="", text="Sent to you privately, in your direct messages with CouncilBot.")

    # ------------------------------------------------------------ listeners

    def _register(self) -> None:
        app = self.app
        app.command(re.compile(r"^/.+"))(self.on_command)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home)
        app.action(blocks.OPEN_FORM_ACTION)(self.on_open_form)
        app.action(re.compile(r".+"))(self.on_action)
        app.shortcut("check_message")(self.on_shortcut)
        app.shortcut("flag_conduct")(self.on_shortcut)
        app.view(blocks.FORM_CALLBACK)(self.on_submission)

    async def on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        # Slack shows "/x failed with operation_timeout" without an ack in 3 s: ack empty, answer via response_url.
        if self.busy():
            await ack(text=BUSY)
            return
        await ack()
        incoming = inbound.command_incoming(body)
        self.answer(incoming, lambda replies: self.deliver(
            replies, user=incoming.user, trigger_id=body.get("trigger_id"), response_url=body.get("response_url")))

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        # Events are acked by bolt before this runs (auto-acknowledgement).
        bot_user_id = self.current_bot_user_id()
        shared = inbound.shared_files(event, bot_user_id)
        if not (shared or inbound.is_person_message(event, bot_user_id)) or not self.first_delivery(body.get("event_id")):
            return
        incoming = inbound.message_incoming(body)
        if shared:  # screenshots sent in the DM: kept with a report (the core's evidence command)
            self.spawn(self._evidence_dm(dataclasses.replace(incoming, kind="command", name="evidence"), shared, event.get("channel")))
            return
        self.answer(incoming, lambda replies: self.deliver(replies, user=incoming.user, channel=event.get("channel")))

    async def _evidence_dm(self, incoming: Incoming, shared: list[dict[str, Any]], channel: Any) -> None:
        """Downloaded first, then handed to the core."""
        uploads = await slack_files.download(shared, self.current_token(), self.settings.slack.api_url)
        incoming = dataclasses.replace(incoming, values={**incoming.values, "files": uploads})
        self.answer(incoming, lambda replies: self.deliver(replies, user=incoming.user, channel=channel if isinstance(channel, str) else None))

    async def on_home(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not self.first_delivery(body.get("event_id")):
            return

        async def publish(replies: list[Reply]) -> None:
            view = blocks.home_view(replies)
            await self.persist(lambda: self.call("views_publish", user_id=event["user"], view=view))

        self.answer(inbound.home_incoming(event), publish)

    async def on_open_form(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        trigger_id = body.get("trigger_id")
        try:
            form = blocks.decode_form(action.get("value") or "")
        except Exception:
            log.warning("an open-form button carried no readable form")
            return
        if not isinstance(trigger_id, str) or not trigger_id:  # Slack always sends one with a button press
            log.warning("an open-form button press came without a trigger_id")
            return
        self.spawn(self.open_form(trigger_id, form))

    async def on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        incoming = inbound.action_incoming(body)
        self.answer(incoming, lambda replies: self.deliver(
            replies, user=incoming.user, trigger_id=body.get("trigger_id"), response_url=body.get("response_url")))

    async def on_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        incoming = inbound.shortcut_incoming(body)
        self.answer(incoming, lambda replies: self.deliver(
            replies, user=incoming.user, trigger_id=body.get("trigger_id"), response_url=body.get("response_url")))

    async def on_submission(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        incoming, inputs = inbound.form_incoming(body)
        asked = self.spawn(self.ask_with_files(incoming, inbound.evidence_files(body)))
        done, _ = await asyncio.wait({asked}, timeout=FORM_ACK_BUDGET)
        if not done:  # the core is slow: close the modal now, answer by DM when it is done
            await ack()
            self.spawn(self._dm_later(incoming.user, asked))
            return
        replies: list[Reply] = asked.result()
        errors = inbound.form_errors(replies, inputs)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        follow = next((r for r in replies if r.form is not None), None)
        if follow is not None and follow.form is not None:  # the core asks for more: swap the modal
            await ack(response_action="update", view=blocks.form_view(follow.form))
            if len(replies) == 1:
                await self.bot.delivered(replies)
            replies = [r for r in replies if r is not follow]
        elif replies:
            # Buttons cannot work in a modal that has no submit; they follow in the DM below.
            await ack(response_action="update", view=blocks.result_view(replies))
        else:
            await ack()
        if replies:
            self.spawn(self.deliver(replies, user=incoming.user))

    async def _dm_later(self, user: str, asked: Awaitable[list[Reply]]) -> None:
        await self.deliver(await asked, user=user)

