"""Slack payloads -> the core's ``Incoming``. Pure functions: no I/O, no core logic, so each
translation can be tested from a captured payload."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qsl

from councilbot.messages import Incoming, Reply

from .. import common, shapes
from ..shapes import NULL, Each
from .blocks import EVIDENCE_BLOCK

PREFIX = "slack:"
# /councilbot's sub-commands; anything else after /councilbot is passed on as a command name too,
# and the core answers with help for names it does not know.
ADMIN = "councilbot"
# Message subtypes that are a person writing; every other subtype (bot_message, message_changed,
# message_deleted, channel_join, ...) is Slack or an app talking and is ignored.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


# ---------------------------------------------------------------- is it a request Slack would send?


class Malformed(ValueError):
    """A signed request whose body is not the shape Slack sends. Answered 400 before bolt or a
    listener reads it: bolt's own parsing and matching assume Slack's shapes and raise otherwise."""


_USER = {"id": str, "name": str, "username": str, "team_id": str}
_PLACE = {"id": str, "name": str, "domain": str, "enterprise_id": (str, NULL)}
_STATE = {"type": str, "value": (str, NULL), "selected_option": ({"value": str}, NULL),
          "selected_options": [{"value": str}], "selected_date": (str, NULL),
          "files": [{"id": str, "name": (str, NULL), "permalink": (str, NULL), "url_private": (str, NULL),
                     "url_private_download": (str, NULL)}]}
_VIEW = {"id": str, "hash": str, "type": str, "callback_id": str, "private_metadata": str, "team_id": (str, NULL),
         "app_installed_team_id": (str, NULL), "blocks": list, "state": {"values": Each(Each(_STATE))}}
_MESSAGE = {"type": str, "ts": str, "thread_ts": str, "text": str, "user": str, "bot_id": (str, NULL)}
_EVENT = {"type": str, "user": (str, _USER), "text": str, "channel": (str, _PLACE), "channel_type": str,
          "subtype": (str, NULL), "bot_id": (str, NULL), "bot_profile": (dict, NULL), "tab": str, "ts": str,
          "event_ts": str, "thread_ts": str, "team": str, "user_team": str, "message": dict,
          "previous_message": dict, "item": dict, "assistant_thread": dict, "inputs": dict,
          "function_execution_id": str, "bot_access_token": str}
_BODY = {
    "type": str, "token": str, "team_id": (str, NULL), "enterprise_id": (str, NULL), "api_app_id": str,
    "event_id": str, "event_time": (int, float), "enterprise": (_PLACE, NULL), "team": (_PLACE, NULL),
    "user": _USER, "user_id": str, "user_name": str, "channel": (_PLACE, NULL), "channel_id": str,
    "authorizations": [{"enterprise_id": (str, NULL), "team_id": (str, NULL), "user_id": str,
                        "is_bot": bool, "is_enterprise_install": bool}],
    "is_enterprise_install": (bool, str), "is_ext_shared_channel": bool, "event": _EVENT,
    "actions": [{"action_id": str, "block_id": str, "value": str, "type": str}], "view": _VIEW,
    "message": _MESSAGE, "previous_message": dict, "item": dict, "assistant_thread": dict, "function_data": dict,
    "container": dict, "callback_id": str, "action_id": str, "trigger_id": str, "response_url": str,
    "response_urls": [{"response_url": str, "block_id": str, "action_id": str, "channel_id": str}], "command": str, "text": str, "thread_ts": str, "challenge": str,
    "function_execution_id": str, "bot_access_token": str,
}
# The events the listeners read, with the types Slack documents for each: the generic ``_EVENT``
# must allow a user object (``team_join``, ``user_change``), but these two carry a user id.
_EVENTS = {
    "message": {"user": str, "channel": str, "text": str},
    "app_home_opened": {"user": str, "channel": str, "tab": str},
}
# What each kind of request cannot do without (bolt indexes these directly).
_INTERACTIVE = ("block_actions", "view_submission", "view_closed", "shortcut", "message_action")


def parse_request(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as bolt will parse it (same rules), checked to be the shape Slack sends:
    UTF-8, an object, each field bolt or a listener reads of the right type, and what each kind
    of request needs present. Raises ``Malformed`` saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    if not text:
        return {}
    try:
        if (content_type or "").split(";")[0] == "application/json" or text.startswith("{"):
            body: Any = json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))
            # Interactivity comes as one ``payload=`` field of JSON. (Bolt looks for the word
            # "payload" anywhere in the body, so "/checkpost the payload of the bin lorry" would
            # parse as nothing there; the adapter hands bolt this parse instead.)
            body = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, RecursionError) as exc:  # bad JSON (or nested past Python's limit)
        raise Malformed(f"the body cannot be parsed ({exc.__class__.__name__})") from None
    problem = shapes.problem(body, _BODY)
    if problem:
        raise Malformed(problem)
    kind = body.get("type")
    if kind == "event_callback" and not isinstance((body.get("event") or {}).get("type"), str):
        raise Malformed("an event_callback without event.type")
    event = body.get("event") if kind == "event_callback" else None
    if event is not None:
        problem = shapes.problem(event, _EVENTS.get(event["type"], {}), "body.event")
        if problem:
            raise Malformed(problem)
        if event["type"] == "app_home_opened" and not event.get("user"):
            raise Malformed("an app_home_opened without event.user")
    if kind in _INTERACTIVE and not (body.get("user") or {}).get("id"):
        raise Malformed(f"a {kind} without user.id")
    if kind == "block_actions" and not body.get("actions"):
        raise Malformed("a block_actions without actions")
    if kind == "block_actions" and not all(isinstance(a.get("action_id"), str) for a in body["actions"]):
        raise Malformed("a block_actions action without action_id")
    if kind in ("view_submission", "view_closed") and not all(isinstance((body.get("view") or {}).get(k), str) for k in ("callback_id", "type")):
        raise Malformed(f"a {kind} without view.callback_id and view.type")
    if kind in ("shortcut", "message_action", "interactive_message", "dialog_submission", "dialog_cancellation",
                "dialog_suggestion", "workflow_step_edit") and not isinstance(body.get("callback_id"), str):
        raise Malformed(f"a {kind} without callback_id")
    if kind == "block_suggestion" and not isinstance(body.get("action_id"), str):
        raise Malformed("a block_suggestion without action_id")
    if "command" in body and not body.get("user_id"):
        raise Malformed("a slash command without user_id")
    return dict(body)


def team_of(body: Mapping[str, Any]) -> str | None:
    """The workspace a request comes from, wherever its kind of request says it: events and slash
    commands at the top (``team_id``), interactivity under ``team`` (or the user's ``team_id``)."""
    team = body.get("team")
    user = body.get("user")
    for value in (body.get("team_id"), team.get("id") if isinstance(team, dict) else None,
                  user.get("team_id") if isinstance(user, dict) else None):
        if isinstance(value, str) and value:
            return value
    return None


def user_id(slack_user: str) -> str:
    return PREFIX + slack_user


def slack_user(qualified: str) -> str | None:
    """``slack:U123`` -> ``U123``; None for another platform's id."""
    return qualified[len(PREFIX):] if qualified.startswith(PREFIX) else None


def _person(body: Mapping[str, Any]) -> tuple[str, str | None]:
    user = body.get("user") or {}
    return user_id(user.get("id", "")), user.get("name") or user.get("username")


# ---------------------------------------------------------------- slash commands


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def unescape_mentions(text: str) -> str:
    """/councilbot has should_escape on, so ``@jane`` arrives as ``<@U123|jane>``: the core wants
    ``slack:U123`` (``people add @jane councillor``). Slack's own escapes are undone too."""
    text = _MENTION.sub(lambda m: PREFIX + m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_incoming(body: Mapping[str, Any]) -> Incoming:
    """``/policy text`` -> command policy; ``/councilbot pending x`` -> command pending, text x."""
    name = str(body.get("command", "")).lstrip("/").lower()
    text = str(body.get("text") or "").strip()
    if name == ADMIN:
        first, _, rest = unescape_mentions(text).partition(" ")
        name, text = (first.lower() or "help"), rest.strip()
    return Incoming(kind="command", user=user_id(body.get("user_id", "")), name=name, text=text, display_name=body.get("user_name"))


# ---------------------------------------------------------------- events


def is_person_message(event: Mapping[str, Any], bot_user_id: str | None = None) -> bool:
    """A DM a person wrote. Ignore bots (ours included, or we would answer ourselves forever),
    edits and deletions, and anything not in a DM (we only subscribe to message.im, but be sure)."""
    if event.get("type") != "message" or event.get("channel_type") not in (None, "im"):
        return False
    if event.get("bot_id") or event.get("bot_profile") or event.get("subtype") not in PERSON_SUBTYPES:
        return False
    user = event.get("user")
    return bool(user) and user != bot_user_id and bool((event.get("text") or "").strip())


def shared_files(event: Mapping[str, Any], bot_user_id: str | None = None) -> list[dict[str, Any]]:
    """Files a person shared in their DM with the bot (screenshots to keep as evidence)."""
    if event.get("type") != "message" or event.get("channel_type") not in (None, "im") or event.get("subtype") != "file_share":
        return []
    if event.get("bot_id") or not event.get("user") or event.get("user") == bot_user_id:
        return []
    files = event.get("files")
    return [dict(f) for f in files if isinstance(f, Mapping)] if isinstance(files, list) else []


def message_incoming(body: Mapping[str, Any]) -> Incoming:
    """A DM, passed as typed for the core to read (commands included). Slack writes an @mention
    as ``<@U123>`` and escapes ``&<>`` in message text, as in /councilbot's: undone the same way,
    so "people add @jane councillor" typed in a DM does what the slash command does."""
    event = body["event"]
    text = unescape_mentions(str(event.get("text", ""))).strip()
    return Incoming(kind="message", user=user_id(event["user"]), text=text, event_id=body.get("event_id"), typed=True)


def home_incoming(event: Mapping[str, Any]) -> Incoming:
    return Incoming(kind="command", user=user_id(event.get("user", "")), name="home")


# ---------------------------------------------------------------- interactivity


def action_incoming(body: Mapping[str, Any]) -> Incoming:
    """A button press: the core's own action id and value come straight back."""
    action = (body.get("actions") or [{}])[0]
    user, name = _person(body)
    return Incoming(kind="action", user=user, name=action.get("action_id", ""), value=action.get("value") or "", display_name=name)


def permalink(body: Mapping[str, Any]) -> str:
    """A message's link, built from the payload (Slack's documented archive URL form) so that
    flagging needs no Web API call before the ack."""
    domain = (body.get("team") or {}).get("domain")
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    ts = message.get("ts")
    if not (domain and channel and ts):
        return ""
    link = f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    thread = message.get("thread_ts")
    if thread and thread != ts:
        link += f"?thread_ts={thread}&cid={channel}"
    return link


def shortcut_incoming(body: Mapping[str, Any]) -> Incoming:
    """Message shortcuts: "Check against policy" and "Flag for Code of Conduct"."""
    user, name = _person(body)
    message = body.get("message") or {}
    text = str(message.get("text") or "")
    if body.get("callback_id") == "flag_conduct":
        author = message.get("user") or ""  # an app's message has no person to remind
        values = {"author": user_id(author) if author else "", "link": permalink(body)}
        return Incoming(kind="command", user=user, name="flag", text=text, values=values, display_name=name)
    return Incoming(kind="command", user=user, name="checkpost", text=text, display_name=name)


def form_metadata(view: Mapping[str, Any]) -> tuple[str, str]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):  # not metadata we wrote
        meta = {}
    return str(meta.get("name", "")), str(meta.get("context", ""))


def read_value(kind: str, state: Mapping[str, Any]) -> Any:
    """One input's submitted value, typed as the contract says: str, list[str] for multiselect,
    bool for toggle. ``kind`` is the action_id the modal was built with (see blocks.input_block)."""
    if kind == "toggle":
        return bool(state.get("selected_options"))
    if kind == "multiselect":
        return [o["value"] for o in state.get("selected_options") or [] if isinstance(o.get("value"), str)]
    if kind == "select":
        return ((state.get("selected_option") or {}).get("value")) or ""
    if kind == "date":
        return state.get("selected_date") or ""
    return state.get("value") or ""


def evidence_files(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The files uploaded in a modal's screenshot input, for the adapter to download."""
    view = body.get("view") or {}
    state = (((view.get("state") or {}).get("values") or {}).get(EVIDENCE_BLOCK) or {})
    return [dict(f) for action in state.values() for f in (action.get("files") or []) if isinstance(f, Mapping)]


def form_incoming(body: Mapping[str, Any]) -> tuple[Incoming, list[str]]:
    """A modal submission -> (Incoming form, the input names, to map validation errors onto).

    Uploaded screenshots are not in the values: the adapter downloads them (``evidence_files``)
    and adds them, as bytes, under ``EVIDENCE_BLOCK``, where the core's message about a bad file
    is shown too."""
    view = body.get("view") or {}
    name, context = form_metadata(view)
    values: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for kind, state in actions.items():
            if block_id == EVIDENCE_BLOCK:
                continue
            values[block_id] = read_value(kind, state)
    names = list(values)
    files = [str(f.get("id") or "") for f in evidence_files(body)]
    if files:
        names.append(EVIDENCE_BLOCK)
    user, display = _person(body)
    incoming = Incoming(kind="form", user=user, name=name, value=context, values=values, display_name=display,
                        event_id=submission_id(view, {**values, EVIDENCE_BLOCK: files} if files else values))
    return incoming, names


def submission_id(view: Mapping[str, Any], values: Mapping[str, Any]) -> str | None:
    """The same modal (view id and hash) submitted with the same answers is one submission
    (``common.submission_key``): a person pressing Submit again after Slack's "trouble connecting",
    or a retrying proxy, must not file a second report."""
    view_id = view.get("id")
    if not isinstance(view_id, str) or not view_id:
        return None
    return common.submission_key("view", f"{view_id}:{view.get('hash') or ''}", values)


def form_errors(replies: Sequence[Reply], inputs: Sequence[str]) -> dict[str, str] | None:
    """The messages to show under the modal's inputs (response_action "errors", so the modal stays
    open with what was typed) when the core turned the submission down (``Reply.form_error``);
    None when it was taken."""
    turned_down = common.form_error(replies)
    return common.errors_by_input(turned_down, inputs) if turned_down is not None else None
