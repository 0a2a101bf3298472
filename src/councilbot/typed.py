"""Typed commands: the one table that says which typed messages are commands.

A person can type to the bot in a Slack direct message, a Teams chat (or an @mention in a team
channel) and the terminal. Each adapter passes what was typed, as written, and the core reads it
here, so the same words do the same thing everywhere, and the same as Slack's slash commands.

A word is read as a command only where a draft or a question would not start with it: a draft
that begins "Report on tonight's meeting" or "People of Castle Cary" is checked as a draft, not
taken for the report form or the list of people.
"""

from __future__ import annotations

import re

# A command when it is the whole message ("report", "pending").
ALONE = frozenset({"help", "report", "pending", "reports", "flag", "flags", "moderation", "people", "export", "home",
                   "elections"})
# Takes everything after it ("policy photos of children", "checkpost personal: ...", "suggest ...").
WITH_TEXT = frozenset({"policy", "checkpost", "suggest"})
# Takes what follows only when that starts with one of these words ("people add ...", "export json").
WITH_WORD = {"people": frozenset({"add", "remove"}), "export": frozenset({"csv", "json"}),
             "election": frozenset({"add", "remove", "list"})}
# "escalate" takes what follows only when it starts with a suggestion's reference; "link" when
# what follows is two or more reports' references ("link R-2026-0012 R-2026-0015"); "evidence"
# when it starts with a report's reference ("evidence R-2026-0012 https://…", as the bot itself
# tells reporters to write it: the links are kept with the report).
_ESCALATION = re.compile(r"S-\d{4}-\d+\b", re.IGNORECASE)
_EVIDENCE = re.compile(r"R-\d{4}-\d{4,}\b", re.IGNORECASE)
_LINKED = re.compile(r"R-\d{4}-\d{4,}(?:[\s,]+(?:and\s+)?R-\d{4}-\d{4,})+\s*$", re.IGNORECASE)
# Slack's admin slash command: "/councilbot pending" typed anywhere is "pending".
ADMIN = "councilbot"
# An optional "/", one word (an optional ":" after it, as in "Policy: flags"), then the rest.
_LEAD = re.compile(r"^(/)?([A-Za-z]+):?(?:\s+(.*))?$", re.DOTALL)


def command(text: str) -> tuple[str, str] | None:
    """``(name, arguments)`` when ``text`` is a typed command, else None (a draft or a question).

    With a "/" in front, any word is a command and takes what follows, as a slash command does in
    Slack ("/report", "/flag the post's words", "/escalate"); an unknown one is answered as such
    by the core. Without it, only the uses in the table above are commands."""
    lead = _LEAD.match(text.strip())
    if lead is None:
        return None
    slash, word, rest = lead.group(1), lead.group(2).lower(), (lead.group(3) or "").strip()
    if slash and word == ADMIN:
        sub, _, more = rest.partition(" ")
        return (sub.lower() or "help"), more.strip()
    if slash:
        return word, rest
    first = rest.split(maxsplit=1)[0].lower() if rest else ""
    if (word in WITH_TEXT or (word in ALONE and not rest) or first in WITH_WORD.get(word, ())
            or (word == "escalate" and _ESCALATION.match(rest)) or (word == "link" and _LINKED.match(rest))
            or (word == "evidence" and _EVIDENCE.match(rest))):
        return word, rest
    return None
