"""A local stand-in for Slack's Web API and response_url endpoints, on 127.0.0.1.

It records what the adapter sends, answers like Slack does, and can be told to fail (500, 429
with Retry-After, an ``ok: false`` error) a number of times, or to be slow."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Call:
    method: str  # "chat.postMessage", ..., or "respond" for a response_url post
    data: dict[str, Any]
    token: str | None = None
    path: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int
    times: int
    method: str | None
    retry_after: int | None = None
    error: str | None = None


JSON_ARGS = ("view", "blocks", "attachments")


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.attempts: list[str] = []  # every request, failed ones too
        self.failures: list[Failure] = []
        self.delay = 0.0
        self._release = asyncio.Event()
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self.server: TestServer | None = None
        self.envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # Socket Mode: what to push
        self.socket_acks: list[dict[str, Any]] = []
        # Files people uploaded (file_input), served only to the bot's token as Slack does.
        self.bot_token = "xoxb-test"
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (name, bytes)
        self.file_fetches: list[tuple[str, str]] = []  # (file id, Authorization header) of every download
        self.uploads: dict[str, bytes] = {}  # files_upload_v2: file id -> bytes the bot uploaded
        self._files = itertools.count(1)
        # "Add to Slack": the app's credentials, the workspaces that may install it, and what
        # oauth.v2.access has handed out (codes are single use; a refresh token is used once).
        self.client_id, self.client_secret = "1234.5678", "0123456789abcdef0123456789abcdef"
        self.redirect_uri = ""  # the app's registered redirect URL (used when the request names none)
        self.workspaces: dict[str, dict[str, Any]] = {}  # team id -> name, rotating, bot identity
        self.identities: dict[str, dict[str, Any]] = {}  # bot token -> what auth.test answers for it
        self.codes: dict[str, str] = {}  # code -> team id
        self.refresh_tokens: dict[str, str] = {}  # live refresh token -> team id
        self.authorize_requests: list[dict[str, str]] = []
        self.refreshes: list[str] = []  # team id of every successful token refresh
        self.refresh_delay = 0.0  # seconds a refresh takes (a race needs both replicas in flight)
        self.deny = False  # the person presses "Cancel" on Slack's page
        self.expires_in = 43200  # seconds a rotating token lasts (Slack: 12 hours)
        self._tokens = itertools.count(1)

    # ---------------------------------------------------------------- control

    async def start(self) -> "FakeSlack":
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/files-pri/{file_id}/{name}", self._file)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/oauth/v2/authorize", self._authorize)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        self.release()
        if self.server is not None:
            await self.server.close()

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.base}/respond/{key}"

    def fail(self, status: int, times: int = 1, *, method: str | None = None, retry_after: int | None = None, error: str | None = None) -> None:
        """The next ``times`` matching requests get this failure (queued after earlier ones)."""
        self.failures.append(Failure(status, times, method, retry_after, error))

    def slow(self, seconds: float) -> None:
        self.delay = seconds
        self._release = asyncio.Event()

    def release(self) -> None:
        """Let slow requests in flight finish now (test teardown)."""
        self.delay = 0.0
        self._release.set()

    def add_file(self, name: str, data: bytes, mimetype: str = "image/png") -> dict[str, Any]:
        """A file a person uploaded in a modal's file_input: the object Slack puts in the view's state."""
        file_id = f"F{next(self._files):06d}"
        self.files[file_id] = (name, data)
        private = f"{self.base}/files-pri/{file_id}/{name}"
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "filetype": name.rsplit(".", 1)[-1],
                "url_private": private, "url_private_download": f"{private}?download=1",
                "permalink": f"https://alsager.slack.com/files/U1/{file_id}/{name}"}

    def workspace(self, team_id: str, name: str = "", *, rotating: bool = False) -> None:
        """A workspace whose admin will approve "Add to Slack" (with token rotation on or off)."""
        n = len(self.workspaces) + 2
        self.workspaces[team_id] = {"name": name or f"Council {team_id}", "rotating": rotating,
                                    "bot_user_id": f"UBOT{n}", "bot_id": f"BBOT{n}"}

    def grant(self, team_id: str, *, expires_in: int | None = None) -> dict[str, Any]:
        """New tokens for a workspace, as oauth.v2.access hands them out (and auth.test knows them)."""
        ws = self.workspaces[team_id]
        token = f"xoxb-{team_id}-{next(self._tokens)}"
        self.identities[token] = {"team_id": team_id, "team": ws["name"], "user_id": ws["bot_user_id"], "bot_id": ws["bot_id"]}
        answer: dict[str, Any] = {"ok": True, "access_token": token, "token_type": "bot", "bot_user_id": ws["bot_user_id"]}
        if ws["rotating"]:
            refresh = f"xoxe-1-{team_id}-{next(self._tokens)}"
            self.refresh_tokens[refresh] = team_id
            answer.update(refresh_token=refresh, expires_in=self.expires_in if expires_in is None else expires_in)
        return answer

    def delete_file(self, file_id: str) -> None:
        """The workspace's retention (or the uploader) removes it."""
        self.files.pop(file_id, None)

    # ---------------------------------------------------------------- inspection

    @property
    def sent(self) -> list[Call]:
        """What the adapter said to anyone (auth.test, asked once at start-up, is not saying anything)."""
        return [c for c in self.calls if c.method != "auth.test"]

    def of(self, method: str, **match: Any) -> list[Call]:
        return [c for c in self.calls if c.method == method and all(c.data.get(k) == v for k, v in match.items())]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0, where: Callable[[Call], bool] | None = None, **match: Any) -> list[Call]:
        """Bounded poll: the adapter answers after its ack, and the core's outbox later still."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.of(method, **match) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [(c.method, c.data.get("channel")) for c in self.calls]
                raise AssertionError(f"waited {timeout}s for {count} x {method} {match}; saw {seen}")
            await asyncio.sleep(0.02)

    # ---------------------------------------------------------------- serving

    async def _read(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if request.content_type == "application/json":
            data = json.loads(raw or "{}")
        else:
            data = dict(parse_qsl(raw))
        data = {**dict(request.query), **data}  # some methods (conversations.open) send their arguments as query parameters
        for key in JSON_ARGS:
            if isinstance(data.get(key), str):
                try:
                    data[key] = json.loads(data[key])
                except ValueError:
                    pass
        return data

    async def _slow(self) -> None:
        if self.delay:
            try:
                await asyncio.wait_for(self._release.wait(), timeout=self.delay)
            except asyncio.TimeoutError:
                pass

    def _failure(self, method: str) -> web.Response | None:
        for f in self.failures:
            if f.times > 0 and (f.method is None or f.method == method):
                f.times -= 1
                headers = {"Retry-After": str(f.retry_after)} if f.retry_after is not None else {}
                error = f.error or ("ratelimited" if f.status == 429 else "fatal_error")
                return web.json_response({"ok": False, "error": error}, status=f.status, headers=headers)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        data = await self._read(request)
        self.attempts.append(method)
        await self._slow()
        failed = self._failure(method)
        if failed is not None:
            return failed
        if method == "oauth.v2.access":
            return web.json_response(await self._oauth_access(request, data))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or data.get("token")
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        self.calls.append(Call(method, data, token, request.path))
        return web.json_response(self._answer(method, {**data, "token": token}))

    def _answer(self, method: str, data: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        channel = str(data.get("channel", ""))
        if channel.startswith(("U", "W")):  # posting to a user id lands in the app's DM with them
            channel = "D" + channel[1:]
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.server.port}/socket" if self.server else ""}
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "councilbot",
                    **self.identities.get(str(data.get("token") or ""), {})}
        if method == "chat.postMessage":
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": data.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": channel, "ts": data.get("ts"), "text": data.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.open":
            users = str(data.get("users", ""))
            return {"ok": True, "channel": {"id": "D" + users[1:]}}
        if method in ("views.open", "views.update", "views.push"):
            view = data.get("view") or {}
            problem = view_problem(view)
            if problem:  # what Slack answers for a view it will not show
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}}
            return {"ok": True, "view": {"id": f"V{next(self._views)}", **view}}
        if method == "files.getUploadURLExternal":
            file_id = f"FUP{next(self._files):06d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = data.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title"), "size": len(self.uploads.get(f["id"], b""))}
                                          for f in files]}
        if method == "views.publish":
            return {"ok": True, "view": {"id": f"V{next(self._views)}"}}
        return {"ok": True}

    async def _authorize(self, request: web.Request) -> web.Response:
        """Slack's "Allow" page, already approved (or cancelled): back to the app's redirect URL with a
        single-use code for the workspace asked for (``team``), and the app's ``state`` unchanged."""
        query = dict(request.query)
        self.authorize_requests.append(query)
        back = query.get("redirect_uri") or self.redirect_uri
        if self.deny:
            answer = {"error": "access_denied", "state": query.get("state", "")}
        else:
            code = f"code-{next(self._tokens)}"
            self.codes[code] = query.get("team") or next(iter(self.workspaces))
            answer = {"code": code, "state": query.get("state", "")}
        raise web.HTTPFound(f"{back}?{urlencode(answer)}")

    async def _oauth_access(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        """oauth.v2.access: a code for a workspace's first tokens, or a refresh token for new ones
        (which kills that refresh token: a second refresh with it fails, as on Slack)."""
        auth = request.headers.get("Authorization", "")
        sent = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth.startswith("Basic ") else \
            f"{data.get('client_id')}:{data.get('client_secret')}"
        if sent != f"{self.client_id}:{self.client_secret}":
            return {"ok": False, "error": "invalid_client_id"}
        self.calls.append(Call("oauth.v2.access", {k: v for k, v in data.items() if k != "client_secret"}, None, request.path))
        if data.get("grant_type") == "refresh_token":
            team = self.refresh_tokens.pop(str(data.get("refresh_token")), None)
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            if team is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            self.refreshes.append(team)
            return {**self.grant(team), "team": {"id": team, "name": self.workspaces[team]["name"]}}
        team = self.codes.pop(str(data.get("code")), None)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        ws = self.workspaces[team]
        return {**self.grant(team), "scope": ",".join(self.scopes()), "app_id": "A1", "team": {"id": team, "name": ws["name"]},
                "enterprise": None, "is_enterprise_install": False, "authed_user": {"id": "UADMIN"}}

    def scopes(self) -> list[str]:
        """The scopes the last "Add to Slack" asked for."""
        return (self.authorize_requests[-1].get("scope") or "").split(",") if self.authorize_requests else []

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """url_private(_download): the bytes for the bot's token; without it Slack answers with its
        sign-in page (HTML, 200), and a deleted file is a 404."""
        file_id = request.match_info["file_id"]
        auth = request.headers.get("Authorization", "")
        self.file_fetches.append((file_id, auth))
        if auth != f"Bearer {self.bot_token}":
            return web.Response(text="<html><body>Sign in to Slack</body></html>", content_type="text/html")
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found")
        return web.Response(body=self.files[file_id][1], content_type="application/octet-stream")

    async def _upload(self, request: web.Request) -> web.Response:
        """files_upload_v2's second step: the bytes, posted to the URL getUploadURLExternal gave."""
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - 200")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, push queued envelopes, record the acks (envelope_id + payload)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})

        async def push() -> None:
            while True:
                await ws.send_json(await self.envelopes.get())

        pusher = asyncio.create_task(push())
        try:
            async for msg in ws:
                if msg.type.name == "TEXT":
                    self.socket_acks.append(json.loads(msg.data))
        finally:
            pusher.cancel()
        return ws

    async def _respond(self, request: web.Request) -> web.Response:
        data = await self._read(request)
        self.attempts.append("respond")
        await self._slow()
        failed = self._failure("respond")
        if failed is not None:
            return failed
        self.calls.append(Call("respond", data, None, request.path))
        return web.Response(text="ok")


def view_problem(view: Any) -> str | None:
    """The documented Block Kit limits a modal is held to (a few of them, the ones forms can reach)."""
    if isinstance(view, str):
        view = json.loads(view)
    if len(view.get("private_metadata", "")) > 3000:
        return "private_metadata must be 3000 characters or fewer"
    if len((view.get("title") or {}).get("text", "")) > 24:
        return "title must be 24 characters or fewer"
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        if element.get("type") == "plain_text_input":
            if int(element.get("max_length", 0)) > 3000:
                return f"[{block.get('block_id')}] max_length must be 3000 or less"
            if len(element.get("initial_value", "")) > int(element.get("max_length", 3000)):
                return f"[{block.get('block_id')}] initial_value is longer than max_length"
    return None
