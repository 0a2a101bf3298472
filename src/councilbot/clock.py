"""Time in one place, so tests can move it and deadlines count working days.

Records keep UTC; people see the council's local time (``timezone`` in the config, Europe/London by
default), and working days are counted on the council's calendar. The zone is always passed in
(``ctx.zone``): one process may serve councils in different zones."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def add_working_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    """Deadlines in working days skip Saturdays and Sundays (bank holidays are the Clerk's call)."""
    moment = start.astimezone(zone)
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def human(moment: datetime | str, zone: ZoneInfo) -> str:
    if isinstance(moment, str):
        moment = parse(moment)
    return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


def today() -> date:
    return now().date()


def local_date(zone: ZoneInfo, moment: datetime | None = None) -> date:
    """The council's calendar date at ``moment`` (now by default), not UTC's: at 00:30 BST it is
    already the next day in the council, though still the day before in UTC."""
    return (moment or now()).astimezone(zone).date()


def local_time(day: date, zone: ZoneInfo, hour: int = 0, minute: int = 0) -> datetime:
    """``hour:minute`` on ``day`` on the council's clock (GMT or BST as the day falls)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
