"""The labelled development set stays above the issue's targets (bench/policy_eval.py prints detail)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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


def test_the_held_out_set_does_not_slip() -> None:
    """Not a target (see the README for why), a floor: the figures the held-out set gave when it was
    run, so a change that lets more bad posts through as "OK", or blocks more fine ones, is seen."""
    spec = importlib.util.spec_from_file_location("policy_eval", ROOT / "bench" / "policy_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.evaluate(ROOT / "tests" / "data" / "drafts_seventh.jsonl")
    assert result["rows"] == 200
    assert result["dnp_recall"] >= 0.62
    assert result["dnp_passed"] <= 0.13
    assert result["benign_blocked"] <= 0.0375
