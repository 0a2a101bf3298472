"""The Teams app package an admin uploads: ``manifest.json`` plus two icons, zipped.

The icons are drawn here with zlib/struct (PNG is a few chunks of deflated rows), so building a
package needs no image library and no binary files in the repository.
"""

from __future__ import annotations

import json
import math
import re
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from councilbot import __version__
from councilbot.config import ConfigError, Settings

from .auth import is_loopback

MANIFEST_VERSION = "1.17"
MANIFEST_SCHEMA = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
ACCENT = (0x1F, 0x5C, 0x99)  # a sober council blue
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same settings give a byte-identical package

PERSONAL_COMMANDS = (
    ("policy", "Ask what the social media policy says, e.g. policy photos of children"),
    ("checkpost", "Check a draft post against the policy before you post it"),
    ("report", "Tell the Clerk, in confidence, about threats, abuse or harassment"),
    ("suggest", "Suggest a post for the council's pages; the Clerk approves it"),
    ("pending", "Suggested posts waiting for a decision (approvers)"),
    ("reports", "Reports sent to you, with what is overdue (report recipients)"),
    ("escalate", "escalate S-2026-0007 why: hand a disputed suggestion to the Chair (Castle Cary moderators)"),
    ("help", "What CouncilBot can do for you"),
)
TEAM_COMMANDS = (
    ("set clerk channel", "Make this channel the clerk channel (the Clerk only)"),
    ("policy", "Ask what the social media policy says"),
    ("help", "What CouncilBot can do"),
)

Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An 8-bit RGBA PNG, every row unfiltered."""
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _segment_distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _tick(size: int) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    s = size / 32
    return (9.5 * s, 16.5 * s), (14 * s, 21 * s), (22.5 * s, 11.5 * s)


def color_icon(size: int = 192) -> bytes:
    """Full colour: the accent background, a white disc, an accent tick (a checked post)."""
    c = size / 2
    a, b, d = _tick(size)
    white = (255, 255, 255, 255)
    accent = (*ACCENT, 255)

    def pixel(x: int, y: int) -> Pixel:
        px, py = x + 0.5, y + 0.5
        if math.hypot(px - c, py - c) > size * 0.34:
            return accent
        stroke = size * 0.045
        if min(_segment_distance(px, py, a, b), _segment_distance(px, py, b, d)) <= stroke:
            return accent
        return white

    return png(size, size, pixel)


def outline_icon(size: int = 32) -> bytes:
    """Outline: white on transparent only, as Teams requires: a ring around a tick."""
    c = size / 2
    a, b, d = _tick(size)

    def pixel(x: int, y: int) -> Pixel:
        px, py = x + 0.5, y + 0.5
        r = math.hypot(px - c, py - c)
        on = (size * 0.40 <= r <= size * 0.47) or min(_segment_distance(px, py, a, b), _segment_distance(px, py, b, d)) <= 1.3
        return (255, 255, 255, 255) if on else (0, 0, 0, 0)

    return png(size, size, pixel)


def public_host(host: str) -> str:
    """``https://bot.example.gov.uk:443/api`` -> ``bot.example.gov.uk``; Teams needs a public name."""
    name = re.sub(r"^[a-z]+://", "", host.strip(), flags=re.IGNORECASE).split("/", 1)[0]
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    if not re.fullmatch(r"(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{2,63}", name) or is_loopback(name):
        raise ConfigError(f"{host!r} is not a public host name; Teams must reach the bot at https://<host>/api/messages")
    return name.lower()


def _council_title(settings: Settings) -> str:
    return settings.council.replace("-", " ").replace("_", " ").title()


def manifest(settings: Settings, host: str) -> dict[str, Any]:
    app_id = settings.teams.app_id.strip()
    try:
        uuid.UUID(app_id)
    except ValueError:
        raise ConfigError("teams.app_id (MicrosoftAppId) must be the bot's Microsoft app id (a GUID) to build the Teams package") from None
    domain = public_host(host)
    title = _council_title(settings)
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": __version__,
        "id": app_id,
        "developer": {
            "name": f"{title} council"[:32],
            "websiteUrl": f"https://{domain}/",
            "privacyUrl": f"https://{domain}/privacy",
            "termsOfUseUrl": f"https://{domain}/terms",
        },
        "name": {"short": "CouncilBot", "full": f"CouncilBot for {title}"[:100]},
        "description": {
            "short": "Check posts against the council's social media policy.",
            "full": (f"CouncilBot puts {title}'s social media policy into daily practice: it checks draft posts, "
                     "answers policy questions, takes confidential reports of threats or abuse to the Clerk, "
                     "and routes suggested posts to the Clerk for approval."),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{
            "botId": app_id,
            "scopes": ["personal", "team"],
            "supportsFiles": True,  # screenshots sent in the personal chat are kept as a report's evidence
            "isNotificationOnly": False,
            "commandLists": [
                {"scopes": ["personal"], "commands": [{"title": t, "description": d} for t, d in PERSONAL_COMMANDS]},
                {"scopes": ["team"], "commands": [{"title": t, "description": d} for t, d in TEAM_COMMANDS]},
            ],
        }],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [domain],
    }


def build_package(settings: Settings, out_dir: Path, host: str) -> Path:
    """Write ``councilbot-teams-<council>.zip`` (manifest + icons at the root) and return its path."""
    data = manifest(settings, host)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"councilbot-teams-{settings.council}.zip"
    files = {
        "manifest.json": json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"),
        "color.png": color_icon(192),
        "outline.png": outline_icon(32),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    tmp.replace(path)
    return path
