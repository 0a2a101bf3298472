"""An operator's first week (issue 11, Operators): doctor and serve say when a secret is a
placeholder or the wrong shape; /readyz is ready only when a platform can be served, and says
which; ``serve`` shows the privacy notice and terms the Teams package links to; the package needs
``--host``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fake_slack import FakeSlack

from councilbot.deployment import Deployment
from councilbot_adapters.server import build_app
from councilbot.app import CouncilBot
from councilbot.config import Settings

from .test_operate import CONFIG, SIGNING_SECRET, cli

APP_ID = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
TENANT = "0b7e5c1a-9d2f-4e8b-a6c3-5f1d2e3c4b5a"
# The line the old deploy/councilbot.env.example had, uncommented as an installer would.
OLD_TENANT_LINE = "00000000-0000-0000-0000-000000000000   (required with the two above: your council's tenant)"
TEAMS_CONFIG = CONFIG + '[slack]\nclerk_channel = "C0CLERK"\n[teams]\nclerk_channel = "19:abc@thread.tacv2"\n'


def _problems(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("[PROBLEM]")]


# ---------------------------------------------------------------- doctor and serve check the secrets' shapes


def test_doctor_names_placeholders_and_a_pasted_remark_with_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(TEAMS_CONFIG)
    out = cli("doctor", cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-...", SLACK_SIGNING_SECRET="...", SLACK_APP_TOKEN="xapp-...",
              MicrosoftAppId=APP_ID, MicrosoftAppPassword="a-real-looking~secret.Value", MicrosoftAppTenantId=OLD_TENANT_LINE)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    problems = "\n".join(_problems(out.stdout))
    assert "SLACK_BOT_TOKEN is still a placeholder" in problems and "xoxb- followed by letters, digits and dashes" in problems
    assert "SLACK_SIGNING_SECRET is still a placeholder" in problems and "32 characters, digits 0-9 and letters a-f" in problems
    assert "SLACK_APP_TOKEN is still a placeholder" in problems and "xapp- followed by" in problems
    assert "MicrosoftAppTenantId is still a placeholder" in problems and "a GUID" in problems and "remark" in problems
    assert "SLACK_BOT_TOKEN is set" not in out.stdout  # the old doctor called "xoxb-..." set
    assert "[     ok] MicrosoftAppId is set and looks right" in out.stdout
    assert "[     ok] MicrosoftAppPassword is set and looks right" in out.stdout
    assert len(_problems(out.stdout)) == 4, out.stdout


def test_doctor_says_what_a_malformed_value_should_be_without_showing_a_secret(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(TEAMS_CONFIG)
    out = cli("doctor", cwd=tmp_path, SLACK_BOT_TOKEN="xoxp-1234-5678-abcdef", SLACK_SIGNING_SECRET="not-a-hex-secret-zzzz",
              SLACK_APP_TOKEN="xoxb-1234-5678-abcdef", MicrosoftAppId="councilbot-app", MicrosoftAppPassword="pw",
              MicrosoftAppTenantId="contoso.onmicrosoft.com")
    assert out.returncode == 1
    problems = {line.split()[1]: line for line in _problems(out.stdout)}
    assert set(problems) == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId", "MicrosoftAppTenantId"}, out.stdout
    assert "should be xoxb-" in problems["SLACK_BOT_TOKEN"] and "Bot User OAuth Token" in problems["SLACK_BOT_TOKEN"]
    assert "should be 32 characters" in problems["SLACK_SIGNING_SECRET"]
    assert "should be xapp-" in problems["SLACK_APP_TOKEN"]
    assert "'councilbot-app'" in problems["MicrosoftAppId"] and "a GUID" in problems["MicrosoftAppId"]
    assert "'contoso.onmicrosoft.com'" in problems["MicrosoftAppTenantId"] and "a GUID" in problems["MicrosoftAppTenantId"]
    for secret in ("xoxp-1234-5678-abcdef", "not-a-hex-secret-zzzz", "xoxb-1234-5678-abcdef"):
        assert secret not in out.stdout  # ids are shown, secrets never


def test_doctor_accepts_real_shapes(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(TEAMS_CONFIG)
    out = cli("doctor", cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
              SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_APP_TOKEN="xapp-1-A0123456789-1234567890-abcdef0123",
              MicrosoftAppId=APP_ID, MicrosoftAppPassword="Qx8~abc.DEF_ghi-123", MicrosoftAppTenantId=TENANT)
    assert out.returncode == 0 and "All good." in out.stdout, out.stdout
    assert out.stdout.count("is set and looks right") == 6


def test_serve_refuses_to_start_on_a_placeholder(tmp_path: Path) -> None:
    """Before anything listens: a placeholder would otherwise fail every request later, quietly."""
    (tmp_path / "councilbot.toml").write_text(TEAMS_CONFIG)
    out = cli("serve", "--port", "3999", cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-...", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "SLACK_BOT_TOKEN is still a placeholder" in out.stderr and "xoxb- followed by" in out.stderr


# ---------------------------------------------------------------- readiness


async def _get(server: TestServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(server.make_url(path)) as r:
        return r.status, r.content_type, await r.text()


async def test_readyz_is_not_ready_when_no_platform_can_be_served(tmp_path: Path) -> None:
    """A server whose secrets were never filled in is alive but serves nobody: /healthz 200,
    /readyz 503 with the reason (the Docker health check asks /readyz)."""
    bot = CouncilBot(Settings(council="alsager", data_dir=tmp_path, people={"slack:UCLERK": "clerk"}))
    server = TestServer(build_app(Deployment.of(bot), teams=False), host="127.0.0.1")
    await server.start_server()
    try:
        assert (await _get(server, "/healthz"))[0] == 200
        status, _, text = await _get(server, "/readyz")
    finally:
        await server.close()
    body = json.loads(text)
    assert status == 503 and body["ready"] is False and body["platforms"] == [], body
    assert "neither Slack nor Teams is configured" in body["reason"]
    assert "/readyz" in (Path(__file__).resolve().parents[2] / "deploy" / "Dockerfile").read_text().split("HEALTHCHECK", 1)[1]


@pytest.mark.parametrize("socket_mode", [False, True])
async def test_readyz_says_which_platform_it_serves(tmp_path: Path, socket_mode: bool) -> None:
    fake = await FakeSlack().start()
    slack = {"clerk_channel": "C0CLERK", "api_url": fake.api_url, "bot_token": "xoxb-1-2-abc"}
    slack.update({"app_token": "xapp-1-abc"} if socket_mode else {"signing_secret": SIGNING_SECRET})
    bot = CouncilBot(Settings(council="alsager", data_dir=tmp_path, people={"slack:UCLERK": "clerk"}, slack=slack))
    server = TestServer(build_app(Deployment.of(bot), socket_mode=socket_mode, teams=False), host="127.0.0.1")
    await server.start_server()
    try:
        status, _, text = await _get(server, "/readyz")
    finally:
        await server.close()
        await fake.close()
    body = json.loads(text)
    assert status == 200 and body == {"ready": True, "platforms": ["slack"], "outbox_depth": 0}, body


# ---------------------------------------------------------------- the privacy notice and terms


async def test_the_teams_package_links_to_home_privacy_and_terms_pages_that_serve_shows(tmp_path: Path) -> None:
    config = TEAMS_CONFIG.replace('data_dir = "data"\n', 'data_dir = "data"\ncontact = "clerk@castlecary-tc.gov.uk"\n')
    (tmp_path / "councilbot.toml").write_text(config)
    built = cli("teams-package", "--out", str(tmp_path / "dist"), "--host", "councilbot.castlecary-tc.gov.uk", cwd=tmp_path,
                MicrosoftAppId=APP_ID, MicrosoftAppPassword="x", MicrosoftAppTenantId=TENANT)
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(built.stdout.strip()) as z:
        developer = json.loads(z.read("manifest.json"))["developer"]
    links = {name: urlparse(developer[name]) for name in ("websiteUrl", "privacyUrl", "termsOfUseUrl")}
    assert {u.netloc for u in links.values()} == {"councilbot.castlecary-tc.gov.uk"}

    from councilbot.config import load_settings

    settings = load_settings(tmp_path / "councilbot.toml")
    assert settings.contact == "clerk@castlecary-tc.gov.uk"
    bot = CouncilBot(settings.model_copy(update={"teams": settings.teams.model_copy(update={"emulator": True})}))
    server = TestServer(build_app(Deployment.of(bot)), host="127.0.0.1")
    await server.start_server()
    try:
        home = await _get(server, links["websiteUrl"].path)
        privacy = await _get(server, links["privacyUrl"].path)
        terms = await _get(server, links["termsOfUseUrl"].path)
        missing = await _get(server, "/privacy-policy")
    finally:
        await server.close()
    assert missing[0] == 404
    for status, content_type, page in (home, privacy, terms):
        assert status == 200 and content_type == "text/html", (status, content_type)
        assert "Castle Cary Town Council" in page and "clerk@castlecary-tc.gov.uk" in page  # who runs it, who to ask
        assert "<script" not in page.lower()
    text = privacy[2]
    assert "What is kept" in text and "Reports you make" in text
    assert "then 365 days" in text  # the pack's retention period
    assert "90 days after delivery" in text
    assert "the Clerk and the Deputy Clerk" in text and "the Chair of the Council" in text  # Castle Cary's chain
    assert "call 999" in terms[2] and 'href="/privacy"' in terms[2]
    assert 'href="/privacy"' in home[2] and 'href="/terms"' in home[2]
