"""``councilbot serve`` as an operator runs it: it becomes healthy and ready, answers a signed Slack
request end to end (the answer reaches the fake Slack), refuses an unsigned one, and stops
cleanly on SIGTERM. No timing assertions here: start-up time is measured by bench/load.py."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from ._bench import harness as h


async def test_serve_becomes_healthy_and_answers(tmp_path: Path) -> None:
    fake = h.WatchedSlack()
    await fake.start()
    server = h.ServeProcess(tmp_path, fake.api_url, {h.CLERK: "clerk", "U100": "councillor"})
    users = None
    try:
        await server.start(timeout=60)
        status, body = await server.get_json("/healthz")
        assert (status, body) == (200, {"status": "ok"})
        status, body = await server.get_json("/readyz")
        assert status == 200 and body["ready"] is True and body["platforms"] == ["slack"]  # what it serves

        users = h.Users(fake, server.events_url, answer_timeout=30)
        checked = await users.command("checkpost", "/checkpost", "Councillor Smith is an idiot and a liar, vote him out!", "U100")
        assert checked.ok, checked.error
        assert checked.answer is not None and "Do not post" in h.texts(checked.answer.data)
        looked_up = await users.command("policy", "/policy", "can I post photos of children?", "U100")
        assert looked_up.ok, looked_up.error
        assert looked_up.answer is not None and "ATC-" in h.texts(looked_up.answer.data)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.post(server.events_url, data=b"command=%2Fpolicy&text=x",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
                assert resp.status == 401  # unsigned: refused before any listener

        assert await server.stop() == 0
        assert "Traceback" not in server.log_tail(100_000)
    finally:
        await server.kill9()
        if users is not None:
            await users.close()
        await fake.close()
