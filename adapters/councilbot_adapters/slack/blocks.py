"""Neutral replies and forms -> Block Kit JSON. Pure functions, no I/O, so every Slack limit
(block counts, text lengths) is enforced in one place and can be tested without Slack."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import zlib
from typing import Any, Iterable, Sequence

from councilbot.messages import Button, Field, Form, Input, Reply, reply_from_dict, reply_to_dict

# The modal's callback_id: one listener takes every form; the form's own name travels in
# private_metadata, which Slack hands back untouched on view_submission.
FORM_CALLBACK = "councilbot_form"
# An adapter-only button: a form that cannot be opened right away (no trigger_id, e.g. the
# reply to a DM) is posted as this button; pressing it opens the modal.
OPEN_FORM_ACTION = "councilbot.open_form"
# Screenshot evidence upload for the report form (Slack's file_input needs files:read).
EVIDENCE_BLOCK = "evidence_files"
EVIDENCE_FORMS = frozenset({"report"})

# Slack's published limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_FORM_JSON = 64 * 1024  # a packed form unpacks to a few kilobytes
MAX_ACTIONS = 25
MAX_MODAL_TITLE = 24
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
MAX_CHECKBOXES = 10
MAX_METADATA = 3000
MAX_TEXT_INPUT = 3000  # a plain_text_input's max_length, and so its initial value, cannot be more
MAX_FALLBACK_TEXT = 3000
SHORT_FIELD = 60  # longer or multi-line fields get their own section instead of the 2-column grid

TONE_EMOJI = {"ok": ":white_check_mark:", "caution": ":warning:", "danger": ":no_entry:", "info": ":information_source:"}
_QUOTED_LINE = re.compile(r"^(?P<label>[^:\u201c\"]{1,60}):\s*(?P<quote>[\u201c\"].+[\u201d\"])\s*$")
_LABELLED_LINE = re.compile(r"^(?P<label>[A-Z][\w ]{0,20}):\s+(?P<rest>.+)$")


def escape(text: str) -> str:
    """Slack mrkdwn control characters: a draft containing ``<!channel>`` must not ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def plain(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def fallback_text(reply: Reply) -> str:
    """The notification / screen-reader text; Slack parses it as mrkdwn too, so it is escaped."""
    return clip(escape(reply.plain()), MAX_FALLBACK_TEXT) or " "


# ---------------------------------------------------------------- messages


def reply_blocks(reply: Reply, *, limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """A reply as message blocks: verdict header, text, fields (clause quoted, the fix), footer, buttons.

    A reply carrying a form gets an "open" button, since a form can only be opened as a modal
    from a fresh trigger_id (callers that have one open the modal instead)."""
    emoji = TONE_EMOJI.get(reply.tone, "")
    blocks: list[dict[str, Any]] = []
    if reply.title:
        blocks.append({"type": "header", "text": plain(f"{emoji} {reply.title}".strip(), MAX_HEADER)})
    if reply.text:
        lead = "" if reply.title or not emoji else f"{emoji} "
        blocks.extend({"type": "section", "text": mrkdwn(part)} for part in split_text(lead + escape(reply.text)))
    blocks.extend(field_blocks(reply.fields))
    if reply.footer:
        blocks.append({"type": "context", "elements": [mrkdwn(escape(reply.footer))]})
    buttons = list(reply.buttons)
    if reply.form is not None:
        button = open_form_button(reply.form)
        if button is None:
            blocks.append({"type": "context", "elements": [mrkdwn(f"Open *{escape(reply.form.title)}* again with its command.")]})
        else:
            buttons.append(button)
    actions = action_blocks(buttons)
    room = limit - len(actions)
    if len(blocks) > room:  # keep the buttons: they are how the card gets decided
        blocks = blocks[: room - 1] + [{"type": "context", "elements": [mrkdwn("\u2026 (shortened; ask again for the full answer)")]}]
    return blocks + actions


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Long text (an export, a long answer) over several sections, cut at line ends: a section
    holds 3000 characters and Slack rejects the whole message if one holds more."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current.strip():
        parts.append(current)
    return [p.rstrip("\n") or " " for p in parts]


def field_blocks(fields: Iterable[Field]) -> list[dict[str, Any]]:
    """Short fields share a two-column section; long ones get their own section, in order."""
    blocks: list[dict[str, Any]] = []
    grid: list[dict[str, Any]] = []

    def flush() -> None:
        if grid:
            blocks.append({"type": "section", "fields": list(grid)})
            grid.clear()

    for f in fields:
        if len(f.value) <= SHORT_FIELD and "\n" not in f.value and len(f.label) <= SHORT_FIELD:
            grid.append(mrkdwn(f"*{escape(f.label)}*\n{escape(f.value)}", MAX_FIELD_TEXT))
            if len(grid) == MAX_FIELDS:
                flush()
            continue
        flush()
        body = split_text(f"*{escape(f.label)}*\n{format_value(f.value)}")
        blocks.extend({"type": "section", "text": mrkdwn(part)} for part in body)
    flush()
    return blocks


def format_value(value: str) -> str:
    """Quotations (the policy clause) become block quotes; ``Fix:``-style labels are bolded."""
    out: list[str] = []
    for line in value.splitlines():
        quoted = _QUOTED_LINE.match(line)
        if quoted:
            out.append(f"_{escape(quoted['label'])}_\n>{escape(quoted['quote'])}")
            continue
        labelled = _LABELLED_LINE.match(line)
        if labelled:
            out.append(f"*{escape(labelled['label'])}:* {escape(labelled['rest'])}")
            continue
        out.append(escape(line))
    return "\n".join(out)


def button(b: Button) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": b.action, "text": plain(b.label, MAX_BUTTON_TEXT)}
    if b.value:
        element["value"] = b.value[:MAX_BUTTON_VALUE]
    if b.style:
        element["style"] = b.style
    return element


def action_blocks(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """Buttons in actions blocks. Slack wants action_ids unique within a block, and the core may
    send several buttons with one action (one per pending item), so a repeat starts a new block."""
    blocks: list[list[dict[str, Any]]] = []
    seen: set[str] = set()
    for b in buttons:
        if not blocks or b.action in seen or len(blocks[-1]) == MAX_ACTIONS:
            blocks.append([])
            seen = set()
        blocks[-1].append(button(b))
        seen.add(b.action)
    return [{"type": "actions", "elements": elements} for elements in blocks]


def open_form_button(form: Form) -> Button | None:
    """A button that opens ``form``; its answers already filled in only if they fit in a button's
    2000 characters (a long pasted post does not), and None if even the empty form does not."""
    for candidate in (form, dataclasses.replace(form, inputs=tuple(dataclasses.replace(i, initial="") for i in form.inputs))):
        try:
            value = encode_form(candidate)
        except ValueError:
            continue
        return Button(action=OPEN_FORM_ACTION, label=clip(form.title or "Open form", MAX_BUTTON_TEXT), value=value, style="primary")
    return None


def encode_form(form: Form) -> str:
    """A form packed into a button value (<= 2000 chars), so opening it later needs no server state."""
    raw = json.dumps(reply_to_dict(Reply(text="", form=form)), separators=(",", ":")).encode()
    packed = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()
    if len(packed) > MAX_BUTTON_VALUE:
        raise ValueError(f"form {form.name!r} is too large for a Slack button value")
    return packed


def decode_form(value: str) -> Form:
    """The form ``encode_form`` packed. A value longer than any it makes, or one that would unpack
    to more than a form ever is (a zlib bomb in a button press), is refused before it is unpacked."""
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError("button value is longer than any form's")
    unpacker = zlib.decompressobj()
    raw = unpacker.decompress(base64.urlsafe_b64decode(value.encode()), MAX_FORM_JSON)
    if unpacker.unconsumed_tail:
        raise ValueError("button value unpacks to more than any form")
    form = reply_from_dict(json.loads(raw)).form
    if form is None:
        raise ValueError("button value holds no form")
    return form


def message_payload(reply: Reply) -> dict[str, Any]:
    """Arguments for chat.postMessage / chat.update / response_url."""
    return {"text": fallback_text(reply), "blocks": reply_blocks(reply)}


def pack_messages(replies: Sequence[Reply], limit: int = MAX_MESSAGE_BLOCKS) -> list[tuple[dict[str, Any], list[Reply]]]:
    """Several replies in as few messages as fit (50 blocks each), divided, each message with the
    replies it carries. A response_url takes only 5 posts, and chat.postMessage about one a second
    per channel, so a list of 20 pending suggestions must not be 20 messages."""
    messages: list[tuple[dict[str, Any], list[Reply]]] = []
    current: list[dict[str, Any]] = []
    carried: list[Reply] = []

    def flush() -> None:
        if current:
            text = clip("\n\n".join(fallback_text(r) for r in carried), MAX_FALLBACK_TEXT) or " "
            messages.append(({"text": text, "blocks": list(current)}, list(carried)))
            current.clear()
            carried.clear()

    for reply in replies:
        part = reply_blocks(reply, limit=limit)
        if current and len(current) + 1 + len(part) > limit:
            flush()
        if current:
            current.append({"type": "divider"})
        current.extend(part)
        carried.append(reply)
    flush()
    return messages


def home_view(replies: Sequence[Reply]) -> dict[str, Any]:
    """App Home: the replies to the ``home`` command stacked, divided (100 blocks at most)."""
    blocks: list[dict[str, Any]] = []
    for i, reply in enumerate(replies):
        if i:
            blocks.append({"type": "divider"})
        blocks.extend(reply_blocks(reply, limit=MAX_VIEW_BLOCKS))
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


# ---------------------------------------------------------------- forms


def form_view(form: Form) -> dict[str, Any]:
    """A modal for a form. Each input's block_id is its name and its action_id is its kind, so the
    submission can be read back without keeping the form anywhere."""
    metadata = json.dumps({"name": form.name, "context": form.context}, separators=(",", ":"))
    if len(metadata) > MAX_METADATA:
        raise ValueError(f"form {form.name!r}: context too long for Slack's private_metadata")
    blocks: list[dict[str, Any]] = []
    if len(form.title) > MAX_MODAL_TITLE:  # a modal title is 24 characters; show the rest inside
        blocks.append({"type": "section", "text": plain(form.title)})
    blocks.extend(input_block(i) for i in form.inputs)
    if form.name in EVIDENCE_FORMS:
        blocks.append(evidence_block())
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": metadata,
        "title": plain(form.title or "CouncilBot", MAX_MODAL_TITLE),
        "submit": plain(form.submit_label or "Submit", MAX_MODAL_TITLE),
        "close": plain("Cancel", MAX_MODAL_TITLE),
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def result_view(replies: Sequence[Reply]) -> dict[str, Any]:
    """The modal after a successful submission shows the answer itself (a report's reference, a
    suggestion's receipt) inside the HTTP response, so the person is told even if a DM is delayed."""
    blocks: list[dict[str, Any]] = []
    for i, reply in enumerate(replies):
        if i:
            blocks.append({"type": "divider"})
        blocks.extend(reply_blocks(Reply(text=reply.text, title=reply.title, tone=reply.tone, fields=reply.fields,
                                         footer=reply.footer), limit=MAX_VIEW_BLOCKS))
    return {"type": "modal", "title": plain("Done", MAX_MODAL_TITLE), "close": plain("Close", MAX_MODAL_TITLE),
            "blocks": blocks[:MAX_VIEW_BLOCKS] or [{"type": "section", "text": plain("Done.")}]}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}


def _initials(inp: Input) -> tuple[str, ...]:
    if isinstance(inp.initial, str):
        return (inp.initial,) if inp.initial else ()
    return tuple(inp.initial)


def input_block(inp: Input) -> dict[str, Any]:
    """One Input -> an input block. Slack has no multi-line URL field, so ``urls`` is multi-line text."""
    kind = inp.kind
    options = [_option(o.value, o.label) for o in inp.options[:MAX_OPTIONS]]
    initial = _initials(inp)
    chosen = [o for o in options if o["value"] in initial]
    optional = not inp.required
    hint: str | None = None
    element: dict[str, Any]
    if kind in ("select", "multiselect") and not options:
        kind = "text" if kind == "select" else "multiline"  # Slack rejects a menu with no options
    if kind == "select":
        element = {"type": "static_select", "options": options}
        if chosen:
            element["initial_option"] = chosen[0]
    elif kind == "multiselect":
        # Checkboxes read best; Slack allows 10 of them, beyond that a multi-select menu.
        element = {"type": "checkboxes" if len(options) <= MAX_CHECKBOXES else "multi_static_select", "options": options}
        if chosen:
            element["initial_options"] = chosen
    elif kind == "toggle":
        # One checkbox. Never "required": Slack would then refuse an unticked box, but "no" is an answer.
        box = _option("true", inp.label)
        element = {"type": "checkboxes", "options": [box]}
        if initial and initial[0].lower() in {"true", "yes", "1", "on"}:
            element["initial_options"] = [box]
        optional = True
    elif kind == "date":
        element = {"type": "datepicker"}
        if initial and re.fullmatch(r"\d{4}-\d{2}-\d{2}", initial[0]):
            element["initial_date"] = initial[0]
    else:  # text, multiline, urls
        element = {"type": "plain_text_input", "multiline": kind in ("multiline", "urls")}
        # Slack holds a text input to 3000 characters (the core allows more for some fields; what
        # Slack cannot take is typed in a shorter form or pasted in parts).
        longest = min(inp.max_length or MAX_TEXT_INPUT, MAX_TEXT_INPUT)
        if initial:
            element["initial_value"] = clip("\n".join(initial), longest)
        element["max_length"] = longest
        if kind == "urls":
            hint = "One link per line."
    element["action_id"] = inp.kind  # the submitted value's type is read back from this
    if inp.placeholder and element["type"] in ("plain_text_input", "static_select", "multi_static_select", "datepicker"):
        element["placeholder"] = plain(inp.placeholder, 150)
    block: dict[str, Any] = {"type": "input", "block_id": inp.name, "label": plain(inp.label, 2000), "optional": optional, "element": element}
    if hint:
        block["hint"] = plain(hint)
    return block


def evidence_block() -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": EVIDENCE_BLOCK,
        "optional": True,
        "label": plain("Screenshots (optional)"),
        "element": {"type": "file_input", "action_id": "files", "filetypes": ["png", "jpg", "jpeg", "gif", "webp", "heic", "pdf"], "max_files": 5},
        "hint": plain("Screenshots of what you saw, if you have them (10 MB each at most)."),
    }
