"""Teams credentials: when authentication is on, what the SDK is given, and where the bot may
listen without it. Without an app id and password anyone who can reach the port could pose as
any councillor or the Clerk, so that mode is for the Emulator and tests on this machine only."""

from __future__ import annotations

import ipaddress
import logging

from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import AuthenticationConstants

from councilbot.config import ConfigError, Settings, TeamsSettings

log = logging.getLogger(__name__)
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}
# The SDK's configuration for a cloud other than Microsoft's public one (``[teams.cloud]``). Setting
# any of them makes the SDK read all of them, so those not given keep the public cloud's values.
PUBLIC_CLOUD: dict[str, str | bool] = {
    "VALIDATE_AUTHORITY": True,
    "TO_CHANNEL_FROM_BOT_LOGIN_URL": AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
    "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
    "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
    "OAUTH_URL": AuthenticationConstants.OAUTH_URL,
    "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
    "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    "CALLER_ID": CallerIdConstants.public_azure_channel.value,
}


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip().strip("[]")
    if host.lower() in ("localhost", "ip6-localhost", "ip6-loopback"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _password(teams: TeamsSettings) -> str:
    return teams.app_password.get_secret_value() if teams.app_password is not None else ""


def validate(teams: TeamsSettings) -> None:
    """Half a set of credentials is a mistake, never a choice: say which half is missing."""
    app_type = APP_TYPES.get(teams.app_type.strip().lower())
    if app_type is None:
        raise ConfigError(f"teams.app_type {teams.app_type!r} must be one of {', '.join(APP_TYPES.values())}")
    unknown = sorted(set(teams.cloud) - set(PUBLIC_CLOUD))
    if unknown:
        raise ConfigError(f"teams.cloud: unknown setting {unknown[0]!r}; the Bot Framework's are {', '.join(PUBLIC_CLOUD)}")
    for name, value in teams.cloud.items():
        if isinstance(value, bool) != isinstance(PUBLIC_CLOUD[name], bool):
            raise ConfigError(f"teams.cloud.{name} must be {'true or false' if isinstance(PUBLIC_CLOUD[name], bool) else 'text'}")
    if not teams.app_id.strip():
        if _password(teams):
            raise ConfigError("MicrosoftAppPassword is set but MicrosoftAppId (teams.app_id) is not")
        return
    if app_type != "UserAssignedMSI" and not _password(teams):
        raise ConfigError("MicrosoftAppId (teams.app_id) is set but MicrosoftAppPassword is not")
    if not teams.tenant_id.strip():
        # Without it any Microsoft 365 organisation that installs the bot would be served, as the
        # council; the endpoint admits only this tenant.
        raise ConfigError("MicrosoftAppTenantId (teams.tenant_id) is needed: the council's Microsoft 365 tenant id, "
                          "so that only the council's own organisation can use the bot")


def auth_on(teams: TeamsSettings) -> bool:
    return bool(teams.app_id.strip())


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to listen beyond this machine without Teams credentials."""
    validate(settings.teams)
    if not auth_on(settings.teams) and not is_loopback(host):
        raise ConfigError(
            f"Teams: refusing to listen on {host or 'all interfaces'} without MicrosoftAppId and MicrosoftAppPassword: "
            "anyone could pose as the Clerk. Set them, or listen on 127.0.0.1 for the Emulator.")


class BotConfig:
    """The attribute names ``ConfigurationBotFrameworkAuthentication`` reads."""

    def __init__(self, teams: TeamsSettings) -> None:
        on = auth_on(teams)
        self.APP_ID = teams.app_id.strip() if on else ""
        self.APP_PASSWORD = _password(teams) if on else ""
        # Without credentials the SDK's single-tenant factory would refuse to start.
        self.APP_TYPE = APP_TYPES[teams.app_type.strip().lower()] if on else "MultiTenant"
        self.APP_TENANTID = teams.tenant_id.strip() or None
        if teams.cloud:  # otherwise the SDK's built-in public cloud
            for name, value in {**PUBLIC_CLOUD, **teams.cloud}.items():
                setattr(self, name, value)
