"""The labelled development set stays above the issue's targets (bench/policy_eval.py prints detail)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dev_set_meets_targets() -> None:
    spec = importlib.util.spec_from_file_location("policy_eval", ROOT / "bench" / "policy_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.evaluate()
    assert result["rows"] >= 200
    assert result["accuracy"] >= 0.9
    assert result["dnp_recall"] >= 0.97
    assert result["benign_blocked"] <= 0.03


@pytest.mark.parametrize("name,floors", [
    ("drafts_seventh", {"dnp_recall": 0.62, "dnp_passed": 0.13, "benign_blocked": 0.0375}),
    ("drafts_eighth", {"dnp_recall": 0.60, "dnp_passed": 0.10, "benign_blocked": 0.0}),
])
def test_the_held_out_sets_do_not_slip(name: str, floors: dict[str, float]) -> None:
    """Not targets (see the README for why), floors: the figures each held-out set gave when it was
    run, so a change that lets more bad posts through as "OK", or blocks more fine ones, is seen."""
    spec = importlib.util.spec_from_file_location("policy_eval", ROOT / "bench" / "policy_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.evaluate(ROOT / "tests" / "data" / f"{name}.jsonl")
    assert result["rows"] == 200
    assert result["dnp_recall"] >= floors["dnp_recall"]
    assert result["dnp_passed"] <= floors["dnp_passed"]
    assert result["benign_blocked"] <= floors["benign_blocked"]
