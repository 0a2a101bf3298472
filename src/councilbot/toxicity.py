"""The offensive-language model that ships inside ``alt-profanity-check``, without paying for
scikit-learn on every start.

The model is a unigram TF-IDF vectoriser and five sigmoid-calibrated linear SVMs. On first use
its weights are read from the package (which imports scikit-learn, about a second) and kept in a
small cache file; after that, scoring is a dictionary lookup per word and gives the same
probabilities as ``profanity_check.predict_prob`` (tests check they agree).
"""

from __future__ import annotations

import json
import math
import os
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Sequence

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # the vectoriser's own token_pattern


def cache_path() -> Path:
    base = os.environ.get("COUNCILBOT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "councilbot")
    version = metadata.version("alt-profanity-check")
    return Path(base) / f"profanity-model-{version}.json"


def _extract() -> dict[str, object]:
    """Read the shipped model's weights (the one place scikit-learn is imported)."""
    from profanity_check import profanity_check as pc

    vec, model = pc.vectorizer, pc.model
    params = vec.get_params()
    if params["ngram_range"] != (1, 1) or params["norm"] != "l2" or params["sublinear_tf"] or not params["lowercase"]:
        raise RuntimeError("unexpected profanity model layout")
    idf = vec.idf_
    columns = []
    for cc in model.calibrated_classifiers_:
        est, cal = cc.estimator, cc.calibrators[0]
        columns.append((est.coef_[0], float(est.intercept_[0]), float(cal.a_), float(cal.b_)))
    weights = {word: [float(idf[i])] + [float(c[0][i]) for c in columns] for word, i in vec.vocabulary_.items()}
    return {"weights": weights, "intercepts": [c[1] for c in columns], "a": [c[2] for c in columns], "b": [c[3] for c in columns]}


@lru_cache(maxsize=1)
def _model() -> dict[str, object]:
    path = cache_path()
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        pass
    data = _extract()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home still works, just slower to start
    return data


def _score_one(text: str, weights: dict[str, list[float]], intercepts: list[float], a: list[float], b: list[float]) -> float:
    counts: dict[str, int] = {}
    for tok in _TOKEN.findall(text.lower()):
        if tok in weights:
            counts[tok] = counts.get(tok, 0) + 1
    k = len(intercepts)
    if not counts:
        decisions = intercepts
    else:
        tfidf = {w: n * weights[w][0] for w, n in counts.items()}
        norm = math.sqrt(sum(v * v for v in tfidf.values()))
        decisions = [intercepts[j] + sum(v * weights[w][j + 1] for w, v in tfidf.items()) / norm for j in range(k)]
    return sum(1.0 / (1.0 + math.exp(a[j] * decisions[j] + b[j])) for j in range(k)) / k


def score(texts: Sequence[str]) -> list[float]:
    """Probability that each text is offensive."""
    if not texts:
        return []
    m = _model()
    weights, intercepts, a, b = m["weights"], m["intercepts"], m["a"], m["b"]
    return [_score_one(t, weights, intercepts, a, b) for t in texts]  # type: ignore[arg-type]


def warm() -> None:
    """Load the model now, so the first real check is as fast as the rest."""
    score(["warm up"])
