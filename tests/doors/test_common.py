"""The rules every adapter shares (``councilbot_adapters/common.py``), each written once. Over HTTP they are
exercised by the Slack and Teams tests (form errors, Retry-After, answers queued for the DM);
here, each rule on its own, with the cases a platform rarely sends."""

from __future__ import annotations

from email.utils import formatdate
from pathlib import Path

import pytest
from requests.structures import CaseInsensitiveDict

from councilbot_adapters import common
from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Field, Reply

NOW = 1_800_000_000.0


@pytest.mark.parametrize("value, seconds", [
    ("7", 7.0), ("1.5", 1.5), (" 0.25 ", 0.25), ("0", 0.0), ("-3", 0.0),
    (formatdate(NOW + 90, usegmt=True), 90.0),          # an HTTP date: seconds from now
    (formatdate(NOW + 90), 90.0),                       # "-0000" (no zone given): still GMT
    (formatdate(NOW - 90, usegmt=True), 0.0),           # already past
    ("soon", None), ("", None), (None, None), ("nan", None), ("inf", None),
])
def test_retry_after_reads_seconds_fractions_and_dates(value: str | None, seconds: float | None) -> None:
    assert common.retry_after_seconds(value, now=NOW) == seconds


def test_headers_are_read_whatever_shape_the_sdk_gives() -> None:
    assert common.header({"retry-after": "3"}, "Retry-After") == "3"
    assert common.header({"Retry-After": ["4", "5"]}, "retry-after") == "4"
    assert common.header(CaseInsensitiveDict({"RETRY-AFTER": "6"}), "Retry-After") == "6"
    assert common.header(None, "Retry-After") is None and common.header({}, "Retry-After") is None


@pytest.mark.parametrize("status, headers, retry_after, permanent", [
    (429, {"Retry-After": "1.5"}, 1.5, False),
    (429, {}, common.DEFAULT_RATE_LIMIT_WAIT, False),
    (429, {"Retry-After": "whenever"}, common.DEFAULT_RATE_LIMIT_WAIT, False),
    (500, {}, None, False), (503, {"Retry-After": "9"}, None, False),
    (408, {}, None, False), (401, {}, None, False), (0, None, None, False),
    (400, {}, None, True), (403, {}, None, True), (404, {}, None, True), (410, {}, None, True),
])
def test_http_failures_map_to_what_the_outbox_should_do(status: int, headers: dict[str, str] | None,
                                                         retry_after: float | None, permanent: bool) -> None:
    error = common.http_failure("test", status, headers)
    assert (error.retry_after, error.permanent) == (retry_after, permanent)
    assert str(status) in str(error)


def test_one_submission_key_for_one_form_with_the_same_answers() -> None:
    answers = {"what": "Threats", "platforms": ["facebook", "x"], "danger": True}
    key = common.submission_key("view", "V1:h1", answers)
    assert key is not None and key.startswith("view:V1:h1:")
    assert common.submission_key("view", "V1:h1", dict(reversed(list(answers.items())))) == key  # order does not matter
    assert common.submission_key("view", "V1:h1", {**answers, "what": "Threats again"}) != key
    assert common.submission_key("view", "V2:h1", answers) != key
    assert common.submission_key("form", "V1:h1", answers) != key
    for not_ours in (None, "", 7, "x" * (common.MAX_INSTANCE + 1)):
        assert common.submission_key("form", not_ours, answers) is None


def test_form_errors_come_from_the_core_saying_so() -> None:
    taken = Reply(text="Report R-1 received", tone="danger", fields=(Field("what", "R-1"),))  # no inference from tone
    assert common.form_error([taken]) is None
    turned_down = Reply(text="Please fill in when.", title="Please check the form", tone="danger",
                        fields=(Field("when", "Please fill in when."), Field("nope", "not an input")), form_error=True)
    assert common.form_error([taken, turned_down]) is turned_down
    assert common.errors_by_input(turned_down, ["what", "when"]) == {"when": "Please fill in when."}
    whole = Reply(text="This form has expired.", tone="danger", form_error=True)
    assert common.errors_by_input(whole, ["comment", "other"]) == {"comment": "This form has expired."}
    assert common.errors_by_input(Reply(text="x" * 400, form_error=True), ["a"]) == {"a": "x" * 300}


async def test_answers_not_shown_are_queued_for_the_persons_direct_messages(tmp_path: Path) -> None:
    bot = CouncilBot.from_settings(Settings(council="alsager", data_dir=tmp_path))
    try:
        replies = [Reply(text="one"), Reply(text="two")]
        await common.queue_for_person(bot.outbox, "teams:aad-1", replies, TimeoutError())
        await common.queue_for_person(bot.outbox, "teams:aad-1", replies[:1], TimeoutError())  # a second failure: its own copy
        await common.queue_for_person(bot.outbox, "slack:U1", [], TimeoutError())
        queued = await bot.outbox.pending()
        assert sorted((d["to"], d["platform"], d["reply"]["text"]) for d in queued) == [
            ("teams:aad-1", "teams", "one"), ("teams:aad-1", "teams", "one"), ("teams:aad-1", "teams", "two")]
        assert all("aad-1" not in d["id"] for d in queued)  # no one's id in the delivery's id
    finally:
        await bot.stop()
