"""Rules every chat adapter follows, written once so that Slack, Teams and the terminal cannot
drift apart: which answer is a form turned down, which submission is a repeat, what an HTTP
failure means for the outbox, and how an answer that could not be shown still reaches the person.
No chat SDK here: each adapter reads its SDK's objects and hands these functions plain values."""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import timezone
from typing import Any

import aiohttp

from councilbot.evidence import MAX_BYTES
from councilbot.messages import Reply
from councilbot.outbox import Outbox
from councilbot.ports import DeliveryError, platform_of

log = logging.getLogger(__name__)

# Seconds to wait after a 429 that does not say how long (Slack and the Bot Connector always
# should); the outbox backs off further if it happens again.
DEFAULT_RATE_LIMIT_WAIT = 2.0
# Longest form-instance id taken from a payload (a Slack view id and hash, a Teams card's sheet id):
# it goes into a stored key, and a stranger's payload may carry anything.
MAX_INSTANCE = 128


# ---------------------------------------------------------------- forms


def form_error(replies: Sequence[Reply]) -> Reply | None:
    """The core's answer when a submitted form was turned down as bad input (``Reply.form_error``):
    the form must stay open with the person's answers. None when the submission was taken."""
    return next((reply for reply in replies if reply.form_error), None)


def errors_by_input(reply: Reply, inputs: Sequence[str], limit: int = 300) -> dict[str, str]:
    """What to show beside each input of a form the core turned down: each field of the reply
    names an input at fault; a message about the whole form (or naming no input the form has)
    goes beside the first input, so it is seen where the person is looking."""
    names = set(inputs)
    errors = {f.label: (f.value or reply.text)[:limit] for f in reply.fields if f.label in names}
    if not errors and inputs:
        errors = {inputs[0]: (reply.text or reply.title or "Please check the form.")[:limit]}
    return errors


def submission_key(kind: str, instance: Any, values: Mapping[str, Any]) -> str | None:
    """The event id of a form submission: one form (``instance``: a Slack view, a Teams card) sent
    with the same answers is one submission, however many presses of Submit or redeliveries bring
    it, so it files one record; different answers (after fixing an error) are a new one. None when
    the payload names no instance of ours."""
    if not isinstance(instance, str) or not instance or len(instance) > MAX_INSTANCE:
        return None
    answers = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{kind}:{instance}:{answers}"


# ---------------------------------------------------------------- HTTP failures


def header(headers: Any, name: str) -> str | None:
    """One header's value from whatever an SDK gives (a dict, a case-insensitive mapping, values
    as lists), matched without regard to case."""
    if not headers:
        return None
    try:
        items = list(headers.items())
    except AttributeError:
        return None
    for key, value in items:
        if str(key).lower() == name.lower():
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            return None if value is None else str(value)
    return None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: a number of seconds (fractions too: "1.5") or an HTTP
    date (RFC 9110), never less than 0. None when absent or unreadable, for the caller's default."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # "-0000": HTTP dates are always GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # "nan", "inf"
        return None
    return max(0.0, seconds)


def http_failure(what: str, status: int, headers: Any = None) -> DeliveryError:
    """An HTTP answer that was not a success -> what the outbox (or a reply's own retry) should do:
    429 waits as the service asks (``Retry-After``); 5xx, 408, 401 (a token being renewed) and no
    answer at all (0) are tried again; any other 4xx (gone, forbidden, bad request) cannot improve."""
    if status == 429:
        wait = retry_after_seconds(header(headers, "Retry-After"))
        return DeliveryError(f"{what}: rate limited (429)", retry_after=DEFAULT_RATE_LIMIT_WAIT if wait is None else wait)
    if status >= 500 or status in (0, 401, 408):
        return DeliveryError(f"{what}: answered {status}")
    return DeliveryError(f"{what}: refused ({status})", permanent=True)


# ---------------------------------------------------------------- answers that could not be shown


async def queue_for_person(outbox: Outbox, user: str, replies: Sequence[Reply], why: BaseException) -> None:
    """Answers the platform would not take in place (down longer than a reply can wait, an expired
    Slack response URL, shutting down mid-reply) go through the core's durable outbox to the
    person's direct messages, so a receipt the core has promised (a report's reference) is never
    lost. The caller then counts them as delivered (``CouncilBot.delivered``): they are queued."""
    if not replies:
        return
    log.warning("could not deliver a reply (%s); queued for the person's direct messages", why.__class__.__name__)
    batch = uuid.uuid4().hex
    platform = platform_of(user)
    for number, reply in enumerate(replies):
        await outbox.send(f"{platform}-reply:{batch}:{number}", user, reply)


async def read_capped(resp: aiohttp.ClientResponse) -> bytes:
    """A downloaded file's body, but never more than the core's limit plus one byte (so the core
    can say it is too big without anyone holding a huge file in memory)."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_BYTES:
            break
    return b"".join(chunks)[:MAX_BYTES + 1]
