"""Crash proof: kill -9 a real ``councilbot serve`` under continuous report filings, 20 times.

8 simulated Slack users file reports without pause (signed view_submission requests for the report
modal the server opened). At a random moment 0.05-2.5 s into each round the server gets SIGKILL;
then the data folder is opened with ``councilbot.store.TinyStore`` (every shard parsed) and every
report the user was told the reference of (its receipt reached the fake Slack; see
bench/_harness.py) must be there, filed by that user, with their text; no reference may have been
told twice. The server is restarted on the same data (it must come up healthy) and the next round
begins. After the last kill one more restart must deliver the Clerk's channel notice of every
acknowledged report (the outbox, across restarts).

    .venv/bin/python bench/crash.py [--kills 20] [--filers 8] [--seed N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402


def report(result: h.CrashResult) -> None:
    print(f"kills: {result.kills}; report submissions sent: {result.submissions}; kills that landed mid-write "
          f"(temp file left behind): {result.torn_writes}")
    print(f"acknowledged reports checked: {result.checked} of {result.acknowledged} ({result.text_checked} also against "
          f"the text filed); stored: {result.stored}")
    print(f"missing: {len(result.missing)} {result.missing[:10]} (target 0)")
    print(f"stored but not as filed: {len(result.wrong)} {result.wrong[:10]}; references told twice: {len(result.duplicate_refs)}")
    print(f"clerk notices after the final restart: {result.notices_delivered}/{result.notices_expected} acknowledged reports "
          f"(duplicates sent: {result.notice_duplicates})")
    print(f"filings stored whose modal had closed (200) but whose receipt never reached the user: {result.closed_untold} "
          "(not acknowledged by the definition above; the Clerk still gets them)")
    print(f"stored reports whose reference never reached the reporter, after the final restart's deliveries: "
          f"{result.never_told} (target 0)")
    if result.restarts:
        print(f"start-ups: {len(result.restarts)}, launch -> /healthz 200 median {statistics.median(result.restarts):.2f} s, "
              f"max {max(result.restarts):.2f} s")
    for error in result.errors:
        print(f"ERROR: {error}")
    print("crash proof: " + ("PASSED" if result.passed else "FAILED"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--filers", type=int, default=8, help="concurrent users filing reports")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the server's folder (config, data, serve.log) here")
    args = parser.parse_args()
    if not 1 <= args.kills <= 200 or not 1 <= args.filers <= 100:
        parser.error("--kills must be 1..200 and --filers 1..100")

    def go(workdir: Path) -> h.CrashResult:
        return asyncio.run(h.run_crash(workdir, kills=args.kills, filers=args.filers, seed=args.seed, say=print))

    if args.keep:
        result = go(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="councilbot-crash-") as tmp:
            result = go(Path(tmp))
    report(result)
    raise SystemExit(0 if result.passed else 1)


if __name__ == "__main__":
    main()
