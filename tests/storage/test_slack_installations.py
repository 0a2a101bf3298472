"""The Slack installation and OAuth state stores on the storage port, on TinyDB and on PostgreSQL
alike (the fixtures of this folder), and token rotation raced by two replicas against the fake
Slack's oauth.v2.access: the refresh happens once, and both replicas end with the new token.

(Here rather than in tests/slack because the two-backend fixtures and the throwaway PostgreSQL
server belong to this folder; the fake Slack is imported by name, as everywhere.)"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Awaitable, Callable

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from councilbot.storage.port import Backend
from councilbot_adapters.slack.installations import INSTALLATIONS, SCOPE, STATES, SlackInstallations
from fake_slack import FakeSlack

Replicas = Callable[[], Awaitable[Backend]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.close()


def installations(backend: Backend, fake: FakeSlack) -> SlackInstallations:
    return SlackInstallations(backend, client_id=fake.client_id, client_secret=fake.client_secret, api_url=fake.api_url)


def workspace(team: str, token: str = "", **more: object) -> Installation:
    fields: dict[str, object] = dict(app_id="A1", team_id=team, team_name=f"Council {team}", bot_token=token or f"xoxb-{team}-1",
                                     bot_id=f"B{team}", bot_user_id=f"U{team}", bot_scopes="commands,chat:write",
                                     user_id="UADMIN", installed_at=1_700_000_000.5)
    fields.update(more)
    return Installation(**fields)  # type: ignore[arg-type]


async def test_a_workspace_is_saved_found_and_deleted(backend: Backend, council: str, fake: FakeSlack) -> None:
    slack = installations(backend, fake)
    store = slack.installation_store
    team = f"T{council[2:].upper()}"
    assert await store.async_find_installation(enterprise_id=None, team_id=team) is None
    await store.async_save(workspace(team, bot_token_expires_at=1_800_000_000, bot_refresh_token="xoxe-1-r"))

    found = await store.async_find_installation(enterprise_id=None, team_id=team)
    assert found is not None
    assert (found.team_id, found.team_name, found.bot_token, found.bot_user_id, found.bot_id) == (
        team, f"Council {team}", f"xoxb-{team}-1", f"U{team}", f"B{team}")
    assert list(found.bot_scopes) == ["commands", "chat:write"]
    assert (found.bot_refresh_token, found.bot_token_expires_at, found.installed_at) == ("xoxe-1-r", 1_800_000_000, 1_700_000_000.5)
    bot = await store.async_find_bot(enterprise_id=None, team_id=team)
    assert bot is not None and bot.bot_token == f"xoxb-{team}-1"
    mine = await store.async_find_installation(enterprise_id=None, team_id=team, user_id="UADMIN")
    assert mine is not None and mine.user_id == "UADMIN" and mine.bot_token == f"xoxb-{team}-1"
    assert await store.async_find_installation(enterprise_id=None, team_id=team, user_id="USOMEONE") is None

    # A reinstall replaces the token; the installer's own record follows the workspace's bot token.
    await store.async_save(workspace(team, f"xoxb-{team}-2"))
    mine = await store.async_find_installation(enterprise_id=None, team_id=team, user_id="UADMIN")
    assert mine is not None and mine.bot_token == f"xoxb-{team}-2"

    # Installs are deployment-wide: no council's records include them.
    assert await backend.council(council).find(INSTALLATIONS) == []
    listed = await slack.workspaces()  # (the PostgreSQL database is shared with other tests' workspaces)
    assert {"team_id": team, "team_name": f"Council {team}", "enterprise_id": None, "enterprise_name": None,
            "is_enterprise_install": False} in listed
    assert all(set(w) == {"team_id", "team_name", "enterprise_id", "enterprise_name", "is_enterprise_install"} for w in listed)

    await store.async_delete_bot(enterprise_id=None, team_id=team)
    assert await store.async_find_bot(enterprise_id=None, team_id=team) is None
    await store.async_delete_all(enterprise_id=None, team_id=team)
    assert await store.async_find_installation(enterprise_id=None, team_id=team) is None
    assert await store.async_find_installation(enterprise_id=None, team_id=team, user_id="UADMIN") is None
    assert await backend.council(SCOPE).find(INSTALLATIONS, {"team_id": team}) == []


async def test_an_org_wide_install_serves_its_workspaces(backend: Backend, council: str, fake: FakeSlack) -> None:
    slack = installations(backend, fake)
    org = f"E{council[2:].upper()}"
    await slack.installation_store.async_save(workspace("", f"xoxb-{org}", team_id=None, enterprise_id=org,
                                                        is_enterprise_install=True))
    found = await slack.installation_store.async_find_installation(enterprise_id=org, team_id="TANY", is_enterprise_install=True)
    assert found is not None and found.bot_token == f"xoxb-{org}"
    assert await slack.bot_token("TANY", org) == f"xoxb-{org}"  # a workspace of the org, asked for by team id
    assert await slack.bot_token("TANY") is None  # without the org, that team has no install of its own
    result = await slack.authorize(org, "TANY", True)
    assert result is not None and result.bot_token == f"xoxb-{org}"


async def test_a_state_is_used_once_on_any_replica_and_expires(replicas: Replicas, fake: FakeSlack) -> None:
    one = installations(await replicas(), fake).state_store
    two = installations(await replicas(), fake).state_store
    state = await one.async_issue()
    assert await two.async_consume(state) is True  # the browser came back to the other replica
    assert await one.async_consume(state) is False
    assert await two.async_consume(state) is False
    assert await one.async_consume("never-issued") is False

    # Two callbacks with the same state at once: exactly one wins.
    raced = await one.async_issue()
    results = await asyncio.gather(*(store.async_consume(raced) for store in (one, two, one, two)))
    assert sorted(results) == [False, False, False, True]

    await one.store.insert(STATES, {"id": "stale", "at": time.time() - one.expiration_seconds - 1})
    assert await two.async_consume("stale") is False
    fresh = await one.async_issue()  # issuing sweeps away states nobody came back with
    assert await one.store.get(STATES, "stale") is None
    assert await two.async_consume(fresh) is True


async def test_two_replicas_refresh_a_token_once(replicas: Replicas, fake: FakeSlack, council: str) -> None:
    team = f"T{council[2:].upper()}"
    fake.workspace(team, rotating=True)
    first = fake.grant(team, expires_in=60)  # expires within the two-hour margin: due for a refresh
    a, b = installations(await replicas(), fake), installations(await replicas(), fake)
    await a.installation_store.async_save(workspace(team, first["access_token"], bot_refresh_token=first["refresh_token"],
                                                    bot_token_expires_at=int(time.time()) + 60))
    fake.refresh_delay = 0.3  # both replicas are in authorize while the refresh is in flight

    tokens = await asyncio.gather(a.bot_token(team), b.bot_token(team), a.bot_token(team), b.bot_token(team))

    # Slack's refresh endpoint was called once: no replica tried the refresh token the other had used.
    assert [c.data.get("grant_type") for c in fake.of("oauth.v2.access")] == ["refresh_token"]
    assert fake.refreshes == [team]
    new = tokens[0]
    assert new != first["access_token"] and set(tokens) == {new}
    stored = await b.installation(team)
    assert stored is not None and stored.bot_token == new
    assert stored.bot_refresh_token in fake.refresh_tokens  # the live refresh token is the one kept
    assert stored.bot_token_expires_at is not None and stored.bot_token_expires_at > time.time() + 12 * 3600 - 60
    # Fresh now: later calls neither refresh nor wait.
    assert await a.bot_token(team) == new and fake.refreshes == [team]


async def test_a_dead_refresh_token_is_not_retried_by_every_replica(replicas: Replicas, fake: FakeSlack, council: str) -> None:
    """Slack refuses the refresh (the app was reinstalled elsewhere, say): the expired token is
    not handed out, and the refusal is asked once per use, not once per replica in a stampede."""
    team = f"T{council[2:].upper()}"
    fake.workspace(team, rotating=True)
    a = installations(await replicas(), fake)
    await a.installation_store.async_save(workspace(team, "xoxb-old", bot_refresh_token="xoxe-1-dead",
                                                    bot_token_expires_at=int(time.time()) - 5))
    assert await a.bot_token(team) is None
    assert [c.data.get("refresh_token") for c in fake.of("oauth.v2.access")] == ["xoxe-1-dead"]
