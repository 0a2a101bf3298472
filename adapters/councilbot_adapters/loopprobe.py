"""Opt-in measurement of how long the server's event loop is blocked, for ``bench/load.py``.

While one callback runs on the loop (a task step, a protocol's ``data_received``, a timer) nothing
else can: every other request waits. ``COUNCILBOT_LOOP_PROBE=path`` times every callback the loop
runs and keeps each one longer than 1 ms (when it started, on the system-wide monotonic clock, how
long it ran, and what it was: the task's coroutine or the callback's name, no message content),
and every garbage collection longer than 1 ms (it stops the loop too); at exit it writes them, with the total count and busy time, as JSON to ``path``.
``COUNCILBOT_PROFILE=path`` profiles the loop's thread with cProfile and writes the stats there.

Both are off unless the variable is set, and neither is a test: they cost two clock reads per
callback (the probe) or a lot more (the profiler), so they stay out of production.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import threading
import time
from asyncio import events
from pathlib import Path
from typing import Any, Callable

PROBE_ENV = "COUNCILBOT_LOOP_PROBE"
PROFILE_ENV = "COUNCILBOT_PROFILE"
SLOW_SECONDS = 0.001


def _label(handle: events.Handle) -> str:
    """What a slow callback was, by code name only: a task step names its coroutine."""
    callback: Any = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro: Any = owner.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is not None:
            return f"task {code.co_qualname} ({Path(code.co_filename).name}:{code.co_firstlineno})"
        return f"task {type(coro).__qualname__}"
    if owner is not None:
        return f"{type(owner).__qualname__}.{getattr(callback, '__name__', '?')}"
    return str(getattr(callback, "__qualname__", None) or type(callback).__qualname__)


class LoopProbe:
    """Times ``Handle._run`` (how the loop runs every callback) in this process."""

    def __init__(self, path: Path, slow: float = SLOW_SECONDS) -> None:
        self.path = path
        self.slow = slow
        self.callbacks = 0
        self.busy = 0.0
        self.records: list[tuple[float, float, str]] = []  # (started, seconds, label)
        self.collections: list[tuple[float, float, int, str]] = []  # garbage collections over 1 ms: (started, seconds, generation, thread)
        self._original: Callable[[events.Handle], None] | None = None
        self._gc_started = 0.0

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        """A collection stops every thread that wants the GIL, the loop's too: record the long ones."""
        now = time.monotonic()
        if phase == "start":
            self._gc_started = now
        elif now - self._gc_started > self.slow:
            self.collections.append((self._gc_started, now - self._gc_started, int(info["generation"]),
                                     threading.current_thread().name))

    def install(self) -> None:
        original = self._original = events.Handle._run
        clock = time.monotonic
        probe = self

        def timed(handle: events.Handle) -> None:
            start = clock()
            try:
                original(handle)
            finally:
                took = clock() - start
                probe.callbacks += 1
                probe.busy += took
                if took > probe.slow:
                    probe.records.append((start, took, _label(handle)))

        setattr(events.Handle, "_run", timed)  # noqa: B010 (patching a method on purpose)
        gc.callbacks.append(self._gc)
        atexit.register(self.write)

    def write(self) -> None:
        if self._original is not None:
            setattr(events.Handle, "_run", self._original)  # noqa: B010
            self._original = None
        data = {"callbacks": self.callbacks, "busy_s": self.busy, "slow_s": self.slow,
                "records": [[round(s, 6), round(t, 6), label] for s, t, label in self.records],
                "collections": [[round(s, 6), round(t, 6), gen, thread] for s, t, gen, thread in self.collections]}
        self.path.write_text(json.dumps(data), encoding="utf-8")


def install_from_env() -> None:
    """Turn on the probe and/or the profiler when their variables name a file."""
    probe = os.environ.get(PROBE_ENV)
    if probe:
        LoopProbe(Path(probe)).install()
    profile = os.environ.get(PROFILE_ENV)
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()

        def dump() -> None:
            profiler.disable()
            profiler.dump_stats(profile)

        atexit.register(dump)
