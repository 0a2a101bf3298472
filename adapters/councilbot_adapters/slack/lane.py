"""Where the core's work runs: after the ack has left, one item at a time, and never hogging the
event loop that has to ack the next request.

Why: ``CouncilBot.handle`` checks a draft in a worker thread (about 7 ms; over a second for the
first one while the model loads) and writes records, with fsync, on the event loop. Run straight
after ``ack()`` it would hold up the HTTP response it follows; under a backlog, checks back to back
would take the CPU (one interpreter lock) from the acks behind them. Slack gives each request 3 s.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

# Set by the HTTP handler for each request and opened once its response has been written, so
# work queued by that request's listener starts only after Slack has its ack. Listener tasks
# inherit it (asyncio copies the context into tasks). Unset (Socket Mode): no waiting.
RESPONDED: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("slack_responded", default=None)

CORE_SHARE = 0.15  # under a backlog the core gets about this share of the loop; acks get the rest
MAX_BACKLOG = 500  # beyond this the adapter says it is busy instead of queueing more

Job = Callable[[], Awaitable[Any]]


class CoreLane:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[asyncio.Event | None, Job]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def busy(self) -> bool:
        return self._queue.qsize() >= MAX_BACKLOG

    def put(self, job: Job) -> None:
        """Queue ``job`` to run after the current request's response has gone out."""
        self._queue.put_nowait((RESPONDED.get(), job))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="slack-core-lane")

    async def _run(self) -> None:
        while True:
            gate, job = await self._queue.get()
            try:
                if gate is not None:
                    await gate.wait()
                started = time.perf_counter()
                await job()
                busy = time.perf_counter() - started
            except Exception:
                log.exception("slack core job failed")
                busy = 0.0
            finally:
                self._queue.task_done()
            # Yield to the acks: with more waiting, rest in proportion to the time just used (a
            # check's time counts too: its thread shares the CPU and the interpreter with the acks).
            await asyncio.sleep(busy * (1 - CORE_SHARE) / CORE_SHARE if not self._queue.empty() else 0)

    async def drain(self, timeout: float) -> None:
        """Finish what is queued (up to ``timeout`` seconds), then stop."""
        if self._worker is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except asyncio.TimeoutError:
            log.warning("slack: %d queued requests dropped at shutdown", self._queue.qsize())
        self._worker.cancel()
        try:
            await self._worker
        except (asyncio.CancelledError, Exception):
            pass
        self._worker = None
