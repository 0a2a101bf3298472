"""The whole bot in a terminal: DM-style messages, slash commands, forms as prompts, buttons by number.

Local trust: whoever runs the terminal says who they are (``--as clerk:jane``, ``/as councillor:sam``),
so one person can walk a suggestion from councillor to Clerk.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from councilbot.app import CouncilBot
from councilbot.kinds import Role
from councilbot.messages import Button, Form, Incoming, Reply
from councilbot.ports import CLERK_CHANNEL

BANNER = """CouncilBot for {council}, on this computer (data in {data_dir}).
You are {user} ({role}). Type a draft or a question, or /help. /as clerk:jane switches user; /quit leaves."""


@dataclass
class ConsoleNotifier:
    """Later messages (to the clerk channel, to a person) are printed where everyone can see them."""

    write: Callable[[str], None]
    platform: str = "console"
    count: int = 0

    def has_clerk_channel(self) -> bool:
        return True

    async def send(self, to: str, reply: Reply) -> str | None:
        self.count += 1
        target = "the clerk channel" if to == CLERK_CHANNEL else f"a private message to {to.removeprefix('console:')}"
        self.write(f"\n  ✉  to {target}:\n{_indent(render(reply))}\n")
        return f"console-{self.count}"

    async def update(self, ref: str, reply: Reply) -> None:
        self.write(f"\n  ✎  card {ref} in the clerk channel now reads:\n{_indent(render(reply))}\n")


def _indent(text: str) -> str:
    return "\n".join("     " + line for line in text.splitlines())


def render(reply: Reply, buttons: list[Button] | None = None) -> str:
    lines = []
    if reply.title:
        lines.append(f"== {reply.title} ==")
    if reply.text:
        lines.append(reply.text)
    for f in reply.fields:
        lines.append(f"- {f.label}: {f.value}")
    if reply.footer:
        lines.append(reply.footer)
    for b in reply.buttons:
        if buttons is not None:
            buttons.append(b)
            lines.append(f"  [{len(buttons)}] {b.label}")
        else:
            lines.append(f"  ({b.label})")
    return "\n".join(lines)


@dataclass
class Session:
    bot: CouncilBot
    user: str
    read: Callable[[str], str]
    write: Callable[[str], None]
    buttons: list[Button] = field(default_factory=list)

    def become(self, spec: str) -> None:
        role, _, name = spec.partition(":")
        try:
            parsed = Role(role.strip().lower())
        except ValueError:
            raise ValueError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None
        name = name.strip().lower() or role
        self.user = f"console:{name}"
        self.bot.people.configured[self.user] = parsed
        self.write(f"You are now {name} ({parsed.value.replace('_', ' ')}).")

    async def send(self, incoming: Incoming) -> None:
        replies = await self.bot.handle(incoming)
        # Buttons are numbered across all the replies to one input, so "1" under the third card
        # of /pending cannot press the first card's button; numbering carries on after a form's answer.
        numbered: list[Button] | None = None
        for reply in replies:
            if reply.form is not None:
                values = self.fill(reply.form)
                if values is None:
                    self.write("(cancelled)")
                    continue
                await self.send(Incoming("form", self.user, name=reply.form.name, value=reply.form.context, values=values))
                numbered = self.buttons
                continue
            if numbered is None:
                numbered = self.buttons = []
            self.write(render(reply, numbered))
        self.bot.delivered(replies)
        await self.bot.outbox.drain(timeout=2.0)

    def fill(self, form: Form) -> dict[str, Any] | None:
        self.write(f"-- {form.title} (blank line on a required question cancels) --")
        values: dict[str, Any] = {}
        for item in form.inputs:
            opt = "" if item.required else " (optional)"
            if item.kind in {"select", "multiselect"}:
                for i, o in enumerate(item.options, 1):
                    self.write(f"   {i}. {o.label}")
                many = " (numbers, comma separated)" if item.kind == "multiselect" else " (number)"
                answer = self.read(f"{item.label}{many}{opt}: ").strip()
                picks = [item.options[int(x) - 1].value for x in answer.replace(" ", "").split(",") if x.isdigit() and 0 < int(x) <= len(item.options)]
                values[item.name] = picks if item.kind == "multiselect" else (picks[0] if picks else "")
            elif item.kind == "toggle":
                values[item.name] = self.read(f"{item.label} (y/n): ").strip().lower().startswith("y")
            else:
                default = item.initial if isinstance(item.initial, str) and item.initial else ""
                hint = f" [{default[:40]}]" if default else ""
                answer = self.read(f"{item.label}{hint}{opt}: ").strip() or default
                values[item.name] = answer
            if item.required and not values[item.name] and item.kind != "toggle":
                return None
        return values

    async def line(self, text: str) -> bool:
        """One line typed; False when the person wants to leave."""
        text = text.strip()
        if not text:
            return True
        if text in {"/quit", "/exit"}:
            return False
        if text.startswith("/as "):
            try:
                self.become(text[4:])
            except ValueError as exc:
                self.write(str(exc))
            return True
        if text.isdigit() or text.startswith("/press "):
            number = int(text.removeprefix("/press ").strip() or 0) if text.removeprefix("/press ").strip().isdigit() else 0
            if not 0 < number <= len(self.buttons):
                self.write("No such button.")
                return True
            b = self.buttons[number - 1]
            await self.send(Incoming("action", self.user, name=b.action, value=b.value))
            return True
        # Everything else is typed to the bot: the core reads commands ("/report", "pending") from it.
        await self.send(Incoming("message", self.user, text=text, typed=True))
        return True


def run(bot: CouncilBot, as_: str, read: Callable[[str], str] | None = None, write: Callable[[str], None] | None = None) -> int:
    """Run until /quit or end of input; returns the exit status."""
    out = write or (lambda s: print(s, flush=True))

    def default_read(prompt: str) -> str:
        line = sys.stdin.readline() if not sys.stdin.isatty() else input(prompt)
        if line == "" and not sys.stdin.isatty():
            raise EOFError
        return line

    session = Session(bot, "", read or default_read, out)
    bot.outbox.register(ConsoleNotifier(out))
    try:
        session.become(as_)
    except ValueError as exc:
        print(f"councilbot: {exc}", file=sys.stderr)
        return 2
    role = bot.people.role(session.user)
    out(BANNER.format(council=bot.pack.council, data_dir=bot.settings.data_dir, user=session.user, role=role.value if role else "?"))

    async def loop() -> None:
        await bot.start()
        try:
            while True:
                try:
                    text = await asyncio.to_thread(session.read, "> ")
                except EOFError:
                    break
                if not await session.line(text):
                    break
        finally:
            await bot.stop()

    asyncio.run(loop())
    return 0
