"""The command-line contract other tools are written against, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", *args], input=stdin, capture_output=True, cwd=cwd, timeout=60)


def test_check_json_contract() -> None:
    out = run("check", "--council", "alsager", "--json", "Call Mrs Jones on 07700 900123")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert data["verdict"] == "do_not_post"
    assert {"kind", "clause", "evidence", "explanation", "fix", "basis"} <= set(data["findings"][0])
    assert data["findings"][0]["basis"] == "detector"  # a phone number is found, not guessed
    veiled = "Whoever keeps leaving bin bags by my gate should remember I have a long memory and a lot of friends."
    data = json.loads(run("check", "--council", "alsager", "--where", "personal", "--json", veiled).stdout)
    assert data["verdict"] == "do_not_post" and data["findings"][0]["basis"] == "judge"


def test_check_human_readable() -> None:
    out = run("check", "--council", "castle-cary", "--where", "personal", "Vote Reform UK!")
    assert out.returncode == 0 and b"Caution" in out.stdout and b"CCTC-KP-3" in out.stdout


def test_batch_keeps_order_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": "a", "text": "Litter pick on Saturday"}),
        "{not json",
        json.dumps({"id": "c", "text": "Vote Labour", "where": "personal"}),
        json.dumps({"id": "d", "text": ""}),
        json.dumps({"id": "e", "text": "Our new Instagram page is live: follow us for news and events from the Market House.",
                    "platform": "instagram", "council": "castle-cary"}),
    ]
    body = ("\n".join(lines) + "\n").encode() + b'{"id": "f", "text": "caf\xe9"}\n'
    out = run("check", "--council", "alsager", "--json", "--batch", "-", stdin=body)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r.get("verdict") or "error" for r in results] == ["ok", "error", "caution", "error", "ok", "error"]
    assert [r["id"] for r in results] == ["a", None, "c", "d", "e", None]
    assert "invalid JSON" in results[1]["error"] and "UTF-8" in results[5]["error"]
    assert out.returncode == 2



def test_batch_lines_other_tools_cannot_read_back_are_refused_line_by_line() -> None:
    body = b"\n".join([
        b'\xef\xbb\xbf{"id": "bom", "text": "Litter pick on Saturday"}',  # a BOM a Windows editor left
        b'{"id": "s", "text": "The bypass\\ud800 again"}',  # a lone surrogate: valid JSON, not text
        b'{"id": "\\udfff", "text": "hello"}',
        b'{"id": NaN, "text": "hello"}',
        b'{"id": "n", "text": "hello", "council": 0}',
        b'{"id": "last", "text": "hello"}',
    ]) + b"\n"
    out = run("check", "--council", "alsager", "--json", "--batch", "-", stdin=body)
    assert b"Traceback" not in out.stderr and out.returncode == 2
    results = [json.loads(line) for line in out.stdout.decode("utf-8").splitlines()]  # strict UTF-8 and JSON, NaN-free
    assert [r["id"] for r in results] == ["bom", "s", None, None, "n", "last"]
    assert [("error" in r) for r in results] == [False, True, True, True, True, False]
    assert "surrogate" in results[1]["error"] and "NaN" in results[3]["error"] and "council" in results[4]["error"]
    assert b"NaN" not in out.stdout.replace(b"NaN is not JSON", b"")


@pytest.mark.parametrize("args,message", [
    (["check", "--council", "atlantis", "hello"], b"unknown council 'atlantis'"),
    (["check", "--council", "alsager", ""], b"empty"),
    (["check", "--council", "alsager", "x" * 10_001], b"limit is 10,000"),
    (["check", "--council", "alsager", "--platform", "myspace", "hi"], b"unknown platform"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: bytes) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr and b"Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_ask_json() -> None:
    out = run("ask", "--council", "alsager", "--json", "Can I put photos of kids from the carnival on Facebook?")
    data = json.loads(out.stdout)
    assert data["clauses"][0]["id"] == "ATC-MN-10" and data["answer"] and data["covered"] is True
    # Castle Cary's policy says nothing about children's photos: covered is false exactly when the
    # answer says the policy is silent.
    out = run("ask", "--council", "castle-cary", "--json", "Can I put photos of kids from the carnival on Facebook?")
    data = json.loads(out.stdout)
    assert data["covered"] is False and "doesn't say" in data["answer"] and "ask the Clerk" in data["answer"]


def test_policy_validate_and_show(tmp_path: Path) -> None:
    assert run("policy", "validate").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Bad Id\ncouncil: x\n")
    out = run("policy", "validate", str(bad))
    assert out.returncode == 2 and b"id:" in out.stderr and b"roles: Field required" in out.stderr
    # Field errors and problems between fields are listed together, each with its own path.
    pack = (Path(__file__).resolve().parents[2] / "policy" / "alsager.yaml").read_text(encoding="utf-8")
    first_id = pack.split("- id: ", 1)[1].split("\n", 1)[0].strip()
    second_id = pack.split("- id: ", 2)[2].split("\n", 1)[0].strip()
    bad.write_text(pack.replace("channels: [facebook, twitter]", "channels: [facebook, myspace]")
                   .replace(f"- id: {second_id}\n", f"- id: {first_id}\n", 1), encoding="utf-8")
    out = run("policy", "validate", str(bad))
    lines = out.stderr.decode().splitlines()
    assert out.returncode == 2
    assert any("channels.1:" in line for line in lines), lines
    assert any(f"clauses.1.id: duplicate clause id '{first_id}'" in line for line in lines), lines
    assert not any("(top level)" in line for line in lines)
    shown = run("policy", "show", "castle-cary")
    assert b"Chair of the Council" in shown.stdout and b"CCTC-MOD-3" in shown.stdout


def console(tmp_path: Path, *lines: str) -> str:
    """Type ``lines`` into ``councilbot chat`` as councillor sam of Alsager; what it printed."""
    out = subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", "chat", "--as", "councillor:sam", "--council", "alsager"],
                         input="\n".join([*lines, "/quit", ""]).encode(), capture_output=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def test_console_walks_a_suggestion_from_councillor_to_clerk(tmp_path: Path) -> None:
    text = console(tmp_path, "/suggest", "Litter pick on Saturday at 10am, all welcome!", "1", "7", "n",
                   "/as clerk:jane", "/pending", "1")
    assert "Suggestion S-" in text and "approved. The author has been told." in text
    assert "a private message to sam" in text and "was approved by jane" in text
    assert (tmp_path / "data" / "suggestions").is_dir()


def test_console_buttons_are_numbered_across_every_card_of_one_answer(tmp_path: Path) -> None:
    text = console(tmp_path, "/suggest", "Litter pick on Saturday at 10am, all welcome!", "1", "7", "n",
                   "/suggest", "Christmas lights switch-on on Friday at 6pm in the Town Square.", "1", "7", "n",
                   "/as clerk:jane", "/pending", "4")
    assert "[4] Approve" in text  # the second card's first button is 4, not 1 again
    assert "-0002 approved. The author has been told." in text and "-0001 approved" not in text


def test_console_keeps_a_screenshot_by_path_and_writes_the_bundle_here(tmp_path: Path) -> None:
    import re
    import zipfile

    from councilbot import bundle

    png = b"\x89PNG\r\n\x1a\n" + b"console screenshot" * 20
    (tmp_path / "shot one.png").write_bytes(png)
    year = __import__("datetime").date.today().year
    ref = f"R-{year}-0001"
    text = console(tmp_path, "/as clerk:jane", "/as councillor:sam",
                   "/report", "He says he will come round to my house.", "1", "", "last night", "", "1", "n", "",
                   f'/evidence {ref} "shot one.png"',
                   "/as clerk:jane", "/reports", "1", "6")
    assert f"Kept with report {ref}: 1 file(s)" in text
    [saved] = re.findall(r"Saved to (\S+\.zip)", text)
    assert Path(saved) == tmp_path / f"{ref}-evidence-bundle.zip"
    assert bundle.verify(Path(saved))[0] == []
    with zipfile.ZipFile(saved) as zf:
        assert png in [zf.read(n) for n in zf.namelist()]
