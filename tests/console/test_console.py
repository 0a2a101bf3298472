"""The console as a real client, driven as a person would type into ``councilbot chat`` (input piped
in): forms that keep good answers, buttons that can be pressed wherever they appear, reports that
reach a Clerk who arrives later, a banner and help that fit the council set up here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .terminal import Terminal

SUGGESTION = "Litter pick on Saturday at 10am, all welcome!"


def chat(tmp_path: Path, *lines: str, as_: str = "councillor:sam") -> tuple[str, str]:
    """Type ``lines`` into ``councilbot chat`` (Alsager unless a councilbot.toml says otherwise);
    what it printed, and what it wrote to stderr."""
    council = [] if (tmp_path / "councilbot.toml").exists() else ["--council", "alsager"]
    out = subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", "chat", "--as", as_, *council],
                         input="\n".join([*lines, "/quit", ""]).encode(), capture_output=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode(), out.stderr.decode()


def test_flag_takes_a_name_and_asks_again_only_for_the_answer_at_fault(tmp_path: Path) -> None:
    text, _ = chat(tmp_path, "/as clerk:jane", "/flag",
                   "Nobody Known",                    # whose post: no such person
                   "Dave Jones is a liar", "", "",   # the post, no link, no note
                   "Sam")                             # asked again for that answer only
    assert "I don't know anyone called 'Nobody Known'" in text and "sam (console:sam)" in text
    assert text.count("-- Flag for Code of Conduct") == 1  # the form was not thrown away and started again
    assert "sam will get a private reminder citing" in text
    assert "a private message to sam" in text and "A reminder about the Code of Conduct" in text


def test_an_over_long_answer_is_asked_again_alone_and_the_other_answers_kept(tmp_path: Path) -> None:
    text, _ = chat(tmp_path, "/report", "Someone keeps sending me threats", "1", "",
                   "y" * 201,                         # when: over its 200 characters
                   "yesterday evening", "", "1", "n", "",
                   "/as clerk:jane")                  # the Clerk arrives and reads it
    assert "! That is 201 characters; the limit is 200. Please shorten it." in text
    assert "Report R-2026-0001 received" in text and "(cancelled)" not in text
    copy = text.split("Confidential report R-2026-0001", 1)[1]
    assert "- What happened: Someone keeps sending me threats" in copy and "- When: yesterday evening" in copy


def test_a_form_prompt_shows_the_limit(tmp_path: Path) -> None:
    term = Terminal(tmp_path, "--as", "councillor:sam")
    try:
        assert "What happened? (up to 5,000 characters): " in term.wait_for("characters): ", since=term.type("/report"))
        assert "(cancelled)" in term.wait_for("(cancelled)", since=term.type("", prompt="characters): "))
    finally:
        assert term.close() == 0


def _changes_requested(tmp_path: Path, *after: str) -> str:
    """Sam suggests a post; Jane asks for changes (button 2 of the card); then ``after``."""
    text, _ = chat(tmp_path, "/suggest", SUGGESTION, "1", "1", "n",
                   "/as clerk:jane", "/pending", "2", "Please add where to meet.", *after)
    assert "changes requested" in text.lower()
    return text


def _revise_number(text: str, where: str) -> str:
    """The number shown on the Revise button after ``where``."""
    return text.split(where, 1)[1].split("] Revise", 1)[0].rsplit("[", 1)[1]


def test_revise_in_a_later_notice_can_be_pressed(tmp_path: Path) -> None:
    text = _changes_requested(tmp_path, "/as sam", "1", "Litter pick on Saturday at 10am, meet at the Town Hall!", "1", "1", "n")
    assert "(Revise)" not in text and _revise_number(text, "a private message to sam") == "1"
    revised = text.split("You are now sam", 1)[1]
    assert "-- Suggest a post" in revised and "Post: Litter pick on Saturday at 10am, meet at the Town Hall!" in revised


def test_home_offers_revise_for_a_suggestion_sent_back(tmp_path: Path) -> None:
    text = _changes_requested(tmp_path, "/as sam", "/home", "1", "Litter pick on Saturday at 10am, meet at the Town Hall!", "1", "1", "n")
    home = text.split("== Your items ==", 1)[1]
    assert "[1] Revise S-2026-0001" in home
    assert "-- Suggest a post" in home and "Post: Litter pick on Saturday at 10am, meet at the Town Hall!" in home


def test_a_report_filed_before_any_clerk_reaches_the_clerk_who_arrives_and_no_log_line_is_shown(tmp_path: Path) -> None:
    text, errors = chat(tmp_path, "/report", "Someone keeps sending me threats", "1", "", "yesterday", "", "1", "n", "",
                        "/as clerk:jane", "1")  # the Clerk opens it from the channel notice
    before, after = text.split("You are now jane", 1)
    assert "nobody who could receive it safely is set up" in before
    assert "a private message to jane" in after and "Confidential report R-2026-0001" in after
    assert "Report R-2026-0001 delivered" in after  # the reporter is told it has now arrived
    assert after.count("- What happened: Someone keeps sending me threats") == 2  # the DM, then opened with [1]
    # The operator's warning goes to the log file the banner names, not into the conversation.
    log_file = tmp_path / "data" / "chat.log"
    assert f"notes for whoever looks after it go to {log_file}" in text
    for shown in (text, errors):
        assert "no recipient" not in shown and '"level"' not in shown
    assert "report has no recipient" in log_file.read_text()


def test_banner_suggests_the_people_set_up_here_and_help_lists_the_terminal_commands(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(
        'council = "alsager"\n[people]\n"console:mary" = "clerk"\n"console:sam" = "councillor"\n', encoding="utf-8")
    text, _ = chat(tmp_path, "/help", "/as mary", "/people")
    assert "/as mary becomes mary (clerk)" in text and "jane" not in text
    assert "data in data" not in text and f"records are kept in {tmp_path / 'data'}" in text
    help_text = text.split("== CouncilBot ==", 1)[1]
    for command in ("/home", "/as ROLE:NAME", "/quit", "/press 1"):
        assert command in help_text
    assert "You are now mary (clerk)" in text and "== People ==" in text  # /as NAME: someone set up here


def test_banner_names_a_clerk_set_up_on_another_platform(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(
        'council = "alsager"\n[people]\n"slack:U0CLERK" = "clerk"\n[names]\n"slack:U0CLERK" = "Priya Shah (Town Clerk)"\n',
        encoding="utf-8")
    text, _ = chat(tmp_path)
    assert "/as clerk:priya becomes priya (clerk)" in text and "jane" not in text


@pytest.mark.parametrize("as_,suggested", [("clerk:jane", "/as councillor:sam becomes sam (councillor)"),
                                             ("assistant_clerk:sam", "/as councillor:alex becomes alex (councillor)")])
def test_banner_never_suggests_the_person_their_own_name_and_the_clerk_a_councillor(tmp_path: Path, as_: str, suggested: str) -> None:
    """Before, the Clerk jane was told "/as assistant_clerk:jane", which only changes her own role."""
    text, _ = chat(tmp_path, as_=as_)
    banner = text.splitlines()[2]
    assert suggested in banner, banner
    assert f"/as {as_.split(':')[1]} " not in banner and not re.search(rf"/as \w+:{as_.split(':')[1]} ", banner), banner


def test_a_number_typed_as_a_message_presses_a_button_only_when_one_has_that_number(tmp_path: Path) -> None:
    text, _ = chat(tmp_path, "2027", "07700900123", "1", "/press 3")
    # "2027" is a message (no buttons on screen); so is the phone number (two buttons on screen) ...
    assert text.count("Is this a post you want checked, or a question about the policy?") == 2
    # ... and "1" presses the first button on screen: the phone number is checked as a post.
    assert "Do not post" in text and "07700900123" in text.split("Do not post", 1)[1]
    assert text.count("No such button") == 1 and text.rstrip().endswith("No such button on screen.")  # /press 3
