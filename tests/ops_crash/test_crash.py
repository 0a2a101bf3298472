"""kill -9 under continuous report filings: every report the user was told the reference of is in
the store after each kill, the data files load, and the server comes back. The same code as
bench/crash.py (20 kills), with 4 kills to stay under a minute."""

from __future__ import annotations

from pathlib import Path

from ._bench import harness as h


async def test_acknowledged_reports_survive_kill_9(tmp_path: Path) -> None:
    result = await h.run_crash(tmp_path, kills=4, filers=8, seed=4242)
    assert not result.errors, result.errors
    assert result.kills == 4
    assert result.acknowledged > 0 and result.checked == result.acknowledged
    assert result.missing == [], f"acknowledged but not stored: {result.missing}"
    assert result.wrong == [], f"stored, but not what the user who was told the reference filed: {result.wrong}"
    assert result.duplicate_refs == [], f"one reference told for two filings: {result.duplicate_refs}"
    assert result.stored >= result.acknowledged
    assert len(result.restarts) == 5  # the first start and one restart after every kill, each healthy
    assert result.notices_delivered == result.notices_expected  # the outbox finished across the restarts
