"""CouncilBot's chat adapters (Slack, Teams, the console) and the ``councilbot`` command that
composes them with the core. Importing this package registers, with the core, what the adapters
add to it (``councilbot.extensions``); nothing heavy is imported until it is used."""

from __future__ import annotations

from councilbot import extensions
from councilbot.config import Settings
from councilbot.doctor import Line

# The Teams adapter keeps conversation references per person (teams/references.py, TABLE).
TEAMS_REFERENCES = "teams-references"


def _slack_token_works(settings: Settings) -> Line:
    from .slack.checks import token_works

    return token_works(settings)


def _teams_credentials_work(settings: Settings) -> Line:
    from .teams.checks import credentials_work

    return credentials_work(settings)


extensions.personal_table(TEAMS_REFERENCES, "person")
extensions.online_check(_slack_token_works)
extensions.online_check(_teams_credentials_work)
