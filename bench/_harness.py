"""A real ``councilbot serve`` subprocess on 127.0.0.1, the fake Slack from ``tests/slack`` and
simulated Slack users: shared by ``bench/crash.py``, ``bench/load.py`` and ``tests/ops_crash``.

Everything here is bounded: every wait has a timeout, every loop a count or a deadline, and all
traffic stays on 127.0.0.1 (the server's Web API calls go to the fake Slack, proxies are unset).

What "acknowledged" means (the crash proof rests on it): a report filing is acknowledged when the
fake Slack has received the receipt the adapter sends the reporter, the direct message titled
"Report R-YYYY-NNNN received", i.e. the moment the user has been told the reference. The adapter
sends it only after ``CouncilBot.handle`` returned (the record already inserted and fsynced) and
after the view_submission's 200 that closes the modal; a 200 alone tells the user nothing, so
it does not count. Suggestions: "Suggestion S-... sent to the Clerk"; approvals: the response_url
answer "S-... approved".
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
for _tests in (str(ROOT / "tests" / "slack"), str(ROOT / "tests")):  # the fakes, and the suite's PostgreSQL finder
    if _tests not in sys.path:
        sys.path.insert(0, _tests)

from fake_slack import Call, FakeSlack  # noqa: E402
from pg import pg_bin  # noqa: E402
from slack_harness import SECRET, Answer, SlackClient, sign, submission, texts  # noqa: E402

from councilbot.store import TinyStore  # noqa: E402

TOKEN = "xoxb-ops"
CLERK, ASSISTANT = "UCLERK", "UASSIST"
CLERK_CHANNEL = "CCLERK"
HOST = "127.0.0.1"

REPORT_RECEIPT = re.compile(r"Report (R-\d{4}-\d{4,}) received")
SUGGESTION_RECEIPT = re.compile(r"Suggestion (S-\d{4}-\d{4,}) sent to the Clerk")
APPROVED = re.compile(r"(S-\d{4}-\d{4,}) approved\. The author has been told")
VERDICT = re.compile(r"OK to post|Caution|Do not post")


def councillors(n: int, start: int = 100) -> list[str]:
    return [f"U{start + i:03d}" for i in range(n)]


# ---------------------------------------------------------------- the fake Slack, watched


class _Calls(list):  # type: ignore[type-arg]
    """FakeSlack's list of calls, telling the watcher of each one as it is recorded."""

    def __init__(self, seen: Callable[[Call], None]) -> None:
        super().__init__()
        self._seen = seen

    def append(self, call: Call) -> None:  # type: ignore[override]
        super().append(call)
        self._seen(call)


def _key(call: Call) -> str:
    if call.method == "respond":
        return "respond:" + call.path
    return f"{call.method}:{call.data.get('channel') or call.data.get('trigger_id') or ''}"


class WatchedSlack(FakeSlack):
    """tests/slack's FakeSlack, plus waiters keyed by where a message goes, so thousands of
    simulated requests can each wait for their own answer without polling the call list."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = _Calls(self._seen)
        self._waiters: dict[str, list[tuple[Callable[[Call], bool], asyncio.Future[Call]]]] = defaultdict(list)

    def _seen(self, call: Call) -> None:
        waiting = self._waiters.get(_key(call))
        if not waiting:
            return
        for entry in list(waiting):
            match, future = entry
            if not future.done() and match(call):
                future.set_result(call)
                waiting.remove(entry)
                return

    def expect(self, key: str, match: Callable[[Call], bool] = lambda c: True) -> asyncio.Future[Call]:
        """Register before sending: ``respond:/respond/<k>``, ``chat.postMessage:<channel>``, ``views.open:<trigger>``."""
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._waiters[key].append((match, future))
        return future

    def forget(self, key: str, future: asyncio.Future[Call]) -> None:
        self._waiters[key] = [w for w in self._waiters.get(key, []) if w[1] is not future]
        if not future.done():
            future.cancel()

    def posts_to(self, channel: str) -> list[Call]:
        return [c for c in self.calls if c.method == "chat.postMessage" and c.data.get("channel") == channel]

    def receipts(self, pattern: re.Pattern[str], channels: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(ref, channel) for every receipt matching ``pattern`` the fake Slack received, in order."""
        wanted = set(channels) if channels is not None else None
        found = []
        for c in list(self.calls):
            if c.method != "chat.postMessage" or (wanted is not None and c.data.get("channel") not in wanted):
                continue
            m = pattern.search(texts(c.data))
            if m:
                found.append((m.group(1), str(c.data.get("channel"))))
        return found


# ---------------------------------------------------------------- the server under test


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def councilbot_command() -> list[str]:
    """The installed ``councilbot`` script next to this Python (the venv's), else ``-m councilbot_adapters.cli``."""
    script = Path(sys.executable).with_name("councilbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "councilbot_adapters.cli"]


class ServerDied(RuntimeError):
    pass


class ServeProcess:
    """``councilbot serve --host 127.0.0.1 --port P --config W/councilbot.toml`` with data in W/data."""

    def __init__(self, workdir: Path, api_url: str, people: dict[str, str], *, config_text: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        """``config_text``: a whole councilbot.toml of the caller's (several councils, PostgreSQL)
        instead of the one-council file built from ``people``; ``env``: more environment
        (``COUNCILBOT_DATABASE_URL``, each council's ``SLACK_BOT_TOKEN_<ID>``)."""
        self.workdir = Path(workdir)
        self.extra_env = dict(env or {})
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.config = self.workdir / "councilbot.toml"
        self.log_path = self.workdir / "serve.log"
        lines = ['council = "alsager"', 'data_dir = "data"', "", "[people]"]
        lines += [f'"slack:{user}" = "{role}"' for user, role in people.items()]
        lines += ["", "[slack]", f'clerk_channel = "{CLERK_CHANNEL}"', f'api_url = "{api_url}"', ""]
        self.config.write_text(config_text if config_text is not None else "\n".join(lines), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.launched_at = 0.0
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base}/slack/events"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("COUNCILBOT_") and k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}}
        env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
        env.pop("SLACK_APP_TOKEN", None)
        env.update(self.extra_env)
        return env

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def launch(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = free_port()
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {self.starts} on port {self.port} ===\n".encode())
            log.flush()
            self.launched_at = time.monotonic()
            self.proc = subprocess.Popen(
                [*councilbot_command(), "serve", "--host", HOST, "--port", str(self.port), "--config", str(self.config)],
                cwd=self.workdir, env=self._env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    async def wait_healthy(self, timeout: float = 30.0) -> float:
        """Seconds from launch until GET /healthz answered 200 (polled every 20 ms)."""
        deadline = self.launched_at + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    raise ServerDied(f"councilbot serve exited ({self.proc and self.proc.returncode}):\n{self.log_tail()}")
                try:
                    async with session.get(f"{self.base}/healthz") as resp:
                        if resp.status == 200:
                            return time.monotonic() - self.launched_at
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    pass
                await asyncio.sleep(0.02)
        raise ServerDied(f"/healthz not 200 within {timeout}s:\n{self.log_tail()}")

    async def start(self, timeout: float = 30.0, attempts: int = 3) -> float:
        """Launch and wait until healthy; a port lost to a race is retried (at most ``attempts`` times)."""
        for attempt in range(attempts):
            self.launch()
            try:
                return await self.wait_healthy(timeout)
            except ServerDied:
                if "cannot listen" in self.log_tail(300) and attempt < attempts - 1:
                    continue
                raise
        raise AssertionError("unreachable")

    async def get_json(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(f"{self.base}{path}") as resp:
                return resp.status, await resp.json(content_type=None)

    def peak_rss_mb(self) -> float:
        """VmHWM (peak resident set) of the running server, in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (/proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def _wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.proc.poll()

    async def kill9(self) -> None:
        """SIGKILL, no warning: nothing in the server runs after this."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            await self._wait_exit(10)

    async def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful: in-flight requests finish, the outbox flushes); SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        code = await self._wait_exit(timeout)
        if code is None:
            self.proc.kill()
            await self._wait_exit(5)
        return code


# ---------------------------------------------------------------- simulated Slack users


BUSY_WORDS = "very busy"


@dataclass
class Outcome:
    op: str
    ok: bool
    ack_s: float = 0.0
    total_s: float = 0.0
    error: str = ""
    answer: Call | None = None
    ref: str = ""


class Users:
    """Slack's side of the conversation, for many users at once: signed requests to the server,
    each waiting (bounded) for its own answer at the fake Slack."""

    def __init__(self, fake: WatchedSlack, events_url: str, answer_timeout: float = 60.0, http_timeout: float = 15.0) -> None:
        self.fake = fake
        self.client = SlackClient(events_url, fake)
        self.answer_timeout = answer_timeout
        self.http_timeout = http_timeout
        self._n = 0
        self.closed: set[str] = set()  # tags of submissions whose HTTP ack was a clean 200 (the modal closed)

    def retarget(self, events_url: str) -> None:
        self.client.url = events_url

    async def close(self) -> None:
        await self.client.close()

    def _next(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}-{uuid.uuid4().hex[:6]}"

    async def _exchange(self, op: str, send: Callable[[], Any], key: str, match: Callable[[Call], bool],
                        ack_ok: Callable[[Any], str], tag: str = "",
                        told_in_ack: Callable[[Any], str] | None = None) -> Outcome:
        """Send, check the HTTP ack, then wait for the answer at the fake Slack (unless the ack
        itself already told the person: ``told_in_ack`` returns the reference it showed)."""
        waiter = self.fake.expect(key, match)
        start = time.monotonic()
        try:
            try:
                answer = await asyncio.wait_for(send(), self.http_timeout)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                return Outcome(op, False, time.monotonic() - start, time.monotonic() - start, f"http: {exc.__class__.__name__}")
            ack_s = time.monotonic() - start
            problem = ack_ok(answer)
            if problem:
                return Outcome(op, False, ack_s, ack_s, problem)
            if tag:
                self.closed.add(tag)
            shown = told_in_ack(answer) if told_in_ack else ""
            if shown:
                return Outcome(op, True, ack_s, ack_s, ref=shown)
            try:
                call = await asyncio.wait_for(asyncio.shield(waiter), self.answer_timeout)
            except asyncio.TimeoutError:
                return Outcome(op, False, ack_s, time.monotonic() - start, f"no answer within {self.answer_timeout}s")
            return Outcome(op, True, ack_s, time.monotonic() - start, answer=call)
        finally:
            self.fake.forget(key, waiter)

    @staticmethod
    def _empty_ack(answer: Any) -> str:
        if answer.status != 200:
            return f"ack status {answer.status}"
        if BUSY_WORDS in answer.text:
            return "ack said busy"
        if answer.text not in ("", "{}"):
            return f"unexpected ack body {answer.text[:120]!r}"
        return ""

    @staticmethod
    def _modal_ack(answer: Any) -> str:
        """A submission closes the modal (empty body) or turns it into the receipt (an update)."""
        if answer.status == 200 and answer.text.startswith("{") and '"response_action": "update"' in answer.text:
            return ""
        return Users._empty_ack(answer)

    # -- slash commands, answered through their own response_url

    async def command(self, op: str, command: str, text: str, user: str, team: str = "T1",
                      match: Callable[[Call], bool] = lambda c: True) -> Outcome:
        """``match``: which response_url message is the answer (e.g. the one carrying a verdict)."""
        key = self._next(f"{team}-c")
        body = urlencode({
            "token": "legacy", "team_id": team, "team_domain": "alsager", "channel_id": "C1", "channel_name": "general",
            "user_id": user, "user_name": user.lower(), "command": command, "text": text, "api_app_id": "A1",
            "is_enterprise_install": "false", "response_url": self.fake.response_url(key), "trigger_id": f"trigger.{key}",
        })
        return await self._exchange(op, lambda: self.client.post(body, "application/x-www-form-urlencoded"),
                                    f"respond:/respond/{key}", match, self._empty_ack)

    async def open_form(self, command: str, user: str, text: str = "", team: str = "T1") -> dict[str, Any]:
        """The modal the server opens for /report or /suggest (captured at views.open)."""
        key = self._next(f"{team}-f")
        body = urlencode({
            "token": "legacy", "team_id": team, "team_domain": "alsager", "channel_id": "C1", "user_id": user,
            "user_name": user.lower(), "command": command, "text": text, "api_app_id": "A1",
            "response_url": self.fake.response_url(key), "trigger_id": f"trigger.{key}",
        })
        out = await self._exchange("form", lambda: self.client.post(body, "application/x-www-form-urlencoded"),
                                   f"views.open:trigger.{key}", lambda c: True, self._empty_ack)
        if not out.ok or out.answer is None:
            raise AssertionError(f"{command} did not open a modal: {out.error}")
        return dict(out.answer.data["view"])

    # -- modal submissions, answered by a DM to the submitter

    async def submit(self, op: str, view: dict[str, Any], answers: dict[str, Any], user: str, receipt: re.Pattern[str],
                     tag: str = "", team: str = "T1") -> Outcome:
        def shown(answer: Any) -> str:
            m = receipt.search(json.dumps(json.loads(answer.text).get("view", {}))) if answer.text.startswith("{") else None
            return m.group(1) if m else ""

        # Built once: a retry (on another replica) sends the same submission, as Slack would.
        payload = {**submission(view, answers, user), "team": {"id": team, "domain": team.lower()}}
        out = await self._exchange(op, lambda: self.client.interact(payload),
                                   f"chat.postMessage:{user}", lambda c: bool(receipt.search(texts(c.data))), self._modal_ack, tag,
                                   told_in_ack=shown)
        if out.ok and out.answer is not None:
            out.ref = receipt.search(texts(out.answer.data)).group(1)  # type: ignore[union-attr]
        return out

    # -- a button press on a card in the clerk channel, answered through its response_url

    async def press(self, op: str, action_id: str, value: str, user: str, expect: re.Pattern[str],
                    team: str = "T1", channel: str = CLERK_CHANNEL) -> Outcome:
        key = self._next(f"{team}-a")
        payload = {
            "type": "block_actions", "team": {"id": team, "domain": "alsager"},
            "user": {"id": user, "username": user.lower(), "name": user.lower()}, "api_app_id": "A1",
            "trigger_id": f"trigger.{key}",
            "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "clerk"}, "response_url": self.fake.response_url(key),
            "message": {"type": "message", "ts": "1700000000.000001", "text": ""},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                         "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1700000200.000000"}],
        }
        out = await self._exchange(op, lambda: self.client.interact(payload), f"respond:/respond/{key}",
                                   lambda c: True, self._empty_ack)
        if out.ok and out.answer is not None:
            m = expect.search(texts(out.answer.data))
            if not m:
                out.ok, out.error = False, f"unexpected answer {texts(out.answer.data)[-200:]!r}"
            else:
                out.ref = m.group(1)
        return out


REPORT_PLATFORMS = ("facebook", "twitter", "email", "instagram")


def report_answers(token: str, rng: random.Random) -> dict[str, Any]:
    return {
        "what": f"Someone keeps sending me abusive messages about the planning vote ({token}).",
        "platform": rng.choice(REPORT_PLATFORMS), "when": "last night about 9pm",
        "danger": ["true"] if rng.random() < 0.1 else [],  # the toggle is one checkbox whose value is "true"
        "evidence": f"https://example.org/evidence/{token}",
    }


# ---------------------------------------------------------------- the crash proof


@dataclass
class CrashResult:
    kills: int = 0
    acknowledged: int = 0           # reports the user was told the reference of (receipts at the fake Slack)
    checked: int = 0                # of those, looked up in the store after the last kill
    text_checked: int = 0           # of those, also compared with the text the filer sent (the filer saw its receipt)
    missing: list[str] = field(default_factory=list)       # acknowledged but not in the store
    wrong: list[str] = field(default_factory=list)         # in the store but not what that user filed
    duplicate_refs: list[str] = field(default_factory=list)  # one reference told to two filings
    submissions: int = 0
    stored: int = 0
    torn_writes: int = 0            # kills that left a temp file behind: the kill landed mid-write
    restarts: list[float] = field(default_factory=list)   # launch -> /healthz 200, seconds, per start
    notices_expected: int = 0
    notices_delivered: int = 0
    notice_duplicates: int = 0
    closed_untold: int = 0          # stored, the modal closed (200), but the receipt never reached the user
    never_told: int = -1            # after the final restart: stored reports whose reference never reached the reporter
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.missing or self.wrong or self.duplicate_refs or self.errors) and self.acknowledged > 0


def check_store(data_dir: Path, told: dict[str, str], tokens: dict[str, str], result: CrashResult,
                closed: set[str] | None = None) -> None:
    """Open the data folder as the server would (every shard is read and parsed) and look up every
    acknowledged report: present, filed by the user who was told its reference, with their text."""
    for path in data_dir.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8") or "{}")  # raises if a data file is damaged
    store = TinyStore(data_dir)
    try:
        result.stored = store.count("reports")
        result.missing, result.wrong = [], []
        for ref, user in told.items():
            record = store.get("reports", ref)
            if record is None:
                result.missing.append(ref)
            elif record.get("reporter") != f"slack:{user}" or (ref in tokens and tokens[ref] not in record.get("what", "")):
                result.wrong.append(ref)
        result.checked = len(told)
        result.text_checked = sum(1 for ref in told if ref in tokens)
        result.never_told = sum(1 for r in store.all("reports") if r["id"] not in told)
        if closed is not None:
            token = re.compile(r"\(([0-9a-f]{12})\)")
            result.closed_untold = sum(
                1 for r in store.all("reports")
                if r["id"] not in told and (m := token.search(r.get("what", ""))) and m.group(1) in closed)
    finally:
        store.close()


async def run_crash(workdir: Path, kills: int = 20, filers: int = 8, seed: int | None = None,
                    window: tuple[float, float] = (0.05, 2.5), say: Callable[[str], None] = lambda s: None,
                    notice_wait: float = 120.0) -> CrashResult:
    """Continuous report filings by ``filers`` users; ``kills`` times SIGKILL the server at a random
    moment (uniform in ``window`` seconds after it became healthy and the load began), check the
    store, restart. After the last kill: one more restart, which must come up healthy and deliver the
    Clerk's notices for every acknowledged report (at least once)."""
    rng = random.Random(seed)
    result = CrashResult()
    users_ids = councillors(filers)
    people = {CLERK: "clerk", **{u: "councillor" for u in users_ids}}
    fake = WatchedSlack()
    await fake.start()
    server = ServeProcess(workdir, fake.api_url, people)
    users: Users | None = None
    tokens: dict[str, str] = {}     # ref -> the token its filing carried (when the filer saw the receipt)
    shown: dict[str, str] = {}      # ref -> user, for references shown in the submitted modal itself
    try:
        result.restarts.append(await server.start())
        users = Users(fake, server.events_url, answer_timeout=15.0, http_timeout=10.0)
        view = await users.open_form("/report", users_ids[0])

        async def filer(user: str, stop: asyncio.Event) -> None:
            while not stop.is_set():
                token = uuid.uuid4().hex[:12]
                result.submissions += 1
                assert users is not None
                out = await users.submit("report", view, report_answers(token, rng), user, REPORT_RECEIPT, tag=token)
                if out.ok:
                    tokens[out.ref] = token
                    shown[out.ref] = user
                elif not stop.is_set():
                    await asyncio.sleep(0.05)  # refused or failed while up: do not spin

        for n in range(1, kills + 1):
            stop = asyncio.Event()
            before = _temp_files(server.data_dir)
            tasks = [asyncio.create_task(filer(u, stop)) for u in users_ids]
            await asyncio.sleep(rng.uniform(*window))
            await server.kill9()
            stop.set()
            # Nothing more can come from a dead server: let the fake Slack finish recording what fully
            # reached it, then stop the filers (one may be waiting for a receipt that will never come;
            # acknowledgements are read from the fake Slack's record, not from the filers).
            await asyncio.sleep(0.3)
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks, timeout=5)
            result.kills = n
            result.torn_writes += bool(_temp_files(server.data_dir) - before)
            told = _told(fake, users_ids, result, shown)
            check_store(server.data_dir, told, tokens, result)
            say(f"kill {n:2d}: {len(told)} acknowledged so far, {result.stored} stored, missing {len(result.missing)}")
            if result.missing or result.wrong:
                break
            result.restarts.append(await server.start())
            users.retarget(server.events_url)

        # The final restart must deliver the Clerk's channel notice of every acknowledged report.
        if server.proc is None or server.proc.poll() is not None:
            result.restarts.append(await server.start())
        told = _told(fake, users_ids, result, shown)
        result.notices_expected = len(told)
        waited = time.monotonic()
        deadline = waited + notice_wait
        depth = None
        while time.monotonic() < deadline:
            status, ready = await server.get_json("/readyz")
            depth = ready.get("outbox_depth") if status == 200 else None
            if depth == 0:
                break
            await asyncio.sleep(0.2)
        say(f"after the final restart the outbox {'emptied' if depth == 0 else f'still held {depth}'} "
            f"in {time.monotonic() - waited:.1f} s")
        notices: dict[str, int] = defaultdict(int)
        for c in fake.posts_to(CLERK_CHANNEL):
            m = re.search(r"New report (R-\d{4}-\d{4,})", texts(c.data))
            if m:
                notices[m.group(1)] += 1
        result.notices_delivered = sum(1 for ref in told if notices.get(ref))
        result.notice_duplicates = sum(v - 1 for v in notices.values() if v > 1)
        # Receipts the outbox delivered after the restart (a crash between filing and answering)
        # count as told: the reporter has their reference.
        told = _told(fake, users_ids, result, shown)
        code = await server.stop()
        if code != 0:
            result.errors.append(f"graceful stop exited {code}")
        check_store(server.data_dir, told, tokens, result, users.closed)
        result.acknowledged = len(told)
        if result.notices_delivered < result.notices_expected:
            result.errors.append(f"clerk notices: {result.notices_delivered}/{result.notices_expected} delivered")
    except ServerDied as exc:
        result.errors.append(str(exc))
    finally:
        await server.kill9()
        if users is not None:
            await users.close()
        await fake.close()
    return result


def _temp_files(data_dir: Path) -> set[tuple[str, int]]:
    """Temporary files of shard writes (``.NNNN.json.tmp``) with their modification times: one that
    is new after a kill shows the kill landed in the middle of a write."""
    found = set()
    for p in data_dir.rglob("*.tmp"):
        try:
            found.add((str(p), p.stat().st_mtime_ns))
        except OSError:
            pass
    return found


def _told(fake: WatchedSlack, users_ids: list[str], result: CrashResult, shown: dict[str, str]) -> dict[str, str]:
    """ref -> user, from every receipt the fake Slack received and every reference a submitted modal
    showed (the person was told either way); a reference sent twice as a receipt is a failure."""
    told: dict[str, str] = dict(shown)
    dupes = []
    for ref, user in fake.receipts(REPORT_RECEIPT, users_ids):
        if ref in told and ref not in shown:
            dupes.append(ref)
        told[ref] = user
    result.duplicate_refs = dupes
    result.acknowledged = len(told)
    return told


# ---------------------------------------------------------------- PostgreSQL and several replicas


class PostgresServer:
    """A throwaway PostgreSQL from the machine's own binaries, in a temporary folder on a free
    loopback port (as root: run as ``postgres`` through runuser, since initdb refuses root), with
    the bot's database owned by an ordinary role, as deploy/postgres-init.sh makes it, so row-level
    security applies to every query the replicas make. ``stop`` removes everything."""

    ROLE = "councilbot"
    DB = "councilbot"

    def __init__(self) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) were not found; set COUNCILBOT_PG_BIN to their folder")
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="councilbot-bench-pg-"))
        self.as_root = os.geteuid() == 0
        self.prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        self.port = 0
        self.started = False

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}")

    def start(self) -> "PostgresServer":
        import psycopg

        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
        for attempt in range(3):  # another process may take the free port between choosing and binding it
            self.port = free_port()
            try:
                # Durable as a deployment is (fsync on, synchronous commit): acknowledged means on disk.
                self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", "30", "-o",
                          f"-h {HOST} -p {self.port} -k {self.folder} -c max_connections=200", "start")
                break
            except RuntimeError:
                if attempt == 2 or "could not bind" not in (self.folder / "log").read_text(errors="replace"):
                    raise
        self.started = True
        with psycopg.connect(self.url(user="postgres", db="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {self.ROLE} LOGIN")
            conn.execute(f"CREATE DATABASE {self.DB} OWNER {self.ROLE}")
        return self

    def url(self, user: str = ROLE, db: str = DB) -> str:
        return f"postgresql://{user}@{HOST}:{self.port}/{db}"

    def upgrade(self) -> str:
        """The migrations, as an operator runs them: ``python -m councilbot.storage upgrade URL``."""
        done = subprocess.run([sys.executable, "-m", "councilbot.storage", "upgrade", self.url()],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"migrations failed: {done.stdout}{done.stderr}")
        return done.stdout.strip()

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read as the superuser: every council's records (row-level security does not hide them)."""
        import psycopg

        with psycopg.connect(self.url(user="postgres")) as conn:
            return list(conn.execute(query, params).fetchall())

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)


RETRYABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError, OSError)


class RoundRobinClient(SlackClient):
    """Slack's side in front of several replicas, as a round-robin load balancer would be: each
    request goes to the next replica that is up (``serving``); one that fails in transit (refused,
    reset, no answer in ``attempt_timeout`` s, or a 5xx) is sent again, the same body, to the next,
    with ``X-Slack-Retry-Num`` as Slack marks its retries: the same event_id, the same view
    submission, so the core must recognise it."""

    def __init__(self, replicas: list[ServeProcess], fake: FakeSlack, attempt_timeout: float = 10.0, attempts: int = 4) -> None:
        super().__init__(replicas[0].events_url, fake)
        self.replicas = replicas
        self.serving: set[int] = set()  # indexes of the replicas taking traffic now
        self.attempt_timeout = attempt_timeout
        self.attempts = attempts
        self.retried = 0
        self._turn = 0

    def _pick(self) -> ServeProcess | None:
        up = [r for i, r in enumerate(self.replicas) if i in self.serving and r.alive]
        if not up:
            return None
        self._turn += 1
        return up[self._turn % len(up)]

    async def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None, signed: bool = True,
                   ts: int | None = None, secret: str = SECRET) -> Answer:
        start = time.monotonic()
        last: BaseException | None = None
        for attempt in range(self.attempts):
            replica = self._pick()
            if replica is None:  # every replica down for a moment: wait for one (bounded by attempts)
                await asyncio.sleep(0.2)
                continue
            sent = {"Content-Type": content_type, **(sign(body, ts, secret) if signed else {}), **(headers or {})}
            if attempt:
                self.retried += 1
                sent.update({"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"})
            try:
                async with self.session.post(replica.events_url, data=body.encode(), headers=sent,
                                             timeout=aiohttp.ClientTimeout(total=self.attempt_timeout)) as resp:
                    text = await resp.text()
                if resp.status < 500:
                    return Answer(resp.status, text, time.monotonic() - start)
                last = RuntimeError(f"status {resp.status}")
            except RETRYABLE as exc:
                last = exc
        if isinstance(last, RETRYABLE):
            raise last
        raise aiohttp.ClientConnectionError(f"no replica answered: {last}")


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]
