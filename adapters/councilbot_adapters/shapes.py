"""Is a platform's JSON the shape it documents? A small structural check run at the HTTP door,
before an SDK or a translator reads the payload: they index and ``.get`` into it assuming the
documented shapes, and a request that is not one is answered 400, not with a crash (500).

A shape is a type (``str``), a tuple of alternatives (``(str, NULL)``), a dict (an object whose
listed keys, where present, have those shapes; other keys are free), a one-item list (a list of
that shape), ``Each(shape)`` (an object whose every value has that shape) or ``Id(limit)`` (a string
of at most ``limit`` characters: ids end up in the platform's URLs, and no real one is long)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NULL = type(None)


@dataclass(frozen=True)
class Each:
    shape: Any


@dataclass(frozen=True)
class Id:
    limit: int = 1024


def problem(value: Any, shape: Any, path: str = "body") -> str | None:
    """What is wrong with ``value`` (naming where), or None when it has ``shape``."""
    if isinstance(shape, tuple):
        found = [problem(value, alternative, path) for alternative in shape]
        return None if None in found else found[0]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{path} is not an object"
        for key, inner in shape.items():
            if key in value:
                found_one = problem(value[key], inner, f"{path}.{key}")
                if found_one:
                    return found_one
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{path} is not a list"
        return next((p for i, item in enumerate(value) if (p := problem(item, shape[0], f"{path}[{i}]"))), None)
    if isinstance(shape, Each):
        if not isinstance(value, dict):
            return f"{path} is not an object"
        return next((p for key, item in value.items() if (p := problem(item, shape.shape, f"{path}.{key}"))), None)
    if isinstance(shape, Id):
        if not isinstance(value, str):
            return f"{path} is not str"
        return None if len(value) <= shape.limit else f"{path} is longer than {shape.limit} characters"
    if isinstance(value, bool) and shape in (int, float):
        return f"{path} is not a number"
    return None if isinstance(value, shape) else f"{path} is not {getattr(shape, '__name__', shape)}"
