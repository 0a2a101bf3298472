"""The held-out authors' drafts and questions do not slip below the figures they gave when last run.

Floors, not targets: a few points below the figures reported in the README, so a change that lets more
bad posts through, blocks more fine ones, or answers worse is seen, without the held-out set becoming
something to tune on (bench/policy_eval.py prints the detail)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import corpus  # noqa: E402


@pytest.fixture(scope="module")
def policy_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location("policy_eval", ROOT / "bench" / "policy_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_held_out_set_is_big_enough_and_kept_apart() -> None:
    held = corpus.drafts("heldout")
    authors = {r["author"] for r in held}
    assert len(held) >= 1000 and len(authors) >= 5
    assert not authors & {r["author"] for r in corpus.drafts("train")}
    # No near-copy of a training draft is left in it.
    assert corpus.near_copies(held, corpus.drafts("train"), 0.4) == []
    questions = corpus.questions("heldout")
    assert len(questions) >= 100
    assert not {corpus._same(q["question"]) for q in questions} & {corpus._same(q["question"]) for q in corpus.questions("train")}


def test_the_corpus_is_what_the_issue_asked_for() -> None:
    rows = corpus.drafts("train") + corpus.drafts("heldout")
    blind = [r for r in rows if not r["author"].startswith("earlier:")]
    assert len(blind) >= 5000 and len({r["author"] for r in blind}) >= 20
    assert sum(r["verdict"] == "ok" for r in blind) >= len(blind) / 3
    assert len({k for r in blind for k in r["kinds"]}) == 19
    for council, platforms in (("alsager", {"facebook", "twitter"}), ("castle-cary", {"facebook", "instagram", "youtube"})):
        for where in ("council", "personal"):
            assert platforms <= {r["platform"] for r in blind if r["council"] == council and r["where"] == where}
    questions = corpus.questions("train") + corpus.questions("heldout")
    assert len(questions) >= 400 and sum(not q["covered"] for q in questions) >= 80


def test_drafts_do_not_slip(policy_eval: ModuleType) -> None:
    r = policy_eval.evaluate()
    assert r["accuracy"] >= FLOORS["accuracy"]
    assert r["dnp_recall"] >= FLOORS["dnp_recall"]
    assert r["benign_blocked"] <= FLOORS["benign_blocked"]
    assert r["dnp_passed"] <= FLOORS["dnp_passed"]


def test_lookup_does_not_slip(policy_eval: ModuleType) -> None:
    q = policy_eval.evaluate_questions(corpus.questions("heldout"))
    assert q["top3_hit"] >= FLOORS["top3_hit"]
    assert q["silent_recall"] >= FLOORS["silent_recall"]
    assert q["wrongly_silent"] <= FLOORS["wrongly_silent"]


FLOORS = json.loads((Path(__file__).with_name("held_out_floors.json")).read_text(encoding="utf-8"))
