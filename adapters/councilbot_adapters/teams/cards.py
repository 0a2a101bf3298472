"""Neutral ``Reply``/``Form`` -> Adaptive Card JSON. Pure: no botbuilder, no I/O, so every card
can be checked in a unit test and the renderer survives a port to the Agents SDK unchanged.

Buttons and submits are ``Action.Execute`` (Teams answers them with an ``adaptiveCard/action``
invoke we can reply to inside 5 s, replacing the card for the person who pressed it), each with an
``Action.Submit`` fallback carrying the same data for clients without Universal Actions (the
Bot Framework Emulator): either way the data comes back as ``{"action", "value"}`` or
``{"form", "context", ...inputs}``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from councilbot.messages import Button, Field, Form, Input, Reply

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# 1.4 is the lowest version with Action.Execute; Teams renders 1.4 on desktop, web and mobile.
VERSION = "1.4"
# Input ids are namespaced so an input called "form", "action" or "value" can never collide with
# the keys we put in the action data (Teams merges input values into that same object).
INPUT_PREFIX = "in:"
# Data keys the adapter owns.
FORM_KEY, CONTEXT_KEY, KINDS_KEY, SHEET_KEY = "form", "context", "kinds", "sheet"
ACTION_KEY, VALUE_KEY = "action", "value"

_TONE_COLOR = {"info": "Default", "ok": "Good", "caution": "Warning", "danger": "Attention"}
_TONE_STYLE = {"info": "default", "ok": "good", "caution": "warning", "danger": "attention"}
_BUTTON_STYLE = {"primary": "positive", "danger": "destructive"}
# Fields whose values are short and single-line read well as a FactSet; long ones (check
# findings, a report's account) are unreadable squeezed into a fact's value column.
_FACT_MAX = 90
# Teams refuses a message over about 28 KB, counted as sent: JSON with non-ASCII escaped, so a
# report written in Welsh or emoji weighs up to twelve bytes a character. Cards are kept under
# this by shortening their longest texts; the fallback text (for clients without cards) is short.
CARD_BUDGET = 24_000
_FALLBACK_MAX = 300
SHORTENED = " … (shortened to fit Teams)"


def input_id(name: str) -> str:
    return INPUT_PREFIX + name


def _paragraphs(text: str) -> str:
    """Adaptive Card markdown joins single newlines; the core's line breaks are meant."""
    return "\n\n".join(line for line in text.split("\n"))


# Teams renders TextBlock and FactSet text as Markdown. What the core says is plain text, and much
# of it is what people typed: "[verify your account](https://…)" in a report must not become a link
# on the Clerk's card. Backslash escapes are what the Adaptive Card Markdown parser honours.
_MARKDOWN = re.compile(r"([\\*_\[\]])")  # the characters of its emphasis and links, and the escape itself


def plain(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _text_block(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": _paragraphs(plain(text)), "wrap": True, **extra}


def _header(reply: Reply) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    if reply.title:
        body.append(_text_block(reply.title, size="Medium", weight="Bolder", color=_TONE_COLOR[reply.tone]))
    if reply.text:
        body.append(_text_block(reply.text))
    return body


def _fields(fields: Iterable[Field]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    facts: list[dict[str, str]] = []
    for f in fields:
        if len(f.value) <= _FACT_MAX and "\n" not in f.value:
            facts.append({"title": plain(f.label), "value": plain(f.value)})
            continue
        if facts:
            out.append({"type": "FactSet", "facts": facts})
            facts = []
        out.append({"type": "Container", "spacing": "Medium", "items": [
            _text_block(f.label, weight="Bolder"),
            _text_block(f.value, spacing="None"),
        ]})
    if facts:
        out.append({"type": "FactSet", "facts": facts})
    return out


def _execute(title: str, verb: str, data: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    fallback: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": data}
    if style:
        action["style"] = fallback["style"] = style
    action["fallback"] = fallback
    return action


def button_action(button: Button) -> dict[str, Any]:
    return _execute(button.label, button.action, {ACTION_KEY: button.action, VALUE_KEY: button.value},
                    _BUTTON_STYLE.get(button.style or ""))


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]], tone: str, fallback: str) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": fallback,
        "body": [{"type": "Container", "style": _TONE_STYLE.get(tone, "default"), "items": body}] if tone != "info" else body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return card


def reply_card(reply: Reply) -> dict[str, Any]:
    """A reply as a card: title, text, fields (FactSet), footer, one action per button.
    A reply without buttons gets no actions at all, which is how a decided approval card
    loses its Approve/Reject buttons when it is updated."""
    if reply.form is not None:
        return form_card(reply.form, reply)
    card = _reply_card(reply)
    longest = max([len(reply.text), *(len(f.value) for f in reply.fields)])
    while _weight(card) > CARD_BUDGET and longest > 200:
        longest //= 2
        card = _reply_card(_shortened(reply, longest))
    return card


def _reply_card(reply: Reply) -> dict[str, Any]:
    body = _header(reply) + _fields(reply.fields)
    if reply.footer:
        body.append(_text_block(reply.footer, size="Small", isSubtle=True, spacing="Medium"))
    if not body:
        body.append(_text_block(" "))
    fallback = reply.plain()
    if len(fallback) > _FALLBACK_MAX:
        fallback = fallback[:_FALLBACK_MAX] + "…"
    return _card(body, [button_action(b) for b in reply.buttons], reply.tone, fallback)


def _weight(card: dict[str, Any]) -> int:
    return len(json.dumps(card))  # ensure_ascii, as the connector client sends it


def _shortened(reply: Reply, limit: int) -> Reply:
    def cut(text: str) -> str:
        return text if len(text) <= limit else text[:limit] + SHORTENED

    return dataclasses.replace(reply, text=cut(reply.text),
                               fields=tuple(dataclasses.replace(f, value=cut(f.value)) for f in reply.fields))


def _input(item: Input) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"id": input_id(item.name), "label": item.label, "isRequired": item.required}
    if item.required:
        base["errorMessage"] = f"Please fill in: {item.label}"
    initial = item.initial
    if item.kind in ("text", "multiline", "urls"):
        element = {"type": "Input.Text", **base}
        if item.kind != "text":
            element["isMultiline"] = True
        if item.kind == "urls":
            element["placeholder"] = item.placeholder or "One link per line"
        elif item.placeholder:
            element["placeholder"] = item.placeholder
        if item.max_length:
            element["maxLength"] = item.max_length
        if initial:
            element["value"] = "\n".join(initial) if isinstance(initial, tuple) else initial
        return [element]
    if item.kind in ("select", "multiselect"):
        element = {"type": "Input.ChoiceSet", **base,
                   "choices": [{"title": o.label, "value": o.value} for o in item.options]}
        if item.kind == "multiselect":
            element["isMultiSelect"] = True
            element["style"] = "expanded"
        else:
            element["style"] = "compact"
        if item.placeholder:
            element["placeholder"] = item.placeholder
        if initial:
            element["value"] = ",".join(initial) if isinstance(initial, tuple) else initial
        return [element]
    if item.kind == "toggle":
        on = initial in ("true", "yes", "1", "on") if isinstance(initial, str) else bool(initial)
        element = {"type": "Input.Toggle", **base, "title": item.label, "valueOn": "true", "valueOff": "false",
                   "value": "true" if on else "false"}
        # A toggle always has a value; "required" would only confuse the client's validation.
        element["isRequired"] = False
        element.pop("errorMessage", None)
        return [element]
    if item.kind == "date":
        element = {"type": "Input.Date", **base}
        if initial and isinstance(initial, str):
            element["value"] = initial
        return [element]
    raise ValueError(f"unknown input kind {item.kind!r}")


def form_kinds(form: Form) -> dict[str, str]:
    return {i.name: i.kind for i in form.inputs}


def form_card(form: Form, reply: Reply | None = None) -> dict[str, Any]:
    """A form as a card with inputs, client-side validation (isRequired + errorMessage) and one
    submit whose data names the form, its context and each input's kind, so the submission can
    be turned back into typed values without remembering what was sent."""
    body: list[dict[str, Any]] = []
    if reply is not None:
        body.extend(_header(reply))
        body.extend(_fields(reply.fields))
    if not reply or reply.title != form.title:
        body.append(_text_block(form.title, size="Medium", weight="Bolder"))
    for item in form.inputs:
        body.extend(_input(item))
    if reply is not None and reply.footer:
        body.append(_text_block(reply.footer, size="Small", isSubtle=True))
    # Each card sent gets its own id: pressing Submit twice on one card (Teams showed a spinner, the
    # network hiccuped) is one submission, though each press is a new activity.
    data = {FORM_KEY: form.name, CONTEXT_KEY: form.context, KINDS_KEY: form_kinds(form), SHEET_KEY: uuid.uuid4().hex}
    submit = _execute(form.submit_label, f"form:{form.name}", data, "positive")
    submit["associatedInputs"] = "auto"
    return _card(body, [submit], reply.tone if reply is not None else "info", form.title)


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CONTENT_TYPE, "content": card}


def message_activity(reply: Reply) -> dict[str, Any]:
    """A whole outgoing message (wire format): the card, plus plain text as the notification
    preview and for clients that cannot show cards."""
    return {"type": "message", "summary": (reply.title or reply.text)[:200],
            "attachments": [attachment(reply_card(reply))]}
