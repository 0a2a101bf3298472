"""Code of Conduct reminders: a flagged personal post earns its author a private, respectful
reminder of the duties that apply, naming the clauses the checker found."""

from __future__ import annotations

import re
from typing import Any

from . import clock
from .checker import Draft, check
from .context import Ctx, insert_numbered, text_value
from .errors import BadInput
from .messages import Field, Form, Input, Reply


def form(author: str = "", text: str = "", link: str = "") -> Form:
    return Form(name="flag", title="Flag for Code of Conduct", submit_label="Send reminder", inputs=(
        Input("author", "Whose post is it? (their name as in the people list, or their chat id, e.g. slack:U123)",
              initial=author, max_length=200),
        Input("text", "The post (paste it)", "multiline", initial=text, max_length=10000),
        Input("link", "Link to the post", required=False, max_length=1000, initial=link),
        Input("note", "A note for the author", "multiline", required=False, max_length=2000),
    ))


async def flag(ctx: Ctx, user: str, values: dict[str, Any]) -> list[Reply]:
    ctx.people.require(user, "flag")
    author = person_named(ctx, text_value(values, "author", label="whose post it is", limit=200))
    if author == user:
        raise BadInput("You cannot flag your own post; run /checkpost on it instead.", "author")
    text = text_value(values, "text", required=False, limit=10000)
    link = text_value(values, "link", required=False, limit=1000)
    note = text_value(values, "note", required=False, limit=2000)
    if not text and not link:
        raise BadInput("Paste the post or give a link to it.", "text")
    draft = Draft(text, "personal", "facebook", role=_role(ctx, author))
    result = await ctx.compute(check, draft, ctx.pack) if text else None  # off the event loop
    findings = [f for f in result.findings] if result else []
    record: dict[str, Any] = {"author": author, "flagged_by": user, "at": clock.iso(clock.now()), "text": text, "link": link,
              "note": note, "kinds": [f.kind for f in findings], "clauses": [f.clause for f in findings if f.clause]}
    record = await insert_numbered(ctx, "flags", "F", record)
    fid = record["id"]
    await ctx.audit.record(user, "conduct.flagged", fid, author=author)
    await ctx.outbox.send(f"{fid}:reminder", author, reminder(ctx, record, findings))
    earlier = await ctx.store.count("flags", {"author": author}) - 1
    return [Reply(title=f"Reminder {fid} sent privately", tone="ok",
                  text=f"{ctx.people.name(author)} will get a private reminder" + (
                      f" citing {', '.join(record['clauses'])}." if record["clauses"] else ".")
                  + (f" They have been flagged {earlier} time(s) before." if earlier else ""))]


def _words(text: str) -> list[str]:
    """A name's words, for matching: case and punctuation ignored, a remark in brackets
    ("Jane Smith (Town Clerk)") left out."""
    return re.findall(r"\w+", re.sub(r"\([^)]*\)", " ", text).casefold())


def person_named(ctx: Ctx, given: str) -> str:
    """The id of the person the flagger means: a chat id as given, or a known person's name (full,
    first or surname, or the part of the id after the platform) when exactly one person has it.
    People write names, not ids, on every platform; an ambiguous or unknown name is asked again."""
    from .bot import known_person_id

    if known_person_id(ctx, given):
        return given
    wanted = _words(given)
    if not wanted:
        raise BadInput("Give the author's name or chat id, like slack:U123.", "author")
    people = sorted(set(ctx.people.everyone()) | set(ctx.people.names))

    def spelled(user: str) -> list[list[str]]:
        return [_words(ctx.people.name(user)), _words(user.partition(":")[2])]

    exact = [u for u in people if wanted in spelled(u)]
    partly = [u for u in people if any(all(w in words for w in wanted) for words in spelled(u))]
    for found in (exact, partly):
        if len(found) == 1:
            return found[0]
        if found:
            choices = "; ".join(f"{ctx.people.name(u)} ({u})" for u in found[:10])
            raise BadInput(f"More than one person matches {given!r}: {choices}. Give the full name or the chat id.", "author")
    known = "; ".join(f"{ctx.people.name(u)} ({u})" for u in people[:10])
    more = f" People I know: {known}{' …' if len(people) > 10 else ''}." if people else ""
    raise BadInput(f"I don't know anyone called {given!r}. Give their name as in the people list, or their chat id "
                   f"with its platform, like slack:U123.{more}", "author")


def _role(ctx: Ctx, user: str) -> str | None:
    role = ctx.people.role(user)
    return role.value if role else None


def reminder(ctx: Ctx, record: dict[str, Any], findings: list[Any]) -> Reply:
    r = ctx.pack.reminders
    fields = [Field(f"{f.clause} ({f.section})", f"\u201c{f.clause_text}\u201d \u2014 in your post: \u201c{f.evidence}\u201d") for f in findings if f.clause]
    from .kinds import RuleKind

    specific = [r.by_kind[RuleKind(k)] for k in dict.fromkeys(record["kinds"]) if k in {x.value for x in RuleKind} and RuleKind(k) in r.by_kind]
    text = "\n".join([r.opening, *specific, *r.general])
    if record["note"]:
        fields.append(Field("Note", record["note"]))
    if record["link"]:
        fields.append(Field("Post", record["link"]))
    return Reply(title="A reminder about the Code of Conduct", text=text, tone="caution", fields=tuple(fields))


async def history(ctx: Ctx, user: str) -> list[Reply]:
    ctx.people.require(user, "flag")
    counts: dict[str, int] = {}
    for f in await ctx.store.find("flags"):
        counts[f["author"]] = counts.get(f["author"], 0) + 1
    if not counts:
        return [Reply(text="No posts have been flagged.", title="Code of Conduct flags")]
    fields = tuple(Field(ctx.people.name(a), f"{n} flag(s)") for a, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return [Reply(title="Code of Conduct flags", text="People flagged, most first.", fields=fields)]
