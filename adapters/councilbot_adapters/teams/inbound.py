"""Bot Framework activities (wire-format JSON) -> the core's ``Incoming``. Pure functions over
plain dicts: no botbuilder, no I/O, so each translation is tested from a captured activity and
survives a move to the Agents SDK (which speaks the same wire format)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from councilbot.messages import Incoming

from .. import common, shapes
from ..shapes import NULL, Id
from .cards import ACTION_KEY, CONTEXT_KEY, FORM_KEY, INPUT_PREFIX, KINDS_KEY, SHEET_KEY, VALUE_KEY

PREFIX = "teams:"
# Teams plumbing, answered by the adapter itself (in a team channel): every other typed word is the
# core's to read (``councilbot.typed``), the same as on Slack and in the terminal.
SET_CLERK_CHANNEL = re.compile(r"^\s*/?set\s+(?:the\s+)?clerk(?:'s)?\s+channel\s*[.!]?\s*$", re.IGNORECASE)
# Mentions read from an activity's entities; Teams sends one per person mentioned.
MAX_ENTITIES = 50
# Linear: neither part can run past the next "<", so many "<at" without "</at>" cost little.
_AT = re.compile(r"<at(?:\s[^<>]*)?>([^<]*)</at>", re.IGNORECASE)


# The fields of an activity (wire format) that botbuilder or this adapter reads, with their types.
# Ids and the service URL go into the Bot Connector's URLs when the bot answers, so an absurd one is
# refused here rather than failing the reply.
ID = Id(1024)
_ACCOUNT = {"id": ID, "name": (str, NULL), "aadObjectId": (ID, NULL), "role": (str, NULL)}
_ACTIVITY = {
    "type": str, "id": ID, "name": (str, NULL), "text": (str, NULL), "serviceUrl": ID, "channelId": ID,
    "from": _ACCOUNT, "recipient": _ACCOUNT, "replyToId": (ID, NULL), "action": (str, NULL), "locale": (str, NULL),
    "conversation": {"id": ID, "name": (str, NULL), "conversationType": (str, NULL), "tenantId": (ID, NULL),
                     "isGroup": (bool, NULL)},
    "channelData": ({"tenant": ({"id": ID}, NULL), "team": ({"id": ID, "name": (str, NULL)}, NULL),
                     "channel": ({"id": ID, "name": (str, NULL)}, NULL), "eventType": (str, NULL)}, NULL),
    "entities": ([{"type": str, "text": (str, NULL), "mentioned": (_ACCOUNT, NULL)}], NULL),
    "membersAdded": ([_ACCOUNT], NULL), "membersRemoved": ([_ACCOUNT], NULL),
    "attachments": ([dict], NULL), "timestamp": (str, NULL), "localTimestamp": (str, NULL),
}


def shape_problem(activity: Any) -> str | None:
    """What makes ``activity`` not the shape the Bot Framework sends (None if it is): an object
    with a ``type``, somewhere to answer (``serviceUrl``, ``conversation.id``), and each field the
    SDK or this adapter reads of the documented type."""
    found = shapes.problem(activity, _ACTIVITY, "activity")
    if found:
        return found
    if not activity.get("type"):
        return "activity.type is missing"
    if not str(activity.get("serviceUrl", "")).lower().startswith(("http://", "https://")):
        return "activity.serviceUrl is not an http(s) URL"
    if not (activity.get("conversation") or {}).get("id"):
        return "activity.conversation.id is missing"
    return None


def user_id(activity: Mapping[str, Any], allow_plain_id: bool = False) -> str | None:
    """``teams:<aad-object-id>``. The Emulator sends no AAD id, so in local no-auth mode
    (``allow_plain_id``) its ``from.id`` stands in; with auth on, no AAD id means not a Teams user."""
    sender = activity.get("from") or {}
    ident = sender.get("aadObjectId") or (sender.get("id") if allow_plain_id else None)
    return PREFIX + str(ident) if ident else None


def aad_of(user: str) -> str | None:
    """``teams:abc`` -> ``abc``; None for another platform's id."""
    return user[len(PREFIX):] if user.startswith(PREFIX) else None


def display_name(activity: Mapping[str, Any]) -> str | None:
    return (activity.get("from") or {}).get("name") or None


def conversation_type(activity: Mapping[str, Any]) -> str:
    conv = activity.get("conversation") or {}
    kind = conv.get("conversationType")
    if kind:
        return str(kind)
    if (activity.get("channelData") or {}).get("team"):
        return "channel"
    return "groupChat" if conv.get("isGroup") else "personal"


def is_personal(activity: Mapping[str, Any]) -> bool:
    return conversation_type(activity) == "personal"


def team_channel_id(activity: Mapping[str, Any]) -> str | None:
    """The channel a team activity happened in, without the thread's ``;messageid=`` suffix.
    Teams puts it in ``channelData.channel.id``; a team's General channel shares the team id."""
    data = activity.get("channelData") or {}
    channel = (data.get("channel") or {}).get("id")
    if channel:
        return str(channel)
    if conversation_type(activity) == "channel":
        conv_id = str((activity.get("conversation") or {}).get("id") or "")
        return conv_id.split(";", 1)[0] or None
    return None


def tenant_id(activity: Mapping[str, Any]) -> str | None:
    conv = (activity.get("conversation") or {}).get("tenantId")
    data = ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
    return conv or data or None


def reference_of(activity: Mapping[str, Any]) -> dict[str, Any]:
    """A conversation reference (wire format) to reach this conversation again, without the
    activity id: proactive posts are new messages, not replies."""
    ref = {
        "user": activity.get("from"),
        "bot": activity.get("recipient"),
        "conversation": activity.get("conversation"),
        "channelId": activity.get("channelId"),
        "serviceUrl": activity.get("serviceUrl"),
        "locale": activity.get("locale"),
    }
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in ref.items() if v is not None}


def clean_text(activity: Mapping[str, Any]) -> str:
    """The text without the bot's @mention (the person's words only); other mentions keep the name."""
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    # Each name is one pass over the text: a few, as Teams sends, not thousands, as a stranger might.
    bot_names = {str(e["text"]) for e in (activity.get("entities") or ())[:MAX_ENTITIES]
                 if str(e.get("type", "")).lower() == "mention" and (e.get("mentioned") or {}).get("id") == bot_id
                 and e.get("text")}
    for mention in bot_names:
        text = text.replace(mention, " ")
    text = _AT.sub(lambda m: m.group(1), text)
    return re.sub(r"[ \t]+", " ", text.replace("\u00a0", " ")).strip()


def mentions_bot(activity: Mapping[str, Any]) -> bool:
    bot_id = (activity.get("recipient") or {}).get("id")
    return any(str(e.get("type", "")).lower() == "mention" and (e.get("mentioned") or {}).get("id") == bot_id
               for e in (activity.get("entities") or ())[:MAX_ENTITIES])


def typed_incoming(user: str, text: str, event_id: str | None = None, name: str | None = None) -> Incoming | None:
    """Typed text, passed on as written for the core to read (commands included); None if empty."""
    stripped = text.strip()
    if not stripped:
        return None
    return Incoming(kind="message", user=user, text=stripped, event_id=event_id, display_name=name, typed=True)


def _typed(raw: Any, kind: str) -> Any:
    """Adaptive Card inputs all come back as strings: multiselect is "a,b", a toggle "true"/"false"."""
    if kind == "multiselect":
        if isinstance(raw, list):
            return [str(x) for x in raw if str(x)]
        return [p for p in str(raw or "").split(",") if p]
    if kind == "toggle":
        if isinstance(raw, bool):
            return raw
        return str(raw or "").strip().lower() in {"true", "1", "yes", "on"}
    return "" if raw is None else str(raw)


def from_card_data(user: str, data: Any, event_id: str | None = None, name: str | None = None) -> Incoming | None:
    """The data of a pressed button or a submitted form (``Action.Execute`` or ``Action.Submit``)."""
    if not isinstance(data, Mapping):
        return None
    if isinstance(data.get(FORM_KEY), str):
        raw_kinds = data.get(KINDS_KEY)
        kinds: Mapping[str, Any] = raw_kinds if isinstance(raw_kinds, Mapping) else {}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if isinstance(key, str) and key.startswith(INPUT_PREFIX):
                field = key[len(INPUT_PREFIX):]
                values[field] = _typed(raw, str(kinds.get(field, "text")))
        for field, kind in kinds.items():  # an untouched optional input may be left out entirely
            values.setdefault(str(field), _typed(None, str(kind)))
        return Incoming(kind="form", user=user, name=data[FORM_KEY], value=str(data.get(CONTEXT_KEY) or ""),
                        values=values, event_id=submission_id(data.get(SHEET_KEY), values) or event_id,
                        display_name=name)
    if isinstance(data.get(ACTION_KEY), str):
        return Incoming(kind="action", user=user, name=data[ACTION_KEY], value=str(data.get(VALUE_KEY) or ""),
                        event_id=event_id, display_name=name)
    return None


def submission_id(sheet: Any, values: Mapping[str, Any]) -> str | None:
    """One card (its sheet id) submitted with the same answers is one submission
    (``common.submission_key``), however many presses or redeliveries bring it."""
    return common.submission_key("form", sheet, values)


def invoke_data(activity: Mapping[str, Any]) -> Any:
    """The data of an ``adaptiveCard/action`` invoke (``value.action.data``)."""
    value = activity.get("value")
    action = value.get("action") if isinstance(value, Mapping) else None
    return action.get("data") if isinstance(action, Mapping) else None


def to_incoming(activity: Mapping[str, Any], allow_plain_id: bool = False) -> Incoming | None:
    """Any activity a person caused -> ``Incoming``; None when there is nothing for the core
    (an empty message, an activity from an unknown sender, a card payload we did not make)."""
    user = user_id(activity, allow_plain_id)
    if user is None:
        return None
    event_id = activity.get("id")
    name = display_name(activity)
    if activity.get("type") == "invoke":
        if activity.get("name") != "adaptiveCard/action":
            return None
        return from_card_data(user, invoke_data(activity), event_id, name)
    if activity.get("type") != "message":
        return None
    if isinstance(activity.get("value"), Mapping):  # Action.Submit (Emulator, older clients)
        return from_card_data(user, activity["value"], event_id, name)
    return typed_incoming(user, clean_text(activity), event_id, name)
