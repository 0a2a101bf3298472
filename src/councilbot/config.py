"""One settings model: ``councilbot.toml`` (or ``COUNCILBOT_CONFIG``) for the council's setup,
environment variables for secrets. Invalid settings stop start-up with a plain message."""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from .kinds import Role


class ConfigError(Exception):
    """Settings that cannot be used; the message says what and where, for the operator."""


class SlackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clerk_channel: str = ""
    api_url: str = "https://slack.com/api/"
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    # "Add to Slack" for many workspaces (the OAuth flow at /slack/install): the app's Client ID
    # and Client Secret (Basic Information -> App Credentials), and the redirect URL registered
    # for it (https://HOST/slack/oauth_redirect; empty: the one set on the app).
    client_id: str = ""
    client_secret: SecretStr | None = None
    redirect_uri: str = ""


class TeamsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clerk_channel: str = ""
    app_id: str = ""
    app_password: SecretStr | None = None
    tenant_id: str = ""
    app_type: str = "MultiTenant"
    # Serve /api/messages without credentials, for the Bot Framework Emulator on this machine only.
    # Off by default: a reverse proxy on the same machine would otherwise make "local" mean "anyone".
    emulator: bool = False
    # Only for a Microsoft cloud other than the public one (or a local stand-in in tests): the Bot
    # Framework SDK's own configuration names (TO_CHANNEL_FROM_BOT_LOGIN_URL, ...), checked by the
    # Teams adapter. Empty: Microsoft's public cloud, which is what Teams in the UK uses.
    cloud: dict[str, str | bool] = Field(default_factory=dict)


# The Notice of Election comes about five weeks (25 working days) before polling day: a longer
# period is almost certainly a mistyped year, and would hold back council posts for months.
MAX_PERIOD_DAYS = 70


class ElectionSettings(BaseModel):
    """One ``[[elections]]`` entry: the pre-election period runs from the day the Notice of Election
    is published (``notice``) until 10pm on polling day (``poll``), in the council's time zone."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    notice: date
    poll: date
    # Candidates' names, so council posts that name them are caught too (sitting councillors come
    # from [people] and [names]).
    candidates: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _order(self) -> "ElectionSettings":
        if self.notice > self.poll:
            raise ValueError(f"the notice date ({self.notice}) is after polling day ({self.poll})")
        if (self.poll - self.notice).days > MAX_PERIOD_DAYS:
            raise ValueError(f"the notice date ({self.notice}) is {(self.poll - self.notice).days} days before polling day "
                             f"({self.poll}); the Notice of Election comes about five weeks before")
        return self


class CouncilSettings(BaseModel):
    """One ``[[councils]]`` entry: a council hosted in a deployment with others. Each has its own
    pack, people, names, clerk channels and time zone, and is bound to where its people come from:
    its Slack workspaces (team ids) and Microsoft 365 tenants. A request from anywhere else is refused."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    council: str = ""  # the policy pack; the id by default
    people: dict[str, Role] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    timezone: str = "Europe/London"
    elections: list[ElectionSettings] = Field(default_factory=list)
    contact: str = ""
    slack_teams: list[str] = Field(default_factory=list)
    teams_tenants: list[str] = Field(default_factory=list)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    # Several councils in one deployment (see CouncilSettings); empty, the keys above are the one council.
    councils: list[CouncilSettings] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        return _known_zone(name)

    @field_validator("people")
    @classmethod
    def _qualified(cls, people: dict[str, Role]) -> dict[str, Role]:
        return _qualified_people(people)

    @field_validator("slack")
    @classmethod
    def _no_slack_secrets(cls, slack: SlackSettings) -> SlackSettings:
        if slack.bot_token or slack.signing_secret or slack.app_token:
            raise ValueError("secrets never go in the config file: a council's Slack token comes from the environment "
                             "(SLACK_BOT_TOKEN_<ID>) or from \"Add to Slack\"")
        return slack

    @field_validator("teams")
    @classmethod
    def _no_teams_secrets(cls, teams: TeamsSettings) -> TeamsSettings:
        if teams.app_id or teams.app_password or teams.tenant_id:
            raise ValueError("the Teams app (MicrosoftAppId, MicrosoftAppPassword) is the deployment's; "
                             "a council's tenants go in teams_tenants")
        return teams


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ValueError, OSError, ZoneInfoNotFoundError):  # "Europe" is a folder of zones, not one
        raise ValueError(f"unknown time zone {name!r}; use a name like \"Europe/London\"") from None
    return name


def _qualified_people(people: dict[str, Role]) -> dict[str, Role]:
    for key in people:
        if ":" not in key:
            raise ValueError(f"person {key!r} needs its platform, like \"slack:{key}\" or \"teams:{key}\"")
    return people


class Settings(BaseSettings):
    """Everything CouncilBot needs to run. The file holds the council's setup; secrets come from
    the environment (``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``, ``SLACK_APP_TOKEN``, ``SLACK_CLIENT_ID``, ``SLACK_CLIENT_SECRET``,
    ``MicrosoftAppId``, ``MicrosoftAppPassword``, ``MicrosoftAppTenantId``)."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix="COUNCILBOT_", env_nested_delimiter="__")

    council: str = "alsager"
    data_dir: Path = Path("data")
    # PostgreSQL (postgresql://user:pass@host/db) to host many councils on several machines;
    # unset, the records stay in TinyDB files in data_dir. Also COUNCILBOT_DATABASE_URL.
    database_url: SecretStr | None = None
    people: dict[str, Role] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    timezone: str = "Europe/London"
    # GET /healthz/delivery turns unhealthy (503) when a message has waited longer than this.
    delivery_alert_seconds: float = Field(default=300.0, gt=0)
    elections: list[ElectionSettings] = Field(default_factory=list)
    # How people reach the Clerk about their data (an e-mail address or a phone number): shown on
    # the /privacy and /terms pages that the Teams app package links to.
    contact: str = ""
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    # Several councils in one deployment (see CouncilSettings); empty, the keys above are the one council.
    councils: list[CouncilSettings] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        return _known_zone(name)

    @field_validator("people")
    @classmethod
    def _qualified(cls, people: dict[str, Role]) -> dict[str, Role]:
        return _qualified_people(people)

    @model_validator(mode="after")
    def _councils_apart(self) -> "Settings":
        """Each council's id, workspaces and tenants are its own: a workspace bound to two councils
        would make whose records a request reaches a matter of order."""
        seen: dict[str, str] = {}
        for c in self.councils:
            for key in [f"council id {c.id!r}"] + [f"Slack workspace {t!r}" for t in c.slack_teams] + \
                       [f"Microsoft 365 tenant {t!r}" for t in c.teams_tenants]:
                if key in seen:
                    raise ValueError(f"{key} is given to both {seen[key]} and {c.id}")
                seen[key] = c.id
            if len(self.councils) > 1 and not (c.slack_teams or c.teams_tenants):
                raise ValueError(f"council {c.id!r} has neither slack_teams nor teams_tenants: with several councils, "
                                 "each says where its people come from")
        return self

    @property
    def database(self) -> str | None:
        """The PostgreSQL URL, secret included, for opening the database; None keeps the records in TinyDB."""
        return self.database_url.get_secret_value() if self.database_url is not None else None

    @property
    def council_id(self) -> str:
        """The council these settings describe: its ``[[councils]]`` id, or the pack's name for
        the one council a file without ``[[councils]]`` describes."""
        return self.councils[0].id if len(self.councils) == 1 else self.council

    def council_settings(self) -> list["Settings"]:
        """One ``Settings`` per council, as if each had the file to itself: the deployment's
        secrets and storage with the council's own pack, people, names, zone and channels. Without
        ``[[councils]]``, the one council the top-level keys describe."""
        if not self.councils:
            return [self]
        out = []
        for c in self.councils:
            # Each workspace has its own bot token: SLACK_BOT_TOKEN_<ID> ("castle-cary": SLACK_BOT_TOKEN_CASTLE_CARY).
            token = os.environ.get(council_token_env(c.id))
            slack = self.slack.model_copy(update={"clerk_channel": c.slack.clerk_channel,
                                                  "bot_token": SecretStr(token) if token else None})
            teams = self.teams.model_copy(update={"clerk_channel": c.teams.clerk_channel})
            out.append(self.model_copy(update={
                "council": c.council or c.id, "people": c.people, "names": c.names, "timezone": c.timezone,
                "elections": c.elections, "contact": c.contact or self.contact, "slack": slack, "teams": teams,
                "councils": [c]}))
        return out

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


_SECRET_ENV = {
    ("slack", "bot_token"): "SLACK_BOT_TOKEN",
    ("slack", "signing_secret"): "SLACK_SIGNING_SECRET",
    ("slack", "app_token"): "SLACK_APP_TOKEN",
    ("slack", "client_id"): "SLACK_CLIENT_ID",
    ("slack", "client_secret"): "SLACK_CLIENT_SECRET",
    ("teams", "app_id"): "MicrosoftAppId",
    ("teams", "app_password"): "MicrosoftAppPassword",
    ("teams", "tenant_id"): "MicrosoftAppTenantId",
}


def council_token_env(council_id: str) -> str:
    """The environment variable holding a hosted council's Slack bot token."""
    return "SLACK_BOT_TOKEN_" + council_id.upper().replace("-", "_")


def config_path() -> Path:
    return Path(os.environ.get("COUNCILBOT_CONFIG", "councilbot.toml"))


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (if there is one), add secrets from the environment, validate."""
    named = path is not None or "COUNCILBOT_CONFIG" in os.environ
    path = path or config_path()
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    elif named:  # a file asked for by name must be there; only the default may be absent
        raise ConfigError(f"{path}: the config file does not exist")
    for (section, key), env in _SECRET_ENV.items():
        value = os.environ.get(env)
        if value:
            data.setdefault(section, {}).setdefault(key, value)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in err.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    except SettingsError as err:  # a COUNCILBOT_* variable pydantic-settings cannot parse (e.g. not JSON)
        raise ConfigError(f"environment: {err}") from None
    if not settings.data_dir.is_absolute() and path.is_file():
        settings = settings.model_copy(update={"data_dir": (path.parent / settings.data_dir)})
    return settings
