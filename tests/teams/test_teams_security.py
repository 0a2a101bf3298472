"""Who may talk to the bot: Bot Framework tokens when credentials are set, loopback only when
they are not, and one tenant when one is configured."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from unittest import mock

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from teams_helpers import Teams, make_settings

from councilbot.deployment import Deployment
from councilbot.config import ConfigError

APP_ID = "5f0c6a4e-6a43-4bd4-9d0b-3f3b0e0b1c2d"
SECURED = {"app_id": APP_ID, "app_password": "not-a-real-secret"}


@pytest.fixture
async def secured(serve: Any, tmp_path: Path) -> Teams:
    return await serve(make_settings(tmp_path, **SECURED, tenant_id="tenant-castle-cary"))


def _token(issuer: str) -> str:
    claims = {"iss": issuer, "aud": APP_ID, "exp": int(time.time()) + 600, "serviceurl": "http://127.0.0.1"}
    return jwt.encode(claims, "self-made-key-nobody-trusts-0123456789", algorithm="HS256")


async def test_unsigned_requests_are_refused_when_credentials_are_set(secured: Teams) -> None:
    activity = secured.personal("aad-clerk", "reports")
    assert (await secured.post(activity))[0] == 401
    assert (await secured.post(activity, {"Authorization": "Bearer not-even-a-jwt"}))[0] == 401
    assert (await secured.post(activity, {"Authorization": "Basic Y2xlcms6Y2xlcms="}))[0] == 401
    forged = _token("https://attacker.example/")
    assert (await secured.post(activity, {"Authorization": f"Bearer {forged}"}))[0] == 401
    assert secured.connector.calls == []
    assert (await secured.bot.store.find("events")) == []


async def test_another_tenant_is_refused(secured: Teams, monkeypatch: pytest.MonkeyPatch) -> None:
    from councilbot_adapters.teams import TEAMS

    async def accept(activity: Any, header: str) -> object:
        return object()  # as if the token were valid; the tenant check comes before the turn

    monkeypatch.setattr(secured.app[TEAMS].endpoint.auth, "authenticate_request", accept)
    activity = secured.personal("aad-clerk", "reports")
    activity["conversation"]["tenantId"] = "tenant-elsewhere"
    activity["channelData"]["tenant"]["id"] = "tenant-elsewhere"
    status, _ = await secured.post(activity, {"Authorization": "Bearer anything"})
    assert status == 403
    assert secured.connector.calls == [] and (await secured.bot.store.find("events")) == []


async def test_no_auth_mode_serves_this_machine_only(teams: Teams) -> None:
    from councilbot_adapters.teams import TEAMS

    endpoint_handler = next(r.handler for r in teams.app.router.routes() if r.method == "POST")
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: ("192.0.2.7", 50000) if name == "peername" else default
    request = make_mocked_request("POST", "/api/messages", headers={"Content-Type": "application/json"},
                                  transport=transport, app=teams.app)
    response = await endpoint_handler(request)
    assert response.status == 403
    assert teams.app[TEAMS].handler.allow_plain_ids is True


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_no_auth_mode_refuses_what_a_proxy_forwards(teams: Teams, header: str) -> None:
    """Behind nginx on the same machine every request comes from 127.0.0.1: the proxy's headers
    give it away, and an unauthenticated stranger must not become the Clerk that way."""
    value = "for=203.0.113.9" if header == "Forwarded" else "203.0.113.9"
    status, _ = await teams.post(teams.personal("aad-clerk", "reports"), {header: value})
    assert status == 403
    assert teams.connector.calls == [] and (await teams.bot.store.find("events")) == []


async def test_no_auth_mode_answers_only_a_service_on_this_machine(teams: Teams) -> None:
    activity = teams.personal("aad-clerk", "reports")
    activity["serviceUrl"] = "https://attacker.example/"
    status, _ = await teams.post(activity)
    assert status == 403
    assert (await teams.bot.store.find("events")) == [] and (await teams.bot.store.find("teams-references")) == []


async def test_without_credentials_teams_is_off_unless_the_emulator_is_asked_for(tmp_path: Path) -> None:
    from aiohttp import web

    from councilbot_adapters.server import teams_enabled
    from councilbot_adapters.teams import mount
    from councilbot.app import CouncilBot

    plain = CouncilBot(make_settings(tmp_path, emulator=False))
    assert teams_enabled(plain.settings, "127.0.0.1") is False
    with pytest.raises(ConfigError, match="emulator = true"):
        mount(web.Application(), Deployment.of(plain))
    emulator = CouncilBot(make_settings(tmp_path / "e"))
    assert teams_enabled(emulator.settings, "127.0.0.1") is True
    with pytest.raises(ConfigError, match="refusing to listen"):
        teams_enabled(emulator.settings, "0.0.0.0")


async def test_emulator_without_aad_id_works_locally(teams: Teams) -> None:
    activity = teams.personal("aad-resident", "policy advertising")
    activity["channelId"] = "emulator"
    del activity["from"]["aadObjectId"]
    status, _ = await teams.post(activity)
    assert status == 200
    assert "policy" in teams.connector.calls[-1].text.lower()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "councilbot.example.org"])
def test_check_bind_refuses_public_hosts_without_credentials(tmp_path: Path, host: str) -> None:
    from councilbot_adapters.teams import check_bind

    with pytest.raises(ConfigError, match="MicrosoftAppId"):
        check_bind(make_settings(tmp_path), host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_check_bind_allows_loopback_without_credentials(tmp_path: Path, host: str) -> None:
    from councilbot_adapters.teams import check_bind

    check_bind(make_settings(tmp_path), host)


def test_check_bind_with_credentials_and_half_credentials(tmp_path: Path) -> None:
    from councilbot_adapters.teams import check_bind

    check_bind(make_settings(tmp_path, **SECURED, tenant_id="tenant-castle-cary"), "0.0.0.0")
    with pytest.raises(ConfigError, match="MicrosoftAppTenantId"):  # otherwise any organisation would be served
        check_bind(make_settings(tmp_path, **SECURED), "0.0.0.0")
    with pytest.raises(ConfigError, match="MicrosoftAppPassword"):
        check_bind(make_settings(tmp_path, app_id=APP_ID), "127.0.0.1")
    with pytest.raises(ConfigError, match="MicrosoftAppId"):
        check_bind(make_settings(tmp_path, app_password="x"), "127.0.0.1")
    with pytest.raises(ConfigError, match="tenant"):
        check_bind(make_settings(tmp_path, **SECURED, app_type="SingleTenant"), "0.0.0.0")
    with pytest.raises(ConfigError, match="app_type"):
        check_bind(make_settings(tmp_path, **SECURED, app_type="Sideways"), "0.0.0.0")
