""""Add to Slack": slack-bolt's OAuth flow on the same aiohttp server as ``/slack/events``.

``GET /slack/install`` sends the person to Slack to approve CouncilBot for their workspace (with a
fresh single-use ``state``, also set as a cookie in their browser); Slack sends them back to
``GET /slack/oauth_redirect`` with a code, which is exchanged for the workspace's bot token and
saved in CouncilBot's database (``installations.py``). Every failure (a cancelled install, a link
used twice or too late, a different browser, a code Slack refuses) is a plain page with a 4xx
status, never a 500: the person can simply start again.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urljoin

import yaml
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from councilbot.config import Settings
from councilbot.storage.port import StorageError

from .installations import ROTATE_MINUTES_BEFORE, SlackInstallations
from .notifier import make_client

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
DEFAULT_API = "https://slack.com/api/"
MANIFEST = Path(__file__).with_name("manifest.yml")

# Why an install failed, in plain words, and the status for it (Slack's own names for the reasons).
_FAILURES: dict[str, tuple[int, str]] = {
    "access_denied": (403, "The installation was cancelled in Slack, so CouncilBot was not added."),
    "invalid_browser": (400, "This installation link was started in a different browser, or has already been used."),
    "invalid_state": (400, "This installation link has expired or has already been used."),
    "missing_code": (400, "Slack did not send the installation code back."),
    "invalid_code": (400, "Slack did not accept the installation code (it may have been used already)."),
    "storage_error": (503, "CouncilBot could not save the installation just now."),
}


def bot_scopes(manifest: Path = MANIFEST) -> list[str]:
    """The bot scopes the app asks for: the manifest's, so the two can never disagree."""
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    return [str(s) for s in data["oauth_config"]["scopes"]["bot"]]


def _page(status: int, title: str, text: str, cookie: str | None = None) -> BoltResponse:
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{text}</p></body></html>")
    headers: dict[str, str | Sequence[str]] = {"Content-Type": "text/html; charset=utf-8"}
    if cookie:
        headers["Set-Cookie"] = [cookie]
    return BoltResponse(status=status, body=body, headers=headers)


class _HideCode(logging.Filter):
    """bolt logs a refused code exchange with the code in it: keep the code out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "with code:" in record.msg:
            record.msg = re.sub(r"with code: \S+", "with code: (hidden)", record.msg)
        return True


def build_flow(settings: Settings, installations: SlackInstallations) -> AsyncOAuthFlow:
    """Bolt's OAuth flow with CouncilBot's stores and pages."""
    slack = settings.slack
    assert slack.client_secret is not None
    flow_log = logging.getLogger(f"{__name__}.flow")
    if not any(isinstance(f, _HideCode) for f in flow_log.filters):
        flow_log.addFilter(_HideCode())
    # Slack's authorize page lives beside its Web API: a test's fake Slack serves both.
    authorization_url = None if slack.api_url == DEFAULT_API else urljoin(slack.api_url, "/oauth/v2/authorize")
    oauth_settings = AsyncOAuthSettings(
        client_id=slack.client_id, client_secret=slack.client_secret.get_secret_value(),
        scopes=bot_scopes(), user_scopes=[], redirect_uri=slack.redirect_uri or None,
        install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
        install_page_rendering_enabled=False,  # straight to Slack's own "Allow" page
        authorization_url=authorization_url,
        installation_store=installations.installation_store, installation_store_bot_only=False,
        token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
        state_store=installations.state_store, state_expiration_seconds=installations.state_store.expiration_seconds,
        logger=flow_log,
    )
    deletion = oauth_settings.state_utils.build_set_cookie_for_deletion()

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        team = args.installation.team_name or args.installation.enterprise_name or "your workspace"
        return _page(200, "CouncilBot is installed",
                     f"CouncilBot has been added to {html.escape(team)}. You can close this page and find CouncilBot "
                     "under Apps in Slack.", deletion)

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        status, words = _FAILURES.get(args.reason, (400, "Slack reported a problem with the installation."))
        log.warning("slack install failed", extra={"reason": args.reason[:60], "status": status})
        return _page(status, "CouncilBot was not installed",
                     f"{html.escape(words)} Please start again from the <a href=\"{INSTALL_PATH}\">Add to Slack</a> link.", deletion)

    oauth_settings.callback_options = AsyncCallbackOptions(success=success, failure=failure)
    return AsyncOAuthFlow(client=make_client(settings, token=False), logger=flow_log, settings=oauth_settings)


def mount_oauth(web_app: web.Application, settings: Settings, installations: Callable[[], SlackInstallations | None]) -> None:
    """Add ``GET /slack/install`` and ``GET /slack/oauth_redirect``. ``installations`` gives the
    store once it is open (the database opens when the server starts)."""
    flows: dict[int, AsyncOAuthFlow] = {}

    def flow() -> AsyncOAuthFlow | None:
        current = installations()
        if current is None:
            return None
        if id(current) not in flows:
            flows.clear()
            flows[id(current)] = build_flow(settings, current)
        return flows[id(current)]

    def bolt_request(request: web.Request) -> AsyncBoltRequest:
        return AsyncBoltRequest(body="", query=request.query_string,
                                headers={name.lower(): request.headers[name] for name in request.headers.keys()})

    async def serve(request: web.Request, callback: bool) -> web.StreamResponse:
        current = flow()
        if current is None:
            return await to_aiohttp_response(_page(503, "Not ready", "CouncilBot is starting; please try again in a minute."))
        try:
            answer = await (current.handle_callback if callback else current.handle_installation)(bolt_request(request))
        except StorageError:
            log.error("slack install: the database could not be used")
            answer = _page(503, "CouncilBot was not installed", "CouncilBot could not reach its database just now. "
                           f"Please try again in a minute from the <a href=\"{INSTALL_PATH}\">Add to Slack</a> link.")
        except Exception as exc:  # Slack unreachable while exchanging the code, and the like
            log.error("slack install failed: %s", exc.__class__.__name__)
            answer = _page(502, "CouncilBot was not installed", "Slack could not be reached just now. "
                           f"Please try again in a minute from the <a href=\"{INSTALL_PATH}\">Add to Slack</a> link.")
        return await to_aiohttp_response(answer)

    async def install(request: web.Request) -> web.StreamResponse:
        return await serve(request, callback=False)

    async def redirect(request: web.Request) -> web.StreamResponse:
        return await serve(request, callback=True)

    web_app.router.add_get(INSTALL_PATH, install)
    web_app.router.add_get(REDIRECT_PATH, redirect)
