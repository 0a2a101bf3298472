"""'May I post this?': a draft judged against one council's pack, with the clause, the evidence and the fix."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeVar, cast

from .detectors import Context, Detector, Hit, registry
from .kinds import Platform, RuleKind, Verdict, Where
from .pack import Clause, Pack
from .text import Doc, without_names
from . import judge, toxicity

if TYPE_CHECKING:
    from .elections import Period

MAX_DRAFT = 10_000
TWEET_LIMIT = 280
PLATFORM_LIMIT = "platform-limit"  # a platform's own limit, not a policy rule: never blocks

_DETECTORS: dict[RuleKind, Detector] = registry()
T = TypeVar("T")

_WHY: dict[str, str] = {
    "offensive-language": "Offensive language is not allowed on the council's pages or, under the Code of Conduct, on personal accounts.",
    "personal-attack": "Attacking or insulting a person is a hostile communication the policy forbids.",
    "harassment": "Targeting a person, or urging others to, is bullying or harassment.",
    "threat": "Threatening content is never acceptable and may be a criminal offence.",
    "personal-data": "Publishing someone's name, address or contact details needs their written permission (data protection).",
    "minors-media": "Photos or videos of children need parental permission before they are posted.",
    "political": "The council's pages are non-political; on a personal account a political view must be clearly your own.",
    "advertising": "The council's pages do not advertise or promote private businesses.",
    "confidential": "Private, internal or exempt council business must not be published.",
    "defamation": "Stating that a named person has done wrong, as fact, risks libel.",
    "copyright": "Using other people's work without permission infringes copyright.",
    "personal-opinion-as-council": "A personal view must not be presented as the council's.",
    "contrary-to-decision": "Posts must not go against the democratic decisions of the council.",
    "inflammatory": "Controversial or inflammatory remarks are not allowed.",
    "third-party-citation": "Residents, partners and suppliers may be named only with their approval.",
    "unlawful": "Nothing may be posted that breaks or encourages breaking the law.",
    "security": "Passwords, login codes and unapproved software put the council's accounts at risk.",
    "unapproved-channel": "The council posts only on the channels it has approved.",
    "councillor-direction": "Council posts are never published at the direction of an individual councillor.",
    PLATFORM_LIMIT: "Twitter/X cuts posts at 280 characters.",
}
_FIX: dict[str, str] = {
    "minors-media": "Get written parental permission for every child shown, or use a picture without identifiable children.",
    "third-party-citation": "Check that the person or organisation named has approved being mentioned.",
    "personal-data": "Remove the personal details, or get the person's written permission first.",
    PLATFORM_LIMIT: "Shorten the tweet to 280 characters or fewer, or link to the full text.",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    clause: str | None
    clause_text: str
    section: str
    evidence: str
    explanation: str
    fix: str
    verdict: Verdict
    # "detector": a phrase or pattern found it; "hint": a soft hint the judge agreed with;
    # "judge": the learned judge read the whole draft so.
    basis: str = "detector"

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "kind": self.kind,
            "clause": self.clause,
            "clause_text": self.clause_text,
            "section": self.section,
            "evidence": self.evidence,
            "explanation": self.explanation,
            "fix": self.fix,
            "verdict": self.verdict.value,
        }


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    findings: tuple[Finding, ...]
    council: str
    where: str
    platform: str
    reminder: tuple[str, ...] = field(default=())
    # Set when judged during a pre-election period (elections.judge): its end and elections.
    pre_election: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "findings": [f.to_dict() for f in self.findings],
            "council": self.council,
            "where": self.where,
            "platform": self.platform,
        }
        if self.reminder:
            out["reminder"] = list(self.reminder)
        if self.pre_election:
            out["pre_election"] = self.pre_election
        return out

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]


@dataclass(frozen=True)
class Draft:
    text: str
    where: str = Where.COUNCIL.value
    platform: str = Platform.FACEBOOK.value
    role: str | None = None


class DraftError(ValueError):
    """A draft the checker cannot judge, with a message meant for the person who sent it."""


def validate(draft: Draft) -> None:
    if not draft.text or not draft.text.strip():
        raise DraftError("the draft is empty: give the text of the post to check")
    if len(draft.text) > MAX_DRAFT:
        raise DraftError(f"the draft is {len(draft.text):,} characters; the limit is {MAX_DRAFT:,}")
    if draft.where not in {w.value for w in Where}:
        raise DraftError(f"where must be 'council' or 'personal', not {draft.where!r}")
    if draft.platform not in {p.value for p in Platform}:
        names = ", ".join(p.value for p in Platform)
        raise DraftError(f"unknown platform {draft.platform!r} (one of: {names})")


def _clause_for(pack: Pack, kind: RuleKind, role: str | None) -> Clause:
    clauses = pack.clauses_of(kind)
    if role == "officer":
        for clause in clauses:
            if "officer" in clause.section.lower():
                return clause
    return clauses[0]


def _evidence(doc: Doc, hits: Sequence[Hit]) -> str:
    """The words that triggered a finding, in the order the draft has them. Spans that overlap or
    touch (only spaces between) are quoted as one, and a quote already contained in another is
    dropped: "Dave Jones is a liar … is a liar" says the same thing twice."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((h.start, h.end) for h in hits):
        if merged and (start <= merged[-1][1] or not doc.text[merged[-1][1]:start].strip()):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    quotes = [q for q in (doc.span(s, e).strip() for s, e in merged) if q]
    kept: list[str] = []
    for quote in sorted(dict.fromkeys(quotes), key=len, reverse=True):  # longest first: what it contains is said
        if not any(quote.casefold() in k.casefold() for k in kept):
            kept.append(quote)
    return " … ".join(sorted(kept, key=quotes.index)[:3])


def _reasons(hits: Sequence[Hit]) -> str:
    """What was found, each thing once, in the order the draft has it: reasons that begin alike
    ("an accusation of wrongdoing against a named person", "… stated as fact") are one reason."""
    kept: dict[tuple[str, ...], str] = {}
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        kept.setdefault(tuple(re.findall(r"[\w']+", hit.reason.lower())[:3]), hit.reason)
    return ", ".join(kept.values())


_PER_PACK: dict[tuple[Any, ...], tuple[Pack, Any]] = {}


def _per_pack(pack: Pack, key: tuple[str, ...], make: Callable[[], T]) -> T:
    """What the checker works out once per pack (and place), not once per draft; keyed by the pack
    object itself, as packs are immutable once loaded."""
    cached = _PER_PACK.get((id(pack), *key))
    if cached is None or cached[0] is not pack:
        cached = _PER_PACK[(id(pack), *key)] = (pack, make())
    return cast(T, cached[1])


def _context(pack: Pack, draft: Draft) -> Context:
    """What the detectors need to know of the council and the place."""
    return _per_pack(pack, ("context", draft.where, draft.platform), lambda: Context(
        where=draft.where,
        platform=draft.platform,
        approved_channels=tuple(c.value for c in pack.channels),
        public_email_domains=pack.public_email_domains,
        extra_terms=dict(pack.extra_terms),
    ))


@dataclass(frozen=True)
class Found:
    """What the detectors found: findings they can quote, and whether any was certain enough to
    block (``dnp``), certain but only asking for care (``caution``), or a soft hint (``soft``)."""

    findings: tuple[Finding, ...]
    flags: dict[str, bool]


def detected(doc: Doc, pack: Pack, draft: Draft) -> Found:
    """The detectors' findings alone, before the judge reads the draft."""
    ctx = _context(pack, draft)
    out: list[Finding] = []
    flags = {"dnp": False, "caution": False, "soft": False}
    for kind in pack.governed:
        detector = _DETECTORS.get(kind)
        if detector is None:
            continue
        hits = list(detector(doc, ctx))
        if not hits:
            continue
        severity = getattr(pack.severities[kind], draft.where)
        strong = [h for h in hits if h.strength == "strong"]
        verdict = severity if strong else min(severity, Verdict.CAUTION, key=lambda v: v.rank)
        if verdict is Verdict.OK:
            continue
        if kind is not RuleKind.UNAPPROVED_CHANNEL:
            if not strong:
                flags["soft"] = True
            elif verdict is Verdict.DO_NOT_POST:
                flags["dnp"] = True
            else:
                flags["caution"] = True
        used = strong or hits
        clause = _clause_for(pack, kind, draft.role)
        out.append(
            Finding(
                kind=kind.value,
                clause=clause.id,
                clause_text=clause.text,
                section=clause.section,
                evidence=_evidence(doc, used) or draft.platform,
                explanation=f"Found {_reasons(used)}. {_WHY[kind.value]}",
                fix=clause.fix or _FIX.get(kind.value, "Remove or reword the passage quoted."),
                verdict=verdict,
                basis="detector" if strong else "hint",
            )
        )
    return Found(tuple(out), flags)


def severities(pack: Pack, where: str) -> dict[str, Verdict]:
    """The council's verdict for each kind of rule it governs, in this place (the channel rule aside:
    where a post goes decides it, not its words)."""
    return _per_pack(pack, ("severities", where), lambda: {
        k: v for k, v in pack.verdicts[where].items() if k != RuleKind.UNAPPROVED_CHANNEL.value})


def _findings(doc: Doc, pack: Pack, draft: Draft) -> list[Finding]:
    found = detected(doc, pack, draft)
    severity = severities(pack, draft.where)
    a = judge.assess(doc.text, draft.where, severity, found.flags, doc.model_score)
    judged, kind = judge.settle(a.verdict, a.kinds, severity)
    # A soft hint (a first name, "the Smith family") is the judge's to weigh: it stays as evidence
    # only when the judge agrees the draft needs at least that much care.
    out = [f for f in found.findings if not _soft(f) or f.verdict.rank <= judged.rank]
    if kind is not None and judged.rank > max((f.verdict.rank for f in out), default=0):
        out = _judged(doc, pack, draft, a, judged, kind, out)
    if draft.platform == Platform.TWITTER.value and len(draft.text) > TWEET_LIMIT:
        out.append(
            Finding(
                kind=PLATFORM_LIMIT,
                clause=None,
                clause_text="",
                section="",
                evidence=f"{len(draft.text)} characters",
                explanation=_WHY[PLATFORM_LIMIT],
                fix=_FIX[PLATFORM_LIMIT],
                verdict=Verdict.CAUTION,
            )
        )
    out.sort(key=lambda f: -f.verdict.rank)
    return out


def _soft(f: Finding) -> bool:
    return f.basis == "hint"


def _judged(doc: Doc, pack: Pack, draft: Draft, a: judge.Assessment, verdict: Verdict, kind: str,
            found: list[Finding]) -> list[Finding]:
    """The judge read the draft as worse than anything the detectors can name: say so, cite the
    clause of the kind it most resembles among those that give this verdict here, and quote the
    words that weighed most."""
    words = judge.weightiest(a, draft.where, verdict, kind)
    spans = [s for s in (judge.span_of(doc.text, w) for w in words) if s]
    quoted = [doc.text[s:e] for s, e in spans]
    if spans:
        start, end = judge.sentence_around(doc.text, spans[0][0])
    else:
        start, end = 0, len(doc.text)
    m = judge.model()
    said = ", ".join(f"“{q}”" for q in quoted)
    note = (f"The judge (a model trained on {m.drafts:,} drafts labelled from the councils' policies, not a single phrase) "
            f"reads this as {'one the policy rules out' if verdict is Verdict.DO_NOT_POST else 'one to check first'}"
            + (f"; the words that weighed most: {said}." if said else ".")
            + " If you think it is fine, ask the Clerk.")
    for i, existing in enumerate(found):
        if existing.kind == kind:
            found[i] = dataclasses.replace(existing, verdict=verdict, explanation=f"{existing.explanation} {note}", basis="judge")
            return found
    clause = _clause_for(pack, RuleKind(kind), draft.role)
    return [*found, Finding(
        kind=kind, clause=clause.id, clause_text=clause.text, section=clause.section,
        evidence=doc.span(start, end).strip() or doc.text[:200],
        explanation=f"{note} {_WHY[kind]}",
        fix=clause.fix or _FIX.get(kind, "Say it plainly and kindly, or ask the Clerk before posting."),
        verdict=verdict, basis="judge")]


SELF_CHECK_OPENING = "Before you post this on your own account: these duties apply to your own accounts too, and this draft touches them."


def _reminder(pack: Pack, draft: Draft, findings: Iterable[Finding]) -> tuple[str, ...]:
    """On a personal account the Code of Conduct still applies: say which duties, with their
    clauses, to the author checking their own draft. Spoken to them directly: the pack's
    ``reminders.opening`` is the Clerk's office writing about a flagged post (``conduct.py``),
    which a self-check is not."""
    if draft.where != Where.PERSONAL.value:
        return ()
    duties: dict[str, list[str]] = {}  # clause id -> what it asks of you, each said once
    for f in findings:
        if f.kind not in {k.value for k in RuleKind} or not f.clause:
            continue
        duty = pack.reminders.by_kind.get(RuleKind(f.kind)) or f"\u201c{f.clause_text}\u201d"
        if duty not in duties.setdefault(f.clause, []):
            duties[f.clause].append(duty)
    if not duties:
        return ()
    return (SELF_CHECK_OPENING, *(f"{clause}: {' '.join(said)}" for clause, said in duties.items()), *pack.reminders.general)


def _judge(doc: Doc, pack: Pack, draft: Draft) -> CheckResult:
    findings = _findings(doc, pack, draft)
    verdict = max((f.verdict for f in findings), key=lambda v: v.rank, default=Verdict.OK)
    return CheckResult(
        verdict=verdict,
        findings=tuple(findings),
        council=pack.id,
        where=draft.where,
        platform=draft.platform,
        reminder=_reminder(pack, findings=findings, draft=draft),
    )


def check(draft: Draft, pack: Pack, period: "Period | None" = None) -> CheckResult:
    """Judge one draft. Raises ``DraftError`` for a draft that cannot be judged."""
    return check_many([(draft, pack)], period)[0]


def check_many(items: Sequence[tuple[Draft, Pack]], period: "Period | None" = None) -> list[CheckResult]:
    """Judge many drafts, scoring them with the language model in one vectorised call. During a
    pre-election ``period`` the pre-election rules are applied too, as a step of their own."""
    for draft, _ in items:
        validate(draft)
    scores = toxicity.score([without_names(d.text) for d, _ in items])
    results = [_judge(Doc(d.text, model_score=s), p, d) for (d, p), s in zip(items, scores, strict=True)]
    if period is None:
        return results
    from .elections import judge as pre_election  # it builds on this module's types

    return [pre_election(r, d, p, period) for r, (d, p) in zip(results, items, strict=True)]


__all__ = ["CheckResult", "Draft", "DraftError", "Finding", "check", "check_many"]
