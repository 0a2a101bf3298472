"""The pure translations (Reply/Form -> Block Kit, payload -> Incoming), the notifier's error
mapping against the fake Web API, and the app manifest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from councilbot.deployment import Deployment
from councilbot_adapters.slack import blocks, inbound
from councilbot_adapters.slack.notifier import SlackNotifier
from slack_harness import make_settings
from councilbot.messages import Button, Field, Form, Input, Option, Reply
from councilbot.ports import CLERK_CHANNEL, DeliveryError
from fake_slack import FakeSlack

MANIFEST = Path(__file__).resolve().parents[2] / "adapters" / "councilbot_adapters" / "slack" / "manifest.yml"


# ---------------------------------------------------------------- blocks


def test_reply_blocks_escape_mentions_and_keep_buttons() -> None:
    reply = Reply(text="Hi <!channel> & <@U1>", title="Caution: check before posting", tone="caution",
                  fields=(Field("Verdict", "caution"), Field("Clause", 'Policy 4 (Conduct): \u201cBe kind.\u201d\nFix: Soften it.')),
                  buttons=(Button("suggestion.approve", "Approve", "S-1", "primary"), Button("suggestion.approve", "Approve", "S-2")),
                  footer="A footer")
    out = blocks.reply_blocks(reply)
    assert out[0] == {"type": "header", "text": {"type": "plain_text", "text": ":warning: Caution: check before posting", "emoji": True}}
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in out[1]["text"]["text"]
    clause = next(b for b in out if b["type"] == "section" and "Clause" in b.get("text", {}).get("text", ""))
    assert "\n>\u201cBe kind.\u201d" in clause["text"]["text"] and "*Fix:* Soften it." in clause["text"]["text"]
    actions = [b for b in out if b["type"] == "actions"]
    assert len(actions) == 2  # one action_id twice: two blocks, since Slack wants them unique per block
    assert actions[0]["elements"][0] == {"type": "button", "action_id": "suggestion.approve", "value": "S-1", "style": "primary",
                                         "text": {"type": "plain_text", "text": "Approve", "emoji": True}}


def test_long_text_is_split_and_message_stays_within_50_blocks() -> None:
    reply = Reply(text="line\n" * 2000, fields=tuple(Field(f"F{i}", "x" * 100) for i in range(80)),
                  buttons=(Button("a", "A"),))
    out = blocks.reply_blocks(reply)
    assert len(out) <= blocks.MAX_MESSAGE_BLOCKS
    assert out[-1]["type"] == "actions"
    assert all(len(b["text"]["text"]) <= 3000 for b in out if b["type"] == "section" and "text" in b)


def test_short_fields_share_sections_of_at_most_ten() -> None:
    out = blocks.field_blocks([Field(f"L{i}", "v") for i in range(12)])
    assert [len(b["fields"]) for b in out] == [10, 2]


def test_form_view_inputs() -> None:
    form = Form(name="suggest", title="Suggest a post for the council pages", context="S-9", inputs=(
        Input("text", "The post", "multiline", max_length=5000, initial="hello"),
        Input("platforms", "Where", "multiselect", options=(Option("facebook", "Facebook"), Option("twitter", "Twitter")), initial=("twitter",)),
        Input("category", "Kind", "select", options=(Option("event", "Event"),), initial="event"),
        Input("image", "Has image", "toggle", required=True, initial="true"),
        Input("on", "Date", "date", initial="2026-01-31"),
        Input("links", "Links", "urls", required=False),
    ))
    view = blocks.form_view(form)
    assert len(view["title"]["text"]) <= 24
    assert json.loads(view["private_metadata"]) == {"name": "suggest", "context": "S-9"}
    by = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert by["text"]["element"] == {"type": "plain_text_input", "multiline": True, "initial_value": "hello", "max_length": 3000, "action_id": "multiline"}
    assert by["platforms"]["element"]["type"] == "checkboxes"
    assert [o["value"] for o in by["platforms"]["element"]["initial_options"]] == ["twitter"]
    assert by["category"]["element"]["initial_option"]["value"] == "event"
    assert by["image"]["optional"] is True and by["image"]["element"]["initial_options"]
    assert by["on"]["element"] == {"type": "datepicker", "initial_date": "2026-01-31", "action_id": "date"}
    assert by["links"]["element"]["multiline"] is True and by["links"]["optional"] is True
    assert "evidence_files" not in by  # screenshots only on the report form
    report = blocks.form_view(Form(name="report", title="Report", inputs=(Input("what", "What"),)))
    assert report["blocks"][-1]["element"]["type"] == "file_input"


def test_many_options_become_a_menu() -> None:
    inp = Input("p", "P", "multiselect", options=tuple(Option(str(i), str(i)) for i in range(12)))
    assert blocks.input_block(inp)["element"]["type"] == "multi_static_select"


def test_form_survives_a_button_value() -> None:
    form = Form(name="report", title="Report", inputs=(Input("what", "What", "multiline"), Input("d", "D", "toggle")), context="x")
    button = blocks.reply_blocks(Reply(text="Open the form", form=form))[-1]["elements"][0]
    assert button["action_id"] == blocks.OPEN_FORM_ACTION
    assert blocks.decode_form(button["value"]) == form


def test_home_view_stacks_replies() -> None:
    view = blocks.home_view([Reply(text="a", title="A"), Reply(text="b")])
    assert view["type"] == "home" and {"type": "divider"} in view["blocks"]


# ---------------------------------------------------------------- inbound


def test_commands() -> None:
    base = {"user_id": "U1", "user_name": "jo"}
    assert dataclasses.asdict(inbound.command_incoming({**base, "command": "/checkpost", "text": " personal: hi "})) == {
        "kind": "command", "user": "slack:U1", "name": "checkpost", "text": "personal: hi", "value": "", "values": {},
        "event_id": None, "display_name": "jo", "typed": False}
    admin = inbound.command_incoming({**base, "command": "/councilbot", "text": "Export json"})
    assert (admin.name, admin.text) == ("export", "json")
    assert inbound.command_incoming({**base, "command": "/councilbot", "text": ""}).name == "help"
    people = inbound.command_incoming({**base, "command": "/councilbot", "text": "people add <@U0JANE|jane> councillor Jane &amp; Co"})
    assert (people.name, people.text) == ("people", "add slack:U0JANE councillor Jane & Co")


def test_a_dm_is_passed_as_typed_with_mentions_read_as_the_slash_command_reads_them() -> None:
    """The core reads commands from a DM (``typed``); Slack writes "@jane" as ``<@U0JANE>`` and
    escapes "&" in message text, so "people add @jane councillor" must arrive as /councilbot's does."""
    body = {"event_id": "Ev1", "event": {"type": "message", "user": "U1", "text": " people add <@U0JANE> councillor Jane &amp; Co "}}
    incoming = inbound.message_incoming(body)
    assert (incoming.kind, incoming.typed, incoming.event_id) == ("message", True, "Ev1")
    assert incoming.text == "people add slack:U0JANE councillor Jane & Co"


def test_person_messages_only() -> None:
    person = {"type": "message", "channel_type": "im", "user": "U1", "text": "hi"}
    assert inbound.is_person_message(person, "UBOT")
    assert not inbound.is_person_message({**person, "bot_id": "B1"}, "UBOT")
    assert not inbound.is_person_message({**person, "subtype": "bot_message"}, "UBOT")
    assert not inbound.is_person_message({**person, "subtype": "message_changed"}, "UBOT")
    assert not inbound.is_person_message({**person, "user": "UBOT"}, "UBOT")
    assert not inbound.is_person_message({**person, "channel_type": "channel"}, "UBOT")
    assert not inbound.is_person_message({**person, "text": "  "}, "UBOT")


def test_flag_shortcut_carries_author_and_permalink() -> None:
    body = {"type": "message_action", "callback_id": "flag_conduct", "user": {"id": "UCLERK", "name": "clerk"},
            "team": {"domain": "alsager"}, "channel": {"id": "C9"},
            "message": {"user": "U7", "text": "rude post", "ts": "1700000000.123456", "thread_ts": "1699999999.000001"}}
    incoming = inbound.shortcut_incoming(body)
    assert (incoming.kind, incoming.name, incoming.text, incoming.user) == ("command", "flag", "rude post", "slack:UCLERK")
    assert incoming.values == {"author": "slack:U7",
                               "link": "https://alsager.slack.com/archives/C9/p1700000000123456?thread_ts=1699999999.000001&cid=C9"}
    check = inbound.shortcut_incoming({**body, "callback_id": "check_message"})
    assert (check.name, check.text) == ("checkpost", "rude post")


def test_form_submission_values_are_typed() -> None:
    view = {"private_metadata": json.dumps({"name": "report", "context": "c1"}), "state": {"values": {
        "what": {"multiline": {"type": "plain_text_input", "value": "x"}},
        "when": {"text": {"type": "plain_text_input", "value": None}},
        "platform": {"select": {"type": "static_select", "selected_option": {"value": "email"}}},
        "platforms": {"multiselect": {"type": "checkboxes", "selected_options": [{"value": "a"}, {"value": "b"}]}},
        "danger": {"toggle": {"type": "checkboxes", "selected_options": []}},
        "on": {"date": {"type": "datepicker", "selected_date": "2026-02-01"}},
        "evidence": {"urls": {"type": "plain_text_input", "value": "https://a"}},
        "evidence_files": {"files": {"type": "file_input", "files": [{"id": "F1", "permalink": "https://slack/F1",
                                                                       "url_private_download": "https://files.slack.com/F1"}]}},
    }}}
    incoming, names = inbound.form_incoming({"user": {"id": "U1"}, "view": view})
    assert (incoming.kind, incoming.name, incoming.value, incoming.user) == ("form", "report", "c1", "slack:U1")
    assert incoming.values == {"what": "x", "when": "", "platform": "email", "platforms": ["a", "b"], "danger": False,
                               "on": "2026-02-01", "evidence": "https://a"}
    # Screenshots are downloaded by the adapter, not passed as links; their errors show beside their input.
    assert inbound.evidence_files({"view": view})[0]["url_private_download"] == "https://files.slack.com/F1"
    assert "evidence_files" in names and "what" in names


def test_form_errors_rule() -> None:
    """The core says a form was turned down (``form_error``); Slack reads nothing into tone or fields."""
    bad = Reply(text="Please fill in what.", title="Please check the form", tone="danger", fields=(Field("what", "Please fill in what."),),
                form_error=True)
    assert inbound.form_errors([bad], ["what", "when"]) == {"what": "Please fill in what."}
    # A danger reply whose field happens to share an input's name is an answer, not an error.
    receipt = Reply(text="Report sent", tone="danger", fields=(Field("what", "R-1"),))
    assert inbound.form_errors([receipt], ["what"]) is None
    expired = Reply(text="This form has expired; press the button on the card again.", title="Please check the form", tone="danger",
                    form_error=True)
    assert inbound.form_errors([expired], ["comment"]) == {"comment": expired.text}
    assert inbound.form_errors([Reply(text="Approved.", tone="ok")], ["comment"]) is None


# ---------------------------------------------------------------- notifier


@pytest.fixture
def notifier(tmp_path: Path, fake: FakeSlack) -> SlackNotifier:
    return SlackNotifier(make_settings(tmp_path, fake.api_url))


async def test_notifier_posts_to_clerk_channel_and_dms(notifier: SlackNotifier, fake: FakeSlack) -> None:
    assert notifier.platform == "slack" and await notifier.has_clerk_channel()
    ref = await notifier.send(CLERK_CHANNEL, Reply(text="hello", buttons=(Button("x", "X", "1"),)))
    assert ref is not None and ref.startswith("CCLERK:")
    dm = await notifier.send("slack:U5", Reply(text="hi"))
    assert dm is not None and dm.startswith("D5:")
    await notifier.update(ref, Reply(text="decided"))
    [update] = fake.of("chat.update")
    assert (update.data["channel"], update.data["ts"]) == tuple(ref.split(":"))
    assert not [b for b in update.data["blocks"] if b["type"] == "actions"]
    assert [c.token for c in fake.calls] == ["xoxb-test"] * 3


async def test_notifier_error_mapping(notifier: SlackNotifier, fake: FakeSlack) -> None:
    fake.fail(429, 2, retry_after=7)  # the client retries once (sleeping Retry-After); not twice
    notifier.client.retry_handlers = []  # here: see the raw mapping, no in-client retry
    with pytest.raises(DeliveryError) as limited:
        await notifier.send(CLERK_CHANNEL, Reply(text="x"))
    assert limited.value.retry_after == 7 and not limited.value.permanent
    fake.failures.clear()
    fake.fail(503, 1)
    with pytest.raises(DeliveryError) as down:
        await notifier.send(CLERK_CHANNEL, Reply(text="x"))
    assert not down.value.permanent and down.value.retry_after is None
    fake.fail(200, 1, error="channel_not_found")
    with pytest.raises(DeliveryError) as gone:
        await notifier.send(CLERK_CHANNEL, Reply(text="x"))
    assert gone.value.permanent
    with pytest.raises(DeliveryError) as teams:
        await notifier.send("teams:abc", Reply(text="x"))
    assert teams.value.permanent
    await fake.close()
    with pytest.raises(DeliveryError) as unreachable:
        await notifier.send(CLERK_CHANNEL, Reply(text="x"))
    assert not unreachable.value.permanent


async def test_retry_after_as_an_http_date_is_honoured(notifier: SlackNotifier, fake: FakeSlack) -> None:
    """Retry-After may be a date (RFC 9110): it was read as "1 second" whatever it said."""
    from email.utils import formatdate
    import time

    fake.fail(429, 1, retry_after=formatdate(time.time() + 30, usegmt=True))  # type: ignore[arg-type]
    notifier.client.retry_handlers = []  # the raw mapping, no in-client retry
    with pytest.raises(DeliveryError) as limited:
        await notifier.send(CLERK_CHANNEL, Reply(text="x"))
    assert limited.value.retry_after is not None and 25 < limited.value.retry_after <= 30


async def test_a_fractional_retry_after_on_a_response_url_is_honoured(tmp_path: Path, fake: FakeSlack) -> None:
    """Slack's client retries a 429 once, waiting Retry-After; then the reply waits as told.
    "0.5" used to break the client's retry (it read whole seconds only) and be ignored after it."""
    import time

    from aiohttp import web

    from councilbot_adapters.slack import ADAPTER_KEY, mount
    from councilbot.app import CouncilBot

    bot = CouncilBot.from_settings(make_settings(tmp_path, fake.api_url))
    web_app = web.Application()
    mount(web_app, Deployment.of(bot))
    try:
        fake.fail(429, 2, method="respond", retry_after="0.5")  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(DeliveryError) as limited:
            await web_app[ADAPTER_KEY].respond(fake.response_url("r9"), {"text": "hi", "blocks": []})
        assert limited.value.retry_after == 0.5 and not limited.value.permanent
        assert time.monotonic() - started >= 0.5 and fake.attempts.count("respond") == 2
        await web_app[ADAPTER_KEY].respond(fake.response_url("r9"), {"text": "hi", "blocks": []})
        assert [c.data["text"] for c in fake.of("respond")] == ["hi"]
    finally:
        await bot.stop()


async def test_notifier_falls_back_to_text_when_blocks_are_rejected(notifier: SlackNotifier, fake: FakeSlack) -> None:
    fake.fail(200, 1, error="invalid_blocks")
    await notifier.send("slack:U5", Reply(text="plain words"))
    [call] = fake.of("chat.postMessage")
    assert "blocks" not in call.data and call.data["text"] == "plain words"


# ---------------------------------------------------------------- manifest


def test_manifest() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/policy", "/checkpost", "/report", "/suggest", "/councilbot"}
    assert all(c["url"] == "https://YOUR-HOST/slack/events" for c in commands.values())
    assert {s["callback_id"] for s in manifest["features"]["shortcuts"]} == {"check_message", "flag_conduct"}
    assert all(s["type"] == "message" and len(s["name"]) <= 24 for s in manifest["features"]["shortcuts"])
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"] is False
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_home_opened", "message.im"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "im:history", "files:read", "files:write", "im:write"}
    assert len(manifest["display_information"]["description"]) <= 140


async def test_mount_refuses_missing_secrets(tmp_path: Path) -> None:
    from aiohttp import web

    from councilbot_adapters.slack import mount
    from councilbot.app import CouncilBot
    from councilbot.config import ConfigError, Settings

    bot = CouncilBot.from_settings(Settings(council="alsager", data_dir=tmp_path, slack={"bot_token": "xoxb-x"}))
    try:
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            mount(web.Application(), Deployment.of(bot))
    finally:
        await bot.stop()


def test_slack_limits_hold_for_long_fields_and_long_pasted_posts() -> None:
    """Slack refuses a modal whose text input allows more than 3000 characters (invalid_arguments),
    and a button value holds 2000: a long flagged post must still give a form that opens."""
    from fake_slack import view_problem

    from councilbot import conduct

    long_post = " ".join(f"w{i * 7919 % 10007}" for i in range(1200))  # ~7,000 characters that do not compress
    form = conduct.form(author="slack:U1", text=long_post)
    assert view_problem(blocks.form_view(form)) is None
    button = blocks.open_form_button(form)
    assert button is not None and len(button.value) <= 2000
    assert blocks.decode_form(button.value).inputs[1].initial == ""  # the empty form, to paste into
    short = blocks.open_form_button(conduct.form(author="slack:U1", text="A short post"))
    assert short is not None and blocks.decode_form(short.value).inputs[1].initial == "A short post"
