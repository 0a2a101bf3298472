"""Neutral values that cross the core's single door; adapters translate to and from them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping

IncomingKind = Literal["message", "command", "action", "form"]
Tone = Literal["info", "ok", "caution", "danger"]
InputKind = Literal["text", "multiline", "select", "multiselect", "toggle", "date", "urls"]


@dataclass(frozen=True)
class Incoming:
    """One thing a person did in chat, with their platform-qualified id (``slack:U123``).

    ``event_id`` is the platform's delivery id; the core uses it so that a retried
    delivery of the same event never creates a second record.
    """

    kind: IncomingKind
    user: str
    name: str = ""
    text: str = ""
    value: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    display_name: str | None = None
    # A ``message`` whose text is exactly what the person typed to the bot (a direct message, a
    # Teams @mention, the terminal): the core reads typed commands from it ("report", "export json",
    # "people add ...") with its one table (``councilbot.typed``), so every platform behaves the same.
    # Left False, only the words that are always commands on their own ("pending", "help") are read.
    typed: bool = False


@dataclass(frozen=True)
class Upload:
    """A file a person attached (a screenshot), already downloaded by the adapter with the bot's
    own credentials: the core checks and keeps the bytes (``councilbot.evidence``) and never
    fetches anything itself. ``problem`` says why the adapter could not fetch it (no ``data``)."""

    name: str
    data: bytes = b""
    source: str = ""
    problem: str = ""

    def __repr__(self) -> str:  # never the bytes, in a log line or an error
        return f"Upload({self.name!r}, {len(self.data)} bytes, source={self.source!r})"


@dataclass(frozen=True)
class Button:
    action: str
    label: str
    value: str = ""
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    kind: InputKind = "text"
    required: bool = True
    options: tuple[Option, ...] = ()
    placeholder: str = ""
    initial: str | tuple[str, ...] = ""
    max_length: int | None = None


@dataclass(frozen=True)
class Form:
    """A form the adapter opens (a Slack modal, an Adaptive Card, console prompts)."""

    name: str
    title: str
    inputs: tuple[Input, ...]
    submit_label: str = "Submit"
    context: str = ""


@dataclass(frozen=True)
class Reply:
    """A neutral message: rendered as Block Kit, an Adaptive Card or plain text."""

    text: str
    title: str = ""
    tone: Tone = "info"
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    form: Form | None = None
    private: bool = True
    footer: str = ""
    # A submitted form turned down as bad input: nothing was changed, and the form should stay open
    # with the person's answers. Each field names an input at fault (label = the input's name,
    # value = what to change); with none, the message is about the form as a whole.
    form_error: bool = False
    # Outbox keys of durable copies of this reply (a report's receipt, held for a while): once the
    # adapter has shown or durably queued the reply, it passes it to ``CouncilBot.delivered``,
    # which withdraws them. Until then a crash still lets the durable copy reach the person.
    withdraws: tuple[str, ...] = ()
    # A file on this machine for the person who asked, privately (an evidence bundle): Slack
    # uploads it to their DM, Teams gives a short-lived download link, the console prints the path.
    file: str = ""

    def plain(self) -> str:
        """The whole reply as plain text, for terminals, notifications and fallbacks."""
        lines: list[str] = []
        if self.title:
            lines.append(self.title)
        if self.text:
            lines.append(self.text)
        lines.extend(f"{f.label}: {f.value}" for f in self.fields)
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A reply as plain JSON data, so the outbox can store it before delivery."""
    from dataclasses import asdict

    return asdict(reply)


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    form = data.get("form")
    return Reply(
        text=data.get("text", ""),
        title=data.get("title", ""),
        tone=data.get("tone", "info"),
        fields=tuple(Field(**f) for f in data.get("fields", ())),
        buttons=tuple(Button(**b) for b in data.get("buttons", ())),
        form=_form_from_dict(form) if form else None,
        private=data.get("private", True),
        footer=data.get("footer", ""),
        form_error=bool(data.get("form_error", False)),
        withdraws=tuple(data.get("withdraws", ())),
        file=str(data.get("file", "")),
    )


def _form_from_dict(data: Mapping[str, Any]) -> Form:
    inputs = []
    for raw in data.get("inputs", ()):
        item = dict(raw)
        item["options"] = tuple(Option(**o) for o in item.get("options", ()))
        if isinstance(item.get("initial"), list):
            item["initial"] = tuple(item["initial"])
        inputs.append(Input(**item))
    return Form(
        name=data["name"],
        title=data["title"],
        inputs=tuple(inputs),
        submit_label=data.get("submit_label", "Submit"),
        context=data.get("context", ""),
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(value: Any) -> Any:
    """``value`` with every string made encodable: JSON may carry lone UTF-16 surrogates
    (``"\\ud800"``) that no file or API can store, so a pair is joined and a lone one becomes U+FFFD."""
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {well_formed(k): well_formed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [well_formed(v) for v in value]
    return value


def well_formed_incoming(incoming: Incoming) -> Incoming:
    return replace(incoming, user=well_formed(incoming.user), name=well_formed(incoming.name),
                   text=well_formed(incoming.text), value=well_formed(incoming.value),
                   values=well_formed(dict(incoming.values)), event_id=well_formed(incoming.event_id),
                   display_name=well_formed(incoming.display_name))
