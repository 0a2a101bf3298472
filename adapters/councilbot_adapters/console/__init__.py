"""The whole bot in a terminal: DM-style messages, slash commands, forms as prompts, buttons by number.

Local trust: whoever runs the terminal says who they are (``--as clerk:jane``, ``/as councillor:sam``),
so one person can walk a suggestion from councillor to Clerk.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.deployment import Deployment
from councilbot.kinds import Role
from councilbot.evidence import MAX_BYTES
from councilbot.messages import Button, Form, Incoming, Input, Reply, Upload
from councilbot.pack import PackError
from councilbot.ports import CLERK_CHANNEL
from councilbot.storage.port import StorageError
from councilbot.store import StoreError

LOG_FILE = "chat.log"
BANNER = """CouncilBot for {council}, in this terminal. Its records are kept in {data_dir}
(notes for whoever looks after it go to {log_file}).
You are {name} ({role}). Type a draft or a question, or /help. {switch}; /quit leaves."""
CONSOLE_HELP = """In this terminal:
• /home: your suggestions and reports, and what waits for you.
• A button is pressed by typing its number, shown in brackets: 1 presses [1] (or type /press 1). A number with no \
such button on screen (a year, a phone number) is sent as a message.
• /as ROLE:NAME becomes someone else, e.g. {example}; /as NAME goes back to someone already here. Roles: {roles}.
• /quit leaves (so does Ctrl-D)."""
# Where a terminal without line editing cuts a typed or pasted line (the kernel's canonical-mode
# buffer: 4,095 characters on Linux, 1,024 on macOS and the BSDs). A line this long may have lost its end.
CANONICAL_LIMIT = 4095 if sys.platform.startswith("linux") else 1024
_PRESS = re.compile(r"[1-9][0-9]{0,2}")


class CutLine(Exception):
    """The terminal may have cut this line: it must not be checked as if it were whole."""


def _indent(text: str) -> str:
    return "\n".join("     " + line for line in text.splitlines())


def render(reply: Reply, number: Callable[[Button], int] | None = None) -> str:
    """A reply as text; each button with the number that presses it (``number`` hands them out)."""
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
        lines.append(f"  [{number(b)}] {b.label}" if number is not None else f"  ({b.label})")
    return "\n".join(lines)


@dataclass
class ConsoleNotifier:
    """Later messages (to the clerk channel, to a person) are printed where everyone can see them,
    their buttons numbered like any other so they can be pressed."""

    write: Callable[[str], None]
    number: Callable[[Button], int] | None = None
    platform: str = "console"
    count: int = 0

    async def has_clerk_channel(self) -> bool:
        return True

    async def send(self, to: str, reply: Reply) -> str | None:
        self.count += 1
        target = "the clerk channel" if to == CLERK_CHANNEL else f"a private message to {to.removeprefix('console:')}"
        self.write(f"\n  ✉  to {target}:\n{_indent(render(reply, self.number))}\n")
        return f"console-{self.count}"

    async def update(self, ref: str, reply: Reply) -> None:
        self.write(f"\n  ✎  card {ref} in the clerk channel now reads:\n{_indent(render(reply, self.number))}\n")


def _limit_hint(item: Input) -> str:
    return f" (up to {item.max_length:,} characters)" if item.max_length else ""


@dataclass
class Session:
    bot: CouncilBot
    user: str
    read: Callable[[str], str]
    write: Callable[[str], None]
    # The buttons that a number presses: those shown since the last input that showed any.
    buttons: list[Button] = field(default_factory=list)
    fresh: bool = False  # the next button shown starts the numbering again at 1

    def number(self, button: Button) -> int:
        """Buttons are numbered across everything one input brings (replies, then notices), so
        "1" under the third card of /pending cannot press the first card's button."""
        if self.fresh:
            self.buttons, self.fresh = [], False
        self.buttons.append(button)
        return len(self.buttons)

    def ask(self, prompt: str) -> str:
        """One line from the person; a line the terminal may have cut is asked for again."""
        while True:
            try:
                return self.read(prompt)
            except CutLine:
                self.write(f"That line reached {CANONICAL_LIMIT:,} characters, where this terminal cuts lines, so its end "
                           "may be missing and it was not used. Please send it in shorter parts.")

    async def become(self, spec: str, announce: bool = True) -> None:
        """Be someone else from now on (local trust); ``announce`` says so on screen."""
        role, colon, name = spec.partition(":")
        if not spec.strip():
            raise ValueError("say who: /as ROLE:NAME, e.g. /as clerk:jane")
        if not colon:  # "/as jane": someone already here, in the role they have
            person = f"console:{spec.strip().lower()}"
            known = self.bot.people.role(person)
            if known is None:
                raise ValueError(f"nobody called {spec.strip()!r} is here yet; give their role too, e.g. clerk:{spec.strip().lower()}")
            self.user = person
            if announce:
                self.write(f"You are now {person.removeprefix('console:')} ({_role_words(known)}).")
            return
        try:
            parsed = Role(role.strip().lower())
        except ValueError:
            raise ValueError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None
        name = name.strip().lower() or role
        self.user = f"console:{name}"
        if announce:  # said first: what the new role brings (reports that waited for it) follows
            self.write(f"You are now {name} ({_role_words(parsed)}).")
        await self.bot.people.configure(self.user, parsed)

    async def send(self, incoming: Incoming) -> None:
        self.fresh = True
        await self.show(await self.bot.handle(incoming))
        await self.settle()

    async def settle(self) -> None:
        """Print what the input queued for people (notices, cards), then let later buttons carry on
        the numbering rather than replace it."""
        await self.bot.outbox.drain(timeout=2.0)
        self.fresh = False

    async def show(self, replies: list[Reply]) -> None:
        for reply in replies:
            if reply.form is not None:
                await self.complete(reply.form)
                continue
            self.write(render(reply, self.number))
            if reply.file:
                self.write(f"Saved to {save_here(reply.file)}")
        await self.bot.delivered(replies)

    async def complete(self, form: Form) -> None:
        """Ask a form's questions and submit it. Answers the core turns down are asked again one
        by one, keeping the rest: nobody should retype a whole report for one wrong field."""
        values = self.fill(form)
        while values is not None:
            replies = await self.bot.handle(Incoming("form", self.user, name=form.name, value=form.context, values=values))
            asked = {item.name for item in form.inputs}
            wrong = [f for f in replies[0].fields if f.label in asked] if replies and replies[0].form_error else []
            if not wrong:
                await self.show(replies)
                return
            for f in wrong:
                self.write(f"! {f.value}")
            values = self.fill(form, values, {f.label for f in wrong})
        self.write("(cancelled)")

    def fill(self, form: Form, values: dict[str, Any] | None = None, only: set[str] | None = None) -> dict[str, Any] | None:
        """The form's answers, or None when the person leaves a required question blank."""
        if only is None:
            self.write(f"-- {form.title} (blank line on a required question cancels) --")
        values = dict(values or {})
        for item in form.inputs:
            if only is not None and item.name not in only:
                continue
            answer = self.answer(item, keep=only is None)
            if answer is None:
                return None
            values[item.name] = answer
        return values

    def answer(self, item: Input, keep: bool) -> Any:
        """One question, asked until the answer fits; None cancels. ``keep``: a blank line keeps
        the answer already there (a revision's text), which is not wanted for an answer turned down."""
        opt = "" if item.required else " (optional)"
        while True:
            if item.kind in {"select", "multiselect"}:
                for i, o in enumerate(item.options, 1):
                    self.write(f"   {i}. {o.label}")
                many = " (numbers, comma separated)" if item.kind == "multiselect" else " (number)"
                raw = self.ask(f"{item.label}{many}{opt}: ").strip()
                picks = [item.options[int(x) - 1].value for x in raw.replace(" ", "").split(",")
                         if x.isdigit() and 0 < int(x) <= len(item.options)]
                value: Any = picks if item.kind == "multiselect" else (picks[0] if picks else "")
            elif item.kind == "toggle":
                return self.ask(f"{item.label} (y/n): ").strip().lower().startswith("y")
            else:
                default = item.initial if keep and isinstance(item.initial, str) and item.initial else ""
                hint = f" [{default[:40]}]" if default else ""
                value = self.ask(f"{item.label}{_limit_hint(item)}{hint}{opt}: ").strip() or default
                if item.max_length and len(value) > item.max_length:
                    self.write(f"! That is {len(value):,} characters; the limit is {item.max_length:,}. Please shorten it.")
                    continue
            if item.required and not value:
                return None
            return value

    def help(self) -> None:
        self.write(CONSOLE_HELP.format(example=_switch_hint(self.bot, self.user)[0], roles=", ".join(r.value for r in Role)))

    async def line(self, text: str) -> bool:
        """One line typed; False when the person wants to leave."""
        text = text.strip()
        if not text:
            return True
        if text in {"/quit", "/exit"}:
            return False
        if text.startswith("/as ") or text == "/as":
            try:
                await self.become(text[4:])
            except ValueError as exc:
                self.write(str(exc))
            # A new Clerk (say) receives the reports that waited for one: show what that sent.
            await self.settle()
            return True
        number: int | None = None
        if text.startswith("/press"):
            arg = text.removeprefix("/press").strip()
            number = int(arg) if arg.isdigit() else 0
        elif _PRESS.fullmatch(text) and int(text) <= len(self.buttons):
            number = int(text)  # a bare number presses only a button on screen; "2027" is a message
        if number is not None:
            if not 0 < number <= len(self.buttons):
                self.write("No such button on screen." if self.buttons else "There are no buttons on screen.")
                return True
            b = self.buttons[number - 1]
            await self.send(Incoming("action", self.user, name=b.action, value=b.value))
            return True
        if text.lower().startswith("/evidence "):  # files named are read from this computer
            await self.send(evidence_incoming(self.user, text[len("/evidence "):]))
            return True
        # Everything else is typed to the bot: the core reads commands ("/report", "pending") from it.
        await self.send(Incoming("message", self.user, text=text, typed=True))
        if text.lower() in {"help", "?", "/help"}:
            self.help()
        return True


def _role_words(role: Role) -> str:
    return role.value.replace("_", " ")


def _switch_hint(bot: CouncilBot, user: str) -> tuple[str, str]:
    """An example of /as from the people set up here, and who it makes you: whoever receives
    reports and approves posts (for them, a councillor)."""
    roles = bot.pack.roles
    desk = list(dict.fromkeys(roles.receive_reports + roles.approve_posts))
    # Someone at the Clerk's desk tries the other side, a councillor's; "/as" to their own name
    # would only change their own role.
    wanted = [Role.COUNCILLOR] if bot.people.role(user) in desk else desk
    me = user.removeprefix("console:").lower()
    people = sorted(bot.people.everyone().items())
    for role in wanted:
        here = [p.removeprefix("console:") for p, r in people if r == role and p != user and p.startswith("console:")]
        if here:
            return f"/as {here[0]}", f"{here[0]} ({_role_words(role)})"
    role = wanted[0]
    # Whoever holds that role on another platform, by their first name; else an example name.
    elsewhere = [re.findall(r"\w+", bot.people.name(p)) for p, r in people if r == role]
    examples = ["sam", "alex"] if role is Role.COUNCILLOR else ["jane", "priya"]
    name = next((n for n in [w[0].lower() for w in elsewhere if w] + examples if n != me))
    return f"/as {role.value}:{name}", f"{name} ({_role_words(role)})"


def _log_to(path: Path) -> None:
    """Log lines go to a file, not into the conversation on screen."""
    from councilbot.logs import configure

    path.parent.mkdir(parents=True, exist_ok=True)
    configure(stream=path.open("a", encoding="utf-8", buffering=1))
    logging.getLogger("asyncio").setLevel(logging.WARNING)


def terminal_reader() -> Callable[[str], str]:
    """Read lines from the terminal whole. Without line editing a terminal cuts a line at
    ``CANONICAL_LIMIT`` characters, so a long pasted draft would be checked without its end; GNU
    readline reads without that limit. Where it is not in use, a line that long is refused as cut."""
    interactive = sys.stdin.isatty()
    editing = False
    if interactive and sys.stdout.isatty():  # input() uses readline only when both are the terminal
        try:
            import readline
        except ImportError:
            pass
        else:
            editing = True
            if "libedit" not in (readline.__doc__ or ""):
                readline.parse_and_bind("tab: tab-insert")  # a pasted tab is text, not a request to complete

    def read(prompt: str) -> str:
        if not interactive:
            line = sys.stdin.readline()
            if line == "":
                raise EOFError
            return line.rstrip("\r\n")
        line = input(prompt)
        # Without editing, a line this long was cut. With it, a line pasted while the bot was still
        # busy (before readline took the terminal) was cut too, to exactly the limit.
        if len(line) >= CANONICAL_LIMIT - 1 and (not editing or len(line) <= CANONICAL_LIMIT):
            raise CutLine
        return line

    return read


def evidence_incoming(user: str, args: str) -> Incoming:
    """``/evidence R-2026-0012 shot.png "thread export.pdf"``: the files named are read from this
    computer (the core checks what they are) and added to the report; other words pass through."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    uploads: list[Upload] = []
    rest: list[str] = []
    for word in words:
        path = Path(word).expanduser()
        if path.is_file():
            try:
                with open(path, "rb") as fh:
                    uploads.append(Upload(path.name, fh.read(MAX_BYTES + 1), "console"))
            except OSError as exc:
                uploads.append(Upload(path.name, source="console", problem=exc.strerror or "cannot be read"))
        else:
            rest.append(word)
    return Incoming("command", user, name="evidence", text=" ".join(rest), values={"files": uploads})


def save_here(path: str) -> Path:
    """A file for the person (an evidence bundle) is copied into the folder the console runs in."""
    target = Path.cwd() / Path(path).name
    shutil.copyfile(path, target)
    Path(path).unlink(missing_ok=True)
    return target


def run(settings: Settings, as_: str, council_id: str | None = None, read: Callable[[str], str] | None = None,
        write: Callable[[str], None] | None = None) -> int:
    """Run until /quit or end of input; returns the exit status."""
    out = write or (lambda s: print(s, flush=True))
    data_dir = Path(settings.data_dir).resolve()
    log_file = data_dir / LOG_FILE

    async def loop() -> int:
        try:
            deployment = await Deployment.open(settings)
        except PackError as exc:
            print(f"councilbot: {'; '.join(exc.problems)}", file=sys.stderr)
            return 2
        except (StorageError, StoreError) as exc:
            print(f"councilbot: {exc}", file=sys.stderr)
            return 2
        bot = deployment.only if council_id is None else deployment.bots.get(council_id)
        if bot is None:
            await deployment.stop()
            print(f"councilbot: say which council to try with --council-id ({', '.join(deployment.bots)})", file=sys.stderr)
            return 2
        session = Session(bot, "", read or terminal_reader(), out)
        bot.outbox.register(ConsoleNotifier(out, session.number))
        _log_to(log_file)
        await deployment.start()
        try:
            await bot.people.load()
            try:
                await session.become(as_, announce=False)  # the banner says who you are
            except ValueError as exc:
                print(f"councilbot: {exc}", file=sys.stderr)
                return 2
            role = bot.people.role(session.user)
            out(BANNER.format(council=bot.pack.council, data_dir=data_dir, log_file=log_file,
                              name=session.user.removeprefix("console:"), role=_role_words(role) if role else "?",
                              switch="{} becomes {}".format(*_switch_hint(bot, session.user))))
            while True:
                try:
                    text = await asyncio.to_thread(session.ask, "> ")
                except EOFError:
                    break
                if not await session.line(text):
                    break
        finally:
            await deployment.stop()
        return 0

    return asyncio.run(loop())
