"""Policy lookup: the council's own clauses ranked by BM25 (rank-bm25), with synonyms, so
"photos of kids" finds the parental-permission clause."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rank_bm25 import BM25Plus

from .pack import Clause, Pack

_STOP = frozenset(
    "a an the of to and or in on for is are be can i we you it my our your this that with at by from as do does "
    "may might must should would could will what who whom which when where how about any if me us they their".split()
)
# Plain words people use, mapped onto the words policies use.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "kids": ("children", "minors"), "kid": ("children", "minors"), "child": ("children", "minors"),
    "children": ("minors",), "pupils": ("children", "minors"), "school": ("children",),
    "photo": ("photographs", "photographs", "pictures", "image"), "photos": ("photographs", "pictures", "image"),
    "pictures": ("photographs",), "picture": ("photographs",), "pics": ("photographs",),
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
    "thank": ("cite", "reference"), "mention": ("cite", "reference"), "residents": ("residents", "individual"),
    "disagree": ("disagreement",), "disagreement": ("final", "say"),
    "software": ("download", "software"), "app": ("software", "download"),
    "song": ("copyright",), "songs": ("copyright",), "music": ("copyright",), "track": ("copyright",),
    "copied": ("copyright",), "copy": ("copyright",),
    "password": ("secure", "security"), "hacked": ("security", "secure"),
    "reply": ("response", "respond"), "comments": ("response", "comments"),
}


def tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [_stem(w) for w in words if w not in _STOP]


def _stem(word: str) -> str:
    """A light stem, enough to meet 'photographs' with 'photograph' and 'posts' with 'post'."""
    for suffix in ("ing", "ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def expand(question: str) -> list[str]:
    out: list[str] = []
    for word in re.findall(r"[a-z0-9]+", question.lower()):
        if word in _STOP and word not in SYNONYMS:
            continue
        out.append(_stem(word))
        out.extend(_stem(s) for s in SYNONYMS.get(word, ()))
    return out


@dataclass(frozen=True)
class Answer:
    answer: str
    clauses: tuple[Clause, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "answer": self.answer,
            "clauses": [{"id": c.id, "text": c.text, "section": c.section} for c in self.clauses],
        }


class Index:
    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.clauses = pack.clauses
        corpus = [tokens(f"{c.section} {c.text} {' '.join(c.keywords)} {' '.join(c.keywords)}") for c in self.clauses]
        self.vocab = [set(doc) for doc in corpus]
        # BM25+ keeps a positive weight for terms in half the clauses, which small packs need.
        self.bm25 = BM25Plus(corpus)

    def ask(self, question: str, limit: int = 3) -> Answer:
        query = expand(question) + [_stem(s) for w in self.pack.synonyms for s in self.pack.synonyms[w] if w in question.lower()]
        if not query:
            return Answer(_nothing(self.pack), ())
        terms = set(query)
        scores = self.bm25.get_scores(query)
        matching = [i for i in range(len(self.clauses)) if self.vocab[i] & terms]
        if not matching:
            return Answer(_nothing(self.pack), ())
        floor = min(scores)
        ranked = sorted(matching, key=lambda i: -scores[i])
        best = scores[ranked[0]] - floor
        chosen = tuple(self.clauses[i] for i in ranked[:limit] if scores[i] - floor >= best * 0.45)
        top = chosen[0]
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


def _nothing(pack: Pack) -> str:
    return (f"I could not find that in the {pack.council} social media policy. "
            f"Try other words, or ask the Clerk. ({pack.contact_line.split('.')[0]}.)")


_INDEXES: dict[int, Index] = {}


def index_for(pack: Pack) -> Index:
    """Built once per pack: packs are immutable once loaded."""
    index = _INDEXES.get(id(pack))
    if index is None or index.pack is not pack:
        index = _INDEXES[id(pack)] = Index(pack)
    return index


def ask(pack: Pack, question: str) -> Answer:
    return index_for(pack).ask(question)
