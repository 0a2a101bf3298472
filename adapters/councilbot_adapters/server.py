"""``councilbot serve``: one aiohttp server for Slack (/slack/events), Teams (/api/messages), health
checks, and the home, privacy and terms pages the Teams app package links to. Each platform is
mounted only when its settings say it is in use."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from councilbot import credentials, logs, metrics, notices
from councilbot.config import Settings
from councilbot.deployment import Deployment
from councilbot.pack import Pack

from . import loopprobe
from .door import HANDLER_ARGS, MAX_BODY, UNMATCHED, add_unmatched_route, expect_handler, refusal

__all__ = ["MAX_BODY", "build_app", "run_server", "served_platforms", "teams_enabled"]

log = logging.getLogger("councilbot.server")


NO_PLATFORM = ("neither Slack nor Teams is configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN "
               "with --socket-mode), or MicrosoftAppId, MicrosoftAppPassword and MicrosoftAppTenantId; "
               "councilbot doctor says what is missing")


def _slack_configured(settings: Settings) -> bool:
    """A signing secret, and the bot tokens: "Add to Slack" (client id and secret), or a token for
    every council (SLACK_BOT_TOKEN for one council, SLACK_BOT_TOKEN_<ID> for each of several)."""
    s = settings.slack
    tokens = bool(s.client_id and s.client_secret) or all(c.slack.bot_token for c in settings.council_settings())
    return bool(s.signing_secret) and tokens


def served_platforms(settings: Settings, socket_mode: bool, teams: bool) -> list[str]:
    """The platforms this server answers: Slack over HTTP (token and signing secret) or over Socket
    Mode (token and app-level token), and Teams when it is mounted (credentials, or the Emulator)."""
    s = settings.slack
    slack = bool(s.bot_token and s.app_token) if socket_mode else _slack_configured(settings)
    return [name for name, on in (("slack", slack), ("teams", teams)) if on]


@web.middleware
async def _observe(request: web.Request, handler: Any) -> web.StreamResponse:
    """Request id and metrics for every request; encoded bodies and bodies over the limit are
    refused before reading (on every route, matched or not)."""
    logs.new_request_id()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None and resource.name != UNMATCHED else "unmatched"
    refused = refusal(request, MAX_BODY)
    if refused is not None:
        metrics.REQUESTS.labels(route, str(refused.status)).inc()
        return refused
    with metrics.LATENCY.labels(route).time():
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            metrics.REQUESTS.labels(route, str(exc.status)).inc()
            raise
        except Exception:
            log.exception("request failed", extra={"route": route})
            metrics.REQUESTS.labels(route, "500").inc()
            return web.json_response({"error": "internal error"}, status=500)
    metrics.REQUESTS.labels(route, str(response.status)).inc()
    return response


def teams_enabled(settings: Settings, host: str) -> bool:
    """Teams with credentials is served anywhere. Without them only when asked for
    (``[teams] emulator = true``) and only on loopback; a council that configured Teams but gave no
    credentials is refused start-up beyond this machine (ConfigError); otherwise /api/messages is off."""
    from councilbot_adapters.teams import auth_on, check_bind, validate

    t = settings.teams
    validate(t)
    if auth_on(t):
        return True
    if t.emulator or t.app_password or t.tenant_id or t.clerk_channel:
        check_bind(settings, host)
    if not t.emulator and (t.tenant_id or t.clerk_channel):
        log.warning("Teams has no MicrosoftAppId/MicrosoftAppPassword, so /api/messages is off; to try the bot "
                    "with the Bot Framework Emulator on this machine, set [teams] emulator = true")
    return t.emulator


def build_app(deployment: Deployment, socket_mode: bool = False, teams: bool = True) -> web.Application:
    # handler_args: aiohttp must never decompress a request body (see door.py).
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_observe], handler_args=HANDLER_ARGS)
    state: dict[str, Any] = {"ready": False}
    platforms = served_platforms(deployment.settings, socket_mode, teams)
    bots = list(deployment.bots.values())

    async def waiting() -> dict[str, dict[str, float]]:
        return metrics.combined([await bot.outbox.by_platform() for bot in bots])

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        """Ready means started *and* able to serve at least one platform: a server whose secrets
        were never filled in is alive (/healthz) but of no use to anyone, and must not look healthy."""
        body: dict[str, Any] = {"ready": False, "platforms": platforms,
                                "outbox_depth": sum([await bot.outbox.depth() for bot in bots])}
        if not state["ready"]:
            body["reason"] = "starting up or shutting down"
        elif not platforms:
            body["reason"] = NO_PLATFORM
        else:
            body["ready"] = True
        return web.json_response(body, status=200 if body["ready"] else 503)

    def page(write: Callable[[Pack, Settings], str]) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A notice written from the pack and settings the bot runs with (so it always matches them)."""

        async def show(_: web.Request) -> web.Response:
            # One council: its own notice. Several: each council's, one after another.
            text = "\n".join(write(bot.pack, bot.settings) for bot in bots)
            return web.Response(text=text, content_type="text/html", charset="utf-8")

        return show

    async def delivery(_: web.Request) -> web.Response:
        """Unlike /readyz ("can take requests"), this alerts when what was promised is not going
        out: 503 once the oldest waiting message, on any platform, is older than the threshold."""
        threshold = min(bot.settings.delivery_alert_seconds for bot in bots)
        platforms = await waiting()
        healthy = metrics.delivery(platforms, threshold)
        return web.json_response({"healthy": healthy, "threshold_seconds": threshold, "platforms": platforms},
                                 status=200 if healthy else 503)

    async def prometheus(_: web.Request) -> web.Response:
        body = metrics.render(await waiting(), min(bot.settings.delivery_alert_seconds for bot in bots))
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    expect = expect_handler(MAX_BODY)  # answer an oversized or encoded body before inviting it
    app.router.add_get("/healthz", healthz, expect_handler=expect)
    app.router.add_get("/readyz", readyz, expect_handler=expect)
    app.router.add_get("/healthz/delivery", delivery, expect_handler=expect)
    app.router.add_get("/metrics", prometheus, expect_handler=expect)
    # The Teams app package links to these three (teams/package.py); Teams requires them.
    for path, write in ((notices.HOME_PATH, notices.home_page), (notices.PRIVACY_PATH, notices.privacy_page),
                        (notices.TERMS_PATH, notices.terms_page)):
        app.router.add_get(path, page(write), expect_handler=expect)
    if _slack_configured(deployment.settings) and not socket_mode:
        from councilbot_adapters.slack import mount as mount_slack

        mount_slack(app, deployment)
    if teams:
        from councilbot_adapters.teams import mount as mount_teams

        mount_teams(app, deployment)
    add_unmatched_route(app)  # last: every other path and method, with the same door

    lag = metrics.LoopLag()  # a stall on the loop shows in /metrics, not only in a test

    async def on_startup(_: web.Application) -> None:
        lag.start()
        await deployment.start()
        # What start-up loaded (policy packs, models, the records read so far) stays for the life
        # of the process: keep it out of the garbage collector's full passes, which otherwise walk
        # all of it, stopping every thread and so the event loop (measured: ~100 ms each under load).
        gc.freeze()
        state["ready"] = True

    async def on_cleanup(_: web.Application) -> None:
        state["ready"] = False
        await lag.stop()
        await deployment.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def run_server(settings: Settings, host: str, port: int, socket_mode: bool = False) -> int:
    """Serve every council in ``settings`` until SIGINT/SIGTERM; the exit status."""
    from councilbot.config import ConfigError
    from councilbot.pack import PackError
    from councilbot.storage.port import StorageError
    from councilbot.store import StoreError

    logs.configure()
    wrong = credentials.problems(settings)
    if wrong:  # a placeholder or a pasted remark: refuse now, rather than every request later
        for problem in wrong:
            print(f"councilbot: {problem.text}", file=sys.stderr)
        return 2
    try:
        teams = teams_enabled(settings, host)
    except ConfigError as exc:
        print(f"councilbot: {exc}", file=sys.stderr)
        return 2
    if not teams:
        log.info("Teams is not configured: /api/messages is off")
    if socket_mode and not settings.slack.app_token:
        print("councilbot: --socket-mode needs SLACK_APP_TOKEN (an app-level token starting xapp-)", file=sys.stderr)
        return 2
    if not _slack_configured(settings) and not socket_mode:
        log.info("Slack is not configured (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET unset): /slack/events is off")
    if not served_platforms(settings, socket_mode, teams):
        log.warning("not ready: %s", NO_PLATFORM)  # /readyz answers 503 with the same words

    async def main() -> None:
        # The Teams connector client sends through ``requests`` in worker threads, and DNS lookups
        # use the same pool: with the default (CPU count + 4, so 6 here) a few slow Teams calls
        # would hold up Slack's. Blocking calls wait on the network, not the CPU, so allow more.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="io"))
        # The storage first (a PostgreSQL schema behind this version stops start-up here, saying so).
        deployment = await Deployment.open(settings)
        try:
            app = build_app(deployment, socket_mode, teams)
        except BaseException:
            await deployment.stop()
            raise
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("listening", extra={"host": host, "port": port})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        socket_task = None
        if socket_mode:
            from councilbot_adapters.slack import run_socket_mode

            socket_task = asyncio.create_task(run_socket_mode(deployment))
        await stop.wait()
        if socket_task is not None:
            socket_task.cancel()
        # Graceful: stop taking requests, let in-flight ones finish, flush the outbox (on_cleanup).
        await runner.cleanup()

    loopprobe.install_from_env()  # bench/load.py's opt-in loop-blocking probe / profiler; off by default
    try:
        asyncio.run(main())
    except PackError as exc:
        print(f"councilbot: {'; '.join(exc.problems)}", file=sys.stderr)
        return 2
    except (StorageError, StoreError, ConfigError) as exc:
        print(f"councilbot: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"councilbot: cannot listen on {host}:{port} ({exc.strerror})", file=sys.stderr)
        return 2
    return 0
