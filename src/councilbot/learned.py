"""The checker's learned second opinion: two small linear models over words and word pairs,
trained on the labelled council drafts (``scripts/train_drafts_model.py``) and shipped as
weights in ``models/drafts.json``.

Why: the detectors' patterns miss what they were never written for (sarcasm, hints, euphemism).
A model that has read a few hundred drafts of each kind catches much of that. It only speaks when
the patterns found nothing to block, and a finding it makes cites the clause of the kind of rule
the draft most resembles. Usually it asks for a check; only when it is as sure as it is about
almost no fine draft (cross-validated) does it answer as that rule does.

Scoring is plain Python (a dictionary lookup per word), as scikit-learn's TfidfVectorizer and
LogisticRegression compute it (tests check they agree), so using it costs no start-up time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's token_pattern
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@dataclass(frozen=True)
class Model:
    drafts: int
    threshold: float
    block_threshold: float
    binary: dict[str, list[float]]
    binary_intercept: float
    classes: tuple[str, ...]
    kinds: dict[str, list[float]]
    kind_intercepts: tuple[float, ...]


@lru_cache(maxsize=1)
def model() -> Model:
    data: dict[str, Any] = json.loads(resources.files("councilbot.models").joinpath("drafts.json").read_text(encoding="utf-8"))
    return Model(drafts=int(data["drafts"]), threshold=float(data["threshold"]),
                 block_threshold=float(data["block_threshold"]), binary=data["binary"]["terms"],
                 binary_intercept=float(data["binary"]["intercept"]), classes=tuple(data["kinds"]["classes"]),
                 kinds=data["kinds"]["terms"], kind_intercepts=tuple(data["kinds"]["intercepts"]))


def _features(text: str, terms: dict[str, list[float]]) -> dict[str, float]:
    """Sublinear TF-IDF over words and word pairs, l2-normalised, for the terms the model knows."""
    words = _TOKEN.findall(text.lower())
    counts: dict[str, int] = {}
    for gram in (*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))):
        if gram in terms:
            counts[gram] = counts.get(gram, 0) + 1
    weights = {g: (1.0 + math.log(n)) * terms[g][0] for g, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in weights.values()))
    return {g: v / norm for g, v in weights.items()} if norm else {}


def probability(text: str) -> float:
    """How likely the policies say not to post ``text``, judged on its words alone."""
    m = model()
    x = _features(text, m.binary)
    z = m.binary_intercept + sum(v * m.binary[g][1] for g, v in x.items())
    return 1.0 / (1.0 + math.exp(-z))


def flagged(text: str) -> bool:
    return probability(text) >= model().threshold


# A short draft gives a bag of words too little to go on: a dozen words, two of them "we all know",
# can score as high as a long veiled threat. Below this many words the model only ever asks for a check.
MIN_WORDS_TO_BLOCK = 15


def words(text: str) -> int:
    return len(_TOKEN.findall(text))


def sure(text: str, p: float) -> bool:
    """Whether the model may answer as the rule does, not just ask for a check."""
    return p >= model().block_threshold and words(text) >= MIN_WORDS_TO_BLOCK


def likely_kind(text: str, allowed: Iterable[str]) -> str | None:
    """The kind of rule ``text`` most resembles, among ``allowed``."""
    m = model()
    x = _features(text, m.kinds)
    scores = {c: m.kind_intercepts[i] + sum(v * m.kinds[g][i + 1] for g, v in x.items()) for i, c in enumerate(m.classes)}
    usable = [c for c in scores if c in set(allowed)]
    return max(usable, key=lambda c: scores[c]) if usable else None


def worst_sentence(text: str) -> tuple[int, int]:
    """The span of the sentence that weighs most towards "do not post": the evidence to quote."""
    spans = [(s.start(), s.end()) for s in _SENTENCE.finditer(text) if s.group().strip()]
    if len(spans) <= 1:
        return (0, len(text))
    return max(spans, key=lambda s: probability(text[s[0]:s[1]]))
