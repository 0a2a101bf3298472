"""Structured JSON logs with a request id on every line, and no personal data: the core logs ids,
kinds and counts, never message text, names or report contents."""

from __future__ import annotations

import contextvars
import logging
import sys
import uuid
from typing import IO

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def new_request_id() -> str:
    rid = uuid.uuid4().hex[:16]
    request_id.set(rid)
    return rid


def configure(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """JSON lines on stderr, for journald, Docker and log shippers alike (or on ``stream``: the
    terminal chat writes them to a file, away from the conversation on screen)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                       rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library loggers can print payloads at DEBUG; keep them at WARNING unless asked.
    for noisy in ("slack_bolt", "slack_sdk", "botbuilder", "aiohttp.access", "msrest", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
