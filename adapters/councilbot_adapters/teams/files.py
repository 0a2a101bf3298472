"""Teams files, both ways.

In: screenshots a person attaches in their personal chat with the bot are downloaded at once
(an inline image from its ``contentUrl``, with the bot's own Bot Framework token; a file from the
pre-authorised ``downloadUrl`` Teams gives) and handed to the core's ``evidence`` command, which
checks and keeps them with the report named in the message (or the sender's only open report).

Out: a file for one person (an evidence bundle) becomes a short-lived signed link, served by
``councilbot serve`` at ``/evidence-bundles/<token>``. (A Teams file consent card would need the
bot to upload into the person's OneDrive; a link valid for 15 minutes, sent only to them, is simpler.)
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from botbuilder.core import BotAdapter, TurnContext

from councilbot.bundle import BUNDLES
from councilbot.messages import Incoming, Reply, Upload

from .. import common
from . import inbound

log = logging.getLogger(__name__)
FILE_DOWNLOAD = "application/vnd.microsoft.teams.file.download.info"
DOWNLOAD_TIMEOUT = 20.0
MAX_FILES = 10
LINK_LIFETIME = 15 * 60
ROUTE = "/evidence-bundles/{token}"
# The address people reach this server at, from the request Teams made (set by the endpoint).
PUBLIC_BASE: ContextVar[str] = ContextVar("teams_public_base", default="")
_BUNDLE_PATH = re.compile(r"[0-9a-f]{24}/R-\d{4}-\d{4,}-evidence-bundle\.zip")


def public_base(request: web.Request) -> str:
    """Scheme and host the request came to; behind an HTTPS proxy, its X-Forwarded-Proto."""
    scheme = "https" if request.headers.get("X-Forwarded-Proto", "").lower() == "https" else request.scheme
    return f"{scheme}://{request.host}"


# ---------------------------------------------------------------- in: attachments


def attachments_of(wire: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The downloadable attachments of a message: files, images and PDFs (not the HTML copy of
    the text, nor a card)."""
    out = []
    for item in (wire.get("attachments") or [])[:MAX_FILES]:
        if not isinstance(item, Mapping):
            continue
        kind = str(item.get("contentType") or "")
        raw = item.get("content")
        content: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if kind == FILE_DOWNLOAD and isinstance(content.get("downloadUrl"), str):
            out.append({"name": str(item.get("name") or "file"), "url": content["downloadUrl"], "signed": False})
        elif (kind.startswith("image/") or kind == "application/pdf") and isinstance(item.get("contentUrl"), str):
            out.append({"name": str(item.get("name") or f"image.{kind.split('/')[-1]}"), "url": item["contentUrl"], "signed": True})
    return out


def _same_origin(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return bool(a.hostname) and (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _allowed(url: str, service_url: str) -> bool:
    """HTTPS only (Teams' and SharePoint's addresses), or the Bot Connector's own address."""
    return urlsplit(url).scheme == "https" or _same_origin(url, service_url)


# Microsoft's own hosts for the Bot Connector's attachment views. Not any *.trafficmanager.net:
# anyone with an Azure subscription can name a Traffic Manager profile there.
_CONNECTOR_HOSTS = ("smba.trafficmanager.net",)


def token_goes_to(url: str, service_url: str) -> bool:
    """The bot's token goes only to the Bot Connector that sent the message (its inline images):
    its own address, Teams' connector host, or the Bot Framework's, over HTTPS."""
    if _same_origin(url, service_url):
        return True
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host in _CONNECTOR_HOSTS or host.endswith(".botframework.com"))


def _bot_token(turn_context: TurnContext) -> str | None:
    """The bot's current Bot Framework token, from this turn's connector client (none when
    authentication is off, as with the Emulator)."""
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    credentials = getattr(getattr(client, "config", None), "credentials", None)
    if credentials is None or not getattr(credentials, "microsoft_app_id", None):
        return None
    try:
        return str(credentials.get_access_token())
    except Exception as exc:  # no token yet: inline images then cannot be fetched
        log.warning("no bot token to fetch an attachment with (%s)", exc.__class__.__name__)
        return None


async def download(items: list[dict[str, Any]], service_url: str, token: str | None) -> list[Upload]:
    out: list[Upload] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)) as session:
        for item in items:
            name, url = item["name"], item["url"]
            if not _allowed(url, service_url):
                out.append(Upload(name, source="teams", problem="Teams gave an address the bot will not fetch from"))
                continue
            headers = {"Authorization": f"Bearer {token}"} if item["signed"] and token and token_goes_to(url, service_url) else {}
            try:
                async with session.get(url, headers=headers) as resp:
                    if resp.status != 200:
                        out.append(Upload(name, source="teams", problem=f"Teams answered {resp.status}"))
                        continue
                    out.append(Upload(name, await common.read_capped(resp), "teams"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("a Teams attachment could not be downloaded: %s", exc.__class__.__name__)
                out.append(Upload(name, source="teams", problem="Teams did not answer in time"))
    return out


async def evidence_incoming(turn_context: TurnContext, wire: Mapping[str, Any], allow_plain_ids: bool) -> Incoming | None:
    """A personal-chat message with screenshots attached -> the core's ``evidence`` command, the
    files downloaded now, before Teams or the sender can delete them."""
    items = attachments_of(wire)
    user = inbound.user_id(wire, allow_plain_ids)
    if not items or user is None or not inbound.is_personal(wire):
        return None
    uploads = await download(items, str(wire.get("serviceUrl") or ""), _bot_token(turn_context))
    return Incoming(kind="command", user=user, name="evidence", text=inbound.clean_text(wire), values={"files": uploads},
                    event_id=wire.get("id"), display_name=inbound.display_name(wire))


# ---------------------------------------------------------------- out: a short-lived signed link


class Downloads:
    """Signed links to files made for one person (evidence bundles), for every council served
    (``roots``: each council's files folder); the key lives in memory, so a restart ends every link
    early, never late. A link names its council, so it only ever reaches that council's files."""

    def __init__(self, roots: Mapping[str, Path]) -> None:
        self.roots = {council: Path(folder) / BUNDLES for council, folder in roots.items()}
        self._key = secrets.token_bytes(32)

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:40]

    def link(self, path: str, base: str, council: str, now: float | None = None) -> str | None:
        relative = "/".join(Path(path).parts[-2:])
        if not base or not _BUNDLE_PATH.fullmatch(relative) or council not in self.roots:
            return None
        expires = int((now or time.time()) + LINK_LIFETIME)
        payload = base64.urlsafe_b64encode(f"{council}:{relative}:{expires}".encode()).decode().rstrip("=")
        return f"{base}/evidence-bundles/{payload}.{self._sign(payload)}"

    def as_link(self, reply: Reply, council: str) -> Reply:
        """The reply with its file replaced by the link (or by an apology if no link can be made)."""
        url = self.link(reply.file, PUBLIC_BASE.get(), council)
        if url is None:
            return dataclasses.replace(reply, file="", tone="danger", text="Sorry, the file could not be offered for download here.")
        return dataclasses.replace(reply, file="", text=f"{reply.text}\n\nDownload it within 15 minutes: the link works once, "
                                                         f"for whoever opens it first, so do not pass it on: {url}")

    async def serve(self, request: web.Request) -> web.StreamResponse:
        payload, _, signature = request.match_info["token"].partition(".")
        if not payload or not hmac.compare_digest(self._sign(payload), signature):
            return web.Response(status=404, text="No such download.")
        try:
            named, _, expires = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().rpartition(":")
            council, _, relative = named.partition(":")
            expired = time.time() > int(expires)
        except ValueError:
            return web.Response(status=404, text="No such download.")
        root = self.roots.get(council)
        path = root / relative if root is not None else None
        if expired or path is None or not _BUNDLE_PATH.fullmatch(relative) or not path.is_file():
            return web.Response(status=410, text="This download link has expired. Press 'Evidence bundle' again for a new one.")
        data = path.read_bytes()
        path.unlink(missing_ok=True)  # once: no copy stays behind
        return web.Response(body=data, content_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{path.name}"', "Cache-Control": "no-store"})
