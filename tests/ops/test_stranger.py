"""A stranger cannot stall every user (issue 10, section 1), over real HTTP on 127.0.0.1 against the
whole server (``build_app``: Slack, Teams in local mode, health and metrics).

* Compressed bodies are refused (415) before they are read, on every route, and aiohttp never
  decompresses one: eight gzip bombs at once cost no memory and delay nobody's acknowledgement.
* ``Expect: 100-continue`` with a body over the limit (or compressed) is refused without inviting it.
* Odd headers and oddly shaped signed payloads get a 4xx or are ignored: never a 5xx, never an
  ERROR (a traceback) in the log. Every field of every payload is tried with every wrong type.
* Input that reaches CPU work is bounded, with a plain answer, and the checker and the lookup run
  off the event loop: a signed ``/checkpost`` is acknowledged within a second while a slow or
  hostile one is being handled."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

import councilbot.bot
from councilbot_adapters.server import MAX_BODY
from councilbot_adapters.slack import ADAPTER_KEY
from councilbot_adapters.teams.endpoint import MAX_ACTIVITY
from councilbot.checker import MAX_DRAFT
from councilbot.lookup import MAX_QUESTION

from .stack import Stack, acks_measured, described, logged_errors, running, sign_bytes
from .test_fuzz import paths, replaced, slack_templates, teams_templates

FAST = 1.0  # seconds: Slack allows 3; no acknowledgement here may come near it
ROUTES = ["/slack/events", "/api/messages", "/healthz", "/readyz", "/metrics"]
ENCODINGS = ["gzip", "deflate", "br", "zstd", "compress", "identity", "GZIP", "gzip, deflate", "x-gzip", ""]


# ---------------------------------------------------------------- helpers


async def raw(port: int, head: str, body: bytes = b"", *, read_all: bool = False) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers, CRLF-separated, ending in a blank line) and
    ``body`` as they are, and return the first status line's code (and, if asked, all that came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("utf-8", "surrogateescape") + body)  # "\udcff" is the byte 0xff
        await writer.drain()
        first = await asyncio.wait_for(reader.readline(), timeout=5)
        rest = await asyncio.wait_for(reader.read(65536), timeout=5) if read_all else b""
        return int(first.split()[1]), first + rest
    finally:
        writer.close()


def head(method: str, path: str, headers: dict[str, str] | list[tuple[str, str]]) -> str:
    items = headers.items() if isinstance(headers, dict) else headers
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"


class PeakMemory:
    """The largest resident set size of this process (the server runs in it) while running."""

    def __init__(self) -> None:
        self.peak = self.start = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def rss() -> int:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """200 MB of zeros, gzipped to about 200 KB: well under the 1 MiB limit on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join([*(packer.compress(zeros) for _ in range(200)), packer.flush()])


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as served:
        # The checker reads its language model on the first check: pay that before measuring.
        await served.slack.command("/checkpost", "warm up", user="UCLLR")
        await served.fake.wait_for("respond")
        yield served


# ---------------------------------------------------------------- compressed bodies


async def test_encoded_bodies_are_refused_before_reading_on_every_route(stack: Stack) -> None:
    port = stack.server.port
    assert port is not None
    with logged_errors() as errors:
        for route in [*ROUTES, "/nowhere"]:
            for encoding in ENCODINGS:
                for method in ("POST", "GET"):
                    # A length is declared but only a few bytes follow: an answer can only come if the
                    # server refused without waiting for the body.
                    status, _ = await raw(port, head(method, route, {
                        "Content-Type": "application/json", "Content-Encoding": encoding, "Content-Length": "900000"}), b"\x1f\x8b")
                    assert status == 415, (method, route, encoding, status)
        # Whole bodies that are bad deflate, bad brotli, bad gzip: still 415, never a 500.
        for encoding, body in (("deflate", b"\x00not deflate at all"), ("br", b"\xff\xff\xff\xff"),
                               ("gzip", zlib.compress(b"{}")[:-3]), ("zstd", b"(\xb5/\xfd\x00")):
            for route in ("/slack/events", "/api/messages"):
                status, answer = await stack.request("POST", route, data=body, headers={
                    "Content-Type": "application/json", "Content-Encoding": encoding, **sign_bytes(body)})
                assert status == 415 and b"not accepted" in answer, (route, encoding, status, answer)
        # A compressed transfer coding is refused too; one aiohttp cannot parse is a 400, not a crash.
        for coding, expected in (("gzip, chunked", 415), ("deflate,chunked", 415), ("gzip", 400), ("chunked, chunked", 400)):
            status, _ = await raw(port, head("POST", "/slack/events", {"Transfer-Encoding": coding}), b"0\r\n\r\n")
            assert status == expected, (coding, status)
    assert not errors, described(errors)
    assert (await stack.bot.store.find("events")) == []
    metrics = await stack.metrics()
    assert metrics.get('councilbot_requests_total{route="/slack/events",status="415"}', 0) >= len(ENCODINGS) + 4


async def test_gzip_bombs_cost_no_memory_and_stall_nobody(stack: Stack, bomb: bytes) -> None:
    assert len(bomb) < MAX_BODY // 4
    with logged_errors() as errors, PeakMemory() as memory:
        async with acks_measured(stack.slack) as acks:
            await asyncio.sleep(0.2)
            started = time.monotonic()
            answers = await asyncio.gather(*(
                stack.request("POST", route, data=bomb, headers={"Content-Type": "application/json",
                                                              "Content-Encoding": "gzip", **sign_bytes(bomb)})
                for route in ["/slack/events", "/api/messages"] * 4))
            assert [status for status, _ in answers] == [415] * 8
            assert time.monotonic() - started < FAST
            # Anything left to chew on would show in the acks measured from now: wait for a few.
            answered = len(acks)
            while len(acks) < answered + 3:
                assert time.monotonic() - started < 10 * FAST, acks
                await asyncio.sleep(0.02)
    assert len(acks) >= 5 and max(acks) < FAST, acks
    # 1.6 GB of zeros were offered; a decompressing server would have held tens of megabytes of
    # them at a time. The bodies themselves are 1.6 MB.
    assert memory.peak - memory.start < 40 * 1024 * 1024, (memory.start, memory.peak)
    assert not errors, described(errors)


# ---------------------------------------------------------------- Expect: 100-continue


async def test_expect_100_continue_with_a_body_that_would_be_refused_is_not_invited(stack: Stack) -> None:
    port = stack.server.port
    assert port is not None
    twenty_mb = str(20 * 1024 * 1024)
    for route in ROUTES:
        for method in ("POST", "GET"):
            status, answer = await raw(port, head(method, route, {"Expect": "100-continue", "Content-Length": twenty_mb}),
                                       read_all=True)
            assert status == 413 and b"100 Continue" not in answer, (method, route, answer[:200])
            status, answer = await raw(port, head(method, route, {"Expect": "100-continue", "Content-Length": "10",
                                                                  "Content-Encoding": "gzip"}), read_all=True)
            assert status == 415 and b"100 Continue" not in answer, (method, route, answer[:200])
    # Teams has its own, smaller limit.
    status, _ = await raw(port, head("POST", "/api/messages", {"Expect": "100-continue",
                                                               "Content-Length": str(MAX_ACTIVITY + 1)}))
    assert status == 413
    # A body within the limit is invited as usual, then judged on what it is.
    body = b'{"type": "url_verification"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head("POST", "/slack/events", {"Expect": "100-continue", "Content-Type": "application/json",
                                                    "Content-Length": str(len(body))}).encode())
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 100")
        await reader.readline()
        writer.write(body)
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).split()[1] == b"401"  # unsigned
    finally:
        writer.close()


# ---------------------------------------------------------------- odd headers


def odd_slack_headers(body: bytes) -> dict[str, list[tuple[str, str]]]:
    """Header sets a stranger might send with a (correctly signed) body."""
    good = sign_bytes(body)
    ts, signature = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]
    base = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    cases: dict[str, list[tuple[str, str]]] = {
        f"timestamp {name}": [*base, ("X-Slack-Request-Timestamp", value), ("X-Slack-Signature", signature)]
        for name, value in {
            "of 400 digits": "9" * 400, "of 309 digits": "1" + "0" * 308, "negative": "-" + ts, "signed +": "+" + ts,
            "in Arabic-Indic digits": "".join(chr(0x660 + int(d)) for d in ts), "in exponent form": "1.7e9",
            "with underscores": ts[:4] + "_" + ts[4:], "hex": "0x6553f100", "empty": "", "NaN": "nan",
            "not UTF-8": "\udcff\udcfe" + ts,
        }.items()
    }
    cases.update({
        "signature not ASCII": [*base, ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", "v0=\u00e9\u00e9")],
        "signature of 8000 bytes": [*base, ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", "v0=" + "a" * 8000)],
        "a second, junk timestamp": [*base, ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature),
                                     ("X-Slack-Request-Timestamp", "9" * 400)],
        "a second, junk signature": [*base, ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature),
                                     ("X-Slack-Signature", "v0=\u00e9")],
        "retry number junk": [*base, ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature),
                              ("X-Slack-Retry-Num", "9" * 400), ("X-Slack-Retry-Reason", "\u00e9\u00e9")],
        "content type not ASCII": [("Content-Type", "application/json; charset=\u00e9"), base[1],
                                   ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature)],
        "a header over aiohttp's limit": [*base, ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature),
                                          ("X-Padding", "p" * 9000)],
        "content length of 400 digits": [("Content-Type", "application/json"), ("Content-Length", "9" * 400),
                                         ("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature)],
    })
    return cases


async def test_odd_headers_get_a_4xx_never_a_5xx_or_a_traceback(stack: Stack) -> None:
    port = stack.server.port
    assert port is not None
    body = json.dumps({"token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": "EvODD", "event_time": int(time.time()),
                       "event": {"type": "app_home_opened", "user": "UCLLR", "channel": "DCLLR", "tab": "home"}}).encode()
    with logged_errors() as errors:
        for name, headers in odd_slack_headers(body).items():
            status, answer = await raw(port, head("POST", "/slack/events", headers), body, read_all=True)
            # Refused (401 unsigned, 400 malformed), or, where the first of each header is Slack's
            # own and only an extra is junk, handled as the signed request it is.
            still_signed = name.startswith(("a second", "retry number", "content type"))
            assert 400 <= status < 500 or (status == 200 and still_signed), (name, status, answer[:300])
        teams = stack.teams.personal("aad-cllr", "help")
        teams_body = json.dumps(teams).encode()
        for value in ("Bearer " + "9" * 400, "Bearer \u00e9.\u00e9.\u00e9", "Bearer a.b.c", "\udcff\udcfe", "Bearer",
                      "Bearer  two  spaces", "Basic " + "A" * 5000):
            status, _ = await raw(port, head("POST", "/api/messages", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(teams_body))), ("Authorization", value)]),
                teams_body)
            assert status < 500, (value[:40], status)
    assert not errors, described(errors)


# ---------------------------------------------------------------- odd shapes, field by field

JUNK: list[Any] = [{"id": "U1"}, ["x"], 7, None, True, "\u00e9" * 3000]
# Where a form's one required text is, in the payloads that would file a record. It is left empty
# here, so the core turns each down (nothing written, no dozen fsyncs per request) after the
# adapter has translated every field: it is the adapter's handling of the fields that is tried.
REQUIRED_TEXT = {
    ("slack", "report"): ("view", "state", "values", "what", "multiline", "value"),
    ("slack", "suggest"): ("view", "state", "values", "text", "multiline", "value"),
    ("teams", "report"): ("value", "action", "data", "in:what"),
    ("teams", "suggest"): ("value", "action", "data", "in:text"),
    ("teams", "submit"): ("value", "in:text"),
}


# The fields every Bot Framework activity shares: tried in full on a personal and a channel
# message; in the other activities only their own fields are tried.
ENVELOPE = frozenset({"id", "channelId", "serviceUrl", "from", "recipient", "conversation", "channelData", "locale"})


def mutations(template: Any, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
    """The template with one field at a time replaced by each wrong kind of value (or dropped).
    Modal block definitions are skipped: nothing reads them back."""
    for where in paths(template)[1:]:
        if "blocks" in where or where[0] in skip:
            continue
        for junk in JUNK:
            yield f"{'.'.join(map(str, where))} = {json.dumps(junk)[:20]}", replaced(template, where, junk, drop=False)
        yield f"{'.'.join(map(str, where))} dropped", replaced(template, where, None, drop=True)


def unfiled(platform: str, name: str, template: Any) -> Any:
    where = REQUIRED_TEXT.get((platform, name))
    return template if where is None else replaced(template, where, "", drop=False)


def slack_body(name: str, value: Any) -> tuple[bytes, str]:
    if name == "command":
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    if name in ("dm", "home", "url_verification"):
        return json.dumps(value).encode(), "application/json"
    return urlencode({"payload": json.dumps(value)}).encode(), "application/x-www-form-urlencoded"


async def in_batches(requests: list[tuple[str, Any]], send: Any, size: int = 8) -> list[tuple[str, int, bytes]]:
    """Send the requests eight at a time (as several people would): (what, status, answer) each."""
    results: list[tuple[str, int, bytes]] = []
    for start in range(0, len(requests), size):
        batch = requests[start:start + size]
        answers = await asyncio.gather(*(send(value) for _, value in batch))
        results += [(what, status, text) for (what, _), (status, text) in zip(batch, answers, strict=True)]
    return results


async def test_every_field_of_every_signed_slack_payload_with_the_wrong_type(stack: Stack) -> None:
    from councilbot_adapters.slack import blocks
    from councilbot import reports, suggestions

    ctx = stack.bot.ctx
    views = {"report": blocks.form_view(reports.form(ctx)), "suggest": blocks.form_view(suggestions.form(ctx))}
    templates = slack_templates(stack.fake.base, views)
    # The button that opens a form carries the form, packed (a press opens it without asking the core).
    templates["open form"] = {**templates["block_actions"], "actions": [{
        "type": "button", "action_id": blocks.OPEN_FORM_ACTION, "block_id": "b", "action_ts": "1.3",
        "value": blocks.encode_form(reports.form(ctx))}]}
    requests: list[tuple[str, Any]] = []
    for name, template in templates.items():
        for n, (what, value) in enumerate(mutations(unfiled("slack", name, template))):
            if name in ("dm", "home") and isinstance(value, dict):
                value = {**value, "event_id": f"Ev{name}{n}"}
            requests.append((f"{name}: {what}", slack_body(name, value)))

    async def send(request: tuple[bytes, str]) -> tuple[int, bytes]:
        body, content_type = request
        return await stack.request("POST", "/slack/events", data=body,
                                   headers={"Content-Type": content_type, **sign_bytes(body)})

    adapter = stack.server.app[ADAPTER_KEY]
    with logged_errors() as errors:
        results = await in_batches(requests, send)
        # Listeners answer after the ack, one after another: let every one finish (or fail) before looking.
        end = time.monotonic() + 60
        while (adapter.answering or adapter.tasks) and time.monotonic() < end:
            await asyncio.sleep(0.1)
    for what, status, text in results:
        assert status < 500 and status != 401, (what, status, text[:200])
    assert not errors, described(errors)
    statuses = [status for _, status, _ in results]
    assert statuses.count(200) > 100 and statuses.count(400) > 100
    assert await stack.healthy()


async def test_every_field_of_every_teams_activity_with_the_wrong_type(stack: Stack) -> None:
    await stack.teams_clerk_channel()
    requests: list[tuple[str, Any]] = []
    for name, template in teams_templates(type("Served", (), {"stack": stack})()).items():
        skip = frozenset() if name in ("message", "channel") else ENVELOPE
        for n, (what, value) in enumerate(mutations(unfiled("teams", name, template), skip)):
            if isinstance(value, dict):
                value = {**value, "id": f"odd-{name}-{n}"}
            requests.append((f"{name}: {what}", value))

    async def send(value: Any) -> tuple[int, bytes]:
        return await stack.request("POST", "/api/messages", data=json.dumps(value).encode(),
                                   headers={"Content-Type": "application/json"})

    with logged_errors() as errors:
        results = await in_batches(requests, send)
        await stack.quiet()  # whatever the odd activities set going is done before the markers are
    for (what, status, text), (_, value) in zip(results, requests, strict=True):
        if status == 501:  # botbuilder's answer to an invoke it does not implement
            assert value.get("type") == "invoke" and value.get("name") != "adaptiveCard/action", what
            continue
        assert status < 500, (what, status, text[:200])
    assert not errors, described(errors)
    statuses = [status for _, status, _ in results]
    assert statuses.count(200) > 100 and statuses.count(400) > 100


# ---------------------------------------------------------------- long input, slow checks


async def test_long_input_gets_a_plain_answer_at_once(stack: Stack) -> None:
    long_question = "can I post photos of the carnival " * 60
    answer = await stack.slack.command("/policy", long_question)
    assert answer.status == 200
    said = (await stack.fake.wait_for("respond", count=2))[-1]  # the first was the warm-up
    text = json.dumps(said.data)
    assert f"That question is {len(long_question.strip()):,} characters; the limit is {MAX_QUESTION:,}" in text
    # Just within the limit, it is looked up.
    await stack.slack.command("/policy", "photos of children " + "x" * (MAX_QUESTION - 40))
    calls = await stack.fake.wait_for("respond", count=3)
    assert "limit" not in json.dumps(calls[-1].data)
    # A message far over any limit, in Teams: said at once, nothing read.
    [reply] = await stack.teams.say("aad-cllr", "word " * 40_000)
    assert f"I can check drafts of up to {MAX_DRAFT:,} characters" in reply.text
    # A draft over the checker's limit.
    await stack.slack.command("/checkpost", "x" * (MAX_DRAFT + 1))
    calls = await stack.fake.wait_for("respond", count=4)
    assert f"That draft is {MAX_DRAFT + 1:,} characters; the limit is {MAX_DRAFT:,}" in json.dumps(calls[-1].data)


async def test_hostile_input_is_handled_while_acks_stay_under_a_second(stack: Stack, bomb: bytes) -> None:
    """Everything a stranger (or a councillor) can send that costs work, all at once, while a
    signed /checkpost is sent every 50 ms."""
    from councilbot_adapters.slack import blocks

    await stack.teams_clerk_channel()
    # A button press whose packed form is a zlib bomb (100 MB of zeros in 130 KB).
    packer = zlib.compressobj(9)
    bomb_value = base64.urlsafe_b64encode(b"".join([*(packer.compress(bytes(1 << 20)) for _ in range(100)),
                                                    packer.flush()])).decode()
    presses = [{"type": "block_actions", "team": {"id": "T1", "domain": "alsager"}, "trigger_id": "t.9",
                "user": {"id": "UCLLR", "username": "ucllr", "name": "ucllr"}, "api_app_id": "A1",
                "actions": [{"type": "button", "action_id": blocks.OPEN_FORM_ACTION, "block_id": "b", "value": value}]}
               for value in (bomb_value, bomb_value[:2000])]  # the whole bomb, and as much as a button holds
    mentions = stack.teams.personal("aad-cllr", "x" * 60_000)  # and 2,000 different mentions of the bot
    mentions["entities"] = [{"type": "mention", "text": f"<at>B{n}</at>", "mentioned": {"id": mentions["recipient"]["id"]}}
                            for n in range(2_000)]
    assert len(json.dumps(mentions)) < MAX_ACTIVITY
    with logged_errors() as errors:
        async with acks_measured(stack.slack) as acks:
            work = [
                stack.slack.command("/policy", "can I post photos " * 50_000),  # 900 KB
                *(stack.slack.command("/checkpost", f"{n} Our litter pick is on Saturday! " * 290) for n in range(12)),
                stack.slack.dm("may I post: " + "The bypass vote is a disgrace. " * 320),
                stack.teams.post(stack.teams.personal("aad-cllr", "policy " + "photos of children " * 12_000)),
                stack.teams.post(mentions),
                *(stack.slack.interact(press) for press in presses),
                stack.request("POST", "/slack/events", data=bomb, headers={"Content-Encoding": "gzip"}),
            ]
            answers = await asyncio.gather(*work)
            statuses = [a[0] if isinstance(a, tuple) else a.status for a in answers]
            assert statuses == [200] * 18 + [415], statuses
            await stack.fake.wait_for("respond", count=14, timeout=30)  # every verdict and answer came
            await asyncio.sleep(0.2)
    assert len(acks) >= 5 and max(acks) < FAST, acks
    assert not errors, described(errors)


async def test_a_slow_check_runs_off_the_event_loop(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker runs in the core's worker thread: a check that takes 1.5 s of CPU (a stand-in
    that spins, then checks) delays nobody's acknowledgement. (Run on the event loop, as before,
    it held up every request for those 1.5 s.) The lookup's thread: tests/core/test_off_loop.py."""
    threads: list[str] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    real_check = councilbot.bot.check

    def slow_check(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        if "SLOW" not in str(args):
            return real_check(*args)
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            sum(range(1000))
        try:
            return real_check(*args)
        finally:
            loop.call_soon_threadsafe(done.set)

    monkeypatch.setattr(councilbot.bot, "check", slow_check)
    async with acks_measured(stack.slack) as acks:
        await asyncio.sleep(0.2)
        answer = await stack.slack.command("/checkpost", "SLOW Our litter pick is on Saturday at 10am!")
        assert answer.status == 200 and answer.seconds < FAST
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.sleep(0.2)
    assert threads and all(name.startswith("councilbot-cpu") for name in threads), threads
    assert len(acks) >= 10 and max(acks) < FAST, acks
