"""`councilbot evidence-bundle` and `councilbot verify-bundle` as a clerk runs them: a bundle that
verifies, one byte of one file changed and one line of the manifest changed both caught (exit 1,
naming what), a file that is not a bundle (exit 2), and only a recipient may export."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Incoming, Upload

from .test_operate import CONFIG, cli

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


async def _report_with_screenshot(data: Path) -> str:
    bot = CouncilBot(Settings(council="castle-cary", data_dir=data, people={"slack:UCLERK": "clerk", "slack:UCHAIR": "chair"}))
    reply = await bot.handle(Incoming("form", "slack:UREP", name="report", values={
        "what": "threats under a post", "when": "today", "evidence": "https://facebook.com/p/1",
        "evidence_files": [Upload("threat.png", PNG, "slack")]}))
    await bot.stop()
    return reply[0].fields[0].value


def _rewrite(source: Path, target: Path, name: str, change) -> None:
    """A copy of the zip with one member's bytes passed through ``change``."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, change(data) if info.filename == name else data)


async def test_bundle_verifies_and_tampering_is_caught(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _report_with_screenshot(tmp_path / "data")
    made = cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "case.zip", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "case.zip"
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        public_key = zf.read("public-key.txt").decode().strip()
    # doctor prints the same public key, for the clerk to give the police.
    doctor = cli("doctor", cwd=tmp_path)
    assert f"signed with public key {public_key}" in doctor.stdout
    ok = cli("verify-bundle", "case.zip", "--public-key", public_key, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stdout + ok.stderr

    # One byte of one evidence file changed.
    shot = next(n for n in names if n.startswith(f"evidence/{ref}/"))
    _rewrite(bundle, tmp_path / "byte.zip", shot, lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:])
    out = cli("verify-bundle", "byte.zip", "--public-key", public_key, cwd=tmp_path)
    assert out.returncode == 1 and f"ALTERED: {shot}: altered" in out.stdout
    assert "manifest.json" not in out.stdout  # the manifest itself is intact

    # One line of the manifest changed (the file's recorded fingerprint made to match the change).
    def edit_line(raw: bytes) -> bytes:
        lines = raw.decode().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if '"exported_by"' in line)
        lines[at] = lines[at].replace("Clerk", "Someone else") if "Clerk" in lines[at] else lines[at].replace('": "', '": "X')
        return "".join(lines).encode()

    _rewrite(bundle, tmp_path / "line.zip", "manifest.json", edit_line)
    out = cli("verify-bundle", "line.zip", cwd=tmp_path)
    assert out.returncode == 1 and "ALTERED: manifest.json" in out.stdout

    # A bundle re-signed with someone else's key passes on its own key but not on the council's.
    other = tmp_path / "other"
    other.mkdir()
    (other / "councilbot.toml").write_text(CONFIG)
    await _report_with_screenshot(other / "data")
    cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "forged.zip", cwd=other)
    out = cli("verify-bundle", str(other / "forged.zip"), "--public-key", public_key, cwd=tmp_path)
    assert out.returncode == 1 and "ALTERED: manifest.json" in out.stdout

    # Not a bundle at all: exit 2 with a plain message.
    (tmp_path / "notes.zip").write_bytes(b"just some text")
    out = cli("verify-bundle", "notes.zip", cwd=tmp_path)
    assert out.returncode == 2 and "not an evidence bundle" in out.stderr and "Traceback" not in out.stderr
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as zf:
        zf.writestr("a.txt", "hello")
    out = cli("verify-bundle", "plain.zip", cwd=tmp_path)
    assert out.returncode == 2 and "no manifest.json" in out.stderr
    out = cli("verify-bundle", "case.zip", "--public-key", "not-a-key", cwd=tmp_path)
    assert out.returncode == 2 and "--public-key" in out.stderr


async def test_only_a_recipient_may_export_and_each_export_is_audited(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _report_with_screenshot(tmp_path / "data")
    out = cli("evidence-bundle", ref, "--as", "slack:USTRANGER", "--out", "x.zip", cwd=tmp_path)
    assert out.returncode == 2 and "that you can see" in out.stderr and not (tmp_path / "x.zip").exists()
    out = cli("evidence-bundle", ref, "--as", "slack:UREP", "--out", "x.zip", cwd=tmp_path)  # the reporter
    assert out.returncode == 2 and "Only the report's recipients" in out.stderr
    out = cli("evidence-bundle", ref, "--as", "slack:UCHAIR", "--out", "x.zip", cwd=tmp_path)  # not about the Clerk
    assert out.returncode == 2 and "that you can see" in out.stderr
    assert cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "x.zip", cwd=tmp_path).returncode == 0
    audit = [json.loads(p.read_text()) for p in (tmp_path / "data" / "audit").glob("*.json")]
    rows = [row for shard in audit for table in shard.values() for row in table.values()]
    assert [(r["actor"], r["subject"], r["via"]) for r in rows if r["action"] == "report.bundle_exported"] == [
        ("slack:UCLERK", ref, "command line")]  # made on the server in the Clerk's name, and the trail says so


async def test_backup_and_restore_keep_evidence_files_and_the_signing_key(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _report_with_screenshot(tmp_path / "data")
    first = cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "before.zip", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert cli("backup", "b.tar.gz", cwd=tmp_path).returncode == 0
    assert cli("restore", "b.tar.gz", cwd=tmp_path).returncode == 0
    after = cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "after.zip", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    with zipfile.ZipFile(tmp_path / "before.zip") as a, zipfile.ZipFile(tmp_path / "after.zip") as b:
        assert a.read("public-key.txt") == b.read("public-key.txt")  # the same key the police were given
        assert PNG in [b.read(n) for n in b.namelist()]


@pytest.mark.filterwarnings("ignore:Duplicate name")
async def test_damaged_bytes_and_a_second_copy_of_a_file_are_named_not_a_traceback(tmp_path: Path) -> None:
    """A byte changed in the zip file itself (not rewritten through a zip tool, so the zip's own
    checksum no longer matches) is named as altered, exit 1, with no traceback; and a second copy of
    a listed file put in front of the genuine one (which a zip viewer may show instead) is caught."""
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _report_with_screenshot(tmp_path / "data")
    assert cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "case.zip", cwd=tmp_path).returncode == 0
    raw = (tmp_path / "case.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "case.zip") as zf:
        shot = next(n for n in zf.namelist() if n.startswith(f"evidence/{ref}/"))
        public_key = zf.read("public-key.txt").decode().strip()
    at = raw.index(PNG) + 100  # the screenshot is stored as it is, so its bytes are in the zip
    (tmp_path / "flipped.zip").write_bytes(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:])
    out = cli("verify-bundle", "flipped.zip", "--public-key", public_key, cwd=tmp_path)
    assert out.returncode == 1 and f"ALTERED: {shot}" in out.stdout, out.stdout + out.stderr
    assert "Traceback" not in out.stderr

    with zipfile.ZipFile(tmp_path / "case.zip") as zin, zipfile.ZipFile(tmp_path / "twice.zip", "w") as zout:
        zout.writestr("summary.html", b"<p>Nothing happened.</p>")
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
    out = cli("verify-bundle", "twice.zip", "--public-key", public_key, cwd=tmp_path)
    assert out.returncode == 1 and "ALTERED: summary.html" in out.stdout, out.stdout + out.stderr


async def test_a_signature_or_key_taken_out_of_the_bundle_is_named(tmp_path: Path) -> None:
    """The signature and the public key are files of the bundle too: one taken out is named as
    missing (exit 1), as an evidence file would be, rather than the bundle being called not a bundle."""
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _report_with_screenshot(tmp_path / "data")
    assert cli("evidence-bundle", ref, "--as", "slack:UCLERK", "--out", "case.zip", cwd=tmp_path).returncode == 0
    with zipfile.ZipFile(tmp_path / "case.zip") as zf:
        public_key = zf.read("public-key.txt").decode().strip()
    for member in ("manifest.sig", "public-key.txt"):
        with zipfile.ZipFile(tmp_path / "case.zip") as zin, zipfile.ZipFile(tmp_path / "less.zip", "w") as zout:
            for info in zin.infolist():
                if info.filename != member:
                    zout.writestr(info, zin.read(info.filename))
        for key in ((), ("--public-key", public_key)):
            out = cli("verify-bundle", "less.zip", *key, cwd=tmp_path)
            assert out.returncode == 1 and f"ALTERED: {member}: missing" in out.stdout, (member, key, out.stdout + out.stderr)
            assert "Traceback" not in out.stderr
    with zipfile.ZipFile(tmp_path / "only.zip", "w") as zf:  # a manifest alone, with no key anywhere
        zf.writestr("manifest.json", "{}")
    out = cli("verify-bundle", "only.zip", cwd=tmp_path)
    assert out.returncode == 2 and "not an evidence bundle" in out.stderr


def test_doctor_does_not_make_the_signing_key(tmp_path: Path) -> None:
    """doctor is often run as root: a key it made would be root's, and the bot could not sign."""
    from councilbot.bundle import KEY_FILE

    doctor = cli("doctor", cwd=tmp_path)
    assert "no evidence bundle has been made yet" in doctor.stdout
    assert not list(tmp_path.rglob(KEY_FILE))
