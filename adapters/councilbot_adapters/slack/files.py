"""Slack files, both ways: screenshots from the report modal's ``file_input`` downloaded at once
with the bot's own token (so they survive Slack deleting them), and an evidence bundle uploaded
privately into the requester's DM (``files_upload_v2``). The core checks and keeps the bytes;
this only fetches and sends them."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import aiohttp

from councilbot.messages import Upload

from .. import common

log = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT = 20.0  # seconds for one screenshot; the modal closes and answers by DM if slower
MAX_FILES = 10


def _trusted(url: str, api_url: str) -> bool:
    """The bot's token goes only to Slack: files.slack.com (or another *.slack.com host) over
    HTTPS, or the host the Web API is configured at (a test's fake Slack)."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if parts.scheme == "https" and (parts.hostname or "").endswith(".slack.com"):
        return True
    return bool(parts.hostname) and (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port)


async def download(files: Sequence[Mapping[str, Any]], token: str, api_url: str) -> list[Upload]:
    """Each file's bytes (at most the core's limit plus one, so an oversized one is recognised
    without reading it all), or an Upload whose ``problem`` says why it could not be fetched."""
    out: list[Upload] = []
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for item in list(files)[:MAX_FILES]:
            name = str(item.get("name") or item.get("title") or "screenshot")
            url = str(item.get("url_private_download") or item.get("url_private") or "")
            if not url or not _trusted(url, api_url):
                out.append(Upload(name, source="slack", problem="Slack gave no address the bot may fetch it from"))
                continue
            out.append(await _fetch(session, name, url, token))
    return out


async def _fetch(session: aiohttp.ClientSession, name: str, url: str, token: str) -> Upload:
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False) as resp:
            if resp.status != 200:
                log.warning("a Slack file could not be downloaded", extra={"status": resp.status})
                return Upload(name, source="slack", problem=f"Slack answered {resp.status}")
            if resp.content_type == "text/html":  # Slack's sign-in page: the token may not read files
                return Upload(name, source="slack", problem="Slack did not let the bot read it (the app needs files:read)")
            return Upload(name, await common.read_capped(resp), "slack")
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("a Slack file could not be downloaded: %s", exc.__class__.__name__)
        return Upload(name, source="slack", problem="Slack did not answer in time")
