"""The pure halves of the adapter: activity JSON -> Incoming, Reply/Form -> Adaptive Card."""

from __future__ import annotations

from typing import Any

import pytest

from councilbot_adapters.teams import cards, inbound
from councilbot.messages import Button, Field, Form, Incoming, Input, Option, Reply


def message(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "id": "m1", "text": text, "from": {"id": "29:x", "aadObjectId": "aad-1", "name": "Ann"},
            "recipient": {"id": "28:bot", "name": "CouncilBot"},
            "conversation": {"id": "a:1", "conversationType": "personal", "tenantId": "t1"}, **extra}


@pytest.mark.parametrize("text", ["report", "people add teams:aad-9 councillor Jane Smith", "Report on tonight's meeting!",
                                  "  /checkpost personal twitter: hello "])
def test_typed_text_goes_to_the_core_as_typed(text: str) -> None:
    """The adapter reads no commands: the core does, with the one table every platform shares."""
    incoming = inbound.to_incoming(message(text))
    assert incoming is not None
    assert (incoming.kind, incoming.text, incoming.typed) == ("message", text.strip(), True)
    assert incoming.user == "teams:aad-1" and incoming.event_id == "m1" and incoming.display_name == "Ann"
    assert inbound.to_incoming(message("  ")) is None


def test_bot_mention_is_removed_and_other_mentions_keep_their_names() -> None:
    activity = message("<at>CouncilBot</at> policy can I tag <at>Jane Smith</at>?", entities=[
        {"type": "mention", "text": "<at>CouncilBot</at>", "mentioned": {"id": "28:bot", "name": "CouncilBot"}},
        {"type": "mention", "text": "<at>Jane Smith</at>", "mentioned": {"id": "29:jane", "name": "Jane Smith"}},
    ])
    assert inbound.clean_text(activity) == "policy can I tag Jane Smith?"
    assert inbound.mentions_bot(activity)
    assert inbound.SET_CLERK_CHANNEL.match(inbound.clean_text(message("<at>CouncilBot</at> set clerk channel", entities=[
        {"type": "mention", "text": "<at>CouncilBot</at>", "mentioned": {"id": "28:bot"}}])))


def test_no_aad_id_means_no_user_unless_local() -> None:
    activity = message("help")
    del activity["from"]["aadObjectId"]
    assert inbound.to_incoming(activity) is None
    assert inbound.to_incoming(activity, allow_plain_id=True).user == "teams:29:x"  # type: ignore[union-attr]


def test_channel_ids_and_tenant() -> None:
    activity = message("x", conversation={"id": "19:c@thread.tacv2;messageid=9", "conversationType": "channel"},
                       channelData={"team": {"id": "19:t@thread.tacv2"}, "channel": {"id": "19:c@thread.tacv2"},
                                    "tenant": {"id": "t2"}})
    assert inbound.team_channel_id(activity) == "19:c@thread.tacv2"
    assert inbound.tenant_id(activity) == "t2"
    del activity["channelData"]["channel"]
    assert inbound.team_channel_id(activity) == "19:c@thread.tacv2"
    assert not inbound.is_personal(activity)


FORM = Form(name="report", title="Report", context="ctx-1", submit_label="Send", inputs=(
    Input("what", "What happened?", "multiline", max_length=5000),
    Input("platform", "Where?", "select", options=(Option("facebook", "Facebook"), Option("other", "Other"))),
    Input("where", "Which platforms?", "multiselect", required=False,
          options=(Option("facebook", "Facebook"), Option("youtube", "YouTube")), initial=("youtube",)),
    Input("danger", "Anyone in danger?", "toggle", required=False),
    Input("on", "When?", "date", required=False),
    Input("evidence", "Links", "urls", required=False),
    Input("form", "An input that shares a name with our own data keys", required=False),
))


def test_form_card_has_typed_validated_inputs_and_one_submit() -> None:
    card = cards.reply_card(Reply(text="", form=FORM))
    inputs = {e["id"]: e for e in card["body"] if "id" in e}
    assert inputs["in:what"]["type"] == "Input.Text" and inputs["in:what"]["isMultiline"]
    assert inputs["in:what"]["isRequired"] and inputs["in:what"]["errorMessage"] and inputs["in:what"]["maxLength"] == 5000
    assert inputs["in:platform"]["type"] == "Input.ChoiceSet" and not inputs["in:platform"].get("isMultiSelect")
    assert inputs["in:where"]["isMultiSelect"] and inputs["in:where"]["value"] == "youtube"
    assert not inputs["in:where"]["isRequired"]
    assert inputs["in:danger"]["type"] == "Input.Toggle" and inputs["in:danger"]["valueOn"] == "true"
    assert inputs["in:on"]["type"] == "Input.Date"
    assert inputs["in:evidence"]["isMultiline"] and "line" in inputs["in:evidence"]["placeholder"]
    [submit] = card["actions"]
    assert submit["type"] == "Action.Execute" and submit["fallback"]["type"] == "Action.Submit"
    assert submit["data"]["form"] == "report" and submit["data"]["context"] == "ctx-1"
    assert submit["title"] == "Send"


def test_form_submission_comes_back_typed() -> None:
    card = cards.form_card(FORM)
    data = {**card["actions"][0]["data"], "in:what": "Threats", "in:platform": "facebook", "in:where": "facebook,youtube",
            "in:danger": "true", "in:evidence": "https://a\nhttps://b", "in:form": "clash"}
    incoming = inbound.from_card_data("teams:aad-1", data, "e1")
    assert incoming is not None and incoming.event_id
    assert incoming == Incoming(kind="form", user="teams:aad-1", name="report", value="ctx-1", event_id=incoming.event_id,
                                values={"what": "Threats", "platform": "facebook", "where": ["facebook", "youtube"],
                                        "danger": True, "on": "", "evidence": "https://a\nhttps://b", "form": "clash"})
    # One card and the same answers is one submission, whichever activity brings it.
    assert inbound.from_card_data("teams:aad-1", data, "e2").event_id == incoming.event_id  # type: ignore[union-attr]
    changed = inbound.from_card_data("teams:aad-1", {**data, "in:what": "Threats again"}, "e3")
    other_card = inbound.from_card_data("teams:aad-1", {**cards.form_card(FORM)["actions"][0]["data"], **{
        k: v for k, v in data.items() if k.startswith("in:")}}, "e4")
    assert len({incoming.event_id, changed.event_id, other_card.event_id}) == 3  # type: ignore[union-attr]
    # A card we did not make (no sheet id) falls back to the activity's id.
    assert inbound.from_card_data("teams:aad-1", {k: v for k, v in data.items() if k != "sheet"}, "e5").event_id == "e5"  # type: ignore[union-attr]
    # Untouched optional inputs that the client leaves out still arrive, empty.
    sparse = inbound.from_card_data("teams:aad-1", {**card["actions"][0]["data"], "in:what": "x", "in:platform": "other"})
    assert sparse is not None and sparse.values["where"] == [] and sparse.values["danger"] is False


def _texts(node: Any) -> list[str]:
    """Every TextBlock text and FactSet value in a card, as sent (Markdown)."""
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "TextBlock" else []
    own += [f["value"] for f in node.get("facts", ())]
    return own + [t for key in ("body", "items") for t in _texts(node.get(key))]


def test_what_people_typed_is_shown_as_typed_not_as_markdown() -> None:
    from fake_connector import rendered

    typed = "They wrote: [verify your account](https://evil.example) **now**"
    reply = Reply(title="Confidential report R-1", text=typed,
                  fields=(Field("From", "user_name_1"), Field("What happened", "a\n[link](https://x)")))
    sent = _texts(cards.reply_card(reply))
    assert r"They wrote: \[verify your account\](https://evil.example) \*\*now\*\*" in sent  # no live link, no bold
    assert r"user\_name\_1" in sent
    assert typed in [rendered(t) for t in sent] and "user_name_1" in [rendered(t) for t in sent]


def test_reply_card_renders_title_text_fields_footer_and_buttons() -> None:
    reply = Reply(title="Suggested post S-1", text="Waiting for a decision.\nSecond line", tone="caution",
                  fields=(Field("Platforms", "Facebook"), Field("Post", "A long post " * 20)),
                  buttons=(Button("suggestion.approve", "Approve", "S-1", "primary"), Button("suggestion.reject", "Reject", "S-1", "danger")),
                  footer="Moderators decide.")
    card = cards.reply_card(reply)
    container = card["body"][0]
    assert container["style"] == "warning"
    items = container["items"]
    assert items[0]["text"] == "Suggested post S-1" and items[0]["weight"] == "Bolder"
    assert items[1]["text"] == "Waiting for a decision.\n\nSecond line"
    assert items[2] == {"type": "FactSet", "facts": [{"title": "Platforms", "value": "Facebook"}]}
    assert items[3]["type"] == "Container"  # a long value reads better as its own block
    assert items[-1]["text"] == "Moderators decide." and items[-1]["isSubtle"]
    approve, reject = card["actions"]
    assert approve["data"] == {"action": "suggestion.approve", "value": "S-1"} and approve["style"] == "positive"
    assert reject["style"] == "destructive"
    assert inbound.from_card_data("teams:u", approve["data"]) == Incoming(
        kind="action", user="teams:u", name="suggestion.approve", value="S-1")
    assert "actions" not in cards.reply_card(Reply(text="Approved by the Clerk."))


def test_invoke_data_is_read_from_the_action() -> None:
    activity = message("", type="invoke", name="adaptiveCard/action",
                       value={"action": {"type": "Action.Execute", "verb": "x", "data": {"action": "report.view", "value": "R-1"}}})
    incoming = inbound.to_incoming(activity)
    assert incoming is not None and (incoming.kind, incoming.name, incoming.value) == ("action", "report.view", "R-1")
    assert inbound.to_incoming(message("", type="invoke", name="task/fetch")) is None
    assert inbound.from_card_data("teams:u", {"something": "else"}) is None


def test_a_long_report_in_emoji_still_fits_a_teams_message() -> None:
    """Teams refuses messages over about 28 KB as sent (non-ASCII escaped): a 5,000-character report
    written in emoji would be 60 KB. The card is shortened to fit, and says so."""
    import json as _json

    from councilbot_adapters.teams.cards import CARD_BUDGET, SHORTENED, reply_card
    from councilbot.messages import Field, Reply

    what = "😡" * 5000
    card = reply_card(Reply(text="Confidential", title="New report R-2026-0001", fields=(Field("What happened", what),)))
    sent = _json.dumps(card)
    assert len(sent) <= CARD_BUDGET and SHORTENED.strip() in _json.loads(sent)["body"][-1]["items"][-1]["text"]
    short = reply_card(Reply(text="", title="New report", fields=(Field("What happened", "Abuse on Facebook"),)))
    assert SHORTENED.strip() not in _json.dumps(short) and len(short["fallbackText"]) < 300
