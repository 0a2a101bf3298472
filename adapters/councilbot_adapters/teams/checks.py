"""`councilbot doctor --online`: can the bot get a Bot Framework token with its app id and password?"""

from __future__ import annotations

from botframework.connector.auth import MicrosoftAppCredentials

from councilbot.config import Settings
from councilbot.doctor import Line

from .tokens import timed_msal_app


def credentials_work(settings: Settings) -> Line:
    t = settings.teams
    if not (t.app_id and t.app_password):
        return Line(True, "Teams credentials not checked online (no MicrosoftAppId/MicrosoftAppPassword)", warning=True)
    try:
        credentials = MicrosoftAppCredentials(t.app_id, t.app_password.get_secret_value(),
                                              channel_auth_tenant=t.tenant_id or None)
        credentials.app = timed_msal_app(credentials)  # each call gives up after 15 s, as the server's do
        token = credentials.get_access_token()
    except Exception as exc:
        return Line(False, f"Microsoft did not issue a Bot Framework token ({exc.__class__.__name__}): check the app id, "
                           "password and tenant")
    return Line(bool(token), "Microsoft issued a Bot Framework token" if token else "Microsoft issued no token")
