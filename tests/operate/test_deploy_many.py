"""The "host many councils" deployment (issue 12): ``deploy/compose.many.yaml`` (PostgreSQL, a one-shot
``db upgrade``, two replicas, Caddy), its ``Caddyfile`` and the PostgreSQL init script. The compose file
and the Caddyfile are read as what they are (YAML, Caddy's directives) and checked against each other,
so renaming a replica in one and not the other fails here, not on a county's server."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
import yaml

from pg import PgServer

from .test_operate import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.many.yaml"
CADDYFILE = DEPLOY / "Caddyfile"
PUBLIC = ["/slack/*", "/api/messages", "/healthz", "/privacy", "/terms", "/"]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def replicas() -> dict[str, Any]:
    """The services that run ``councilbot serve``."""
    return {name: svc for name, svc in services().items() if svc.get("command", [])[:2] == ["councilbot", "serve"]}


def serve_port(service: dict[str, Any]) -> str:
    command = service["command"]
    return str(command[command.index("--port") + 1])


def test_the_compose_file_has_postgres_a_migration_two_replicas_and_caddy() -> None:
    svc = services()
    assert set(svc) == {"postgres", "migrate", "councilbot-1", "councilbot-2", "caddy"}
    assert set(replicas()) == {"councilbot-1", "councilbot-2"}

    postgres = svc["postgres"]
    assert postgres["image"] == "postgres:15"
    [data] = [v for v in postgres["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert data.split(":")[0] in compose()["volumes"]  # a named volume: the records outlive the container
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    migrate = svc["migrate"]
    assert migrate["command"] == ["councilbot", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}

    for name, replica in replicas().items():
        assert replica["image"] == migrate["image"] and replica["build"] == migrate["build"], name
        assert replica["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                         "migrate": {"condition": "service_completed_successfully"}}, name
        probe = " ".join(replica["healthcheck"]["test"])
        assert f"127.0.0.1:{serve_port(replica)}/readyz" in probe, name
        assert replica["restart"] == "unless-stopped" and "ports" not in replica, name  # reached only through Caddy
        # Same database, same shared folder for the evidence files, same config.
        assert replica["environment"]["COUNCILBOT_DATABASE_URL"] == migrate["environment"]["COUNCILBOT_DATABASE_URL"]
        assert replica["volumes"] == svc["councilbot-1"]["volumes"]
    assert [n for n, s in svc.items() if "ports" in s] == ["caddy"]  # the one way in
    assert f"./{CADDYFILE.name}:/etc/caddy/Caddyfile:ro" in svc["caddy"]["volumes"]
    assert {"80:80", "443:443"} <= set(svc["caddy"]["ports"])


def test_the_bot_connects_as_the_ordinary_role_the_init_script_makes_not_the_superuser() -> None:
    svc = services()
    url = svc["councilbot-1"]["environment"]["COUNCILBOT_DATABASE_URL"]
    match = re.fullmatch(r"postgresql://(\w+):\$\{(\w+):\?[^}]*\}@postgres:5432/(\w+)", url)
    assert match, url
    user, password_var, dbname = match.groups()
    env = svc["postgres"]["environment"]
    assert user != env["POSTGRES_USER"] and dbname == env["POSTGRES_DB"]
    assert env[password_var] == f"${{{password_var}:?set it in deploy/.env}}"  # the init script reads it there
    init = (DEPLOY / "postgres-init.sh").read_text()
    assert f"CREATE ROLE {user} LOGIN" in init and f"OWNER TO {user}" in init
    assert any(v.startswith("./postgres-init.sh:/docker-entrypoint-initdb.d/") for v in svc["postgres"]["volumes"])
    # Backups need a user row-level security does not hide councils from: the superuser, in migrate only.
    backup_url = svc["migrate"]["environment"]["COUNCILBOT_BACKUP_DATABASE_URL"]
    assert backup_url.startswith(f"postgresql://{env['POSTGRES_USER']}:")
    assert "COUNCILBOT_BACKUP_DATABASE_URL" not in svc["councilbot-1"]["environment"]


def test_every_variable_the_compose_file_needs_is_in_its_env_example_unfilled() -> None:
    needed = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert needed == {"POSTGRES_PASSWORD", "COUNCILBOT_DB_PASSWORD", "COUNCILBOT_PUBLIC_HOST"}
    example = dict(line.split("=", 1) for line in (DEPLOY / "compose.many.env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert example == {name: "" for name in needed}


def test_the_many_councils_config_example_has_three_councils_on_the_shared_volume() -> None:
    config = tomllib.loads((DEPLOY / "councilbot.many.toml.example").read_text())
    assert "database_url" not in config  # from COUNCILBOT_DATABASE_URL: no password in the file
    councils = config["councils"]
    assert [c["id"] for c in councils] == ["alsager", "castle-cary", "ansford"]
    assert {c["council"] for c in councils} == {"alsager", "castle-cary"}
    for c in councils:
        assert set(c) == {"id", "council", "timezone", "slack_teams", "teams_tenants", "people", "names", "slack", "teams"}
        assert c["slack"]["clerk_channel"] and c["teams"]["clerk_channel"] and "clerk" in c["people"].values()
        assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", t) for t in c["teams_tenants"])
    # No workspace or tenant belongs to two councils.
    for key in ("slack_teams", "teams_tenants"):
        every = [x for c in councils for x in c[key]]
        assert len(every) == len(set(every)), key
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services()["councilbot-1"]["volumes"]}
    assert mounts["/etc/councilbot/councilbot.toml"] == "./councilbot.many.toml"
    assert (DEPLOY / "councilbot.many.toml.example").is_file()
    files_volume = next(target for target, source in mounts.items() if source in compose()["volumes"])
    assert Path(config["data_dir"]).is_relative_to(files_volume)  # evidence files on the volume every replica shares


# ---------------------------------------------------------------- the Caddyfile


def _blocks(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """(the directive line that opens a block, the lines inside it up to its closing brace), for every block."""
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if line.endswith("{"):
            depth, body = 1, []
            for inner in lines[i + 1:]:
                depth += inner.count("{") - inner.count("}")
                if depth == 0:
                    break
                body.append(inner)
            yield line[:-1].split(), body


def _matches(pattern: str, path: str) -> bool:
    """Caddy's path matcher: exact, or with * as a wildcard."""
    return fnmatch.fnmatchcase(path, pattern) if "*" in pattern else path == pattern


def test_the_caddyfile_proxies_exactly_the_replicas_and_only_the_public_paths() -> None:
    text = CADDYFILE.read_text()
    blocks = list(_blocks(text))
    [(site, _)] = [(head, body) for head, body in blocks if head and head[0].startswith("{$")]
    assert site == ["{$COUNCILBOT_PUBLIC_HOST}"]  # a host name: Caddy gets its HTTPS certificate by itself
    assert "COUNCILBOT_PUBLIC_HOST" in services()["caddy"]["environment"]

    [(proxy, settings)] = [(head, body) for head, body in blocks if head and head[0] == "reverse_proxy"]
    expected = {f"{name}:{serve_port(svc)}" for name, svc in replicas().items()}
    assert set(proxy[1:]) == expected and len(proxy[1:]) == len(expected)
    assert "lb_policy round_robin" in settings and "health_uri /readyz" in settings
    assert any(s.startswith("health_interval ") for s in settings)

    # The proxy sits in `handle @public` and nowhere else; everything else is answered 404.
    [matcher] = [line.split()[2:] for line in text.splitlines() if line.strip().startswith("@public path ")]
    assert matcher == PUBLIC
    [handle] = [head for head, body in blocks if head[:1] == ["handle"] and any("reverse_proxy" in b for b in body)]
    assert handle == ["handle", "@public"]
    [(_, fallback)] = [(head, body) for head, body in blocks if head == ["handle"]]
    assert fallback == ["respond 404"]
    assert text.count("reverse_proxy") == 1

    def proxied(path: str) -> bool:
        return any(_matches(p, path) for p in matcher)

    for path in ("/slack/events", "/slack/interactions", "/slack/oauth_redirect", "/api/messages", "/healthz",
                 "/privacy", "/terms", "/"):
        assert proxied(path), path
    for path in ("/metrics", "/metrics/", "/readyz", "/healthz/delivery", "/api/messages/../metrics"):
        assert not proxied(path), path


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed here (the Caddyfile's text is checked above)")
def test_caddy_itself_reads_the_caddyfile_as_intended(tmp_path: Path) -> None:
    """``caddy adapt``: Caddy's own parser, turned into its JSON config, which is then walked."""
    out = subprocess.run(["caddy", "adapt", "--config", str(CADDYFILE)], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COUNCILBOT_PUBLIC_HOST": "bot.county.example"})
    assert out.returncode == 0, out.stderr
    assert "warn" not in out.stderr.lower(), out.stderr
    [server] = json.loads(out.stdout)["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]  # HTTPS (and the automatic redirect from 80)
    [site] = server["routes"]
    assert site["match"] == [{"host": ["bot.county.example"]}]

    proxies: list[tuple[list[str], dict[str, Any]]] = []

    def walk(routes: list[dict[str, Any]], paths: list[str]) -> None:
        for route in routes:
            here = paths + [p for m in route.get("match", []) for p in m.get("path", [])]
            for handler in route.get("handle", []):
                if handler["handler"] == "reverse_proxy":
                    proxies.append((here, handler))
                walk(handler.get("routes", []), here)

    walk(site["handle"][0]["routes"], [])
    [(paths, proxy)] = proxies
    assert paths == PUBLIC
    assert {u["dial"] for u in proxy["upstreams"]} == {f"{n}:{serve_port(s)}" for n, s in replicas().items()}
    assert proxy["load_balancing"]["selection_policy"] == {"policy": "round_robin"}
    assert proxy["health_checks"]["active"]["uri"] == "/readyz"


# ---------------------------------------------------------------- the init script, on a real PostgreSQL


def test_the_init_script_makes_an_ordinary_owner_that_db_upgrade_can_use(pg_server: PgServer, fresh_db: str, tmp_path: Path) -> None:
    """What the postgres image does with it, on the suite's throwaway server: then ``db upgrade`` as that
    role makes the tables, and row-level security applies to it."""
    if shutil.which("psql", path="/usr/bin:/bin") is None:
        pytest.skip("psql is not installed here")
    dbname = fresh_db.rsplit("/", 1)[1]
    superuser = pg_server.url("postgres", user="postgres")
    try:
        ran = subprocess.run(["sh", str(DEPLOY / "postgres-init.sh")], capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "PGHOST": pg_server.host, "PGPORT": str(pg_server.port),
                                  "POSTGRES_USER": "postgres", "POSTGRES_DB": dbname, "COUNCILBOT_DB_PASSWORD": "s3cret-for-the-bot"})
        assert ran.returncode == 0, ran.stderr
        with psycopg.connect(superuser) as conn:
            assert conn.execute("SELECT rolsuper, rolbypassrls, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'councilbot'"
                                ).fetchone() == (False, False, True)
            assert conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [dbname]).fetchone() == ("councilbot",)
        bot_url = f"postgresql://councilbot:s3cret-for-the-bot@{pg_server.host}:{pg_server.port}/{dbname}"
        (tmp_path / "councilbot.toml").write_text('council = "alsager"\n')
        done = cli("db", "upgrade", cwd=tmp_path, COUNCILBOT_DATABASE_URL=bot_url)
        assert done.returncode == 0 and "schema at version 2" in done.stdout, done.stderr
        with psycopg.connect(bot_url) as conn:
            assert conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'councilbot_records'").fetchone() == ("councilbot",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                conn.execute("INSERT INTO councilbot_records VALUES ('alsager', 'reports', 'R-1', '{}')")
    finally:  # hand the database back to the suite's role, which drops it
        with psycopg.connect(superuser, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" OWNER TO councilbot_app')


# ---------------------------------------------------------------- what stays out of git and Docker


def test_the_filled_in_copies_stay_out_of_git_and_out_of_a_docker_build() -> None:
    from .test_deploy import _dockerignore, _docker_ignored, _git, _git_checkout

    filled_in = ["deploy/.env", "deploy/councilbot.many.toml", "deploy/councilbot.env"]
    templates = ["deploy/compose.many.yaml", "deploy/Caddyfile", "deploy/postgres-init.sh", "deploy/compose.many.env.example",
                 "deploy/councilbot.many.toml.example"]
    rules = _dockerignore()
    assert all(_docker_ignored(path, rules) for path in filled_in)
    if _git_checkout():
        ignored = set(_git("check-ignore", "--no-index", *filled_in, *templates).stdout.split())
        assert ignored == set(filled_in)


def test_doctor_checks_every_council_of_the_example_and_names_each_missing_token(tmp_path: Path) -> None:
    """The three-council example, as a county association would first run doctor on it: each
    council's pack and people are checked by name, and each Slack council's own token variable is
    named until it is set; once they are, and the signing secret, Slack is ready for all three."""
    from .test_operate import cli

    text = (DEPLOY / "councilbot.many.toml.example").read_text(encoding="utf-8").replace(
        'data_dir = "/var/lib/councilbot/data"', 'data_dir = "data"')
    (tmp_path / "councilbot.toml").write_text(text, encoding="utf-8")
    first = cli("doctor", cwd=tmp_path)
    for council in ("alsager", "castle-cary", "ansford"):
        assert f"{council}: policy pack" in first.stdout and f"{council}: someone can receive reports" in first.stdout
    slack_councils = [c for c in tomllib.loads(text)["councils"] if c.get("slack_teams")]
    assert slack_councils
    env = {}
    for council in slack_councils:
        name = "SLACK_BOT_TOKEN_" + council["id"].upper().replace("-", "_")
        assert f"{council['id']}: {name} is not set" in first.stdout
        env[name] = "xoxb-" + "1" * 12 + "-" + "2" * 13 + "-" + "a" * 24
    ready = cli("doctor", cwd=tmp_path, SLACK_SIGNING_SECRET="f" * 32, **env)
    assert "SLACK_BOT_TOKEN_" not in ready.stdout and ready.returncode == 0, ready.stdout
    assert (tmp_path / "data" / "alsager").is_dir()  # hosted councils each have a folder of their own
