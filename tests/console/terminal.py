"""A real pseudo-terminal around ``councilbot chat``: what a person at a terminal types and sees,
including the terminal driver's own line limit, which piped input never meets."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import IO, Callable


class Terminal:
    """``councilbot chat`` on a pty. ``screen_is_terminal=False`` pipes its output instead (the
    keyboard is still the terminal), as ``councilbot chat | tee transcript`` would."""

    def __init__(self, cwd: Path, *args: str, screen_is_terminal: bool = True) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**os.environ, "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "councilbot_adapters.cli", "chat", "--council", "alsager", *args],
            stdin=slave, stdout=slave if screen_is_terminal else subprocess.PIPE, stderr=slave,
            cwd=cwd, env=env, start_new_session=True)
        os.close(slave)
        self._seen = bytearray()
        self._changed = threading.Condition()
        sources: list[int | IO[bytes]] = [self.master]
        if self.proc.stdout is not None:
            sources.append(self.proc.stdout)
        self._readers = [threading.Thread(target=self._pump, args=(s,), daemon=True) for s in sources]
        for reader in self._readers:
            reader.start()

    def _pump(self, source: int | IO[bytes]) -> None:
        """Everything the terminal shows (echo included) and everything printed, as it comes."""
        while True:
            try:
                chunk = os.read(source, 65536) if isinstance(source, int) else source.read1(65536)
            except OSError:  # the pty closes when the program ends
                chunk = b""
            with self._changed:
                self._seen += chunk
                self._changed.notify_all()
            if not chunk:
                return

    @property
    def text(self) -> str:
        with self._changed:
            return self._seen.decode("utf-8", "replace")

    def mark(self) -> int:
        """Where the output is now: ``wait_for`` after it sees only what came later."""
        with self._changed:
            return len(self._seen)

    def wait_for(self, *needles: str, since: int = 0, timeout: float = 60.0) -> str:
        """Wait until any of ``needles`` appears after ``since``; returns the output from there."""
        return self._wait(lambda seen: any(n in seen for n in needles), f"any of {needles}", since, timeout)

    def wait_until(self, done: Callable[[str], bool], what: str, since: int = 0, timeout: float = 60.0) -> str:
        """Wait until ``done`` holds for the output after ``since``; returns that output."""
        return self._wait(done, what, since, timeout)

    def _wait(self, done: Callable[[str], bool], what: str, since: int, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                seen = self._seen[since:].decode("utf-8", "replace")
                if done(seen):
                    return seen
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._changed.wait(0.5)):
                    raise AssertionError(f"never saw {what}; output ends {seen[-2000:]!r}")
                self._changed.wait(min(left, 1.0))

    def type(self, line: str, prompt: str = "> ") -> int:
        """At the prompt, type (or paste) a line and press Enter, a piece at a time as a terminal
        delivers it. Returns where the output was, for ``wait_for``."""
        self._wait(lambda seen: seen.endswith(prompt), f"the prompt {prompt!r}", 0, 60.0)
        return self.type_ahead(line)

    def type_ahead(self, line: str) -> int:
        """Type a line now, prompt or not (pasted while the program is still busy)."""
        start = self.mark()
        data = (line + "\r").encode()
        for at in range(0, len(data), 1024):
            os.write(self.master, data[at:at + 1024])
        return start

    def close(self) -> int:
        try:
            self.type("/quit")
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)
