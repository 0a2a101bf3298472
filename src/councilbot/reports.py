"""Reports of threats, abuse and harassment: filed by anyone, delivered confidentially to the
report recipients (never to a person the report names), acknowledged within the pack's deadline,
and visible only to the reporter and the recipients."""

from __future__ import annotations

import re
from typing import Any

from . import clock
from .context import BadInput, Ctx, Refused, bool_value, list_value, reference, text_value
from .kinds import Role
from .messages import Button, Field, Form, Input, Option, Reply
from .ports import CLERK_CHANNEL

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
    recipients = ctx.pack.roles.receive_reports
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
            Input("about", "Does it involve someone who would normally receive reports?", "select", required=False,
                  options=(Option("none", "No"), *(Option(r.value, ROLE_LABEL[r].capitalize()) for r in recipients))),
            Input("danger", "Is anyone in immediate danger?", "toggle", required=False),
            Input("evidence", "Links to evidence (one per line)", "urls", required=False, max_length=3000),
        ),
    )


_ROLE_WORDS = {
    Role.CLERK: re.compile(r"(?<!deputy )(?<!assistant )(?<!deputy town )(?<!assistant town )\b(?:town )?clerk\b"),
    Role.DEPUTY_CLERK: re.compile(r"\bdeputy (?:town )?clerk\b"),
    Role.ASSISTANT_CLERK: re.compile(r"\bassistant (?:town )?clerk\b"),
    Role.CHAIR: re.compile(r"\bchair(?:man|woman)? of the council\b"),
}


def _named_roles(ctx: Ctx, values: dict[str, Any], who: str, what: str) -> set[Role]:
    """Which usual recipients the report is about, so it can go round them: the form's answer,
    the role named in 'who', or a recipient's own name."""
    usual = set(ctx.pack.roles.receive_reports)
    named: set[Role] = set()
    about = values.get("about")
    if isinstance(about, str) and about in {r.value for r in usual}:
        named.add(Role(about))
    who_text = who.lower()
    for role, pattern in _ROLE_WORDS.items():
        if role in usual and pattern.search(who_text):
            named.add(role)
    text = f"{who}\n{what}".lower()
    for user, role in ctx.people.everyone().items():
        name = ctx.people.name(user, "").lower()
        if role in usual and len(name) > 2 and re.search(rf"\b{re.escape(name)}\b", text):
            named.add(role)
    return named


def route(ctx: Ctx, named: set[Role]) -> tuple[list[str], list[str]]:
    """Recipients, and the people left out because the report names them. A report about a usual
    recipient goes to the next in the pack's chain instead (Alsager and Castle Cary: the Chair)."""
    excluded = ctx.people.with_roles(tuple(named)) if named else []
    usual = [u for u in ctx.people.with_roles(ctx.pack.roles.receive_reports) if u not in excluded]
    fallback = [u for u in ctx.people.with_roles(ctx.pack.roles.report_fallback) if u not in excluded]
    if named:
        return (fallback or usual), excluded
    return (usual or fallback), excluded


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
    named = _named_roles(ctx, dict(values), who, what)
    recipients, excluded = route(ctx, named)
    ref = reference(ctx, "R")
    now = clock.now()
    due = clock.add_working_days(now, ctx.pack.reports.acknowledge_within_working_days)
    record = {
        "id": ref, "reporter": user, "created": clock.iso(now), "status": "open", "urgent": danger,
        "what": what, "platform": platform, "link": link, "when": when, "who": who, "evidence": evidence,
        "recipients": recipients, "excluded": excluded, "notes": [], "due": clock.iso(due),
        "acknowledged_at": None, "closed_at": None, "outcome": None, "host_reported": None,
        "notices_queued": False, "reminded_on": None,
    }
    ctx.store.insert("reports", record)
    ctx.audit.record(user, "report.filed", ref, urgent=danger, routed_around=sorted(r.value for r in named))
    queue_notices(ctx, record)
    lines = [f"Your report {ref} has been sent to the Clerk in confidence."]
    if named:
        lines = [f"Your report {ref} has been sent in confidence to {ROLE_LABEL[ctx.pack.roles.report_fallback[0]]}, "
                 "because it involves someone who would normally receive it; they cannot see it."]
    if danger:
        lines.insert(0, DANGER_ADVICE)
    lines.append(f"It should be acknowledged by {clock.human(due)}. You will be told when it is acknowledged and when it is closed.")
    lines.append(EVIDENCE_ADVICE)
    return [Reply(text="\n".join(lines), title=f"Report {ref} received", tone="danger" if danger else "ok",
                  fields=(Field("Reference", ref),))]


def queue_notices(ctx: Ctx, record: dict[str, Any]) -> None:
    """Queue the confidential copies. Safe to run twice: deliveries are keyed by purpose."""
    ref = record["id"]
    copy = recipient_view(ctx, record)
    for recipient in record["recipients"]:
        ctx.outbox.send(f"{ref}:notice:{recipient}", recipient, copy)
    if not record["excluded"]:
        # The channel learns that a report exists, never what it says.
        urgent = "URGENT: someone may be in danger. " if record["urgent"] else ""
        notice = Reply(text=f"{urgent}A new confidential report, {ref}, has been sent to the report recipients by direct message.",
                       title=f"New report {ref}", tone="danger" if record["urgent"] else "info", private=False,
                       buttons=(Button("report.view", "Open report", ref),))
        ctx.outbox.send(f"{ref}:channel", CLERK_CHANNEL, notice)
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
    if record["host_reported"]:
        fields.append(Field("Reported to the platform", record["host_reported"]))
    buttons: list[Button] = []
    if record["status"] == "open":
        buttons.append(Button("report.ack", "Acknowledge", ref, "primary"))
    if record["status"] != "closed":
        buttons += [Button("report.note", "Add a note", ref), Button("report.host", "Reported to platform", ref),
                    Button("report.close", "Close", ref, "danger")]
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
    return user == record["reporter"] or (user in record["recipients"] and user not in record["excluded"])


def _as_recipient(ctx: Ctx, user: str, ref: str) -> dict[str, Any]:
    record = _load(ctx, user, ref)
    if user not in record["recipients"]:
        raise Refused("Only the report's recipients can do that.")
    return record


def view(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    record = _load(ctx, user, ref)
    if user in record["recipients"]:
        ctx.audit.record(user, "report.read", record["id"])
        return [recipient_view(ctx, record)]
    return [Reply(text=f"Status: {status_text(record)}", title=f"Your report {record['id']}",
                  fields=(Field("Filed", clock.human(record["created"])),))]


def acknowledge(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    record = _as_recipient(ctx, user, ref)
    if record["status"] != "open":
        return [Reply(text=f"{record['id']} is already {record['status']}.")]
    record = ctx.store.update("reports", record["id"], {"status": "acknowledged", "acknowledged_at": clock.iso(clock.now()), "acknowledged_by": user})
    ctx.audit.record(user, "report.acknowledged", record["id"])
    ctx.outbox.send(f"{record['id']}:ack", record["reporter"], Reply(
        text=f"Your report {record['id']} has been acknowledged by the Clerk's office. You will be told when it is closed.",
        title=f"Report {record['id']} acknowledged", tone="ok"))
    return [recipient_view(ctx, record)]


def add_note(ctx: Ctx, user: str, ref: str, text: str) -> list[Reply]:
    record = _as_recipient(ctx, user, ref)
    note = text_value({"note": text}, "note", label="the note", limit=3000)
    notes = [*record["notes"], {"by": user, "at": clock.iso(clock.now()), "text": note}]
    record = ctx.store.update("reports", record["id"], {"notes": notes})
    ctx.audit.record(user, "report.note", record["id"])
    return [recipient_view(ctx, record)]


def host_reported(ctx: Ctx, user: str, ref: str, detail: str) -> list[Reply]:
    record = _as_recipient(ctx, user, ref)
    detail = text_value({"detail": detail}, "detail", label="what was reported to the platform", limit=1000)
    record = ctx.store.update("reports", record["id"], {"host_reported": f"{detail} ({clock.human(clock.now())})"})
    ctx.audit.record(user, "report.host_reported", record["id"])
    return [recipient_view(ctx, record)]


def close(ctx: Ctx, user: str, ref: str, outcome: str) -> list[Reply]:
    record = _as_recipient(ctx, user, ref)
    outcome = text_value({"outcome": outcome}, "outcome", label="the outcome", limit=2000)
    if record["status"] == "closed":
        return [Reply(text=f"{record['id']} was already closed: {record['outcome']}")]
    record = ctx.store.update("reports", record["id"], {"status": "closed", "closed_at": clock.iso(clock.now()), "outcome": outcome, "closed_by": user})
    ctx.audit.record(user, "report.closed", record["id"])
    ctx.outbox.send(f"{record['id']}:closed", record["reporter"], Reply(
        text=f"Your report {record['id']} has been closed. Outcome: {outcome}",
        title=f"Report {record['id']} closed", tone="info"))
    return [recipient_view(ctx, record)]


def for_recipient(ctx: Ctx, user: str) -> list[dict[str, Any]]:
    return sorted(ctx.store.find("reports", lambda r: user in r["recipients"] and user not in r["excluded"]), key=lambda r: r["created"])


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
        for recipient in record["recipients"]:
            ctx.outbox.send(f"{record['id']}:overdue:{today}:{recipient}", recipient, Reply(
                text=f"Report {record['id']} has not been acknowledged and is past its deadline ({clock.human(record['due'])}).",
                title=f"Overdue: report {record['id']}", tone="caution", buttons=(Button("report.view", "Open report", record["id"]),)))
        ctx.store.update("reports", record["id"], {"reminded_on": today})
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
    return gone
