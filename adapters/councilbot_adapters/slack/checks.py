"""`councilbot doctor --online`: does Slack accept the bot token?"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from councilbot.config import Settings
from councilbot.doctor import Line


def token_works(settings: Settings) -> Line:
    token = settings.slack.bot_token
    if token is None:
        return Line(True, "Slack token not checked online (no SLACK_BOT_TOKEN)", warning=True)
    try:
        WebClient(token=token.get_secret_value(), base_url=settings.slack.api_url, timeout=10).auth_test()
        return Line(True, "Slack accepted the bot token")
    except SlackApiError as exc:
        return Line(False, f"Slack refused the bot token ({exc.response.get('error', 'error')})")
    except Exception as exc:
        return Line(False, f"could not reach Slack to check the token ({exc.__class__.__name__})")
