"""Microsoft's login servers cannot freeze the bot (issue 10, section 2).

The whole server (``build_app``: Slack and Teams with real credentials checking) runs on 127.0.0.1
with the Bot Framework SDK pointed, through its own configuration names, at a local stand-in for
Microsoft's login service and the Bot Framework's OpenID metadata (``fake_microsoft.py``). When
the stand-in answers, the signing keys and the bot's own token are each fetched once, not per
request, and the token is renewed in the background before it expires. When it hangs, Slack's
acknowledgements stay under a second, a Teams request waits for the keys at most the timeout, a
failed fetch is not repeated per request, and a reply with no token fails at once (the outbox
retries it) instead of waiting on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from botframework.connector.auth import AuthenticationConstants, JwtTokenExtractor
from fake_connector import FakeConnector
from fake_microsoft import TENANT, FakeMicrosoft
from fake_slack import FakeSlack
from slack_harness import SECRET, SlackClient
from teams_helpers import BOT, CLERK_CHANNEL, Teams, personal_conversation

from councilbot.deployment import Deployment
from councilbot_adapters.server import build_app
from councilbot_adapters.teams import TEAMS, openid, tokens
from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Reply
from councilbot.ports import DeliveryError

from .stack import acks_measured

APP_ID = "5f0c6a4e-6a43-4bd4-9d0b-3f3b0e0b1c2d"
FAST = 1.0  # Slack allows 3 s; nothing here may come near it


@dataclass
class Signed:
    """The server with Teams signed in, its fakes, and clients for both platforms."""

    bot: CouncilBot
    microsoft: FakeMicrosoft
    connector: FakeConnector
    slack: SlackClient
    teams: Teams

    async def teams_post(self, activity: dict[str, Any]) -> tuple[int, float]:
        token = self.microsoft.channel_token(APP_ID, activity["serviceUrl"])
        started = time.monotonic()
        status, _ = await self.teams.post(activity, {"Authorization": f"Bearer {token}"})
        return status, time.monotonic() - started

    def kept(self) -> tokens.KeptCredentials:
        [kept] = self.teams.app[TEAMS].tokens.kept.values()
        return kept


@contextlib.asynccontextmanager
async def signed_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, hang: bool) -> AsyncIterator[Signed]:
    microsoft = await FakeMicrosoft(tmp_path).start()
    microsoft.hang = hang
    assert microsoft.cert_path is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(microsoft.cert_path))  # msal (requests) trusts the stand-in
    fake, connector = FakeSlack(), FakeConnector()
    await fake.start()
    await connector.start()
    bot = CouncilBot.from_settings(Settings(
        council="castle-cary", data_dir=tmp_path / "data",
        people={"teams:aad-clerk": "clerk", "teams:aad-cllr": "councillor", "slack:UCLLR": "councillor"},
        slack={"clerk_channel": "CCLERK", "api_url": fake.api_url, "bot_token": "xoxb-test", "signing_secret": SECRET},
        teams={"clerk_channel": CLERK_CHANNEL, "app_id": APP_ID, "app_password": "not-a-real-secret",
               "tenant_id": TENANT, "cloud": microsoft.cloud()},
    ))
    app = build_app(Deployment.of(bot))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()  # on_startup: the bot, and the fetch of the bot's token (in a thread)
    base = f"http://127.0.0.1:{server.port}"
    session = aiohttp.ClientSession()
    slack = SlackClient(f"{base}/slack/events", fake)
    try:
        yield Signed(bot, microsoft, connector, slack, Teams(base, connector, bot, app, session))
    finally:
        microsoft.released.set()
        fake.release()
        await slack.close()
        await session.close()
        await server.close()
        await connector.stop()
        await fake.close()
        await microsoft.stop()


async def until(condition: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


async def test_keys_and_token_are_fetched_once_and_the_token_renewed_before_it_expires(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # A token that msal's cache treats as due for renewal after about 3 s (it renews with under
    # 5 minutes left), and a bot that renews at that point rather than 290 s before expiry.
    monkeypatch.setattr(tokens, "REFRESH_BEFORE", 299.0)
    monkeypatch.setattr(tokens, "RETRY_FIRST", 0.5)
    async with signed_in(tmp_path, monkeypatch, hang=False) as signed:
        microsoft = signed.microsoft
        microsoft.token_lifetime = 302
        await until(lambda: len(microsoft.issued) == 1)  # fetched at start-up, before any reply needs it

        for text in ("policy photos of children", "policy who has the final say", "help"):
            status, _ = await signed.teams_post(signed.teams.personal("aad-cllr", text))
            assert status == 200
        replies = signed.connector.ops(conversation=personal_conversation("aad-cllr"))
        assert len(replies) >= 3 and {c.authorization for c in replies} <= {f"Bearer {t}" for t in microsoft.issued}
        # One fetch of the keys and no token per request: only the one fetched at start-up (and, on
        # a machine slow enough that the three replies outlast its 3 s, its scheduled renewal).
        assert (microsoft.hits["openid"], microsoft.hits["keys"]) == (1, 1)
        assert microsoft.hits["token"] == len(microsoft.issued) <= 2

        # With no request at all, the token is renewed while the first is still good for minutes.
        # (The fake records a token as it sends it; the bot keeps it a moment later.)
        await until(lambda: len(microsoft.issued) == 2 and signed.kept().token == microsoft.issued[1])
        assert microsoft.hits["token"] == 2 and signed.kept().expires_at - time.time() > 290
        microsoft.token_lifetime = 3600  # from here on, no renewal may race the reply below
        status, _ = await signed.teams_post(signed.teams.personal("aad-cllr", "help"))
        assert status == 200
        # The renewed token (or, on a slow machine, the renewal after it), never the first one.
        assert signed.connector.calls[-1].authorization in {f"Bearer {t}" for t in microsoft.issued[1:]}
        assert microsoft.hits["openid"] == 1
    no_errors_logged(caplog)


async def test_a_hanging_login_service_stalls_nobody_and_is_not_asked_again_per_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # The timeouts are the production ones (15 s) cut to 1 s, so the test is short; the backoffs
    # are long enough that no retry falls inside the test.
    monkeypatch.setattr(openid, "OPENID_TIMEOUT", 1.0)
    monkeypatch.setattr(tokens, "TOKEN_TIMEOUT", 1.0)
    monkeypatch.setattr(tokens, "RETRY_FIRST", 60.0)
    async with signed_in(tmp_path, monkeypatch, hang=True) as signed:
        microsoft = signed.microsoft
        # The SDK's cache holds our fetcher for Microsoft's real addresses too, not its own.
        cache = JwtTokenExtractor.metadataCache
        assert isinstance(cache[AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL], openid.KeySet)
        assert isinstance(cache[microsoft.cloud()["TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL"]], openid.KeySet)

        async with acks_measured(signed.slack) as acks:
            # Eight Teams requests at once while the keys cannot be fetched: one fetch, shared;
            # each is refused (401) once it has waited the timeout, and nobody else waited.
            started = time.monotonic()
            first = await asyncio.gather(*(signed.teams_post(signed.teams.personal("aad-cllr", f"help {n}"))
                                           for n in range(8)))
            assert [status for status, _ in first] == [401] * 8
            assert time.monotonic() - started < openid.OPENID_TIMEOUT + 1.0
            assert microsoft.hits["openid"] == 1
            # Until the backoff ends, a request is refused at once: no fetch, no wait.
            for n in range(8):
                status, seconds = await signed.teams_post(signed.teams.personal("aad-cllr", f"again {n}"))
                assert status == 401 and seconds < 0.5
            assert microsoft.hits["openid"] == 1

            # The bot's own token: its fetch hangs in a worker thread. A reply fails at once (the
            # outbox will retry it when the token comes) and asks the login service nothing.
            await until(lambda: signed.kept().failures >= 1, timeout=5)
            asked = microsoft.hits["tenant"] + microsoft.hits["token"]
            reference = {"conversation": {"id": personal_conversation("aad-clerk"), "tenantId": TENANT},
                         "serviceUrl": signed.connector.url, "channelId": "msteams", "bot": dict(BOT),
                         "user": {"id": "29:aad-clerk"}}
            notifier = signed.bot.outbox.notifiers["teams"]
            for _ in range(5):
                started = time.monotonic()
                with pytest.raises(DeliveryError) as failed:
                    await notifier.post(reference, Reply(text="A notice for the Clerk."))
                assert time.monotonic() - started < 0.5
                assert not failed.value.permanent and failed.value.retry_after and failed.value.retry_after > 1
            assert microsoft.hits["tenant"] + microsoft.hits["token"] == asked
            assert signed.connector.calls == []
            await asyncio.sleep(0.3)
        assert len(acks) >= 10 and max(acks) < FAST, acks
    no_errors_logged(caplog)


async def test_after_microsoft_recovers_teams_works_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(openid, "OPENID_TIMEOUT", 0.5)
    monkeypatch.setattr(openid, "FIRST_BACKOFF", 1.0)
    monkeypatch.setattr(tokens, "TOKEN_TIMEOUT", 0.5)
    monkeypatch.setattr(tokens, "RETRY_FIRST", 1.0)
    async with signed_in(tmp_path, monkeypatch, hang=True) as signed:
        microsoft = signed.microsoft
        status, _ = await signed.teams_post(signed.teams.personal("aad-cllr", "help"))
        assert status == 401
        await until(lambda: signed.kept().failures >= 1, timeout=5)
        microsoft.hang = False
        microsoft.released.set()
        await asyncio.sleep(openid.FIRST_BACKOFF)
        status, _ = await signed.teams_post(signed.teams.personal("aad-cllr", "policy photos of children"))
        assert status == 200
        # The answer goes out with the bot's token, at once or from the outbox once the token comes.
        [reply] = await signed.connector.wait_for(lambda c: c.conversation == personal_conversation("aad-cllr"))
        assert reply.authorization == f"Bearer {microsoft.issued[-1]}" and "policy" in reply.text.lower()
    no_errors_logged(caplog)
