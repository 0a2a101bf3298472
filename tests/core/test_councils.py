"""Several councils in one process (issue 12): each is served as its own council, with its own
time zone and its own per-event state, even when their events are handled at the same moment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from councilbot.app import event_digest
from councilbot.config import ConfigError, load_settings
from councilbot.deployment import Deployment
from councilbot.messages import Incoming

from .kit import CAST, NAMES, REPORT, one


def _config(tmp_path: Path) -> Path:
    people = ", ".join(f'"{user}" = "{role.value}"' for user, role in CAST.items())
    names = ", ".join(f'"{user}" = "{name}"' for user, name in NAMES.items())
    path = tmp_path / "councilbot.toml"
    path.write_text(f"""data_dir = "data"

[[councils]]
id = "alsager"
timezone = "Europe/London"
slack_teams = ["TALS"]
people = {{ {people} }}
names = {{ {names} }}

[[councils]]
id = "over-the-sea"
council = "castle-cary"
timezone = "America/New_York"
teams_tenants = ["7A1B2C3D-0000-4000-8000-000000000001"]
people = {{ {people} }}
names = {{ {names} }}
""", encoding="utf-8")
    return path


async def test_councils_handled_at_once_keep_their_own_zone_and_event(tmp_path: Path, clock) -> None:
    deployment = await Deployment.open(load_settings(_config(tmp_path)))
    try:
        here, there = deployment.for_slack_team("TALS"), deployment.for_tenant("7a1b2c3d-0000-4000-8000-000000000001")
        assert here is not None and there is not None and here is not there
        assert deployment.for_slack_team("TOTHER") is None and deployment.for_tenant("someone-else") is None
        reporter = next(user for user, role in CAST.items() if role.value == "councillor")
        replies = await asyncio.gather(*(
            bot.handle(Incoming("form", reporter, name="report", values=dict(REPORT), event_id=f"ev-{bot.council_id}"))
            for bot in (here, there)))
        london, new_york = (one(r) for r in replies)
        # 10:00 UTC on a Monday in March: the deadline reads in each council's own clock.
        assert "GMT" in london.text and "EST" not in london.text
        assert "EST" in new_york.text and "GMT" not in new_york.text
        for bot in (here, there):
            [record] = await bot.store.find("reports")
            assert record["event"] == event_digest(f"{reporter}:ev-{bot.council_id}")  # its own event, not the other's
            assert record["id"] == "R-2026-0001"  # numbers are per council
        assert (tmp_path / "data" / "alsager" / "reports").is_dir() and (tmp_path / "data" / "over-the-sea" / "reports").is_dir()
    finally:
        await deployment.stop()


@pytest.mark.parametrize("extra, problem", [
    ('[[councils]]\nid = "b"\nslack_teams = ["TALS"]\n', "Slack workspace 'TALS' is given to both a and b"),
    ('[[councils]]\nid = "b"\n', "council 'b' has neither slack_teams nor teams_tenants"),
    ('[[councils]]\nid = "a"\nslack_teams = ["T2"]\n', "council id 'a' is given to both a and a"),
    ('[[councils]]\nid = "Bad Id"\nslack_teams = ["T2"]\n', "councils.1.id"),
    ('[[councils]]\nid = "b"\nslack_teams = ["T2"]\n[councils.slack]\nbot_token = "xoxb-1"\n', "secrets never go in the config file"),
])
def test_a_config_that_would_mix_councils_up_is_refused_plainly(tmp_path: Path, extra: str, problem: str) -> None:
    path = tmp_path / "councilbot.toml"
    path.write_text('[[councils]]\nid = "a"\nslack_teams = ["TALS"]\n' + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert problem in str(err.value)
