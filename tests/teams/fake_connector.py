"""A local stand-in for the Bot Connector service: records what the bot posts, and can fail on cue.

Tests point ``serviceUrl`` at it, so every reply, proactive message, card update and
conversation creation the adapter makes is visible and can be made to fail with 5xx / 429.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    """One request the bot made to the connector."""

    op: str  # "send", "reply", "update", "create"
    conversation: str
    activity_id: str | None
    body: dict[str, Any]
    status: int
    response_id: str | None = None
    authorization: str = ""  # the Authorization header the bot sent ("Bearer <token>" when signed in)

    @property
    def card(self) -> dict[str, Any] | None:
        """The first Adaptive Card attached to this activity, if any."""
        for att in self.body.get("attachments") or ():
            if att.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return att["content"]
        return None

    @property
    def text(self) -> str:
        """Everything a person would read: the activity text plus the card's text blocks and facts."""
        parts = [self.body.get("text") or ""]
        if self.card:
            parts.extend(_card_text(self.card))
        return "\n".join(p for p in parts if p)


def rendered(markdown: str) -> str:
    """What Teams shows for a card's Markdown text once its backslash escapes are read."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _card_text(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            out.append(rendered(str(node.get("text", ""))))
        if node.get("type") == "FactSet":
            out.extend(f"{rendered(str(f.get('title')))}: {rendered(str(f.get('value')))}" for f in node.get("facts", ()))
        for key in ("body", "items", "columns", "inlines"):
            out.extend(_card_text(node.get(key)))
    elif isinstance(node, list):
        for item in node:
            out.extend(_card_text(item))
    return out


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: float | None
    only: str | None  # limit to one op ("send", "update", ...)
    conversation: str | None  # limit to one conversation


@dataclass
class FakeConnector:
    calls: list[Call] = field(default_factory=list)
    attempts: list[tuple[str, int]] = field(default_factory=list)  # (op, status) of every request
    _failures: list[_Failure] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""
    # Files people attached in a chat: inline images (contentUrl, the Bot Connector's attachment
    # view) and files (a pre-authorised downloadUrl), with every fetch and its Authorization header.
    attachments: dict[str, bytes] = field(default_factory=dict)
    fetches: list[tuple[str, str]] = field(default_factory=list)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/attachments/{attachment}/views/original", self._attachment)
        app.router.add_get("/shared/{attachment}", self._attachment)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, status: int, times: int = 1, *, retry_after: float | None = None, only: str | None = None,
             conversation: str | None = None) -> None:
        """The next ``times`` matching requests answer ``status`` (with Retry-After if given)."""
        self._failures.append(_Failure(status, times, retry_after, only, conversation))

    def image_attachment(self, name: str, data: bytes, content_type: str = "image/png") -> dict[str, Any]:
        """An inline image as Teams attaches it to a personal-chat message (fetched with the bot's token)."""
        key = f"att-{next(self._ids)}"
        self.attachments[key] = data
        return {"contentType": content_type, "contentUrl": f"{self.url}v3/attachments/{key}/views/original", "name": name}

    def file_attachment(self, name: str, data: bytes) -> dict[str, Any]:
        """A file sent in a personal chat (the bot's manifest has supportsFiles): a pre-authorised downloadUrl."""
        key = f"file-{next(self._ids)}"
        self.attachments[key] = data
        return {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": name,
                "contentUrl": f"https://contoso.sharepoint.com/personal/{key}",
                "content": {"downloadUrl": f"{self.url}shared/{key}", "uniqueId": key, "fileType": name.rsplit(".", 1)[-1]}}

    # Queries the tests use.

    def ops(self, op: str | None = None, conversation: str | None = None) -> list[Call]:
        return [c for c in self.calls if (op is None or c.op == op)
                and (conversation is None or c.conversation == conversation)]

    async def wait_for(self, pred: Callable[[Call], bool], timeout: float = 10.0, count: int = 1) -> list[Call]:
        """Wait until ``count`` recorded calls satisfy ``pred``; the outbox delivers in the background."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            found = [c for c in self.calls if pred(c)]
            if len(found) >= count:
                return found
            if loop.time() > end:
                raise AssertionError(f"timed out waiting for a connector call; saw {[(c.op, c.conversation, c.text[:60]) for c in self.calls]}")
            await asyncio.sleep(0.02)

    # Handlers.

    def _maybe_fail(self, op: str, conversation: str) -> web.Response | None:
        for failure in self._failures:
            if (failure.times > 0 and (failure.only is None or failure.only == op)
                    and (failure.conversation is None or failure.conversation == conversation)):
                failure.times -= 1
                self.attempts.append((op, failure.status))
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                body = {"error": {"code": "ServiceError", "message": f"fake failure {failure.status}"}}
                return web.json_response(body, status=failure.status, headers=headers)
        self.attempts.append((op, 200))
        return None

    async def _record(self, request: web.Request, op: str, status: int = 200) -> web.Response:
        conversation = request.match_info.get("conversation", "")
        failed = self._maybe_fail(op, conversation)
        if failed is not None:
            return failed
        body = json.loads(await request.text() or "{}")
        activity = request.match_info.get("activity")
        authorization = request.headers.get("Authorization", "")
        if op == "create":
            new_id = f"a:personal-{next(self._ids)}"
            self.calls.append(Call(op, "", None, body, status, new_id, authorization))
            return web.json_response({"id": new_id, "serviceUrl": self.url}, status=status)
        new_id = activity if op == "update" else f"act-{next(self._ids)}"
        self.calls.append(Call(op, conversation, activity, body, status, new_id, authorization))
        return web.json_response({"id": new_id}, status=status)

    async def _attachment(self, request: web.Request) -> web.Response:
        key = request.match_info["attachment"]
        self.fetches.append((key, request.headers.get("Authorization", "")))
        if key not in self.attachments:
            return web.Response(status=404)
        return web.Response(body=self.attachments[key], content_type="application/octet-stream")

    async def _create(self, request: web.Request) -> web.Response:
        return await self._record(request, "create", 201)

    async def _send(self, request: web.Request) -> web.Response:
        return await self._record(request, "send")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record(request, "reply")

    async def _update(self, request: web.Request) -> web.Response:
        return await self._record(request, "update")
