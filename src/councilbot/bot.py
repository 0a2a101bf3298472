"""The core's single door: ``handle(Incoming) -> list[Reply]``. It routes; the workflows decide."""

from __future__ import annotations

import inspect
import logging
import re
import uuid
from dataclasses import replace
from typing import Any, Awaitable, Callable

from . import bundle, clock, conduct, elections, evidence, metrics, moderation, reports, suggestions, typed
from .checker import MAX_DRAFT, Draft, DraftError, check
from .context import Ctx
from .errors import BadInput, Refused
from .kinds import Role
from .lookup import MAX_QUESTION, ask
from .messages import Button, Field, Form, Incoming, Input, Reply
from .render import answer_reply, check_reply
from .storage.port import In

log = logging.getLogger(__name__)
# The title of the answer to input turned down as bad (BadInput). Workflows validate before they
# write, so such an answer means nothing was changed.
CHECK_THE_FORM = "Please check the form"

_DRAFT_PREFIX = re.compile(r"^\s*(?:may i post|can i post|is it ok to post|is this ok|check|draft)\s*(?:this)?\s*[:\-]\s*", re.I)
_QUESTION_START = re.compile(r"^\s*(?:can|may|who|what|how|is|are|do|does|should|when|where|why|which|am i|are we|could|would)\b", re.I)
_OPTIONS = re.compile(r"^\s*((?:(?:personal|council|facebook|twitter|instagram|youtube|x)\s+)*(?:personal|council|facebook|twitter|instagram|youtube|x))\s*:\s*", re.I)


def parse_check_args(text: str, default_platform: str) -> Draft:
    """'/checkpost personal twitter: text' sets where and platform; plain text checks a council post."""
    where, platform = "council", default_platform
    m = _OPTIONS.match(text)
    if m:
        for word in m.group(1).lower().split():
            if word in {"personal", "council"}:
                where = word
            else:
                platform = "twitter" if word == "x" else word
        text = text[m.end():]
    return Draft(text.strip(), where, platform)


def looks_like_question(text: str) -> bool | None:
    """True for a question, False for a draft, None when a person should say which."""
    stripped = text.strip()
    if _DRAFT_PREFIX.match(stripped) or _OPTIONS.match(stripped):
        return False
    if len(stripped) <= 200 and (stripped.endswith("?") and _QUESTION_START.match(stripped)):
        return True
    if len(stripped) > 200 or re.search(r"(#\w|https?://|!\s*$|📣|🎉)", stripped):
        return False
    if _QUESTION_START.match(stripped) and len(stripped) <= 120:
        return True
    return None


# A handler answers at once, or is a coroutine that awaits the checker or the lookup off the loop.
Handler = Callable[[Ctx, Incoming], "list[Reply] | Awaitable[list[Reply]]"]
# Room, beyond a draft's limit, for the words that say what a message is ("may I post:", "personal twitter:").
PREFIX_ROOM = 200


def too_long(what: str, length: int, limit: int, advice: str) -> Reply:
    """Said before any work is done on a text over its limit (a draft, a question)."""
    return Reply(text=f"That {what} is {length:,} characters; the limit is {limit:,}. {advice}", tone="caution")


# Commands that take no arguments: typed alone as a message, they are the command, on any platform.
BARE_COMMANDS = frozenset({"pending", "reports", "flags", "moderation", "people", "home"})
PLATFORMS = frozenset({"slack", "teams", "console"})
# Commands that only read (or open a form): answering one twice changes nothing.
READ_ONLY_COMMANDS = frozenset({"policy", "ask", "checkpost", "check", "help", "home", "pending", "reports", "flags",
                                "report", "suggest", "flag", "moderation"})


def known_person_id(ctx: Ctx, person: str) -> bool:
    """A platform-qualified id on a platform CouncilBot serves (or one a test registers)."""
    platform, _, rest = person.partition(":")
    registered = ctx.outbox.notifiers
    return bool(rest) and (platform in PLATFORMS or platform in registered or not registered)


class Router:
    """The tables of what each command, button and form does. Holds no state: every handler is given
    the event's own ``Ctx`` (see ``Ctx.handling``)."""

    def __init__(self) -> None:
        self.commands: dict[str, Handler] = {
            "policy": self._policy, "ask": self._policy, "checkpost": self._checkpost, "check": self._checkpost,
            "report": lambda c, i: [Reply(text="", form=reports.form(c))],
            "suggest": self._suggest, "pending": lambda c, i: suggestions.pending(c, i.user),
            "reports": lambda c, i: reports.list_reply(c, i.user), "flag": self._flag,
            "flags": lambda c, i: conduct.history(c, i.user), "moderation": self._moderation,
            "people": self._people, "export": self._export, "help": self._help, "home": self._home,
            "escalate": self._escalate_command,
            "election": lambda c, i: elections.command(c, i.user, i.text),
            "elections": lambda c, i: elections.command(c, i.user, i.text),
            "link": lambda c, i: evidence.link(c, i.user, i.text),
            "evidence": lambda c, i: evidence.add(c, i.user, i.text, i.values),
        }
        self.actions: dict[str, Handler] = {
            "dm.check": self._dm_check, "dm.ask": self._dm_ask,
            "suggestion.approve": lambda c, i: suggestions.decide(c, i.user, i.value, "approve"),
            "suggestion.changes": lambda c, i: self._comment(c, i, "changes"),
            "suggestion.reject": lambda c, i: self._comment(c, i, "reject"),
            "suggestion.escalate": lambda c, i: self._comment(c, i, "escalate"),
            "suggestion.forward": lambda c, i: suggestions.forward(c, i.user, i.value),
            "suggestion.revise": self._revise,
            "report.view": lambda c, i: reports.view(c, i.user, i.value),
            "report.ack": lambda c, i: reports.acknowledge(c, i.user, i.value),
            "report.note": lambda c, i: self._report_form(c, i, "report_note", "Add a note", "note", "Note"),
            "report.host": lambda c, i: self._report_form(c, i, "report_host", "Reported to the platform", "detail", "What was reported, to whom, and any reference"),
            "report.close": lambda c, i: self._report_form(c, i, "report_close", "Close the report", "outcome", "Outcome"),
            "report.refs": lambda c, i: evidence.references_form(c, i.user, i.value),
            "report.bundle": lambda c, i: bundle.for_chat(c, i.user, i.value),
        }
        self.forms: dict[str, Handler] = {
            "report": lambda c, i: reports.file(c, i.user, dict(i.values)),
            "suggest": lambda c, i: suggestions.submit(c, i.user, dict(i.values), revising=i.value),
            "decision": self._decision,
            "flag": lambda c, i: conduct.flag(c, i.user, dict(i.values)),
            "moderation": lambda c, i: moderation.record(c, i.user, dict(i.values)),
            "report_note": lambda c, i: reports.add_note(c, i.user, i.value, _str(i.values, "note")),
            "report_host": lambda c, i: reports.host_reported(c, i.user, i.value, _str(i.values, "detail")),
            "report_close": lambda c, i: reports.close(c, i.user, i.value, _str(i.values, "outcome")),
            "report_refs": lambda c, i: evidence.set_references(c, i.user, i.value, dict(i.values)),
        }

    def reads_only(self, incoming: Incoming) -> bool:
        """Whether handling this event writes nothing that matters twice (a check, a lookup, a
        list, a form opened): such an event needs no durable claim against a platform's retry."""
        if incoming.kind == "message":
            found = typed.command(incoming.text.strip()) if incoming.typed else None
            return found is None or found[0] in READ_ONLY_COMMANDS
        return incoming.kind == "command" and incoming.name in READ_ONLY_COMMANDS

    async def route(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        try:
            if incoming.kind == "message":
                return await self._message(ctx, incoming)
            table = {"command": self.commands, "action": self.actions, "form": self.forms}.get(incoming.kind)
            handler = table.get(incoming.name) if table is not None else None
            if handler is None:
                return [Reply(text=f"I don't know {incoming.name or incoming.kind!r}. Try help.", tone="caution")]
            return await _run(handler, ctx, incoming)
        except Refused as exc:
            return [Reply(text=str(exc), tone="caution")]
        except BadInput as exc:
            fields = (Field(exc.field, str(exc)),) if exc.field else ()
            return [Reply(text=str(exc), title=CHECK_THE_FORM, tone="danger", fields=fields, form_error=incoming.kind == "form")]
        except DraftError as exc:
            return [Reply(text=f"I can't check that: {exc}.", tone="caution")]

    # Messages and the policy tools.

    async def _message(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        text = incoming.text.strip()
        if len(text) > MAX_DRAFT + PREFIX_ROOM:  # neither a draft nor a question: say so before reading it
            return [Reply(text=f"That message is {len(text):,} characters: I can check drafts of up to {MAX_DRAFT:,} "
                          f"characters and answer questions of up to {MAX_QUESTION:,}. Please send it in parts.",
                          tone="caution")]
        if not text or text.lower() in {"help", "hi", "hello", "?"}:
            return await self._help(ctx, incoming)
        if incoming.typed:  # read once, here, with the one table: the same on every platform
            found = typed.command(text)
            if found is not None:
                name, rest = found
                return await self.route(ctx, replace(incoming, kind="command", name=name, text=rest, typed=False))
        elif text.lower().lstrip("/") in BARE_COMMANDS:  # "pending" typed on its own is the command
            return await _run(self.commands[text.lower().lstrip("/")], ctx, incoming)
        kind = looks_like_question(text)
        if kind is True:
            return await self._lookup(ctx, text)
        if kind is False:
            return await self._check_text(ctx, incoming.user, _DRAFT_PREFIX.sub("", text))
        draft_id = uuid.uuid4().hex[:12]
        await ctx.store.insert("drafts", {"id": draft_id, "user": incoming.user, "text": text, "at": clock.iso(clock.now())})
        return [Reply(text="Is this a post you want checked, or a question about the policy?", buttons=(
            Button("dm.check", "Check it as a post", draft_id, "primary"), Button("dm.ask", "Look it up in the policy", draft_id)))]

    async def _pending_draft(self, ctx: Ctx, incoming: Incoming) -> str:
        """The text of an ambiguous message, used once: it is deleted as soon as the person chooses."""
        doc = await ctx.store.get("drafts", incoming.value)
        if doc is None or doc["user"] != incoming.user:
            raise Refused("That message has expired; please send it again.")
        await ctx.store.delete("drafts", doc["id"])
        return str(doc["text"])

    async def _dm_check(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        return await self._check_text(ctx, incoming.user, await self._pending_draft(ctx, incoming))

    async def _dm_ask(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        return await self._lookup(ctx, await self._pending_draft(ctx, incoming))

    async def _check_text(self, ctx: Ctx, user: str, text: str) -> list[Reply]:
        if len(text) > MAX_DRAFT + PREFIX_ROOM:  # not even read (a stranger's megabyte)
            return [too_long("draft", len(text), MAX_DRAFT, "Please check it in parts.")]
        default = ctx.pack.channels[0].value
        draft = parse_check_args(text, default)
        if len(draft.text) > MAX_DRAFT:
            return [too_long("draft", len(draft.text), MAX_DRAFT, "Please check it in parts.")]
        role = ctx.people.role(user)
        draft = Draft(draft.text, draft.where, draft.platform, role.value if role else None)
        period = await elections.period(ctx)  # the pre-election rules too, only while a period is on
        result = await ctx.compute(check, draft, ctx.pack, *([period] if period else []))
        metrics.CHECKS.labels(result.verdict.value).inc()
        return [check_reply(result, ctx.pack.council)]

    async def _lookup(self, ctx: Ctx, question: str) -> list[Reply]:
        """The policy's answer, looked up off the loop; a question over the CLI's limit is refused
        with that limit rather than silently cut."""
        question = question.strip()
        if len(question) > MAX_QUESTION:
            return [too_long("question", len(question), MAX_QUESTION, "Please ask it in fewer words.")]
        reply = answer_reply(await ctx.compute(ask, ctx.pack, question))
        return [elections.on_answer(reply, ctx.pack, await elections.period(ctx), question)]

    async def _policy(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        if not incoming.text.strip():
            return [Reply(text="Ask about any part of the policy, for example: /policy photos of children", title="Policy lookup")]
        return await self._lookup(ctx, incoming.text)

    async def _checkpost(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        if not incoming.text.strip():
            return [Reply(title="Check a draft", text="Give the draft after the command: /checkpost Our litter pick is on Saturday! "
                          "Start with 'personal:' for your own account, or a platform such as 'twitter:'.")]
        return await self._check_text(ctx, incoming.user, incoming.text)

    # Workflows that open forms.

    def _suggest(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        ctx.people.require(incoming.user, "suggest")
        return [Reply(text="", form=suggestions.form(ctx, {"text": incoming.text.strip()} if incoming.text.strip() else None))]

    async def _revise(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        record = await suggestions.own(ctx, incoming.user, incoming.value)
        return [Reply(text="", form=suggestions.form(ctx, record, context=record["id"]))]

    async def _comment(self, ctx: Ctx, incoming: Incoming, action: str) -> list[Reply]:
        record = await ctx.store.get("suggestions", incoming.value)
        if record is not None and record["status"] in suggestions.DECIDED:
            return await suggestions.decide(ctx, incoming.user, incoming.value, action)
        if action == "escalate":
            ctx.people.require(incoming.user, "escalate")
        elif record is not None and record["status"] == "escalated":
            if not suggestions.may_settle(ctx, incoming.user, record):
                raise Refused(f"{record['id']} has been escalated; only the Chair of the Council can decide it now.")
        else:
            ctx.people.require(incoming.user, "approve")
        return [Reply(text="", form=suggestions.comment_form(action, incoming.value))]

    async def _escalate_command(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        """'escalate S-2026-0007 why': an approver who disagrees with a decision already taken."""
        sid, _, why = incoming.text.strip().partition(" ")
        if not sid:
            return [Reply(text="Usage: escalate S-2026-0007 what the moderators disagree on", title="Escalate to the Chair")]
        return await suggestions.escalate(ctx, incoming.user, sid, why)

    async def _decision(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        action, _, sid = incoming.value.partition(":")
        comment = _str(incoming.values, "comment")
        if action == "escalate":
            return await suggestions.escalate(ctx, incoming.user, sid, comment)
        if action not in {"changes", "reject"}:
            raise BadInput("This form has expired; press the button on the card again.")
        return await suggestions.decide(ctx, incoming.user, sid, action, comment)

    async def _report_form(self, ctx: Ctx, incoming: Incoming, name: str, title: str, field: str, label: str) -> list[Reply]:
        await reports.as_recipient(ctx, incoming.user, incoming.value)
        return [Reply(text="", form=Form(name=name, title=title, context=incoming.value, inputs=(Input(field, label, "multiline", max_length=3000),)))]

    def _flag(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        ctx.people.require(incoming.user, "flag")
        values = dict(incoming.values)
        return [Reply(text="", form=conduct.form(str(values.get("author", "")), incoming.text or str(values.get("text", "")),
                                                 str(values.get("link", ""))))]

    def _moderation(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        ctx.people.require(incoming.user, "moderate")
        return [Reply(text="", form=moderation.form())]

    async def _export(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        ctx.people.require(incoming.user, "export")
        fmt = "json" if "json" in incoming.text.lower() else "csv"
        await ctx.audit.record(incoming.user, "suggestions.exported", "suggestions", format=fmt)
        return [Reply(title=f"Approved posts ({fmt.upper()})", text=await suggestions.export(ctx, fmt))]

    async def _people(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        ctx.people.require(incoming.user, "manage_people")
        words = incoming.text.split()
        if len(words) >= 3 and words[0] == "add":
            try:
                role = Role(words[2])
            except ValueError:
                raise BadInput(f"Unknown role {words[2]!r}; one of: {', '.join(r.value for r in Role)}.") from None
            self._check_person_id(ctx, words[1])
            self._guard_chain(ctx, words[1], role)
            self._guard_last_manager(ctx, words[1], role)
            await ctx.people.set(words[1], role, " ".join(words[3:]) or None)
            await ctx.audit.record(incoming.user, "people.added", words[1], role=role.value)
            return [Reply(text=f"{words[1]} is now {role.value.replace('_', ' ')}.", tone="ok")]
        if len(words) == 2 and words[0] == "remove":
            self._guard_chain(ctx, words[1], None)
            self._guard_last_manager(ctx, words[1], None)
            await ctx.people.set(words[1], None)
            await ctx.audit.record(incoming.user, "people.removed", words[1])
            return [Reply(text=f"{words[1]} no longer has a role.", tone="ok")]
        fields = tuple(Field(ctx.people.name(u), f"{u} \u2014 {r.value.replace('_', ' ')}") for u, r in sorted(ctx.people.everyone().items()))
        return [Reply(title="People", text="Add with: people add slack:U123 councillor Jane Smith; remove with: people remove slack:U123", fields=fields)]

    def _check_person_id(self, ctx: Ctx, person: str) -> None:
        if not known_person_id(ctx, person):
            raise BadInput("Give the person's chat id with its platform, like slack:U123 or teams:<id>.")

    def _guard_chain(self, ctx: Ctx, person: str, role: Role | None) -> None:
        """Who receives reports about the Clerk is set in the config file, not from chat: otherwise
        the Clerk could route reports about themselves to an account of their own."""
        guarded = set(ctx.pack.roles.report_fallback)
        if role in guarded or ctx.people.role(person) in guarded:
            names = " or ".join(r.value.replace("_", " ") for r in ctx.pack.roles.report_fallback)
            raise Refused(f"Reports that involve the Clerk go to the {names}, so that role is set in the config file "
                          "by the council's operator, not from chat.")

    def _guard_last_manager(self, ctx: Ctx, person: str, role: Role | None) -> None:
        """Nobody can take away the last role that manages people: the council would be locked out
        of its own bot, and a role changed in chat outranks the config file."""
        managers = ctx.pack.roles.manage_people
        if role in managers or ctx.people.role(person) not in managers:
            return
        if [u for u in ctx.people.with_roles(managers) if u != person]:
            return
        raise Refused(f"{person} is the only person who can manage people here; give someone else that role first.")

    async def _help(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        lines = [
            f"I help {ctx.pack.council} use social media within its policy.",
            "• Send me a draft (or /checkpost DRAFT) and I'll say if it is OK, needs care, or should not be posted.",
            "• Ask a question (or /policy TOPIC), e.g. 'can I post photos of children?'",
            "• /report: tell the Clerk, in confidence, about threats, abuse or harassment. Screenshots sent to me "
            "afterwards with its reference (evidence R-2026-0012) are kept with it.",
        ]
        can = ctx.people.can
        if can(incoming.user, "suggest"):
            lines.append("• /suggest: suggest a post for the council's pages.")
        if can(incoming.user, "approve") or can(incoming.user, "settle"):
            lines.append("• pending: suggestions waiting for a decision; export [csv|json]: approved posts.")
        if can(incoming.user, "escalate"):
            lines.append("• escalate S-… why: hand a disputed suggestion to the Chair of the Council, whose decision is final.")
        if can(incoming.user, "read_reports"):
            lines.append("• reports: the reports sent to you, with what is overdue; link R-… R-…: reports about the same sender.")
        if can(incoming.user, "flag"):
            lines.append("• flag: send a private Code of Conduct reminder about a personal post; flags: who has been flagged.")
        if can(incoming.user, "moderate"):
            lines.append("• moderation: record a post removed or reported to the host.")
        if can(incoming.user, "manage_people"):
            lines.append("• people: who is clerk, councillor, officer, moderator or chair.")
        lines.append(elections.help_line(ctx, incoming.user))
        notice = await elections.notice_line(ctx)
        return [Reply(text="\n".join([notice, *lines] if notice else lines), title="CouncilBot")]

    async def _home(self, ctx: Ctx, incoming: Incoming) -> list[Reply]:
        """A person's own items with their status; for approvers and recipients, what waits for them."""
        user = incoming.user
        out: list[Reply] = []
        mine = await suggestions.mine(ctx, user)
        own_reports = await ctx.store.find("reports", {"reporter": user}, order_by="created")
        fields = [Field(f"Suggestion {s['id']}", s["status"].replace("_", " ")) for s in mine[-10:]]
        fields += [Field(f"Report {r['id']}", reports.reporter_status(ctx, r)) for r in own_reports[-10:]]
        # What waits for the person themselves gets its button here too, not only in the notice.
        revise = tuple(Button("suggestion.revise", f"Revise {s['id']}", s["id"], "primary")
                       for s in mine[-10:] if s["status"] in {"changes_requested", "returned"})
        out.append(Reply(title="Your items", text="Your suggestions and reports." if fields else "You have no suggestions or reports yet.",
                         fields=tuple(fields), buttons=revise))
        if ctx.people.can(user, "approve") or ctx.people.can(user, "settle"):
            waiting = await ctx.store.find("suggestions", {"status": In(["pending", "escalated"])}, order_by="created")
            out.append(Reply(title="Waiting for a decision", text=f"{len(waiting)} suggestion(s).",
                             fields=tuple(Field(s["id"], s["text"][:150]) for s in waiting[:10])))
        if ctx.people.can(user, "read_reports"):
            out.extend(await reports.list_reply(ctx, user))
        banner = await elections.home_reply(ctx)
        return [banner, *out] if banner else out


async def _run(handler: Handler, ctx: Ctx, incoming: Incoming) -> list[Reply]:
    """Call a handler, awaiting it if it is a coroutine (one that touches the store, checks or looks something up)."""
    result = handler(ctx, incoming)
    return await result if inspect.isawaitable(result) else result


def _str(values: Any, name: str) -> str:
    value = values.get(name, "") if hasattr(values, "get") else ""
    return value if isinstance(value, str) else ""


