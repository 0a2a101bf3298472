"""Microsoft Teams adapter: Bot Framework activities in, Adaptive Cards out, on ``botbuilder``'s
``CloudAdapter``. Every botbuilder import lives in this package, so moving to the Microsoft 365
Agents SDK touches this folder only.

- ``mount(web_app, bot)``: ``POST /api/messages`` and the Teams notifier.
- ``check_bind(settings, host)``: no credentials, no listening beyond this machine.
- ``build_package(settings, out_dir, host)``: the app package zip an admin uploads to Teams.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationServiceClientCredentialFactory

from councilbot.config import ConfigError

from .. import door
from . import openid
from .auth import BotConfig, auth_on, check_bind, is_loopback, validate
from .connector import TunedAuthentication
from .endpoint import MAX_ACTIVITY, Endpoint
from .files import ROUTE as DOWNLOAD_ROUTE
from .files import Downloads
from .handler import TeamsHandler
from .notifier import TeamsNotifier
from .package import build_package
from .references import ReferenceBook
from .tokens import KeptCredentialsFactory

if TYPE_CHECKING:
    from councilbot.app import CouncilBot

__all__ = ["ROUTE", "TEAMS", "TeamsParts", "auth_on", "build_package", "check_bind", "is_loopback", "mount", "validate"]

log = logging.getLogger(__name__)
ROUTE = "/api/messages"


@dataclass(frozen=True)
class TeamsParts:
    """What mount built, kept on the web app for operators' tools and tests to inspect."""

    adapter: CloudAdapter
    endpoint: Endpoint
    handler: TeamsHandler
    notifier: TeamsNotifier
    references: ReferenceBook
    tokens: KeptCredentialsFactory
    keys: list[openid.KeySet]


TEAMS = web.AppKey("councilbot.teams", TeamsParts)


def mount(web_app: web.Application, bot: CouncilBot) -> None:
    """Add ``POST /api/messages`` and register the Teams notifier with the core's outbox."""
    teams = bot.settings.teams
    validate(teams)
    secured = auth_on(teams)
    if not secured and not teams.emulator:
        raise ConfigError("Teams has no MicrosoftAppId/MicrosoftAppPassword; set them, or [teams] emulator = true "
                          "to try the bot with the Bot Framework Emulator on this machine")
    if not secured:
        log.warning("TEAMS AUTHENTICATION IS OFF: no MicrosoftAppId/MicrosoftAppPassword. Any local caller can act as "
                    "any user. This mode is for the Bot Framework Emulator and tests on 127.0.0.1 only.")
    config = BotConfig(teams)
    # Microsoft's login service is called off the event loop, with timeouts, never per request:
    # the signing keys through the SDK's metadata cache, the bot's own token through its
    # credentials factory (see openid.py and tokens.py).
    keys = openid.guard(config)
    tokens = KeptCredentialsFactory(ConfigurationServiceClientCredentialFactory(config))
    auth = TunedAuthentication(config, credentials_factory=tokens)
    adapter = CloudAdapter(auth)
    book = ReferenceBook(bot.store, teams.clerk_channel)
    notifier = TeamsNotifier(adapter, book, teams.app_id.strip() or None)
    handler = TeamsHandler(bot, book, notifier, allow_plain_ids=not secured)
    handler.downloads = Downloads(bot.store.data_dir)
    web_app.router.add_get(DOWNLOAD_ROUTE, handler.downloads.serve)
    endpoint = Endpoint(auth, adapter, handler, auth_on=secured, tenant_id=teams.tenant_id)
    web_app.router.add_post(ROUTE, endpoint.messages, expect_handler=door.expect_handler(MAX_ACTIVITY))
    web_app.on_shutdown.append(handler.finish_background)
    if secured:
        async def warm(_: web.Application) -> None:
            await tokens.warm(auth, config.APP_ID)  # never waits for the token itself

        async def close(_: web.Application) -> None:
            await tokens.close()

        web_app.on_startup.append(warm)
        web_app.on_cleanup.append(close)
    web_app[TEAMS] = TeamsParts(adapter, endpoint, handler, notifier, book, tokens, keys)
    bot.outbox.register(notifier)
