"""UK GDPR duties for what CouncilBot holds: subject access (everything about a person, with
other people redacted the same way in every record, and what is withheld kept apart for the
operator) and erasure (never of a case still being dealt with, unless the operator says so). Both
are logged in the audit log."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bundle, evidence, extensions
from .storage.port import Ne
from .context import Ctx
from .people import bare_name

PERSON_FIELDS = {"reporter", "recipients", "excluded", "submitter", "author", "flagged_by", "moderator", "by", "actor",
                 "to", "acknowledged_by", "closed_by", "escalated_by", "subject", "user"}
CORE_TABLES = ("people", "names", "reports", "suggestions", "flags", "moderation", "audit", "outbox", "drafts")


def tables() -> tuple[str, ...]:
    """The core's tables and those adapters registered as holding personal data."""
    return CORE_TABLES + tuple(t for t in extensions.PERSONAL_TABLES if t not in CORE_TABLES)


REDACTED = "[another person]"


class Redactor:
    """Takes every other person out of what a person is given, the same way in every table (a
    report, the outbox copy of it, its audit entries, a card): their identifiers wherever they
    appear, in a person field or inside a longer string (an outbox key), and every name the bot
    knows them by or may have shown for them ("Reported by: Ann Hughes", "Note by Sam Okafor")."""

    def __init__(self, ctx: Ctx, person: str, rows: list[dict[str, Any]], seen: set[str]) -> None:
        """``seen``: everyone a platform has told the bot a name for (the "names" table)."""
        people = ctx.people
        others = set(people.everyone()) | set(people.named()) | seen
        others |= {v for row in rows for v in _person_values(row)}
        others.discard(person)
        own = {n.lower() for n in _renderings(ctx, person)}
        names = {n for other in others for n in _renderings(ctx, other) if n.lower() not in own}
        self.person = person
        self._ids = _alternation(others, r"(?<!\w)", r"(?![\w-])", 0)
        self._names = _alternation(names, r"(?<!\w)", r"(?!\w)", re.I)

    def __call__(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v, key) for v in value]
        if not isinstance(value, str) or value == self.person:
            return value
        if key in PERSON_FIELDS and ":" in value:
            return REDACTED
        for pattern in (self._ids, self._names):
            if pattern is not None:
                value = pattern.sub(REDACTED, value)
        return value


def _person_values(value: Any, key: str = "") -> set[str]:
    if isinstance(value, dict):
        return {v for k, item in value.items() for v in _person_values(item, k)}
    if isinstance(value, list):
        return {v for item in value for v in _person_values(item, key)}
    return {value} if isinstance(value, str) and key in PERSON_FIELDS and ":" in value else set()


def _renderings(ctx: Ctx, user: str) -> set[str]:
    """Every way the bot may have written this person's name: as shown on cards (which falls back
    to the end of their id), as the Clerk or the config gave it, without "(Town Clerk)" or "Cllr"."""
    out = set()
    for name in (ctx.people.name(user), ctx.people.given_name(user)):
        out.add(name.strip())
        bare = bare_name(name)
        out.add(bare)
        out.add(re.sub(r"^(?:cllr|councillor)\.?\s+", "", bare, flags=re.I))
    return {n for n in out if len(n) >= 3}


def _alternation(words: set[str], before: str, after: str, flags: int) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))  # longest first
    return re.compile(f"{before}(?:{body}){after}", flags)


def _tied_to(value: Any, refs: set[str]) -> bool:
    """Part of one of these records: the record itself, or a row that names it (an outbox copy
    keyed ``R-2026-0003:notice:…``, an audit entry about it)."""
    if isinstance(value, str):
        return value in refs or value.split(":", 1)[0] in refs or value.split("@", 1)[0] in refs
    if isinstance(value, dict):
        return any(_tied_to(v, refs) for v in value.values())
    if isinstance(value, list):
        return any(_tied_to(v, refs) for v in value)
    return False


@dataclass
class SubjectAccess:
    """``export`` is for the person; ``withheld`` is for the operator's review only and must never
    reach them: it lists, in full, what was kept back and why."""

    export: dict[str, list[dict[str, Any]]]
    withheld: list[dict[str, Any]]


async def subject_access(ctx: Ctx, person: str, actor: str = "operator") -> SubjectAccess:
    found: dict[str, list[dict[str, Any]]] = {}
    for table in tables():
        rows = await ctx.store.find(table, mentions=person)
        own = await ctx.store.get(table, person)  # a record whose id is the person (their name, their role)
        found[table] = rows + ([own] if own is not None and own not in rows else [])
    # A report about this person is not theirs to read, nor is the fact that it exists: it stays
    # with its recipients, to be considered by hand under the exemptions for third-party data and
    # crime prevention, and so does every copy or log entry tied to it.
    about = {d["id"] for d in found["reports"] if person in d.get("excluded", ()) and d.get("reporter") != person}
    withheld: list[dict[str, Any]] = []
    kept: dict[str, list[dict[str, Any]]] = {}
    for table, rows in found.items():
        for row in rows:
            if about and _tied_to(row, about):
                reason = "a report about this person" if row["id"] in about else "tied to a report about this person"
                withheld.append({"table": table, "id": row["id"], "reason": reason, "record": row})
            else:
                kept.setdefault(table, []).append(row)
    seen = {str(d["id"]) for d in await ctx.store.find("names")}
    redact = Redactor(ctx, person, [row for rows in kept.values() for row in rows], seen)
    await ctx.audit.record(actor, "person.exported", person)
    return SubjectAccess({table: [redact(row) for row in rows] for table, rows in kept.items()}, withheld)


async def export_person(ctx: Ctx, person: str, actor: str = "operator") -> dict[str, list[dict[str, Any]]]:
    """What the person is given (see ``subject_access`` for what is withheld)."""
    return (await subject_access(ctx, person, actor)).export


REVIEW_NOTE = ("NOT FOR THE DATA SUBJECT. These records were kept out of their subject access export: a report "
               "about them, and what is tied to it. Consider each by hand (the exemptions for other people's data "
               "and for the prevention of crime), with the Chair or whoever receives reports about them.")


def review_path(out: Path) -> Path:
    """Where what is withheld goes, beside the export and plainly named: ``sar.json`` →
    ``sar.withheld-for-review.json``."""
    return out.with_name(f"{out.stem if out.suffix == '.json' else out.name}.withheld-for-review.json")


def write_private(path: Path, data: Any) -> None:
    """JSON readable by the operator's account only: both files hold other people's data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.chmod(path, 0o600)
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def write_subject_access(result: SubjectAccess, person: str, out: Path) -> Path | None:
    """The export to ``out``; what is withheld, if anything, to its review file (returned)."""
    write_private(out, result.export)
    if not result.withheld:
        return None
    review = review_path(out)
    write_private(review, {"note": REVIEW_NOTE, "person": person, "export_file": out.name, "withheld": result.withheld})
    return review


class OpenCases(Exception):
    """Erasure refused: these cases involving the person are still being dealt with."""

    def __init__(self, refs: list[str]) -> None:
        super().__init__(f"{len(refs)} open case(s): {', '.join(refs)}")
        self.refs = refs


async def open_cases(ctx: Ctx, person: str) -> list[str]:
    """Reports not yet closed that involve the person in any way: filed by them, about them, sent
    to them, acted on by them."""
    return sorted(d["id"] for d in await ctx.store.find("reports", {"status": Ne("closed")}, mentions=person))


async def erase_person(ctx: Ctx, person: str, actor: str = "operator", include_open: bool = False) -> dict[str, int]:
    """Remove what is theirs; where a record is also someone else's (a report naming them as a
    recipient), take their identifier out of it instead. A case someone is still dealing with is
    not erased from under them: ``OpenCases`` unless ``include_open``."""
    still_open = await open_cases(ctx, person)
    if still_open and not include_open:
        raise OpenCases(still_open)
    counts: dict[str, int] = {}
    own = {"reports": "reporter", "suggestions": "submitter", "flags": "author", "drafts": "user",
           "names": "id", **extensions.PERSONAL_TABLES}
    for table, field in own.items():
        for doc in await ctx.store.find(table, {field: person}):
            await ctx.store.delete(table, doc["id"])
            await ctx.outbox.forget(doc["id"])  # the copies sent about it (a report's notices, a card) go too
            counts[table] = counts.get(table, 0) + 1
    await ctx.store.delete("people", person)
    await ctx.store.delete_where("outbox", {"to": person, "status": "pending"})
    for table in ("reports", "suggestions", "flags", "moderation", "audit", "outbox"):
        for doc in await ctx.store.find(table, mentions=person):
            await ctx.store.update(table, doc["id"], _scrub(doc, person))
            counts[f"{table} (identifier removed)"] = counts.get(f"{table} (identifier removed)", 0) + 1
    removed = await evidence.collect(ctx)  # evidence files of the reports erased go with them
    if removed:
        counts["evidence files"] = removed
    unsent = await bundle.sweep(ctx, older_than=float("-inf"))  # every bundle made for chat and not yet fetched: it may copy them
    if unsent:
        counts["evidence bundles not yet fetched"] = unsent
    await ctx.audit.record(actor, "person.erased", "erased-person")
    return counts


def _scrub(value: Any, person: str) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, person) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, person) for v in value]
    return "[erased]" if value == person else value
