"""Async storage: the port the core awaits, with TinyDB and PostgreSQL behind it (see ``port``)."""

from __future__ import annotations

from pathlib import Path

from .port import Backend, StorageError


async def open_backend(database_url: str | None, data_dir: Path) -> Backend:
    """PostgreSQL when a database URL is configured (its schema checked first), else TinyDB with a
    folder per council under ``data_dir``."""
    if not database_url:
        from .tiny import TinyBackend

        return TinyBackend(data_dir)
    if not database_url.startswith(("postgresql://", "postgres://")):
        raise StorageError("database_url must start with postgresql:// (or leave it out to keep the records in data_dir)")
    from .postgres import open_postgres

    return await open_postgres(database_url)
