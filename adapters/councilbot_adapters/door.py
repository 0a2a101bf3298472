"""What the HTTP door refuses before a body is read, shared by every route (``server.py``)
and by the Slack and Teams endpoints (which can also be mounted on a bare aiohttp app).

Why before reading: aiohttp decompresses a request body as its bytes arrive, so a small gzip of
zeros costs seconds of CPU and hundreds of megabytes however early a handler answers; and a client
that sent ``Expect: 100-continue`` only sends its body once invited. Neither Slack nor the Bot
Framework compresses requests or asks to continue with more than a megabyte, so a request that does
is refused at once, and aiohttp is told never to decompress (``HANDLER_ARGS``)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
# aiohttp's own handler (it sends "100 Continue", or 417 for an unknown expectation): a route's
# ``expect_handler`` replaces it, so it is called for every request that is not refused.
from aiohttp.web_urldispatcher import _default_expect_handler

MAX_BODY = 1024 * 1024  # Slack and Bot Framework payloads are far smaller; refuse anything larger early


class ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server log, with one change: a request aiohttp cannot parse (a header too long, a
    bad chunk, an unknown transfer coding: the client's fault, answered 400) is one warning line,
    not an ERROR with a traceback, which a stranger could otherwise write to the log at will. What
    fails inside a handler (a 500, our fault) is still logged with its traceback."""

    def exception(self, msg: Any, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.warning("refused a request that is not valid HTTP (%s, %s)", exc_info.__class__.__name__,
                         exc_info.code or 400)
            return
        self.error(msg, *args, exc_info=exc_info, **kwargs)


# Passed to aiohttp's request handler (``web.Application(handler_args=...)``): bodies stay as
# sent, and requests that are not HTTP are logged as the client's mistake.
HANDLER_ARGS: dict[str, Any] = {"auto_decompress": False, "logger": ServerLog(logging.getLogger("aiohttp.server"), {})}
ENCODED = "Compressed or encoded request bodies are not accepted."
TOO_LARGE = "Request body too large."

ExpectHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
UNMATCHED = "unmatched"  # the name of the route that takes what no other route takes


def refusal(request: web.Request, limit: int = MAX_BODY) -> web.Response | None:
    """The answer for a request that must not be read (415 for any Content-Encoding, or a
    transfer coding other than chunked; 413 for a declared length over ``limit``), or None. It
    closes the connection: whatever of the body still arrives is discarded as raw bytes."""
    coded = request.headers.get(hdrs.TRANSFER_ENCODING, "chunked").replace(" ", "").lower() != "chunked"
    if hdrs.CONTENT_ENCODING in request.headers or coded:  # coded on the way too ("gzip, chunked")
        response = web.Response(status=415, text=ENCODED)
    elif (request.content_length or 0) > limit:
        response = web.Response(status=413, text=TOO_LARGE)
    else:
        return None
    response.force_close()
    return response


def expect_handler(limit: int = MAX_BODY) -> ExpectHandler:
    """An ``expect_handler`` for a route: a request that would be refused is answered before the
    client is invited to send its body; any other gets aiohttp's usual "100 Continue"."""

    async def expect(request: web.Request) -> web.StreamResponse | None:
        refused = refusal(request, limit)
        if refused is not None:
            return refused
        await _default_expect_handler(request)
        return None

    return expect


def add_unmatched_route(app: web.Application, limit: int = MAX_BODY) -> None:
    """Add, last, a route for every request no other route takes, answering aiohttp's own 404 or
    405. aiohttp answers those by itself too, but an ``Expect: 100-continue`` request is first
    invited to send its body, however large; this route's expect handler answers at once."""

    async def unmatched(request: web.Request) -> web.StreamResponse:
        raise await _not_here(request)

    async def expect(request: web.Request) -> web.StreamResponse | None:
        refused = refusal(request, limit)
        if refused is not None:
            return refused
        answer = await _not_here(request)
        response = web.Response(status=answer.status, text=answer.text)
        if hdrs.ALLOW in answer.headers:
            response.headers[hdrs.ALLOW] = answer.headers[hdrs.ALLOW]
        response.force_close()
        return response

    app.router.add_route("*", "/{path:.*}", unmatched, name=UNMATCHED, expect_handler=expect)


async def _not_here(request: web.Request) -> web.HTTPException:
    """What aiohttp's router would answer: 405 where another route has the path, otherwise 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name != UNMATCHED:
            allowed |= (await resource.resolve(request))[1]
    return web.HTTPMethodNotAllowed(request.method, allowed) if allowed else web.HTTPNotFound()
