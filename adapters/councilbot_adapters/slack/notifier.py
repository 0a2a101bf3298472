"""The core's notifier port for Slack: post to the clerk channel or DM a person, update a card,
and turn Slack's failures into ``DeliveryError`` so the core's outbox knows whether to retry."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from councilbot.config import Settings
from councilbot.messages import Reply
from councilbot.ports import CLERK_CHANNEL, DeliveryError

from .. import common
from . import blocks
from .inbound import slack_user

log = logging.getLogger(__name__)

# Retrying cannot fix these: the address or the message itself is wrong.
PERMANENT = frozenset({
    "channel_not_found", "user_not_found", "not_in_channel", "is_archived", "cannot_dm_bot",
    "user_disabled", "restricted_action", "message_not_found", "cant_update_message",
    "edit_window_closed", "msg_too_long", "no_text", "invalid_arguments", "too_many_attachments",
    "invalid_blocks", "invalid_blocks_format", "channel_is_archived",
})
API_TIMEOUT = 15  # seconds per Web API call; the outbox retries after that


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's one in-client retry after a 429, waiting as ``Retry-After`` says, read by the
    adapters' one reading of that header (the SDK's own takes only whole seconds and fails on "1.5")."""

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None, error: Exception | None = None) -> None:
        if response is None:
            raise error if error is not None else RuntimeError("a rate-limit retry without a response")
        state.next_attempt_requested = True
        wait = common.retry_after_seconds(common.header(response.headers, "Retry-After"))
        await asyncio.sleep(min(wait if wait is not None else 1.0, 30.0) + random.random())
        state.increment_current_attempt()


def retry_handlers() -> list[AsyncRetryHandler]:
    """One retry in-process for a 5xx, a 429 (sleeping Retry-After) and a dropped connection;
    after that the error reaches the caller (for the outbox: a DeliveryError and a later retry)."""
    return [AsyncConnectionErrorRetryHandler(), RateLimitRetry(), AsyncServerErrorRetryHandler()]


def make_client(settings: Settings, *, token: bool = True) -> AsyncWebClient:
    """A Web API client at ``settings.slack.api_url`` (tests point it at a fake Slack)."""
    secret = settings.slack.bot_token
    return AsyncWebClient(
        token=secret.get_secret_value() if token and secret else None,
        base_url=settings.slack.api_url,
        timeout=API_TIMEOUT,
        retry_handlers=retry_handlers(),
    )


def delivery_error(exc: Exception) -> DeliveryError:
    """Slack's failure modes -> the outbox's: wait (429), retry (5xx, network), or give up. HTTP
    failures are read as every adapter reads them (``common.http_failure``); Slack's own
    ``ok: false`` errors are permanent when retrying cannot fix them."""
    if isinstance(exc, SlackApiError):
        status = int(getattr(exc.response, "status_code", 0) or 0)
        error = str((exc.response.data or {}).get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            return common.http_failure(f"slack {error or status}", 429, exc.response.headers)
        if status >= 500:
            return common.http_failure("slack", status)
        return DeliveryError(f"slack: {error or status}", permanent=error in PERMANENT)
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, SlackClientError, OSError)):
        return DeliveryError(f"slack unreachable: {exc.__class__.__name__}: {exc}")
    return DeliveryError(f"slack: {exc.__class__.__name__}: {exc}")


class SlackNotifier:
    """Posts the core's later messages (clerk notices, receipts, approval cards) to Slack."""

    platform = "slack"

    def __init__(self, settings: Settings, client: AsyncWebClient | None = None, *,
                 token: Callable[[], Awaitable[str | None]] | None = None) -> None:
        self.clerk_channel = settings.slack.clerk_channel
        self.client = client or make_client(settings)
        # One workspace of many ("Add to Slack"): its current bot token, asked for before each call,
        # since it may have been refreshed (token rotation) by any replica since the last one.
        self._token = token

    async def has_clerk_channel(self) -> bool:
        return bool(self.clerk_channel)

    def channel_for(self, to: str) -> str:
        if to == CLERK_CHANNEL:
            if not self.clerk_channel:
                raise DeliveryError("no Slack clerk channel configured (slack.clerk_channel)")
            return self.clerk_channel
        user = slack_user(to)
        if not user:
            raise DeliveryError("the recipient is not a Slack user", permanent=True)
        # chat.postMessage with a user id posts in the app's DM with that person (its Messages
        # tab): no conversations.open round trip and no im:write scope needed.
        return user

    async def send(self, to: str, reply: Reply) -> str | None:
        """Post; the ref is ``channel:ts`` (the DM's D... id, not the user id) for chat.update."""
        return await self.post(self.channel_for(to), reply)

    async def post(self, channel: str, reply: Reply) -> str:
        data = await self.call("chat_postMessage", channel=channel, **blocks.message_payload(reply))
        return f"{data.get('channel', channel)}:{data.get('ts', '')}"

    async def update(self, ref: str, reply: Reply) -> None:
        """Replace a card, e.g. an approval card after the Clerk decided (the core sends it without buttons)."""
        channel, _, ts = ref.partition(":")
        if not channel or not ts:
            raise DeliveryError(f"not a Slack message ref: {ref!r}", permanent=True)
        await self.call("chat_update", channel=channel, ts=ts, **blocks.message_payload(reply))

    async def call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call (``chat_postMessage``...); every failure comes out as a DeliveryError.
        A ``token=`` argument (the workspace a request came from) is used instead of the notifier's own."""
        if self._token is not None and "token" not in kwargs:
            try:
                token = await self._token()
            except DeliveryError:
                raise
            except Exception as exc:  # the database or Slack's token refresh: try again later
                raise DeliveryError(f"slack: the workspace's token could not be read ({exc.__class__.__name__})") from exc
            if not token:
                raise DeliveryError("slack: the workspace has not installed CouncilBot (Add to Slack), or removed it")
            kwargs["token"] = token
        try:
            response = await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            if exc.response.get("error") in ("invalid_blocks", "invalid_blocks_format") and "blocks" in kwargs:
                # A rendering bug must not lose the message: say it in plain text instead.
                log.error("slack rejected our blocks; sending text only", extra={"method": method})
                return await self.call(method, **{k: v for k, v in kwargs.items() if k != "blocks"})
            raise delivery_error(exc) from exc
        except DeliveryError:
            raise
        except Exception as exc:
            raise delivery_error(exc) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}
