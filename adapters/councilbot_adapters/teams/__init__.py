"""Microsoft Teams adapter: Bot Framework activities in, Adaptive Cards out, on ``botbuilder``'s
``CloudAdapter``. Every botbuilder import lives in this package, so moving to the Microsoft 365
Agents SDK touches this folder only.

- ``mount(web_app, deployment)``: ``POST /api/messages`` and each council's Teams notifier.
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
    from councilbot.deployment import Deployment

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
    handlers: dict[str, TeamsHandler]  # each council's, by council id (the first is ``handler``)


TEAMS = web.AppKey("councilbot.teams", TeamsParts)


def mount(web_app: web.Application, deployment: Deployment) -> None:
    """Add ``POST /api/messages`` and register each council's Teams notifier with its outbox.

    One Teams app (the deployment's credentials) serves every council; an activity is handled as
    the council its Microsoft 365 tenant belongs to, and refused (403) from any other tenant."""
    settings = deployment.settings
    teams = settings.teams
    validate(teams)
    secured = auth_on(teams)
    if not secured and not teams.emulator:
        raise ConfigError("Teams has no MicrosoftAppId/MicrosoftAppPassword; set them, or [teams] emulator = true "
                          "to try the bot with the Bot Framework Emulator on this machine")
    if not secured:
        log.warning("TEAMS AUTHENTICATION IS OFF: no MicrosoftAppId/MicrosoftAppPassword. Any local caller can act as "
                    "any user. This mode is for the Bot Framework Emulator and tests on 127.0.0.1 only.")
    if deployment.bound and teams.tenant_id:
        raise ConfigError("with several [[councils]], each council's tenants go in its teams_tenants; "
                          "leave MicrosoftAppTenantId unset")
    config = BotConfig(teams)
    # Microsoft's login service is called off the event loop, with timeouts, never per request:
    # the signing keys through the SDK's metadata cache, the bot's own token through its
    # credentials factory (see openid.py and tokens.py).
    keys = openid.guard(config)
    tokens = KeptCredentialsFactory(ConfigurationServiceClientCredentialFactory(config))
    auth = TunedAuthentication(config, credentials_factory=tokens)
    adapter = CloudAdapter(auth)
    downloads = Downloads({council_id: bot.ctx.files for council_id, bot in deployment.bots.items()})
    councils: dict[str, TeamsHandler] = {}
    parts: dict[str, tuple[TeamsHandler, TeamsNotifier, ReferenceBook]] = {}
    for council_id, bot in deployment.bots.items():
        book = ReferenceBook(bot.store, bot.settings.teams.clerk_channel)
        notifier = TeamsNotifier(adapter, book, teams.app_id.strip() or None)
        handler = TeamsHandler(bot, book, notifier, allow_plain_ids=not secured)
        handler.downloads = downloads
        councils[council_id] = handler
        parts[council_id] = (handler, notifier, book)
        bot.outbox.register(notifier)
        web_app.on_shutdown.append(handler.finish_background)

    def handler_for(tenant: str | None) -> TeamsHandler | None:
        bot = deployment.for_tenant(tenant)
        return councils[bot.council_id] if bot is not None else None

    first = next(iter(parts.values()))
    web_app.router.add_get(DOWNLOAD_ROUTE, downloads.serve)
    endpoint = Endpoint(auth, adapter, handler_for, auth_on=secured, tenant_id=teams.tenant_id)
    web_app.router.add_post(ROUTE, endpoint.messages, expect_handler=door.expect_handler(MAX_ACTIVITY))
    if secured:
        async def warm(_: web.Application) -> None:
            await tokens.warm(auth, config.APP_ID)  # never waits for the token itself

        async def close(_: web.Application) -> None:
            await tokens.close()

        web_app.on_startup.append(warm)
        web_app.on_cleanup.append(close)
    web_app[TEAMS] = TeamsParts(adapter, endpoint, first[0], first[1], first[2], tokens, keys,
                                {c: p[0] for c, p in parts.items()})
