"""Suggested posts: checked first, then an approval card in the clerk channel that only the
approvers may act on; every decision is recorded once and the submitter is told."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from . import clock, elections
from .checker import CheckResult, Draft, check_many
from .context import RECEIPT_HOLD, Ctx, bool_value, insert_numbered, list_value, text_value
from .errors import BadInput, Refused
from .kinds import Verdict
from .people import REFUSALS
from .messages import Button, Field, Form, Input, Option, Reply, Tone
from .ports import CLERK_CHANNEL
from .storage.port import In
from .render import HEADLINE

DECIDED = {"approved", "rejected", "changes_requested"}
LIMITS = {
    "twitter": "{n}/280 characters{over}",
    "facebook": "{n} characters; fine for a Facebook post",
    "instagram": "needs an image or video{img}; the first 125 characters show before 'more'",
    "youtube": "needs a video{img}; this text becomes its description",
}


def form(ctx: Ctx, initial: dict[str, Any] | None = None, context: str = "") -> Form:
    initial = initial or {}
    return Form(
        name="suggest",
        title="Suggest a post",
        submit_label="Send to the Clerk",
        context=context,
        inputs=(
            Input("text", "The post", "multiline", max_length=5000, initial=initial.get("text", "")),
            Input("platforms", "Where should it go?", "multiselect",
                  options=tuple(Option(c.value, c.value.title()) for c in ctx.pack.channels),
                  initial=tuple(initial.get("platforms", ()))),
            Input("category", "What kind of post is it?", "select",
                  options=tuple(Option(c.id, c.label) for c in ctx.pack.categories), initial=initial.get("category", "")),
            Input("has_image", "It comes with a photo or video", "toggle", required=False),
        ),
    )


async def _checks(ctx: Ctx, text: str, platforms: list[str]) -> list[CheckResult]:
    """One check per platform, off the event loop (``Ctx.compute``)."""
    items = [(Draft(text, "council", p), ctx.pack) for p in platforms]
    period = await elections.period(ctx)  # read here, on the loop; only during a pre-election period
    return await ctx.compute(check_many, items, *([period] if period else []))


def _worst(results: list[CheckResult]) -> Verdict:
    return max((r.verdict for r in results), key=lambda v: v.rank, default=Verdict.OK)


def _findings(results: list[CheckResult]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        for f in r.findings:
            seen.setdefault((f.kind, f.evidence), {**f.to_dict(), "platform": r.platform})
    return list(seen.values())


async def submit(ctx: Ctx, user: str, values: dict[str, Any], revising: str = "") -> list[Reply]:
    ctx.people.require(user, "suggest")
    text = text_value(values, "text", label="the post", limit=5000)
    # Each platform costs a check: a form naming one thousands of times is checked once for it.
    platforms = list(dict.fromkeys(list_value(values, "platforms")))
    allowed = {c.value for c in ctx.pack.channels}
    if not platforms:
        raise BadInput("Choose at least one platform.", "platforms")
    unknown = [p for p in platforms if p not in allowed]
    if unknown:
        raise BadInput(f"{', '.join(unknown)} is not one of the council's channels ({', '.join(sorted(allowed))}).", "platforms")
    category = text_value(values, "category", label="the kind of post", limit=60)
    if category not in {c.id for c in ctx.pack.categories}:
        raise BadInput(f"Unknown kind of post {category!r}.", "category")
    results = await _checks(ctx, text, platforms)  # nothing is read for writing before this returns
    verdict = _worst(results)
    fields = {"text": text, "platforms": platforms, "category": category, "has_image": bool_value(values, "has_image"),
              "verdict": verdict.value, "findings": _findings(results)}
    if revising:
        record = await own(ctx, user, revising)
        if record["status"] not in {"changes_requested", "returned"}:
            raise Refused(f"{record['id']} is {record['status'].replace('_', ' ')} and cannot be revised now.")
        record = await ctx.store.update("suggestions", record["id"], {**fields, "version": record["version"] + 1})
        await ctx.audit.record(user, "suggestion.revised", record["id"])
    else:
        record = await insert_numbered(ctx, "suggestions", "S", {
            "submitter": user, "created": clock.iso(clock.now()), "version": 1, "decisions": [],
            "status": "new", "escalated_by": None, "notices_queued": False, **fields})
        await ctx.audit.record(user, "suggestion.submitted", record["id"], verdict=verdict.value)
    if verdict is Verdict.DO_NOT_POST:  # back to the author, who may revise or press "Ask the Clerk anyway"
        record = await ctx.store.update("suggestions", record["id"], {"status": "returned"})
        return [_returned(ctx, record)]
    return [await _to_clerk(ctx, record, forced=False)]


async def forward(ctx: Ctx, user: str, sid: str) -> list[Reply]:
    """The author asks the Clerk to look at a draft the checker would block."""
    record = await own(ctx, user, sid)
    if record["status"] != "returned":
        return [Reply(text=f"{record['id']} is already with the Clerk.")]
    await ctx.audit.record(user, "suggestion.forwarded", record["id"])
    return [await _to_clerk(ctx, record, forced=True)]


async def own(ctx: Ctx, user: str, sid: str) -> dict[str, Any]:
    record = await ctx.store.get("suggestions", sid.strip().upper())
    if record is None or record["submitter"] != user:
        raise Refused(f"There is no suggestion {sid.strip()} of yours.")
    return record


def _returned(ctx: Ctx, record: dict[str, Any]) -> Reply:
    fields = tuple(Field(f"{f['kind']} ({f['clause']})", f"\u201c{f['evidence']}\u201d \u2014 {f['fix']}") for f in record["findings"])
    return Reply(
        title=f"Not sent: {record['id']} would breach the policy",
        text="The checker found problems the policy does not allow on the council's pages. Revise the post, or ask the Clerk to look anyway.",
        tone="danger", fields=fields,
        buttons=(Button("suggestion.revise", "Revise", record["id"], "primary"),
                 Button("suggestion.forward", "Ask the Clerk anyway", record["id"])),
    )


async def _to_clerk(ctx: Ctx, record: dict[str, Any], forced: bool) -> Reply:
    record = await ctx.store.update("suggestions", record["id"], {"status": "pending", "forced": forced})
    await queue_card(ctx, record)
    sent = _sent(record)
    # The suggestion's number, durable too (withdrawn when the immediate answer carries it).
    await ctx.receipt(f"{record['id']}:receipt:v{record['version']}", record["submitter"], sent)
    return sent


def _sent(record: dict[str, Any]) -> Reply:
    return Reply(title=f"Suggestion {record['id']} sent to the Clerk",
                 text="You will be told when it is approved, sent back for changes or rejected."
                 + (" The checker's concerns travel with it." if record["findings"] else ""),
                 tone="ok", fields=(Field("Check", HEADLINE[Verdict(record["verdict"])]),))


def receipt(ctx: Ctx, record: dict[str, Any]) -> Reply | None:
    """The answer the submission first got, again, for the same form sent once more: returned by
    the checker, or sent to the Clerk (whatever has been decided since). None while half-submitted."""
    if record["status"] == "returned":
        return _returned(ctx, record)
    if record["status"] == "new":
        return None
    return _sent(record)


async def queue_card(ctx: Ctx, record: dict[str, Any]) -> None:
    await ctx.outbox.send(f"{record['id']}:card:v{record['version']}", CLERK_CHANNEL, await card(ctx, record), card=f"suggestion:{record['id']}")
    # The submitter's receipt is queued (held) here too, before ``notices_queued``: a process killed
    # after this function but before ``_to_clerk`` queued it would otherwise leave it out for good
    # (recovery only re-runs this), and a retried submission's answer then has no copy to keep.
    await ctx.outbox.send(f"{record['id']}:receipt:v{record['version']}", record["submitter"], _sent(record), hold=RECEIPT_HOLD)
    await ctx.store.update("suggestions", record["id"], {"notices_queued": True})


def previews(record: dict[str, Any]) -> list[Field]:
    n = len(record["text"])
    out = []
    for p in record["platforms"]:
        line = LIMITS.get(p, "{n} characters").format(
            n=n, over=" \u2014 TOO LONG, will be cut" if n > 280 else "",
            img="" if record.get("has_image") else " \u2014 none attached yet")
        out.append(Field(f"Preview: {p.title()}", line))
    return out


async def card(ctx: Ctx, record: dict[str, Any]) -> Reply:
    sid = record["id"]
    fields = [
        Field("Suggested by", ctx.people.name(record["submitter"])),
        Field("Post", record["text"]),
        Field("Platforms", ", ".join(p.title() for p in record["platforms"])),
        Field("Kind", ctx.pack.category_label(record["category"])),
        Field("Check", HEADLINE[Verdict(record["verdict"])] + (" (the author asked for a look anyway)" if record.get("forced") else "")),
    ]
    fields += [Field(f"Finding: {f['kind']} ({f['clause'] or 'platform'})", f"\u201c{f['evidence']}\u201d \u2014 {f['explanation']} Fix: {f['fix']}") for f in record["findings"]]
    fields += previews(record)
    banner = await elections.card_field(ctx)
    if banner is not None:
        fields.insert(0, banner)
    status = record["status"]
    buttons: tuple[Button, ...] = ()
    tone: Tone
    if status in DECIDED:
        last = record["decisions"][-1]
        text = (f"{status.replace('_', ' ').capitalize()} by {ctx.people.name(last['by'])} on {ctx.human(last['at'])}"
                + (f": {last['comment']}" if last.get("comment") else "."))
        tone = "ok" if status == "approved" else "caution"
    else:
        text = "Waiting for a decision." if status != "escalated" else (
            f"Escalated to the Chair of the Council by {ctx.people.name(record['escalated_by'])}; the Chair's decision is final.")
        tone = "info"
        buttons = (Button("suggestion.approve", "Approve", sid, "primary"),
                   Button("suggestion.changes", "Request changes", sid),
                   Button("suggestion.reject", "Reject", sid, "danger"))
        if ctx.pack.roles.escalation and status == "pending":
            buttons += (Button("suggestion.escalate", "Escalate to the Chair", sid),)
    return Reply(title=f"Suggested post {sid}", text=text, tone=tone, fields=tuple(fields), buttons=buttons,
                 private=False, footer=ctx.pack.approval_note)


def comment_form(action: str, sid: str) -> Form:
    label = {"changes": "What should change?", "reject": "Why is it rejected?", "escalate": "What do the moderators disagree on?"}[action]
    return Form(name="decision", title={"changes": "Request changes", "reject": "Reject", "escalate": "Escalate"}[action],
                inputs=(Input("comment", label, "multiline", max_length=2000),), context=f"{action}:{sid}", submit_label="Send")


async def decide(ctx: Ctx, user: str, sid: str, decision: str, comment: str = "") -> list[Reply]:
    record = await ctx.store.get("suggestions", sid.strip().upper())
    if record is None or record["status"] in {"new", "returned"}:
        raise Refused(f"There is no suggestion {sid.strip()} waiting for a decision.")
    if not (ctx.people.can(user, "approve") or ctx.people.can(user, "settle")):
        raise Refused(REFUSALS["approve"])
    if record["status"] in DECIDED:
        last = record["decisions"][-1]
        return [Reply(text=f"{record['id']} was already {record['status'].replace('_', ' ')} by {ctx.people.name(last['by'])} "
                      f"on {ctx.human(last['at'])}. Nothing has changed.", tone="info")]
    escalated = record["status"] == "escalated"
    if escalated:
        if not may_settle(ctx, user, record):
            raise Refused(f"{record['id']} has been escalated; only the Chair of the Council can decide it now.")
    elif not ctx.people.can(user, "approve"):
        raise Refused(REFUSALS["approve"])
    if record["submitter"] == user:
        raise Refused("You cannot decide on your own suggestion; another approver must.")
    if decision in {"changes", "reject"} and not comment.strip():
        raise BadInput("Please give a comment for the author.", "comment")
    status = {"approve": "approved", "changes": "changes_requested", "reject": "rejected"}[decision]
    entry = {"by": user, "at": clock.iso(clock.now()), "decision": status, "comment": comment.strip()[:2000], "final": escalated}
    decided = {**record, "status": status, "decisions": [*record["decisions"], entry]}
    # Notices first, keyed by the decision's number: a crash before the decision is saved loses nothing,
    # and deciding again afterwards reuses them.
    n = len(decided["decisions"])
    await ctx.outbox.update_card(f"{record['id']}:decided:{n}", f"suggestion:{record['id']}", await card(ctx, decided))
    await ctx.outbox.send(f"{record['id']}:told:{n}", record["submitter"], _told(ctx, decided, entry))
    record = await ctx.store.update("suggestions", record["id"], {"status": status, "decisions": decided["decisions"]})
    await ctx.audit.record(user, f"suggestion.{status}", record["id"])
    return [Reply(text=f"{record['id']} {status.replace('_', ' ')}. The author has been told.", tone="ok")]


def _told(ctx: Ctx, record: dict[str, Any], entry: dict[str, Any]) -> Reply:
    verb = {"approved": "approved", "changes_requested": "sent back for changes", "rejected": "rejected"}[entry["decision"]]
    text = f"Your suggested post {record['id']} was {verb} by {ctx.people.name(entry['by'])}."
    if entry["comment"]:
        text += f" Comment: {entry['comment']}"
    buttons = (Button("suggestion.revise", "Revise", record["id"], "primary"),) if entry["decision"] == "changes_requested" else ()
    return Reply(title=f"Suggestion {record['id']} {verb}", text=text, tone="ok" if verb == "approved" else "caution", buttons=buttons)


def may_settle(ctx: Ctx, user: str, record: dict[str, Any]) -> bool:
    """The Chair settles; if the Chair wrote the suggestion (and may not decide it), those the
    pack gives the final decision, and failing them the approvers, settle instead."""
    settlers = [u for u in ctx.people.with_roles(ctx.pack.roles.settle_disagreements) if u != record["submitter"]]
    if settlers:
        return user in settlers
    final = [u for u in ctx.people.with_roles(ctx.pack.roles.final_decision) if u != record["submitter"]]
    return user in final if final else ctx.people.can(user, "approve")


def _escalatable(record: dict[str, Any]) -> bool:
    if record["status"] == "pending":
        return True
    return record["status"] in DECIDED and not any(d.get("final") for d in record["decisions"])


async def escalate(ctx: Ctx, user: str, sid: str, comment: str) -> list[Reply]:
    """Castle Cary: moderators who disagree hand the decision to the Chair of the Council."""
    ctx.people.require(user, "escalate")
    record = await ctx.store.get("suggestions", sid.strip().upper())
    if record is None or not _escalatable(record):
        raise Refused("Only a suggestion waiting for a decision, or decided by a moderator and not yet by the Chair, can be escalated.")
    if not comment.strip():
        raise BadInput("Please say what the moderators disagree on.", "comment")
    # A decision already taken is kept in the record; the Chair's decision will be final.
    was_decided = record["status"] in DECIDED
    changes = {"status": "escalated", "escalated_by": user, "escalation_note": comment.strip()[:2000]}
    escalated = {**record, **changes}
    # Notices first (keyed by this round, as a suggestion can be escalated again after a revision),
    # then the status: a crash in between loses nothing, and escalating again reuses them.
    round_ = f"v{record['version']}.{len(record['decisions'])}"
    shown = await card(ctx, escalated)
    await ctx.outbox.update_card(f"{record['id']}:escalated:{round_}", f"suggestion:{record['id']}", shown)
    if was_decided:
        await ctx.outbox.send(f"{record['id']}:told-escalated:{round_}", record["submitter"], Reply(
            title=f"Suggestion {record['id']} referred to the Chair",
            text="The moderators disagree about your suggested post, so the Chair of the Council will decide; "
                 "the Chair's decision is final. Please wait for it before anything is published.", tone="caution"))
    for chair in ctx.people.with_roles(ctx.pack.roles.settle_disagreements):
        await ctx.outbox.send(f"{record['id']}:escalated:{round_}:{chair}", chair, Reply(
            title=f"Your decision is needed: {record['id']}",
            text=f"The moderators disagree about a suggested post; the policy gives the final say to the Chair of the Council. "
                 f"Note: {comment.strip()}", fields=shown.fields, buttons=shown.buttons))
    record = await ctx.store.update("suggestions", record["id"], changes)
    await ctx.audit.record(user, "suggestion.escalated", record["id"])
    return [Reply(text=f"{record['id']} escalated to the Chair of the Council.", tone="ok")]


async def pending(ctx: Ctx, user: str) -> list[Reply]:
    if not (ctx.people.can(user, "approve") or ctx.people.can(user, "settle")):
        raise Refused("Only approvers can list pending suggestions.")
    items = await ctx.store.find("suggestions", {"status": In(["pending", "escalated"])}, order_by="created")
    if not items:
        return [Reply(text="Nothing is waiting for a decision.", title="Pending suggestions")]
    return [await card(ctx, s) for s in items[:20]]


async def mine(ctx: Ctx, user: str) -> list[dict[str, Any]]:
    return await ctx.store.find("suggestions", {"submitter": user}, order_by="created")


EXPORT_COLUMNS = ("id", "approved_at", "approved_by", "platforms", "category", "text")


async def approved_rows(ctx: Ctx) -> list[dict[str, str]]:
    rows = []
    for s in await ctx.store.find("suggestions", {"status": "approved"}, order_by="created"):
        last = s["decisions"][-1]
        rows.append({"id": s["id"], "approved_at": last["at"], "approved_by": ctx.people.name(last["by"]),
                     "platforms": ",".join(s["platforms"]), "category": s["category"], "text": s["text"]})
    return rows


async def export(ctx: Ctx, fmt: str) -> str:
    rows = await approved_rows(ctx)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
