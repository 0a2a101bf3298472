"""Seeing through obfuscation ("f*ck", "sh1t", "f u c k", "shiiit") while keeping spans of the original."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i"})
_TOKEN = re.compile(r"[A-Za-z0-9@$*#!|]+(?:['’][A-Za-z]+)?")
_REPEATS = re.compile(r"(.)\1{2,}")


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    raw: str
    norm: str  # lower case, leetspeak undone, runs of 3+ letters cut to one; '*' and '#' kept as wildcards


def _normalise_token(raw: str) -> str:
    low = raw.lower()
    # Only undo leetspeak inside words that have letters; "2026" and "07700" stay numbers.
    if re.search(r"[a-z]", low):
        low = low.translate(_LEET)
    low = low.strip("!|.")
    return _REPEATS.sub(r"\1", low)


@dataclass(frozen=True)
class Doc:
    """A draft ready for the detectors: its text, a lower-cased copy, tokens with spans."""

    text: str
    model_score: float = 0.0

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        out = [Token(m.start(), m.end(), m.group(), _normalise_token(m.group())) for m in _TOKEN.finditer(self.text)]
        return tuple(out)

    @cached_property
    def spaced_words(self) -> tuple[Token, ...]:
        """Words written letter by letter ("f u c k", "s.h.i.t") joined back together."""
        out: list[Token] = []
        run: list[Token] = []
        for tok in (*self.tokens, None):
            if tok is not None and len(tok.norm) == 1 and tok.norm.isalpha() and (
                not run or tok.start - run[-1].end <= 2
            ):
                run.append(tok)
                continue
            if len(run) >= 3:
                norm = "".join(t.norm for t in run)
                out.append(Token(run[0].start, run[-1].end, self.text[run[0].start : run[-1].end], norm))
            run = [tok] if tok is not None and len(tok.norm) == 1 and tok.norm.isalpha() else []
        return tuple(out)

    def span(self, start: int, end: int) -> str:
        return self.text[start:end]

    def sentence_around(self, start: int, end: int) -> tuple[int, int]:
        """The sentence holding a span, for evidence that reads naturally."""
        left = max(self.text.rfind(c, 0, start) for c in ".!?\n")
        right_candidates = [i for i in (self.text.find(c, end) for c in ".!?\n") if i != -1]
        right = min(right_candidates) + 1 if right_candidates else len(self.text)
        return left + 1, right
