"""Helpers that build Bot Framework activities the way Teams sends them, and read the fake
Bot Connector. (A module of its own: ``conftest`` is a name every test folder has.)"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))

from fake_connector import Call, FakeConnector

from councilbot.config import Settings
from councilbot.messages import Reply

TENANT = "tenant-castle-cary"
BOT = {"id": "28:bot-id", "name": "CouncilBot"}
CLERK_CHANNEL = "19:clerk@thread.tacv2"
TEAM = "19:team-general@thread.tacv2"
PEOPLE = {"teams:aad-clerk": "clerk", "teams:aad-cllr": "councillor", "teams:aad-chair": "chair"}
NAMES = {"aad-clerk": "Clara Clerk", "aad-cllr": "Colin Councillor", "aad-chair": "Chris Chair", "aad-resident": "Rosa"}
_ids = itertools.count(1)


def make_settings(tmp_path: Path, **teams: Any) -> Settings:
    return Settings(council="castle-cary", data_dir=tmp_path, people=PEOPLE,
                    teams={"clerk_channel": CLERK_CHANNEL, "emulator": True, **teams})


def personal_conversation(aad: str) -> str:
    return f"a:personal-chat-{aad}"


MARKER = "aad-marker"  # someone who only ever receives markers (see ``Teams.quiet``)


@dataclass
class Teams:
    """Posts activities to the bot as Teams would, and reads what the bot sent to the connector."""

    url: str
    connector: FakeConnector
    bot: Any
    app: web.Application
    session: aiohttp.ClientSession
    sent_ids: list[str] = field(default_factory=list)

    def _base(self, aad: str, conversation: dict[str, Any], channel_data: dict[str, Any]) -> dict[str, Any]:
        activity_id = f"activity-{next(_ids)}"
        return {
            "id": activity_id,
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": {"id": f"29:{aad}", "aadObjectId": aad, "name": NAMES.get(aad, aad)},
            "recipient": dict(BOT),
            "conversation": {"tenantId": TENANT, **conversation},
            "channelData": {"tenant": {"id": TENANT}, **channel_data},
            "locale": "en-GB",
        }

    def personal(self, aad: str, text: str | None = None, value: dict[str, Any] | None = None,
                 reply_to: str | None = None) -> dict[str, Any]:
        activity = self._base(aad, {"id": personal_conversation(aad), "conversationType": "personal"}, {})
        activity.update({"type": "message", "text": text or ""})
        if value is not None:
            activity["value"] = value
        if reply_to:
            activity["replyToId"] = reply_to
        return activity

    def in_channel(self, aad: str, text: str, channel: str = CLERK_CHANNEL, thread: str = "root-1") -> dict[str, Any]:
        mention = "<at>CouncilBot</at>"
        activity = self._base(aad, {"id": f"{channel};messageid={thread}", "conversationType": "channel", "isGroup": True},
                              {"team": {"id": TEAM, "name": "Castle Cary TC"}, "channel": {"id": channel, "name": "Clerk"}})
        activity.update({"type": "message", "text": f"{mention} {text}",
                         "entities": [{"type": "mention", "text": mention, "mentioned": dict(BOT)}]})
        return activity

    def bot_added_to_team(self, aad: str = "aad-clerk", channel: str = CLERK_CHANNEL) -> dict[str, Any]:
        activity = self._base(aad, {"id": channel, "conversationType": "channel", "isGroup": True},
                              {"team": {"id": channel, "name": "Clerk's office"}, "eventType": "teamMemberAdded"})
        activity.update({"type": "conversationUpdate", "membersAdded": [dict(BOT)]})
        return activity

    def invoke(self, aad: str, data: dict[str, Any], *, channel_card: Call | None = None,
               reply_to: str | None = None) -> dict[str, Any]:
        """An ``adaptiveCard/action`` invoke: a button on a card, or a form's submit, pressed."""
        if channel_card is not None:
            conversation = {"id": f"{channel_card.conversation};messageid={channel_card.response_id}",
                            "conversationType": "channel", "isGroup": True}
            activity = self._base(aad, conversation, {"team": {"id": TEAM}, "channel": {"id": channel_card.conversation}})
            reply_to = channel_card.response_id
        else:
            activity = self._base(aad, {"id": personal_conversation(aad), "conversationType": "personal"}, {})
        activity.update({"type": "invoke", "name": "adaptiveCard/action",
                         "value": {"action": {"type": "Action.Execute", "verb": data.get("action") or "form",
                                              "data": data}, "trigger": "manual"}})
        if reply_to:
            activity["replyToId"] = reply_to
        return activity

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.session.post(f"{self.url}/api/messages", json=activity, headers=headers or {}) as resp:
            body: Any = await resp.text()
            if resp.content_type == "application/json":
                body = await resp.json()
            return resp.status, body

    async def quiet(self, timeout: float = 10.0) -> None:
        """Return once the outbox has sent everything due before now to Teams, so that asserting
        that something was not sent means something (a fixed sleep passes vacuously on a slow
        machine): a marker queued now reached the connector, and each platform's deliveries go out
        one at a time, oldest first."""
        if not self.connector.ops(conversation=personal_conversation(MARKER)):
            await self.say(MARKER, "help")  # the bot learns how to reach the marker's chat
        n = next(_ids)
        await self.bot.outbox.send(f"marker-{n}", f"teams:{MARKER}", Reply(text=f"quiet marker {n}"))
        await self.connector.wait_for(lambda c: c.op == "send" and c.conversation == personal_conversation(MARKER)
                                      and f"quiet marker {n}" in c.text, timeout=timeout)

    async def say(self, aad: str, text: str) -> list[Call]:
        """A personal-chat message; returns what the bot answered in that chat during the turn."""
        before = len(self.connector.calls)
        status, _ = await self.post(self.personal(aad, text))
        assert status in (200, 201), status
        return [c for c in self.connector.calls[before:] if c.conversation == personal_conversation(aad)]


def submit_data(card: dict[str, Any], **inputs: Any) -> dict[str, Any]:
    """What Teams sends when a form card's submit is pressed: its data plus each input by id."""
    action = card["actions"][0]
    data = dict(action["data"])
    data.update({f"in:{k}": v for k, v in inputs.items()})
    return data


def button_data(card: dict[str, Any], title: str) -> dict[str, Any]:
    for action in card.get("actions", ()):
        if action["title"] == title:
            return dict(action["data"])
    raise AssertionError(f"no button {title!r} on card; has {[a['title'] for a in card.get('actions', ())]}")


