"""`councilbot doctor`: checks the setup and says what is wrong in plain words."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import config, credentials
from .config import ConfigError, Settings, config_path, load_settings
from .kinds import Role
from .pack import Pack, PackError, load_pack
from .store import StoreError


@dataclass
class Line:
    ok: bool
    text: str
    warning: bool = False


OnlineCheck = Callable[[Settings], Line]


def diagnose(path: Path | None = None, online: Sequence[OnlineCheck] = ()) -> list[Line]:
    """``online`` checks (each platform adapter offers one) ask the platform whether the tokens work."""
    lines: list[Line] = []
    shown = path or config_path()
    lines.append(Line(True, f"config file {shown}" if shown.is_file() else f"no config file at {shown}: using defaults", warning=not shown.is_file()))
    try:
        settings = load_settings(path)  # None: the default file, which may be absent
    except ConfigError as exc:
        return [*lines, Line(False, str(exc))]
    packs: list[tuple[Settings, Pack]] = []
    for council in settings.council_settings():  # each council hosted here (or the one)
        named = f"{council.council_id}: " if settings.councils else ""
        try:
            pack = load_pack(council.council)
        except PackError as exc:
            return [*lines, Line(False, named + "; ".join(exc.problems))]
        lines.append(Line(True, f"{named}policy pack {pack.id}: {pack.council}, {len(pack.clauses)} clauses"))
        packs.append((council, pack))
    lines += _data(settings)
    for council, pack in packs:
        named = f"{council.council_id}: " if settings.councils else ""
        lines += [Line(line.ok, named + line.text, line.warning) for line in _people(council, pack)]
    lines += _slack(settings)
    lines += _teams(settings)
    lines += [check(settings) for check in online]
    return lines


def _data(settings: Settings) -> list[Line]:
    """The records, opened as the bot opens them (TinyDB files, or PostgreSQL with its schema
    checked), and what waits in each council's outbox."""
    return asyncio.run(_records(settings)) + [_bundle_key(settings)]


async def _records(settings: Settings) -> list[Line]:
    from .deployment import Deployment
    from .storage.port import StorageError

    try:
        deployment = await Deployment.open(settings)
    except (StoreError, StorageError) as exc:
        return [Line(False, str(exc))]
    except PackError as exc:
        return [Line(False, "; ".join(exc.problems))]
    try:
        where = "the PostgreSQL database: reachable, schema up to date" if settings.database_url else \
            f"data folder {settings.data_dir}: readable and writable"
        out = [Line(True, where + (f", {len(deployment.bots)} councils" if len(deployment.bots) > 1 else ""))]
        for bot in deployment.bots.values():
            council = f"{bot.council_id}: " if len(deployment.bots) > 1 else ""
            pending = await bot.store.count("outbox", {"status": "pending"})
            failed = await bot.store.count("outbox", {"status": "failed"})
            if pending:
                out.append(Line(True, f"{council}{pending} message(s) waiting to be delivered", warning=True))
            if failed:
                out.append(Line(False, f"{council}{failed} message(s) could not be delivered (unknown user or channel): "
                                       "check the people and channel ids"))
        return out
    finally:
        await deployment.stop()


def _bundle_key(settings: Settings) -> Line:
    """The public key that evidence bundles are signed with, for the clerk to give the police."""
    from .bundle import KEY_FILE, BundleError, public_text, signing_key

    if not (settings.data_dir / KEY_FILE).exists():
        # Made by the bot with its first bundle, as the service's own user: doctor (often run as
        # root) must not make it, or the bot could not read it.
        return Line(True, "no evidence bundle has been made yet: the signing key is made with the first one "
                          "(run doctor again then to see the public key to give the police)")
    try:
        return Line(True, f"evidence bundles are signed with public key {public_text(signing_key(settings.data_dir))}")
    except (BundleError, OSError, ValueError) as exc:
        return Line(False, f"the evidence bundle signing key cannot be used: {exc}")


def _people(settings: Settings, pack: Pack) -> list[Line]:
    roles = set(settings.people.values())
    out = []
    for label, needed in (("approve suggested posts", pack.roles.approve_posts), ("receive reports", pack.roles.receive_reports),
                          ("receive reports that name the Clerk", pack.roles.report_fallback)):
        if roles & set(needed):
            out.append(Line(True, f"someone can {label}"))
        else:
            names = " or ".join(r.value for r in needed)
            out.append(Line(False, f"nobody can {label}: add a {names} under [people] in the config file, or have the Clerk run: people add ID ROLE"))
    chain = set(pack.roles.receive_reports) | set(pack.roles.report_fallback)
    unnamed = list(dict.fromkeys(r.value.replace("_", " ") for r in Role for user, held in settings.people.items()
                                 if held is r and r in chain and not settings.names.get(user)))
    if unnamed:
        # A report is routed round the person it names only by a name the bot was given: without one,
        # "Jane keeps shouting at me" reaches Jane.
        out.append(Line(True, f"no name under [names] for the {', '.join(unnamed)}: a report that names them (\"Jane keeps "
                              "shouting at me\") cannot be kept from them unless they have a name there (or the Clerk gives "
                              "one in chat)", warning=True))
    return out


def _slack(settings: Settings) -> list[Line]:
    s = settings.slack
    councils = settings.council_settings()
    if not (s.bot_token or s.signing_secret or s.app_token or s.client_id or any(c.slack.clerk_channel for c in councils)):
        return [Line(True, "Slack is not set up (fine if you use Teams or the console)", warning=True)]
    out = []
    if not s.signing_secret:
        out.append(Line(False, f"{credentials.SIGNING_SECRET.env} is not set: Slack cannot be served; it is "
                               f"{credentials.SIGNING_SECRET.what}"))
    oauth = bool(s.client_id and s.client_secret)
    if oauth:
        out.append(Line(True, "Add to Slack is on: each workspace installs CouncilBot at https://YOUR-HOST/slack/install"))
    elif s.client_id or s.client_secret:
        out.append(Line(False, "set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (for Add to Slack), or neither"))
    for council in councils:
        named = f"{council.council_id}: " if settings.councils else ""
        hosted = settings.councils and not council.councils[0].slack_teams
        if hosted:
            continue  # a council in Teams only
        if not council.slack.bot_token and not oauth:
            env = config.council_token_env(council.council_id) if settings.councils else credentials.BOT_TOKEN.env
            out.append(Line(False, f"{named}{env} is not set: Slack cannot be served; it is {credentials.BOT_TOKEN.what}"))
        channel = council.slack.clerk_channel
        out.append(Line(bool(channel), f"{named}Slack clerk channel {channel}" if channel else
                        f"{named}[slack] clerk_channel is not set: approval cards and report notices have nowhere to go"))
    out += _shapes(settings, ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"))
    return out


def _teams(settings: Settings) -> list[Line]:
    t = settings.teams
    if not (t.app_id or t.app_password or t.tenant_id or t.clerk_channel):
        if t.emulator:
            return [Line(True, "Teams is in Emulator mode: /api/messages answers this machine only, without sign-in", warning=True)]
        return [Line(True, "Teams is not set up (no MicrosoftAppId): /api/messages is off", warning=True)]
    out = []
    if not (t.app_id and t.app_password):
        out.append(Line(False, "set both MicrosoftAppId and MicrosoftAppPassword, or neither"))
    if settings.councils:
        if t.tenant_id:
            out.append(Line(False, "with several [[councils]], leave MicrosoftAppTenantId unset: each council's tenants "
                                   "go in its teams_tenants"))
    elif not t.tenant_id:
        out.append(Line(False, "MicrosoftAppTenantId is needed, so that only the council's own Microsoft 365 organisation is served"))
    out += _shapes(settings, ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId"))
    for council in settings.council_settings():
        if settings.councils and not council.councils[0].teams_tenants:
            continue  # a council in Slack only
        named = f"{council.council_id}: " if settings.councils else ""
        channel = council.teams.clerk_channel
        out.append(Line(True, f"{named}Teams clerk channel {channel}" if channel else
                        f"{named}no [teams] clerk_channel yet: a clerk can say '@CouncilBot set clerk channel' in it",
                        warning=not channel))
    return out


def _shapes(settings: Settings, names: tuple[str, ...]) -> list[Line]:
    """Each of ``names`` that is set: "looks right", or what is wrong with it and what it should be."""
    found = {p.env: p.text for p in credentials.problems(settings)}
    s, t = settings.slack, settings.teams
    values = {"SLACK_BOT_TOKEN": s.bot_token, "SLACK_SIGNING_SECRET": s.signing_secret, "SLACK_APP_TOKEN": s.app_token,
              "MicrosoftAppId": t.app_id, "MicrosoftAppPassword": t.app_password, "MicrosoftAppTenantId": t.tenant_id}
    return [Line(False, found[name]) if name in found else Line(True, f"{name} is set and looks right")
            for name in names if values[name]]


def report(lines: list[Line], write: Callable[[str], None]) -> int:
    for line in lines:
        mark = "!" if line.warning and line.ok else ("ok" if line.ok else "PROBLEM")
        write(f"[{mark:>7}] {line.text}")
    problems = sum(1 for line in lines if not line.ok)
    write("All good." if not problems else f"{problems} problem(s) to fix.")
    return 1 if problems else 0
