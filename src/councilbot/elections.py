"""The pre-election period ("purdah"): from the day the Notice of Election is published until 10pm
on polling day, council publicity is restricted (Code of Recommended Practice on Local Authority
Publicity 2011, paragraphs 33-35, under s.4 Local Government Act 1986).

The rules are data (``policy/common/pre-election.yaml``, which each council's pack includes and may
edit); this module only knows when a period is in force and applies the rules as one more step
after the checker has judged a draft, so the checker's own judgement is never changed, only added to.
Outside every period nothing here changes anything."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import yaml

from . import clock
from .clock import LONDON
from .checker import CheckResult, Draft, Finding
from .config import MAX_PERIOD_DAYS
from .errors import BadInput, Refused
from .kinds import Role, Verdict
from .messages import Field, Reply
from .pack import ElectionRule, Pack, PackError, PreElection, pack_dirs
from .ports import CLERK_CHANNEL
from .storage.port import Falsy, In

if TYPE_CHECKING:
    from .config import Settings
    from .context import Ctx

KIND = "pre-election"  # the kind of every finding this step adds
POLLS_CLOSE = (22, 0)  # 10pm on polling day, on the council's clock
TABLE = "elections"  # elections the Clerk added from chat
ANNOUNCED = "election_periods"  # periods whose start (and end) the clerk channel has been told of
SITTING = (Role.COUNCILLOR, Role.CHAIR)  # the Chair of the Council (the Town Mayor) is a councillor too


@dataclass(frozen=True)
class Election:
    name: str
    notice: date  # the day the Notice of Election is published: the period starts that morning
    poll: date  # polling day: the period ends when polls close at 10pm
    id: str = ""  # E-2027-0001 for one the Clerk added in chat; "" for one in councilbot.toml
    candidates: tuple[str, ...] = ()
    zone: ZoneInfo = LONDON  # the council's: "10pm on polling day" is 10pm on its clock

    @property
    def starts(self) -> datetime:
        return clock.local_time(self.notice, self.zone)

    @property
    def ends(self) -> datetime:
        return clock.local_time(self.poll, self.zone, *POLLS_CLOSE)

    @property
    def key(self) -> str:
        """One period per pair of dates: the same election set in the file and in chat is announced once."""
        return f"{self.notice.isoformat()}_{self.poll.isoformat()}"

    def in_force(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends


@dataclass(frozen=True)
class Period:
    """The pre-election period in force at a moment, with what the checker's extra step needs.
    Worked out on the event loop (it reads the records), then handed to the checker's thread."""

    elections: tuple[Election, ...]
    ends: datetime
    names: tuple[str, ...]  # sitting councillors' and candidates' names

    @property
    def label(self) -> str:
        return f"Pre-election period until 10pm on {day(self.ends.date())}"

    @property
    def names_of_elections(self) -> str:
        return "; ".join(dict.fromkeys(e.name for e in self.elections))

    def to_dict(self) -> dict[str, Any]:
        return {"until": self.ends.isoformat(timespec="minutes"), "elections": [e.name for e in self.elections],
                "label": self.label}


def day(value: date) -> str:
    """6 May 2027: how a date reads in a notice."""
    return f"{value.day} {value:%B %Y}"


def parse_day(text: str) -> date | None:
    """A date as a clerk types it: 2027-05-06, or 06/05/2027 (day first, as in England)."""
    text = text.strip()
    try:
        return date.fromisoformat(text) if "-" in text else datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


# Where elections come from: councilbot.toml, and the Clerk in chat (kept in the records).

def from_settings(settings: "Settings") -> tuple[Election, ...]:
    zone = ZoneInfo(settings.timezone)
    return tuple(Election(e.name, e.notice, e.poll, candidates=tuple(e.candidates), zone=zone) for e in settings.elections)


def _from_record(doc: Mapping[str, Any], zone: ZoneInfo) -> Election | None:
    notice, poll = parse_day(str(doc.get("notice", ""))), parse_day(str(doc.get("poll", "")))
    if notice is None or poll is None:
        return None
    return Election(str(doc.get("name", "")), notice, poll, id=str(doc["id"]), zone=zone)


def everything(configured: Iterable[Election], stored: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> list[Election]:
    out = list(configured)
    out += [e for e in (_from_record(d, zone) for d in sorted(stored, key=lambda d: str(d["id"]))) if e is not None]
    return sorted(out, key=lambda e: (e.notice, e.poll, e.name))


async def all_elections(ctx: "Ctx") -> list[Election]:
    return everything(ctx.elections, await ctx.store.find(TABLE), ctx.zone)


_TITLES = re.compile(r"^(?:(?:cllr|councillor|the|town|deputy|mayor|mr|mrs|ms|miss|dr)\.?\s+)+", re.I)


def sitting_names(everyone: Mapping[str, Role], given_name: Callable[[str], str]) -> list[str]:
    """The names of sitting councillors, as the Clerk or the config file gives them (never a
    platform's display name, which can be a handle)."""
    return [given_name(user) for user, role in sorted(everyone.items()) if role in SITTING and given_name(user)]


def period_at(elections: Sequence[Election], moment: datetime, names: Iterable[str], pack: Pack | None = None) -> Period | None:
    """The period in force at ``moment``, or None. Overlapping elections make one period, to the last close of polls."""
    now_on = tuple(e for e in elections if e.in_force(moment))
    if not now_on:
        return None
    listed = (*names, *(pack.pre_election.candidates if pack is not None and pack.pre_election else ()),
              *(c for e in now_on for c in e.candidates))
    return Period(now_on, max(e.ends for e in now_on), tuple(dict.fromkeys(n for n in listed if n.strip())))


async def period(ctx: "Ctx", moment: datetime | None = None) -> Period | None:
    """The period in force now (or at ``moment``) for this council, read on the event loop."""
    elections = await all_elections(ctx)
    moment = moment or clock.now()
    if not any(e.in_force(moment) for e in elections):
        return None
    return period_at(elections, moment, sitting_names(ctx.people.everyone(), ctx.people.given_name), ctx.pack)


def _read_table(data_dir: Path, table: str) -> list[dict[str, Any]]:
    """A table's records straight from its files, without opening the store: ``councilbot check``
    may run while the bot owns the data folder, and only reads. Every file is written whole
    (temporary file and rename), so what is read is a consistent file."""
    from .store import StoreError

    out: list[dict[str, Any]] = []
    for path in sorted((data_dir / table).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: cannot read the data file ({exc.__class__.__name__})") from None
        rows = data.get(table) if isinstance(data, dict) else None
        if isinstance(rows, dict):
            out += [dict(d) for d in rows.values() if isinstance(d, dict) and isinstance(d.get("id"), str)]
    return out


def period_from_settings(settings: "Settings", moment: datetime, pack: Pack) -> tuple[Period | None, int]:
    """For the command line: the period at ``moment`` from the config file and the elections the
    Clerk added in chat, with the councillors set up in either; and how many elections are known."""
    elections = everything(from_settings(settings), _read_table(settings.data_dir, TABLE), ZoneInfo(settings.timezone))
    if not any(e.in_force(moment) for e in elections):
        return None, len(elections)
    everyone: dict[str, Role] = dict(settings.people)
    names = dict(settings.names)
    roles = {r.value for r in Role}
    for doc in _read_table(settings.data_dir, "people"):  # the Clerk's changes in chat win, as in People.role
        if doc.get("role") in roles:
            everyone[doc["id"]] = Role(doc["role"])
        elif not doc.get("role"):
            everyone.pop(doc["id"], None)
        if doc.get("name"):
            names[doc["id"]] = str(doc["name"])
    return period_at(elections, moment, sitting_names(everyone, lambda u: names.get(u, "")), pack), len(elections)


# The rules.

@lru_cache(maxsize=1)
def built_in() -> PreElection:
    """The shared rules, for a pack that does not include them: a council without its own copy is
    still held to the law."""
    for folder in pack_dirs():
        path = folder / "common" / "pre-election.yaml"
        if path.is_file():
            return PreElection.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))["pre_election"])
    raise PackError("common/pre-election", ["the built-in pre-election rules are missing from this installation"])


def rules_of(pack: Pack) -> PreElection:
    return pack.pre_election or built_in()


def _term(word: str) -> str:
    body = r"\s+".join(re.escape(part) for part in word.split())
    body = f"(?-i:{body})" if any(ch.isupper() for ch in word) else body
    return rf"(?<!\w){body}(?!\w)"


@lru_cache(maxsize=256)
def _words(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole words, any case; a word written with a capital ("Labour") only with that capital."""
    words = tuple(w for w in words if w.strip())
    return re.compile("|".join(_term(w) for w in words), re.I) if words else None


_TITLE = r"(?:Cllrs?\.?|Councillors?|(?:Deputy\s+|Town\s+)?Mayor)"
# Words after a title that are not a person ("the Councillor Surgery", "Mayor Making").
_NOT_A_NAME = ("Surgery", "Surgeries", "Code", "Vacancy", "Vacancies", "Training", "Allowance", "Allowances", "Meeting",
               "Meetings", "Election", "Elections", "Role", "Roles", "Induction", "Making", "Sunday", "Charity", "Appeal")
_GENERIC = (
    # A title and a name: "Cllr Hughes", "Councillor Ann Hughes", "Mayor Smith".
    rf"(?i:\b{_TITLE})\s+(?!(?:{'|'.join(_NOT_A_NAME)})\b)[A-Z][A-Za-z'\u2019-]+(?:\s+[A-Z][A-Za-z'\u2019-]+)?",
    # A tag: "@CllrHughes", "@AlsagerMayor".
    r"(?i:@[\w.]*(?:cllr|councillor|mayor)[\w.]*)",
    # A picture: "photo of our councillors", "pictured with the Mayor", "councillors pictured".
    r"(?i:\b(?:pictured|photo(?:graph)?s?|pictures?|videos?|selfies?)\b[^.!?\n]{0,80}?\b(?:councillors?|cllrs?|mayor)\b)",
    r"(?i:\b(?:councillors?|cllrs?|mayor)\b[^.!?\n]{0,40}?\b(?:pictured|in\s+the\s+(?:photo|picture))\b)",
    # A quotation: "councillors said", "said the Mayor".
    r"(?i:\b(?:councillors?|cllrs?|the\s+mayor)\b[^.!?\n]{0,40}?\b(?:said|says|told)\b)",
    r"(?i:\b(?:said|says)\s+(?:the\s+)?(?:councillors?|cllrs?|mayor)\b)",
)


@lru_cache(maxsize=1024)
def _name_words(name: str) -> tuple[str, ...]:
    """"Cllr Ann Hughes (Chair)" -> ("Ann", "Hughes"); a single word ("Sam") is no name to look
    for, as it would catch too much (the title patterns still find "Cllr Sam")."""
    words = tuple(_TITLES.sub("", re.sub(r"\(.*?\)", " ", name)).split())
    return words if len(words) >= 2 else ()


@lru_cache(maxsize=64)
def _names(names: tuple[str, ...], generic: bool) -> re.Pattern[str]:
    """Candidates and sitting councillors by full name or by a tag holding their surname, and
    (``generic``) any councillor by title, tag, picture or quotation."""
    parts = list(_GENERIC) if generic else []
    for words in map(_name_words, names):
        parts.append(r"(?i:(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w))")
        if len(words[-1]) >= 4:
            parts.append(rf"(?i:@[\w.]*{re.escape(words[-1].lower())}[\w.]*)")
    return re.compile("|".join(parts))


# Every generic pattern above needs one of these words; a draft without any is not searched with them.
_COUNCILLOR_WORDS = ("cllr", "councillor", "mayor")


def _found_names(names: tuple[str, ...], text: str, lowered: str) -> list[str]:
    """Only the patterns whose words the draft contains are run: a check stays fast however many
    councillors and candidates there are."""
    generic = any(w in lowered for w in _COUNCILLOR_WORDS)
    present = tuple(n for n in names if _name_words(n) and _name_words(n)[-1].lower() in lowered)
    return _spans(_names(present, generic), text) if generic or present else []


def _found(words: tuple[str, ...], text: str, lowered: str) -> list[str]:
    """``_words`` run only for the words the draft contains (a plain substring test first)."""
    present = tuple(w for w in words if w.strip() and " ".join(w.lower().split()) in lowered)
    return _spans(_words(present), text) if present else []


def _spans(pattern: re.Pattern[str] | None, text: str) -> list[str]:
    if pattern is None:
        return []
    found: list[str] = []
    for m in pattern.finditer(text):
        quoted = m.group(0).strip()
        if quoted and quoted not in found:
            found.append(quoted)
    return found


def _cited(section: PreElection, rule: ElectionRule) -> str:
    return "Pre-election period: " + "; ".join(section.sources[s].split(":", 1)[0] for s in rule.sources)


def judge(result: CheckResult, draft: Draft, pack: Pack, period: Period) -> CheckResult:
    """The checker's result with the pre-election rules applied too: findings on the council's
    pages, reminders (never a block) on a councillor's own account; each cites the period's end."""
    section = rules_of(pack)
    text = draft.text
    lowered = " ".join(text.split()).lower()
    found: list[Finding] = []
    reminders: list[str] = []
    for rule_id, rule in section.rules.items():
        if rule.where.value != draft.where:
            continue
        notice = bool(_found(rule.unless, text, lowered))
        if notice and rule.check != "names":
            continue
        if rule.check == "remind" or (rule.check == "remind-on-words" and _found(rule.words, text, lowered)):
            reminders.append(f"{period.label}: {rule.text}")
            continue
        about = ""
        if rule.check == "names":
            # A factual notice (the returning officer's, a list of candidates) may name people, but
            # never gives a councillor's title, tag, picture or quotation: those are still caught, so
            # a post is not let through by a mention of the notice of poll beside "Cllr Ann Hughes".
            spans = _found_names((), text, lowered) if notice else _found_names(period.names, text, lowered)
        elif rule.check == "topics":
            spans, labels = [], []
            for topic in section.topics.values():
                hits = _found(topic.words, text, lowered)
                if hits:
                    spans += hits
                    labels.append(topic.label)
            about = f" ({'; '.join(labels)})" if labels else ""
        elif rule.check == "words":
            spans = _found(rule.words, text, lowered)
        else:
            continue
        if spans:
            found.append(Finding(
                kind=KIND, clause=rule_id, clause_text=rule.text, section=_cited(section, rule),
                evidence=" \u2026 ".join(spans[:3]), explanation=f"{period.label}: {rule.title}{about}.",
                fix=rule.fix or "Wait until after 10pm on polling day, or ask the Clerk.", verdict=rule.verdict))
    findings = sorted((*result.findings, *found), key=lambda f: -f.verdict.rank)
    verdict = max((f.verdict for f in findings), key=lambda v: v.rank, default=Verdict.OK)
    return replace(result, verdict=verdict, findings=tuple(findings), reminder=(*result.reminder, *reminders),
                   pre_election=period.to_dict())


# Lookups: the rules, when a question is about them, and the period, while it is on.

_ABOUT = re.compile(r"\b(?:pre-?election|purdah|elections?|candidates?|imprints?|polling|canvass\w*|hustings)\b", re.I)
# Only while a period is on: outside one, a question about a litter-pick campaign is not about elections.
_ABOUT_IN_PERIOD = re.compile(r"\bcampaign\w*|\bconsult\w*", re.I)


def relevant_rules(pack: Pack, question: str, in_period: bool = False) -> list[tuple[str, ElectionRule]]:
    """The pre-election rules, for a question about elections (in or out of a period: a clerk plans
    ahead), or while a period is on, about a campaign or consultation."""
    if not (_ABOUT.search(question) or (in_period and _ABOUT_IN_PERIOD.search(question))):
        return []
    return list(rules_of(pack).rules.items())


def answer_extra(pack: Pack, period: Period | None, question: str) -> dict[str, Any] | None:
    """What ``ask --json`` adds: the period in force and, for a question about elections, the rules."""
    rules = relevant_rules(pack, question, period is not None)
    if period is None and not rules:
        return None
    section = rules_of(pack)
    return {"in_force": period is not None, **(period.to_dict() if period else {}),
            "rules": [{"id": i, "title": r.title, "text": r.text, "where": r.where.value, "section": _cited(section, r)}
                      for i, r in rules]}


def on_answer(reply: Reply, pack: Pack, period: Period | None, question: str) -> Reply:
    """A policy answer with the period said first while it is on, and the rules beside the
    policy's clauses when the question is about elections."""
    rules = relevant_rules(pack, question, period is not None)
    if period is None and not rules:
        return reply
    section = rules_of(pack)
    extra = tuple(Field(f"{i} \u2014 {_cited(section, r)}", r.text) for i, r in rules)
    text = reply.text
    title = reply.title
    if rules and title != "From the policy":
        title = "From the pre-election rules"
        text = ("From the Notice of Election until 10pm on polling day, council publicity follows these rules as well as "
                f"the policy. {text}")
    if period is not None:
        text = f"{period.label} ({period.names_of_elections}): the pre-election rules apply as well as the policy.\n{text}"
    return replace(reply, title=title, text=text, fields=extra + reply.fields)


# What people see while a period is on.

async def notice_line(ctx: "Ctx") -> str | None:
    current = await period(ctx)
    if current is None:
        return None
    return (f"\u26a0\ufe0f {current.label} ({current.names_of_elections}). Council posts are also checked against the "
            "pre-election rules: no candidates or councillors named or pictured, nothing controversial, no party or "
            "campaign material. Ask 'pre-election rules' to see them.")


async def home_reply(ctx: "Ctx") -> Reply | None:
    line = await notice_line(ctx)
    return Reply(title="Pre-election period", text=line, tone="caution") if line else None


async def card_field(ctx: "Ctx") -> Field | None:
    """The banner an approval card carries while a period is on."""
    current = await period(ctx)
    if current is None:
        return None
    return Field("\u26a0\ufe0f Pre-election period",
                 f"Until 10pm on {day(current.ends.date())} ({current.names_of_elections}). Approve only what the "
                 "pre-election rules allow: no candidates or councillors named, quoted, tagged or pictured; nothing "
                 "controversial; no party or campaign material; comments closely moderated.")


def help_line(ctx: "Ctx", user: str) -> str:
    if ctx.people.can(user, "manage_people"):
        return ("\u2022 election list / election add 2027-03-29 2027-05-06 Town council elections / election remove E-\u2026: "
                "elections, and the pre-election period from the Notice of Election until 10pm on polling day.")
    return "\u2022 election list: the elections set up, and when the pre-election period runs."


# The clerk channel is told when a period starts, with the checklist, and when it ends: once each.

async def _checklist(ctx: "Ctx", group: list[Election]) -> Reply:
    section = rules_of(ctx.pack)
    first = group[0]
    waiting = await ctx.store.count("suggestions", {"status": In(["pending", "escalated"])})
    fields = [Field(f"Step {i}", item) for i, item in enumerate(section.checklist, start=1)]
    notice = section.page_notice.replace("{council}", ctx.pack.council).replace("{poll}", day(first.poll))
    fields.append(Field("Notice to pin on the council's pages", notice))
    if waiting:
        fields.append(Field("Waiting for a decision", f"{waiting} suggested post(s) were checked before the period began: "
                            "look at them again with the pre-election rules in mind."))
    sources = section.cited_as or "; ".join(v.split(":", 1)[0] for v in section.sources.values())
    names = "; ".join(e.name for e in group)
    return Reply(title=f"Pre-election period: {names}", tone="caution", private=False, fields=tuple(fields),
                 text=f"The pre-election period has started (Notice of Election {day(first.notice)}) and runs until 10pm on "
                      f"{day(first.poll)}. Until then every check and every suggested post is judged against the "
                      "pre-election rules too, and approval cards carry a banner. The Clerk's checklist:",
                 footer=f"Based on: {sources}.")


def _ended(record: Mapping[str, Any], removed: bool) -> Reply:
    why = ("The election was removed from CouncilBot's list, so" if removed
           else f"Polls closed at 10pm on {day(clock.parse(str(record['ends'])).date())}, so")
    return Reply(title=f"Pre-election period over: {record.get('names', '')}", tone="ok", private=False,
                 text=f"{why} the pre-election rules no longer apply to checks and suggested posts. Comments can be "
                      "turned back on and the pre-election notice taken down.")


async def announce(ctx: "Ctx") -> int:
    """Queue the start and end messages that are due; how many. Each is stored in the outbox
    before it is marked as sent, under a key of its own, so a restart sends neither twice."""
    now = clock.now()
    groups: dict[str, list[Election]] = {}
    for election in await all_elections(ctx):
        groups.setdefault(election.key, []).append(election)
    queued = 0
    for key, group in groups.items():
        if group[0].in_force(now) and await ctx.store.get(ANNOUNCED, key) is None:
            await ctx.outbox.send(f"pre-election-{key}:pre-election-start", CLERK_CHANNEL, await _checklist(ctx, group))
            await ctx.store.insert(ANNOUNCED, {"id": key, "started": clock.iso(now), "ended": None,
                                         "ends": clock.iso(group[0].ends), "names": "; ".join(e.name for e in group)})
            queued += 1
    for record in await ctx.store.find(ANNOUNCED, {"ended": Falsy()}):
        over = now >= clock.parse(str(record["ends"]))
        if over or record["id"] not in groups:
            await ctx.outbox.send(f"pre-election-{record['id']}:pre-election-end", CLERK_CHANNEL, _ended(record, removed=not over))
            await ctx.store.update(ANNOUNCED, record["id"], {"ended": clock.iso(now)})
            queued += 1
    return queued


# The Clerk's chat command.

USAGE = ("election list \u2014 the elections set up\n"
         "election add NOTICE POLL NAME \u2014 e.g. election add 2027-03-29 2027-05-06 Town council elections "
         "(NOTICE: the day the Notice of Election is published; POLL: polling day)\n"
         "election remove E-2026-0001 \u2014 one added in chat (those in councilbot.toml are changed there)")


async def command(ctx: "Ctx", user: str, text: str) -> list[Reply]:
    words = text.split()
    action = words[0].lower() if words else "list"
    if action == "list":
        return [await _listing(ctx)]
    if action not in {"add", "remove"}:
        return [Reply(title="Elections", text=USAGE)]
    if not ctx.people.can(user, "manage_people"):
        raise Refused("Only the Clerk can add or remove elections. Anyone can see them with: election list")
    if action == "add":
        return [await _add(ctx, user, words[1:])]
    if len(words) != 2:
        raise BadInput("Say which election to remove, e.g. election remove E-2026-0001 (see election list).")
    return [await _remove(ctx, user, words[1])]


async def _add(ctx: "Ctx", user: str, words: list[str]) -> Reply:
    if len(words) < 3:
        raise BadInput(f"Give the notice date, polling day and a name.\n{USAGE}")
    notice, poll = parse_day(words[0]), parse_day(words[1])
    for raw, parsed, what in ((words[0], notice, "notice date"), (words[1], poll, "polling day")):
        if parsed is None:
            raise BadInput(f"{raw!r} is not a date: give the {what} like 2027-05-06 or 06/05/2027.")
    if notice is None or poll is None:  # said above; this tells the type checker
        raise BadInput(USAGE)
    name = " ".join(words[2:])
    if len(name) > 200:
        raise BadInput("The name is over 200 characters; a short one will do (\"Town council elections\").")
    if notice > poll:
        raise BadInput(f"The notice date ({day(notice)}) is after polling day ({day(poll)}): notice first, then polling day.")
    if (poll - notice).days > MAX_PERIOD_DAYS:
        raise BadInput(f"{day(notice)} is {(poll - notice).days} days before polling day; the Notice of Election comes about "
                       "five weeks (25 working days) before. Please check the dates.")
    if clock.local_date(ctx.zone) > poll:
        raise BadInput(f"Polling day {day(poll)} has passed.")
    if any(e.notice == notice and e.poll == poll and e.name.lower() == name.lower() for e in await all_elections(ctx)):
        raise Refused(f"{name} ({day(notice)} to {day(poll)}) is already set up.")
    from .context import insert_numbered

    record = await insert_numbered(ctx, TABLE, "E", {"name": name, "notice": notice.isoformat(), "poll": poll.isoformat(),
                                                "added": clock.iso(clock.now())})
    await ctx.audit.record(user, "election.added", record["id"], notice=notice.isoformat(), poll=poll.isoformat())
    started = await announce(ctx)
    election = Election(name, notice, poll, zone=ctx.zone)
    when = ("It is in force now: the clerk channel has the checklist." if started or election.in_force(clock.now())
            else "The clerk channel gets the checklist when it starts.")
    return Reply(title=f"Election {record['id']} added", tone="ok",
                 text=f"{name}: the pre-election period runs from {day(notice)} until 10pm on {day(poll)}. {when}")


async def _remove(ctx: "Ctx", user: str, ident: str) -> Reply:
    record = await ctx.store.get(TABLE, ident.strip().upper())
    if record is None:
        raise Refused(f"There is no election {ident.strip()} added in chat (see election list). "
                      "Elections in councilbot.toml are changed in that file.")
    await ctx.store.delete(TABLE, record["id"])
    await ctx.audit.record(user, "election.removed", record["id"])
    await announce(ctx)
    return Reply(title=f"Election {record['id']} removed", tone="ok", text=f"{record['name']} is no longer set up.")


async def _listing(ctx: "Ctx") -> Reply:
    now = clock.now()
    fields = []
    for e in await all_elections(ctx):
        state = "in force now" if e.in_force(now) else ("over" if now >= e.ends else "ahead")
        where = e.id or "councilbot.toml"
        fields.append(Field(f"{e.name} ({where})", f"Notice of Election {day(e.notice)}; polling day {day(e.poll)}. "
                            f"Pre-election period until 10pm on {day(e.poll)}: {state}."))
    text = ("The pre-election period runs from the day the Notice of Election is published until 10pm on polling day."
            if fields else "No elections are set up. The Clerk adds one with: election add 2027-03-29 2027-05-06 Town council elections")
    current = await period(ctx, now)
    if current is not None:
        text = f"{current.label}. {text}"
    return Reply(title="Elections", text=text, fields=tuple(fields))


def at_day(value: date, zone: ZoneInfo) -> datetime:
    """A whole day asked about (``check --on``): judged as at noon on the council's clock, well
    inside the day whichever side of 10pm on polling day."""
    return clock.local_time(value, zone, 12)
