"""Every Bot Connector client the SDK makes, tuned the same way: a real HTTP timeout and no
retries of its own.

msrest sends through ``requests`` in a worker thread with a 100-second timeout and urllib3
retries. Cancelling the await (``asyncio.wait_for``) would leave the request running in its
thread, still delivering after we had given up, so the timeout must be the HTTP client's own.
Retries belong to the core's outbox, which sees 429's Retry-After instead of a thread sleeping
on it. The SDK builds clients in several places (incoming turns, proactive turns, new
conversations); wrapping its connector factory reaches all of them."""

from __future__ import annotations

from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import ConnectorFactory
from urllib3 import Retry

# Seconds one call to the Bot Connector may take before it counts as failed (and is retried).
CONNECTOR_TIMEOUT = 15.0


def tune(client: Any) -> Any:
    config = client.config
    config.connection.timeout = CONNECTOR_TIMEOUT  # read when each request is sent
    config.retry_policy.policy = Retry(total=False, status_forcelist=(), respect_retry_after_header=False)
    return client


class TunedFactory(ConnectorFactory):  # type: ignore[misc]  # botbuilder ships no type information
    def __init__(self, inner: ConnectorFactory) -> None:
        self.inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        return tune(await self.inner.create(service_url, audience))


class TunedAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        result = await super().authenticate_request(activity, auth_header)
        result.connector_factory = TunedFactory(result.connector_factory)
        return result

    def create_connector_factory(self, claims_identity: Any) -> ConnectorFactory:
        return TunedFactory(super().create_connector_factory(claims_identity))
