"""Every council one deployment serves, on one storage backend, and which council a request is for.

A single town council runs with no ``[[councils]]``: one council, its records in TinyDB files in
``data_dir`` (or in PostgreSQL with ``database_url``), serving whoever reaches it. A county
association or a hosting contractor lists several ``[[councils]]``, each bound to its Slack
workspaces and Microsoft 365 tenants; a request is served as the council its workspace or tenant
belongs to, and one from anywhere else is refused (``Unbound``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .app import CouncilBot
from .config import Settings
from .storage import open_backend
from .storage.port import Backend
from .storage.tiny import TinyBackend

log = logging.getLogger(__name__)


class Deployment:
    def __init__(self, settings: Settings, backend: Backend, bots: list[CouncilBot]) -> None:
        self.settings = settings
        self.backend = backend
        self.bots = {bot.council_id: bot for bot in bots}
        # With no [[councils]] the one council serves every workspace and tenant, as it always has.
        self.bound = bool(settings.councils)
        self._slack = {team: bot for bot in bots for c in bot.settings.councils for team in c.slack_teams}
        self._tenants = {tenant.lower(): bot for bot in bots for c in bot.settings.councils for tenant in c.teams_tenants}

    @classmethod
    async def open(cls, settings: Settings) -> "Deployment":
        """Open the storage (PostgreSQL's schema is checked first: a clear error if it is behind)
        and each council's core. Raises ``StorageError``/``PackError`` with a plain message."""
        url = settings.database
        many = bool(settings.councils)
        backend: Backend
        if url:
            backend = await open_backend(url, settings.data_dir)
        else:
            # A single council's records stay in data_dir itself; hosted councils have a folder each.
            backend = TinyBackend(settings.data_dir, home=None if many else settings.council_id)
        bots = [CouncilBot(s, backend, s.council_id, files=files_folder(settings.data_dir, s.council_id, many))
                for s in settings.council_settings()]
        if isinstance(backend, TinyBackend):
            try:
                for bot in bots:  # damaged files stop start-up here, named, rather than a request later
                    await backend.opened(bot.council_id)
            except BaseException:
                await backend.close()
                raise
        return cls(settings, backend, bots)

    @classmethod
    def of(cls, bot: CouncilBot) -> "Deployment":
        """A single council already built (tests, tools): served to whoever reaches it."""
        return cls(bot.settings, bot.backend, [bot])

    @property
    def only(self) -> CouncilBot | None:
        """The council, when there is just one."""
        return next(iter(self.bots.values())) if len(self.bots) == 1 else None

    def for_slack_team(self, team_id: str | None) -> CouncilBot | None:
        """The council a Slack workspace belongs to; None (refuse) if none does."""
        if not self.bound:
            return self.only
        return self._slack.get(team_id or "")

    def for_tenant(self, tenant_id: str | None) -> CouncilBot | None:
        """The council a Microsoft 365 tenant belongs to; None (refuse) if none does."""
        if not self.bound:
            return self.only
        return self._tenants.get((tenant_id or "").lower())

    async def start(self) -> None:
        for bot in self.bots.values():
            await bot.start()

    async def stop(self) -> None:
        for bot in self.bots.values():
            await bot.stop()
        await self.backend.close()


def files_folder(data_dir: Path, council_id: str, many: bool) -> Path:
    """Where a council's files (evidence, bundles, its signing key) are kept beside its records."""
    return data_dir / council_id if many else data_dir
