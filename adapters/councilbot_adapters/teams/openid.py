"""The Bot Framework's token-signing keys (its OpenID metadata), fetched without holding up the
event loop, with a timeout, once for everyone waiting, and not again at once after a failure.

botframework-connector's own ``_OpenIdMetadata`` fetches with ``requests`` on the event loop and
no timeout, and when a fetch fails it fetches again for the next token: one forged token, while
Microsoft's login service was slow, froze every Slack and Teams user. The SDK looks the metadata
up by URL in its own cache, ``JwtTokenExtractor.metadataCache``; ``guard`` puts a ``KeySet`` there
for each URL this bot's configuration can use, and the SDK's token validation is otherwise
unchanged (it still checks issuer, algorithm, signature, endorsements, audience, expiry)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from botframework.connector.auth import (
    AuthenticationConstants,
    ChannelValidation,
    GovernmentConstants,
    JwtTokenExtractor,
)
from botframework.connector.auth.government_channel_validation import GovernmentChannelValidation
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

OPENID_TIMEOUT = 15.0  # seconds for one whole fetch (metadata, then keys); a token waits no longer
STALE_AFTER = 24 * 3600.0  # the SDK's rule: keys older than a day are refreshed (here, in the background)
UNKNOWN_KEY_AFTER = 3600.0  # the SDK's rule: a token signed by an unknown key refetches, at most hourly
FIRST_BACKOFF = 30.0  # after a failed fetch, tokens are refused at once for this long (doubling)
MAX_BACKOFF = 600.0


@dataclass(frozen=True)
class SigningKey:
    """What the SDK reads of a key (``_OpenIdConfig``'s two attributes)."""

    public_key: Any
    endorsements: list[str]


class KeysUnavailable(PermissionError):
    """No signing keys to check a token with (Microsoft has not answered): the request is refused
    as unauthenticated, like any token that cannot be verified."""


class KeySet:
    """One metadata URL's keys; the SDK calls ``get(key_id)`` for every token it validates."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: dict[str, SigningKey] = {}
        self.fetched_at: float | None = None  # time.monotonic() of the last successful fetch
        self.failures = 0
        self.retry_at = 0.0  # no fetch before this (time.monotonic()) after a failure
        self.attempts = 0
        self._task: asyncio.Task[None] | None = None

    async def get(self, key_id: str | None) -> SigningKey:
        if self.fetched_at is None:
            await self._fetched()
        elif time.monotonic() - self.fetched_at > STALE_AFTER:
            self._fetch_soon()  # the keys in hand still check tokens meanwhile
        key = self.keys.get(key_id) if isinstance(key_id, str) else None
        if key is None and self.fetched_at is not None and time.monotonic() - self.fetched_at > UNKNOWN_KEY_AFTER:
            await self._fetched()  # Microsoft may have rolled its keys over
            key = self.keys.get(key_id) if isinstance(key_id, str) else None
        if key is not None:
            return key
        if self.fetched_at is None:
            raise KeysUnavailable("the Bot Framework's signing keys could not be fetched")
        raise PermissionError("the token is not signed with a key the Bot Framework publishes")

    async def _fetched(self) -> None:
        """Wait, at most ``OPENID_TIMEOUT``, for a fetch (one already running, or a new one unless
        the last failed only a moment ago)."""
        task = self._fetch_soon()
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), OPENID_TIMEOUT)
        except Exception:  # a timeout here, or the fetch's own failure (which it logs)
            pass

    def _fetch_soon(self) -> asyncio.Task[None] | None:
        """The fetch in progress on this event loop, or a new one; None while backing off."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return self._task
        if time.monotonic() < self.retry_at:
            return None
        self._task = loop.create_task(self._fetch(), name="teams-openid-metadata")
        return self._task

    async def _fetch(self) -> None:
        self.attempts += 1
        try:
            keys = await asyncio.wait_for(fetch_keys(self.url), OPENID_TIMEOUT)
        except Exception as exc:  # timeout, network, HTTP status, not the documents expected
            self.failures += 1
            wait = min(FIRST_BACKOFF * 2.0 ** (self.failures - 1), MAX_BACKOFF)
            self.retry_at = time.monotonic() + wait
            log.warning("could not fetch the Bot Framework's signing keys (%s); %s; tried again in %d s",
                        exc.__class__.__name__, "the keys in hand are used meanwhile" if self.keys
                        else "Teams requests are refused (401) until they can be fetched", wait)
            return
        self.keys, self.fetched_at, self.failures, self.retry_at = keys, time.monotonic(), 0, 0.0


async def fetch_keys(url: str) -> dict[str, SigningKey]:
    """The OpenID metadata document at ``url``, then the keys at its ``jwks_uri``."""
    timeout = aiohttp.ClientTimeout(total=OPENID_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session:
        async with session.get(url) as response:
            response.raise_for_status()
            metadata = await response.json(content_type=None)
        jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
        if not isinstance(jwks_uri, str):
            raise ValueError("the OpenID metadata has no jwks_uri")
        async with session.get(jwks_uri) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
    listed = document.get("keys") if isinstance(document, dict) else None
    keys: dict[str, SigningKey] = {}
    for key in listed if isinstance(listed, list) else ():
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            continue
        try:
            public = RSAAlgorithm.from_jwk(json.dumps(key))
        except Exception:  # not an RSA key the SDK could use either
            continue
        endorsements = key.get("endorsements")
        keys[key["kid"]] = SigningKey(public, [e for e in endorsements if isinstance(e, str)]
                                      if isinstance(endorsements, list) else [])
    if not keys:
        raise ValueError("the key set holds no usable signing keys")
    return keys


def guard(config: Any) -> list[KeySet]:
    """Put a ``KeySet`` in the SDK's metadata cache for every metadata URL it may look up for this
    configuration (Microsoft's public and US government clouds, and any configured URL), before
    the SDK's own fetcher is made for one. Idempotent; the cache is the SDK's, for the process."""
    urls = {
        AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        GovernmentConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        GovernmentConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        ChannelValidation.open_id_metadata_endpoint,
        GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT,
        getattr(config, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", None),
        getattr(config, "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", None),
    }
    cache: dict[str, Any] = JwtTokenExtractor.metadataCache
    guarded = []
    for url in sorted(u for u in urls if isinstance(u, str) and u):
        if not isinstance(cache.get(url), KeySet):
            cache[url] = KeySet(url)
        guarded.append(cache[url])
    return guarded
