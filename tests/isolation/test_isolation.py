"""Issue 12's first property: one council never sees another's records, over every read path, on
TinyDB and on PostgreSQL. One ``build_app(deployment)`` serves Alsager (A, full of records),
Castle Cary (B) and Ansford (C, on Alsager's pack); the Clerk, approvers and councillors of B and C
ask after everything over real HTTP, and nothing of A's comes back. References such as R-2026-0001
are per council and do coincide, so what is compared is content: A's report text, names and ids.

The tests share one world per backend (module-scoped) and pass in any order: only the erasure test
changes B (it removes the shared councillor's B suggestion, which no other test relies on)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from psycopg import sql

from councilbot import dataprotection, moderation
from councilbot.messages import Reply
from councilbot.storage.postgres import PostgresBackend
from councilbot.storage.tiny import TinyBackend

from .world import (
    A, A_APPROVED, A_BOTH_REPORT, A_MODERATION, A_PENDING, A_PENDING_3, A_REPORT, A_TEXTS, B, B_APPROVED, B_BOTH_PENDING,
    B_PENDING, B_REPORT, B_TEXTS, C, COUNCILS, SLACK_CLERK, TEAMS_CLERK, TENANT, TOKEN, CLERK_AAD, World, leaked, said,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

EVERYONE = A_TEXTS + B_TEXTS  # what no health endpoint, log line or stranger's answer may hold
PERSON_IDS = ("UCLERK", "UBOTH", "UA_CLLR", "UB_CLLR", "UC_CLERK", "aad-a-clerk", "aad-b-clerk")


async def snapshot(world: World) -> dict[str, dict[str, list[str]]]:
    """Every record id of every council, table by table (the housekeeping log left out: it moves on its own)."""
    return {c: {t: sorted(str(d["id"]) for d in rows) for t, rows in (await world.rows(c)).items() if t != "runs"}
            for c in COUNCILS}


# ---------------------------------------------------------------- the outbox


async def test_a_notices_go_out_only_with_a_token_to_a_clerk_channel(world: World) -> None:
    """The shared Clerk (``UCLERK`` clerks A and B) got A's report notices: with A's workspace token,
    and nothing of A's ever left with B's or C's token or reached B's or C's clerk channel."""
    # Web API calls, which carry a workspace's token (answers posted to a response_url carry none:
    # they answer the request that gave the URL, and the tests of each read path check those).
    calls = [c for c in world.fake.calls if c.method not in ("auth.test", "respond")]
    to_a_channel = [c for c in calls if c.data.get("channel") == SLACK_CLERK[A]]
    assert to_a_channel and {c.token for c in to_a_channel} == {TOKEN[A]}
    notices = [c for c in calls if c.data.get("channel") in ("UCLERK", "DCLERK") and A_REPORT in said([c])]
    assert notices and {c.token for c in notices} == {TOKEN[A]}, "A's notice to the shared Clerk"
    for call in calls:
        if leaked(said([call])):
            assert call.token == TOKEN[A] and call.data.get("channel") not in (SLACK_CLERK[B], SLACK_CLERK[C]), call
    for council in (B, C):
        theirs = [c for c in calls if c.token == TOKEN[council]]
        assert not leaked(said(theirs)), council
        assert all(c.data.get("channel") not in (SLACK_CLERK[A],) for c in theirs)
    b_notice = [c for c in calls if B_REPORT in said([c])]
    assert b_notice and {c.token for c in b_notice} == {TOKEN[B]}  # B's own notices went with B's token
    # Teams: A's notices went to A's clerk channel and A's Clerk's chat only, none to B's.
    teams_calls = [c for c in world.connector.calls if c.op != "create"]
    a_teams = [c for c in teams_calls if leaked(json.dumps(c.body, ensure_ascii=False))]
    assert {c.conversation for c in a_teams} == {TEAMS_CLERK[A], "a:personal-chat-aad-a-clerk"}, \
        {c.conversation for c in a_teams}
    b_channel = [c for c in teams_calls if c.conversation == TEAMS_CLERK[B]]
    assert any(B_PENDING in c.text for c in b_channel)  # B's cards reach B's channel: it is in use
    # UBOTH told A their name; B's card for their suggestion does not borrow it.
    assert any(B_BOTH_PENDING in c.text and "Suggested by: UBOTH" in c.text for c in b_channel)


# ---------------------------------------------------------------- Slack: lists


async def test_slack_reports_in_b_list_b_reports_only(world: World) -> None:
    """The shared Clerk asks for reports in B's workspace (slash command and typed DM): B's report,
    none of A's; B's deputy clerk (no report recipient there) none at all; the councillor who sits on A and B sees neither A's
    report they filed there nor anyone else's. In C, nothing from A or B. (The list names references,
    which coincide between councils, so the counts tell: the Clerk has one open report in B, two in A.)"""
    deputy = await world.command(B, "UB_DEP", "reports")  # not one of B's report recipients
    assert "No reports to show" in deputy.text and not leaked(deputy.text), deputy.text
    for heard in (await world.command(B, "UCLERK", "reports"), await world.dm(B, "UCLERK", "reports")):
        # The list names references only: B has one report for its Clerk, A two.
        assert "1 open report(s) for you" in heard.text and not leaked(heard.text), heard.text
        assert heard.tokens <= {TOKEN[B], None}  # a DM answer with B's token; response_url posts carry none
    both = await world.command(B, "UBOTH", "reports")
    assert A_BOTH_REPORT not in both.text and not leaked(both.text), both.text
    for user in ("UC_CLERK", "UBOTH"):
        heard = await world.command(C, user, "reports")
        assert not leaked(heard.text) and not leaked(heard.text, B_TEXTS), heard.text
        assert heard.tokens <= {TOKEN[C], None}
    # The same person, same words, in A's workspace: A's reports (the check above can fail).
    mine = await world.command(A, "UCLERK", "reports")
    assert "2 open report(s) for you" in mine.text


async def test_slack_pending_in_b_lists_b_suggestions_only(world: World) -> None:
    for user in ("UCLERK", "UB_MOD"):  # the Clerk and an approver (castle-cary's moderators approve)
        for heard in (await world.command(B, user, "pending"), await world.dm(B, user, "pending")):
            assert B_PENDING in heard.text, heard.text
            assert not leaked(heard.text), leaked(heard.text)
    heard = await world.command(C, "UC_CLERK", "pending")
    assert not leaked(heard.text) and not leaked(heard.text, B_TEXTS), heard.text
    mine = await world.command(A, "UCLERK", "pending")
    assert A_PENDING in mine.text and B_PENDING not in mine.text


async def test_slack_app_home_in_b_shows_b_only(world: World) -> None:
    """App Home (``app_home_opened`` -> ``views.publish``) for the shared Clerk and the shared
    councillor in B and C: published with that workspace's token, holding nothing of A's."""
    clerk = await world.home(B, "UCLERK")
    [published] = [c for c in clerk.calls if c.method == "views.publish"]
    assert published.token == TOKEN[B]
    assert not leaked(clerk.text), leaked(clerk.text)
    assert "1 open report(s) for you" in clerk.text and B_PENDING in clerk.text  # B's own counts and queue
    for council, user in ((B, "UBOTH"), (C, "UBOTH"), (C, "UC_CLERK")):
        heard = await world.home(council, user)
        assert not leaked(heard.text), (council, user, leaked(heard.text))
        assert {c.token for c in heard.calls if c.method == "views.publish"} == {TOKEN[council]}
    # In A the same Clerk's home does show A's business: the view is built from the records.
    a_home = await world.home(A, "UCLERK")
    assert A_PENDING in a_home.text and "2 open report(s) for you" in a_home.text and not leaked(a_home.text, B_TEXTS)
    assert said(a_home.calls) != said(clerk.calls)


async def test_slack_flags_moderation_and_people_in_b_are_b_own(world: World) -> None:
    for text in ("flags", "people"):
        heard = await world.command(B, "UCLERK", text)
        assert heard.calls, text
        assert not leaked(heard.text), (text, leaked(heard.text))
        c_heard = await world.command(C, "UC_CLERK", text)
        assert not leaked(c_heard.text) and not leaked(c_heard.text, B_TEXTS), (text, c_heard.text)
    assert "No posts have been flagged" in (await world.command(B, "UCLERK", "flags")).text
    people = await world.command(B, "UCLERK", "people")
    assert "Delia Cary" in people.text and "UB_MOD" in people.text
    # Moderation in chat only opens the form to record one; its records are read by the export.
    b_moderation = await moderation.export(world.bot(B).ctx)
    assert b_moderation.startswith("id,") and not leaked(b_moderation)
    assert A_MODERATION in await moderation.export(world.bot(A).ctx)
    a_flags = await world.command(A, "UCLERK", "flags")
    assert "Arabella Quince: 1 flag(s)" in a_flags.text  # the same command in A does list A's flag
    a_people = await world.command(A, "UCLERK", "people")
    assert "Zanzibar Wolfe" in a_people.text and "Delia Cary" not in a_people.text


async def test_slack_exports_from_b_hold_b_approved_posts_only(world: World) -> None:
    for form in ("json", "csv"):
        heard = await world.command(B, "UCLERK", f"export {form}")
        assert B_APPROVED in heard.text, (form, heard.text[:500])
        assert not leaked(heard.text), (form, leaked(heard.text))
        assert heard.tokens <= {TOKEN[B], None}  # response_url posts carry no token
        c_heard = await world.command(C, "UC_CLERK", f"export {form}")
        assert not leaked(c_heard.text) and B_APPROVED not in c_heard.text, c_heard.text
    a_heard = await world.command(A, "UCLERK", "export csv")
    assert A_APPROVED in a_heard.text and B_APPROVED not in a_heard.text


async def test_slack_report_view_of_a_reference_from_b_finds_no_such_report(world: World) -> None:
    """A has R-2026-0001 and R-2026-0002; B has only R-2026-0001 (its own). Opening A's second
    from B finds nothing; opening the shared number shows B's report, never A's."""
    a_only = world.seeded["a_both_report"]
    assert a_only != world.seeded["b_report"]
    heard = await world.press(B, "UCLERK", "report.view", a_only)
    assert f"There is no report {a_only} that you can see" in heard.text, heard.text
    assert not leaked(heard.text)
    shared = await world.press(B, "UCLERK", "report.view", world.seeded["b_report"])
    assert B_REPORT in shared.text and not leaked(shared.text)
    in_c = await world.press(C, "UC_CLERK", "report.view", world.seeded["a_report"])
    assert f"There is no report {world.seeded['a_report']} that you can see" in in_c.text and not leaked(in_c.text)
    reads = [d for d in await world.bot(A).store.find("audit") if d["action"] == "report.read"]
    assert reads == []  # A's log shows no one read A's reports


async def test_approving_a_suggestion_of_a_from_b_or_c_is_refused_and_leaves_it_pending(world: World) -> None:
    before = await world.bot(A).store.get("suggestions", world.seeded["a_pending_3"])
    first = await world.bot(A).store.get("suggestions", world.seeded["a_pending"])
    heard = await world.press(B, "UCLERK", "suggestion.approve", world.seeded["a_pending_3"])
    nothing = f"There is no suggestion {world.seeded['a_pending_3']} waiting for a decision"
    assert nothing in heard.text and not leaked(heard.text), heard.text
    in_c = await world.press(C, "UC_CLERK", "suggestion.approve", world.seeded["a_pending"])
    assert f"There is no suggestion {world.seeded['a_pending']} waiting" in in_c.text and not leaked(in_c.text), in_c.text
    assert await world.bot(A).store.get("suggestions", world.seeded["a_pending_3"]) == before
    assert await world.bot(A).store.get("suggestions", world.seeded["a_pending"]) == first
    assert before is not None and before["status"] == "pending" and A_PENDING_3 == before["text"]
    assert not [d for d in await world.bot(A).store.find("audit") if d["action"] == "suggestion.approved"
                and d["subject"] != world.seeded["a_approved"]]
    assert world.seeded["a_pending_3"] not in {s["id"] for s in await world.bot(B).store.find("suggestions")}
    # The same button pressed on a Teams card by B's Clerk, from B's tenant.
    press = world.in_tenant(world.teams[B].invoke(CLERK_AAD[B], {"action": "suggestion.approve",
                                                                 "value": world.seeded["a_pending_3"]}), TENANT[B])
    status, answer = await world.teams[B].post(press)
    assert status == 200 and nothing in json.dumps(answer) and not leaked(json.dumps(answer)), answer
    assert await world.bot(A).store.get("suggestions", world.seeded["a_pending_3"]) == before


# ---------------------------------------------------------------- Teams


async def test_teams_reports_pending_people_in_b_and_c_show_their_own(world: World) -> None:
    for text, own in (("reports", "1 open report(s) for you"), ("pending", B_PENDING), ("people", "UB_MOD")):
        answered = await world.teams_say(B, "aad-b-clerk", text)
        shown = "\n".join(c.text for c in answered) + json.dumps([c.body for c in answered])
        assert own in shown, (text, shown[:800])
        assert not leaked(shown), (text, leaked(shown))
        in_c = await world.teams_say(C, "aad-c-clerk", text)
        seen = json.dumps([c.body for c in in_c])
        assert not leaked(seen) and not leaked(seen, B_TEXTS), (text, seen[:800])
    councillor = await world.teams_say(B, "aad-b-cllr", "reports")
    assert not leaked(json.dumps([c.body for c in councillor]))


# ---------------------------------------------------------------- health and metrics


async def test_metrics_and_health_name_no_one_and_depths_add_up(world: World) -> None:
    """Messages held in each council's outbox (1 in A, 2 in B, 3 in C, about named people): /readyz,
    /healthz/delivery and /metrics count all six, and name no one, in no council."""
    keys = {council: [f"iso-held-{council}-{n}" for n in range(count)] for council, count in ((A, 1), (B, 2), (C, 3))}
    to = {A: "slack:UA_CLLR", B: "slack:UB_CLLR", C: "slack:UC_CLERK"}
    for council, held in keys.items():
        for key in held:
            await world.bot(council).outbox.send(key, to[council], Reply(text=f"{A_REPORT} {B_REPORT}"), hold=600)
    try:
        depths = [await world.bot(c).outbox.depth() for c in COUNCILS]
        assert depths == [1, 2, 3]
        async with world.session.get(f"{world.base}/readyz") as resp:
            ready = await resp.json()
        assert ready["outbox_depth"] == 6, ready
        bodies = [json.dumps(ready)]
        for path in ("/metrics", "/healthz/delivery", "/healthz"):
            async with world.session.get(f"{world.base}{path}") as resp:
                bodies.append(await resp.text())
        metrics = bodies[1]
        [depth_line] = [line for line in metrics.splitlines() if line.startswith("councilbot_outbox_depth ")]
        assert float(depth_line.split()[1]) == 6
        delivery = json.loads(bodies[2])
        assert sum(p["depth"] for p in delivery["platforms"].values()) == 6, delivery
        everything = "\n".join(bodies)
        assert not leaked(everything, EVERYONE + PERSON_IDS + tuple(TOKEN.values())), leaked(everything, EVERYONE + PERSON_IDS)
    finally:
        for council, held in keys.items():
            await world.bot(council).outbox.release(held)


# ---------------------------------------------------------------- strangers


async def test_slack_request_from_a_workspace_of_no_council_is_refused_unstored_unlogged(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await world.command(B, "UCLERK", "reports")  # asked once before too, so that asking again changes nothing
    before = await snapshot(world)
    calls = len(world.fake.calls)
    secret = "Xylophone secret about the stranger's neighbour"
    body = urlencode({"team_id": "T_NOBODY", "user_id": "USTRANGER", "user_name": "stranger", "command": "/councilbot",
                      "text": f"reports {secret}", "response_url": world.fake.response_url("stranger"),
                      "trigger_id": "t.stranger", "channel_id": "C1"})
    refused = await world.slack.post(body, "application/x-www-form-urlencoded")
    assert refused.status == 403, refused
    dm = await world.slack.dm(secret, user="USTRANGER", team="T_NOBODY")
    assert dm.status == 403, dm
    press = {"type": "block_actions", "user": {"id": "USTRANGER", "team_id": "T_NOBODY"}, "team": {"id": "T_NOBODY"},
             "actions": [{"type": "button", "action_id": "suggestion.approve", "value": world.seeded["a_pending"]}],
             "response_url": world.fake.response_url("stranger-press"), "trigger_id": "t.stranger.2"}
    assert (await world.slack.interact(press)).status == 403
    nameless = urlencode({"user_id": "USTRANGER", "command": "/councilbot", "text": f"pending {secret}",
                          "response_url": world.fake.response_url("stranger-2"), "trigger_id": "t.stranger.3"})
    assert (await world.slack.post(nameless, "application/x-www-form-urlencoded")).status == 403  # no workspace at all
    # A request answered since (B's Clerk) is the positive signal that anything queued has run.
    assert "1 open report(s)" in (await world.command(B, "UCLERK", "reports")).text
    assert await snapshot(world) == before
    assert "USTRANGER" not in said(world.fake.calls[calls:]) and secret not in said(world.fake.calls[calls:])
    refusals = [r for r in caplog.records if "no council belongs to" in r.getMessage()]
    assert len(refusals) == 4
    logged = " ".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "USTRANGER" not in logged and "Xylophone" not in logged


async def test_teams_activity_from_a_tenant_of_no_council_is_refused_unstored_unlogged(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await world.teams_say(B, "aad-b-clerk", "reports")  # asked once before too, so that asking again changes nothing
    before = await snapshot(world)
    calls = len(world.connector.calls)
    secret = "Quokka secret from an unknown organisation"
    status, _ = await world.teams[B].post(world.activity(B, "aad-stranger", secret, tenant="tenant-nobody"))
    assert status == 403
    assert "1 open report(s)" in json.dumps([c.body for c in await world.teams_say(B, "aad-b-clerk", "reports")])
    assert await snapshot(world) == before
    assert not any("aad-stranger" in c.conversation or secret in c.text for c in world.connector.calls[calls:])
    refusals = [r for r in caplog.records if "no council belongs to" in r.getMessage()]
    assert len(refusals) == 1
    logged = " ".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "aad-stranger" not in logged and "Quokka" not in logged


# ---------------------------------------------------------------- underneath: the storage itself


async def test_b_storage_holds_none_of_a_rows_even_without_a_where(world: World) -> None:
    """Through B's store, every table; on PostgreSQL also a raw ``SELECT`` with no WHERE as the
    bot's own (non-superuser) role with the council set to B, which row-level security confines to
    B's rows; on TinyDB, B's and C's folders on disk."""
    for council in (B, C):
        rows = await world.rows(council)
        assert not leaked(json.dumps(rows, ensure_ascii=False)), council
    backend = world.deployment.backend
    assert B_REPORT in json.dumps(await backend.council(B).find("reports"))
    if isinstance(backend, PostgresBackend):
        url = world.deployment.settings.database_url
        assert url is not None
        async with await psycopg.AsyncConnection.connect(url.get_secret_value(), autocommit=True) as conn:
            who = await (await conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).fetchone()
            assert who == (False, False)  # an ordinary role: row-level security applies to it

            async def everything(council: str | None) -> list[tuple[Any, ...]]:
                async with conn.transaction():
                    if council is not None:
                        await conn.execute("SELECT set_config('councilbot.council', %s, true)", [council])
                    cur = await conn.execute("SELECT council, tbl, doc FROM councilbot_records")
                    return await cur.fetchall()

            as_b = await everything(B)
            assert as_b and {r[0] for r in as_b} == {B}
            assert not leaked(json.dumps([r[2] for r in as_b], ensure_ascii=False))
            assert B_REPORT in json.dumps([r[2] for r in as_b])
            assert await everything(None) == []  # no council set: nothing at all
            as_a = await everything(A)
            assert A_REPORT in json.dumps([r[2] for r in as_a])  # the same query does see A's rows as A
            # Nor can B's session write a row as A.
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                async with conn.transaction():
                    await conn.execute("SELECT set_config('councilbot.council', %s, true)", [B])
                    await conn.execute("INSERT INTO councilbot_records (council, tbl, id, doc) VALUES (%s, 'reports', 'X', '{}')", [A])
    else:
        assert isinstance(backend, TinyBackend)
        folder = world.deployment.settings.data_dir
        a_files = "".join(p.read_text(errors="replace") for p in (folder / A).rglob("*.json"))
        assert A_REPORT in a_files
        for council in (B, C):
            files = list((folder / council).rglob("*.json"))
            assert files, council  # its records are on disk: the check reads something
            text = "".join(p.read_text(errors="replace") for p in files)
            assert not leaked(text), (council, leaked(text))
            assert council != B or B_REPORT in text


async def test_postgres_a_query_that_forgets_its_council_still_sees_only_b(
        world: World, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row-level security is what stands behind every query: with the council taken out of the
    query builder's WHERE (the "forgotten WHERE"), B's Clerk over Slack and B's store still see B's
    records only; the same forgetful query through a superuser's connection (which bypasses
    row-level security) does see A's, so the patch really did forget."""
    backend = world.deployment.backend
    if not isinstance(backend, PostgresBackend):
        pytest.skip("PostgreSQL only: TinyDB keeps each council in files of its own")
    from councilbot.storage import postgres

    original = postgres._filter

    def forgot(council: str, table: str, where: Any, mentions: str | None) -> Any:
        """The filter without ``council = %s``."""
        query, params = original(council, table, where, mentions)
        assert isinstance(query, sql.Composed)
        seq = list(query)  # [the council and table, " AND ", condition, " AND ", ...]
        assert seq[0].as_string() == "council = %s AND tbl = %s", seq[0]
        rest = sql.Composed(seq[2:]) if len(seq) > 2 else sql.SQL("true")
        return sql.SQL("tbl = %s AND ") + rest, params[1:]

    monkeypatch.setattr(postgres, "_filter", forgot)
    rows = await backend.council(B).find("reports")
    assert [r["what"] for r in rows] == [B_REPORT]
    b_texts = {r["text"] for r in await backend.council(B).find("suggestions")}
    assert B_PENDING in b_texts and b_texts <= {B_PENDING, B_BOTH_PENDING, B_APPROVED}
    assert "1 open report(s) for you" in (await world.command(B, "UCLERK", "reports")).text
    heard = await world.command(B, "UCLERK", "pending")
    assert B_PENDING in heard.text and not leaked(heard.text)
    url = world.deployment.settings.database_url
    assert url is not None
    server = request.getfixturevalue("pg_server")
    superuser = await postgres.open_postgres(server.url(url.get_secret_value().rsplit("/", 1)[1], user="postgres"),
                                             max_size=1)
    try:
        assert A_REPORT in json.dumps(await superuser.council(B).find("reports"))
    finally:
        await superuser.close()


# ---------------------------------------------------------------- subject access and erasure


async def test_subject_access_and_erasure_in_b_leave_a_records_alone(world: World) -> None:
    """UBOTH sits on A and B: B's subject access export holds their B suggestion and nothing of A's;
    erasing them in B (their A report is still open, which B must not even notice) removes B's
    records and leaves A's exactly as they were."""
    person = "slack:UBOTH"
    a_before = await world.rows(A)
    export = await dataprotection.export_person(world.bot(B).ctx, person, actor="test:operator")
    dumped = json.dumps(export, ensure_ascii=False)
    assert B_BOTH_PENDING in dumped
    assert not leaked(dumped), leaked(dumped)
    assert await dataprotection.open_cases(world.bot(B).ctx, person) == []
    counts = await dataprotection.erase_person(world.bot(B).ctx, person, actor="test:operator")
    assert counts.get("suggestions") == 1, counts
    assert not [s for s in await world.bot(B).store.find("suggestions") if s["submitter"] == person]
    a_after = await world.rows(A)
    for table in ("reports", "suggestions", "flags", "moderation", "people", "names", "outbox"):
        assert a_after[table] == a_before[table], table
    assert [r["what"] for r in a_after["reports"] if r["reporter"] == person] == [A_BOTH_REPORT]
    assert await dataprotection.open_cases(world.bot(A).ctx, person) == [world.seeded["a_both_report"]]
    # A's own subject access still finds them.
    assert A_BOTH_REPORT in json.dumps(await dataprotection.export_person(world.bot(A).ctx, person))
