"""How much does CouncilBot's Slack endpoint cost over bare slack-bolt?

Drives two servers with signed ``/checkpost`` slash commands, 16 concurrent connections each,
one after the other (so they never share the CPU):

- bare:       a slack-bolt AsyncApp that only acks /checkpost;
- councilbot: the real CouncilBot behind ``councilbot_adapters.slack.mount`` (signature check, translation,
              the core's check after the ack, the answer posted to response_url).

Each server runs in its own process; a third process plays Slack's response_url / Web API.
Prints requests/s, p50 and p99 ack latency for both, and the throughput ratio.
Targets: ratio >= 0.8, councilbot p99 < 100 ms.

    .venv/bin/python bench/slack_throughput.py [--seconds 3] [--rounds 3] [--connections 16] [--backlog N]

At 16 closed-loop connections the core cannot check every draft as fast as they are acked
(nothing could: each check is CPU work), so the queue fills and, past ``--backlog``, new
requests are told "busy" in the ack. ``--backlog 1000000000`` measures without that shedding.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from councilbot.deployment import Deployment
from councilbot_adapters.slack.lane import MAX_BACKLOG  # noqa: E402

SECRET = "bench-secret"
TOKEN = "xoxb-bench"


# ---------------------------------------------------------------- the three servers


async def _serve(app: web.Application, port_out: "mp.connection.Connection") -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    port_out.send(port)
    await asyncio.Event().wait()


def run_sink(port_out: "mp.connection.Connection") -> None:
    """Slack's side: every Web API method and response_url answers ok."""

    answered = 0

    async def ok(request: web.Request) -> web.Response:
        nonlocal answered
        await request.read()
        if request.path.startswith("/api/"):
            return web.json_response({"ok": True, "channel": "D1", "ts": "1.000001", "user_id": "UBOT", "bot_id": "BBOT"})
        answered += 1
        return web.Response(text="ok")

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(answered))

    app = web.Application()
    app.router.add_get("/count", count)
    app.router.add_post("/{tail:.*}", ok)
    asyncio.run(_serve(app, port_out))


def run_bare(port_out: "mp.connection.Connection", api_url: str) -> None:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    async def main() -> None:
        bolt = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=api_url), signing_secret=SECRET, process_before_response=False)

        @bolt.command("/checkpost")
        async def checkpost(ack):  # type: ignore[no-untyped-def]
            await ack()

        async def handle(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

        app = web.Application()
        app.router.add_post("/slack/events", handle)
        await _serve(app, port_out)

    asyncio.run(main())


def run_councilbot(port_out: "mp.connection.Connection", api_url: str, data_dir: str, backlog: int) -> None:
    from councilbot_adapters.slack import lane, mount
    from councilbot.app import CouncilBot
    from councilbot.config import Settings
    from councilbot.messages import Incoming

    lane.MAX_BACKLOG = backlog

    async def main() -> None:
        settings = Settings(council="alsager", data_dir=Path(data_dir), people={"slack:UCLERK": "clerk"},
                            slack={"clerk_channel": "CCLERK", "api_url": api_url, "bot_token": TOKEN, "signing_secret": SECRET})
        bot = CouncilBot.from_settings(settings)
        await bot.start()
        # Load the checker's model before serving (it takes about a second, once per process).
        await bot.handle(Incoming(kind="command", user="slack:UWARM", name="checkpost", text="warm up"))
        app = web.Application()
        mount(app, Deployment.of(bot))
        await _serve(app, port_out)

    asyncio.run(main())


def start(target, *args: object) -> tuple[mp.Process, int]:  # type: ignore[no-untyped-def]
    parent, child = mp.Pipe()
    proc = mp.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    if not parent.poll(30):
        raise SystemExit(f"{target.__name__} did not start")
    return proc, int(parent.recv())


# ---------------------------------------------------------------- the load


DRAFTS = (
    "Our litter pick is on Saturday at 10am, meet at the park gates.",
    "Council meeting on Monday at 7pm in the Town Hall, all welcome.",
    "Councillor Smith is an idiot and a liar, vote him out!",
    "Road closure on Crewe Road next week for resurfacing works.",
)


def signed_request(n: int, response_base: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({
        "token": "x", "team_id": "T1", "team_domain": "bench", "channel_id": "C1", "channel_name": "general",
        "user_id": f"U{n % 50:03d}", "user_name": "bench", "command": "/checkpost", "text": DRAFTS[n % len(DRAFTS)],
        "api_app_id": "A1", "response_url": f"{response_base}/respond/{n}", "trigger_id": f"t.{n}",
    })
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={sig}"}


async def drive(url: str, response_base: str, seconds: float, connections: int, warmup: float = 0.5) -> dict[str, Any]:
    """A closed loop: each connection sends the next request as soon as the last is acked."""
    latencies: list[float] = []
    errors = busy = 0
    counter = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        measure_from = time.perf_counter() + warmup
        stop_at = measure_from + seconds

        async def worker() -> None:
            nonlocal errors, busy
            while time.perf_counter() < stop_at:
                body, headers = signed_request(next(counter), response_base)
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    text = await resp.read()
                    ok = resp.status == 200
                if started >= measure_from:
                    latencies.append(time.perf_counter() - started)
                    errors += not ok
                    busy += b"busy" in text

        await asyncio.gather(*(worker() for _ in range(connections)))
    return {"rps": len(latencies) / seconds, "latencies": latencies, "errors": errors, "busy": busy}


async def answered(sink_base: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{sink_base}/count") as resp:
        return int(await resp.text())


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    latencies = sorted(x for r in runs for x in r["latencies"])
    return {"rps": statistics.median(r["rps"] for r in runs), "p50": statistics.median(latencies) * 1000,
            "p99": statistics.quantiles(latencies, n=100)[98] * 1000, "errors": sum(r["errors"] for r in runs),
            "busy": sum(r["busy"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round and server")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the servers; medians are reported")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=MAX_BACKLOG,
                        help="queued drafts before /checkpost is answered 'busy' in the ack (10**9: never shed)")
    args = parser.parse_args()

    mp.set_start_method("spawn")
    procs: list[mp.Process] = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            sink, sink_port = start(run_sink)
            procs.append(sink)
            sink_base = f"http://127.0.0.1:{sink_port}"
            api_url = f"{sink_base}/api/"
            urls: dict[str, str] = {}
            for name, target, extra in (("bare bolt", run_bare, (api_url,)), ("councilbot", run_councilbot, (api_url, data_dir, args.backlog))):
                proc, port = start(target, *extra)
                procs.append(proc)
                urls[name] = f"http://127.0.0.1:{port}/slack/events"
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
            for _ in range(args.rounds):
                for name, url in urls.items():  # one at a time: the two never share the CPU
                    runs[name].append(asyncio.run(drive(url, sink_base, args.seconds, args.connections)))
            time.sleep(1.0)
            delivered = asyncio.run(answered(sink_base))
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)

    results = {name: summary(r) for name, r in runs.items()}
    print(f"{args.connections} connections, {args.rounds} rounds x {args.seconds:.0f} s per server, signed /checkpost")
    print(f"{'':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'busy':>6}")
    for name, r in results.items():
        print(f"{name:12} {r['rps']:8.0f} {r['p50']:8.1f} {r['p99']:8.1f} {r['errors']:7.0f} {r['busy']:6.0f}")
    total = sum(len(r["latencies"]) for r in runs["councilbot"])
    print(f"councilbot answered {delivered} drafts through response_url meanwhile; "
          f"{results['councilbot']['busy']:.0f} of {total} were told it is busy (a backlog of {args.backlog} is kept)")
    ratio = results["councilbot"]["rps"] / results["bare bolt"]["rps"]
    p99 = results["councilbot"]["p99"]
    print(f"ratio {ratio:.2f} (target >= 0.8)  councilbot p99 {p99:.1f} ms (target < 100)  "
          + ("OK" if ratio >= 0.8 and p99 < 100 else "MISSED"))


if __name__ == "__main__":
    main()
