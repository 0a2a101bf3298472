"""What each secret and id from the environment must look like, so that a value left as the
example's placeholder (``xoxb-...``), or one with a remark pasted after it, is caught by
``councilbot doctor`` and refused by ``councilbot serve`` with a plain message, rather than failing
later as a refused token or a rejected signature that says nothing about why."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import Settings

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NIL_GUID = "00000000-0000-0000-0000-000000000000"
# Placeholders people leave from examples: an ellipsis, <angle brackets>, "your-…", "changeme".
_PLACEHOLDER = re.compile(r"\.\.\.|…|[<>]|^(?:xox[bp]-|xapp-)?(?:your|change|replace|paste|todo|example)", re.IGNORECASE)


@dataclass(frozen=True)
class Shape:
    """One environment variable: what it is called, where to find it, and what it looks like."""

    env: str
    what: str  # where the value comes from, in the words of the Slack or Azure page
    expected: str  # what a real value looks like, for the message
    pattern: re.Pattern[str] | None  # None: a password, whose only rule is "not a placeholder"
    secret: bool  # never echo a secret's value, even a wrong one


BOT_TOKEN = Shape("SLACK_BOT_TOKEN", "the Bot User OAuth Token (Slack app -> OAuth & Permissions)",
                  "xoxb- followed by letters, digits and dashes", re.compile(r"xoxb-[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*"), True)
SIGNING_SECRET = Shape("SLACK_SIGNING_SECRET", "the Signing Secret (Slack app -> Basic Information -> App Credentials)",
                       "32 characters, digits 0-9 and letters a-f", re.compile(r"[0-9a-fA-F]{32,64}"), True)
APP_TOKEN = Shape("SLACK_APP_TOKEN", "an app-level token with connections:write (Slack app -> Basic Information), for Socket Mode",
                  "xapp- followed by letters, digits and dashes", re.compile(r"xapp-[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*"), True)
APP_ID = Shape("MicrosoftAppId", "the Microsoft App ID (Azure portal -> your Azure Bot -> Configuration)",
               "a GUID like 6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", _GUID, False)
APP_PASSWORD = Shape("MicrosoftAppPassword", "a client secret's Value (Azure portal -> the bot's app -> Certificates & secrets)",
                     "the secret's Value, not its Secret ID", None, True)
TENANT_ID = Shape("MicrosoftAppTenantId", "your council's Microsoft 365 tenant id (the Azure Bot's overview page)",
                  "a GUID like 6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", _GUID, False)


@dataclass(frozen=True)
class Problem:
    env: str
    text: str


def check(shape: Shape, value: str) -> str | None:
    """What is wrong with ``value`` for ``shape`` in plain words (with what is expected), or None."""
    shown = "" if shape.secret else f" {value!r}"
    words = value.split()
    first = words[0] if words else value
    remark = len(words) > 1 or value != value.strip()
    after = (" (and the text after it looks like a remark: remarks go on a line of their own, starting with #)"
             if remark else "")
    if _PLACEHOLDER.search(first) or first == _NIL_GUID or set(first) <= {"x", "X", "."}:
        return f"{shape.env} is still a placeholder{shown}: put in {shape.what}, which is {shape.expected}{after}"
    if remark:
        return (f"{shape.env}{shown} has spaces in it (a remark after the value?): remarks go on a line of their own, "
                f"starting with #; the value is {shape.expected}")
    if shape.pattern is not None and not shape.pattern.fullmatch(value):
        return f"{shape.env}{shown} does not look right: it should be {shape.expected} ({shape.what})"
    return None


def _value(secret: object) -> str:
    get = getattr(secret, "get_secret_value", None)
    return str(get() if get is not None else secret or "")


def problems(settings: Settings) -> list[Problem]:
    """Every secret or id that is set but is a placeholder or the wrong shape. Unset ones are not
    problems here: whether a platform needs them is the doctor's and the adapters' business."""
    s, t = settings.slack, settings.teams
    found = []
    for shape, raw in ((BOT_TOKEN, s.bot_token), (SIGNING_SECRET, s.signing_secret), (APP_TOKEN, s.app_token),
                       (APP_ID, t.app_id), (APP_PASSWORD, t.app_password), (TENANT_ID, t.tenant_id)):
        value = _value(raw)
        if value:
            text = check(shape, value)
            if text is not None:
                found.append(Problem(shape.env, text))
    return found
