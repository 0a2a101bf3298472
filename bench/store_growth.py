"""Filing a report with 100 records stored vs with 50,000: the cost must not grow with the data
(target ratio <= 2). Shards keep each write to one small file."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Incoming
from councilbot.store import TinyStore

FORM = {"what": "Abusive replies under the bin collection post", "when": "last night", "platform": "facebook"}


def seed(data_dir: Path, count: int) -> None:
    store = TinyStore(data_dir)
    for i in range(count):
        store.insert("reports", {"id": f"R-2000-{i:06d}", "reporter": "slack:USEED", "created": "2000-01-01T00:00:00+00:00",
                                 "status": "closed", "what": "seeded", "recipients": [], "excluded": [], "notices_queued": True})
    store.close()


async def time_filings(data_dir: Path, n: int = 40) -> float:
    bot = CouncilBot(Settings(council="alsager", data_dir=data_dir, people={"slack:UCLERK": "clerk"}))
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await bot.handle(Incoming("form", "slack:UREP", name="report", values=FORM, event_id=f"e{i}"))
        samples.append((time.perf_counter() - start) * 1000)
    bot.store.close()
    return statistics.median(samples)


def main() -> None:
    results = {}
    for count in (100, 50_000):
        with tempfile.TemporaryDirectory() as tmp:
            seed(Path(tmp), count)
            results[count] = asyncio.run(time_filings(Path(tmp)))
        print(f"{count:>6} reports stored: filing a report takes {results[count]:.1f} ms (median)")
    print(f"ratio {results[50_000] / results[100]:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
