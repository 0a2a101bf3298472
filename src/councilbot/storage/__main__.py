"""``python -m councilbot.storage upgrade|check <database url>``: the same as ``councilbot db upgrade|check``
(both run ``storage.admin``), for a machine where only the database URL is at hand, not a config file.
Exit status: 0 up to date, 1 behind (check) or newer than this CouncilBot, 2 bad input or no database."""

from __future__ import annotations

import sys

from .admin import BAD, run_check, run_upgrade

USAGE = "usage: python -m councilbot.storage upgrade|check <postgresql://... database url>"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in {"upgrade", "check"}:
        print(USAGE, file=sys.stderr)
        return BAD
    command, url = args
    outcome = run_upgrade(url) if command == "upgrade" else run_check(url)
    if outcome.ok:
        print(outcome.message)
    else:
        print(f"error: {outcome.message}", file=sys.stderr)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
