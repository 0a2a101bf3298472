"""Time in one place, so tests can move it and deadlines count working days."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def add_working_days(start: datetime, days: int) -> datetime:
    """Deadlines in working days skip Saturdays and Sundays (bank holidays are the Clerk's call)."""
    moment = start
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def human(moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = parse(moment)
    return moment.strftime("%a %d %b %Y %H:%M UTC")


def today() -> date:
    return now().date()
