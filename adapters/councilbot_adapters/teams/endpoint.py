"""``POST /api/messages``: authenticate, check the tenant, run the turn, answer.

We call ``authenticate_request`` ourselves instead of ``CloudAdapter.process`` because the SDK
lets anything but ``PermissionError`` escape as a 500 (a malformed token raises a JWT decode
error), and because the tenant check must sit between authentication and the turn.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import web
from azure.core.exceptions import (
    DeserializationError,  # what msrest raises for a field of the wrong type
)
from botbuilder.core import ActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from botframework.connector.auth import BotFrameworkAuthentication

from councilbot.messages import well_formed

from .. import door
from . import inbound
from .auth import is_loopback
from .files import PUBLIC_BASE, public_base
from .handler import WIRE
from .notifier import TEAMS_CHANNEL

log = logging.getLogger(__name__)

# Teams messages are limited to about 28 KB and cards to about 40 KB; 256 KB leaves room for any
# real activity while keeping a stranger's body from costing much before the token check.
MAX_ACTIVITY = 256 * 1024
# Headers a reverse proxy adds: with one in front, "from 127.0.0.1" no longer means this machine.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP")


class Endpoint:
    """``handlers`` maps a tenant id to the handler of the council it belongs to (None: no council
    is that tenant's, and the request is refused)."""

    def __init__(self, auth: BotFrameworkAuthentication, adapter: CloudAdapter,
                 handlers: Callable[[str | None], ActivityHandler | None], *, auth_on: bool, tenant_id: str = "") -> None:
        self.auth = auth
        self.adapter = adapter
        self.handlers = handlers
        self.auth_on = auth_on
        self.tenant_id = tenant_id.strip().lower()

    async def messages(self, request: web.Request) -> web.StreamResponse:
        refused = door.refusal(request, MAX_ACTIVITY)  # compressed, or larger than any activity: unread
        if refused is not None:
            return refused
        if not self.auth_on and (not is_loopback(request.remote) or any(h in request.headers for h in PROXY_HEADERS)):
            # No-auth mode trusts whoever calls: only this machine itself, never a proxy in front of it.
            return web.Response(status=403, text="Teams authentication is not configured; local requests only.")
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.Response(status=415, text="Expected application/json.")
        raw = await request.read()
        if len(raw) > MAX_ACTIVITY:
            return web.Response(status=413, text="An activity is never this large.")
        try:
            body: Any = json.loads(raw)
        except (ValueError, RecursionError):  # not UTF-8 or not JSON, or nested past Python's limit
            return web.Response(status=400, text="Not JSON.")
        # Who is calling comes before reading the rest: a stranger's request costs a token check only.
        try:
            authenticated = await self.auth.authenticate_request(_caller(body), request.headers.get("Authorization", ""))
        except Exception as exc:  # PermissionError, or a token the JWT library cannot even parse
            log.warning("teams request refused: %s", exc.__class__.__name__)
            return web.Response(status=401, text="Unauthorized.")
        try:
            body = well_formed(body)  # the conversation references we keep must be storable
        except RecursionError:
            return web.Response(status=400, text="Not JSON.")
        problem = inbound.shape_problem(body)
        if problem:
            log.warning("teams request refused: %s", problem)
            return web.Response(status=400, text=f"Not a Bot Framework activity: {problem}.")
        if not self.auth_on and not is_loopback(urlsplit(body["serviceUrl"]).hostname):
            # Unauthenticated, a reply address elsewhere would let a caller aim the bot at any server.
            return web.Response(status=403, text="Without Teams authentication the service URL must be on this machine.")
        try:
            activity = Activity.deserialize(body)
        except (DeserializationError, AttributeError, TypeError, ValueError) as exc:  # a field of the wrong type
            log.warning("teams request refused: %s", exc.__class__.__name__)
            return web.Response(status=400, text="Not a Bot Framework activity.")
        if self.auth_on and body.get("channelId") != TEAMS_CHANNEL:
            # Web Chat and Direct Line are on by default for an Azure Bot, and their clients choose
            # their own ids: only Teams vouches for the AAD identity that roles are keyed on.
            log.warning("request from a channel other than Teams refused", extra={"channel": str(body.get("channelId"))[:40]})
            return web.Response(status=403, text="This bot answers in Microsoft Teams only.")
        tenant = (inbound.tenant_id(body) or "").lower()
        if self.auth_on and self.tenant_id and tenant != self.tenant_id:
            log.warning("teams request from another tenant refused", extra={"tenant": inbound.tenant_id(body)})
            return web.Response(status=403, text="This bot serves one organisation only.")
        handler = self.handlers(tenant or None)
        if handler is None:
            log.warning("teams request from a tenant no council belongs to refused", extra={"tenant": tenant[:64]})
            return web.Response(status=403, text="This organisation is not set up in this CouncilBot.")
        token = WIRE.set(body)
        base = PUBLIC_BASE.set(public_base(request))  # for download links offered in this turn
        try:
            response = await self.adapter.process_activity(authenticated, activity, handler.on_turn)
        except Exception:
            log.exception("teams turn failed", extra={"activity_type": body.get("type")})
            return web.Response(status=500, text="The turn failed.")
        finally:
            PUBLIC_BASE.reset(base)
            WIRE.reset(token)
        if response is not None:
            return web.json_response(response.body, status=response.status)
        return web.Response(status=200)


def _caller(body: Any) -> Activity:
    """The two fields token validation reads (the channel, and the service URL a channel token is
    bound to), taken without deserialising the whole activity."""
    fields = body if isinstance(body, dict) else {}
    channel, service = fields.get("channelId"), fields.get("serviceUrl")
    return Activity(channel_id=channel if isinstance(channel, str) else None,
                    service_url=service if isinstance(service, str) else None)
