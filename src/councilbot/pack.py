"""A council's policy as data: the schema of a policy pack, and finding packs on disk."""

from __future__ import annotations

import os
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .kinds import Platform, Role, RuleKind, Verdict


class PackError(Exception):
    """A pack that cannot be used; ``problems`` lists each one with its path in the file."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clause(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    section: str
    kinds: tuple[RuleKind, ...] = ()
    text: str = Field(min_length=1)
    fix: str = ""
    keywords: tuple[str, ...] = ()


class Severity(_Strict):
    """The verdict a clear breach of a rule kind earns, on the council's page and on a personal account."""

    council: Verdict
    personal: Verdict


class Roles(_Strict):
    approve_posts: tuple[Role, ...]
    final_decision: tuple[Role, ...]
    moderate: tuple[Role, ...]
    flag_conduct: tuple[Role, ...]
    receive_reports: tuple[Role, ...]
    report_fallback: tuple[Role, ...]
    settle_disagreements: tuple[Role, ...]
    manage_people: tuple[Role, ...] = (Role.CLERK,)
    escalation: bool = False


class Reports(_Strict):
    acknowledge_within_working_days: int = Field(ge=1, le=30)
    retention_days: int = Field(ge=30, le=3650)
    report_to_host: bool = False


class Category(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    label: str


class Reminders(_Strict):
    opening: str
    general: tuple[str, ...]
    by_kind: dict[RuleKind, str] = {}


class Pack(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    council: str
    source: str
    channels: tuple[Platform, ...] = Field(min_length=1)
    contact_line: str
    public_email_domains: tuple[str, ...] = ()
    roles: Roles
    reports: Reports
    severities: dict[RuleKind, Severity]
    clauses: tuple[Clause, ...] = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)
    reminders: Reminders
    approval_note: str = ""
    synonyms: dict[str, tuple[str, ...]] = {}
    extra_terms: dict[RuleKind, tuple[str, ...]] = {}

    @model_validator(mode="after")
    def _consistent(self) -> "Pack":
        problems = consistency_problems(self.model_dump(mode="json"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def clauses_of(self, kind: RuleKind) -> tuple[Clause, ...]:
        return self._by_kind.get(kind, ())

    @cached_property
    def _by_kind(self) -> dict[RuleKind, tuple[Clause, ...]]:
        """Every check asks this for each kind: worked out once per pack, not once per draft."""
        return {kind: tuple(c for c in self.clauses if kind in c.kinds) for kind in RuleKind}

    @cached_property
    def governed(self) -> tuple[RuleKind, ...]:
        """The kinds this council's policy has a clause for, in the shared vocabulary's order."""
        return tuple(k for k in RuleKind if self.governs(k))

    @cached_property
    def verdicts(self) -> dict[str, dict[str, Verdict]]:
        """For each place (council page, personal account), the verdict of each kind this policy
        governs, as the checker's judge reads them on every draft."""
        return {where: {k.value: getattr(self.severities[k], where) for k in self.governed} for where in ("council", "personal")}

    def clause(self, clause_id: str) -> Clause | None:
        return next((c for c in self.clauses if c.id == clause_id), None)

    def governs(self, kind: RuleKind) -> bool:
        """A rule kind is checked only where the council's own policy has a clause for it."""
        return bool(self.clauses_of(kind))

    def category_label(self, category_id: str) -> str:
        return next((c.label for c in self.categories if c.id == category_id), category_id)


_KIND_NAMES = frozenset(k.value for k in RuleKind)


def consistency_problems(data: dict[str, Any]) -> list[str]:
    """Problems between fields (a duplicate clause id, a kind with no severity), found in the raw
    data too, so ``policy validate`` lists them beside any field errors rather than after a fix."""
    problems: list[str] = []
    severities = data.get("severities")
    # Without a readable severities table the field errors already say so; nothing to compare with.
    known = set(severities) if isinstance(severities, dict) else set(_KIND_NAMES)
    clauses = data.get("clauses")
    seen: set[str] = set()
    for i, clause in enumerate(clauses if isinstance(clauses, list | tuple) else ()):
        if not isinstance(clause, dict):
            continue
        ident = clause.get("id")
        if isinstance(ident, str):
            if ident in seen:
                problems.append(f"clauses.{i}.id: duplicate clause id {ident!r}")
            seen.add(ident)
        kinds = clause.get("kinds")
        for kind in kinds if isinstance(kinds, list | tuple) else ():
            if kind in _KIND_NAMES and kind not in known:  # an unknown kind is a field error already
                problems.append(f"clauses.{i}.kinds: {kind!r} has no entry under severities")
    return problems


def _format_error(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        out.append(f"{path}: {msg}")
    return out


def parse_pack(text: str, source: str = "<pack>") -> Pack:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise PackError(source, [f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if not isinstance(data, dict):
        raise PackError(source, ["(top level): a pack must be a mapping of keys to values"])
    problems = consistency_problems(data)
    try:
        pack = Pack.model_validate(data)
    except ValidationError as err:
        fields = [p for p in _format_error(err) if not p.startswith("(top level): ")]  # the same problems again
        raise PackError(source, fields + problems) from None
    return pack


def load_pack_file(path: Path) -> Pack:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(str(path), [f"cannot read the file ({exc.__class__.__name__})"]) from None
    return parse_pack(text, str(path))


def pack_dirs() -> list[Path]:
    """Where packs live: ``COUNCILBOT_POLICY_DIR``, then the repo's ``policy/``, then the installed copy."""
    dirs: list[Path] = []
    env = os.environ.get("COUNCILBOT_POLICY_DIR")
    if env:
        dirs.append(Path(env))
    here = Path(__file__).resolve().parent
    dirs.append(here.parents[1] / "policy")
    dirs.append(here / "packs")
    return [d for d in dirs if d.is_dir()]


def available_packs() -> list[str]:
    names: set[str] = set()
    for d in pack_dirs():
        names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


@lru_cache(maxsize=32)
def load_pack(name: str) -> Pack:
    """Load a council's pack by name (``alsager``) or by path to a YAML file."""
    candidate = Path(name)
    if candidate.suffix in {".yaml", ".yml"} and candidate.is_file():
        return load_pack_file(candidate)
    for d in pack_dirs():
        path = d / f"{name}.yaml"
        if path.is_file():
            return load_pack_file(path)
    known = ", ".join(available_packs()) or "none found"
    raise PackError(name, [f"unknown council {name!r} (known: {known})"])


