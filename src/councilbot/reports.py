"""Reports of threats, abuse and harassment: filed by anyone, delivered confidentially to the
report recipients (never to a person the report names), acknowledged within the pack's deadline,
and visible only to the reporter and the recipients."""

from __future__ import annotations

import logging
import re
from typing import Any

from . import clock
from . import evidence as kept_evidence
from .context import Ctx, bool_value, insert_numbered, list_value, text_value
from .errors import BadInput, Refused
from .kinds import Role
from .messages import Button, Field, Form, Input, Option, Reply
from .ports import CLERK_CHANNEL

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


def form(ctx: Ctx) -> Form:
    recipients = tuple(dict.fromkeys(ctx.pack.roles.receive_reports + ctx.pack.roles.report_fallback))
    return Form(
        name="report",
        title="Report threats or abuse",
        submit_label="Send to the Clerk",
        inputs=(
            Input("what", "What happened?", "multiline", max_length=5000,
                  placeholder="Describe the threats, abuse or harassment in your own words."),
            Input("platform", "Where did it happen?", "select", options=tuple(
                Option(value, label) for value, label in (("facebook", "Facebook"), ("twitter", "Twitter / X"), ("instagram", "Instagram"),
                                          ("youtube", "YouTube"), ("email", "Email"), ("in-person", "In person"), ("other", "Other")))),
            Input("link", "Link or description of where", required=False, max_length=1000),
            Input("when", "When did it happen?", placeholder="e.g. 24 Nov, about 9pm", max_length=200),
            Input("who", "Who was it from, if known?", required=False, max_length=500),
            Input("about", "Does it involve someone who would normally receive reports?", "select",
                  options=(Option("none", "No"), *(Option(r.value, ROLE_LABEL[r].capitalize()) for r in recipients))),
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


def _names_for(ctx: Ctx, user: str) -> list[str]:
    """Full names a person is known by (from the Clerk or the config, never a platform handle),
    without bracketed parts such as "(Town Clerk)"; single words are too common to route on."""
    out = []
    for raw in (ctx.people.given_name(user),):
        name = re.sub(r"\(.*?\)", "", raw or "").strip().lower()
        if len(name.split()) >= 2:
            out.append(name)
    return out


def involved(ctx: Ctx, about: str, who: str, what: str) -> list[str]:
    """The people in the report chain whom the report is about: by the form's answer, by a role
    named anywhere in it, or by their full name. They must not receive or see it."""
    chain = _chain(ctx)
    roles: set[Role] = {Role(about)} if about in {r.value for r in chain} else set()
    text = f"{who}\n{what}".lower()
    roles |= {role for role, pattern in _ROLE_WORDS.items() if role in chain and pattern.search(text)}
    people = set(ctx.people.with_roles(tuple(roles))) if roles else set()
    for user, role in ctx.people.everyone().items():
        if role in chain and any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text) for n in _names_for(ctx, user)):
            people.add(user)
    return sorted(people)


def route(ctx: Ctx, excluded: list[str]) -> list[str]:
    """A report goes to the usual recipients; one that involves any of them goes to the next in
    the pack's chain instead (Alsager and Castle Cary: the Chair of the Council). Never to anyone
    it involves; possibly to nobody, which the reporter is then told."""
    usual = [u for u in ctx.people.with_roles(ctx.pack.roles.receive_reports) if u not in excluded]
    fallback = [u for u in ctx.people.with_roles(ctx.pack.roles.report_fallback) if u not in excluded]
    return (fallback or usual) if excluded else (usual or fallback)


def file(ctx: Ctx, user: str, values: dict[str, Any]) -> list[Reply]:
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
    excluded = involved(ctx, about, who, what)
    recipients = route(ctx, excluded)
    files = kept_evidence.keep(ctx, user, kept_evidence.uploads_in(values))  # screenshots, checked and kept at once
    now = clock.now()
    due = clock.add_working_days(now, ctx.pack.reports.acknowledge_within_working_days)
    record: dict[str, Any] = {
        "reporter": user, "created": clock.iso(now), "status": "open", "urgent": danger,
        "what": what, "platform": platform, "link": link, "when": when, "who": who, "evidence": evidence,
        "recipients": recipients, "excluded": excluded, "about": about, "notes": [], "due": clock.iso(due),
        "acknowledged_at": None, "closed_at": None, "outcome": None, "host_reported": None,
        "notices_queued": False, "reminded_on": None, "files": files, "crime_ref": "", "platform_ref": "",
    }
    record = insert_numbered(ctx, "reports", "R", record)
    ref = str(record["id"])
    ctx.audit.record(user, "report.filed", ref, urgent=danger, routed_around=bool(excluded))
    queue_notices(ctx, record)
    if not recipients:
        log.warning("report has no recipient: add report recipients to the config", extra={"report": ref})
    return [receipt(ctx, record)]


def receipt(ctx: Ctx, record: dict[str, Any]) -> Reply:
    """What the reporter is told, from the record alone: the same words whether it is the first
    answer, the answer to the same form sent again, or the copy the outbox delivers after a crash."""
    ref, due, danger = str(record["id"]), record["due"], bool(record["urgent"])
    recipients, excluded = record["recipients"], record["excluded"]
    if not recipients:
        lines = [f"Your report {ref} has been recorded, but nobody who could receive it safely is set up in CouncilBot yet. "
                 f"Please also contact {ctx.pack.council} directly. The operator has been alerted."]
    elif excluded:
        to = sorted({ROLE_LABEL[r] for r in (ctx.people.role(u) for u in recipients) if r is not None})
        lines = [f"Your report {ref} has been sent in confidence to {' and '.join(to)}, because it involves someone "
                 "who would normally receive it; they cannot see it."]
    else:
        lines = [f"Your report {ref} has been sent to the Clerk in confidence."]
    if danger:
        lines.insert(0, DANGER_ADVICE)
    lines.append(f"It should be acknowledged by {clock.human(due)}. You will be told when it is acknowledged and when it is closed.")
    lines.append(EVIDENCE_ADVICE)
    return Reply(text="\n".join(lines), title=f"Report {ref} received", tone="danger" if danger else "ok",
                 fields=(Field("Reference", ref),))


def queue_notices(ctx: Ctx, record: dict[str, Any]) -> None:
    """Queue the confidential copies. Safe to run twice: deliveries are keyed by purpose."""
    ref = record["id"]
    copy = recipient_view(ctx, record)
    for recipient in record["recipients"]:
        ctx.outbox.send(f"{ref}:notice:{recipient}", recipient, copy)
    if record["recipients"] and not record["excluded"]:
        # The channel learns that a report exists, never what it says.
        urgent = "URGENT: someone may be in danger. " if record["urgent"] else ""
        notice = Reply(text=f"{urgent}A new confidential report, {ref}, has been sent to the report recipients by direct message.",
                       title=f"New report {ref}", tone="danger" if record["urgent"] else "info", private=False,
                       buttons=(Button("report.view", "Open report", ref),))
        ctx.outbox.send(f"{ref}:channel", CLERK_CHANNEL, notice)
    # The reporter's reference, durable too (withdrawn when the immediate answer carries it).
    ctx.receipt(f"{ref}:receipt", record["reporter"], receipt(ctx, record))
    ctx.store.update("reports", ref, {"notices_queued": True})


def recipient_view(ctx: Ctx, record: dict[str, Any]) -> Reply:
    ref = record["id"]
    fields = [
        Field("Reported by", ctx.people.name(record["reporter"])),
        Field("What happened", record["what"]),
        Field("Where", f"{record['platform']} {record['link']}".strip()),
        Field("When", record["when"]),
        Field("From", record["who"] or "not known"),
        Field("Status", status_text(record)),
        Field("Acknowledge by", clock.human(record["due"])),
    ]
    if record["evidence"]:
        fields.append(Field("Evidence", "\n".join(record["evidence"])))
    for note in record["notes"]:
        fields.append(Field(f"Note by {ctx.people.name(note['by'])}, {clock.human(note['at'])}", note["text"]))
    fields.extend(kept_evidence.view_fields(ctx, record))
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


def _load(ctx: Ctx, user: str, ref: str) -> dict[str, Any]:
    record = ctx.store.get("reports", ref.strip().upper())
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


def as_recipient(ctx: Ctx, user: str, ref: str) -> dict[str, Any]:
    record = _load(ctx, user, ref)
    if not _is_recipient(ctx, user, record):
        raise Refused("Only the report's recipients can do that.")
    return record


def view(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    record = _load(ctx, user, ref)
    if _is_recipient(ctx, user, record):
        ctx.audit.record(user, "report.read", record["id"])
        return [recipient_view(ctx, record)]
    return [Reply(text=f"Status: {status_text(record)}", title=f"Your report {record['id']}",
                  fields=(Field("Filed", clock.human(record["created"])),))]


def acknowledge(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    record = as_recipient(ctx, user, ref)
    if record["status"] != "open":
        return [Reply(text=f"{record['id']} is already {record['status']}.")]
    # The reporter's notice is queued first: a crash before the status is saved leaves the report
    # open, and acknowledging again reuses the same notice rather than losing or doubling it.
    ctx.outbox.send(f"{record['id']}:ack", record["reporter"], Reply(
        text=f"Your report {record['id']} has been acknowledged by the Clerk's office. You will be told when it is closed.",
        title=f"Report {record['id']} acknowledged", tone="ok"))
    record = ctx.store.update("reports", record["id"], {"status": "acknowledged", "acknowledged_at": clock.iso(clock.now()), "acknowledged_by": user})
    ctx.audit.record(user, "report.acknowledged", record["id"])
    return [recipient_view(ctx, record)]


def add_note(ctx: Ctx, user: str, ref: str, text: str) -> list[Reply]:
    record = as_recipient(ctx, user, ref)
    note = text_value({"note": text}, "note", label="the note", limit=3000)
    notes = [*record["notes"], {"by": user, "at": clock.iso(clock.now()), "text": note}]
    record = ctx.store.update("reports", record["id"], {"notes": notes})
    ctx.audit.record(user, "report.note", record["id"])
    return [recipient_view(ctx, record)]


def host_reported(ctx: Ctx, user: str, ref: str, detail: str) -> list[Reply]:
    record = as_recipient(ctx, user, ref)
    detail = text_value({"detail": detail}, "detail", label="what was reported to the platform", limit=1000)
    record = ctx.store.update("reports", record["id"], {"host_reported": f"{detail} ({clock.human(clock.now())})"})
    ctx.audit.record(user, "report.host_reported", record["id"])
    return [recipient_view(ctx, record)]


def close(ctx: Ctx, user: str, ref: str, outcome: str) -> list[Reply]:
    record = as_recipient(ctx, user, ref)
    outcome = text_value({"outcome": outcome}, "outcome", label="the outcome", limit=2000)
    if record["status"] == "closed":
        return [Reply(text=f"{record['id']} was already closed: {record['outcome']}")]
    ctx.outbox.send(f"{record['id']}:closed", record["reporter"], Reply(
        text=f"Your report {record['id']} has been closed. Outcome: {outcome}",
        title=f"Report {record['id']} closed", tone="info"))
    record = ctx.store.update("reports", record["id"], {"status": "closed", "closed_at": clock.iso(clock.now()), "outcome": outcome, "closed_by": user})
    ctx.audit.record(user, "report.closed", record["id"])
    return [recipient_view(ctx, record)]


def for_recipient(ctx: Ctx, user: str) -> list[dict[str, Any]]:
    return sorted(ctx.store.find("reports", lambda r: _is_recipient(ctx, user, r)), key=lambda r: r["created"])


def list_reply(ctx: Ctx, user: str) -> list[Reply]:
    mine = ctx.store.find("reports", lambda r: r["reporter"] == user)
    theirs = [r for r in for_recipient(ctx, user) if r["status"] != "closed"]
    fields = [Field(r["id"] + (" URGENT" if r["urgent"] else ""), f"{status_text(r)}; filed {clock.human(r['created'])}") for r in theirs]
    fields += [Field(f"{r['id']} (yours)", status_text(r)) for r in mine if r not in theirs]
    if not fields:
        return [Reply(text="No reports to show.", title="Reports")]
    overdue = sum(1 for r in theirs if "OVERDUE" in status_text(r))
    text = f"{len(theirs)} open report(s) for you" + (f", {overdue} overdue for acknowledgement." if overdue else ".")
    return [Reply(text=text, title="Reports", fields=tuple(fields),
                  buttons=tuple(Button("report.view", f"Open {r['id']}", r["id"]) for r in theirs[:5]))]


def remind_overdue(ctx: Ctx) -> int:
    """Remind recipients once a day about reports past their acknowledgement deadline."""
    today = clock.today().isoformat()
    count = 0
    for record in ctx.store.find("reports", lambda r: r["status"] == "open"):
        if clock.now() <= clock.parse(record["due"]) or record.get("reminded_on") == today:
            continue
        for recipient in [u for u in record["recipients"] if _is_recipient(ctx, u, record)]:
            ctx.outbox.send(f"{record['id']}:overdue:{today}:{recipient}", recipient, Reply(
                text=f"Report {record['id']} has not been acknowledged and is past its deadline ({clock.human(record['due'])}).",
                title=f"Overdue: report {record['id']}", tone="caution", buttons=(Button("report.view", "Open report", record["id"]),)))
        ctx.store.update("reports", record["id"], {"reminded_on": today})
        count += 1
    return count


def route_unrouted(ctx: Ctx) -> int:
    """A report filed while nobody could receive it goes to whoever can now (once the operator has
    set people up), and its reporter is told it has arrived. One about someone in the chain waits
    for the fallback (the Chair, set only in the config file), never for a person added from chat."""
    count = 0
    for record in ctx.store.find("reports", lambda r: r["status"] != "closed" and not r["recipients"]):
        # Who the report involves is worked out again with the people set up now: "the Town Clerk"
        # in a report filed before there was a Clerk means the Clerk who has just been added.
        excluded = sorted(set(record["excluded"]) | set(involved(ctx, record.get("about") or "", record["who"], record["what"])))
        if excluded:
            fallback = ctx.people.with_roles(ctx.pack.roles.report_fallback)
            recipients = [u for u in fallback if u not in excluded]
        else:
            recipients = route(ctx, [])
        if not recipients:
            if excluded != record["excluded"]:
                ctx.store.update("reports", record["id"], {"excluded": excluded})
            continue
        record = ctx.store.update("reports", record["id"], {"recipients": recipients, "excluded": excluded})
        queue_notices(ctx, record)
        ctx.outbox.send(f"{record['id']}:routed", record["reporter"], Reply(
            text=f"Your report {record['id']} has now reached the people who receive reports, in confidence.",
            title=f"Report {record['id']} delivered", tone="ok"))
        ctx.audit.record("system", "report.routed", record["id"])
        count += 1
    return count


def purge_closed(ctx: Ctx) -> int:
    """UK GDPR storage limitation: closed reports go after the pack's retention period; the purge is logged."""
    days = ctx.pack.reports.retention_days
    cutoff = clock.now().timestamp() - days * 86400
    gone = 0
    for record in ctx.store.find("reports", lambda r: r["status"] == "closed" and bool(r.get("closed_at"))):
        if clock.parse(record["closed_at"]).timestamp() < cutoff:
            ctx.store.delete("reports", record["id"])
            ctx.outbox.forget(record["id"])  # the confidential copies go with the report
            ctx.audit.record("system", "report.purged", record["id"], retention_days=days)
            gone += 1
    if gone:
        kept_evidence.collect(ctx)  # their evidence files go with them
    return gone
