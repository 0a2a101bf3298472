"""Three councils served by one ``build_app(deployment)`` on 127.0.0.1, on TinyDB and on PostgreSQL,
with council A (Alsager) full of records and B (Castle Cary) and C (Ansford, on Alsager's pack)
asking after them over every read path (issue 12: "one council never sees another's records").

The PostgreSQL server is the storage suite's throwaway one; the bot connects to it as that suite's
ordinary role (not a superuser), so row-level security is in force exactly as in production.

The world is built once per backend (module-scoped, on the module's event loop): seeding A through
the core's door and starting the server twice takes a few seconds, and every test only reads, or
does something in B that must leave A as it was."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from pg import PgServer

from councilbot.storage.migrations import upgrade

from .world import World, running


@pytest.fixture(scope="module", params=["tiny", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """None (TinyDB, one data folder with a folder per council) or a PostgreSQL URL at the latest
    schema, owned by the ordinary role the bot connects as."""
    if request.param == "tiny":
        yield None
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"councilbot_iso_{uuid.uuid4().hex[:8]}"
    with server.janitor(name):
        url = server.url(name)
        upgrade(url)
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(database: str | None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    with pytest.MonkeyPatch.context() as env:
        async with running(tmp_path_factory.mktemp("isolation"), database, env) as it:
            yield it
