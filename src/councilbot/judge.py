"""The learned judge: a verdict (ok / caution / do not post) over the whole draft, and a score for each
kind of rule, from models trained on thousands of labelled drafts by blind authors
(``scripts/train_judge.py``, shipped as ``models/judge.npz``).

Why a model decides: patterns fit the drafts they were written for and miss the next person's way of
saying the same thing (insinuation, sarcasm, a veiled threat). Three small linear models, read together:

* a 3-way verdict over word and word-pair TF-IDF, with a copy of every term for the council's page and
  for a personal account, so "vote for me" can weigh differently in the two places; and the same over
  letter runs inside words (which see "f**kwits" near "fuckwits" and "councilors" in "councillors"), the
  two weighed together (``char_weight`` in the model's metadata);
* one score per kind of rule, so a finding cites the clause of the kind the draft most resembles;
* a combiner over those scores passed through the council's own severities (its pack), what the detectors
  found, the offensive-language model and the draft's length. The pack enters through its severities, so
  a new council's pack is judged without retraining.

It blocks only citing a kind of rule the draft reads like (``settle``) and never on a few words alone
(``decide``). Thresholds were chosen by cross-validation over whole authors (``scripts/train_judge.py``).
Scoring is a lookup per word and a few small dot products in numpy: well under a millisecond a draft.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np

from .kinds import Verdict

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's TfidfVectorizer token_pattern
CHAR_RANGE = (3, 5)  # letter runs of three to five, within words (scikit-learn's "char_wb")
VERDICTS: tuple[str, ...] = ("ok", "caution", "do_not_post")
WHERES: tuple[str, ...] = ("council", "personal")
# The combiner's inputs, in order (see ``combined_features``).
STAGE2: tuple[str, ...] = ("text_caution", "text_dnp", "kind_dnp", "kind_caution", "found_dnp", "found_caution",
                           "found_soft", "offensive", "personal", "length")


@dataclass(frozen=True)
class Model:
    meta: dict[str, Any]
    vocab: dict[str, int]
    idf: np.ndarray
    verdict_b: np.ndarray
    char_vocab: dict[str, int]
    char_idf: np.ndarray
    char_b: np.ndarray
    kind_w: np.ndarray  # (terms, kinds)
    kind_b: np.ndarray
    kinds: tuple[str, ...]
    terms: tuple[str, ...]  # row -> word or word pair, for quoting
    run_rows: dict[str, tuple[int, ...]]  # word -> its letter runs' rows, filled as words are met
    # Each place's 3-way weights (words, letter runs). The file keeps them as (rows, 9): ok/caution/dnp
    # for every place, then for the council's page, then for a personal account (``_placed``).
    word_by_place: dict[str, np.ndarray]
    char_by_place: dict[str, np.ndarray]
    stage2_w: np.ndarray  # (3, len(STAGE2))
    stage2_b: np.ndarray
    block_at: float  # P(do not post) from which the judge blocks
    caution_at: float  # P(caution or worse) from which it asks for a check

    @property
    def drafts(self) -> int:
        return int(self.meta["drafts"])


def _load(raw: bytes) -> Model:
    data = np.load(io.BytesIO(raw), allow_pickle=False)
    meta = json.loads(bytes(data["meta"]).decode("utf-8"))
    terms = bytes(data["vocab"]).decode("utf-8").split("\n")
    runs = bytes(data["char_vocab"]).decode("utf-8").split("\n")
    return Model(meta=meta, vocab={t: i for i, t in enumerate(terms)}, terms=tuple(terms), run_rows={},
                 word_by_place=_placed(data["verdict_w"]), char_by_place=_placed(data["char_w"]), idf=data["idf"],
                 verdict_b=data["verdict_b"], char_vocab={t: i for i, t in enumerate(runs)}, char_idf=data["char_idf"],
                 char_b=data["char_b"], kind_w=data["kind_w"], kind_b=data["kind_b"], kinds=tuple(meta["kinds"]),
                 stage2_w=data["stage2_w"], stage2_b=data["stage2_b"], block_at=float(meta["block_at"]),
                 caution_at=float(meta["caution_at"]))


@lru_cache(maxsize=1)
def model() -> Model:
    return _load(resources.files("councilbot.models").joinpath("judge.npz").read_bytes())


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def grams(text: str, words: list[str] | None = None) -> list[str]:
    """Words and word pairs, as the vectoriser the model was trained with makes them."""
    words = _words(text) if words is None else words
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]


@dataclass(frozen=True)
class Vector:
    """A draft's known terms (as rows of the model) and their sublinear, l2-normalised TF-IDF weights."""

    rows: np.ndarray
    weights: np.ndarray


def _vector(rows: list[int], idf: np.ndarray) -> Vector:
    found, counts = np.unique(np.array(rows, dtype=np.int64), return_counts=True)
    weights = (1.0 + np.log(counts)) * idf[found]
    norm = float(np.sqrt(weights @ weights)) if len(found) else 0.0
    return Vector(found, weights / norm if norm else weights)


def vectorise(text: str, m: Model | None = None, words: list[str] | None = None) -> Vector:
    m = m or model()
    get = m.vocab.get
    return _vector([i for i in map(get, grams(text, words)) if i is not None], m.idf)


def _runs(word: str) -> list[str]:
    """One word's letter runs, exactly as scikit-learn's char_wb analyser makes them."""
    w = f" {word} "
    out: list[str] = []
    for n in range(CHAR_RANGE[0], CHAR_RANGE[1] + 1):
        offset = 0
        out.append(w[offset:offset + n])
        while offset + n < len(w):
            offset += 1
            out.append(w[offset:offset + n])
        if offset == 0:  # a word shorter than n is counted once
            break
    return out


def char_vectorise(text: str, m: Model | None = None) -> Vector:
    m = m or model()
    cache, get = m.run_rows, m.char_vocab.get
    rows: list[int] = []
    for word in text.lower().split():
        known = cache.get(word)
        if known is None:
            known = tuple(i for i in map(get, _runs(word)) if i is not None)
            # Words recur from draft to draft: each is cut into letter runs once. Not a stranger's
            # 10,000-letter "word", and never more than this many words.
            if len(word) <= 40:
                if len(cache) > 200_000:
                    cache.clear()
                cache[word] = known
        rows.extend(known)
    return _vector(rows, m.char_idf)


def _block(where: str) -> slice:
    offset = 3 + 3 * WHERES.index(where)
    return slice(offset, offset + 3)


def _placed(weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each place's weights (everywhere + that place), added up once at load rather than per draft."""
    return {where: np.ascontiguousarray(weights[:, 0:3] + weights[:, _block(where)]) for where in WHERES}


def text_logits(v: Vector, where: str, m: Model | None = None) -> np.ndarray:
    """The word model's 3-way logits for this place."""
    m = m or model()
    return np.asarray(m.verdict_b + v.weights @ m.word_by_place[where][v.rows], dtype=np.float64)


def char_logits(v: Vector, where: str, m: Model | None = None) -> np.ndarray:
    """The letter-run model's 3-way logits for this place."""
    m = m or model()
    return np.asarray(m.char_b + v.weights @ m.char_by_place[where][v.rows], dtype=np.float64)


def kind_scores(v: Vector, m: Model | None = None) -> dict[str, float]:
    """How much the draft reads like a breach of each kind of rule (0 to 1, independently)."""
    m = m or model()
    z = m.kind_b + v.weights @ m.kind_w[v.rows]
    return {k: 1.0 / (1.0 + math.exp(-float(s))) for k, s in zip(m.kinds, z, strict=True)}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return np.asarray(e / e.sum(), dtype=np.float64)


def words(text: str, found: list[str] | None = None) -> int:
    """Distinct words: "the the the the the the the the" is one word of evidence, not eight."""
    return len(set(_words(text) if found is None else found))


def combined_features(text_p: Sequence[float], kinds: Mapping[str, float], severity: Mapping[str, Verdict],
                      found: Mapping[str, bool], offensive: float, where: str, length: int) -> list[float]:
    """The combiner's inputs. ``severity`` is the council's verdict for each kind it governs, in this
    place: the pack decides which kinds can block here, the kind scores say how much the draft reads
    like each. ``found`` says what the detectors found (a certain finding that blocks, one that asks for
    care, a soft hint). ``length`` (in words) lets it trust a short draft's few words less."""
    def strongest(level: Verdict) -> float:
        return max((p for k, p in kinds.items() if severity.get(k) is level), default=0.0)

    def logit(p: float) -> float:
        p = min(max(p, 1e-4), 1 - 1e-4)
        return math.log(p / (1 - p))

    return [logit(text_p[1]), logit(text_p[2]), logit(strongest(Verdict.DO_NOT_POST)), logit(strongest(Verdict.CAUTION)),
            float(found.get("dnp", False)), float(found.get("caution", False)), float(found.get("soft", False)),
            logit(offensive), float(where == "personal"), math.log1p(length)]


# A bag of words needs words to go on: below this many distinct words, the judge alone asks for a check
# but never blocks ("Our new Instagram page!"). Cross-validation showed no loss at all up to this length.
MIN_WORDS_TO_BLOCK = 8


def decide(p: Sequence[float], length: int, block_at: float, caution_at: float) -> Verdict:
    """The judge's verdict from its probabilities (ok, caution, do not post) and the draft's length."""
    if p[2] >= block_at:
        return Verdict.DO_NOT_POST if length >= MIN_WORDS_TO_BLOCK else Verdict.CAUTION
    if p[1] + p[2] >= caution_at:
        return Verdict.CAUTION
    return Verdict.OK


@dataclass(frozen=True)
class Assessment:
    probabilities: tuple[float, float, float]  # ok, caution, do not post
    kinds: dict[str, float]
    vector: Vector
    length: int

    @property
    def verdict(self) -> Verdict:
        m = model()
        return decide(self.probabilities, self.length, m.block_at, m.caution_at)


def assess(text: str, where: str, severity: Mapping[str, Verdict], found: Mapping[str, bool], offensive: float) -> Assessment:
    m = model()
    said = _words(text)
    v = vectorise(text, m, said)
    length = words(text, said)
    cw = float(m.meta.get("char_weight", 0.5))
    text_p = (1 - cw) * _softmax(text_logits(v, where, m)) + cw * _softmax(char_logits(char_vectorise(text, m), where, m))
    kinds = kind_scores(v, m)
    x = np.array(combined_features([float(t) for t in text_p], kinds, severity, found, offensive, where, length), dtype=np.float64)
    p = _softmax(m.stage2_b + m.stage2_w @ x)
    return Assessment((float(p[0]), float(p[1]), float(p[2])), kinds, v, length)


# Words too common to explain anything on their own ("who", "her", "might"): never quoted alone.
_PLAIN = frozenset(
    "a an the of to and or in on for is are be can i we you it my our your this that with at by from as do does "
    "may might must should would could will what who whom which when where how about any if me us they their "
    "them he she him her his its was were been has have had get got just there here so not no all some one "
    "people everyone everybody anyone someone whoever".split())


# The judge blocks only with a clause that explains it: the draft must read at least this much like a
# kind of rule that blocks here. Otherwise it asks for a check, citing the rule the draft most resembles.
# (0.2, 0.35 and 0.5 tried in cross-validation, scripts/train_judge.py: higher fits cost recall.)
MIN_KIND_FIT = 0.2


def settle(verdict: Verdict, kinds: Mapping[str, float], severity: Mapping[str, Verdict]) -> tuple[Verdict, str | None]:
    """The judge's verdict as the council's own rules allow it, and the kind of rule to cite."""
    if verdict is Verdict.OK:
        return verdict, None
    usable = [k for k, v in severity.items() if v is not Verdict.OK]
    if not usable:
        return Verdict.OK, None

    def best(level: Verdict) -> str | None:
        fitting = [k for k in usable if severity[k] is level and kinds.get(k, 0.0) >= MIN_KIND_FIT]
        return max(fitting, key=lambda k: kinds.get(k, 0.0), default=None)

    if verdict is Verdict.DO_NOT_POST and (kind := best(Verdict.DO_NOT_POST)):
        return verdict, kind
    return Verdict.CAUTION, best(Verdict.CAUTION) or max(usable, key=lambda k: kinds.get(k, 0.0))


def weightiest(a: Assessment, where: str, verdict: Verdict, kind: str | None = None, limit: int = 3) -> list[str]:
    """The terms of the draft that weighed most towards ``verdict`` (for ``kind``, as the kind's own
    model reads them, when given): what the judge's reply quotes. A word pair wins over the words
    inside it; words too plain to explain anything alone are skipped."""
    m = model()
    v = a.vector
    if not len(v.rows):
        return []
    both = m.word_by_place[where][v.rows]
    cls = VERDICTS.index(verdict.value)
    push = v.weights * (both[:, cls] - both[:, 0])
    if kind in m.kinds:
        # The kind's own model names the words that make it that kind; the verdict model breaks ties.
        push = v.weights * m.kind_w[v.rows, m.kinds.index(kind)] + 0.25 * push
    chosen: list[str] = []
    for i in np.argsort(-push):
        if push[i] <= 0 or len(chosen) >= limit:
            break
        term = str(m.terms[v.rows[i]])
        if all(part in _PLAIN for part in term.split(" ")):
            continue
        if any(set(term.split(" ")) & set(c.split(" ")) for c in chosen):
            continue
        chosen.append(term)
    return chosen


def span_of(text: str, term: str) -> tuple[int, int] | None:
    """Where a term (one or two lower-cased words) sits in the original text."""
    parts = term.split(" ")
    pattern = r"\b" + r"\W+".join(re.escape(p) for p in parts) + r"\b"
    m = re.search(pattern, text, re.IGNORECASE)
    return (m.start(), m.end()) if m else None


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def sentence_around(text: str, start: int) -> tuple[int, int]:
    for s in _SENTENCE.finditer(text):
        if s.start() <= start < s.end():
            return (s.start(), s.end())
    return (0, len(text))
