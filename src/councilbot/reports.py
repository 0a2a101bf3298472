"""Reports of threats, abuse and harassment: filed by anyone, delivered confidentially to the
report recipients (never to a person the report names), acknowledged within the pack's deadline,
and visible only to the reporter and the recipients."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterable

from . import clock
from . import evidence as kept_evidence
from .context import Ctx, bool_value, insert_numbered, list_value, text_value
from .errors import BadInput, Refused
from .kinds import Role
from .messages import Button, Field, Form, Input, Option, Reply
from .people import bare_name
from .ports import CLERK_CHANNEL
from .storage.port import Before, Falsy, Has, Lacks, Ne

log = logging.getLogger(__name__)

ROLE_LABEL = {
    Role.CLERK: "the Town Clerk", Role.DEPUTY_CLERK: "the Deputy Clerk", Role.ASSISTANT_CLERK: "the Assistant Clerk",
    Role.CHAIR: "the Chair of the Council", Role.MODERATOR: "a moderator", Role.COUNCILLOR: "a councillor",
    Role.OFFICER: "an officer",
}
EVIDENCE_ADVICE = (
    "Keep the evidence: take screenshots that show the date and time, copy the links, and do not delete "
    "the messages or block the account until you have saved them."
)
DANGER_ADVICE = "If anyone is in immediate danger, call 999 now, before anything else."
# Every receipt that does not already start with DANGER_ADVICE ends with this: things change.
SAFETY_LINE = "If this changes or you feel unsafe, call 999; for non-emergencies call 101."


def form(ctx: Ctx) -> Form:
    return Form(
        name="report",
        title="Report threats or abuse",
        submit_label="Send in confidence",  # not "to the Clerk": a report about the Clerk goes to the Chair
        inputs=(
            Input("what", "What happened?", "multiline", max_length=5000,
                  placeholder="Describe the threats, abuse or harassment in your own words."),
            Input("platform", "Where did it happen?", "select", options=tuple(
                Option(value, label) for value, label in (("facebook", "Facebook"), ("twitter", "Twitter / X"), ("instagram", "Instagram"),
                                          ("youtube", "YouTube"), ("email", "Email"), ("in-person", "In person"), ("other", "Other")))),
            Input("link", "Link or description of where", required=False, max_length=1000),
            Input("when", "When did it happen?", placeholder="e.g. 24 Nov, about 9pm", max_length=200),
            Input("who", "Who was it from, if known?", required=False, max_length=500),
            about_input(ctx),
            Input("danger", "Is anyone in immediate danger?", "toggle", required=False),
            Input("evidence", "Links to evidence (one per line)", "urls", required=False, max_length=3000),
        ),
    )


_ROLE_WORDS = {
    Role.CLERK: re.compile(r"(?<!deputy )(?<!assistant )(?<!deputy town )(?<!assistant town )\b(?:town )?clerk\b"),
    Role.DEPUTY_CLERK: re.compile(r"\bdeputy (?:town )?clerk\b"),
    Role.ASSISTANT_CLERK: re.compile(r"\bassistant (?:town )?clerk\b"),
    # Generous on purpose: a wrong match only sends the report further up the chain.
    Role.CHAIR: re.compile(r"\b(?:(?:vice[- ])?chair(?:man|woman|person)?|council chair|town mayor|the mayor)\b"),
    Role.MODERATOR: re.compile(r"\bmoderators?\b"),
}


def _chain(ctx: Ctx) -> set[Role]:
    return set(ctx.pack.roles.receive_reports) | set(ctx.pack.roles.report_fallback)


def _chain_roles(ctx: Ctx) -> list[Role]:
    """The roles in the report chain that someone holds now, in the order of ROLE_LABEL (all the
    pack's chain roles while nobody is set up: the question still has to make sense)."""
    chain = [r for r in ROLE_LABEL if r in _chain(ctx)]
    return [r for r in chain if ctx.people.with_roles((r,))] or chain


def _joined(items: list[str], word: str = "and") -> str:
    """"A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _display(ctx: Ctx, user: str) -> str:
    return bare_name(ctx.people.given_name(user))


def _role_and_name(ctx: Ctx, user: str) -> str:
    role = ctx.people.role(user)
    label = ROLE_LABEL[role] if role is not None else "someone"
    name = _display(ctx, user)
    return f"{label} ({name})" if name else label


def about_input(ctx: Ctx) -> Input:
    """"Is this about the Town Clerk, the Assistant Clerk or the Chair of the Council?", in plain
    words, naming the roles (and the names) of the people who would otherwise receive it. Left
    blank it counts as "no", unless the report names someone the bot cannot tell apart: then the
    reporter is asked (see ``file``)."""
    options = [Option("none", "No, none of them")]
    for role in _chain_roles(ctx):
        names = [n for n in (_display(ctx, u) for u in ctx.people.with_roles((role,))) if n]
        options.append(Option(role.value, f"Yes: {ROLE_LABEL[role]}" + (f" ({', '.join(names)})" if names else "")))
    return Input("about", about_question(ctx), "select", required=False, options=tuple(options))


def about_question(ctx: Ctx) -> str:
    return f"Is this about {_joined([ROLE_LABEL[r] for r in _chain_roles(ctx)], 'or')}?"


_TITLES = frozenset({"cllr", "councillor", "mr", "mrs", "ms", "miss", "mx", "dr", "rev", "revd", "sir", "dame", "lady", "lord"})


def _name_words(name: str) -> list[str]:
    """The words of a name, without bracketed parts such as "(Town Clerk)", titles such as "Cllr",
    or initials."""
    words = re.findall(r"[^\W\d_][\w'’-]*", bare_name(name))
    return [w for w in words if w.lower().rstrip(".") not in _TITLES and len(w) > 1]


def _single_words(words: list[str]) -> set[str]:
    """The words of a name that people write alone: the first name and the surname."""
    return {w.lower() for w in (words[:1] + words[-1:])}


def _written_as_name(word: str, text: str) -> bool:
    """The word on its own and starting with a capital ("Jane", "JANE", "Hall"), not the everyday
    word ("the village hall", "they will")."""
    return any(m.group(0)[0].isupper() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I))


def _has_phrase(phrase: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.I) is not None


@dataclass(frozen=True)
class Involvement:
    """Whom in the report chain a report is about: ``named`` for certain (the form's answer, a role
    named, a full name, a first name or surname nobody else has, written as a name); ``unsure``, a
    word in the report that is the name of someone in the chain and of someone else too, or that is
    written in small letters ("jane keeps shouting", as people type in chat, but also "they will"),
    with the people in the chain it may mean."""

    named: frozenset[str]
    unsure: dict[str, tuple[str, ...]]


def involvement(ctx: Ctx, about: str, who: str, what: str, where: str = "") -> Involvement:
    """Names are those the Clerk or the config gave (never a platform's display name, which anyone
    can choose), looked for in every answer a reporter writes freely (who, what and where: "on Jane
    Tate's Facebook page"). A wrong certain match only sends the report further up the chain; an uncertain
    one is for the reporter to settle."""
    chain = _chain(ctx)
    roles: set[Role] = {Role(about)} if about in {r.value for r in chain} else set()
    text = f"{who}\n{what}\n{where}"
    roles |= {role for role, pattern in _ROLE_WORDS.items() if role in chain and pattern.search(text.lower())}
    people = set(ctx.people.with_roles(tuple(roles))) if roles else set()
    known = {user: [_name_words(name) for name in ctx.people.given_names(user)] for user in ctx.people.named()}
    in_full = {user for user, names in known.items() if any(len(w) >= 2 and _has_phrase(" ".join(w), text) for w in names)}
    singles = {user: {s for w in names for s in _single_words(w)} for user, names in known.items()}
    everyone = ctx.people.everyone()
    unsure: dict[str, set[str]] = {}
    for user, role in everyone.items():
        if role not in chain:
            continue
        if user in in_full:
            people.add(user)
            continue
        for word in sorted(singles.get(user, set())):
            if not _has_phrase(word, text):
                continue
            holders = {u for u, s in singles.items() if word in s}
            if holders & in_full:
                continue  # "Jane Tate" written in full says which Jane is meant
            if holders == {user} and _written_as_name(word, text):
                people.add(user)
            else:
                unsure.setdefault(word, set()).update(h for h in holders if everyone.get(h) in chain)
    # Nothing to ask about someone the report already names for certain ("Will … the village hall").
    return Involvement(frozenset(people), {w: tuple(sorted(us - people)) for w, us in unsure.items() if us - people})


def answered_about(ctx: Ctx, about: str) -> bool:
    """The reporter chose an answer to "Is this about …?" ("no" is an answer; blank is not)."""
    return about == "none" or about in {r.value for r in _chain(ctx)}


def involved(ctx: Ctx, about: str, who: str, what: str, where: str = "") -> list[str]:
    """The people in the report chain the report may be about. They must not receive or see it.
    A name that could be one of them, which the reporter was not asked about, counts: nobody
    can be asked once a report is filed, so it goes further up the chain."""
    found = involvement(ctx, about, who, what, where)
    people = set(found.named)
    if not answered_about(ctx, about):
        people |= {u for users in found.unsure.values() for u in users}
    return sorted(people)


def which_one(ctx: Ctx, unsure: dict[str, tuple[str, ...]]) -> str:
    """The question put to a reporter whose report names someone the bot cannot tell apart. It
    names the people in the chain it may mean, never the others who share the name."""
    asks = []
    named = [{s for name in ctx.people.given_names(u) for s in _single_words(_name_words(name))} for u in ctx.people.named()]
    for word, users in sorted(unsure.items()):
        written = next((w for u in users for n in ctx.people.given_names(u) for w in _name_words(n) if w.lower() == word), word)
        shared = sum(word in words for words in named) > 1
        asks.append(f"You wrote “{written}”" + (f", and more than one person here is called {written}. " if shared else ". ")
                    + f"Is this about {_joined([_role_and_name(ctx, u) for u in users], 'or')}?")
    return (" ".join(asks) + " Please choose below; choose “No, none of them” if you mean someone else, "
            "or write their full name.")


def route(ctx: Ctx, excluded: list[str]) -> list[str]:
    """A report goes to the usual recipients; one that involves any of them goes to the next in
    the pack's chain instead (Alsager and Castle Cary: the Chair of the Council). Never to anyone
    it involves; possibly to nobody, which the reporter is then told."""
    usual = [u for u in ctx.people.with_roles(ctx.pack.roles.receive_reports) if u not in excluded]
    fallback = [u for u in ctx.people.with_roles(ctx.pack.roles.report_fallback) if u not in excluded]
    return (fallback or usual) if excluded else (usual or fallback)


async def file(ctx: Ctx, user: str, values: dict[str, Any]) -> list[Reply]:
    what = text_value(values, "what", label="what happened")
    when = text_value(values, "when", label="when it happened", limit=200)
    platform = text_value(values, "platform", required=False, limit=40) or "other"
    link = text_value(values, "link", required=False, limit=1000)
    who = text_value(values, "who", required=False, limit=500)
    evidence = list_value(values, "evidence")
    if len(evidence) > 20:
        raise BadInput("Please give at most 20 evidence links.", "evidence")
    danger = bool_value(values, "danger")
    about = text_value(values, "about", required=False, limit=40)
    found = involvement(ctx, about, who, what, link)
    if found.unsure and not answered_about(ctx, about):
        raise BadInput(which_one(ctx, found.unsure), "about")
    excluded = sorted(found.named)
    recipients = route(ctx, excluded)
    files = await kept_evidence.keep(ctx, user, kept_evidence.uploads_in(values))  # screenshots, checked and kept at once
    now = clock.now()
    due = clock.add_working_days(now, ctx.pack.reports.acknowledge_within_working_days, ctx.zone)
    record: dict[str, Any] = {
        "reporter": user, "created": clock.iso(now), "status": "open", "urgent": danger,
        "what": what, "platform": platform, "link": link, "when": when, "who": who, "evidence": evidence,
        "recipients": recipients, "excluded": excluded, "about": about, "notes": [], "due": clock.iso(due),
        "acknowledged_at": None, "closed_at": None, "outcome": None, "host_reported": None,
        "notices_queued": False, "reminded_on": None, "files": files, "crime_ref": "", "platform_ref": "",
    }
    record = await insert_numbered(ctx, "reports", "R", record)
    ref = str(record["id"])
    await ctx.audit.record(user, "report.filed", ref, urgent=danger, routed_around=bool(excluded))
    await queue_notices(ctx, record)
    if not recipients:
        log.warning("report has no recipient: add report recipients to the config", extra={"report": ref})
    return [receipt(ctx, record)]


def receipt(ctx: Ctx, record: dict[str, Any]) -> Reply:
    """What the reporter is told, from the record alone: the same words whether it is the first
    answer, the answer to the same form sent again, or the copy the outbox delivers after a crash."""
    ref, due, danger = str(record["id"]), record["due"], bool(record["urgent"])
    recipients, excluded = record["recipients"], record["excluded"]
    to = roles_of(ctx, recipients)
    if not recipients:
        lines = [f"Your report {ref} has been recorded, but nobody who could receive it safely is set up in CouncilBot yet. "
                 f"Please also contact {ctx.pack.council} directly. The operator has been alerted."]
    elif excluded:
        about = roles_of(ctx, excluded, "someone who would normally receive it")
        they = about if len(excluded) == 1 and about.startswith("the ") else "they"
        lines = [f"Your report {ref} mentions {about}, so it has been sent in confidence to {to} instead; "
                 f"{they} cannot see it."]
    else:
        lines = [f"Your report {ref} has been sent in confidence to {to}."]
    if danger:
        lines.insert(0, DANGER_ADVICE)
    lines.append(f"It should be acknowledged by {ctx.human(due)}. You will be told when it is acknowledged and when it is closed.")
    lines.append(EVIDENCE_ADVICE)
    if not danger:
        lines.append(SAFETY_LINE)
    return Reply(text="\n".join(lines), title=f"Report {ref} received", tone="danger" if danger else "ok",
                 fields=(Field("Reference", ref),))


def roles_of(ctx: Ctx, users: Iterable[str], otherwise: str = "the people who receive reports") -> str:
    """The roles these people hold, in plain words ("the Town Clerk and the Assistant Clerk"):
    what a reporter is told about who has their report, or who acted on it."""
    held = {ctx.people.role(u) for u in users}
    labels = [label for role, label in ROLE_LABEL.items() if role in held]
    return _joined(labels) if labels else otherwise


def acted_as(ctx: Ctx, record: dict[str, Any], step: str) -> str:
    """The role of whoever acknowledged or closed a report, as it was when they did (for a record
    from before that was kept, their role now): a reporter is told who acted ("the Chair of the
    Council"), never a guess ("the Clerk's office")."""
    role = record.get(f"{step}_as")
    if role in {r.value for r in ROLE_LABEL}:
        return ROLE_LABEL[Role(role)]
    return roles_of(ctx, [str(record.get(f"{step}_by") or "")])


async def queue_notices(ctx: Ctx, record: dict[str, Any]) -> None:
    """Queue the confidential copies. Safe to run twice: deliveries are keyed by purpose."""
    ref = record["id"]
    copy = await recipient_view(ctx, record)
    for recipient in record["recipients"]:
        await ctx.outbox.send(f"{ref}:notice:{recipient}", recipient, copy)
    if record["recipients"] and not record["excluded"]:
        # The channel learns that a report exists, never what it says.
        urgent = "URGENT: someone may be in danger. " if record["urgent"] else ""
        notice = Reply(text=f"{urgent}A new confidential report, {ref}, has been sent to the report recipients by direct message.",
                       title=f"New report {ref}", tone="danger" if record["urgent"] else "info", private=False,
                       buttons=(Button("report.view", "Open report", ref),))
        await ctx.outbox.send(f"{ref}:channel", CLERK_CHANNEL, notice)
    # The reporter's reference, durable too (withdrawn when the immediate answer carries it).
    await ctx.receipt(f"{ref}:receipt", record["reporter"], receipt(ctx, record))
    await ctx.store.update("reports", ref, {"notices_queued": True})


async def recipient_view(ctx: Ctx, record: dict[str, Any]) -> Reply:
    ref = record["id"]
    fields = [
        Field("Reported by", ctx.people.name(record["reporter"])),
        Field("What happened", record["what"]),
        Field("Where", f"{record['platform']} {record['link']}".strip()),
        Field("When", record["when"]),
        Field("From", record["who"] or "not known"),
        Field("Status", status_text(record)),
        Field("Acknowledge by", ctx.human(record["due"])),
    ]
    if record["evidence"]:
        fields.append(Field("Evidence", "\n".join(record["evidence"])))
    for note in record["notes"]:
        fields.append(Field(f"Note by {ctx.people.name(note['by'])}, {ctx.human(note['at'])}", note["text"]))
    fields.extend(await kept_evidence.view_fields(ctx, record))
    if record["host_reported"]:
        fields.append(Field("Reported to the platform", record["host_reported"]))
    elif ctx.pack.reports.report_to_host:
        fields.append(Field("Policy", "Abusive posts are also reported to the host (e.g. Facebook) and to the Council "
                                      "for its records: use 'Reported to platform' once done."))
    buttons: list[Button] = []
    if record["status"] == "open":
        buttons.append(Button("report.ack", "Acknowledge", ref, "primary"))
    if record["status"] != "closed":
        buttons += [Button("report.note", "Add a note", ref), Button("report.host", "Reported to platform", ref),
                    Button("report.close", "Close", ref, "danger")]
    buttons += kept_evidence.view_buttons(record)
    title = f"{'URGENT ' if record['urgent'] else ''}Confidential report {ref}"
    text = "Someone may be in immediate danger: they have been told to call 999." if record["urgent"] else "Confidential: for the report recipients only."
    return Reply(text=text, title=title, tone="danger" if record["urgent"] else "info", fields=tuple(fields), buttons=tuple(buttons))


def status_text(record: dict[str, Any]) -> str:
    if record["status"] == "closed":
        return f"closed: {record['outcome']}"
    if record["status"] == "acknowledged":
        return "acknowledged"
    overdue = clock.now() > clock.parse(record["due"])
    return "open, OVERDUE for acknowledgement" if overdue else "open"


async def _load(ctx: Ctx, user: str, ref: str) -> dict[str, Any]:
    record = await ctx.store.get("reports", ref.strip().upper())
    if record is None or not can_see(ctx, user, record):
        # The same answer whether it does not exist or is not theirs: existence is confidential too.
        raise Refused(f"There is no report {ref.strip()} that you can see.")
    return record


def can_see(ctx: Ctx, user: str, record: dict[str, Any]) -> bool:
    return user == record["reporter"] or _is_recipient(ctx, user, record)


def _is_recipient(ctx: Ctx, user: str, record: dict[str, Any]) -> bool:
    """Named as a recipient when it was filed, not involved, and still in a role that reads reports
    (someone whose role the Clerk removed loses access)."""
    return user in record["recipients"] and user not in record["excluded"] and ctx.people.can(user, "read_reports")


async def as_recipient(ctx: Ctx, user: str, ref: str) -> dict[str, Any]:
    record = await _load(ctx, user, ref)
    if not _is_recipient(ctx, user, record):
        raise Refused("Only the report's recipients can do that.")
    return record


async def view(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    record = await _load(ctx, user, ref)
    if _is_recipient(ctx, user, record):
        await ctx.audit.record(user, "report.read", record["id"])
        return [await recipient_view(ctx, record)]
    return [Reply(text=f"Status: {reporter_status(ctx, record)}", title=f"Your report {record['id']}",
                  fields=(Field("Filed", ctx.human(record["created"])),))]


def reporter_status(ctx: Ctx, record: dict[str, Any]) -> str:
    """The status as its reporter reads it: who acknowledged or closed it, by role."""
    if record["status"] == "closed":
        return f"closed by {acted_as(ctx, record, 'closed')}: {record['outcome']}"
    if record["status"] == "acknowledged":
        return f"acknowledged by {acted_as(ctx, record, 'acknowledged')}"
    return status_text(record)


async def acknowledge(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    record = await as_recipient(ctx, user, ref)
    if record["status"] != "open":
        return [Reply(text=f"{record['id']} is already {record['status']}.")]
    # The reporter's notice is queued first: a crash before the status is saved leaves the report
    # open, and acknowledging again reuses the same notice rather than losing or doubling it.
    role = ctx.people.role(user)
    await ctx.outbox.send(f"{record['id']}:ack", record["reporter"], Reply(
        text=f"Your report {record['id']} has been acknowledged by {roles_of(ctx, [user])}. You will be told when it is closed.",
        title=f"Report {record['id']} acknowledged", tone="ok"))
    record = await ctx.store.update("reports", record["id"], {"status": "acknowledged", "acknowledged_at": clock.iso(clock.now()), "acknowledged_by": user,
                                                        "acknowledged_as": role.value if role else None})
    await ctx.audit.record(user, "report.acknowledged", record["id"])
    return [await recipient_view(ctx, record)]


async def add_note(ctx: Ctx, user: str, ref: str, text: str) -> list[Reply]:
    record = await as_recipient(ctx, user, ref)
    note = text_value({"note": text}, "note", label="the note", limit=3000)
    notes = [*record["notes"], {"by": user, "at": clock.iso(clock.now()), "text": note}]
    record = await ctx.store.update("reports", record["id"], {"notes": notes})
    await ctx.audit.record(user, "report.note", record["id"])
    return [await recipient_view(ctx, record)]


async def host_reported(ctx: Ctx, user: str, ref: str, detail: str) -> list[Reply]:
    record = await as_recipient(ctx, user, ref)
    detail = text_value({"detail": detail}, "detail", label="what was reported to the platform", limit=1000)
    record = await ctx.store.update("reports", record["id"], {"host_reported": f"{detail} ({ctx.human(clock.now())})"})
    await ctx.audit.record(user, "report.host_reported", record["id"])
    return [await recipient_view(ctx, record)]


async def close(ctx: Ctx, user: str, ref: str, outcome: str) -> list[Reply]:
    record = await as_recipient(ctx, user, ref)
    outcome = text_value({"outcome": outcome}, "outcome", label="the outcome", limit=2000)
    if record["status"] == "closed":
        return [Reply(text=f"{record['id']} was already closed: {record['outcome']}")]
    role = ctx.people.role(user)
    await ctx.outbox.send(f"{record['id']}:closed", record["reporter"], Reply(
        text=f"Your report {record['id']} has been closed by {roles_of(ctx, [user])}. Outcome: {outcome}",
        title=f"Report {record['id']} closed", tone="info"))
    record = await ctx.store.update("reports", record["id"], {"status": "closed", "closed_at": clock.iso(clock.now()), "outcome": outcome, "closed_by": user,
                                                        "closed_as": role.value if role else None})
    await ctx.audit.record(user, "report.closed", record["id"])
    return [await recipient_view(ctx, record)]


async def for_recipient(ctx: Ctx, user: str) -> list[dict[str, Any]]:
    if not ctx.people.can(user, "read_reports"):  # about the person, not the row: asked once
        return []
    return await ctx.store.find("reports", {"recipients": Has(user), "excluded": Lacks(user)}, order_by="created")


async def list_reply(ctx: Ctx, user: str) -> list[Reply]:
    mine = await ctx.store.find("reports", {"reporter": user}, order_by="created")
    theirs = [r for r in await for_recipient(ctx, user) if r["status"] != "closed"]
    fields = [Field(r["id"] + (" URGENT" if r["urgent"] else ""), f"{status_text(r)}; filed {ctx.human(r['created'])}") for r in theirs]
    fields += [Field(f"{r['id']} (yours)", reporter_status(ctx, r)) for r in mine if r not in theirs]
    if not fields:
        return [Reply(text="No reports to show.", title="Reports")]
    overdue = sum(1 for r in theirs if "OVERDUE" in status_text(r))
    text = f"{len(theirs)} open report(s) for you" + (f", {overdue} overdue for acknowledgement." if overdue else ".")
    return [Reply(text=text, title="Reports", fields=tuple(fields),
                  buttons=tuple(Button("report.view", f"Open {r['id']}", r["id"]) for r in theirs[:5]))]


async def remind_overdue(ctx: Ctx) -> int:
    """Remind recipients once a day about reports past their acknowledgement deadline."""
    today = clock.local_date(ctx.zone).isoformat()
    count = 0
    for record in await ctx.store.find("reports", {"status": "open", "due": Before(clock.now())}, order_by="created"):
        if clock.now() <= clock.parse(record["due"]) or record.get("reminded_on") == today:
            continue
        for recipient in [u for u in record["recipients"] if _is_recipient(ctx, u, record)]:
            await ctx.outbox.send(f"{record['id']}:overdue:{today}:{recipient}", recipient, Reply(
                text=f"Report {record['id']} has not been acknowledged and is past its deadline ({ctx.human(record['due'])}).",
                title=f"Overdue: report {record['id']}", tone="caution", buttons=(Button("report.view", "Open report", record["id"]),)))
        await ctx.store.update("reports", record["id"], {"reminded_on": today})
        count += 1
    return count


async def route_unrouted(ctx: Ctx) -> int:
    """A report filed while nobody could receive it goes to whoever can now (once the operator has
    set people up), and its reporter is told it has arrived. One about someone in the chain waits
    for the fallback (the Chair, set only in the config file), never for a person added from chat."""
    count = 0
    for record in await ctx.store.find("reports", {"status": Ne("closed"), "recipients": Falsy()}, order_by="created"):
        # Who the report involves is worked out again with the people set up now: "the Town Clerk"
        # in a report filed before there was a Clerk means the Clerk who has just been added.
        excluded = sorted(set(record["excluded"]) | set(involved(ctx, record.get("about") or "", record["who"], record["what"], record.get("link") or "")))
        if excluded:
            fallback = ctx.people.with_roles(ctx.pack.roles.report_fallback)
            recipients = [u for u in fallback if u not in excluded]
        else:
            recipients = route(ctx, [])
        if not recipients:
            if excluded != record["excluded"]:
                await ctx.store.update("reports", record["id"], {"excluded": excluded})
            continue
        record = await ctx.store.update("reports", record["id"], {"recipients": recipients, "excluded": excluded})
        await queue_notices(ctx, record)
        await ctx.outbox.send(f"{record['id']}:routed", record["reporter"], Reply(
            text=f"Your report {record['id']} has now reached {roles_of(ctx, recipients)}, in confidence.",
            title=f"Report {record['id']} delivered", tone="ok"))
        await ctx.audit.record("system", "report.routed", record["id"])
        count += 1
    return count


async def purge_closed(ctx: Ctx) -> int:
    """UK GDPR storage limitation: closed reports go after the pack's retention period; the purge is logged."""
    days = ctx.pack.reports.retention_days
    cutoff = clock.now() - timedelta(days=days)
    gone = 0
    for record in await ctx.store.find("reports", {"status": "closed", "closed_at": Before(cutoff)}):
        await ctx.store.delete("reports", record["id"])
        await ctx.outbox.forget(record["id"])  # the confidential copies go with the report
        await ctx.audit.record("system", "report.purged", record["id"], retention_days=days)
        gone += 1
    if gone:
        await kept_evidence.collect(ctx)  # their evidence files go with them
    return gone
