"""Evidence over real HTTP with Slack: a screenshot in the report modal's file_input is fetched from
the (fake) Slack file URL with the bot's token and kept, surviving Slack deleting it; a file that
is not an image or PDF is refused beside its input; the "Evidence bundle" button uploads the zip
to the requester's DM only (files_upload_v2)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from councilbot import bundle, evidence
from slack_harness import Harness, texts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


async def _report_view(harness: Harness) -> dict[str, Any]:
    await harness.slack.command("/report", user="UCLLR")
    [call] = await harness.fake.wait_for("views.open")
    return dict(call.data["view"])


ANSWERS = {"what": "He keeps posting threats under my posts.", "platform": "facebook", "when": "last night", "danger": False}


async def test_file_input_screenshot_is_fetched_with_the_bot_token_and_kept(harness: Harness) -> None:
    view = await _report_view(harness)
    shot = harness.fake.add_file("threat.png", PNG)
    answer = await harness.slack.submit(view, {**ANSWERS, "evidence_files": [shot]}, user="UCLLR")
    assert answer.status == 200 and answer.json()["response_action"] == "update"
    # Downloaded from Slack's private file URL, with the bot's own token.
    assert harness.fake.file_fetches == [(shot["id"], "Bearer xoxb-test")]
    [record] = (await harness.bot.store.find("reports"))
    [kept] = record["files"]
    assert kept["sha256"] == hashlib.sha256(PNG).hexdigest() and kept["name"] == "threat.png" and kept["source"] == "slack"
    # Slack deletes the file; the evidence stays, and goes into the bundle byte for byte.
    harness.fake.delete_file(shot["id"])
    path = Path(harness.bot.ctx.files) / evidence.FOLDER / kept["sha256"]
    assert path.read_bytes() == PNG
    made = await bundle.build(harness.bot.ctx, "slack:UCLERK", record["id"], Path(harness.bot.ctx.files).parent / "case.zip")
    with zipfile.ZipFile(made["path"]) as zf:
        assert PNG in [zf.read(n) for n in zf.namelist() if n.startswith("evidence/")]


async def test_a_file_that_is_not_an_image_or_pdf_keeps_the_modal_open(harness: Harness) -> None:
    view = await _report_view(harness)
    program = harness.fake.add_file("cute-cat.png", b"MZ\x90\x00" + b"\x00" * 200)
    answer = await harness.slack.submit(view, {**ANSWERS, "evidence_files": [program]}, user="UCLLR")
    body = answer.json()
    assert body["response_action"] == "errors" and "is not an image" in body["errors"]["evidence_files"]
    assert (await harness.bot.store.find("reports")) == []
    # Without the bot's token Slack serves its sign-in page: said plainly, nothing kept.
    harness.fake.bot_token = "xoxb-another-app"
    shot = harness.fake.add_file("threat.png", PNG)
    answer = await harness.slack.submit(view, {**ANSWERS, "evidence_files": [shot]}, user="UCLLR")
    body = answer.json()
    assert body["response_action"] == "errors" and "files:read" in body["errors"]["evidence_files"]
    assert (await harness.bot.store.find("reports")) == []


async def test_evidence_bundle_button_uploads_the_zip_to_the_requesters_dm(harness: Harness) -> None:
    view = await _report_view(harness)
    await harness.slack.submit(view, {**ANSWERS, "evidence_files": [harness.fake.add_file("threat.png", PNG)]}, user="UCLLR")
    [record] = (await harness.bot.store.find("reports"))
    # The reporter is not a recipient: no bundle, no upload.
    await harness.slack.press({"action_id": "report.bundle", "value": record["id"]}, user="UCLLR", channel="DCLLR")
    [refusal] = await harness.fake.wait_for("respond", where=lambda c: "recipients" in texts(c.data))
    assert "Only the report's recipients" in texts(refusal.data)
    await harness.slack.press({"action_id": "report.bundle", "value": record["id"]}, user="UCLERK", channel="DCLERK")
    [done] = await harness.fake.wait_for("files.completeUploadExternal")
    assert harness.fake.of("conversations.open")[-1].data["users"] == "UCLERK"
    assert done.data["channel_id"] == "DCLERK" and record["id"] in done.data["initial_comment"]
    [upload] = json.loads(done.data["files"]) if isinstance(done.data["files"], str) else done.data["files"]
    data = harness.fake.uploads[upload["id"]]
    target = Path(harness.bot.ctx.files).parent / "from-slack.zip"
    target.write_bytes(data)
    problems, manifest = bundle.verify(target)
    assert problems == [] and manifest["report"] == record["id"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert any(zf.read(n) == PNG for n in zf.namelist())
    # Where the button was pressed, the Clerk is told where it went; nothing of it stays on disk.
    await harness.fake.wait_for("respond", where=lambda c: "Sent to you privately" in texts(c.data))
    assert list((Path(harness.bot.ctx.files) / bundle.BUNDLES).rglob("*.zip")) == []
    assert [a for a in (await harness.bot.store.find("audit")) if a["action"] == "report.bundle_exported"][0]["actor"] == "slack:UCLERK"


async def test_screenshots_shared_in_the_dm_are_added_to_the_report(harness: Harness) -> None:
    view = await _report_view(harness)
    await harness.slack.submit(view, ANSWERS, user="UCLLR")
    [record] = (await harness.bot.store.find("reports"))
    later = harness.fake.add_file("later.png", PNG)
    answer = await harness.slack.dm(f"evidence {record['id']}", user="UCLLR", extra={"subtype": "file_share", "files": [later]})
    assert answer.status == 200
    await harness.fake.wait_for("chat.postMessage", channel="DCLLR", where=lambda c: "Kept with report" in texts(c.data))
    assert harness.fake.file_fetches[-1] == (later["id"], "Bearer xoxb-test")
    assert [f["name"] for f in (await harness.bot.store.get("reports", record["id"]))["files"]] == ["later.png"]
