"""CouncilBot in Slack: HTTP (Events API, slash commands and interactivity all at
``POST /slack/events``) or Socket Mode. Only translates; the core decides everything."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from councilbot.config import ConfigError

from .app import SlackAdapter
from .lane import RESPONDED
from .notifier import SlackNotifier

if TYPE_CHECKING:
    from councilbot.app import CouncilBot

__all__ = ["ADAPTER_KEY", "PATH", "SlackAdapter", "SlackNotifier", "mount", "run_socket_mode"]

PATH = "/slack/events"
ADAPTER_KEY = web.AppKey("slack_adapter", SlackAdapter)


def mount(web_app: web.Application, bot: CouncilBot) -> None:
    """Add ``POST /slack/events`` and register the Slack notifier with the core's outbox.

    The bot's lifecycle (``start``/``stop``) stays with the caller; on the web app's cleanup
    the adapter lets replies in flight finish."""
    adapter = SlackAdapter(bot, bot.settings, http=True)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        # Same translation as bolt's aiohttp adapter: bolt verifies the signature and answers 401
        # to a bad or stale one before any listener sees the request.
        responded = asyncio.Event()
        token = RESPONDED.set(responded)
        try:
            response = await to_aiohttp_response(await adapter.app.async_dispatch(await to_bolt_request(request)))
            # Write the ack now; the core's work queued by the listener waits for this.
            await response.prepare(request)
            await response.write_eof()
            return response
        finally:
            responded.set()
            RESPONDED.reset(token)

    async def start(_: web.Application) -> None:
        adapter.learn_identity()  # never awaited: start-up must not wait for Slack

    async def close(_: web.Application) -> None:
        await adapter.close()

    web_app.router.add_post(PATH, slack_events)
    web_app.on_startup.append(start)
    web_app.on_cleanup.append(close)
    web_app[ADAPTER_KEY] = adapter
    bot.outbox.register(adapter.notifier)


async def run_socket_mode(bot: CouncilBot) -> None:
    """Connect over Socket Mode (no public URL needed) with ``settings.slack.app_token`` and run
    until cancelled. Set ``socket_mode_enabled: true`` in the manifest to use it."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    app_token = bot.settings.slack.app_token
    if app_token is None:
        raise ConfigError("slack.app_token is not set (environment variable SLACK_APP_TOKEN, an xapp- token)")
    adapter = SlackAdapter(bot, bot.settings, http=False)
    bot.outbox.register(adapter.notifier)
    handler = AsyncSocketModeHandler(adapter.app, app_token.get_secret_value(), web_client=adapter.app.client)
    try:
        await handler.connect_async()
        await asyncio.Event().wait()  # until cancelled
    finally:
        await handler.close_async()
        await adapter.close()
