"""The offensive-language model that ships inside ``alt-profanity-check``, loaded on first use.

Loading it imports scikit-learn (about a second), so nothing imports this at start-up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence


@lru_cache(maxsize=1)
def _model() -> Any:
    from profanity_check import predict_prob

    return predict_prob


def score(texts: Sequence[str]) -> list[float]:
    """Probability that each text is offensive, in one vectorised call."""
    if not texts:
        return []
    return [float(p) for p in _model()(list(texts))]


def warm() -> None:
    """Load the model now, so the first real check is as fast as the rest."""
    score(["warm up"])
