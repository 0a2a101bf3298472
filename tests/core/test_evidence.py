"""Evidence kept with a report (through the core's door): screenshots checked by their bytes and
kept by SHA-256, links with their time, incident linking, reference numbers, the recipients-only
evidence bundle, and retention and erasure of the files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

from councilbot import bundle, evidence
from councilbot.dataprotection import erase_person
from councilbot.kinds import Role
from councilbot.messages import Upload

from .kit import (
    ASSISTANT, CAST, CHAIR, CLERK, COUNCILLOR, COUNCILLOR2, REPORT, actions, command, field, message, one, press, refused, submit,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"screenshot-bytes" * 20
PDF = b"%PDF-1.7\n" + b"thread export" * 30
JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 40


async def file_report(bot, user=COUNCILLOR, uploads=(), **changes):
    replies = await submit(bot, user, "report", {**REPORT, **changes, "evidence_files": list(uploads)})
    reply = one(replies)
    return field(reply, "Reference"), reply


def kept_path(bot, sha):
    return bot.ctx.files / evidence.FOLDER / sha


def test_sniff_judges_by_bytes_not_names() -> None:
    assert evidence.sniff(PNG) == ("image/png", "png")
    assert evidence.sniff(JPEG) == ("image/jpeg", "jpg")
    assert evidence.sniff(PDF) == ("application/pdf", "pdf")
    assert evidence.sniff(b"GIF89a....") == ("image/gif", "gif")
    assert evidence.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert evidence.sniff(b"\x00\x00\x00\x18ftypheic\x00\x00") == ("image/heic", "heic")
    assert evidence.sniff(b"MZ\x90\x00 a program") is None
    assert evidence.sniff(b"<svg onload=alert(1)>") is None  # an SVG can carry script: not kept
    assert evidence.safe_name("../../etc/passwd") == "passwd" and evidence.safe_name("a\x00b.png") == "ab.png"


async def test_screenshots_in_the_report_form_are_kept_by_sha256(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot, uploads=[Upload("shot.png", PNG, "test"), Upload("thread.pdf", PDF, "test")])
    [record] = (await bot.store.find("reports"))
    assert [(f["name"], f["type"], f["size"], f["by"]) for f in record["files"]] == [
        ("shot.png", "image/png", len(PNG), COUNCILLOR), ("thread.pdf", "application/pdf", len(PDF), COUNCILLOR)]
    for f, data in zip(record["files"], (PNG, PDF), strict=True):
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        path = kept_path(bot, f["sha256"])
        assert path.read_bytes() == data
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    view = one(await press(bot, CLERK, "report.view", ref))
    kept = field(view, "Evidence kept (2 file(s))")
    assert "shot.png (image/png" in kept and "thread.pdf (application/pdf" in kept
    assert {"report.refs", "report.bundle"} <= actions(view)


async def test_a_file_that_is_not_an_image_or_pdf_is_refused_beside_the_input(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    bad = [Upload("innocent.png", b"MZ\x90\x00" + b"x" * 100, "test")]
    reply = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "evidence_files": bad}))
    assert reply.form_error and [f.label for f in reply.fields] == ["evidence_files"]
    assert "innocent.png is not an image" in reply.fields[0].value
    too_big = [Upload("huge.png", PNG + b"\x00" * evidence.MAX_BYTES, "test")]
    reply = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "evidence_files": too_big}))
    assert reply.form_error and "over 10 MB" in reply.fields[0].value
    failed = [Upload("gone.png", b"", "test", problem="Slack answered 404")]
    reply = one(await submit(bot, COUNCILLOR, "report", {**REPORT, "evidence_files": failed}))
    assert reply.form_error and "could not be fetched" in reply.fields[0].value
    assert (await bot.store.find("reports")) == []
    assert not (bot.ctx.files / evidence.FOLDER).exists() or not any((bot.ctx.files / evidence.FOLDER).iterdir())


async def test_evidence_command_adds_files_and_links_to_the_senders_report(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot)
    clock.advance(hours=2)
    # Without a reference: the reporter's only open report.
    reply = one(await command(bot, COUNCILLOR, "evidence", "here is another https://facebook.com/msg/3",
                              values={"files": [Upload("later.jpg", JPEG, "teams")]}))
    assert reply.tone == "ok" and ref in reply.title
    record = await bot.store.get("reports", ref)
    assert [f["name"] for f in record["files"]] == ["later.jpg"]
    links = evidence.links_of(record)
    # Links are kept as given, each with the time it was reported.
    assert [(x["url"], x["at"]) for x in links] == [
        ("https://facebook.com/msg/1", record["created"]), ("https://facebook.com/msg/2", record["created"]),
        ("https://facebook.com/msg/3", "2026-03-02T12:00:00+00:00")]
    # The same screenshot again (twice in one message, even) is kept once.
    one(await command(bot, COUNCILLOR, "evidence", ref, values={"files": [Upload("again.jpg", JPEG, "teams")] * 2}))
    assert len((await bot.store.get("reports", ref))["files"]) == 1
    # Someone who cannot see the report cannot add to it, and learns nothing about it.
    assert refused(await command(bot, COUNCILLOR2, "evidence", ref, values={"files": [Upload("x.png", PNG)]}))
    assert len((await bot.store.get("reports", ref))["files"]) == 1
    # With two open reports and no reference, the person is asked for one.
    await file_report(bot)
    reply = one(await command(bot, COUNCILLOR, "evidence", "", values={"files": [Upload("y.png", PNG)]}))
    assert reply.tone == "caution" and "more than one open report" in reply.text


async def test_link_reports_and_the_view_shows_them_in_time_order(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    first, _ = await file_report(bot)
    clock.advance(days=3)
    second, _ = await file_report(bot, COUNCILLOR2)
    # Only a recipient of both may link them.
    assert refused(await command(bot, COUNCILLOR, "link", f"{first} {second}"))
    view = one(await command(bot, CLERK, "link", f"{second} {first}"))
    assert (await bot.store.get("reports", first))["linked"] == [second]
    assert (await bot.store.get("reports", second))["linked"] == [first]
    timeline = field(view, "Linked incidents (oldest first)").splitlines()
    assert timeline[0].startswith(f"{first}: filed") and timeline[1].startswith(f"{second} (this one)")
    # Typed as a message (Teams, a DM), the same.
    one(await message(bot, ASSISTANT, f"link {first} and {second}"))
    assert ("test:clerk", "report.linked") in [(a["actor"], a["action"]) for a in (await bot.store.find("audit"))]


async def test_report_about_the_clerk_never_shows_as_linked_to_the_clerk(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ordinary, _ = await file_report(bot)
    about_clerk, _ = await file_report(bot, COUNCILLOR2, about="clerk", who="")
    # The Clerk cannot link (or bundle) a report routed round them.
    assert refused(await command(bot, CLERK, "link", f"{ordinary} {about_clerk}"))
    assert refused(await press(bot, CLERK, "report.bundle", about_clerk))
    # The Chair receives only the report about the Clerk, so cannot link it to the ordinary one either.
    assert refused(await command(bot, CHAIR, "link", f"{ordinary} {about_clerk}"))
    reply = one(await press(bot, CHAIR, "report.bundle", about_clerk))
    assert reply.file and Path(reply.file).is_file()


async def test_reference_numbers_are_set_by_recipients_and_shown(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot)
    assert refused(await press(bot, COUNCILLOR, "report.refs", ref))
    form = one(await press(bot, CLERK, "report.refs", ref)).form
    assert form is not None and [i.name for i in form.inputs] == ["crime_ref", "platform_ref"]
    view = one(await submit(bot, CLERK, form.name, {"crime_ref": "14/123456/26", "platform_ref": "FB report 998877"}, form.context))
    assert field(view, "Crime reference number") == "14/123456/26"
    assert field(view, "Platform's report reference") == "FB report 998877"
    assert refused(await submit(bot, COUNCILLOR, "report_refs", {"crime_ref": "forged"}, ref))
    assert (await bot.store.get("reports", ref))["crime_ref"] == "14/123456/26"
    # Shown again pre-filled, so a correction is an edit.
    form = one(await press(bot, CLERK, "report.refs", ref)).form
    assert form is not None and form.inputs[0].initial == "14/123456/26"


async def test_bundle_button_gives_the_recipient_a_signed_zip_and_is_audited(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    first, _ = await file_report(bot, uploads=[Upload("shot.png", PNG)])
    await press(bot, CLERK, "report.ack", first)
    clock.advance(days=1)
    second, _ = await file_report(bot, COUNCILLOR2, uploads=[Upload("thread.pdf", PDF)])
    await command(bot, CLERK, "link", f"{first} {second}")
    await submit(bot, CLERK, "report_refs", {"crime_ref": "14/123456/26", "platform_ref": ""}, first)
    await submit(bot, CLERK, "report_note", {"note": "Phoned the police on 101."}, first)
    assert refused(await press(bot, COUNCILLOR, "report.bundle", first))  # the reporter is not a recipient
    reply = one(await press(bot, CLERK, "report.bundle", first))
    assert reply.private and reply.file.endswith(f"{first}-evidence-bundle.zip")
    with zipfile.ZipFile(reply.file) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        summary = zf.read("summary.html").decode()
        shot = next(n for n in names if n.startswith(f"evidence/{first}/"))
        assert zf.read(shot) == PNG and shot.endswith("shot.png")
        assert any(n.startswith(f"evidence/{second}/") and n.endswith("thread.pdf") for n in names)
    assert {"manifest.json", "manifest.sig", "public-key.txt", "summary.html"} <= set(names)
    assert manifest["report"] == first and manifest["linked_reports"] == [second]
    assert {f["path"] for f in manifest["files"]} == set(names) - {"manifest.json", "manifest.sig", "public-key.txt"}
    assert manifest["exported_at"] == "2026-03-03T10:00:00+00:00"
    assert {"report.filed", "report.acknowledged", "report.linked", "report.note"} <= {a["action"] for a in manifest["audit_trail"]}
    assert "14/123456/26" in summary and "Phoned the police on 101." in summary and "Jane Pargeter" in summary
    assert summary.index(f"Report {first}") < summary.index(f"Report {second}")
    assert bundle.verify(Path(reply.file))[0] == []
    assert manifest["public_key"] == bundle.public_text(bundle.signing_key(bot.ctx.files))
    key_file = bot.ctx.files / bundle.KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    exports = [a for a in (await bot.store.find("audit")) if a["action"] == "report.bundle_exported"]
    assert [(a["actor"], a["subject"], a["via"]) for a in exports] == [(CLERK, first, "chat")]


async def test_summary_escapes_what_a_reporter_typed(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot, what="<script>alert('x')</script> keeps messaging me")
    reply = one(await press(bot, CLERK, "report.bundle", ref))
    with zipfile.ZipFile(reply.file) as zf:
        summary = zf.read("summary.html").decode()
    assert "<script>" not in summary and "&lt;script&gt;" in summary


async def test_retention_and_erasure_delete_evidence_files(tmp_path, make_bot, clock):
    bot = make_bot(tmp_path)
    kept_ref, _ = await file_report(bot, COUNCILLOR2, uploads=[Upload("shared.png", PNG)])
    closed_ref, _ = await file_report(bot, uploads=[Upload("shared.png", PNG), Upload("own.pdf", PDF)])
    png, pdf = hashlib.sha256(PNG).hexdigest(), hashlib.sha256(PDF).hexdigest()
    await submit(bot, CLERK, "report_close", {"outcome": "Reported to police"}, closed_ref)
    clock.advance(days=bot.pack.reports.retention_days + 1)
    assert (await bot.housekeeping())["purged"] == 1
    assert not kept_path(bot, pdf).exists()  # its report is gone
    assert kept_path(bot, png).exists()  # still the evidence of another report
    made = Path(one(await press(bot, CLERK, "report.bundle", kept_ref)).file)  # a chat bundle not yet fetched
    assert made.is_file()
    await erase_person(bot.ctx, COUNCILLOR2, include_open=True)  # the kept report is still open
    assert await bot.store.get("reports", kept_ref) is None and not kept_path(bot, png).exists()
    assert not made.exists()  # its copy of the screenshot goes too


async def test_a_bundle_made_for_chat_and_never_fetched_is_removed_after_an_hour(tmp_path, make_bot):
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot)
    made = Path(one(await press(bot, CLERK, "report.bundle", ref)).file)
    assert (await bot.housekeeping())["bundles_removed"] == 0 and made.is_file()
    hour_ago = made.stat().st_mtime - bundle.BUNDLE_LIFETIME - 60
    os.utime(made.parent, (hour_ago, hour_ago))
    assert (await bot.housekeeping())["bundles_removed"] == 1 and not made.exists()


async def test_a_bundle_never_names_a_linked_report_its_maker_cannot_see(tmp_path, make_bot):
    """A report filed before the Assistant Clerk joined goes to the Clerk alone. Linked by the Clerk
    to a later report both receive, it stays out of the Assistant's bundle of the later one:
    not in the linked incidents, and not in the audit trail (the Clerk's linking and export)."""
    bot = make_bot(tmp_path, people={k: v for k, v in CAST.items() if k != ASSISTANT})
    old, _ = await file_report(bot)
    await bot.ctx.people.set(ASSISTANT, Role.ASSISTANT_CLERK)
    new, _ = await file_report(bot, COUNCILLOR2)
    assert ASSISTANT in (await bot.store.get("reports", new))["recipients"]
    assert ASSISTANT not in (await bot.store.get("reports", old))["recipients"]
    await command(bot, CLERK, "link", f"{old} {new}")
    one(await press(bot, CLERK, "report.bundle", old))
    one(await press(bot, CLERK, "report.bundle", new))
    with zipfile.ZipFile(one(await press(bot, CLERK, "report.bundle", new)).file) as zf:
        manifest = zf.read("manifest.json").decode()
    assert old in manifest  # the Clerk receives both: the link is in the Clerk's bundle
    with zipfile.ZipFile(one(await press(bot, ASSISTANT, "report.bundle", new)).file) as zf:
        manifest, summary = zf.read("manifest.json").decode(), zf.read("summary.html").decode()
    assert old not in manifest and old not in summary
    trail = json.loads(manifest)["audit_trail"]
    assert {"report.filed", "report.bundle_exported"} <= {a["action"] for a in trail}
    assert all(a["subject"] == new and not a.get("linked") for a in trail)


async def test_links_are_followed_on_so_one_senders_incidents_all_show_and_are_bundled(tmp_path, make_bot, clock):
    """R1 linked to R2 on one day and R2 to R3 later are the same sender's three incidents: R1's
    view and bundle hold R3 too."""
    bot = make_bot(tmp_path)
    first, _ = await file_report(bot)
    clock.advance(days=2)
    second, _ = await file_report(bot, COUNCILLOR2)
    clock.advance(days=2)
    third, _ = await file_report(bot, uploads=[Upload("later.png", PNG)])
    await command(bot, CLERK, "link", f"{first} {second}")
    await command(bot, CLERK, "link", f"{second} {third}")
    view = one(await press(bot, CLERK, "report.view", first))
    timeline = field(view, "Linked incidents (oldest first)").splitlines()
    assert [line.split(" ")[0].rstrip(":") for line in timeline] == [first, second, third]
    with zipfile.ZipFile(one(await press(bot, CLERK, "report.bundle", first)).file) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["linked_reports"] == [second, third]
        assert any(n.startswith(f"evidence/{third}/") for n in zf.namelist())


async def test_a_link_in_slacks_markup_is_kept_as_the_link_alone(tmp_path, make_bot):
    """Slack sends a link typed in a DM as <url> or <url|what was typed>: the link kept (and put in
    the police bundle) is the address, not the markup around it."""
    bot = make_bot(tmp_path)
    ref, _ = await file_report(bot)
    text = f"evidence {ref} <http://facebook.com/p/9|facebook.com/p/9> and <https://x.com/a/status/5>"
    one(await command(bot, COUNCILLOR, "evidence", text, values={"files": [Upload("shot.png", PNG, "slack")]}))
    later = (await bot.store.get("reports", ref))["links"]
    assert [x["url"] for x in later] == ["http://facebook.com/p/9", "https://x.com/a/status/5"]
