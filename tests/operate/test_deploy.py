"""What an installer copies from ``deploy/`` and the README (issue 11, Operators): the systemd unit
verifies and the README's steps make everything it needs; a council's config, records and secrets
stay out of git and out of a Docker build; the secrets example can be filled in line by line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from councilbot.app import CouncilBot
from councilbot.config import Settings
from councilbot.messages import Incoming

from .test_operate import CONFIG, cli

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "councilbot.service"
ENV_EXAMPLE = ROOT / "deploy" / "councilbot.env.example"
SECRET_NAMES = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId", "MicrosoftAppPassword",
                "MicrosoftAppTenantId"}


def _unit(key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]


# ---------------------------------------------------------------- systemd


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or not Path("/usr/lib/systemd/system").is_dir(),
                    reason="this machine has no systemd-analyze (or no systemd units to verify against)")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on the unit exactly as shipped, in a scratch root that holds
    systemd's own units and the program the unit starts (where the README installs it)."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system" / UNIT.name)
    program = root / _unit("ExecStart")[0].split()[0].lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    out = subprocess.run(["systemd-analyze", f"--root={root}", "verify", f"/etc/systemd/system/{UNIT.name}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert UNIT.name not in out.stderr, out.stderr  # no "Unknown key", no value systemd would ignore


def _readme_systemd_steps() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("* **systemd**")
    return text[start:text.index("`councilbot doctor`", start)]


def test_the_readme_systemd_steps_make_everything_the_unit_needs() -> None:
    """The unit runs as a user, reads a secrets file and a config file, and starts a program: a
    step in the README must create each, or ``systemctl start`` fails on a fresh server."""
    steps = _readme_systemd_steps()
    [user] = _unit("User")
    assert re.search(rf"^\s*useradd\b.*\s{user}\s*$", steps, re.MULTILINE), f"no step creates the {user!r} user"
    for env_file in _unit("EnvironmentFile"):
        assert not env_file.startswith("-")  # required, not silently skipped
        assert re.search(rf"^\s*install\b.*councilbot\.env\.example\s+{re.escape(env_file)}\b", steps, re.MULTILINE), \
            f"no step puts the secrets at {env_file}"
    config = next(v.split("=", 1)[1] for v in _unit("Environment") if v.startswith("COUNCILBOT_CONFIG="))
    assert re.search(rf"^\s*install\b.*councilbot\.toml\.example\s+{re.escape(config)}\b", steps, re.MULTILINE)
    program = _unit("ExecStart")[0].split()[0]
    venv = program.split("/bin/")[0]
    assert f"python3 -m venv {venv}" in steps and f"{venv}/bin/pip install" in steps
    assert "daemon-reload" in steps and "enable --now councilbot" in steps
    assert _unit("StateDirectory") == ["councilbot"] and _unit("WorkingDirectory") == ["/var/lib/councilbot"]


# ---------------------------------------------------------------- git and Docker

KEPT_OUT = ["councilbot.toml", "data/reports/0000.json", "data.before-restore-20260107-101500/reports/0000.json",
            "deploy/councilbot.env", "deploy/councilbot.toml", "councilbot-backup.tar.gz", ".venv/bin/python",
            "src/councilbot/__pycache__/app.cpython-311.pyc", ".mypy_cache/3.11/x.json", "sar.withheld-for-review.json"]
KEPT_IN = ["deploy/councilbot.env.example", "deploy/councilbot.toml.example", "deploy/councilbot.service", "README.md",
           "policy/alsager.yaml", "tests/data/drafts.jsonl", "src/councilbot/app.py", ".dockerignore"]


def _git(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)


def _git_checkout() -> bool:
    return shutil.which("git") is not None and _git("rev-parse", "--is-inside-work-tree").returncode == 0


@pytest.mark.skipif(not _git_checkout(), reason="not a git checkout (or git is not installed)")
def test_a_councils_config_records_and_secrets_are_ignored_by_git() -> None:
    out = _git("check-ignore", "--no-index", *KEPT_OUT, *KEPT_IN)
    ignored = set(out.stdout.split())
    assert ignored == set(KEPT_OUT), (sorted(set(KEPT_OUT) - ignored), sorted(ignored - set(KEPT_OUT)))


async def test_a_data_folder_ignores_itself_in_any_checkout(tmp_path: Path) -> None:
    """Wherever a council points data_dir, and the copies restore sets aside: ``git add -A`` in
    the folder it runs from never picks up a record."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert _git("init", "-q", cwd=tmp_path).returncode == 0
    (tmp_path / "councilbot.toml").write_text(CONFIG.replace('data_dir = "data"', 'data_dir = "records"'))
    bot = CouncilBot(Settings(council="castle-cary", data_dir=tmp_path / "records", people={"slack:UCLERK": "clerk"}))
    await bot.handle(Incoming("form", "slack:UREP", name="report", values={"what": "abuse under a post", "when": "today"}))
    await bot.stop()
    assert cli("backup", "b.tar.gz", cwd=tmp_path).returncode == 0
    restored = cli("restore", "b.tar.gz", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert list(tmp_path.glob("records.before-restore-*")) and list((tmp_path / "records" / "reports").glob("*.json"))
    status = _git("status", "--porcelain", "--untracked-files=all", cwd=tmp_path).stdout.splitlines()
    assert sorted(line[3:] for line in status) == ["b.tar.gz", "councilbot.toml"], status


def _dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    """Docker's rules (moby/patternmatcher): a pattern is relative to the build context; ``*`` and
    ``?`` stay within a folder, ``**`` crosses folders; ``!`` re-includes; the last match wins; a
    pattern that matches a folder excludes everything in it."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        rules.append((negate, re.compile(out)))
    return rules


def _docker_ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negate, rule in rules:
        if any(rule.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


def test_a_docker_build_sends_the_daemon_only_what_the_image_needs() -> None:
    rules = _dockerignore()
    for path in KEPT_OUT + [".git/HEAD", "tests/core/kit.py", "corpus/README.md", "data.before-restore-x/audit/0000.json"]:
        assert _docker_ignored(path, rules), f"{path} would be sent to the Docker daemon"
    # Everything the Dockerfile copies is still sent.
    copied = [arg for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
              for arg in line.split()[1:-1]]
    assert {"pyproject.toml", "README.md", "src", "adapters", "policy"} <= set(copied)
    for source in copied:
        files = [str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*") if p.is_file() and "__pycache__" not in p.parts] \
            if (ROOT / source).is_dir() else [source]
        assert files and not [f for f in files if _docker_ignored(f, rules)], source


# ---------------------------------------------------------------- the secrets example


def _assignments(text: str) -> dict[str, tuple[bool, str]]:
    """NAME -> (commented out?, value as systemd's EnvironmentFile and compose's env_file read it
    once the line is uncommented: everything after the first ``=``)."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if match:
            found[match.group(2)] = (bool(match.group(1)), match.group(3))
    return found


def test_the_secrets_example_has_every_secret_and_no_remark_after_a_value() -> None:
    lines = _assignments(ENV_EXAMPLE.read_text())
    assert SECRET_NAMES <= set(lines)
    for name, (_, value) in lines.items():
        assert not re.search(r"\s", value), f"{name}: uncommenting this line would make {value!r} its value"
    # Copied and never filled in, it configures nothing, rather than placeholders that look set.
    assert all(lines[name] == (False, "") for name in SECRET_NAMES), {n: lines[n] for n in SECRET_NAMES}


def test_the_secrets_example_copied_unfilled_leaves_nothing_half_set(tmp_path: Path) -> None:
    (tmp_path / "councilbot.toml").write_text(CONFIG)
    env = {name: value for name, (commented, value) in _assignments(ENV_EXAMPLE.read_text()).items() if not commented}
    out = cli("doctor", cwd=tmp_path, **env)
    assert "Slack is not set up" in out.stdout and "Teams is not set up" in out.stdout, out.stdout
    assert "placeholder" not in out.stdout and out.returncode == 0, out.stdout
