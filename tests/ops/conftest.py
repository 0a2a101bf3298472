"""The robustness tests drive the Slack and Teams harnesses, whose modules import each other by
bare name (``from fake_slack import FakeSlack``): put their folders on the path first."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent
for _folder in ("slack", "teams"):
    if str(_TESTS / _folder) not in sys.path:
        sys.path.insert(0, str(_TESTS / _folder))
