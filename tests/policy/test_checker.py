"""The checker: verdicts, context, obfuscation, benign look-alikes, and the evidence it quotes."""

from __future__ import annotations

import pytest

from councilbot.checker import Draft, DraftError, check
from councilbot.kinds import Verdict
from councilbot.pack import load_pack

ALSAGER = load_pack("alsager")
CARY = load_pack("castle-cary")


def verdict(text: str, pack=ALSAGER, where: str = "council", platform: str = "facebook") -> tuple[Verdict, list[str]]:
    result = check(Draft(text, where, platform), pack)
    return result.verdict, result.kinds


@pytest.mark.parametrize("text", [
    "Weed killer spraying schedule for the cemetery paths next week.",
    "Heart attack awareness session at the library on Tuesday.",
    "Vote for the best hanging basket in Alsager this summer!",
    "Racist graffiti has been removed from the underpass by the council's team.",
    "Police warn of a phone scam targeting older residents in Alsager.",
    "Visiting Scunthorpe? The coach trip leaves at 8am.",
    "A Bloody Mary stall at the Christmas market, run by the Rotary Club.",
])
def test_benign_text_with_risky_words_passes(text: str) -> None:
    assert verdict(text) == (Verdict.OK, [])


@pytest.mark.parametrize("text", ["What a f*cking mess", "this is sh1t", "f u c k this", "shiiiit happens", "FUCK"])
def test_obfuscated_swearing_is_seen(text: str) -> None:
    got, kinds = verdict(text, where="personal")
    assert got is Verdict.DO_NOT_POST and "offensive-language" in kinds


def test_political_depends_on_where() -> None:
    text = "Vote Labour on Thursday for a fairer Cheshire!"
    assert verdict(text, where="council")[0] is Verdict.DO_NOT_POST
    assert verdict(text, where="personal") == (Verdict.CAUTION, ["political"])


def test_unapproved_channel_only_for_the_council_page() -> None:
    text = "Our litter pick is on Saturday at 10am."
    assert verdict(text, platform="instagram") == (Verdict.DO_NOT_POST, ["unapproved-channel"])
    assert verdict(text, pack=CARY, platform="instagram") == (Verdict.OK, [])
    assert verdict(text, pack=CARY, platform="twitter")[1] == ["unapproved-channel"]
    assert verdict(text, where="personal", platform="instagram") == (Verdict.OK, [])


def test_finding_cites_clause_quotes_evidence_and_fix() -> None:
    result = check(Draft("Please ring Mrs Jones on 07700 900123 about the allotment."), ALSAGER)
    assert result.verdict is Verdict.DO_NOT_POST
    finding = next(f for f in result.findings if f.kind == "personal-data")
    assert finding.clause == "ATC-MN-7"
    assert "written permission" in finding.clause_text
    assert "07700 900123" in finding.evidence
    assert finding.fix


def test_children_in_photos_is_caution_with_the_parental_permission_clause() -> None:
    result = check(Draft("Photos of the children at the carnival parade!"), ALSAGER)
    assert result.verdict is Verdict.CAUTION
    assert [f.clause for f in result.findings] == ["ATC-MN-10"]


def test_code_of_conduct_follows_councillors_to_personal_accounts() -> None:
    result = check(Draft("Cllr Smith is a total idiot", "personal"), CARY)
    assert result.verdict is Verdict.DO_NOT_POST
    assert "personal-attack" in result.kinds
    assert result.reminder and "viewed as a councillor" in " ".join(result.reminder)


def test_over_long_tweet_is_caution() -> None:
    result = check(Draft("Our spring clean-up is on Saturday. " * 10, "council", "twitter"), ALSAGER)
    assert result.verdict is Verdict.CAUTION and result.kinds == ["platform-limit"]


def test_councillor_direction_is_alsager_only() -> None:
    text = "Cllr Brown has asked us to post this about the new car park."
    assert "councillor-direction" in verdict(text)[1]
    assert "councillor-direction" not in verdict(text, pack=CARY)[1]


@pytest.mark.parametrize("text,message", [("", "empty"), ("   ", "empty"), ("x" * 10_001, "limit")])
def test_bad_drafts_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(DraftError, match=message):
        check(Draft(text), ALSAGER)
