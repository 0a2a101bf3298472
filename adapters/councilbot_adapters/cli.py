"""The installed ``councilbot`` command: the core's commands plus the chat platforms'.

This is the composition root. The core (``councilbot``) imports no adapter; importing this
package registers what the adapters add to the core (``councilbot_adapters/__init__.py``), and
this module adds their commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from councilbot.cli import CONFIG, COUNCIL_ID, app, fail, open_settings, settings_or_fail
from councilbot.cli import main as core_main


@app.command()
def chat(
    as_: str = typer.Option("councillor:sam", "--as", help="ROLE:NAME, e.g. clerk:jane or councillor:sam."),
    council: Optional[str] = typer.Option(None, "--council", help="The policy pack to try, e.g. castle-cary."),
    council_id: Optional[str] = COUNCIL_ID,
    config: Optional[Path] = CONFIG,
) -> None:
    """The whole bot in this terminal, on the embedded store. Type /help inside."""
    from .console import run

    raise typer.Exit(run(open_settings(config, council=council), as_, council_id))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(3000, "--port", min=1, max=65535),
    socket_mode: bool = typer.Option(False, "--socket-mode", help="Connect to Slack over Socket Mode (SLACK_APP_TOKEN) instead of serving HTTP for Slack."),
    config: Optional[Path] = CONFIG,
) -> None:
    """Serve Slack (/slack/events), Teams (/api/messages) and /healthz over HTTP."""
    from .server import run_server

    raise typer.Exit(run_server(open_settings(config), host, port, socket_mode))


@app.command("teams-package")
def teams_package(out: Path = typer.Option(..., "--out"),
                  host: Optional[str] = typer.Option(None, "--host", help="The public host name Teams reaches the bot at, e.g. councilbot.yourcouncil.gov.uk (required)."),
                  config: Optional[Path] = CONFIG) -> None:
    """Build the Teams app package zip to upload in Teams admin."""
    from .teams import build_package

    from councilbot.config import ConfigError

    if not host:  # no default: a package pointing at someone else's host would upload and then never work
        fail("give --host, the public host name where Teams reaches the bot (for example councilbot.yourcouncil.gov.uk): "
             "the package sends Teams to https://HOST/api/messages and links to https://HOST/privacy and https://HOST/terms")
    if out.exists() and not out.is_dir():
        fail(f"{out}: --out is a folder to write the package into, and this is a file")
    try:
        typer.echo(str(build_package(settings_or_fail(config), out, host)))
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: cannot write the package ({exc.strerror})")


def main() -> None:
    core_main()


if __name__ == "__main__":
    main()
