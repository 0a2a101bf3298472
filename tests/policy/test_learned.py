"""The learned second opinion: the shipped weights are what the training script makes, scored in
plain Python exactly as scikit-learn would, and they catch what the patterns were not written for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from councilbot import learned
from councilbot.checker import Draft, check
from councilbot.kinds import Verdict
from councilbot.pack import load_pack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_drafts_model as script
    finally:
        sys.path.pop(0)
    return script, script.fit(script.training_rows())


def test_the_shipped_model_is_what_the_script_trains_and_scores_the_same(trained) -> None:  # type: ignore[no-untyped-def]
    script, (binary, kinds, threshold, figures) = trained
    assert learned.model().threshold == pytest.approx(threshold, abs=1e-3)
    assert learned.model().block_threshold == pytest.approx(figures["block_threshold"], abs=1e-3)
    unseen = [json.loads(line)["text"] for name in script.HELD_OUT
              for line in (ROOT / f"tests/data/{name}.jsonl").read_text().splitlines()]
    expected = binary.predict_proba(unseen)[:, 1]
    for text, p in zip(unseen, expected, strict=True):
        assert learned.probability(text) == pytest.approx(p, abs=1e-3), text
    classes = learned.model().classes
    assert [learned.likely_kind(t, classes) for t in unseen] == list(kinds.predict(unseen))


def test_the_held_out_set_was_kept_out_of_training(trained) -> None:  # type: ignore[no-untyped-def]
    script, _ = trained
    assert not set(script.HELD_OUT) & set(script.TRAINING_SETS)
    held_out = {json.loads(line)["text"] for name in script.HELD_OUT
                for line in (ROOT / f"tests/data/{name}.jsonl").read_text().splitlines()}
    assert len(held_out) >= 400 and not held_out & {r["text"] for r in script.training_rows()}


def test_it_blocks_alone_only_a_long_draft_it_is_sure_about() -> None:
    threat = ("To whoever keeps keying cars on the High Street: I know your face from the doorbell camera now. "
              "I won't be troubling the police with it. You'll find out soon enough what that means, believe me.")
    p = learned.probability(threat)
    assert p >= learned.model().block_threshold and learned.sure(threat, p)
    result = check(Draft(threat, "personal", "twitter"), load_pack("castle-cary"))
    assert result.verdict is Verdict.DO_NOT_POST and "rewrite it" in result.findings[0].explanation
    # The same words cut short: too little for a bag of words to go on, so at most a check.
    short = "We all know who you are now. You'll find out what that means."
    assert learned.words(short) < learned.MIN_WORDS_TO_BLOCK and not learned.sure(short, 0.99)


def test_it_asks_for_a_check_on_a_sweeping_remark_no_pattern_was_written_for() -> None:
    text = "That lot from the new estate have brought nothing but bother to this town since they moved in."
    result = check(Draft(text, "personal", "facebook"), load_pack("alsager"))
    assert result.verdict is Verdict.CAUTION  # a second pair of eyes, never a block on its own
    [finding] = result.findings
    assert finding.kind == "inflammatory" and finding.clause and finding.evidence == text
    assert "model trained on" in finding.explanation and "ask the Clerk" in finding.explanation


def test_it_only_cites_kinds_the_council_governs() -> None:
    """A pack without a political rule is not told a political draft breaks some other rule."""
    from councilbot.pack import Pack

    alsager = load_pack("alsager")
    no_politics = Pack.model_validate({**alsager.model_dump(), "clauses": [
        c for c in alsager.model_dump()["clauses"] if "political" not in c["kinds"]]})
    text = "Vote Labour on Thursday for a fairer Alsager!"
    assert learned.likely_kind(text, learned.model().classes) == "political"
    assert check(Draft(text, "council", "facebook"), no_politics).findings == ()


def test_it_stays_quiet_on_ordinary_council_business() -> None:
    for text in ("Bin collections move to Tuesday next week because of the bank holiday.",
                 "The Mayor's charity quiz raised £1,200 for the hospice. Thank you all!",
                 "Full Council meets on Monday at 7pm in the Civic Centre; the agenda is on our website."):
        assert learned.probability(text) < learned.model().threshold, text
