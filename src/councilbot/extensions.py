"""What the chat adapters add to the core without the core importing them.

The core must run (and be tested) with no chat SDK installed, yet a person's data may sit in an
adapter's own table, and ``councilbot doctor --online`` asks the platforms whether the tokens work.
So adapters register those here when their package is imported (``councilbot_adapters.cli`` does
it for the ``councilbot`` command), and the core reads these registries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .config import Settings
    from .doctor import Line

# Table -> the field naming the person a record belongs to: subject access exports them and
# erasure deletes them, like the core's own tables.
PERSONAL_TABLES: dict[str, str] = {}
# Checks ``councilbot doctor --online`` runs: each asks one platform whether the credentials work.
ONLINE_CHECKS: list[Callable[["Settings"], "Line"]] = []


def personal_table(table: str, owner_field: str) -> None:
    """An adapter's table that holds personal data, owned by whoever ``owner_field`` names."""
    PERSONAL_TABLES[table] = owner_field


def online_check(check: Callable[["Settings"], "Line"]) -> None:
    if check not in ONLINE_CHECKS:
        ONLINE_CHECKS.append(check)
