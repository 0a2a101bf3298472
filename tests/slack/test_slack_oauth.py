""""Add to Slack" over real HTTP: the install flow against the fake Slack's authorize page and
oauth.v2.access, each workspace answered with its own token, and every way an install can go
wrong answered with a plain 4xx page."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.deployment import Deployment
from councilbot.messages import Reply
from councilbot_adapters.slack import ADAPTER_KEY, SlackAdapter, mount
from councilbot_adapters.slack.installations import STATES, SlackInstallations
from councilbot_adapters.slack.oauth import bot_scopes
from councilbot_adapters.server import served_platforms
from fake_slack import FakeSlack
from slack_harness import SECRET, SlackClient, texts

COOKIE = "slack-app-oauth-state"


@dataclass
class Site:
    url: str
    fake: FakeSlack
    slack: SlackClient
    bot: CouncilBot
    adapter: SlackAdapter
    http: aiohttp.ClientSession

    @property
    def installations(self) -> SlackInstallations:
        assert self.adapter.installations is not None
        return self.adapter.installations

    async def start_install(self, team: str) -> tuple[str, str]:
        """Open the "Add to Slack" link: the Slack page it sends the browser to, and the state cookie."""
        async with self.http.get(f"{self.url}/slack/install?team={team}", allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            return resp.headers["Location"], resp.cookies[COOKIE].value

    async def approve(self, slack_page: str) -> str:
        """The admin presses "Allow" (or "Cancel") on Slack's page: where Slack sends the browser back."""
        async with self.http.get(slack_page, allow_redirects=False) as resp:
            assert resp.status == 302
            return resp.headers["Location"]

    async def back(self, url: str, cookie: str | None) -> tuple[int, str]:
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        async with self.http.get(url, headers=headers, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def install(self, team: str) -> tuple[int, str]:
        page, cookie = await self.start_install(team)
        return await self.back(await self.approve(page), cookie)


def oauth_settings(tmp_path: Path, fake: FakeSlack, bot_token: str | None = None, team_id: str | None = None) -> Settings:
    """One council. With ``team_id``, a hosted council ([[councils]]) bound to that workspace and
    T3 and T4, its later messages going to ``team_id``; without, the single council of a plain config."""
    people = {"slack:UCLERK": "clerk", "slack:UCLLR": "councillor"}
    slack = {"api_url": fake.api_url, "signing_secret": SECRET, "bot_token": bot_token,
             "client_id": fake.client_id, "client_secret": fake.client_secret}
    if team_id is None:
        return Settings(council="alsager", data_dir=tmp_path, people=people, slack={**slack, "clerk_channel": "CCLERK"})
    return Settings(data_dir=tmp_path, slack=slack, councils=[{
        "id": "alsager", "people": people, "slack": {"clerk_channel": "CCLERK"}, "slack_teams": [team_id, "T3", "T4"]}])


@asynccontextmanager
async def running(tmp_path: Path, fake: FakeSlack, *, bot_token: str | None = None, team_id: str | None = None) -> AsyncIterator[Site]:
    deployment = await Deployment.open(oauth_settings(tmp_path, fake, bot_token, team_id))
    bot = deployment.bots["alsager"]
    await deployment.start()
    web_app = web.Application()
    mount(web_app, deployment)
    server = TestServer(web_app, host="127.0.0.1", port=0)
    await server.start_server()
    url = f"http://127.0.0.1:{server.port}"
    fake.redirect_uri = f"{url}/slack/oauth_redirect"
    fake.workspace("T2", "Alsager Town Council")
    fake.workspace("T3", "Crewe Town Council")
    client = SlackClient(f"{url}/slack/events", fake)
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())  # the state cookie is sent by hand
    try:
        yield Site(url, fake, client, bot, web_app[ADAPTER_KEY], http)
    finally:
        fake.release()
        await http.close()
        await client.close()
        await server.close()
        await deployment.stop()


@pytest.fixture
async def site(tmp_path: Path, fake: FakeSlack) -> AsyncIterator[Site]:
    """CouncilBot with "Add to Slack" on and no SLACK_BOT_TOKEN; its later messages go to T2."""
    async with running(tmp_path, fake, team_id="T2") as it:
        yield it


def tokens_of(fake: FakeSlack, team: str) -> set[str]:
    return {token for token, who in fake.identities.items() if who["team_id"] == team}


async def test_two_workspaces_install_and_each_is_answered_with_its_own_token(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # Before installing, a workspace's request reaches no listener: bolt asks for the install instead.
    early = await site.slack.dm("may I post: Our litter pick is on Saturday at 10am!", team="T2")
    assert early.status == 200 and "install this app" in early.text

    page, _ = await site.start_install("T2")
    asked = parse_qs(urlsplit(page).query)
    assert page.startswith(f"{site.fake.base}/oauth/v2/authorize?")
    assert asked["client_id"] == [site.fake.client_id] and asked["state"][0]
    assert sorted(asked["scope"][0].split(",")) == sorted(bot_scopes())  # the manifest's scopes

    status, text = await site.install("T2")
    assert status == 200, text
    assert "CouncilBot has been added to Alsager Town Council" in text
    status, text = await site.install("T3")
    assert status == 200, text
    [t2_token] = tokens_of(site.fake, "T2")
    [t3_token] = tokens_of(site.fake, "T3")
    assert await site.installations.bot_token("T2") == t2_token
    assert await site.installations.bot_token("T3") == t3_token

    # A signed DM from each workspace is answered in that workspace, with that workspace's token.
    assert (await site.slack.dm("may I post: Our litter pick is on Saturday at 10am!", team="T2")).status == 200
    [reply] = await site.fake.wait_for("chat.postMessage", channel="DCLLR")
    assert reply.token == t2_token
    assert "OK to post" in texts(reply.data)
    assert (await site.slack.dm("may I post: The library reopens on Monday.", user="UCREWE", team="T3")).status == 200
    [reply] = await site.fake.wait_for("chat.postMessage", channel="DCREWE")
    assert reply.token == t3_token

    # The outbox's later messages for this council go to its workspace (T2) with T2's token.
    await site.bot.outbox.send("notice-1", "slack:UCLERK", Reply(text="A later notice"))
    [later] = await site.fake.wait_for("chat.postMessage", channel="UCLERK")
    assert later.token == t2_token

    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "xoxb-" not in logged and site.fake.client_secret not in logged  # tokens and secrets are never logged


async def test_a_rotating_workspace_is_answered_with_its_refreshed_token(site: Site) -> None:
    site.fake.workspace("T4", "Sandbach Town Council", rotating=True)
    site.fake.expires_in = 60  # about to expire: the first request refreshes it
    status, text = await site.install("T4")
    assert status == 200, text
    [first] = tokens_of(site.fake, "T4")
    site.fake.expires_in = 43200
    await site.slack.dm("may I post: Our litter pick is on Saturday at 10am!", user="USAND", team="T4")
    [reply] = await site.fake.wait_for("chat.postMessage", channel="DSAND")
    assert site.fake.refreshes == ["T4"]
    assert reply.token != first and reply.token in tokens_of(site.fake, "T4")
    assert await site.installations.bot_token("T4") == reply.token  # kept for every replica


async def test_a_used_or_forged_state_is_refused_with_a_page(site: Site) -> None:
    page, cookie = await site.start_install("T2")
    back = await site.approve(page)
    assert (await site.back(back, cookie))[0] == 200

    # The same answer from Slack again (a reload, or someone replaying it): the state is spent.
    status, text = await site.back(back, cookie)
    assert status == 400
    assert "expired or has already been used" in text and "Traceback" not in text
    # A state CouncilBot never issued, with a matching cookie.
    status, text = await site.back(f"{site.url}/slack/oauth_redirect?code=code-x&state=forged", "forged")
    assert status == 400 and "expired or has already been used" in text
    # A real state, but brought back by a browser that did not start the install (no cookie).
    page, _ = await site.start_install("T3")
    status, text = await site.back(await site.approve(page), None)
    assert status == 400 and "different browser" in text
    assert tokens_of(site.fake, "T3") == set()  # no code was exchanged for any of these


async def test_an_expired_state_or_a_refused_code_is_a_4xx(site: Site) -> None:
    store = site.installations.state_store.store
    await store.insert(STATES, {"id": "old-state", "at": time.time() - 11 * 60})  # issued eleven minutes ago
    status, text = await site.back(f"{site.url}/slack/oauth_redirect?code=code-x&state=old-state", "old-state")
    assert status == 400 and "expired" in text
    # A state issued now, but a code Slack does not know.
    page, cookie = await site.start_install("T2")
    state = parse_qs(urlsplit(page).query)["state"][0]
    status, text = await site.back(f"{site.url}/slack/oauth_redirect?code=made-up&state={state}", cookie)
    assert status == 400 and "did not accept the installation code" in text
    assert await site.installations.bot_token("T2") is None


async def test_a_cancelled_install_says_so_with_a_403(site: Site) -> None:
    site.fake.deny = True
    status, text = await site.install("T2")
    assert status == 403
    assert "cancelled in Slack" in text and "/slack/install" in text
    assert await site.installations.bot_token("T2") is None


async def test_with_a_bot_token_too_its_own_workspace_is_served_as_before(tmp_path: Path, fake: FakeSlack) -> None:
    """SLACK_BOT_TOKEN and "Add to Slack" together: a workspace without an install of its own (the
    token's) is answered with that token, an installed one with its own, and the outbox keeps the token."""
    async with running(tmp_path, fake, bot_token="xoxb-test") as site:
        status, _ = await site.install("T3")
        assert status == 200
        [t3_token] = tokens_of(fake, "T3")
        await site.slack.dm("may I post: Our litter pick is on Saturday at 10am!")  # from T1, the token's workspace
        [reply] = await fake.wait_for("chat.postMessage", channel="DCLLR")
        assert reply.token == "xoxb-test"
        await site.slack.dm("may I post: The library reopens on Monday.", user="UCREWE", team="T3")
        [reply] = await fake.wait_for("chat.postMessage", channel="DCREWE")
        assert reply.token == t3_token
        await site.bot.outbox.send("notice-1", "slack:UCLERK", Reply(text="A later notice"))
        [later] = await fake.wait_for("chat.postMessage", channel="UCLERK")
        assert later.token == "xoxb-test"


def test_serve_answers_slack_with_client_id_and_secret_alone(tmp_path: Path, fake: FakeSlack) -> None:
    """``councilbot serve`` mounts /slack/events (and the install pages) without a SLACK_BOT_TOKEN."""
    assert served_platforms(oauth_settings(tmp_path, fake), socket_mode=False, teams=False) == ["slack"]
