"""Long lines at a real terminal: a pasted draft is checked whole, or not at all. A terminal without
line editing cuts a line at 4,095 characters, so a draft whose libel and phone number come at the
end used to be called OK to post."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from .terminal import Terminal

CALM = "The litter pick on Saturday went well and thanks go to every volunteer who came along to help the town. "
END = " Dave Jones is a liar and a thief, call him on 07700 900123."


def draft(length: int, end: str = END) -> str:
    """A friendly draft of ``length`` characters whose trouble is all at the end."""
    return (CALM * (length // len(CALM) + 1))[: length - len(end)] + end


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path, "--as", "councillor:sam")
    yield term
    assert term.close() == 0


def test_a_long_pasted_draft_is_checked_whole_at_a_terminal(terminal: Terminal) -> None:
    start = terminal.type(draft(4873))
    seen = terminal.wait_for("Do not post", "OK to post", "Caution", since=start)
    assert "Do not post" in seen
    # The verdict quotes the phone number from the draft's very end (read whole, not cut).
    after = terminal.wait_until(lambda out: "07700 900123" in out.split("Do not post", 1)[-1], "the quoted number", start)
    assert "07700 900123" in after.split("Do not post", 1)[1]
    seen = terminal.wait_for("characters", "OK to post", since=terminal.type(draft(20_000, end="")))
    assert "That message is 20,000 characters" in seen


def test_where_lines_are_not_read_whole_a_cut_line_is_refused_not_checked(tmp_path: Path) -> None:
    """Output piped (``councilbot chat | tee``): the keyboard is a terminal without line editing."""
    term = Terminal(tmp_path, "--as", "councillor:sam", screen_is_terminal=False)
    try:
        seen = term.wait_for("Do not post", "OK to post", "was not used", since=term.type(draft(4873)))
        assert "its end may be missing and it was not used" in seen and "OK to post" not in seen
        # A line of ordinary length is read as usual. (Typed ahead: what the terminal echoes of the
        # cut line's tail may arrive after the prompt, so the screen need not end with it.)
        assert "Do not post" in term.wait_for("Do not post", "OK to post", since=term.type_ahead("/checkpost Call Mrs Jones on 07700 900123"))
    finally:
        assert term.close() == 0


def test_a_long_draft_pasted_before_the_bot_is_ready_is_refused_not_checked(tmp_path: Path) -> None:
    """Pasted while the program starts (or is busy with the last draft), the line meets the terminal
    before line editing does, and is cut there: it must not be checked as if it were whole."""
    term = Terminal(tmp_path, "--as", "councillor:sam")
    try:
        start = term.type_ahead(draft(4873))  # at once: the program is still starting
        seen = term.wait_for("Do not post", "OK to post", "was not used", since=start)
        assert "its end may be missing and it was not used" in seen and "OK to post" not in seen
    finally:
        assert term.close() == 0
