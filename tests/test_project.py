"""The project's own checks: CI runs the type checker and the linter before the tests, and the
README's test command is what CI runs; and no test here asserts something that cannot fail."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def readme_test_command() -> str:
    """The command under "Run every test" in the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"\*\*Run every test\*\*.*?```sh\n(.+?)\n```", readme, re.DOTALL)
    assert block is not None, "the README has no 'Run every test' command"
    return block.group(1).strip()


def ci_commands() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_mypy_and_ruff_before_the_readme_s_test_command() -> None:
    commands = ci_commands()
    assert commands[-1] == readme_test_command()  # the README's command, exactly, last
    ruff = commands.index(".venv/bin/ruff check src adapters tests")
    mypy = commands.index(".venv/bin/mypy src adapters")
    assert commands.index("set -euo pipefail") < ruff < len(commands) - 1 and mypy < len(commands) - 1  # a failure stops CI
    install = next(i for i, c in enumerate(commands) if "pip install -e '.[test]'" in c)
    assert install < min(ruff, mypy)  # run from the venv the test extra installed


def test_the_test_extra_installs_what_ci_runs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = {re.split(r"[<>=!~\[ ]", spec, maxsplit=1)[0].lower() for spec in project["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "mypy", "ruff"} <= extra
    assert project["tool"]["mypy"]["strict"] is True


# ---------------------------------------------------------------- asserts that cannot fail


def _truthy_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts)
    if isinstance(node, ast.Dict):
        return bool(node.keys)
    return isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.Constant) and v.value for v in node.values)


def _empty_literal(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value in ("", b"")) or (
        isinstance(node, (ast.Tuple, ast.List, ast.Set)) and not node.elts) or (isinstance(node, ast.Dict) and not node.keys)


def _empty_slice(node: ast.AST) -> bool:
    """``x[:0]``, ``x[3:3]``, ``x[5:2]``: always empty, whatever ``x`` holds."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)) or node.slice.step is not None:
        return False
    lower, upper = node.slice.lower, node.slice.upper
    low = 0 if lower is None else (lower.value if isinstance(lower, ast.Constant) else None)
    high = upper.value if isinstance(upper, ast.Constant) else None
    return isinstance(low, int) and isinstance(high, int) and 0 <= high <= low


def cannot_fail(test: ast.expr) -> list[str]:
    """Why an assert's condition holds whatever the code under test does (empty: it can fail)."""
    why: list[str] = []
    if _truthy_literal(test):
        why.append("asserts a non-empty literal (a tuple? a message in brackets?)")
    conjuncts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    for part in conjuncts:
        if isinstance(part, ast.BoolOp) and isinstance(part.op, ast.Or) and any(_truthy_literal(v) for v in part.values):
            why.append("'or' a truthy constant")
    for node in ast.walk(test):
        if _empty_slice(node):
            why.append("an always-empty slice")
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
                if isinstance(op, (ast.Eq, ast.Is, ast.GtE, ast.LtE)) and ast.dump(left) == ast.dump(right):
                    why.append("compares a value with itself")
                if isinstance(op, ast.NotIn) and _empty_literal(right):
                    why.append("'not in' something empty")
                if (isinstance(op, ast.GtE) and isinstance(left, ast.Call) and isinstance(left.func, ast.Name)
                        and left.func.id == "len" and isinstance(right, ast.Constant) and right.value == 0):
                    why.append("len(...) >= 0")
    return why


# Parsed when this module is collected, before any test has started a thread: Python 3.11's parser
# can fail spuriously ("AST constructor recursion depth mismatch") while another thread runs.
ALWAYS = ['body.split("Fix:")[0][:0] == ""', '"&gt;" not in body[:0]', "(x, 'message')", "x or True", "x == x",
          "len(x) >= 0", "y not in []", "ok and (z or 'yes')", "x[3:3] == []"]
FINE = ['"&gt;" not in body', "x[:3] == [1]", "len(x) >= 1", "x == y", "(x or 'none') == 'ok'", "[r or 'error' for r in x] == ['ok']"]
EXAMPLES = {source: ast.parse(source, mode="eval").body for source in ALWAYS + FINE}
TREES = {str(path.relative_to(TESTS)): ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
         for path in sorted(TESTS.rglob("*.py"))}


def test_the_scanner_catches_each_kind_of_assert_that_cannot_fail() -> None:
    for source in ALWAYS:
        assert cannot_fail(EXAMPLES[source]), source
    for source in FINE:
        assert not cannot_fail(EXAMPLES[source]), source


@pytest.mark.parametrize("name", TREES)
def test_no_assert_in_the_tests_holds_whatever_happens(name: str) -> None:
    tree = TREES[name]
    found = [f"line {node.lineno}: {', '.join(why)}: {ast.unparse(node.test)[:100]}"
             for node in ast.walk(tree) if isinstance(node, ast.Assert) and (why := cannot_fail(node.test))]
    assert not found, found


def test_the_core_imports_no_adapter_and_no_chat_sdk() -> None:
    """The composition root is ``councilbot_adapters.cli``: the core names no adapter and no chat
    SDK anywhere, so it runs (and is tested) without them."""
    forbidden = re.compile(r"^\s*(from|import)\s+(councilbot_adapters|adapters|slack_bolt|slack_sdk|botbuilder|botframework)\b", re.M)
    offenders = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "src" / "councilbot").rglob("*.py"))
                 if forbidden.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_installed_packages_have_names_of_their_own() -> None:
    """A wheel that installs a top-level ``adapters`` would collide with any other package's."""
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert {Path(p).name for p in wheel["packages"]} == {"councilbot", "councilbot_adapters"}
