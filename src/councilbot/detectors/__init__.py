"""Detectors keyed by rule kind: each finds spans of a draft that may breach that kind of rule.

A detector knows English, not any council: which kinds apply, how severe they are and
which clause to cite all come from the council's policy pack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

import ahocorasick

from ..kinds import RuleKind
from ..text import Doc

Strength = Literal["strong", "soft"]
Rule = tuple[re.Pattern[str], str, Strength]


@dataclass(frozen=True)
class Hit:
    """One piece of evidence. ``soft`` hits only ever ask for a check (caution), never block."""

    kind: RuleKind
    start: int
    end: int
    reason: str
    strength: Strength = "strong"


@dataclass(frozen=True)
class Context:
    where: str
    platform: str
    approved_channels: tuple[str, ...]
    public_email_domains: tuple[str, ...]
    extra_terms: dict[RuleKind, tuple[str, ...]]


Detector = Callable[[Doc, Context], Iterable[Hit]]


def rx(pattern: str, need: Iterable[str] | None = None) -> re.Pattern[str]:
    """Patterns ignore case; each gets a cheap gate (see ``required_words``) so most never run.
    ``need`` names the gate by hand where the first words of a pattern are common ones: every
    match must contain one of them (lower case); the tests hold each rule to that."""
    compiled = re.compile(pattern, re.IGNORECASE)
    _GATES[compiled] = frozenset(need) if need is not None else required_words(pattern)
    return compiled


_GATES: dict[re.Pattern[str], frozenset[str] | None] = {}


def required_words(pattern: str) -> frozenset[str] | None:
    """Fragments of which every match must contain at least one, read off the parsed pattern;
    None when no such set can be proven. Checking them with ``in`` on the lower-cased draft is
    much cheaper than running the regex, and never skips a match."""
    from re import _parser  # type: ignore[attr-defined]

    return _need(list(_parser.parse(pattern, re.IGNORECASE)))


def _need(items: list) -> frozenset[str] | None:  # type: ignore[type-arg]
    from re import _constants as c  # type: ignore[attr-defined]

    run: list[str] = []
    best: frozenset[str] | None = None

    def close() -> None:
        nonlocal best, run
        if len(run) >= 3 and best is None:
            best = frozenset({"".join(run).lower()})
        run = []

    for op, arg in items:
        if op is c.LITERAL:
            run.append(chr(arg))
            continue
        close()
        found: frozenset[str] | None = None
        if op is c.SUBPATTERN:
            found = _need(list(arg[-1]))
        elif op is c.BRANCH:
            parts = [_need(list(b)) for b in arg[1]]
            found = None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            found = _need(list(arg[2]))
        if found is not None and best is None:
            best = found
    close()
    return best


def hits_spans(pattern: re.Pattern[str], doc: Doc) -> Iterable[re.Match[str]]:
    """Matches of one gated pattern."""
    gate = _GATES.get(pattern)
    if gate is not None and gate.isdisjoint(_present(doc)):
        return ()
    return pattern.finditer(doc.text)


def _present(doc: Doc) -> frozenset[str]:
    """Every gate word in the draft, found in one pass (Aho-Corasick) instead of one search per
    word per pattern, then shared by all the patterns."""
    found = doc.memo.get("gate_words")
    if found is None:
        automaton = _automaton()
        found = doc.memo["gate_words"] = frozenset(word for _, word in automaton.iter(doc.lower)) if len(automaton) else frozenset()
    return found


# Built on first use, and again if patterns were added since (they only ever are, at import).
_AUTOMATON: dict[int, Any] = {}


def _automaton() -> Any:
    automaton = _AUTOMATON.get(len(_GATES))
    if automaton is None:
        automaton = ahocorasick.Automaton()
        for word in frozenset().union(*(g for g in _GATES.values() if g)):
            automaton.add_word(word, word)
        if len(automaton):
            automaton.make_automaton()
        _AUTOMATON.clear()
        _AUTOMATON[len(_GATES)] = automaton
    return automaton


class RuleIndex:
    """A kind's patterns, indexed by their gate words: a draft runs only the patterns whose words
    it contains (and those with no gate), in their written order. Checking each pattern's gate in
    turn cost more than running the few patterns that pass it."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self.ungated: list[int] = []
        self.by_word: dict[str, list[int]] = {}
        for i, (pattern, _, _) in enumerate(self.rules):
            gate = _GATES.get(pattern)
            if gate is None:
                self.ungated.append(i)
            for word in gate or ():
                self.by_word.setdefault(word, []).append(i)
        self.words = frozenset(self.by_word)

    def hits(self, kind: RuleKind, doc: Doc) -> list[Hit]:
        present = _present(doc) & self.words
        if not present and not self.ungated:
            return []  # the usual case: none of this kind's gate words is in the draft
        chosen = set(self.ungated)
        for word in present:
            chosen.update(self.by_word[word])
        out = []
        for i in sorted(chosen):
            pattern, reason, strength = self.rules[i]
            out += [Hit(kind, m.start(), m.end(), reason, strength) for m in pattern.finditer(doc.text)]
        return out


def extra_term_hits(kind: RuleKind, doc: Doc, ctx: Context, reason: str) -> Iterable[Hit]:
    if kind not in ctx.extra_terms:
        return
    for term in ctx.extra_terms[kind]:
        for m in re.finditer(r"\b" + re.escape(term) + r"\b", doc.text, re.IGNORECASE):
            yield Hit(kind, m.start(), m.end(), reason)


def registry() -> dict[RuleKind, Detector]:
    from . import conduct, content, privacy

    table: dict[RuleKind, Detector] = {}
    for module in (conduct, content, privacy):
        table.update(module.DETECTORS)
    return table
