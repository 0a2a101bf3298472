"""A council's policy as data: the schema of a policy pack, and finding packs on disk."""

from __future__ import annotations

import os
from functools import cached_property, lru_cache
from pathlib import Path
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .kinds import Platform, Role, RuleKind, Verdict, Where


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


RuleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ElectionRule(_Strict):
    """One pre-election rule. ``check`` says what CouncilBot looks for:
    ``names`` (sitting councillors and candidates, by name, title, tag or picture), ``topics`` (the
    council's list of controversial topics), ``words`` (any of ``words``) give a finding with
    ``verdict``; ``remind`` is a reminder on every check in that place, and ``remind-on-words`` a
    reminder when any of ``words`` is there. Nothing applies if one of ``unless`` is there, except
    that ``names`` then still finds councillors by title, tag, picture or quotation (a factual
    notice names candidates, never "Cllr Hughes")."""

    title: str = Field(min_length=1)
    text: str = Field(min_length=1)
    where: Where  # the council's pages, or councillors' own (personal) accounts
    check: Literal["names", "topics", "words", "remind", "remind-on-words"]
    verdict: Verdict = Verdict.CAUTION
    fix: str = ""
    words: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_words(self) -> "ElectionRule":
        if self.check in {"words", "remind-on-words"} and not self.words:
            raise ValueError(f"a rule that checks {self.check!r} needs a list of words")
        return self


class Topic(_Strict):
    """A topic the council counts as politically controversial during a pre-election period."""

    label: str = Field(min_length=1)
    words: tuple[str, ...] = Field(min_length=1)


class PreElection(_Strict):
    """The rules on council publicity from the Notice of Election until 10pm on polling day."""

    sources: dict[RuleId, str] = Field(min_length=1)
    rules: dict[RuleId, ElectionRule] = Field(min_length=1)
    topics: dict[RuleId, Topic] = {}
    candidates: tuple[str, ...] = ()
    page_notice: str = Field(min_length=1)
    checklist: tuple[str, ...] = Field(min_length=1)
    cited_as: str = ""  # the sources in one line, for the foot of the clerk channel's message

    @model_validator(mode="after")
    def _cited(self) -> "PreElection":
        unknown = sorted({s for rule in self.rules.values() for s in rule.sources if s not in self.sources})
        if unknown:
            raise ValueError(f"rules cite sources not listed under sources: {', '.join(unknown)}")
        return self


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
    # Other pack files merged under this one (``common/pre-election``), and the pre-election rules.
    includes: tuple[str, ...] = ()
    pre_election: PreElection | None = None

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


def _yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise PackError(source, [f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if not isinstance(data, dict):
        raise PackError(source, ["(top level): a pack must be a mapping of keys to values"])
    return data


_INCLUDE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*$")


def merged(base: Any, over: Any) -> Any:
    """``over`` laid on ``base``: mappings merge key by key (so a council edits one rule or adds one
    topic), a key set to null removes what was included, anything else replaces."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    out = dict(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merged(out.get(key), value) if key in out else value
    return out


def _with_includes(data: dict[str, Any], source: str, base: Path | None, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The pack's data with the files it ``includes`` underneath, found beside the pack first and
    then among the built-in packs; included files may include others, never in a circle."""
    names = data.get("includes", [])
    if not names:
        return data
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PackError(source, ["includes: a list of pack names, like [common/pre-election]"])
    below: dict[str, Any] = {}
    for i, name in enumerate(names):
        if not _INCLUDE_NAME.match(name):
            raise PackError(source, [f"includes.{i}: {name!r} is not a pack name (like common/pre-election)"])
        folders = ([base] if base is not None else []) + pack_dirs()
        path = next((d / f"{name}.yaml" for d in folders if (d / f"{name}.yaml").is_file()), None)
        if path is None:
            raise PackError(source, [f"includes.{i}: cannot find {name!r} beside the pack or among the built-in packs"])
        path = path.resolve()
        if path in seen:
            raise PackError(source, [f"includes.{i}: {name!r} includes itself, directly or through another file"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PackError(str(path), [f"cannot read the file ({exc.__class__.__name__})"]) from None
        included = _with_includes(_yaml(text, str(path)), str(path), path.parent, (*seen, path))
        included.pop("includes", None)
        below = merged(below, included)
    return dict(merged(below, data))


def parse_pack(text: str, source: str = "<pack>", base: Path | None = None) -> Pack:
    """A pack from its YAML text; ``base`` is the folder it came from, where its includes are looked for first."""
    return _validated(_with_includes(_yaml(text, source), source, base), source)


def _boolean_keys(value: Any, path: str = "") -> list[str]:
    """YAML reads a key written on, off, yes or no as true or false: say so in words a clerk can act
    on, rather than "Keys should be strings"."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, bool):
                found.append(f"{path or '(top level)'}: a key reads as {str(key).lower()} (YAML takes on, off, yes and no "
                             "as true or false); put it in quotes, or use the right name (where: council, not on: council)")
            found += _boolean_keys(inner, here)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += _boolean_keys(inner, f"{path}.{i}")
    return found


def _validated(data: dict[str, Any], source: str) -> Pack:
    problems = consistency_problems(data)
    booleans = _boolean_keys(data)
    try:
        pack = Pack.model_validate(data)
    except ValidationError as err:
        fields = [p for p in _format_error(err) if not p.startswith("(top level): ")]  # the same problems again
        if booleans:
            fields = booleans + [p for p in fields if not p.endswith("Keys should be strings")]
        raise PackError(source, fields + problems) from None
    return pack


def load_pack_file(path: Path) -> Pack:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(str(path), [f"cannot read the file ({exc.__class__.__name__})"]) from None
    here = path.resolve()
    data = _with_includes(_yaml(text, str(path)), str(path), here.parent, (here,))
    return _validated(data, str(path))


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


