"""Check results and lookups as neutral replies: the verdict first, then each finding with the
clause quoted, the evidence and the fix, in words a councillor can act on."""

from __future__ import annotations

from .checker import CheckResult
from .kinds import Verdict
from .lookup import Answer
from .messages import Field, Reply, Tone

HEADLINE: dict[Verdict, str] = {
    Verdict.OK: "OK to post",
    Verdict.CAUTION: "Caution: check before posting",
    Verdict.DO_NOT_POST: "Do not post",
}
TONE: dict[Verdict, Tone] = {Verdict.OK: "ok", Verdict.CAUTION: "caution", Verdict.DO_NOT_POST: "danger"}


def check_reply(result: CheckResult, council: str) -> Reply:
    title = HEADLINE[result.verdict]
    where = "the council's page" if result.where == "council" else "your personal account"
    if not result.findings:
        text = f"Nothing in this draft conflicts with the {council} social media policy for {where} on {result.platform.title()}."
        return Reply(text=text, title=title, tone="ok", footer="\n".join(result.reminder))
    lines = [f"For {where} on {result.platform.title()}:"]
    fields: list[Field] = []
    quoted: set[str] = set()  # a clause or a fix two findings share is written out once
    for f in result.findings:
        label = f.kind.replace("-", " ").capitalize()
        cite = f"{f.clause} ({f.section})" if f.clause else "platform limit"
        body = [f"Evidence: \u201c{f.evidence}\u201d", f.explanation]
        if f.clause_text:
            body.append(f"Policy {cite}: as quoted above." if f.clause_text in quoted else f"Policy {cite}: \u201c{f.clause_text}\u201d")
            quoted.add(f.clause_text)
        body.append("Fix: as above." if f.fix in quoted else f"Fix: {f.fix}")
        quoted.add(f.fix)
        fields.append(Field(f"{label} \u2014 {f.verdict.value.replace('_', ' ')}", "\n".join(body)))
    footer = "\n".join(result.reminder) if result.reminder else ""
    return Reply(text=lines[0], title=title, tone=TONE[result.verdict], fields=tuple(fields), footer=footer)


def answer_reply(answer: Answer) -> Reply:
    fields = tuple(Field(f"{c.id} \u2014 {c.section}", c.text) for c in answer.clauses)
    title = "From the policy" if answer.covered else ("Not in the policy" if fields else "Not found")
    return Reply(text=answer.answer, title=title, fields=fields)
