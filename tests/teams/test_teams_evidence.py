"""Evidence over real HTTP with Teams: screenshots attached in the personal chat are downloaded at
once from the (fake) Bot Connector and kept with the report; the "Evidence bundle" button gives the
recipient a short-lived signed link that `councilbot serve` answers once, with a zip that verifies."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import aiohttp
from fake_connector import FakeConnector
from teams_helpers import Teams, button_data, personal_conversation, submit_data

from councilbot_adapters.teams import files as teams_files
from councilbot import bundle

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n" + b"a long thread, exported" * 40


async def _file_report(teams: Teams) -> str:
    await teams.say("aad-clerk", "help")  # the clerk has a personal chat with the bot
    [form] = await teams.say("aad-resident", "report")
    data = submit_data(form.card, what="He keeps threatening me under the council's posts", platform="facebook",
                       when="last night", danger="false")
    status, _ = await teams.post(teams.personal("aad-resident", value=data, reply_to=form.response_id))
    assert status == 200
    [record] = (await teams.bot.store.find("reports"))
    return str(record["id"])


async def test_screenshots_attached_in_the_personal_chat_are_kept_with_the_report(teams: Teams) -> None:
    ref = await _file_report(teams)
    image = teams.connector.image_attachment("threat.png", PNG)
    document = teams.connector.file_attachment("thread.pdf", PDF)
    activity = teams.personal("aad-resident", f"evidence for {ref}")
    activity["attachments"] = [image, document, {"contentType": "text/html", "content": "<p>evidence</p>"}]
    status, _ = await teams.post(activity)
    assert status == 200
    await teams.connector.wait_for(lambda c: c.conversation == personal_conversation("aad-resident")
                                   and f"Kept with report {ref}: 2 file(s)" in c.text)
    # Both fetched from the connector's addresses (no bot token exists in Emulator mode).
    assert sorted(key for key, _ in teams.connector.fetches) == sorted(
        [image["contentUrl"].split("/")[-3], document["content"]["uniqueId"]])
    record = await teams.bot.store.get("reports", ref)
    assert [(f["name"], f["sha256"], f["source"]) for f in record["files"]] == [
        ("threat.png", hashlib.sha256(PNG).hexdigest(), "teams"), ("thread.pdf", hashlib.sha256(PDF).hexdigest(), "teams")]
    # Teams deletes them; the report keeps them.
    teams.connector.attachments.clear()
    assert (await teams.bot.ctx.store.get("reports", ref))["files"] and Path(teams.bot.ctx.files, ".evidence", record["files"][0]["sha256"]).read_bytes() == PNG

    # A file that is not an image or PDF is refused, and nothing is added.
    activity = teams.personal("aad-resident", ref)
    activity["attachments"] = [teams.connector.file_attachment("invoice.pdf", b"MZ\x90\x00 not a pdf at all")]
    await teams.post(activity)
    await teams.connector.wait_for(lambda c: c.conversation == personal_conversation("aad-resident")
                                   and "invoice.pdf is not an image" in c.text)
    assert len((await teams.bot.store.get("reports", ref))["files"]) == 2


async def test_attachments_are_fetched_with_the_bot_token_only_from_the_connector(connector: FakeConnector) -> None:
    image = connector.image_attachment("a.png", PNG)
    document = connector.file_attachment("b.pdf", PDF)
    elsewhere = {"name": "c.png", "url": "http://192.0.2.1/c.png", "signed": True}
    items = [*teams_files.attachments_of({"attachments": [image, document]}), elsewhere]
    uploads = await teams_files.download(items, connector.url, "bot-token")
    assert [u.data for u in uploads[:2]] == [PNG, PDF] and uploads[2].problem and not uploads[2].data
    auth = dict(connector.fetches)
    assert auth[image["contentUrl"].split("/")[-3]] == "Bearer bot-token"  # the connector's own attachment view
    assert auth[document["content"]["uniqueId"]] == ""  # a pre-authorised download link gets no token


async def test_evidence_bundle_button_gives_a_signed_link_served_once(teams: Teams) -> None:
    ref = await _file_report(teams)
    activity = teams.personal("aad-resident", ref)
    activity["attachments"] = [teams.connector.image_attachment("threat.png", PNG)]
    await teams.post(activity)
    status, body = await teams.post(teams.invoke("aad-clerk", {"action": "report.view", "value": ref}))
    card = body["value"]
    status, body = await teams.post(teams.invoke("aad-clerk", button_data(card, "Evidence bundle")))
    assert status == 200
    [url] = re.findall(r"http://127\.0\.0\.1:\d+/evidence-bundles/[A-Za-z0-9_\\-]+\.[0-9a-f]{40}", str(body["value"]))
    # The link is not tied to a person (Teams cannot say who opens it): it says so, rather than "for you alone".
    assert "for whoever opens it first, so do not pass it on" in str(body["value"])
    async with aiohttp.ClientSession() as session:
        async with session.get(url.replace("\\", "")) as resp:
            assert resp.status == 200 and resp.headers["Content-Disposition"].startswith("attachment")
            data = await resp.read()
        async with session.get(url.replace("\\", "")) as again:
            assert again.status == 410  # once only
        async with session.get(url.replace("\\", "")[:-4] + "0000") as forged:
            assert forged.status == 404
    target = Path(teams.bot.ctx.files).parent / "from-teams.zip"
    target.write_bytes(data)
    problems, manifest = bundle.verify(target)
    assert problems == [] and manifest["report"] == ref
    # A councillor cannot have one.
    status, body = await teams.post(teams.invoke("aad-cllr", {"action": "report.bundle", "value": ref}))
    assert "evidence-bundles" not in str(body) and "that you can see" in str(body)


def test_the_bot_token_goes_only_to_microsofts_connector_hosts() -> None:
    """Anyone can name an Azure Traffic Manager profile (x.trafficmanager.net): an attachment
    address there must not be sent the bot's token, only Teams' own connector host."""
    service = "https://smba.trafficmanager.net/emea/"
    assert teams_files.token_goes_to("https://smba.trafficmanager.net/emea/v3/attachments/1/views/original", service)
    assert teams_files.token_goes_to("https://smba.trafficmanager.net/amer/v3/attachments/1/views/original", service)
    assert teams_files.token_goes_to("https://webchat.botframework.com/attachments/1", service)
    assert not teams_files.token_goes_to("https://attacker.trafficmanager.net/v3/attachments/1/views/original", service)
    assert not teams_files.token_goes_to("http://smba.trafficmanager.net/emea/v3/attachments/1", service)
    assert not teams_files.token_goes_to("https://botframework.com.example.org/x", service)
