"""Slack workspaces that installed CouncilBot ("Add to Slack"), kept in CouncilBot's own database.

One deployment hosts many councils, each in its own Slack workspace, on several replicas sharing
one database. Each workspace's bot token comes from its installation, stored through the async
storage port (``councilbot.storage``) in one deployment-level scope, ``slack-installs``, that no
council uses: TinyDB on one machine, PostgreSQL across replicas.

- ``PortInstallationStore`` is slack_sdk's ``AsyncInstallationStore`` on the port (bolt's OAuth
  flow saves into it); ``PortOAuthStateStore`` is its ``AsyncOAuthStateStore``: each state is used
  once, on whichever replica the browser comes back to, and expires.
- ``SlackInstallations`` is what the rest of CouncilBot uses: ``bot_token(team_id)``,
  ``authorize`` for bolt, and ``notifier(settings, team_id)`` for the outbox.

Token rotation: with rotation on, a bot token lasts 12 hours and is refreshed with a refresh token
that Slack then invalidates. If two replicas refreshed the same workspace at once, the loser's
refresh token would already be dead and the workspace would be broken. So a refresh runs only
inside ``exclusive("slack-token:<workspace>")`` (an advisory lock across replicas on PostgreSQL),
re-reads the installation once it holds the lock, and a replica that finds the lock taken waits
and re-reads instead of refreshing.

Tokens are secrets: nothing here logs one (nor a refresh token, nor an OAuth code).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from councilbot.config import Settings, SlackSettings
from councilbot.storage.port import After, Backend, Before, Doc, Prefix, StorageError, Store

from .notifier import API_TIMEOUT, SlackNotifier, make_client, retry_handlers

if TYPE_CHECKING:
    from logging import Logger

log = logging.getLogger(__name__)

SCOPE = "slack-installs"  # the reserved council id: deployment-wide records, no council's
INSTALLATIONS = "slack_installations"
STATES = "slack_oauth_states"
# Refresh a rotating token this long before it expires (bolt's default: tokens last 12 hours).
ROTATE_MINUTES_BEFORE = 120
STATE_SECONDS = 600  # an "Add to Slack" link works for ten minutes
LOCK_WAIT_SECONDS = 30.0  # how long a replica waits for another's refresh (Slack's call takes at most 15 s)
_USER = "/user/"
_BOT_FIELDS = ("app_id", "enterprise_id", "enterprise_name", "team_id", "team_name", "bot_token", "bot_id", "bot_user_id",
               "bot_scopes", "bot_refresh_token", "bot_token_expires_at", "is_enterprise_install", "installed_at")
_USER_FIELDS = ("user_token", "user_scopes", "user_refresh_token", "user_token_expires_at")


def oauth_configured(slack: SlackSettings) -> bool:
    """Whether "Add to Slack" is on: the app's client id and secret are set."""
    return bool(slack.client_id and slack.client_secret)


def workspace_key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False) -> str | None:
    """A workspace's record id: ``team:T…`` (team ids are unique across Slack), or ``org:E…`` for an
    Enterprise Grid org-wide install, which serves every workspace of the org."""
    if is_enterprise_install and enterprise_id:
        return f"org:{enterprise_id}"
    if team_id:
        return f"team:{team_id}"
    if enterprise_id:
        return f"org:{enterprise_id}"
    return None


def _record(installation: Installation, record_id: str) -> Doc:
    # __dict__ is what Installation(**…) takes back (slack_sdk's own file store keeps the same).
    return {**{k: v for k, v in vars(installation).items() if not k.startswith("_")}, "id": record_id}


def _installation(doc: Doc) -> Installation:
    fields = {k: v for k, v in doc.items() if k != "id"}
    fields.setdefault("user_id", None)
    return Installation(**fields)


def _needs_rotation(installation: Installation, now: float) -> bool:
    """A rotating token (bot or user) that expires within ROTATE_MINUTES_BEFORE."""
    margin = now + ROTATE_MINUTES_BEFORE * 60
    bot = installation.bot_refresh_token and installation.bot_token_expires_at is not None and installation.bot_token_expires_at <= margin
    user = (installation.user_refresh_token and installation.user_token_expires_at is not None
            and installation.user_token_expires_at <= margin)
    return bool(bot or user)


class PortInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store on CouncilBot's storage port. Per workspace: ``team:T…`` is
    the latest installation (its bot token is the workspace's), and ``team:T…/user/U…`` is each
    installer's own (user tokens, if the app ever asks for user scopes)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._logger = logging.getLogger(__name__)

    @property
    def logger(self) -> Logger:
        return self._logger

    async def async_save(self, installation: Installation) -> None:
        key = workspace_key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        if key is None:
            raise StorageError("a Slack installation without a workspace (team or enterprise id)")
        await self.store.upsert(INSTALLATIONS, _record(installation, key))
        if installation.user_id:
            await self.store.upsert(INSTALLATIONS, _record(installation, f"{key}{_USER}{installation.user_id}"))
        log.info("slack workspace installed or updated", extra={"workspace": key})

    async def async_save_bot(self, bot: Bot) -> None:
        key = workspace_key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        if key is None:
            raise StorageError("a Slack bot installation without a workspace (team or enterprise id)")
        fields = {k: v for k, v in vars(bot).items() if k in _BOT_FIELDS}
        if await self.store.get(INSTALLATIONS, key) is None:
            fields.update(user_id=None, custom_values=bot.custom_values)
        await self.store.upsert(INSTALLATIONS, {**fields, "id": key})

    async def async_find_installation(self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
                                      is_enterprise_install: bool | None = False) -> Installation | None:
        key = workspace_key(enterprise_id, team_id, is_enterprise_install)
        if key is None:
            return None
        latest = await self.store.get(INSTALLATIONS, key)
        if user_id is None:
            return _installation(latest) if latest is not None else None
        mine = await self.store.get(INSTALLATIONS, f"{key}{_USER}{user_id}")
        if mine is None:
            return None
        if latest is not None:  # the workspace's bot token is always the latest one (it rotates there)
            mine.update({k: latest.get(k) for k in _BOT_FIELDS if k not in ("installed_at",)})
        return _installation(mine)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        installation = await self.async_find_installation(enterprise_id=enterprise_id, team_id=team_id,
                                                          is_enterprise_install=is_enterprise_install)
        if installation is None or not installation.bot_token:
            return None
        return installation.to_bot()

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        key = workspace_key(enterprise_id, team_id)
        if key is None:
            return
        cleared = {"bot_token": None, "bot_refresh_token": None, "bot_token_expires_at": None}
        if await self.store.get(INSTALLATIONS, key) is not None:
            await self.store.update(INSTALLATIONS, key, cleared)
        for doc in await self.store.find(INSTALLATIONS, {"id": Prefix(f"{key}{_USER}")}):
            await self.store.update(INSTALLATIONS, doc["id"], cleared)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        key = workspace_key(enterprise_id, team_id)
        if key is None:
            return
        if user_id is None:
            await self.store.delete(INSTALLATIONS, key)
            await self.store.delete_where(INSTALLATIONS, {"id": Prefix(f"{key}{_USER}")})
            return
        await self.store.delete(INSTALLATIONS, f"{key}{_USER}{user_id}")
        latest = await self.store.get(INSTALLATIONS, key)
        if latest is not None and latest.get("user_id") == user_id:  # that person's token goes, the bot stays
            await self.store.update(INSTALLATIONS, key, {k: None for k in _USER_FIELDS})

    async def workspaces(self) -> list[Doc]:
        """Every installed workspace: team/enterprise ids and names, never tokens."""
        docs = await self.store.find(INSTALLATIONS, order_by="id")
        return [{k: d.get(k) for k in ("team_id", "team_name", "enterprise_id", "enterprise_name", "is_enterprise_install")}
                for d in docs if _USER not in d["id"] and d.get("bot_token")]


class PortOAuthStateStore(AsyncOAuthStateStore):
    """The OAuth ``state``: issued when someone opens /slack/install, consumed when Slack sends them
    back. Kept in the database, so the browser may come back to any replica; used at most once
    (a delete that only one caller can win) and only for ``expiration_seconds``."""

    def __init__(self, store: Store, expiration_seconds: int = STATE_SECONDS) -> None:
        self.store = store
        self.expiration_seconds = expiration_seconds
        self._logger = logging.getLogger(__name__)

    @property
    def logger(self) -> Logger:
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        now = time.time()
        await self.store.delete_where(STATES, {"at": Before(now - self.expiration_seconds)})  # forgotten ones
        state = secrets.token_urlsafe(24)
        await self.store.insert(STATES, {"id": state, "at": now})
        return state

    async def async_consume(self, state: str) -> bool:
        if not isinstance(state, str) or not state or len(state) > 200:
            return False
        # One statement: of two callbacks with the same state, one deletes it and the other finds nothing.
        gone = await self.store.delete_where(STATES, {"id": state, "at": After(time.time() - self.expiration_seconds)})
        if not gone:
            await self.store.delete(STATES, state)  # an expired one is no use to anyone
        return bool(gone)


@dataclass(frozen=True)
class Workspace:
    """The workspace a request came from, as authorize found it (for the adapter's replies)."""

    team_id: str | None
    enterprise_id: str | None
    token: str
    bot_user_id: str | None


# The workspace of the request being answered: set by the adapter's authorize for each request,
# carried to the replies that go out after the ack (tasks copy it). None: the single SLACK_BOT_TOKEN.
WORKSPACE: contextvars.ContextVar[Workspace | None] = contextvars.ContextVar("slack_workspace", default=None)


class SlackInstallations:
    """Every workspace's installation, for the whole deployment. The API for the rest of
    CouncilBot: ``bot_token(team_id)``, ``notifier(settings, team_id)``, ``authorize`` (bolt)."""

    def __init__(self, backend: Backend, *, client_id: str, client_secret: str, api_url: str = "https://slack.com/api/",
                 state_expiration_seconds: int = STATE_SECONDS, lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> None:
        scope = backend.council(SCOPE)
        self.installation_store = PortInstallationStore(scope)
        self.state_store = PortOAuthStateStore(scope, state_expiration_seconds)
        self._scope = scope
        self._lock_wait = lock_wait_seconds
        self.rotator = AsyncTokenRotator(client_id=client_id, client_secret=client_secret,
                                         client=AsyncWebClient(token=None, base_url=api_url, timeout=API_TIMEOUT,
                                                               retry_handlers=retry_handlers()))

    @classmethod
    def from_settings(cls, backend: Backend, settings: Settings) -> SlackInstallations:
        slack = settings.slack
        if not oauth_configured(slack):
            raise StorageError("Add to Slack needs slack.client_id and slack.client_secret (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET)")
        assert slack.client_secret is not None
        return cls(backend, client_id=slack.client_id, client_secret=slack.client_secret.get_secret_value(), api_url=slack.api_url)

    async def installation(self, team_id: str | None, enterprise_id: str | None = None, *,
                           is_enterprise_install: bool | None = False) -> Installation | None:
        """The workspace's installation with tokens that are good now: a rotating token close to
        expiry is refreshed first, by exactly one replica (see the module's docstring). A team in
        an org that installed CouncilBot org-wide is served by the org's installation."""
        key = workspace_key(enterprise_id, team_id, is_enterprise_install)
        found = await self._find(key)
        if found is None and enterprise_id and not is_enterprise_install:
            key = workspace_key(enterprise_id, None, True)
            found = await self._find(key)
        if found is None or key is None or not _needs_rotation(found, time.time()):
            return found
        return await self._rotate(key, found)

    async def bot_token(self, team_id: str | None, enterprise_id: str | None = None) -> str | None:
        """The workspace's bot token now (refreshed if it was about to expire), or None if the
        workspace has not installed CouncilBot (or removed it)."""
        installation = await self.installation(team_id, enterprise_id)
        return installation.bot_token if installation is not None else None

    async def workspaces(self) -> list[Doc]:
        """Every installed workspace (ids and names only), e.g. to check a council's setup."""
        return await self.installation_store.workspaces()

    async def authorize(self, enterprise_id: str | None, team_id: str | None,
                        is_enterprise_install: bool | None = False) -> AuthorizeResult | None:
        """Bolt's answer for a request: the workspace's bot token and identity, from the stored
        installation (no auth.test round trip in front of the ack), or None if not installed."""
        installation = await self.installation(team_id, enterprise_id, is_enterprise_install=is_enterprise_install)
        if installation is None or not installation.bot_token:
            return None
        return AuthorizeResult(enterprise_id=installation.enterprise_id or enterprise_id, team_id=team_id or installation.team_id,
                               bot_token=installation.bot_token, bot_id=installation.bot_id,
                               bot_user_id=installation.bot_user_id, bot_scopes=installation.bot_scopes)

    def notifier(self, settings: Settings, team_id: str, enterprise_id: str | None = None) -> SlackNotifier:
        """The outbox's notifier for one council in workspace ``team_id``: each delivery uses that
        workspace's current token (``settings.slack.clerk_channel`` is the council's clerk channel)."""

        async def token() -> str | None:
            return await self.bot_token(team_id, enterprise_id)

        return SlackNotifier(settings, make_client(settings, token=False), token=token)

    # ------------------------------------------------------------ rotation

    async def _find(self, key: str | None) -> Installation | None:
        if key is None:
            return None
        doc = await self._scope.get(INSTALLATIONS, key)
        return _installation(doc) if doc is not None else None

    async def _rotate(self, key: str, seen: Installation) -> Installation | None:
        """Refresh under the workspace's lock; without the lock, wait for the holder's refresh."""
        deadline = time.monotonic() + self._lock_wait
        pause = 0.02
        current: Installation | None = seen
        while True:
            async with self._scope.exclusive(f"slack-token:{key}") as mine:
                if mine:
                    current = await self._find(key)  # another replica may have refreshed meanwhile
                    if current is None or not _needs_rotation(current, time.time()):
                        return current
                    return await self._refresh(key, current)
            current = await self._find(key)
            if current is None or not _needs_rotation(current, time.time()):
                return current
            if time.monotonic() >= deadline:
                log.warning("slack token refresh: another replica held the lock too long; using the current token",
                            extra={"workspace": key})
                return current
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def _refresh(self, key: str, current: Installation) -> Installation | None:
        try:
            refreshed = await self.rotator.perform_token_rotation(installation=current,
                                                                  minutes_before_expiration=ROTATE_MINUTES_BEFORE)
        except SlackTokenRotationError as exc:  # the refresh token is dead: only reinstalling helps
            error = exc.api_error.response.get("error") if isinstance(exc.api_error, SlackApiError) else None
            log.error("slack refused to refresh a workspace's token; it must install CouncilBot again",
                      extra={"workspace": key, "error": error})
            return current if (current.bot_token_expires_at or 0) > time.time() else None
        except (SlackClientError, OSError, asyncio.TimeoutError) as exc:  # Slack unreachable: try on the next use
            log.warning("slack token refresh failed (%s); trying again on the next use", exc.__class__.__name__,
                        extra={"workspace": key})
            return current
        if refreshed is None:
            return current
        await self.installation_store.async_save(refreshed)
        log.info("slack token refreshed", extra={"workspace": key})
        return refreshed

