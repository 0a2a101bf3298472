"""The gates that let most patterns skip a draft must never skip one the pattern matches."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from councilbot.detectors import _GATES, registry

registry()  # import every detector module, so every pattern is registered
GATED = [(pattern, gate) for pattern, gate in _GATES.items() if gate is not None]


def test_most_patterns_are_gated() -> None:
    assert len(GATED) >= 0.9 * len(_GATES)


@pytest.mark.parametrize("pattern,gate", GATED, ids=[p.pattern[:40] for p, _ in GATED])
def test_a_draft_the_pattern_matches_always_passes_its_gate(pattern: re.Pattern[str], gate: frozenset[str]) -> None:
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(text=st.from_regex(pattern, fullmatch=False))
    def holds(text: str) -> None:
        if pattern.search(text):
            lower = text.lower()
            assert any(word in lower for word in gate), (text, sorted(gate))

    holds()
