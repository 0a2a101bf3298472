"""`councilbot check --on` and `ask --on`: judged as on a date, with the elections in the config
file and those the Clerk added in chat; run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """
council = "alsager"
data_dir = "data"
timezone = "Europe/London"

[people]
"slack:U0ANN" = "councillor"

[names]
"slack:U0ANN" = "Ann Hughes"

[[elections]]
name = "Town council elections"
notice = 2027-03-29
poll = 2027-05-06
"""
NAMING = "Ann Hughes opened the spring flower show at the Market House today. The show runs until 4pm."


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", *args], capture_output=True, cwd=cwd, timeout=60)


@pytest.fixture
def council(tmp_path: Path) -> Path:
    (tmp_path / "councilbot.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def verdict(out: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    assert out.returncode == 0, out.stderr.decode()
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_check_on_a_date_judges_as_on_that_date(council: Path) -> None:
    before = verdict(run("check", "--council", "alsager", "--json", "--on", "2027-03-28", NAMING, cwd=council))
    assert before["verdict"] == "ok" and "pre_election" not in before
    during = verdict(run("check", "--council", "alsager", "--json", "--on", "2027-04-14", NAMING, cwd=council))
    assert during["verdict"] == "do_not_post"
    assert during["pre_election"] == {"until": "2027-05-06T22:00+01:00", "elections": ["Town council elections"],
                                      "label": "Pre-election period until 10pm on 6 May 2027"}
    names = [f for f in during["findings"] if f["clause"] == "PE-NAMES"]  # type: ignore[union-attr, index]
    assert names and names[0]["evidence"] == "Ann Hughes" and names[0]["explanation"].startswith(
        "Pre-election period until 10pm on 6 May 2027: ")
    # Polling day itself is in the period; a time after 10pm is not.
    assert verdict(run("check", "--council", "alsager", "--json", "--on", "2027-05-06", NAMING, cwd=council))["verdict"] == "do_not_post"
    assert verdict(run("check", "--council", "alsager", "--json", "--on", "2027-05-06T22:00", NAMING, cwd=council))["verdict"] == "ok"
    human = run("check", "--council", "alsager", "--on", "2027-04-14", NAMING, cwd=council)
    assert b"Do not post" in human.stdout and b"Pre-election period until 10pm on 6 May 2027" in human.stdout


def test_check_on_reads_elections_the_clerk_added_in_chat(tmp_path: Path) -> None:
    """An election added with `election add` is in the data folder, not the config file."""
    (tmp_path / "councilbot.toml").write_text(CONFIG.split("[[elections]]")[0], encoding="utf-8")
    folder = tmp_path / "data" / "elections"
    folder.mkdir(parents=True)
    record = {"id": "E-2026-0001", "name": "By-election", "notice": "2027-01-04", "poll": "2027-02-04"}
    (folder / "0000.json").write_text(json.dumps({"elections": {"1": record}}), encoding="utf-8")
    assert verdict(run("check", "--council", "alsager", "--json", "--on", "2027-01-20", NAMING, cwd=tmp_path))["verdict"] == "do_not_post"
    assert verdict(run("check", "--council", "alsager", "--json", "--on", "2027-02-05", NAMING, cwd=tmp_path))["verdict"] == "ok"


def test_batch_and_ask_on_a_date(council: Path) -> None:
    lines = "\n".join(json.dumps({"id": i, "text": t}) for i, t in (("a", NAMING), ("b", "Our litter pick is on Saturday at 10am.")))
    out = subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", "check", "--council", "alsager", "--json", "--batch", "-",
                          "--on", "2027-04-14"], input=lines.encode(), capture_output=True, cwd=council, timeout=60)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["verdict"] for r in results] == ["do_not_post", "ok"] and all("pre_election" in r for r in results)

    asked = verdict(run("ask", "--council", "alsager", "--json", "--on", "2027-04-14", "what are the purdah rules?", cwd=council))
    extra = asked["pre_election"]
    assert isinstance(extra, dict) and extra["in_force"] is True and "PE-NAMES" in [r["id"] for r in extra["rules"]]
    outside = verdict(run("ask", "--council", "alsager", "--json", "--on", "2027-06-01", "who has the final say?", cwd=council))
    assert "pre_election" not in outside


@pytest.mark.parametrize("on", ["2027-02-30", "next tuesday", "06-05-2027"])
def test_a_bad_date_is_one_line_and_exit_2(council: Path, on: str) -> None:
    out = run("check", "--council", "alsager", "--on", on, NAMING, cwd=council)
    assert out.returncode == 2 and b"Traceback" not in out.stderr
    assert out.stderr.decode().strip().splitlines() == [
        f"councilbot: --on must be a date like 2027-05-06 (or a date and time like 2027-05-06T22:30), not {on!r}"]


def test_on_without_any_election_says_so(tmp_path: Path) -> None:
    out = run("check", "--council", "alsager", "--json", "--on", "2027-04-14", NAMING, cwd=tmp_path)
    assert verdict(out)["verdict"] == "ok" and b"no elections are set up" in out.stderr


def test_policy_show_lists_the_pre_election_rules_and_topics(tmp_path: Path) -> None:
    out = run("policy", "show", "castle-cary", cwd=tmp_path)
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "PE-NAMES — council pages:" in text and "PE-IMPRINT — own accounts:" in text
    assert "Controversial topics: the precept and the council's budget" in text


@pytest.mark.parametrize("notice,problem", [
    ("2027-05-29", "elections.0: the notice date (2027-05-29) is after polling day (2027-05-06)"),
    ("2026-03-29", "elections.0: the notice date (2026-03-29) is 403 days before polling day (2027-05-06)"),
])
def test_an_election_with_impossible_dates_in_the_config_is_one_line_and_exit_2(tmp_path: Path, notice: str, problem: str) -> None:
    (tmp_path / "councilbot.toml").write_text(f'[[elections]]\nname = "X"\nnotice = {notice}\npoll = 2027-05-06\n', encoding="utf-8")
    out = run("check", "--council", "alsager", NAMING, cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert problem in out.stderr.decode()
