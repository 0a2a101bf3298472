"""The pre-election rules as pack data: shared in policy/common/pre-election.yaml, taken in by each
council's pack with `includes:`, and edited by a council key by key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from councilbot.clock import LONDON
from councilbot import elections
from councilbot.checker import Draft, check
from councilbot.kinds import Verdict
from councilbot.pack import PackError, load_pack, parse_pack

ELECTION = elections.Election("Town council elections", date(2027, 3, 29), date(2027, 5, 6))
POLICY = Path(__file__).resolve().parents[2] / "policy"

EDITED = """
includes: [alsager]
id: alsager-edited
pre_election:
  topics:
    precept: null
    crewe-road:
      label: "the Crewe Road planning application"
      words: [Crewe Road development, 26/01234/FUL]
  rules:
    PE-NEW:
      verdict: do_not_post
  candidates: [Zoe Quinn]
"""


def period(pack: object = None, names: tuple[str, ...] = ()) -> elections.Period:
    found = elections.period_at([ELECTION], elections.at_day(date(2027, 4, 14), LONDON), names, pack)  # type: ignore[arg-type]
    assert found is not None
    return found


def test_both_councils_include_the_shared_rules_with_their_sources() -> None:
    for name in ("alsager", "castle-cary"):
        pack = load_pack(name)
        assert pack.includes == ("common/pre-election",) and pack.pre_election is not None
        rules = pack.pre_election.rules
        assert set(rules) == {"PE-NAMES", "PE-TOPICS", "PE-PARTY", "PE-NEW", "PE-NOTICE", "PE-COMMENTS", "PE-RESOURCES", "PE-IMPRINT"}
        assert {rules["PE-RESOURCES"].where.value, rules["PE-IMPRINT"].where.value} == {"personal"}
        sources = pack.pre_election.sources
        assert "paragraph 34" in sources["CRP-34"] and "section 2" in sources["LGA86-2"] and "Elections Act 2022" in sources["EA22"]
        assert "section 4" in sources["LGA86-4"] and "Local Government Association" in sources["LGA-GUIDE"]


def test_a_council_edits_the_shared_rules_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "alsager-edited.yaml"
    path.write_text(EDITED, encoding="utf-8")
    pack = load_pack(str(path))  # includes found among the built-in packs, though the file is elsewhere
    assert pack.id == "alsager-edited" and pack.council == "Alsager Town Council"
    section = pack.pre_election
    assert section is not None and set(section.topics) == {"crewe-road"}  # precept: null removed it
    assert section.rules["PE-NEW"].verdict is Verdict.DO_NOT_POST
    assert section.rules["PE-NEW"].words == load_pack("alsager").pre_election.rules["PE-NEW"].words  # type: ignore[union-attr]

    during = period(pack)
    topic = check(Draft("An update on the Crewe Road development: the committee meets on Tuesday."), pack, during)
    found = [f for f in topic.findings if f.clause == "PE-TOPICS"]
    assert found and found[0].evidence == "Crewe Road development" and "Crewe Road planning application" in found[0].explanation
    assert not any(f.clause == "PE-TOPICS" for f in check(Draft("The precept for 2027/28 has been set."), pack, during).findings)
    # A candidate the pack lists is caught by name, as a sitting councillor is.
    named = check(Draft("Zoe Quinn visited the allotments on Saturday."), pack, during)
    assert any(f.clause == "PE-NAMES" and f.evidence == "Zoe Quinn" for f in named.findings)
    assert named.verdict is Verdict.DO_NOT_POST


def test_a_pack_without_the_section_is_still_held_to_the_shared_rules() -> None:
    text = (POLICY / "alsager.yaml").read_text(encoding="utf-8").replace("includes: [common/pre-election]", "")
    pack = parse_pack(text, "alsager-without.yaml")
    assert pack.pre_election is None
    result = check(Draft("Cllr Ann Hughes opened the spring flower show at the Market House today."), pack, period())
    assert any(f.clause == "PE-NAMES" for f in result.findings) and result.verdict is Verdict.DO_NOT_POST


@pytest.mark.parametrize("includes,problem", [
    ("[nowhere/at-all]", "includes.0: cannot find 'nowhere/at-all'"),
    ("[../alsager]", "includes.0: '../alsager' is not a pack name"),
    ("common/pre-election", "includes: a list of pack names"),
])
def test_bad_includes_are_named(tmp_path: Path, includes: str, problem: str) -> None:
    path = tmp_path / "town.yaml"
    path.write_text(f"includes: {includes}\nid: town\n", encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_pack(str(path))
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_a_circle_of_includes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("includes: [b]\nid: a\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("includes: [a]\n", encoding="utf-8")
    with pytest.raises(PackError, match="includes itself"):
        load_pack(str(tmp_path / "a.yaml"))


@pytest.mark.parametrize("rules,problem", [
    ("    PE-NEW:\n      sources: [MADE-UP]\n", "pre_election: rules cite sources not listed under sources: MADE-UP"),
    ("    PE-EXTRA:\n      where: council\n      check: words\n      title: t\n      text: t\n      sources: [CRP-34]\n",
     "pre_election.rules.PE-EXTRA: a rule that checks 'words' needs a list of words"),
    ("    PE-NEW:\n      on: council\n", "pre_election.rules.PE-NEW: a key reads as true (YAML takes on, off, yes and no as "
                                         "true or false); put it in quotes, or use the right name (where: council, not on: council)"),
])
def test_a_bad_rule_is_named_with_its_path(tmp_path: Path, rules: str, problem: str) -> None:
    path = tmp_path / "town.yaml"
    path.write_text(f"includes: [alsager]\nid: town\npre_election:\n  rules:\n{rules}", encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_pack(str(path))
    assert problem in err.value.problems, err.value.problems


@pytest.mark.parametrize("draft,rule,evidence", [
    ("Thanks to @CllrHughes for the photos from the fete.", "PE-NAMES", "@CllrHughes"),
    ("Thanks to @ann_hughes for coming along.", "PE-NAMES", "@ann_hughes"),
    ("Photo: our councillors at the litter pick.", "PE-NAMES", "Photo: our councillors"),
    ("Councillors said they were delighted with the new benches.", "PE-NAMES", "Councillors said"),
    ("Mayor Robert Finch opens the fete at 2pm.", "PE-NAMES", "Mayor Robert Finch"),
    ("Vote Labour on Thursday!", "PE-PARTY", "Labour"),
    ("Have your say in our survey on the skate park.", "PE-NEW", "Have your say \u2026 survey"),
    ("Our consultations on the play area close on Friday.", "PE-NEW", "consultations"),  # whole words: plurals listed
    ("The council has launched a new recycling scheme.", "PE-NEW", "launched"),
    ("The precept for 2027/28 has been set at £120,000.", "PE-TOPICS", "precept"),
])
def test_what_each_council_page_rule_finds(draft: str, rule: str, evidence: str) -> None:
    pack = load_pack("alsager")
    result = check(Draft(draft), pack, period(pack, ("Cllr Ann Hughes", "Robert Finch")))
    found = {f.clause: f.evidence for f in result.findings if f.kind == "pre-election"}
    assert found.get(rule) == evidence, found


@pytest.mark.parametrize("draft", [
    "Come to the Councillor Surgery at the library on Saturday.",  # a title followed by no one
    "A conservative estimate is 400 visitors to the fete.",  # a party's name only with its capital
    "Our litter pick is on Saturday at 10am, meet at the park gates.",
])
def test_what_the_council_page_rules_leave_alone(draft: str) -> None:
    pack = load_pack("alsager")
    result = check(Draft(draft), pack, period(pack, ("Cllr Ann Hughes", "Robert Finch")))
    assert [f for f in result.findings if f.kind == "pre-election"] == []
