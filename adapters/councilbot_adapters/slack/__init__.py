"""CouncilBot in Slack: HTTP (Events API, slash commands and interactivity all at
``POST /slack/events``) or Socket Mode. Only translates; the core decides everything."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

from councilbot.config import ConfigError
from councilbot.ports import DeliveryError

from .. import door
from . import inbound
from .app import RESPONDED, SlackAdapter
from .installations import WORKSPACE, SlackInstallations, oauth_configured
from .notifier import SlackNotifier, make_client
from .oauth import mount_oauth

if TYPE_CHECKING:
    from councilbot.deployment import Deployment

__all__ = ["ADAPTER_KEY", "PATH", "SlackAdapter", "SlackInstallations", "SlackNotifier", "mount", "run_socket_mode"]

log = logging.getLogger(__name__)
PATH = "/slack/events"
# Slack's timestamps are Unix seconds: ASCII digits, ten of them until the year 2286. Anything else
# (400 digits, Arabic-Indic digits, a sign, spaces) is not Slack, and must not reach int() or encode().
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
ADAPTER_KEY = web.AppKey("slack_adapter", SlackAdapter)  # the first council's (the only one's, usually)
ADAPTERS_KEY = web.AppKey("slack_adapters", dict)  # every council's, by council id


def mount(web_app: web.Application, deployment: Deployment) -> None:
    """Add ``POST /slack/events`` and register each council's Slack notifier with its outbox.

    One Slack app (one signing secret) serves every council; a request is handled as the council
    its workspace belongs to, and refused (403) from any other workspace. With
    ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` set, "Add to Slack" is on as well
    (``GET /slack/install``, ``GET /slack/oauth_redirect``): each workspace is answered with its
    own token, kept with the records in the deployment's storage. The councils' lifecycle
    (``start``/``stop``) stays with the caller; on the web app's cleanup the adapters let replies
    in flight finish."""
    settings = deployment.settings
    oauth = oauth_configured(settings.slack)
    installations = SlackInstallations.from_settings(deployment.backend, settings) if oauth else None
    adapters = {council_id: SlackAdapter(bot, bot.settings, http=True, installations=installations)
                for council_id, bot in deployment.bots.items()}
    secret = settings.slack.signing_secret
    key = (secret.get_secret_value() if secret else "").encode()

    def signed(raw: bytes, request: web.Request) -> bool:
        """Slack's v0 signature over the raw bytes, within five minutes (slack_sdk's verifier
        decodes the body first, so it cannot vouch for a signed body that is not UTF-8)."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp)) > 5 * 60:
            return False
        digest = hmac.new(key, f"v0:{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "surrogateescape"))

    async def slack_events(request: web.Request) -> web.StreamResponse:
        # Bolt verifies the signature too, but only after parsing the body, and its parsing
        # assumes Slack's shapes: so the signature is checked here first, on the raw bytes (401),
        # before anything is parsed (a stranger's megabyte costs one HMAC), then the body's shape
        # (400), and only a signed, well-formed request reaches bolt. An encoded or oversized body
        # is refused before it is read at all (this route may be mounted without server.py's door).
        refused = door.refusal(request)
        if refused is not None:
            return refused
        raw = await request.read()
        verified = signed(raw, request)
        # Slack's SSL check carries no signature (a few bytes); bolt answers it (200), nothing else.
        if not verified and not (len(raw) <= 512 and b"ssl_check=1" in raw):
            return web.json_response({"error": "invalid request"}, status=401)
        body: dict[str, object] | None = None
        problem = ""
        try:
            body = inbound.parse_request(raw, request.headers.get("Content-Type"))
        except inbound.Malformed as exc:
            problem = str(exc)
        if not verified and not (body is not None and body.get("ssl_check") == "1"):
            return web.json_response({"error": "invalid request"}, status=401)
        if body is None:
            log.warning("slack request refused: %s", problem)
            return web.json_response({"error": f"malformed request: {problem}"}, status=400)
        bot = deployment.for_slack_team(inbound.team_of(body))
        adapter = adapters[bot.council_id] if bot is not None else first
        if bot is None and body.get("ssl_check") != "1":
            log.warning("slack request from a workspace no council belongs to refused")
            return web.json_response({"error": "this Slack workspace is not set up in this CouncilBot"}, status=403)
        workspace = WORKSPACE.set(None)  # this request's workspace, found by authorize, for its replies only
        try:  # bolt parses the body again here, and reads its context out of it
            bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string,
                                            headers=bolt_headers(request))
            if bolt_request.body != body:  # bolt's parse lost a command that mentions "payload"
                bolt_request.body = body
                bolt_request.context = build_async_context(AsyncBoltContext({}), body)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:  # a shape parse_request let by
            log.warning("slack request refused by bolt's parser: %s", exc.__class__.__name__)
            WORKSPACE.reset(workspace)
            return web.json_response({"error": "malformed request"}, status=400)
        responded = asyncio.Event()
        token = RESPONDED.set(responded)
        try:
            response = await to_aiohttp_response(await adapter.app.async_dispatch(bolt_request))
            # Write the ack now; the core's work queued by the listener waits for this.
            await response.prepare(request)
            await response.write_eof()
            return response
        finally:
            responded.set()
            RESPONDED.reset(token)
            WORKSPACE.reset(workspace)

    async def start(_: web.Application) -> None:
        for adapter in adapters.values():
            adapter.learn_identity()  # never awaited: start-up must not wait for Slack

    async def close(_: web.Application) -> None:
        for adapter in adapters.values():
            await adapter.close()

    first = next(iter(adapters.values()))
    web_app.router.add_post(PATH, slack_events, expect_handler=door.expect_handler())
    if installations is not None:
        mount_oauth(web_app, settings, lambda: installations)
    web_app.on_startup.append(start)
    web_app.on_cleanup.append(close)
    web_app[ADAPTER_KEY] = first
    web_app[ADAPTERS_KEY] = adapters
    for council_id, adapter in adapters.items():
        bot = deployment.bots[council_id]
        # Later messages go out with the council's own workspace token: a static one (SLACK_BOT_TOKEN,
        # or SLACK_BOT_TOKEN_<ID>), else the one "Add to Slack" keeps for its workspace.
        teams = [t for c in bot.settings.councils for t in c.slack_teams]
        static = bot.settings.slack.bot_token is not None
        bot.outbox.register(adapter.notifier if static or not oauth else _team_notifier(adapter, teams[0] if teams else None))


def _team_notifier(adapter: SlackAdapter, team_id: str | None) -> SlackNotifier:
    """The outbox's notifier with no SLACK_BOT_TOKEN: workspace ``team_id``'s current token."""

    async def token() -> str | None:
        if not team_id:
            raise DeliveryError("slack: no workspace is chosen for this council's messages (its Slack team id)")
        installations = adapter.installations
        return await installations.bot_token(team_id) if installations is not None else None

    return SlackNotifier(adapter.settings, make_client(adapter.settings, token=False), token=token)


def bolt_headers(request: web.Request) -> dict[str, str | Sequence[str]]:
    """One value per header, the first, as the signature check above read them: bolt keeps the
    last of a repeated header, so a second X-Slack-Request-Timestamp would reach its own int()."""
    return {name.lower(): request.headers[name] for name in request.headers.keys()}


async def run_socket_mode(deployment: Deployment) -> None:
    """Connect over Socket Mode (no public URL needed) with ``settings.slack.app_token`` and run
    until cancelled. Set ``socket_mode_enabled: true`` in the manifest to use it. One council
    only: hosting several takes the HTTP events URL, where each request names its workspace."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    bot = deployment.only
    if bot is None:
        raise ConfigError("Socket Mode serves one council; with several [[councils]], serve Slack over HTTP (/slack/events)")
    app_token = bot.settings.slack.app_token
    if app_token is None:
        raise ConfigError("slack.app_token is not set (environment variable SLACK_APP_TOKEN, an xapp- token)")
    adapter = SlackAdapter(bot, bot.settings, http=False)
    bot.outbox.register(adapter.notifier)
    handler = AsyncSocketModeHandler(adapter.app, app_token.get_secret_value(), web_client=adapter.app.client)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await asyncio.Event().wait()  # until cancelled
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await adapter.close()
