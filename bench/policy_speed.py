"""Checker speed: one 2,000-character check (p99, warm), batch throughput on one core, and the
cold start of `councilbot check`. Targets: p99 <= 5 ms, >= 2,000 drafts/s, cold start <= 1.5 s."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from councilbot.checker import Draft, check, check_many
from councilbot.pack import load_pack

SAMPLE = ("The Town Council's spring clean-up is on Saturday 14 March from 10am, meeting at the Civic Centre car park. "
          "Gloves, pickers and bags are provided; children are welcome with an adult. Refreshments afterwards. ")


def main() -> None:
    pack = load_pack("alsager")
    text = (SAMPLE * 20)[:2000]
    check(Draft(text), pack)  # warm: load the model once
    times = []
    for _ in range(500):
        start = time.perf_counter()
        check(Draft(text), pack)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(f"single 2,000-char check: p50 {statistics.median(times):.2f} ms, p99 {times[int(len(times) * 0.99) - 1]:.2f} ms (target p99 <= 5 ms)")

    rows = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "tests/data/drafts.jsonl").read_text().splitlines()]
    jobs = [(Draft(r["text"], r["where"], r["platform"]), load_pack(r["council"])) for r in rows] * 20
    start = time.perf_counter()
    for i in range(0, len(jobs), 512):
        check_many(jobs[i : i + 512])
    rate = len(jobs) / (time.perf_counter() - start)
    print(f"batch: {rate:,.0f} drafts/s on one core over {len(jobs):,} drafts (target >= 2,000)")

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for i, r in enumerate(rows * 10):
            fh.write(json.dumps({"id": i, "text": r["text"], "where": r["where"], "platform": r["platform"], "council": r["council"]}) + "\n")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", "check", "--council", "alsager", "--json", "--batch", fh.name],
                   check=False, capture_output=True)
    print(f"batch CLI end to end: {len(rows) * 10 / (time.perf_counter() - start):,.0f} drafts/s including start-up")
    colds = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", "check", "--council", "alsager", "Litter pick on Saturday"], check=True, capture_output=True)
        colds.append(time.perf_counter() - start)
    print(f"`councilbot check` cold start: median {statistics.median(colds):.2f} s (target <= 1.5 s)")


if __name__ == "__main__":
    main()
