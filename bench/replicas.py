"""Replicas sharing PostgreSQL (issue 12): do the guarantees hold with three ``councilbot serve``
processes behind a round-robin, one of them ``kill -9``'d and restarted every 10 s?

Everything is started here, from nothing, on 127.0.0.1, and removed at the end: a throwaway
PostgreSQL (initdb/pg_ctl, the bot's database owned by an ordinary role so row-level security
applies, migrations by ``python -m councilbot.storage upgrade``), a councilbot.toml with 5
councils (each its own Slack workspace T1..T5, bot token, clerk channel, a Clerk and an Assistant (or Deputy)
Clerk who receive reports and approve suggestions, and councillors), the fake Slack of
tests/slack, and the replicas. The load generator is the round-robin (``_harness.RoundRobinClient``):
each request goes to the next replica that is up, and one that fails in transit is sent again,
unchanged, to the next, marked ``X-Slack-Retry-Num`` as Slack marks its retries.

Phase 1: one replica, no kills, ``--phase1`` seconds: throughput. Phase 2: ``--replicas``
replicas, ``--seconds`` of mixed traffic (councillors: /checkpost 40 %, /policy 25 %, report 15 %,
suggestion 20 %; the Clerk and Assistant Clerk approve their own council's waiting suggestions),
one replica SIGKILLed and restarted every ``--kill-every`` seconds, in turn. Then the outbox is
let drain (an item a killed replica had leased waits out its lease, 120 s) and the fake Slack's
record and the database are compared:

- acknowledged vs stored, per kind: a report or suggestion is acknowledged when its reference
  reached the person (in the modal that closed, or by the receipt DM); an approval when the
  approver was told it is approved (or, pressing again, that it already was). Must be equal.
- notices delivered vs expected, derived from what is stored: per report its recipients' DMs, the
  clerk-channel notice and the reporter's receipt; per suggestion its card and the submitter's
  receipt; per approval the card showing the decision and the submitter told.
- duplicates: one outbox item (the same purpose, record and recipient) delivered twice, and how
  many of those were first sent within a kill's instant (the second before a SIGKILL: sent, but
  the replica died before recording it). A card edited twice with the same content (chat.update;
  nobody is notified) is counted apart and does not fail the run.
- cross-council leaks: a message sent with one council's token to another council's channel or
  person, or naming another council's people, text or records. Must be 0.
- p50/p99 of the HTTP ack latency, and throughput (answers per second) with 1 and with N replicas.

    .venv/bin/python bench/replicas.py [--seconds 60] [--users 100] [--replicas 3] [--seed N] [--quick]

The machine's cores are shared by PostgreSQL, every replica, the fake Slack and the load
generator: on 2 cores three replicas cannot be three times one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402
from load import CHECK_DRAFTS, COUNCILLOR_MIX, QUESTIONS, SUGGESTIONS  # noqa: E402

COUNCILS = 5
PACKS = ("alsager", "castle-cary")
SECOND = {"alsager": "assistant_clerk", "castle-cary": "deputy_clerk"}  # the pack's other approver and report recipient
LEASE_WAIT = 150.0      # the outbox's lease (120 s) and some: what a killed replica had leased goes after it
KILL_INSTANT = 1.0      # a duplicate whose first copy went out this close before a SIGKILL is the kill's

R_REF = r"R-\d{4}-\d{4,}"
S_REF = r"S-\d{4}-\d{4,}"
ALREADY = re.compile(rf"({S_REF}) was already approved")
USER_ID = re.compile(r"\bU(\d)(\d{3})\b")
TAG = re.compile(r"\bzc(\d)q\b")   # everything a council's people type carries zc<n>q
NAME = re.compile(r"\bQv(\d)\d{3}\b")  # and their names Qv<n><nnn>


@dataclass
class Council:
    n: int
    staff: list[str]
    members: list[str]

    @property
    def id(self) -> str:
        return f"council-{self.n}"

    @property
    def team(self) -> str:
        return f"T{self.n}"

    @property
    def channel(self) -> str:
        return f"CCLERK{self.n}"

    @property
    def token(self) -> str:
        return f"xoxb-council-{self.n}"

    @property
    def tag(self) -> str:
        return f"zc{self.n}q"


def make_councils(users: int) -> list[Council]:
    per = max(3, users // COUNCILS)
    # Ids U<council><nnn>: the clerk 900, the assistant clerk 901, councillors from 100.
    return [Council(n, [f"U{n}900", f"U{n}901"], [f"U{n}{100 + i:03d}" for i in range(per - 2)]) for n in range(1, COUNCILS + 1)]


def config_text(councils: list[Council], api_url: str, files: Path) -> str:
    lines = [f'data_dir = "{files}"', "", "[slack]", f'api_url = "{api_url}"', ""]
    for c in councils:
        pack = PACKS[(c.n - 1) % len(PACKS)]
        lines += ["[[councils]]", f'id = "{c.id}"', f'council = "{pack}"', f'slack_teams = ["{c.team}"]', "",
                  "[councils.people]", f'"slack:{c.staff[0]}" = "clerk"', f'"slack:{c.staff[1]}" = "{SECOND[pack]}"']
        lines += [f'"slack:{u}" = "councillor"' for u in c.members]
        lines += ["", "[councils.names]"]
        lines += [f'"slack:{u}" = "Alex Qv{u[1:]}"' for u in c.staff + c.members]
        lines += ["", "[councils.slack]", f'clerk_channel = "{c.channel}"', ""]
    return "\n".join(lines)


@dataclass
class Phase:
    name: str
    replicas: int
    seconds: float = 0.0      # the traffic window
    elapsed: float = 0.0      # until the last user had its last answer (or gave up waiting)
    answered: int = 0         # answers received within the window
    outcomes: list[h.Outcome] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else float("nan")

    @property
    def ok(self) -> list[h.Outcome]:
        return [o for o in self.outcomes if o.ok]


@dataclass
class Kill:
    replica: int
    at: float          # monotonic, as the fake Slack's Call.at
    healthy_after: float = float("nan")


class Run:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.rng = random.Random(args.seed)
        self.councils = make_councils(args.users)
        self.by_n = {c.n: c for c in self.councils}
        self.fake = h.WatchedSlack()
        self.pg = h.PostgresServer()
        self.servers: list[h.ServeProcess] = []
        self.users: h.Users | None = None
        self.client: h.RoundRobinClient | None = None
        self.waiting: dict[int, deque[str]] = {c.n: deque() for c in self.councils}
        # (council, kind) -> references the person was told, from the answers the users got
        self.acked: dict[tuple[int, str], set[str]] = defaultdict(set)
        self.kills: list[Kill] = []
        self.views: dict[tuple[int, str], dict[str, Any]] = {}
        self.categories: dict[int, list[str]] = {}

    # ------------------------------------------------------------ set-up

    async def start(self) -> None:
        self.pg.start()
        print(f"PostgreSQL on 127.0.0.1:{self.pg.port}; {self.pg.upgrade()}")
        await self.fake.start()
        files = self.workdir / "files"  # evidence files: one folder every replica shares, as on a volume
        files.mkdir(parents=True, exist_ok=True)
        text = config_text(self.councils, self.fake.api_url, files)
        env = {"COUNCILBOT_DATABASE_URL": self.pg.url(), **{f"SLACK_BOT_TOKEN_COUNCIL_{c.n}": c.token for c in self.councils}}
        self.servers = [h.ServeProcess(self.workdir / f"replica-{i + 1}", self.fake.api_url, {}, config_text=text, env=env)
                        for i in range(self.args.replicas)]
        startup = await self.servers[0].start()
        print(f"replica 1 healthy {startup:.2f} s after launch")
        self.client = h.RoundRobinClient(self.servers, self.fake, attempt_timeout=10.0)
        self.client.serving = {0}
        self.users = h.Users(self.fake, self.servers[0].events_url, answer_timeout=15.0, http_timeout=45.0)
        await self.users.client.close()
        self.users.client = self.client
        for c in self.councils:
            for form in ("/report", "/suggest"):
                self.views[(c.n, form)] = await self.users.open_form(form, c.members[0], team=c.team)
            self.categories[c.n] = [o["value"] for b in self.views[(c.n, "/suggest")]["blocks"]
                                    if b.get("block_id") == "category" for o in b["element"]["options"]]

    async def more_replicas(self) -> None:
        assert self.client is not None
        started = await asyncio.gather(*(s.start() for s in self.servers[1:]))
        for i, t in enumerate(started, start=2):
            print(f"replica {i} healthy {t:.2f} s after launch")
        self.client.serving = set(range(len(self.servers)))

    async def close(self) -> None:
        for s in self.servers:
            await s.kill9()
        if self.users is not None:
            await self.users.close()
        await self.fake.close()
        self.pg.stop()

    # ------------------------------------------------------------ traffic

    async def one(self, c: Council, user: str) -> h.Outcome:
        users = self.users
        assert users is not None
        rng = self.rng
        if user in c.staff:
            if self.waiting[c.n]:
                sid = self.waiting[c.n].popleft()
                return await self.approve(c, user, sid)
            op = "policy"
        else:
            op = rng.choices(*zip(*COUNCILLOR_MIX, strict=True))[0]
        if op == "checkpost":
            out = await users.command(op, "/checkpost", f"{rng.choice(CHECK_DRAFTS)} {c.tag}", user, team=c.team)
            if out.ok and out.answer is not None and not h.VERDICT.search(h.texts(out.answer.data)):
                out.ok, out.error = False, "no verdict in the answer"
            return out
        if op == "policy":
            out = await users.command(op, "/policy", rng.choice(QUESTIONS), user, team=c.team)
            if out.ok and out.answer is not None and not h.texts(out.answer.data).strip():
                out.ok, out.error = False, "an empty answer"
            return out
        if op == "report":
            token = f"{c.tag}-{uuid.uuid4().hex[:10]}"
            return await users.submit(op, self.views[(c.n, "/report")], h.report_answers(token, rng), user, h.REPORT_RECEIPT, team=c.team)
        text, _ = rng.choice(SUGGESTIONS)
        text = f"{text} ({c.tag} {uuid.uuid4().hex[:8]})"
        category = rng.choice(self.categories[c.n])  # each pack has its own kinds of post
        return await users.submit("suggest", self.views[(c.n, "/suggest")],
                                  {"text": text, "platforms": ["facebook"], "category": category, "has_image": False},
                                  user, h.SUGGESTION_RECEIPT, team=c.team)

    async def approve(self, c: Council, user: str, sid: str) -> h.Outcome:
        """Press Approve; a press whose answer never came (its replica died) is pressed again, as a
        person would, and "already approved" then tells the approver it is."""
        users = self.users
        assert users is not None
        either = re.compile(f"{h.APPROVED.pattern}|{ALREADY.pattern}")
        out = h.Outcome("approve", False)
        for _ in range(3):
            out = await users.press("approve", "suggestion.approve", sid, user, either, team=c.team, channel=c.channel)
            if out.ok:
                out.ref = next(g for g in re.search(either, h.texts(out.answer.data)).groups() if g)  # type: ignore[union-attr]
                if out.ref != sid:
                    out.ok, out.error = False, f"approved {out.ref}, pressed {sid}"
                return out
        return out

    async def traffic(self, phase: Phase, seconds: float, kill_every: float | None) -> None:
        stop_at = time.monotonic() + seconds
        start = time.monotonic()

        async def user_loop(c: Council, user: str) -> None:
            while time.monotonic() < stop_at:
                out = await self.one(c, user)
                phase.outcomes.append(out)
                phase.answered += out.ok and time.monotonic() <= stop_at
                if out.ok and out.ref:
                    self.acked[(c.n, out.op)].add(out.ref)
                    if out.op == "suggest":
                        self.waiting[c.n].append(out.ref)
                elif not out.ok:
                    await asyncio.sleep(0.1)

        async def killer() -> None:
            assert kill_every is not None and self.client is not None
            turn = 0
            while True:
                await asyncio.sleep(kill_every - (time.monotonic() - start) % kill_every)
                if time.monotonic() >= stop_at - 1:
                    return
                i = turn % len(self.servers)
                turn += 1
                server = self.servers[i]
                kill = Kill(i, time.monotonic())
                self.kills.append(kill)
                self.client.serving.discard(i)
                await server.kill9()
                kill.healthy_after = await server.start()
                self.client.serving.add(i)

        tasks = [asyncio.create_task(user_loop(c, u)) for c in self.councils for u in c.staff + c.members]
        killing = asyncio.create_task(killer()) if kill_every else None
        await asyncio.gather(*tasks)
        phase.seconds, phase.elapsed = seconds, time.monotonic() - start
        if killing is not None:
            killing.cancel()
            await asyncio.gather(killing, return_exceptions=True)
            # A replica killed just now must be back before the drain (the last restart may be under way).
            for i, s in enumerate(self.servers):
                if s.alive:
                    await s.wait_healthy(timeout=time.monotonic() - s.launched_at + 30)
                else:
                    await s.start()
                assert self.client is not None
                self.client.serving.add(i)

    # ------------------------------------------------------------ after the run

    def pending(self) -> int:
        return int(self.pg.rows("SELECT count(*) FROM councilbot_records WHERE tbl = 'outbox' AND doc->>'status' = 'pending'")[0][0])

    async def drain(self, limit: float) -> tuple[int, float]:
        """Wait (bounded) until no outbox item of any council is pending; returns what is left and how long it took."""
        begun = time.monotonic()
        left = self.pending()
        while left and time.monotonic() - begun < limit:
            await asyncio.sleep(0.5)
            left = self.pending()
        return left, time.monotonic() - begun


# ---------------------------------------------------------------- the accounting


def council_of_user(user: str) -> int | None:
    m = USER_ID.fullmatch(user)
    return int(m.group(1)) if m else None


def classify(call: h.Call) -> tuple[str, str] | None:
    """(purpose, reference) of an outbox delivery as the fake Slack received it, else None."""
    text = h.texts(call.data)
    if call.method == "chat.update":
        m = re.search(S_REF, text)
        return ("decided", m.group(0)) if m and "approved" in text.lower() else None
    if call.method != "chat.postMessage":
        return None
    for purpose, pattern in (("receipt", rf"Report ({R_REF}) received"), ("notice", rf"Confidential report ({R_REF})"),
                             ("channel", rf"New report ({R_REF})"), ("sreceipt", rf"Suggestion ({S_REF}) sent to the Clerk"),
                             ("card", rf"Suggested post ({S_REF})"), ("told", rf"Your suggested post ({S_REF}) was approved")):
        m = re.search(pattern, text)
        if m:
            return purpose, m.group(1)
    return None


def account(run: Run, phases: list[Phase], drained: tuple[int, float]) -> bool:
    councils = run.councils
    by_token = {c.token: c.n for c in councils}
    by_channel = {c.channel: c.n for c in councils}
    stored: dict[tuple[int, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for council, tbl, rid, doc in run.pg.rows(
            "SELECT council, tbl, id, doc FROM councilbot_records WHERE tbl IN ('reports', 'suggestions')"):
        stored[(int(council.rsplit("-", 1)[1]), tbl)][rid] = doc
    calls = list(run.fake.calls)

    # -- acknowledged: what the users' answers showed, plus receipts the outbox brought to the person
    for call in calls:
        kind = classify(call)
        if kind and kind[0] in ("receipt", "sreceipt") and call.token in by_token:
            n = by_token[call.token]
            run.acked[(n, "report" if kind[0] == "receipt" else "suggest")].add(kind[1])
    equal = True
    print("\nacknowledged vs stored (all councils; per council in brackets):")
    for kind, tbl, label in (("report", "reports", "reports"), ("suggest", "suggestions", "suggestions"),
                             ("approve", "suggestions", "approvals")):
        rows = []
        tot_s = tot_a = 0
        diff: list[str] = []
        for c in councils:
            docs = stored[(c.n, tbl)]
            s = {r for r, d in docs.items() if kind != "approve" or d.get("status") == "approved"}
            if kind == "suggest":
                s = {r for r, d in docs.items() if d.get("status") not in ("new", "returned")}
            a = run.acked[(c.n, kind)]
            tot_s, tot_a = tot_s + len(s), tot_a + len(a)
            rows.append(f"{len(s)}/{len(a)}")
            if s != a:
                diff.append(f"council-{c.n}: stored only {sorted(s - a)[:4]}, acknowledged only {sorted(a - s)[:4]}")
        same = not diff
        equal &= same
        print(f"  {label:12} stored {tot_s:5d}  acknowledged {tot_a:5d}  {'equal' if same else 'DIFFERENT'}   [{' '.join(rows)}]")
        for d in diff:
            print(f"      {d}")

    # -- notices: expected from what is stored, delivered from the fake Slack's record
    expected: set[tuple[int, str, str, str]] = set()
    for c in councils:
        for ref, doc in stored[(c.n, "reports")].items():
            for r in doc.get("recipients", []):
                expected.add((c.n, "notice", ref, r.removeprefix("slack:")))
            if doc.get("recipients") and not doc.get("excluded"):
                expected.add((c.n, "channel", ref, c.channel))
            expected.add((c.n, "receipt", ref, doc["reporter"].removeprefix("slack:")))
        for sid, doc in stored[(c.n, "suggestions")].items():
            if doc.get("status") in ("new", "returned"):
                continue
            expected.add((c.n, "card", sid, c.channel))
            expected.add((c.n, "sreceipt", sid, doc["submitter"].removeprefix("slack:")))
            if doc.get("status") == "approved":
                expected.add((c.n, "decided", sid, c.channel))
                expected.add((c.n, "told", sid, doc["submitter"].removeprefix("slack:")))
    seen: dict[tuple[int, str, str, str], list[float]] = defaultdict(list)
    leaks: list[str] = []
    for call in calls:
        kind = classify(call)
        text = h.texts(call.data)
        channel = str(call.data.get("channel") or "")
        if call.method == "respond":
            m = re.match(r"/respond/T(\d)-", call.path)
            owner = int(m.group(1)) if m else None
        elif call.method in ("chat.postMessage", "chat.update", "views.open"):
            owner = by_token.get(call.token or "")
            if owner is None:
                leaks.append(f"{call.method} with an unknown token")
                continue
            dest = by_channel.get(channel) or council_of_user(channel) or (council_of_user("U" + channel[1:]) if channel.startswith("D") else None)
            if channel and dest != owner:
                leaks.append(f"{call.method} with council-{owner}'s token to council-{dest}'s {channel}")
        else:
            continue
        if owner is None:
            continue
        others = {int(m.group(1)) for pattern in (USER_ID, TAG, NAME) for m in pattern.finditer(text)}
        if others - {owner}:
            leaks.append(f"a {call.method} for council-{owner} names council(s) {sorted(others - {owner})}")
        if kind is None:
            continue
        purpose, ref = kind
        # A card's update names the channel's id as the post returned it; the channel was checked above.
        key = (owner, purpose, ref, run.by_n[owner].channel if purpose == "decided" else channel)
        # The record must be this council's, and the person it goes to the one it concerns.
        tbl = "reports" if ref.startswith("R-") else "suggestions"
        doc = stored[(owner, tbl)].get(ref)
        if doc is None:
            leaks.append(f"council-{owner} sent {purpose} about {ref}, which is not council-{owner}'s")
        elif purpose in ("receipt", "sreceipt", "told") and channel != str(doc.get("reporter") or doc.get("submitter")).removeprefix("slack:"):
            leaks.append(f"council-{owner}'s {purpose} of {ref} went to someone else")
        elif purpose == "notice" and f"slack:{channel}" not in doc.get("recipients", []):
            leaks.append(f"council-{owner}'s report copy {ref} went to someone not a recipient")
        seen[key].append(call.at)
    # A card posted after the decision already shows it: that is the card "updated".
    for call in calls:
        if call.method == "chat.postMessage" and (k := classify(call)) and k[0] == "card" and "approved" in h.texts(call.data).lower():
            owner = by_token.get(call.token or "")
            if owner is not None:
                seen.setdefault((owner, "decided", k[1], run.by_n[owner].channel), [call.at])
    delivered = expected & set(seen)
    unexpected = set(seen) - expected
    # Not delivered yet but still in the outbox (a killed replica's lease not yet run out, with a
    # short --drain) is late, not lost; anything else expected and not delivered is lost.
    queued: set[tuple[int, str, str]] = set()
    for council, rid in run.pg.rows("SELECT council, id FROM councilbot_records WHERE tbl = 'outbox' AND doc->>'status' = 'pending'"):
        ref, _, rest = str(rid).partition(":")
        purpose = rest.split(":", 1)[0].split("@", 1)[0]
        queued.add((int(council.rsplit("-", 1)[1]), {"receipt": "sreceipt" if ref.startswith("S-") else "receipt"}.get(purpose, purpose), ref))
    # A decision on a card still queued is posted with the card (the queued card was updated).
    late = {k for k in expected - set(seen) if k[:3] in queued or (k[1] == "decided" and (k[0], "card", k[2]) in queued)}
    missing = expected - set(seen) - late
    print(f"\nnotices delivered {len(delivered)} of {len(expected)} expected"
          + (f"; {len(late)} still queued in the outbox (late, not lost)" if late else "")
          + (f"; MISSING {len(missing)}: {dict(Counter(k[1] for k in missing))}" if missing else "")
          + (f"; {len(unexpected)} not expected: {sorted(unexpected)[:3]}" if unexpected else ""))
    for k in sorted(missing)[:6]:
        rows = run.pg.rows("SELECT tbl, id, doc->>'status', doc->>'op', doc->>'sent_at', doc->>'lease_until' FROM councilbot_records "
                           "WHERE council = %s AND (id LIKE %s OR (tbl = 'cards' AND id LIKE %s))",
                           (f"council-{k[0]}", f"{k[2]}:%", f"suggestion:{k[2]}%"))
        print(f"    missing {k[1]} {k[2]} (council-{k[0]}): " + "; ".join(" ".join(str(x) for x in r) for r in rows))
    print("  by kind: " + ", ".join(f"{p} {sum(1 for k in delivered if k[1] == p)}/{sum(1 for k in expected if k[1] == p)}"
                                     for p in ("notice", "channel", "receipt", "card", "sreceipt", "decided", "told")))
    left, took = drained
    print(f"  outbox drained in {took:.1f} s after the traffic stopped" + (f"; STILL PENDING {left}" if left else ""))

    dupes = {k: v for k, v in seen.items() if len(v) > 1}
    extra = sum(len(v) - 1 for v in dupes.values())
    at_kill = sum(len(v) - 1 for v in dupes.values()
                  if any(kill.at - KILL_INSTANT <= min(v) <= kill.at for kill in run.kills))
    # A card edited twice with the same content (the decision's update and the sender's catch-up,
    # both queued when a decision lands while its card is being posted) tells nobody anything twice:
    # counted, shown, but not held against the guarantee, which is about messages.
    edits = {k: v for k, v in dupes.items() if k[1] == "decided"}
    edits_outside = sum(len(v) - 1 for k, v in edits.items() if not any(kill.at - KILL_INSTANT <= min(v) <= kill.at for kill in run.kills))
    outside = extra - at_kill - edits_outside
    print(f"\nduplicates delivered: {extra} ({at_kill} first sent within {KILL_INSTANT:.0f} s before a SIGKILL, "
          f"{extra - at_kill} outside a kill's instant); messages sent twice outside a kill's instant: {outside} (target 0); "
          f"cards edited twice with the same content (chat.update, nobody notified twice): {sum(len(v) - 1 for v in edits.values())}")
    for k, v in sorted(dupes.items(), key=lambda kv: min(kv[1])):
        first = min(v)
        near = min(run.kills, key=lambda kill: abs(kill.at - first), default=None)
        when = f"first copy {first - near.at:+.2f} s from the kill of replica {near.replica + 1}" if near else "no kill"
        print(f"    {k[1]} {k[2]} (council-{k[0]}): {len(v)} copies, {when}, copies {max(v) - first:.1f} s apart")
    print(f"cross-council leaks: {len(leaks)} (must be 0)" + "".join(f"\n    {x}" for x in leaks[:10]))

    for phase in phases:
        ok = phase.ok
        acks = [o.ack_s * 1000 for o in ok]
        errors = Counter(f"{o.op}: {o.error}" for o in phase.outcomes if not o.ok)
        by_op = Counter(o.op for o in ok)
        print(f"\n{phase.name}: {phase.replicas} replica(s), {phase.seconds:.0f} s of traffic, {len(phase.outcomes)} requests, "
              f"throughput {phase.throughput:.1f} answered/s ({', '.join(f'{k} {v}' for k, v in sorted(by_op.items()))})")
        print(f"  ack latency p50 {h.pct(acks, 50):.1f} ms  p99 {h.pct(acks, 99):.1f} ms; "
              f"not answered: {sum(errors.values())}" + (": " + "; ".join(f"{k} x{v}" for k, v in errors.most_common(5)) if errors else ""))
    assert run.client is not None
    print(f"\nkills: {len(run.kills)}; requests sent again to another replica (X-Slack-Retry-Num): {run.client.retried}")
    if run.kills:
        restarts = [k.healthy_after for k in run.kills]
        print(f"  restart -> /healthz 200: median {sorted(restarts)[len(restarts) // 2]:.2f} s, max {max(restarts):.2f} s")
    held = equal and not missing and outside == 0 and not leaks
    print("\nguarantees: " + ("HELD" if held else "NOT HELD") + (f" ({len(late)} notices still queued when the drain ended)" if late else ""))
    return held


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    run = Run(args, workdir)
    try:
        await run.start()
        n = sum(len(c.staff) + len(c.members) for c in run.councils)
        print(f"{n} simulated users in {COUNCILS} councils")
        one = Phase("phase 1", 1)
        await run.traffic(one, args.phase1, None)
        print(f"phase 1 done: {one.throughput:.1f} answered/s with 1 replica")
        await run.more_replicas()
        many = Phase("phase 2", len(run.servers))
        await run.traffic(many, args.seconds, args.kill_every)
        print(f"phase 2 done: {many.throughput:.1f} answered/s with {len(run.servers)} replicas, "
              f"{len(run.kills)} kills")
        drained = await run.drain(args.drain)
        return 0 if account(run, [one, many], drained) else 1
    finally:
        await run.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="phase 2: seconds of traffic with every replica (default 60)")
    parser.add_argument("--phase1", type=float, default=20.0, help="phase 1: seconds with one replica (default 20)")
    parser.add_argument("--users", type=int, default=100, help="simulated users, shared by the 5 councils (default 100)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=10.0, help="seconds between SIGKILLs (default 10)")
    parser.add_argument("--drain", type=float, default=None,
                        help=f"seconds to wait for the outbox afterwards (default {LEASE_WAIT:.0f}: a killed replica's lease is "
                             "120 s; what is still queued after a shorter wait is reported as late)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of under a minute: 4 s with one replica, 12 s with all, 20 users, a kill every 4 s, 15 s of drain")
    parser.add_argument("--keep", type=Path, default=None, help="keep the replicas' folders (config, serve.log) here")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.phase1, args.users, args.kill_every = 12.0, 4.0, 20, 4.0
        args.drain = 15.0 if args.drain is None else args.drain
    args.drain = LEASE_WAIT if args.drain is None else args.drain
    if not 1 <= args.seconds <= 3600 or not 15 <= args.users <= 1000 or not 2 <= args.replicas <= 8 or args.kill_every < 2:
        parser.error("--seconds 1..3600, --users 15..1000, --replicas 2..8, --kill-every >= 2")
    if args.keep:
        raise SystemExit(asyncio.run(main_async(args, args.keep)))
    with tempfile.TemporaryDirectory(prefix="councilbot-replicas-") as tmp:
        raise SystemExit(asyncio.run(main_async(args, Path(tmp))))


if __name__ == "__main__":
    main()
