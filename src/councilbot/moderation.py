"""Moderation records: what a moderator removed or reported to the host, 'for the Council's records'."""

from __future__ import annotations

import csv
import io
from typing import Any

from . import clock
from .context import Ctx, insert_numbered, text_value
from .errors import BadInput
from .messages import Form, Input, Option, Reply

ACTIONS = {"removed": "Post removed", "hidden": "Comment hidden", "reported-to-host": "Reported to the host (e.g. Facebook)",
           "removed-and-reported": "Removed and reported to the host", "no-action": "Reviewed, no action"}
COLUMNS = ("id", "at", "moderator", "platform", "post", "action", "reason")


def form() -> Form:
    return Form(name="moderation", title="Record a moderation action", submit_label="Record", inputs=(
        Input("platform", "Platform", "select", options=tuple(Option(p, p.title()) for p in ("facebook", "twitter", "instagram", "youtube"))),
        Input("post", "Which post (link or description)", max_length=1000),
        Input("action", "What was done", "select", options=tuple(Option(k, v) for k, v in ACTIONS.items())),
        Input("reason", "Why", "multiline", max_length=2000),
    ))


async def record(ctx: Ctx, user: str, values: dict[str, Any]) -> list[Reply]:
    ctx.people.require(user, "moderate")
    action = text_value(values, "action", limit=40)
    if action not in ACTIONS:
        raise BadInput(f"Unknown action {action!r}.", "action")
    doc = {"at": clock.iso(clock.now()), "moderator": user,
           "platform": text_value(values, "platform", limit=40), "post": text_value(values, "post", limit=1000),
           "action": action, "reason": text_value(values, "reason", label="the reason", limit=2000)}
    doc = await insert_numbered(ctx, "moderation", "M", doc)
    await ctx.audit.record(user, "moderation.recorded", doc["id"], taken=action)  # "action" is the audit entry's own field
    return [Reply(title=f"Recorded {doc['id']}", text=f"{ACTIONS[action]}, recorded for the Council's records.", tone="ok")]


async def export(ctx: Ctx) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for doc in await ctx.store.find("moderation", order_by="at"):
        writer.writerow({**{k: doc[k] for k in COLUMNS}, "moderator": ctx.people.name(doc["moderator"])})
    return out.getvalue()
