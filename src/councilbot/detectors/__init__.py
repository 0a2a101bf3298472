"""Detectors keyed by rule kind: each finds spans of a draft that may breach that kind of rule.

A detector knows English, not any council: which kinds apply, how severe they are and
which clause to cite all come from the council's policy pack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Literal

from ..kinds import RuleKind
from ..text import Doc

Strength = Literal["strong", "soft"]


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


def rx(pattern: str) -> re.Pattern[str]:
    """Patterns are matched on the lower-cased draft, with word boundaries written out."""
    return re.compile(pattern, re.IGNORECASE)


def hits_for(
    kind: RuleKind, doc: Doc, rules: Iterable[tuple[re.Pattern[str], str, Strength]]
) -> Iterable[Hit]:
    for pattern, reason, strength in rules:
        for m in pattern.finditer(doc.text):
            yield Hit(kind, m.start(), m.end(), reason, strength)


def extra_term_hits(kind: RuleKind, doc: Doc, ctx: Context, reason: str) -> Iterable[Hit]:
    for term in ctx.extra_terms.get(kind, ()):
        for m in re.finditer(r"\b" + re.escape(term) + r"\b", doc.text, re.IGNORECASE):
            yield Hit(kind, m.start(), m.end(), reason)


def registry() -> dict[RuleKind, Detector]:
    from . import conduct, content, privacy

    table: dict[RuleKind, Detector] = {}
    for module in (conduct, content, privacy):
        table.update(module.DETECTORS)
    return table
