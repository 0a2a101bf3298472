"""Fixtures for the storage contract suite: each test runs on TinyDB and on a real PostgreSQL
(the throwaway server of ``tests/conftest.py``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest

from councilbot.storage.port import Backend
from councilbot.storage.postgres import open_postgres
from councilbot.storage.tiny import TinyBackend

@pytest.fixture(params=["tiny", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "postgres":
        return str(request.getfixturevalue("contract_db"))
    return str(tmp_path / "data")


@pytest.fixture
async def replicas(kind: str, storage_url: str) -> AsyncIterator[Callable[[], Awaitable[Backend]]]:
    """``await replicas()``: one more process's view of the same storage. On PostgreSQL a new
    connection pool (another replica); TinyDB has one writer per data folder by design (the
    DataLock), so there every "replica" is the same backend, shared by concurrent tasks."""
    opened: list[Backend] = []
    shared: list[TinyBackend] = []

    async def make() -> Backend:
        if kind == "postgres":
            backend: Backend = await open_postgres(storage_url, max_size=6)
            opened.append(backend)
            return backend
        if not shared:
            shared.append(TinyBackend(Path(storage_url)))
            opened.append(shared[0])
        return shared[0]

    yield make
    for backend in opened:
        await backend.close()


@pytest.fixture
async def backend(replicas: Callable[[], Awaitable[Backend]]) -> Backend:
    return await replicas()


@pytest.fixture
def council() -> str:
    """A council id of this test's own (the PostgreSQL database is shared by the whole suite)."""
    return f"c-{uuid.uuid4().hex[:12]}"
