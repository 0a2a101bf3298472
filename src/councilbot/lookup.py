"""Policy lookup: the council's own clauses for a question in everyday words, or an honest "the policy
doesn't say" when none of them answers it.

Three kinds of evidence for each clause, weighed by a small model trained on labelled questions by
blind authors (``scripts/train_lookup.py``, shipped as ``models/lookup.json``):

* BM25 (rank-bm25) over the clause's words, its pack keywords and the labelling guide's plain-words
  description of each kind of rule the clause covers ("a shop's sale" meets "advertising");
* the judge's score for each kind of rule, read from the question ("can I share a pic of the Cubs?" reads
  as minors-media), mapped to the pack's clauses of that kind;
* how close the question is to labelled example questions that this clause answered, and to ones the
  policy did not cover.

A second small model says whether the best clause answers the question at all; below its threshold the
answer says the policy is silent, offers the nearest clauses, and suggests asking the Clerk.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

from rank_bm25 import BM25Plus

from . import judge
from .pack import Clause, Pack

MAX_QUESTION = 2_000  # characters: a question, not a document; longer ones are cut before any work

_STOP = frozenset(
    "a an the of to and or in on for is are be can i we you it my our your this that with at by from as do does "
    "may might must should would could will what who whom which when where how about any if me us they their "
    "am was were been has have had get got just there here so not no okay ok please".split()
)
# Plain words people use, mapped onto the words policies use.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "kids": ("children", "minors"), "kid": ("children", "minors"), "child": ("children", "minors"),
    "children": ("minors",), "pupils": ("children", "minors"), "school": ("children",),
    "photo": ("photographs", "pictures", "image"), "photos": ("photographs", "pictures", "image"),
    "pictures": ("photographs",), "picture": ("photographs",), "pics": ("photographs",), "pic": ("photographs",),
    "tweet": ("twitter", "tweets"), "tweets": ("twitter",), "x": ("twitter",),
    "fb": ("facebook",), "insta": ("instagram",), "ig": ("instagram",),
    "abuse": ("harassment", "threats", "abusive"), "abused": ("abuse", "harassment"), "trolled": ("abuse", "harassment"),
    "trolling": ("abuse", "harassment"), "troll": ("abuse", "harassment"), "trolls": ("abuse", "harassment"),
    "moderates": ("moderation", "moderator"), "moderate": ("moderation", "moderator"), "closed": ("private", "confidential"),
    "bullying": ("harassment",), "threatened": ("threats",), "harassed": ("harassment",),
    "swear": ("offensive", "language"), "swearing": ("offensive", "language"), "rude": ("offensive", "insulting"),
    "say": ("final", "decision"), "decides": ("decision", "final"), "approves": ("decision", "approve"),
    "boss": ("clerk",), "politics": ("political",), "party": ("political",), "election": ("political",),
    "advert": ("advertising",), "ads": ("advertising",), "business": ("advertising", "suppliers"),
    "address": ("address", "name", "privacy"), "phone": ("personal", "privacy"), "gdpr": ("data", "protection"),
    "secret": ("confidential", "private", "internal"), "private": ("confidential", "internal"),
    "libel": ("defamation", "libellous"), "defamatory": ("libel", "defamation"),
    "remove": ("remove", "moderators"), "delete": ("remove",), "takedown": ("remove",),
    "thank": ("cite", "reference"), "mention": ("cite", "reference"), "residents": ("individual",),
    "disagree": ("disagreement",), "disagreement": ("final", "say"),
    "software": ("download", "software"), "app": ("software", "download"),
    "song": ("copyright",), "songs": ("copyright",), "music": ("copyright",), "track": ("copyright",),
    "copied": ("copyright",), "copy": ("copyright",),
    "password": ("secure", "security"), "hacked": ("security", "secure"),
    "reply": ("response", "respond"), "comments": ("response", "comments"),
}
_WORD = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    """A light stem, enough to meet 'photographs' with 'photograph' and 'posts' with 'post'."""
    for suffix in ("ing", "ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def tokens(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


def expand(question: str) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(question.lower()):
        if word in _STOP and word not in SYNONYMS:
            continue
        out.append(_stem(word))
        out.extend(_stem(s) for s in SYNONYMS.get(word, ()))
    return out


@dataclass(frozen=True)
class Answer:
    answer: str
    clauses: tuple[Clause, ...]
    covered: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "answer": self.answer,
            "covered": self.covered,
            "clauses": [{"id": c.id, "text": c.text, "section": c.section} for c in self.clauses],
        }


@dataclass(frozen=True)
class LookupModel:
    rank_w: tuple[float, ...]
    rank_b: float
    cover_w: tuple[float, ...]
    cover_b: float
    covered_at: float
    kind_words: dict[str, str]  # the labelling guide's plain words for each kind of rule
    examples: dict[str, list[tuple[str, tuple[str, ...]]]]  # pack id -> (question, clause ids); () = not covered


@lru_cache(maxsize=1)
def lookup_model() -> LookupModel:
    data: dict[str, Any] = json.loads(resources.files("councilbot.models").joinpath("lookup.json").read_text(encoding="utf-8"))
    return LookupModel(rank_w=tuple(data["rank"]["w"]), rank_b=float(data["rank"]["b"]), cover_w=tuple(data["cover"]["w"]),
                       cover_b=float(data["cover"]["b"]), covered_at=float(data["covered_at"]), kind_words=data["kind_words"],
                       examples={k: [(q, tuple(c)) for q, c in v] for k, v in data["examples"].items()})


RANK_FEATURES = ("bm25", "bm25_share", "kind", "example", "keyword")
COVER_FEATURES = ("rank_score", "bm25", "kind", "example", "not_covered_example", "matched_share", "keyword")


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


class _Examples:
    """Labelled example questions of one pack, compared by their stemmed words weighted by rarity."""

    def __init__(self, examples: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        self.items = [(frozenset(tokens(q)), clauses) for q, clauses in examples]
        df: dict[str, int] = {}
        for words, _ in self.items:
            for w in words:
                df[w] = df.get(w, 0) + 1
        n = len(self.items) + 1
        self.idf = {w: math.log(n / c) + 1.0 for w, c in df.items()}

    def _weight(self, words: frozenset[str]) -> float:
        return sum(self.idf.get(w, math.log(len(self.items) + 1) + 1.0) for w in words)

    def similarities(self, question: frozenset[str]) -> list[tuple[float, tuple[str, ...]]]:
        if not question:
            return []
        qw = self._weight(question)
        out = []
        for words, clauses in self.items:
            shared = question & words
            if shared:
                out.append((self._weight(shared) / math.sqrt(qw * self._weight(words)), clauses))
        return out


class Index:
    def __init__(self, pack: Pack, model: LookupModel | None = None, examples: Sequence[tuple[str, tuple[str, ...]]] | None = None) -> None:
        self.pack = pack
        self.model = model or lookup_model()
        self.clauses = pack.clauses
        words = self.model.kind_words
        corpus = [tokens(f"{c.section} {c.text} {' '.join(c.keywords)} {' '.join(c.keywords)} "
                         + " ".join(words.get(k.value, "") for k in c.kinds)) for c in self.clauses]
        self.vocab = [set(doc) for doc in corpus]
        self.every_word = set().union(*self.vocab)
        # BM25+ keeps a positive weight for terms in half the clauses, which small packs need.
        self.bm25 = BM25Plus(corpus)
        self.examples = _Examples(self.model.examples.get(pack.id, []) if examples is None else examples)

    def features(self, question: str) -> tuple[list[list[float]], list[float]]:
        """Per clause, the ranking features (``RANK_FEATURES``); and the question's own: the best BM25
        score, its nearness to an uncovered example question, and the share of its words the policy has."""
        question = question[:MAX_QUESTION]
        query = expand(question) + [_stem(s) for w in self.pack.synonyms for s in self.pack.synonyms[w] if w in question.lower()]
        terms = set(query)
        n = len(self.clauses)
        scores = list(self.bm25.get_scores(query)) if query else [0.0] * n
        floor = min(scores)
        best = max(scores) - floor
        kinds = judge.kind_scores(judge.vectorise(question))
        asked = frozenset(tokens(question))
        near: dict[str, float] = {}
        not_covered = 0.0
        for sim, clauses in self.examples.similarities(asked):
            if not clauses:
                not_covered = max(not_covered, sim)
            for clause_id in clauses:
                near[clause_id] = max(near.get(clause_id, 0.0), sim)
        low = question.lower()
        rows = []
        for i, c in enumerate(self.clauses):
            bm = scores[i] - floor
            rows.append([bm, bm / best if best > 0 else 0.0,
                         max((kinds.get(k.value, 0.0) for k in c.kinds), default=0.0),
                         near.get(c.id, 0.0),
                         float(any(k.lower() in low for k in c.keywords))])
        matched = len(terms & self.every_word) / len(terms) if terms else 0.0
        return rows, [best, not_covered, matched]

    def rank_scores(self, rows: list[list[float]]) -> list[float]:
        m = self.model
        return [m.rank_b + sum(w * x for w, x in zip(m.rank_w, r, strict=True)) for r in rows]

    def cover_features(self, rows: list[list[float]], question_features: list[float]) -> tuple[list[float], list[float]]:
        """The inputs of "is it covered at all" (``COVER_FEATURES``), and each clause's rank score."""
        scores = self.rank_scores(rows)
        top = max(range(len(rows)), key=lambda i: scores[i])
        best, not_covered, matched = question_features
        return [scores[top], best, rows[top][2], rows[top][3], not_covered, matched, max(r[4] for r in rows)], scores

    def cover_probability(self, rows: list[list[float]], question_features: list[float]) -> tuple[float, list[float]]:
        x, scores = self.cover_features(rows, question_features)
        m = self.model
        return _sigmoid(m.cover_b + sum(w * v for w, v in zip(m.cover_w, x, strict=True))), scores

    def ask(self, question: str, limit: int = 3) -> Answer:
        rows, qf = self.features(question)
        if not rows or (qf[2] == 0.0 and not any(r[3] for r in rows)):
            # Not one word of the question is in the policy or in any example question.
            return Answer(_nothing(self.pack), (), covered=False)
        p, scores = self.cover_probability(rows, qf)
        ranked = sorted(range(len(self.clauses)), key=lambda i: -scores[i])
        if p < self.model.covered_at:
            nearest = tuple(self.clauses[i] for i in ranked[:2])
            return Answer(_silent(self.pack, nearest), nearest, covered=False)
        top_score = scores[ranked[0]]
        chosen = tuple(self.clauses[i] for i in ranked[:limit] if scores[i] >= top_score - 2.0)
        top = chosen[0]
        terms = set(expand(question[:MAX_QUESTION]))
        answer = f"{self.pack.council} policy, {top.section} ({top.id}): \u201c{_best_sentence(top.text, terms)}\u201d"
        return Answer(answer, chosen)


# A sentence ends at . ! or ? and a space, but not at "i.e." or "e.g.", which policies use mid-sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\bi\.e\.)(?<!\be\.g\.)(?<!\betc\.)\s+")


def _best_sentence(text: str, terms: set[str]) -> str:
    """The sentence of the clause that answers the question ("They must not publish or report on
    meetings ... meant to be private"), not merely its first; the first when none says more."""
    sentences = [part for part in _SENTENCE_END.split(text.strip()) if part] or [text]
    sentence = max(sentences, key=lambda s: len(set(tokens(s)) & terms))  # max keeps the first of equals
    return sentence if len(sentence) <= 400 else sentence[:397] + "…"


def _contact(pack: Pack) -> str:
    return pack.contact_line.split(".")[0]


def _nothing(pack: Pack) -> str:
    return (f"I could not find that in the {pack.council} social media policy. "
            f"Try other words, or ask the Clerk. ({_contact(pack)}.)")


def _silent(pack: Pack, nearest: Sequence[Clause]) -> str:
    near = ", ".join(f"{c.id} ({c.section})" for c in nearest)
    return (f"The {pack.council} social media policy doesn't say anything about that. "
            f"The nearest clauses are {near}, below, in case they help; otherwise please ask the Clerk. "
            f"({_contact(pack)}.)")


_INDEXES: dict[int, Index] = {}


def index_for(pack: Pack) -> Index:
    """Built once per pack: packs are immutable once loaded."""
    index = _INDEXES.get(id(pack))
    if index is None or index.pack is not pack:
        index = _INDEXES[id(pack)] = Index(pack)
    return index


def ask(pack: Pack, question: str) -> Answer:
    return index_for(pack).ask(question)
