"""What the checker says back: each piece of evidence and each explanation once, and a private
person's home address treated as the personal data it is (the council's own addresses are not)."""

from __future__ import annotations

import pytest

from councilbot.checker import Draft, Finding, check
from councilbot.detectors import Hit
from councilbot.kinds import RuleKind, Verdict
from councilbot.pack import load_pack
from councilbot.render import check_reply
from councilbot.text import Doc

ALSAGER = load_pack("alsager")
CARY = load_pack("castle-cary")
PACKS = [ALSAGER, CARY]


def finding(text: str, kind: str, pack=ALSAGER, where: str = "council") -> Finding:
    result = check(Draft(text, where), pack)
    [found] = [f for f in result.findings if f.kind == kind]
    return found


# ---------------------------------------------------------------- evidence and explanations, once


@pytest.mark.parametrize("text,kind,quotes", [
    # "Roberts Landscapes Ltd" lies inside "Thanks to Roberts Landscapes Ltd": one quote, not two.
    ("Thanks to Roberts Landscapes Ltd for the new benches.", "third-party-citation", ["Thanks to Roberts Landscapes Ltd"]),
    # "Labour" again, later: already quoted in "Vote Labour".
    ("Vote Labour on Thursday! Labour will fix the bypass.", "political", ["Vote Labour"]),
    # Three different accusations stay three quotes, in the order the draft has them.
    ("Mr Jones is a liar, Mr Jones is a crook, and Mr Jones took bribes.", "defamation",
     ["is a liar", "is a crook", "Mr Jones took bribes"]),
])
def test_evidence_quotes_each_passage_once_in_the_draft_s_order(text: str, kind: str, quotes: list[str]) -> None:
    assert finding(text, kind).evidence.split(" … ") == quotes


def test_overlapping_and_touching_spans_are_one_quote() -> None:
    from councilbot.checker import _evidence

    doc = Doc("Dave Jones is a liar. Dave Jones is a liar and a thief.")
    hits = [Hit(RuleKind.DEFAMATION, 11, 20, "x"), Hit(RuleKind.DEFAMATION, 0, 10, "x"),  # touching: "Dave Jones" + "is a liar"
            Hit(RuleKind.DEFAMATION, 5, 15, "x"),  # overlapping both
            Hit(RuleKind.DEFAMATION, 33, 42, "x")]  # "is a liar" again, further on
    assert _evidence(doc, hits) == "Dave Jones is a liar"


@pytest.mark.parametrize("text,kind,reason", [
    ("Councillor Smith stole the money. He is a liar and a crook, brown envelopes everywhere.", "defamation",
     "an accusation of wrongdoing"),
    ("Huge thanks to Roberts Landscapes Ltd, and to Bob Smith at the Swan for the raffle prizes.", "third-party-citation",
     "naming a resident"),
])
def test_an_explanation_says_each_thing_once(text: str, kind: str, reason: str) -> None:
    found = finding(text, kind).explanation.split(". ")[0]
    assert found.startswith("Found ") and found.count(reason) == 1, found


def test_a_clause_and_a_fix_two_findings_share_are_written_out_once() -> None:
    result = check(Draft("Thanks to Mrs Brown for reporting the fly-tipping on Elm Street."), ALSAGER)
    assert {"personal-data", "third-party-citation"} <= set(result.kinds)  # both cite ATC-MN-7
    [clause] = {f.clause_text for f in result.findings if f.clause == "ATC-MN-7"}
    reply = check_reply(result, ALSAGER.council).plain()
    assert reply.count(clause) == 1 and "ATC-MN-7 (Town Councillors and employees must not): as quoted above." in reply
    [fix] = {f.fix for f in result.findings if f.clause == "ATC-MN-7"}
    assert reply.count(fix) == 1 and "Fix: as above." in reply


# ---------------------------------------------------------------- home addresses


HOME_ADDRESSES = [
    ("Thanks to Mrs Brown of 14 Elm Street for reporting the fly-tipping.", "Mrs Brown of 14 Elm Street"),
    ("Well done to Dave Jones at 14 Elm Street for the best front garden.", "Dave Jones at 14 Elm Street"),
    ("Our volunteer of the year is Susan Hale of 9 Meadow Drive, who has run the lunch club for ten years.",
     "Susan Hale of 9 Meadow Drive"),
    ("Thank you to Mr K. Oduya of 5 Orchard Lane for reporting the broken streetlight.", "Mr K. Oduya of 5 Orchard Lane"),
    ("Congratulations to Dave Jones of ST7 2AB on winning the garden prize.", "Dave Jones of ST7 2AB"),
    ("The lady at No. 22 Brookhouse Road has had her purse taken again.", "lady at No. 22 Brookhouse Road"),
    ("Allotment rent still owed by J. Platt (12 Heath End Road).", "J. Platt (12 Heath End Road"),
    ("We've had complaints about the hedge at 3 Church Road, Mr Phil Dawson, and we will write again.", "3 Church Road, Mr Phil Dawson"),
    ("Would the residents of 41 Kent Avenue please move their bins off the pavement.", "residents of 41 Kent Avenue"),
    # Typed in small letters, but with the postcode and "lives at": a home address all the same.
    ("Mrs Jones lives at 14 station road, ST7 2AB and never cuts her hedge.", "lives at 14 station road, ST7 2AB"),
]


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.id)
@pytest.mark.parametrize("text,quoted", HOME_ADDRESSES)
def test_a_private_person_s_home_address_is_do_not_post_like_their_phone_number(text: str, quoted: str | None, pack) -> None:
    phone = finding("Please ring Dave Jones on 07700 900123 about the allotment.", "personal-data", pack)
    found = finding(text, "personal-data", pack)
    assert found.verdict is Verdict.DO_NOT_POST is phone.verdict
    assert found.basis == "detector"  # the detectors know this; it does not rest on the judge
    assert found.clause == phone.clause == pack.clauses_of(RuleKind.PERSONAL_DATA)[0].id  # the personal-data clause
    if quoted is not None:
        assert quoted in found.evidence


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.id)
@pytest.mark.parametrize("text", [
    "Full Council meets on Monday at 7pm at the Town Hall, High Street, Alsager ST7 2AB. All welcome.",
    "Council meeting on Monday at 7pm at the Civic Centre, 12 Lawton Road.",
    "Our offices at 14 Sandbach Road, ST7 2AB are open Monday to Friday, 9 till 1.",
    "The Town Council offices, 14 Sandbach Road, Alsager ST7 2AB, are open 9 till 1.",
    "The quiz night is at the Community Centre, 3 Station Road, on Friday at 7.30pm.",
    "Christmas lights switch-on: 12 High Street (the Market House) at 5pm on Saturday.",
    "The hall is at 1 Bailey Hill Business Units; planning application 24/0012 is on the website.",
])
def test_the_council_s_own_addresses_and_venues_are_not_personal_data(text: str, pack) -> None:
    assert "personal-data" not in check(Draft(text), pack).kinds


def test_an_address_given_as_nobody_s_is_only_a_hint() -> None:
    """A street address alone ("the pothole outside 14 Elm Street") is a hint for the judge to weigh,
    as before: the detectors block an address only when it is given as someone's, or in full."""
    for text in ("The pothole outside 14 Elm Street has been filled.", "Road closed from 2 Station Road to the bridge on Sunday."):
        assert all(f.basis != "detector" for f in check(Draft(text), ALSAGER).findings if f.kind == "personal-data"), text
