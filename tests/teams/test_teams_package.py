"""The Teams app package: a zip Teams accepts, with icons drawn in code."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from teams_helpers import make_settings

from councilbot.config import ConfigError

APP_ID = "5f0c6a4e-6a43-4bd4-9d0b-3f3b0e0b1c2d"


def read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Check every chunk's CRC and decode an unfiltered 8-bit RGBA PNG into rows of pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        if tag == b"IHDR":
            width, height, depth, color, *_ = struct.unpack(">IIBBBBB", body)
            assert (depth, color) == (8, 6)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * 4
    rows = []
    for y in range(height):
        line = raw[y * stride:(y + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + x * 4:5 + x * 4]) for x in range(width)])
    return width, height, rows


def test_build_package_makes_a_valid_teams_app_zip(tmp_path: Path) -> None:
    from councilbot_adapters.teams import build_package

    settings = make_settings(tmp_path, app_id=APP_ID, app_password="x")
    path = build_package(settings, tmp_path / "out", "https://councilbot.castlecary-tc.gov.uk/api/messages")
    assert path.name == "councilbot-teams-castle-cary.zip" and path.is_file()
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        color = read_png(zf.read("color.png"))
        outline = read_png(zf.read("outline.png"))

    assert manifest["id"] == APP_ID and manifest["manifestVersion"]
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and bot["scopes"] == ["personal", "team"]
    lists = {tuple(c["scopes"]): [cmd["title"] for cmd in c["commands"]] for c in bot["commandLists"]}
    assert {"policy", "checkpost", "report", "suggest", "pending", "reports", "help"} <= set(lists[("personal",)])
    assert "set clerk channel" in lists[("team",)]
    for commands in bot["commandLists"]:
        assert len(commands["commands"]) <= 10
        assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128 for c in commands["commands"])
    assert manifest["validDomains"] == ["councilbot.castlecary-tc.gov.uk"]
    assert manifest["developer"]["websiteUrl"].startswith("https://")
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}

    assert color[:2] == (192, 192)
    assert outline[:2] == (32, 32)
    outline_pixels = {p for row in outline[2] for p in row}
    assert outline_pixels == {(255, 255, 255, 255), (0, 0, 0, 0)}  # white on transparent only
    assert len({p for row in color[2] for p in row}) >= 2 and all(p[3] == 255 for row in color[2] for p in row)

    again = build_package(settings, tmp_path / "again", "councilbot.castlecary-tc.gov.uk")
    assert again.read_bytes() == path.read_bytes()  # reproducible


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "127.0.0.1", "not a host", ""])
def test_build_package_needs_a_public_host(tmp_path: Path, host: str) -> None:
    from councilbot_adapters.teams import build_package

    with pytest.raises(ConfigError):
        build_package(make_settings(tmp_path, app_id=APP_ID, app_password="x"), tmp_path, host)


def test_build_package_needs_the_bot_app_id(tmp_path: Path) -> None:
    from councilbot_adapters.teams import build_package

    with pytest.raises(ConfigError, match="app_id"):
        build_package(make_settings(tmp_path), tmp_path, "councilbot.example.org")
