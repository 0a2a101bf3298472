"""UK GDPR duties for what CouncilBot holds: subject access (everything about a person, with
other people's identifiers redacted) and erasure. Both are logged in the audit log."""

from __future__ import annotations

from typing import Any, Callable

from . import evidence
from .context import Ctx

PERSON_FIELDS = {"reporter", "recipients", "excluded", "submitter", "author", "flagged_by", "moderator", "by", "actor",
                 "to", "acknowledged_by", "closed_by", "escalated_by", "subject", "user"}
TABLES = ("people", "names", "reports", "suggestions", "flags", "moderation", "audit", "outbox", "drafts",
          "teams-references")


def _owned_by(field: str, person: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: doc.get(field) == person


def _mentions(value: Any, person: str) -> bool:
    if isinstance(value, str):
        return value == person
    if isinstance(value, dict):
        return any(_mentions(v, person) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, person) for v in value)
    return False


def _redact(value: Any, person: str, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, person, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, person, key) for v in value]
    if isinstance(value, str) and key in PERSON_FIELDS and value != person and ":" in value:
        return "[another person]"
    return value


def export_person(ctx: Ctx, person: str, actor: str = "operator") -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        found = ctx.store.find(table, lambda d: _mentions(d, person) or d.get("id") == person)
        # A report about this person is not theirs to read: it stays with its recipients, to be
        # considered by hand under the exemptions for third-party data and crime prevention.
        withheld = [d["id"] for d in found if table == "reports" and person in d.get("excluded", ())]
        rows = [_redact(d, person) for d in found if d["id"] not in withheld]
        if withheld:
            out.setdefault("withheld_for_manual_review", []).extend({"table": table, "id": i} for i in withheld)
        if rows:
            out[table] = rows
    ctx.audit.record(actor, "person.exported", person)
    return out


def erase_person(ctx: Ctx, person: str, actor: str = "operator") -> dict[str, int]:
    """Remove what is theirs; where a record is also someone else's (a report naming them as a
    recipient), take their identifier out of it instead."""
    counts: dict[str, int] = {}
    own = {"reports": "reporter", "suggestions": "submitter", "flags": "author", "drafts": "user",
           "names": "id", "teams-references": "person"}
    for table, field in own.items():
        for doc in ctx.store.find(table, _owned_by(field, person)):
            ctx.store.delete(table, doc["id"])
            ctx.outbox.forget(doc["id"])  # the copies sent about it (a report's notices, a card) go too
            counts[table] = counts.get(table, 0) + 1
    ctx.store.delete("people", person)
    for doc in ctx.store.find("outbox", lambda d: d.get("to") == person and d["status"] == "pending"):
        ctx.store.delete("outbox", doc["id"])
    for table in ("reports", "suggestions", "flags", "moderation", "audit", "outbox"):
        for doc in ctx.store.find(table, lambda d: _mentions(d, person)):
            ctx.store.update(table, doc["id"], _scrub(doc, person))
            counts[f"{table} (identifier removed)"] = counts.get(f"{table} (identifier removed)", 0) + 1
    removed = evidence.collect(ctx)  # evidence files of the reports erased go with them
    if removed:
        counts["evidence files"] = removed
    ctx.audit.record(actor, "person.erased", "erased-person")
    return counts


def _scrub(value: Any, person: str) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, person) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, person) for v in value]
    return "[erased]" if value == person else value
