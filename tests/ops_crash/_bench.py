"""bench/_harness.py, loaded once under a name of its own (bench/ is not a package), so the tests
run exactly the code bench/crash.py and bench/load.py run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

NAME = "councilbot_bench_harness"
PATH = Path(__file__).resolve().parents[2] / "bench" / "_harness.py"


def load() -> ModuleType:
    if NAME in sys.modules:
        return sys.modules[NAME]
    spec = importlib.util.spec_from_file_location(NAME, PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


harness = load()
