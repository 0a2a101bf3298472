"""The bot's own Bot Framework token: fetched in a worker thread with a timeout, at start-up and
again shortly before it expires, so that no reply ever waits for Microsoft's login service.

botframework-connector makes new credentials (and a new msal application) for every connector
client, so for every turn and every proactive message, and msal fetches the token inside
``signed_session()``, which msrest calls on the event loop: with the login service slow, each reply
froze the whole server for as long as it took. The SDK takes a credentials factory of our choosing
(``ConfigurationBotFrameworkAuthentication(credentials_factory=...)``); ``KeptCredentialsFactory``
wraps the SDK's own and hands out one ``KeptCredentials`` per app id, audience and login endpoint.
Each keeps a token current in the background, through the SDK's credentials and msal's own token
cache; ``signed_session()`` only reads it. A reply when there is no valid token fails at once
(``TokenUnavailable``) and waits in the core's outbox, which retries it."""

from __future__ import annotations

import asyncio
import logging
import time

import jwt
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from msal import ConfidentialClientApplication  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

TOKEN_TIMEOUT = 15.0  # seconds for each call msal makes to the login service (and for a whole refresh)
REFRESH_BEFORE = 290.0  # renew when this much is left (msal's cache renews a token with under 5 minutes left)
USABLE_MARGIN = 30.0  # a token closer than this to expiry is not sent
RETRY_FIRST = 5.0  # after a failed fetch, try again after this long (doubling)
RETRY_MAX = 60.0
UNKNOWN_LIFETIME = 600.0  # a token whose expiry cannot be read is renewed as if it lasted this long
# Any address does: the connector client made at start-up only exists to create the credentials.
WARM_SERVICE_URL = "https://smba.trafficmanager.net/teams/"


class TokenUnavailable(PermissionError):
    """No valid token to send a reply with (the login service has not issued one yet)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("no Bot Framework token yet: Microsoft's login service has not issued one")
        self.retry_after = retry_after


def timed_msal_app(credentials: MicrosoftAppCredentials) -> ConfidentialClientApplication:
    """The msal application the SDK makes for these credentials, with msal's ``timeout`` on each of
    its calls (the SDK gives none). Built in a worker thread: msal asks the login service for the
    tenant's metadata as it is made."""
    return ConfidentialClientApplication(
        client_id=credentials.microsoft_app_id,
        client_credential=credentials.microsoft_app_password,
        authority=credentials.oauth_endpoint,
        validate_authority=bool(getattr(credentials, "validate_authority", True)),
        timeout=TOKEN_TIMEOUT,
    )


def expiry(token: str) -> float:
    """When an access token expires (its ``exp`` claim, read without checking: it is our own)."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        exp = None
    return float(exp) if isinstance(exp, (int, float)) else time.time() + UNKNOWN_LIFETIME


class KeptCredentials(AppCredentials):  # type: ignore[misc]  # botframework ships no type information
    """The SDK's credentials for one audience, with the token kept current in the background."""

    def __init__(self, inner: AppCredentials) -> None:
        super().__init__(app_id=inner.microsoft_app_id, channel_auth_tenant=inner.tenant, oauth_scope=inner.oauth_scope)
        self.oauth_endpoint = inner.oauth_endpoint
        self.inner = inner
        self.token: str | None = None
        self.expires_at = 0.0  # time.time()
        self.next_at = 0.0  # time.time() of the next fetch
        self.fetches = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._thread: asyncio.Future[tuple[str, float]] | None = None

    def get_access_token(self, force_refresh: bool = False) -> str:
        """Called by msrest on the event loop for every request to the Bot Connector: never waits."""
        if self.token is not None and self.expires_at - time.time() > USABLE_MARGIN:
            return self.token
        try:
            self.start()
        except RuntimeError:  # not on an event loop (a tool's thread): nothing to start here
            pass
        raise TokenUnavailable(max(1.0, self.next_at - time.time()))

    def start(self) -> None:
        """Keep the token current from now on, on the running event loop."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._keep(), name="teams-bot-token")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._task = None

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(await self.refresh())

    async def refresh(self) -> float:
        """Fetch a token (msal answers from its cache while the token has more than 5 minutes
        left); return the seconds until the next fetch. One thread at a time: a fetch that outlives
        the timeout is waited for by the next attempt rather than joined by another."""
        self.fetches += 1
        if self._thread is None or self._thread.done():
            self._thread = asyncio.get_running_loop().run_in_executor(None, self._fetch)
            # Its failure is reported by whoever awaits it; one left behind at shutdown (the keeper
            # cancelled while the thread still waited on the login service) is not an error to print.
            self._thread.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            token, expires_at = await asyncio.wait_for(asyncio.shield(self._thread), TOKEN_TIMEOUT)
        except Exception as exc:  # a timeout, the network, or the login service refusing (PermissionError)
            self.failures += 1
            wait = min(RETRY_FIRST * 2.0 ** (self.failures - 1), RETRY_MAX)
            if self.token is not None:  # the one in hand may still be good: do not wait past it
                wait = max(1.0, min(wait, self.expires_at - time.time() - USABLE_MARGIN))
            self.next_at = time.time() + wait
            log.warning("could not get the bot's Bot Framework token (%s); %s; asked again in %d s", exc.__class__.__name__,
                        "the one in hand is used meanwhile" if self.token is not None and self.expires_at > time.time()
                        else "replies to Teams wait in the outbox until it comes", wait)
            return wait
        self.token, self.expires_at, self.failures = token, expires_at, 0
        wait = max(RETRY_FIRST, expires_at - time.time() - REFRESH_BEFORE)
        self.next_at = time.time() + wait
        return wait

    def _fetch(self) -> tuple[str, float]:
        """In a worker thread: the SDK's own ``get_access_token`` (msal's cache, then the login service)."""
        inner = self.inner
        if isinstance(inner, MicrosoftAppCredentials) and inner.app is None:
            inner.app = timed_msal_app(inner)
        token = inner.get_access_token()
        return token, expiry(token)


class KeptCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """The SDK's credentials factory, handing out kept credentials (see the module's docstring)."""

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self.inner = inner
        self.kept: dict[tuple[str, str, str], KeptCredentials] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self.inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self.inner.is_authentication_disabled())

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        key = (app_id or "", oauth_scope or "", login_endpoint or "")
        kept = self.kept.get(key)
        if kept is None:
            credentials = await self.inner.create_credentials(app_id, oauth_scope, login_endpoint, validate_authority)
            if await self.is_authentication_disabled():  # the Emulator on this machine: no token at all
                return credentials
            kept = self.kept[key] = KeptCredentials(credentials)
        kept.start()
        return kept

    async def warm(self, auth: BotFrameworkAuthentication, app_id: str) -> None:
        """At start-up: make the credentials replies will use (through the SDK, which knows the
        audience and login endpoint of this configuration), so their token is being fetched
        before the first reply needs it."""
        identity = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: app_id}, True)
        await auth.create_connector_factory(identity).create(WARM_SERVICE_URL)

    async def close(self) -> None:
        for kept in self.kept.values():
            await kept.stop()


def token_missing(exc: BaseException | None) -> TokenUnavailable | None:
    """The ``TokenUnavailable`` behind ``exc``, however the SDK wrapped it."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, TokenUnavailable):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
