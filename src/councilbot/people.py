"""Who is who: platform-qualified ids mapped to roles, from the config file and from chat, and
what each role may do under the council's pack."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Awaitable, Callable, Mapping

from .errors import Refused
from .kinds import Role
from .pack import Pack
from .storage.port import Store

Doc = dict[str, Any]

CLERKS = {Role.CLERK, Role.DEPUTY_CLERK, Role.ASSISTANT_CLERK}


def bare_name(name: str) -> str:
    """A name as people write it, without the bracketed parts a config adds ("Jane Pargeter (Town
    Clerk)"): what report routing matches and subject access redacts."""
    return re.sub(r"\s+", " ", re.sub(r"\(.*?\)", " ", name)).strip()



REFUSALS = {
    "approve": "Only the Clerk and the approvers named in the policy can decide on suggested posts.",
    "read_reports": "Only the report recipients can see reports.",
    "flag": "Sorry, only the Clerk, the moderators and the Chair can flag posts for the Code of Conduct. "
            "If a post worries you, please tell the Clerk.",
    "export": "Only the Clerk and the approvers can export approved posts.",
    "erase": "Only the Clerk can erase a person's records.",
    "manage_people": "Only the Clerk can see and change who is who.",
    "moderate": "Only moderators can record moderation actions.",
    "suggest": "Only councillors and council staff can suggest posts. You can still check a draft with /checkpost.",
    "escalate": "Escalation is not part of this council's policy, or not yours to make.",
    "settle": "Only the Chair of the Council can settle a disagreement.",
}


# Every action a person may be allowed or refused (anyone, even unknown, may check, ask and report).
PERMISSIONS = tuple(REFUSALS)


class People:
    """Who is who in one council. Roles and names changed in chat live in the store; the reads
    here are answered from a copy that ``load`` refreshes at the start of every event (two small
    tables), so a role changed on another replica holds from the next event on, and a permission
    check never waits on the store."""

    def __init__(self, store: Store, pack: Pack, configured: Mapping[str, Role], names: Mapping[str, str]) -> None:
        self.store = store
        self.pack = pack
        self.configured = dict(configured)
        self.names = dict(names)
        self._records: dict[str, Doc] = {}  # the "people" table: roles and names set in chat
        self._seen: dict[str, str] = {}  # the "names" table: display names platforms sent
        # Called after anyone's role changes: a new report recipient must receive the reports that
        # waited for one, whichever door the change came through.
        self.listeners: list[Callable[[], Awaitable[None]]] = []

    async def load(self) -> None:
        """Read the roles and names as the store holds them now."""
        # Both asked at once: the store answers reads waiting together in one go.
        people, names = await asyncio.gather(self.store.find("people"), self.store.find("names"))
        self._records = {str(d["id"]): d for d in people}
        self._seen = {str(d["id"]): str(d["name"]) for d in names if d.get("name")}

    def role(self, user: str) -> Role | None:
        """Chat changes by the Clerk win over the file; a removal in chat is remembered too."""
        record = self._records.get(user)
        if record is not None:
            return Role(record["role"]) if record.get("role") else None
        return self.configured.get(user)

    def name(self, user: str, fallback: str | None = None) -> str:
        """The Clerk's name for them, the config's, then the name their platform gave on first contact."""
        return self.given_name(user) or self._seen.get(user) or fallback or user.split(":", 1)[-1]

    def given_name(self, user: str) -> str:
        """The name the Clerk or the config gave, never one a platform sent (those can be handles)."""
        record = self._records.get(user)
        if record and record.get("name"):
            return str(record["name"])
        return self.names.get(user, "")

    def given_names(self, user: str) -> list[str]:
        """Every name the Clerk or the config gave this person: a name changed in chat does not
        hide the one in the config file (a report naming the Clerk by it still goes round her)."""
        record = self._records.get(user)
        names = [str(record["name"])] if record and record.get("name") else []
        return list(dict.fromkeys(names + ([self.names[user]] if self.names.get(user) else [])))

    def named(self) -> dict[str, str]:
        """Everyone the Clerk or the config has given a name (``given_name``), with or without a
        role now: a report is routed on these names, so who shares a first name is asked about."""
        users = set(self.names) | set(self._records)
        return {user: name for user in sorted(users) if (name := self.given_name(user))}

    async def saw(self, user: str, display_name: str | None) -> None:
        """Remember the display name a platform sent, so cards say "Jane Smith", not an id. An
        unchanged name writes nothing."""
        if not display_name or len(display_name) > 200 or self._seen.get(user) == display_name:
            return
        await self.store.upsert("names", {"id": user, "name": display_name})
        self._seen[user] = display_name

    def everyone(self) -> dict[str, Role]:
        out = dict(self.configured)
        for user, record in self._records.items():
            if record.get("role"):
                out[user] = Role(record["role"])
            else:
                out.pop(user, None)
        return out

    def with_roles(self, roles: tuple[Role, ...]) -> list[str]:
        return sorted(user for user, role in self.everyone().items() if role in roles)

    async def set(self, user: str, role: Role | None, name: str | None = None) -> None:
        doc = {"id": user, "role": role.value if role else None, "name": name}
        self._records[user] = await self.store.upsert("people", doc)
        await self.changed()

    async def configure(self, user: str, role: Role) -> None:
        """A role given for this run only, as the config file gives it (the console's local trust:
        whoever runs the terminal says who they are)."""
        self.configured[user] = role
        await self.changed()

    async def changed(self) -> None:
        for listener in list(self.listeners):
            await listener()

    def require(self, user: str, action: str) -> None:
        """Refuse politely, in one wording per action, unless this person may take it."""
        if not self.can(user, action):
            raise Refused(REFUSALS[action])

    def can(self, user: str, action: str) -> bool:
        role = self.role(user)
        r = self.pack.roles
        table: dict[str, tuple[Role, ...]] = {
            "approve": r.approve_posts,
            "read_reports": r.receive_reports + r.report_fallback,
            "flag": r.flag_conduct,
            "export": r.approve_posts + r.receive_reports,
            "erase": r.manage_people,
            "manage_people": r.manage_people,
            "moderate": r.moderate,
            "suggest": (Role.COUNCILLOR, Role.OFFICER, *CLERKS, Role.MODERATOR, Role.CHAIR),
            "escalate": r.approve_posts if r.escalation else (),
            "settle": r.settle_disagreements,
        }
        if action not in table:
            raise KeyError(action)
        return role is not None and role in table[action]
