"""Packs are data: validated with paths to each problem; a third council needs only a YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from councilbot.checker import Draft, check
from councilbot.kinds import RuleKind, Verdict
from councilbot.lookup import ask
from councilbot.pack import PackError, load_pack, parse_pack

FICTIONAL = """
id: little-wobbling
council: Little Wobbling Parish Council
source: Little Wobbling Social Media Policy (fictional)
channels: [facebook]
contact_line: "Please contact the Parish Clerk."
roles:
  approve_posts: [clerk]
  final_decision: [clerk]
  moderate: [clerk]
  flag_conduct: [clerk, chair]
  receive_reports: [clerk]
  report_fallback: [chair]
  settle_disagreements: [chair]
reports: {acknowledge_within_working_days: 3, retention_days: 180}
severities:
  offensive-language: {council: do_not_post, personal: do_not_post}
  advertising: {council: caution, personal: ok}
clauses:
  - id: LW-1
    section: Conduct
    kinds: [offensive-language]
    text: "No swearing on the parish page, ever."
  - id: LW-2
    section: Content
    kinds: [advertising]
    text: "Local businesses may be mentioned only with the Clerk's agreement."
    keywords: [business, shop]
categories:
  - {id: news, label: Parish news}
reminders:
  opening: "A friendly reminder from the Parish Clerk."
  general: ["Be kind online."]
"""


def test_both_real_packs_load_and_map_every_kind_they_use() -> None:
    for name in ("alsager", "castle-cary"):
        pack = load_pack(name)
        assert pack.clauses and pack.channels
        for clause in pack.clauses:
            for kind in clause.kinds:
                assert kind in pack.severities


def test_a_third_council_is_only_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "little-wobbling.yaml"
    path.write_text(FICTIONAL)
    pack = load_pack(str(path))
    result = check(Draft("20% off at Bob's bakery this week, use code WOBBLE"), pack)
    assert result.verdict is Verdict.CAUTION and result.findings[0].clause == "LW-2"
    assert check(Draft("Shut the f*ck up"), pack).findings[0].clause == "LW-1"
    # Kinds the fictional policy does not govern are not checked at all.
    assert not pack.governs(RuleKind.POLITICAL)
    assert check(Draft("Vote Labour!"), pack).verdict is Verdict.OK
    assert ask(pack, "can I mention a shop?").clauses[0].id == "LW-2"


def test_validation_reports_every_problem_with_its_path() -> None:
    broken = FICTIONAL.replace("channels: [facebook]", "channels: [myspace]").replace("kinds: [advertising]", "kinds: [gossip]")
    with pytest.raises(PackError) as err:
        parse_pack(broken, "broken.yaml")
    text = "\n".join(err.value.problems)
    assert "channels.0" in text and "clauses.1.kinds.0" in text


def test_validation_catches_duplicates_and_missing_severities() -> None:
    broken = FICTIONAL.replace("id: LW-2", "id: LW-1").replace("kinds: [advertising]", "kinds: [political]")
    with pytest.raises(PackError) as err:
        parse_pack(broken)
    text = " ".join(err.value.problems)
    assert "duplicate clause id 'LW-1'" in text and "'political' has no entry under severities" in text


def test_unknown_council_is_named() -> None:
    with pytest.raises(PackError, match="unknown council 'atlantis'"):
        load_pack("atlantis")


def test_lookup_finds_the_parental_permission_clause() -> None:
    answer = ask(load_pack("alsager"), "Can I put photos of kids from the carnival on Facebook?")
    assert answer.clauses[0].id == "ATC-MN-10"
    assert "ATC-MN-10" in answer.answer


def test_lookup_who_has_the_final_say() -> None:
    assert ask(load_pack("alsager"), "who has the final say?").clauses[0].id == "ATC-GM-5"
    cary = ask(load_pack("castle-cary"), "who has the final say?").clauses[0]
    assert cary.id == "CCTC-MOD-3" and "Chair of the Council" in cary.text


def test_lookup_says_when_it_finds_nothing() -> None:
    answer = ask(load_pack("alsager"), "xyzzy plugh")
    assert answer.clauses == () and "could not find" in answer.answer


EVERYDAY = [
    ("castle-cary", "someone is trolling me on facebook what should I do", "CCTC-CL-8"),
    ("alsager", "who moderates the page?", "ATC-GM-4"),
    ("castle-cary", "who moderates the page?", "CCTC-MOD-1"),
    ("alsager", "can I share minutes of a closed meeting", "ATC-AIM-3"),
    ("castle-cary", "can I share minutes of a closed meeting", "CCTC-CL-6"),
    ("castle-cary", "can we set up a tiktok account", "CCTC-PS-1"),
    ("alsager", "may I reply to comments on our page", "ATC-FB-1"),
    ("alsager", "can I use a song in a video", "ATC-MN-8"),
    ("alsager", "can I post a video of the school choir", "ATC-MN-10"),
    ("castle-cary", "can I put music on our youtube video", "CCTC-CL-4"),
]


def test_lookup_answers_everyday_questions() -> None:
    """The right clause is always among the first three offered; the coverage model may still call
    one of these not covered (README: "can I put music on our youtube video" for Castle Cary)."""
    answers = [ask(load_pack(council), question) for council, question, _ in EVERYDAY]
    for (_, question, clause), answer in zip(EVERYDAY, answers, strict=True):
        assert clause in [c.id for c in answer.clauses[:3]], (question, answer)
    assert sum(a.covered for a in answers) >= len(EVERYDAY) - 1


def test_the_short_answer_quotes_the_sentence_that_answers() -> None:
    """Not merely the clause's first sentence: the one about private meetings."""
    answer = ask(load_pack("castle-cary"), "is it ok to post about a closed meeting")
    assert answer.clauses[0].id == "CCTC-CL-6"
    assert "must not publish or report on meetings" in answer.answer
    assert "public domain" not in answer.answer


def test_a_short_last_sentence_can_be_the_answer_and_i_e_does_not_end_one() -> None:
    from councilbot.lookup import _best_sentence, tokens

    kp2 = next(c for c in load_pack("castle-cary").clauses if c.id == "CCTC-KP-2")
    assert _best_sentence(kp2.text, set(tokens("code of conduct"))) == "Please adhere to the Code of Conduct."
    answer = ask(load_pack("alsager"), "does copyright and contempt of court apply to social media?").answer
    assert "i.e. libel, slander, copyright and contempt of court." in answer


@pytest.mark.parametrize("council, question, clause", [
    ("alsager", "can I answer the trolls under a made-up name so they don't know it's me?", "ATC-MN-1"),  # false names
    ("alsager", "can we share the bakery's half-price sale on the council page?", "ATC-GM-2"),  # advertising
    ("alsager", "can the page share the local Labour branch's coffee morning?", "ATC-GM-2"),  # political party
    ("castle-cary", "someone rang pretending to be from the bank and asked for our login, what does the policy say?",
     "CCTC-PS-4"),  # social engineering
])
def test_lookup_understands_paraphrases(council: str, question: str, clause: str) -> None:
    answer = ask(load_pack(council), question)
    assert clause in [c.id for c in answer.clauses[:3]], answer
    assert answer.covered, answer


@pytest.mark.parametrize("council, question", [
    ("castle-cary", "Can we put photos of the children from the carnival on our Facebook page?"),
    ("alsager", "Are councillors allowed to claim expenses for their mobile phone bills?"),
])
def test_lookup_says_when_the_policy_is_silent(council: str, question: str) -> None:
    answer = ask(load_pack(council), question)
    assert not answer.covered
    assert "doesn't say" in answer.answer and "ask the Clerk" in answer.answer
    assert answer.clauses  # the nearest clauses are still offered


def test_a_long_question_is_cut_not_choked_on() -> None:
    answer = ask(load_pack("alsager"), "Can I post photos of the children from the carnival? " + "x" * 1_000_000)
    assert "ATC-MN-10" in [c.id for c in answer.clauses[:3]]
