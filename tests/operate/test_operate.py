"""Running it for years: doctor, backups, subject access and erasure, the Teams package, health and metrics."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from councilbot.deployment import Deployment
from councilbot_adapters.server import build_app
from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Incoming

SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"  # the shape of a Slack signing secret: 32 of 0-9, a-f
CONFIG = """
council = "castle-cary"
data_dir = "data"
[people]
"slack:UCLERK" = "clerk"
"slack:UCHAIR" = "chair"
"slack:UCLLR" = "councillor"
"""


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "councilbot_adapters.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COUNCILBOT_CACHE_DIR": str(cwd / ".cache"), **env})


def test_doctor_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text('council = "alsager"\n[people]\n"slack:U1" = "councillor"\n')
    out = cli("doctor", cwd=tmp_path)
    assert out.returncode == 1
    assert "nobody can receive reports" in out.stdout and "add a clerk or assistant_clerk" in out.stdout
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    good = cli("doctor", cwd=tmp_path)
    assert good.returncode == 0, good.stdout
    assert "policy pack castle-cary" in good.stdout and "All good." in good.stdout
    # Nobody in the report chain has a name: a report naming them could not be routed round them.
    assert "no name under [names] for the clerk, chair" in good.stdout
    (tmp_path / "councilbot.toml").write_text(CONFIG + '[names]\n"slack:UCLERK" = "Jane Tate"\n"slack:UCHAIR" = "Pat Moss"\n')
    named = cli("doctor", cwd=tmp_path)
    assert named.returncode == 0 and "no name under [names]" not in named.stdout, named.stdout


def test_doctor_reports_a_bad_config_plainly(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text('council = "alsager"\n[people]\n"U1" = "clerk"\n')
    out = cli("doctor", cwd=tmp_path)
    assert out.returncode == 1 and "needs its platform" in out.stdout and "Traceback" not in out.stderr


async def _file_report(data: Path) -> str:
    bot = CouncilBot(Settings(council="castle-cary", data_dir=data, people={"slack:UCLERK": "clerk", "slack:UCHAIR": "chair"}))
    reply = await bot.handle(Incoming("form", "slack:UREP", name="report", values={"what": "abuse under a post", "when": "today"}))
    await bot.stop()
    return reply[0].fields[0].value


async def test_backup_and_restore_round_trip(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _file_report(tmp_path / "data")
    assert cli("backup", "b.tar.gz", cwd=tmp_path).returncode == 0
    await _file_report(tmp_path / "data")  # a later report, not in the backup
    restored = cli("restore", "b.tar.gz", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    bot = CouncilBot(Settings(council="castle-cary", data_dir=tmp_path / "data"))
    assert [r["id"] for r in (await bot.store.find("reports"))] == [ref]
    asides = list(tmp_path.glob("data.before-restore-*"))
    assert len(asides) == 1 and (asides[0] / "reports").is_dir()  # what was there is kept aside, not lost
    assert cli("restore", "missing.tar.gz", cwd=tmp_path).returncode == 2
    # A second restore keeps the first one's set-aside copy too: nothing is ever deleted.
    assert cli("restore", "b.tar.gz", cwd=tmp_path).returncode == 0
    assert len(list(tmp_path.glob("data.before-restore-*"))) == 2


def test_a_backup_of_a_folder_with_no_records_yet_restores(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    (tmp_path / "data").mkdir()
    made = cli("backup", "empty.tar.gz", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    restored = cli("restore", "empty.tar.gz", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert cli("export-moderation", cwd=tmp_path).returncode == 0  # the restored (empty) folder opens


def test_doctor_without_a_config_file_uses_the_defaults(tmp_path: Path) -> None:
    out = cli("doctor", cwd=tmp_path)
    assert "no config file" in out.stdout and "does not exist" not in out.stdout and "Traceback" not in out.stderr
    assert "policy pack alsager" in out.stdout


@pytest.mark.parametrize("content", ["not a backup", "damaged table", "not a table"])
def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(tmp_path: Path, content: str) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    data = tmp_path / "data"
    (data / "reports").mkdir(parents=True)
    (data / "reports" / "0000.json").write_text('{"reports": {"1": {"id": "R-2026-0001"}}}')
    before = (data / "reports" / "0000.json").read_bytes()
    member = {"not a backup": ("notes.json", b'{"a": 1}'), "damaged table": ("reports/0000.json", b'{"reports": {'),
              "not a table": ("reports/0000.json", b"[1, 2]")}[content]
    with tarfile.open(tmp_path / "x.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo(member[0])
        info.size = len(member[1])
        tar.addfile(info, io.BytesIO(member[1]))
    out = cli("restore", "x.tar.gz", cwd=tmp_path)
    assert out.returncode == 2 and "nothing was changed" in out.stderr and "Traceback" not in out.stderr
    assert (data / "reports" / "0000.json").read_bytes() == before
    assert not list(tmp_path.glob("data.before-restore*")) and not list(tmp_path.glob(".restore-*"))


@pytest.mark.parametrize("args,env,message", [
    (["export-moderation", "--config", "missing.toml"], {}, "the config file does not exist"),
    (["export-moderation"], {"COUNCILBOT_PEOPLE": "not json"}, "environment:"),
    (["backup", "."], {}, "give the backup a file name"),
    (["teams-package", "--out", "councilbot.toml", "--host", "bot.example.org"], {"MicrosoftAppId": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"},
     "this is a file"),
    (["teams-package", "--out", "dist"], {"MicrosoftAppId": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"}, "give --host"),
    (["serve", "--port", "99999"], {}, "--port"),
    (["export-moderation"], {"COUNCILBOT_TIMEZONE": "Europe"}, "unknown time zone"),
])
def test_odd_arguments_get_one_plain_message(tmp_path: Path, args: list[str], env: dict[str, str], message: str) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    (tmp_path / "data").mkdir()
    out = cli(*args, cwd=tmp_path, **env)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_data_folder_that_cannot_be_made_is_a_plain_message(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the data folder should be")
    (tmp_path / "councilbot.toml").write_text(CONFIG.replace('data_dir = "data"', 'data_dir = "blocker/data"'))
    out = cli("export-moderation", cwd=tmp_path)
    assert out.returncode == 2 and "blocker" in out.stderr and "Traceback" not in out.stderr, out.stderr


async def test_subject_access_and_erasure_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    ref = await _file_report(tmp_path / "data")
    exported = cli("export-person", "slack:UREP", cwd=tmp_path)
    data = json.loads(exported.stdout)
    assert data["reports"][0]["id"] == ref
    assert "slack:UCLERK" not in exported.stdout  # other people's identifiers are redacted
    assert cli("erase-person", "slack:UREP", cwd=tmp_path).returncode == 2  # needs --yes
    refused = cli("erase-person", "slack:UREP", "--yes", cwd=tmp_path)  # the case is still open
    assert refused.returncode == 2 and ref in refused.stderr and "--include-open" in refused.stderr
    assert json.loads(cli("export-person", "slack:UREP", cwd=tmp_path).stdout)["reports"][0]["id"] == ref
    assert cli("erase-person", "slack:UREP", "--yes", "--include-open", cwd=tmp_path).returncode == 0
    assert "reports" not in json.loads(cli("export-person", "slack:UREP", cwd=tmp_path).stdout)


NAMED = CONFIG + """"slack:UREP" = "councillor"
[names]
"slack:UCLERK" = "Jane Pargeter (Town Clerk)"
"slack:UCHAIR" = "Robert Finch"
"slack:UREP" = "Rita Reporter"
"slack:UCLLR" = "Cllr Sam Hughes"
"""


async def test_subject_access_keeps_what_is_withheld_in_a_file_apart(tmp_path: Path) -> None:
    """The Clerk asks for her data. She received Rita's report and Sam reported her: Rita is
    redacted in the outbox copy as in the report, and the report about her goes only to the
    operator's review file, not even by reference into hers."""
    (tmp_path / "councilbot.toml").write_text(NAMED)
    from councilbot.config import load_settings

    bot = CouncilBot(load_settings(tmp_path / "councilbot.toml"))
    await bot.handle(Incoming("form", "slack:UREP", name="report", values={"what": "abuse under a post", "when": "today"}))
    [about] = await bot.handle(Incoming("form", "slack:UCLLR", name="report",
                                        values={"what": "Jane shouts at me in every meeting", "when": "today"}))
    about_her = about.fields[0].value
    await bot.stop()

    out = cli("export-person", "slack:UCLERK", "--out", "sar.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    given = (tmp_path / "sar.json").read_text()
    assert "slack:UCLERK" in given and "Reported by" in given
    for other in ("Rita Reporter", "slack:UREP", "Sam Hughes", "slack:UCLLR", about_her, "Jane shouts"):
        assert other not in given, other
    review = tmp_path / "sar.withheld-for-review.json"
    held = json.loads(review.read_text())
    assert [w["id"] for w in held["withheld"] if w["table"] == "reports"] == [about_her]
    assert "not for" in held["note"].lower()
    assert str(review.name) in out.stdout  # the operator is told where it is
    assert review.stat().st_mode & 0o077 == 0 and (tmp_path / "sar.json").stat().st_mode & 0o077 == 0

    # To the screen: the person's part only; the operator is told on stderr that something is withheld.
    screen = cli("export-person", "slack:UCLERK", cwd=tmp_path)
    assert screen.returncode == 0 and about_her not in screen.stdout and "Rita Reporter" not in screen.stdout
    assert "withheld" in screen.stderr and "--out" in screen.stderr and about_her not in screen.stderr


def test_teams_package_is_a_zip_with_manifest_and_icons(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    missing = cli("teams-package", "--out", str(tmp_path / "dist"), "--host", "bot.example.org", cwd=tmp_path)
    assert missing.returncode == 2 and "MicrosoftAppId" in missing.stderr and "Traceback" not in missing.stderr
    out = cli("teams-package", "--out", str(tmp_path / "dist"), "--host", "bot.example.org", cwd=tmp_path,
              MicrosoftAppId="6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f")
    assert out.returncode == 0, out.stderr
    with zipfile.ZipFile(out.stdout.strip()) as z:
        assert {"manifest.json", "color.png", "outline.png"} <= set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
    assert "bot.example.org" in manifest["validDomains"]


async def test_health_readiness_and_metrics_over_http(tmp_path: Path) -> None:
    bot = CouncilBot(Settings(council="alsager", data_dir=tmp_path, people={"slack:UCLERK": "clerk"},
                              teams={"emulator": True}))
    server = TestServer(build_app(Deployment.of(bot)), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.make_url("/healthz")) as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
            async with http.get(server.make_url("/readyz")) as r:
                body = await r.json()
                assert r.status == 200 and body["ready"] is True and body["outbox_depth"] == 0
                assert body["platforms"] == ["teams"]  # the Emulator: Teams, on this machine
            await bot.handle(Incoming("form", "slack:UREP", name="report", values={"what": "x", "when": "y"}))
            async with http.get(server.make_url("/metrics")) as r:
                text = await r.text()
            def value(name: str) -> float:  # counters are process-wide: other tests may have added to them
                return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[1])

            assert value('councilbot_requests_total{route="/readyz",status="200"}') >= 1
            assert value('councilbot_events_total{kind="form"}') >= 1
            assert value("councilbot_outbox_depth") >= 1  # the Clerk's copy waits: no notifier in this test
            async with http.post(server.make_url("/api/messages"), data=b"x" * (2 * 1024 * 1024)) as r:
                assert r.status == 413
    finally:
        await server.close()


def test_a_second_process_cannot_write_while_the_bot_runs(tmp_path: Path) -> None:
    from councilbot.store import DataLock

    (tmp_path / "councilbot.toml").write_text(CONFIG)
    running = DataLock(tmp_path / "data")
    running.acquire()  # as `councilbot serve` does
    try:
        out = cli("erase-person", "slack:UREP", "--yes", cwd=tmp_path)
        assert out.returncode == 2 and "already using this data folder" in out.stderr
        assert cli("backup", "b.tar.gz", cwd=tmp_path).returncode == 0  # reading is fine
    finally:
        running.release()
    assert cli("erase-person", "slack:UREP", "--yes", cwd=tmp_path).returncode == 0


async def test_doctor_online_asks_slack_whether_the_token_works(tmp_path: Path) -> None:
    from aiohttp import web

    seen: list[str] = []

    async def auth_test(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        ok = request.headers.get("Authorization") == "Bearer xoxb-good"
        return web.json_response({"ok": True, "user_id": "UBOT"} if ok else {"ok": False, "error": "invalid_auth"})

    app = web.Application()
    app.router.add_post("/api/auth.test", auth_test)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        (tmp_path / "councilbot.toml").write_text(CONFIG + f'[slack]\nclerk_channel = "C1"\napi_url = "{server.make_url("/api/")}"\n')
        import asyncio

        good = await asyncio.to_thread(cli, "doctor", "--online", cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-good", SLACK_SIGNING_SECRET=SIGNING_SECRET)
        bad = await asyncio.to_thread(cli, "doctor", "--online", cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-bad", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    finally:
        await server.close()
    assert good.returncode == 0 and "Slack accepted the bot token" in good.stdout, good.stdout
    assert bad.returncode == 1 and "Slack refused the bot token (invalid_auth)" in bad.stdout
    assert seen == ["Bearer xoxb-good", "Bearer xoxb-bad"]


def test_a_slack_only_council_serves_on_any_address_but_teams_without_credentials_only_on_loopback(tmp_path: Path) -> None:
    import pytest

    from councilbot_adapters.server import teams_enabled
    from councilbot.config import ConfigError

    slack_only = CouncilBot(Settings(council="alsager", data_dir=tmp_path / "a"))
    assert teams_enabled(slack_only.settings, "127.0.0.1") is False     # Slack only: /api/messages stays off
    assert teams_enabled(slack_only.settings, "0.0.0.0") is False
    emulator = CouncilBot(Settings(council="alsager", data_dir=tmp_path / "c", teams={"emulator": True}))
    assert teams_enabled(emulator.settings, "127.0.0.1") is True        # the Emulator, locally, when asked for
    wants_teams = CouncilBot(Settings(council="alsager", data_dir=tmp_path / "b", teams={"clerk_channel": "19:x"}))
    with pytest.raises(ConfigError, match="refusing to listen on 0.0.0.0"):
        teams_enabled(wants_teams.settings, "0.0.0.0")
    app = build_app(Deployment.of(slack_only), teams=False)
    assert not any(r.resource and r.resource.canonical == "/api/messages" for r in app.router.routes())
