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


BENIGN_WITH_RISKY_WORDS = [
    "Weed killer spraying schedule for the cemetery paths next week.",
    "Heart attack awareness session at the library on Tuesday.",
    "Vote for the best hanging basket in Alsager this summer!",
    "Racist graffiti has been removed from the underpass by the council's team.",
    "Police warn of a phone scam targeting older residents in Alsager.",
    "Visiting Scunthorpe? The coach trip leaves at 8am.",
    "A Bloody Mary stall at the Christmas market, run by the Rotary Club.",
]


def test_benign_text_with_risky_words_is_mostly_ok() -> None:
    """No word list blocks these, and no detector finds anything in them. The judge may still read one
    that shares a bad draft's words as one: "Vote for the best hanging basket" is blocked as politics,
    a known false alarm (README)."""
    results = [check(Draft(text), ALSAGER) for text in BENIGN_WITH_RISKY_WORDS]
    assert all(f.basis == "judge" for r in results for f in r.findings), [r.findings for r in results]
    got = [r.verdict for r in results]
    assert got.count(Verdict.DO_NOT_POST) <= 1 and got.count(Verdict.OK) >= len(got) - 2, got


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


@pytest.mark.parametrize("text,blocked", [
    ("Any problems with the bins? Ring the office on 01270 873223, Monday to Friday.", False),  # the council's own line
    ("Please ring the owner, Dave Smith, at home, tel 01270 555123.", True),  # "tel" is no sign of an office
    ("The hall is at 1 Bailey Hill Business Units; planning application 24/0012 is on the website.", False),
])
def test_landlines_and_addresses_that_are_not_a_person_s(text: str, blocked: bool) -> None:
    result = check(Draft(text), ALSAGER)
    assert (result.verdict is Verdict.DO_NOT_POST) is blocked, result.findings
    if not blocked:
        assert "personal-data" not in result.kinds


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


# Look-alikes of the indirect phrasings below, written by an earlier round of work to catch loose
# patterns: short sentences that share the words of drafts that must not go out.
LOOK_ALIKES_BLOCKED_AT_MOST = 16  # 14 of the 41 when last measured (README)
LOOK_ALIKES = [
    "Step outside and enjoy the sunshine: the Mere path is open again.",
    "You'll be seeing us soon at the Christmas market stall!",
    "We've published the accounts so everyone can see exactly how the money is spent.",
    "The real genius behind the fete was our team of volunteers.",
    "Newcomers welcome! Dogs are not welcome on the football pitch, though.",
    "Ask yourself why recycling matters: the answer is on our website.",
    "Live music by The Cary Band at the summer fete on Saturday.",
    "Councillors will consider the bid at a closed session on Monday; the decision will be published.",
    "The item on the lease was taken in closed session; the resolution will be published when signed.",
    "At the Mayor's request, the flag will fly at half mast on Friday.",
    "It would be a shame if the event fell through, so please book a stall.",
    "Online login 24/7 to the Cheshire East bins portal.",
    "A set of *new* benches has been installed on Milton Park.",
    "#VoteForYourFavourite hanging basket closes on Friday.",
    "Item (9) on the agenda: photos for the new noticeboard.",
    "Come to the panto and you'll find out what happens to Dick Whittington!",
    "We all know what comes with those dark evenings: check your bike lights.",
    "Parking charges are bleeding this town dry, say traders in a Cheshire East survey.",
    "Police reminder: fines for dirty number plates start next month.",
    "Police appeal: cars keyed on Station Road overnight. Call 101 with information.",
    "Which one voted best hanging basket? Results on Friday!",
    "The council voted to close the road but you needn't worry: diversions are signed.",
    "The council voted for fireworks but it's not happening now because of the weather.",
    "Found this on the Cheshire East website: new bin collection dates.",
    "Welcome Cllr Priya Shah, co-opted for Alsager East ward.",
    "Great to see @SomersetCouncil sorting the drains on Station Road.",
    # Look-alikes of the patterns written from the sixth set's misses (a review found each one blocked).
    "Please bring an old bag for the litter pick.",
    "Meet the silly goat at the farm open day!",
    "The council cannot run a car park at a loss, so charges will start in April.",
    "We can't organise a fireworks display in a field this wet, so it moves to the Civic Centre.",
    "We know your kids love half-term, so the library has crafts every morning.",
    "Roll up for the only British family-run circus in the county, on Milton Park this weekend!",
    "Members of the public were asked to leave for the closed part of the meeting; the resolution will be published.",
    "Members voted to close the toilets. Residents who disagree can sign the petition at the Civic Centre.",
    "Parking wardens don't patrol on Sundays, but the two-hour limit still applies.",
    "The new booking form is not yet officially approved, so please keep using paper for now.",
    "Volunteers who are not vetted cannot work with children at the fete.",
    "Thank you to all our volunteers - you know who you are!",
    "Final warning: the consultation closes on Friday at 5pm.",
    "We spoke to Highways about the pothole on Crewe Road.",
    "Any problems with the bins? Ring the office on 01270 873223, Monday to Friday.",
]


def test_look_alikes_are_mostly_passed_and_never_blocked_by_a_pattern() -> None:
    """The judge reads meaning, so a short fine sentence that shares a bad draft's words can still
    worry it (see the README's figures); no detector may block one, and most must go through."""
    results = [check(Draft(text, "council", "facebook"), ALSAGER) for text in LOOK_ALIKES]
    for text, result in zip(LOOK_ALIKES, results, strict=True):
        assert all(f.basis != "detector" or f.verdict is not Verdict.DO_NOT_POST for f in result.findings), text
    blocked = [t for t, r in zip(LOOK_ALIKES, results, strict=True) if r.verdict is Verdict.DO_NOT_POST]
    assert len(blocked) <= LOOK_ALIKES_BLOCKED_AT_MOST, blocked


INDIRECT = [
    ("Our Youth Council members at their very first meeting", "minors-media", "council", "instagram"),
    ("Well done to Alfie Bennett (9) who raised £340, pic posted with his mum's ok", "minors-media", "personal", "facebook"),
    ("Spoke to Sandra at the Alsager Cafe, she says footfall is down.", "third-party-citation", "personal", "facebook"),
    ("Fete highlights, set to Mr Blue Sky by ELO", "copyright", "council", "facebook"),
    ("Lovely photo of the Mere, grabbed it off their website", "copyright", "council", "facebook"),
    ("Sat in a closed meeting last night. Can't say much but change is coming", "confidential", "personal", "facebook"),
    ("Posting this at the Chairman's request: please share", "councillor-direction", "council", "facebook"),
    ("Two-for-one cream teas at Cary Cakes, just mention the Town Council when you order!", "advertising", "council", "facebook"),
    ("The Canva account: username office@example.org, password Cary2024!", "security", "council", "facebook"),
    ("We at the council (well, me) think the plans are hideous", "personal-opinion-as-council", "council", "facebook"),
    ("Bunch of f***wits, the lot of them", "personal-attack", "personal", "facebook"),
    ("Some on this council couldn't organise a p*ss-up in a brewery", "personal-attack", "personal", "facebook"),
    ("I'll show him the door myself. And not gently.", "threat", "personal", "facebook"),
    ("Shame if those lights accidentally ended up in the Mere one night", "unlawful", "personal", "facebook"),
    ("Go and tell her what you think of her.", "harassment", "personal", "facebook"),
    ("Don't like the cows? Go home.", "inflammatory", "personal", "facebook"),
    ("The chap running that page has got form for this sort of thing.", "defamation", "personal", "facebook"),
    ("Council voted to keep charging, but between us nobody will be enforcing it", "contrary-to-decision", "council", "facebook"),
    ("Cllr Booth still couldn't find a pothole with both hands and a map.", "personal-attack", "personal", "facebook"),
    ("We all know what comes with THAT community: the mess, the thieving.", "inflammatory", "personal", "facebook"),
    ("Second-homers are bleeding this town dry.", "inflammatory", "personal", "facebook"),
    ("Carry on dumping and you'll find out exactly what happens.", "threat", "personal", "facebook"),
    ("The planning officer clearly had his palm crossed with silver.", "defamation", "personal", "facebook"),
    ("This is the woman who complained. Lives on Park Street. Feel free to let her know what you think.", "harassment", "personal", "facebook"),
    ("This is the woman who complained. Lives on Park Street.", "personal-data", "personal", "facebook"),
    ("Promo video set to Mr Brightside by The Killers!", "copyright", "council", "facebook"),
    ("Soundtrack: Here Comes the Sun by The Beatles", "copyright", "council", "youtube"),
    ("We found it on a photographer's Instagram and had to share it", "copyright", "council", "facebook"),
    ("Speaking for Alsager Town Council here: we are 100% against the drive-thru.", "personal-opinion-as-council", "personal", "facebook"),
    ("Castle Cary Town Council's position is crystal clear: the one-way trial is a disaster.", "personal-opinion-as-council", "personal", "twitter"),
    ("The council voted the charges through, but I'll be telling every group they needn't pay them.", "contrary-to-decision", "personal", "facebook"),
    ("Top tip: a bit of tinfoil or a dirty number plate and the speed van can't touch you", "unlawful", "personal", "facebook"),
    ("A few keyed Range Rovers on Fore Street might get the message across", "unlawful", "personal", "facebook"),
    ("That fallen oak in the private field is fair game after dark", "unlawful", "personal", "facebook"),
    ("With elections coming up, remember which party promised to protect the library.", "political", "council", "facebook"),
    ("Tweeting this on behalf of the Chairman, who asked us to get it out", "councillor-direction", "council", "twitter"),
    ("After the press and public were excluded, members agreed to adjourn the grievance hearing.", "confidential", "council", "facebook"),
    ("Log in to the council Facebook as admin@example.org / Mere2024! and post away", "security", "council", "facebook"),
    ("Photos from the junior bake-off: look at those proud little faces!", "minors-media", "council", "facebook"),
    ("My granddaughter and her friends dressed up for the prom 📸", "minors-media", "personal", "facebook"),
    ("Shout out to the team at The Cary Kitchen who fed our volunteers", "third-party-citation", "council", "facebook"),
    ("Our partners at the Castle Cary Community Trust did the planting", "third-party-citation", "council", "facebook"),
    ("Shout out to my neighbour Steph Rawlinson for strimming the verges", "personal-data", "personal", "facebook"),
]


def test_indirect_phrasings_are_seen() -> None:
    """Phrasings an earlier round of patterns was written for: the judge, with the patterns that
    generalised, must still catch them (not answer OK) and mostly name the right kind."""
    caught = named = 0
    for text, kind, where, platform in INDIRECT:
        pack = CARY if platform in ("instagram", "youtube") or "Cary" in text else ALSAGER
        result = check(Draft(text, where, platform), pack)
        caught += result.verdict is not Verdict.OK
        named += kind in result.kinds or (kind == "personal-data" and "third-party-citation" in result.kinds)
    assert caught == len(INDIRECT)
    assert named >= len(INDIRECT) - 4


@pytest.mark.parametrize("text,kind", [
    ("I'll kill you.", "threat"),
    ("He should be shot.", "threat"),
    ("Burn his house down.", "threat"),
    ("Someone should punch him.", "threat"),
    ("Send them all back.", "inflammatory"),
    ("Asylum seekers should be deported from this town.", "inflammatory"),
])
def test_textbook_threats_and_incitement_are_blocked_however_short(text: str, kind: str) -> None:
    """Too few words for the judge to block alone, so fixed wording does it, with its clause."""
    result = check(Draft(text, "personal", "facebook"), ALSAGER)
    assert result.verdict is Verdict.DO_NOT_POST and kind in result.kinds
    assert next(f for f in result.findings if f.kind == kind).basis == "detector"


@pytest.mark.parametrize("text", [
    "It was a bit😂 chilly at the fun run this morning, thanks to everyone who came along.",
    "Happy Pi🥧 Day from the library team!",
    "Cu🙂 at the fete tomorrow",
])
def test_an_emoji_after_a_word_masks_nothing(text: str) -> None:
    assert "offensive-language" not in check(Draft(text), ALSAGER).kinds


@pytest.mark.parametrize("text", ["The the the the the the the the", "council " * 8, "word " * 2000])
def test_a_word_said_many_times_is_one_word_of_evidence(text: str) -> None:
    assert check(Draft(text), ALSAGER).verdict is not Verdict.DO_NOT_POST
