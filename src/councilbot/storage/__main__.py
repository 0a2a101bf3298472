"""``python -m councilbot.storage upgrade|check <database url>``: bring a PostgreSQL database's schema
up to date, or check it is, until ``councilbot db upgrade`` takes this over in the CLI."""

from __future__ import annotations

import sys

from .migrations import check_current, upgrade
from .port import StorageError

USAGE = "usage: python -m councilbot.storage upgrade|check <postgresql://... database url>"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in {"upgrade", "check"}:
        print(USAGE, file=sys.stderr)
        return 2
    command, url = args
    try:
        if command == "upgrade":
            applied = upgrade(url)
            version = check_current(url)
            print(f"schema at version {version}" + (f" (applied {', '.join(map(str, applied))})" if applied else " (already up to date)"))
        else:
            print(f"schema at version {check_current(url)}: up to date")
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
