"""The ``councilbot`` command. Bad input gets one plain line on stderr and exit status 2."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, NoReturn, Optional, TypeVar

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="CouncilBot: a council's social media policy, put into daily practice.")
T = TypeVar("T")
policy_app = typer.Typer(no_args_is_help=True, help="Policy packs: validate and show.")
app.add_typer(policy_app, name="policy")
db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL database (database_url): bring its tables up to date, or check them.")
app.add_typer(db_app, name="db")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"councilbot: {message}", err=True)
    raise typer.Exit(code)


def _utf8(text: str, what: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{what} is not valid UTF-8 text")
    return text


def _pack(name: str) -> Any:
    from .pack import PackError, load_pack

    try:
        return load_pack(name)
    except PackError as exc:
        fail("; ".join(exc.problems))


def _print_result(result: Any, as_json: bool, council: str) -> None:
    if as_json:
        typer.echo(json.dumps(_public(result.to_dict()), ensure_ascii=False))
        return
    from .render import check_reply

    typer.echo(check_reply(result, council).plain())


def _public(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract other tools rely on: verdict, then findings with kind, clause, evidence, explanation, fix,
    and basis ("detector", "hint" or "judge": what found it)."""
    findings = [{k: f[k] for k in ("kind", "clause", "evidence", "explanation", "fix", "verdict", "basis", "clause_text", "section")}
                for f in data["findings"]]
    out = {"verdict": data["verdict"], "findings": findings}
    if "reminder" in data:
        out["reminder"] = data["reminder"]
    if "pre_election" in data:
        out["pre_election"] = data["pre_election"]
    return out


ON = typer.Option(None, "--on", help="Judge as on this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM), e.g. inside a pre-election period. Default: today.")


def _period(on: Optional[str], config: Optional[Path], pack: Any) -> Any:
    """The pre-election period in force on ``--on`` (today in the council's time zone without it),
    from the elections in the config file and those the Clerk added in chat."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from . import clock, elections
    from .store import StoreError

    settings = settings_or_fail(config)
    zone = ZoneInfo(settings.timezone)
    moment = clock.now()
    if on is not None:
        day = elections.parse_day(on)
        if day is not None:
            moment = elections.at_day(day, zone)
        else:
            try:
                parsed = datetime.fromisoformat(on.strip())
            except ValueError:
                fail(f"--on must be a date like 2027-05-06 (or a date and time like 2027-05-06T22:30), not {on!r}")
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    try:
        period, known = elections.period_from_settings(settings, moment, pack)
    except StoreError as exc:
        fail(str(exc))
    if on is not None and not known:
        typer.echo("councilbot: note: no elections are set up ([[elections]] in councilbot.toml, or 'election add' "
                   "in chat), so no pre-election period applies", err=True)
    return period


@app.command()
def check(
    text: Optional[str] = typer.Argument(None, help="The draft post."),
    council: str = typer.Option(..., "--council", help="The council's pack, e.g. alsager or castle-cary."),
    where: str = typer.Option("council", "--where", help="council (the council's page) or personal (your own account)."),
    platform: str = typer.Option("facebook", "--platform", help="facebook, twitter, instagram or youtube."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per draft."),
    batch: Optional[str] = typer.Option(None, "--batch", help="JSON Lines file of drafts ('-' for stdin)."),
    on: Optional[str] = ON,
    config: Optional[Path] = typer.Option(None, "--config", help="Config file with the council's [[elections]] (default: councilbot.toml if there is one)."),
) -> None:
    """May I post this? Judge a draft against the council's policy (and, during a pre-election period, its rules)."""
    from .checker import Draft, DraftError, check as run_check

    pack = _pack(council)
    period = _period(on, config, pack)
    if batch is not None:
        if text is not None:
            fail("give either TEXT or --batch, not both")
        raise typer.Exit(_batch(batch, pack, where, platform, period))
    if text is None:
        fail("give the draft text (or --batch FILE)")
    try:
        result = run_check(Draft(_utf8(text, "the draft"), where, platform), pack, period)
    except DraftError as exc:
        fail(str(exc))
    _print_result(result, as_json, pack.council)


def _lines(source: str) -> Iterator[bytes]:
    if source == "-":
        yield from sys.stdin.buffer
        return
    try:
        with open(source, "rb") as fh:
            yield from fh
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}")


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; other tools do not


def _writable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _batch(source: str, default_pack: Any, where: str, platform: str, period: Any = None) -> int:
    """Each line in, one JSON object out, in order; a bad line gets an error object and the rest go on."""
    from .checker import Draft, DraftError, check_many, validate
    from .pack import PackError, load_pack

    bad = 0
    chunk: list[tuple[Any, Any, Any]] = []  # (id, (draft, pack) | None, error)

    def flush() -> None:
        ready = [(i, job) for i, job, _ in chunk if job is not None]
        results = iter(check_many([job for _, job in ready], period))
        for ident, job, error in chunk:
            out = {"id": ident, "error": error} if job is None else {"id": ident, **_public(next(results).to_dict())}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        chunk.clear()

    for number, raw in enumerate(_lines(source), start=1):
        if not raw.strip():
            continue
        ident: Any = None
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a BOM a Windows editor left
            item = json.loads(line, parse_constant=_no_constant)
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
            ident = item.get("id", number)
            if not _writable(ident):  # echoed back, so it must be writable as UTF-8 JSON
                ident = None
                raise ValueError("'id' is not valid UTF-8 text (a lone surrogate escape)")
            text = item.get("text")
            if not isinstance(text, str):
                raise ValueError("'text' must be a string")
            if not _writable(text):
                raise ValueError("'text' is not valid UTF-8 text (a lone surrogate escape)")
            council = item.get("council")
            if council is not None and not isinstance(council, str):
                raise ValueError("'council' must be a string")
            pack = load_pack(council) if council else default_pack
            draft = Draft(text, str(item.get("where") or where), str(item.get("platform") or platform))
            validate(draft)
            chunk.append((ident, (draft, pack), None))
        except UnicodeDecodeError:
            chunk.append((ident, None, f"line {number}: not valid UTF-8"))
        except json.JSONDecodeError as exc:
            chunk.append((ident, None, f"line {number}: invalid JSON ({exc.msg})"))
        except (ValueError, DraftError) as exc:
            chunk.append((ident, None, f"line {number}: {exc}"))
        except PackError as exc:
            chunk.append((ident, None, f"line {number}: {'; '.join(exc.problems)}"))
        if chunk and chunk[-1][1] is None:
            bad += 1
        if len(chunk) >= 512:
            flush()
    flush()
    sys.stdout.flush()
    return 2 if bad else 0


@app.command()
def ask(
    question: str = typer.Argument(..., help="Your question, in your own words."),
    council: str = typer.Option(..., "--council", help="The council's pack."),
    as_json: bool = typer.Option(False, "--json"),
    on: Optional[str] = ON,
    config: Optional[Path] = typer.Option(None, "--config", help="Config file with the council's [[elections]] (default: councilbot.toml if there is one)."),
) -> None:
    """Look something up in the council's own policy, with the clauses cited."""
    from . import elections
    from .lookup import ask as run_ask
    from .render import answer_reply

    question = _utf8(question, "the question").strip()
    if not question:
        fail("the question is empty")
    if len(question) > 2000:
        fail("the question is over 2,000 characters")
    pack = _pack(council)
    period = _period(on, config, pack)
    answer = run_ask(pack, question)
    if as_json:
        extra = elections.answer_extra(pack, period, question)
        typer.echo(json.dumps({**answer.to_dict(), **({"pre_election": extra} if extra else {})}, ensure_ascii=False))
    else:
        typer.echo(elections.on_answer(answer_reply(answer), pack, period, question).plain())


@policy_app.command("validate")
def policy_validate(files: list[str] = typer.Argument(None, help="Pack files (default: every pack found).")) -> None:
    """Check policy packs; every problem is listed with its path in the file."""
    from .pack import PackError, available_packs, load_pack, load_pack_file

    targets = files or available_packs()
    problems = 0
    for target in targets:
        try:
            pack = load_pack_file(Path(target)) if Path(target).suffix in {".yaml", ".yml"} else load_pack(target)
            typer.echo(f"{target}: ok ({pack.council}, {len(pack.clauses)} clauses)")
        except PackError as exc:
            problems += len(exc.problems)
            for problem in exc.problems:
                typer.echo(f"{exc.source}: {problem}", err=True)
    if problems:
        raise typer.Exit(2)


@policy_app.command("show")
def policy_show(name: str) -> None:
    """Print a council's pack in plain words."""
    pack = _pack(name)
    typer.echo(f"{pack.council} ({pack.id}) — {pack.source}")
    typer.echo(f"Approved channels: {', '.join(c.value.title() for c in pack.channels)}")
    r = pack.roles
    typer.echo(f"Approve posts: {', '.join(x.value for x in r.approve_posts)}; final decision: {', '.join(x.value for x in r.final_decision)}; "
               f"settles disagreements: {', '.join(x.value for x in r.settle_disagreements)}; reports go to: {', '.join(x.value for x in r.receive_reports)} "
               f"(else {', '.join(x.value for x in r.report_fallback)}); acknowledge within {pack.reports.acknowledge_within_working_days} working days")
    typer.echo(f"Contact line: {pack.contact_line}")
    for clause in pack.clauses:
        kinds = f" [{', '.join(k.value for k in clause.kinds)}]" if clause.kinds else ""
        typer.echo(f"\n{clause.id} — {clause.section}{kinds}\n  {clause.text}")
    if pack.pre_election is not None:  # the pre-election rules, and the council's own list of controversial topics
        typer.echo("\nPre-election period (from the Notice of Election until 10pm on polling day):")
        for rule_id, rule in pack.pre_election.rules.items():
            typer.echo(f"{rule_id} — {'council pages' if rule.where.value == 'council' else 'own accounts'}: {rule.text}")
        typer.echo("Controversial topics: " + ("; ".join(t.label for t in pack.pre_election.topics.values()) or "none listed"))


def settings_or_fail(config: Optional[Path], **overrides: Any) -> Any:
    from .config import ConfigError, load_settings

    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc))


_LOCKS: list[Any] = []  # held for the life of the process


def _lock(data_dir: Path) -> None:
    from .store import DataLock, StoreError

    lock = DataLock(data_dir)
    try:
        lock.acquire()
    except StoreError as exc:
        fail(str(exc))
    _LOCKS.append(lock)


def open_settings(config: Optional[Path], **overrides: Any) -> Any:
    """The settings, with the data folder (TinyDB) this process then has to itself: the store keeps
    records in memory and rewrites whole files, so a second writer would undo the first."""
    settings = settings_or_fail(config, **overrides)
    if settings.database_url is None:
        _lock(settings.data_dir)
    return settings


async def open_deployment(settings: Any) -> Any:
    """Every council in the settings on their storage, or a plain message and exit status 2."""
    from .deployment import Deployment
    from .pack import PackError
    from .storage.port import StorageError
    from .store import StoreError

    try:
        return await Deployment.open(settings)
    except PackError as exc:
        fail("; ".join(exc.problems))
    except (StorageError, StoreError) as exc:
        fail(str(exc))


def with_council(config: Optional[Path], council_id: Optional[str], work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(ctx)`` for one council (``--council-id`` where the config hosts several), then
    close the storage."""
    settings = open_settings(config)

    async def run() -> T:
        deployment = await open_deployment(settings)
        try:
            if council_id is None and deployment.only is None:
                fail(f"this config hosts several councils: say which with --council-id ({', '.join(deployment.bots)})")
            bot = deployment.only if council_id is None else deployment.bots.get(council_id)
            if bot is None:
                fail(f"--council-id: no council {council_id!r} in the config ({', '.join(deployment.bots)})")
            await bot.people.load()
            return await work(bot.ctx)
        finally:
            await deployment.stop()

    return asyncio.run(run())


COUNCIL_ID = typer.Option(None, "--council-id", help="Where the config hosts several councils ([[councils]]): which one.")
CONFIG = typer.Option(None, "--config", help="Config file (default: councilbot.toml or $COUNCILBOT_CONFIG).")


@app.command()
def doctor(config: Optional[Path] = CONFIG, online: bool = typer.Option(False, "--online", help="Also ask Slack and Microsoft whether the tokens work.")) -> None:
    """Check the config, the policy pack, the data folder, people and tokens; say what is wrong."""
    from .doctor import diagnose, report

    from .extensions import ONLINE_CHECKS

    # The platforms' own SDKs, registered by the adapters (councilbot_adapters.cli): the core imports none.
    raise typer.Exit(report(diagnose(config, ONLINE_CHECKS if online else ()), typer.echo))


@app.command("export-posts")
def export_posts(fmt: str = typer.Option("csv", "--format", help="csv or json"), config: Optional[Path] = CONFIG,
                 council_id: Optional[str] = COUNCIL_ID) -> None:
    """Approved posts, for whoever publishes them."""
    from . import suggestions

    if fmt not in {"csv", "json"}:
        fail("--format must be csv or json")
    typer.echo(with_council(config, council_id, lambda ctx: suggestions.export(ctx, fmt)), nl=False)


@app.command("export-moderation")
def export_moderation(config: Optional[Path] = CONFIG, council_id: Optional[str] = COUNCIL_ID) -> None:
    """Moderation records as CSV, for the Council's records."""
    from . import moderation

    typer.echo(with_council(config, council_id, moderation.export), nl=False)


@app.command("export-person")
def export_person(
    person: str,
    out: Optional[Path] = typer.Option(None, "--out", help="Write the export to this file; anything withheld goes to "
                                       "FILE.withheld-for-review.json beside it, for you, never for the person."),
    config: Optional[Path] = CONFIG,
    council_id: Optional[str] = COUNCIL_ID,
) -> None:
    """Subject access: everything held about a person, other people redacted; anything withheld kept apart."""
    from .dataprotection import subject_access, write_subject_access

    if ":" not in person:
        fail("give the person's id with its platform, like slack:U123")
    if out is not None and out.is_dir():
        fail(f"{out}: --out is the file to write the export to, and this is a folder")
    result = with_council(config, council_id, lambda ctx: subject_access(ctx, person))
    if out is None:
        typer.echo(json.dumps(result.export, ensure_ascii=False, indent=2))
        if result.withheld:
            typer.echo(f"councilbot: {len(result.withheld)} record(s) about this person were withheld from this export "
                       "for your review; run again with --out FILE to get them in a separate file (not for the person).", err=True)
        return
    try:
        review = write_subject_access(result, person, out)
    except OSError as exc:
        fail(f"{out}: cannot write the export ({exc.strerror})")
    typer.echo(f"Wrote the export for {person} to {out}: this is what the person is given.")
    if review is not None:
        typer.echo(f"{len(result.withheld)} record(s) were withheld for your review, in {review}. "
                   "Do not give that file to the person.")


@app.command("erase-person")
def erase_person(
    person: str,
    yes: bool = typer.Option(False, "--yes", help="Really erase."),
    include_open: bool = typer.Option(False, "--include-open", help="Erase even while a case involving them is open."),
    config: Optional[Path] = CONFIG,
    council_id: Optional[str] = COUNCIL_ID,
) -> None:
    """Erase a person's records (right to erasure). Logged in the audit log."""
    from .dataprotection import OpenCases
    from .dataprotection import erase_person as run

    if ":" not in person:
        fail("give the person's id with its platform, like slack:U123")
    if not yes:
        fail("erasure cannot be undone: add --yes to confirm")
    try:
        counts = with_council(config, council_id, lambda ctx: run(ctx, person, include_open=include_open))
    except OpenCases as exc:
        fail(f"nothing was erased: {person} is part of {len(exc.refs)} open case(s) someone may be dealing with: "
             f"{', '.join(exc.refs)}. Close them first, or add --include-open to erase anyway.")
    typer.echo(json.dumps(counts, indent=2))


@app.command("evidence-bundle")
def evidence_bundle(
    report: str = typer.Argument(..., help="The report's reference, e.g. R-2026-0012."),
    out: Path = typer.Option(..., "--out", help="The zip file to write."),
    as_: str = typer.Option(..., "--as", help="Who is exporting: one of the report's recipients, e.g. slack:U0CLERK."),
    config: Optional[Path] = CONFIG,
    council_id: Optional[str] = COUNCIL_ID,
) -> None:
    """A signed evidence bundle (zip) of a report and its linked incidents, for the police or a platform."""
    from .bundle import BundleError, build
    from .errors import Refused

    if ":" not in as_:
        fail("--as: give the person's id with its platform, like slack:U0CLERK")
    if out.is_dir():
        fail(f"{out}: --out is the zip file to write, and this is a folder")
    try:
        made = with_council(config, council_id, lambda ctx: build(ctx, as_, report, out, via="command line"))
    except Refused as exc:
        fail(str(exc))
    except BundleError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: cannot write the bundle ({exc.strerror})")
    typer.echo(f"wrote {made['path']}: report {made['report']}, {made['files']} files, signed by key {made['public_key']}")


@app.command("verify-bundle")
def verify_bundle(
    path: Path = typer.Argument(..., help="The evidence bundle (zip)."),
    public_key: Optional[str] = typer.Option(None, "--public-key", help="The council's public key (as 'councilbot doctor' prints it), or a file holding it."),
) -> None:
    """Check that nothing in an evidence bundle was changed: exit 0 if so, 1 naming what was altered."""
    from .bundle import NotABundle, verify

    try:
        problems, manifest = verify(path, public_key)
    except NotABundle as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"--public-key: {exc}")
    for problem in problems:
        typer.echo(f"ALTERED: {problem}")
    if problems:
        raise typer.Exit(1)
    key = "the given key" if public_key else f"the key inside the bundle, {manifest.get('public_key')} (compare it with 'councilbot doctor')"
    typer.echo(f"OK: report {manifest.get('report')}, {len(manifest.get('files', []))} files match the manifest, "
               f"exported {manifest.get('exported_at')}; the signature holds for {key}.")


@app.command()
def backup(path: Path, config: Optional[Path] = CONFIG) -> None:
    """Copy the data folder (or, with database_url, the PostgreSQL database and the evidence files) to a .tar.gz, consistent even while the bot runs."""
    from .backup import BackupError, make_backup

    settings = settings_or_fail(config)
    pg_url = _backup_url(settings)
    if pg_url:
        raise typer.Exit(_pg_backup(pg_url, settings.data_dir, path))
    try:
        count = make_backup(settings.data_dir, path)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"backed up {count} files to {path}")


@app.command()
def restore(path: Path, config: Optional[Path] = CONFIG) -> None:
    """Restore the data folder (or, with database_url, the PostgreSQL database and the evidence files) from a backup (the bot must be stopped)."""
    from .backup import BackupError, restore_backup

    settings = settings_or_fail(config)
    pg_url = _backup_url(settings)
    if pg_url:
        raise typer.Exit(_pg_restore(pg_url, settings.data_dir, path))
    _lock(settings.data_dir)
    try:
        count = restore_backup(path, settings.data_dir)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"restored {count} files into {settings.data_dir}")


def _backup_url(settings: Any) -> str | None:
    """Set: the records are in PostgreSQL, and backup/restore use this URL (see ``pgbackup.backup_url``)."""
    from .pgbackup import backup_url

    return backup_url(settings.database)


def _pg_backup(url: str, data_dir: Path, path: Path) -> int:
    """``backup`` with the records in PostgreSQL: pg_dump and the evidence files, in one .tar.gz."""
    from .backup import BackupError
    from .pgbackup import make_pg_backup

    try:
        made = make_pg_backup(url, data_dir, path)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"backed up the PostgreSQL database and {made.files} evidence and key files to {path}")
    return 0


def _pg_restore(url: str, data_dir: Path, path: Path) -> int:
    """``restore`` with the records in PostgreSQL: 0 restored and current, 1 restored but its schema needs an upgrade."""
    from .backup import BackupError
    from .pgbackup import restore_pg_backup

    try:
        done = restore_pg_backup(path, url, data_dir)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"restored the PostgreSQL database and {done.files} evidence and key files into {data_dir}")
    if done.key_set_aside is not None:
        typer.echo(f"the bundle-signing key that was there differs from the backup's: kept aside as {done.key_set_aside}")
    if not done.schema.ok:
        typer.echo(f"councilbot: {done.schema.message}", err=True)
    return done.schema.code


def _db(command: str, config: Optional[Path]) -> None:
    from .storage.admin import nothing_to_migrate, run_check, run_upgrade

    settings = settings_or_fail(config)
    url = settings.database
    outcome = nothing_to_migrate(settings.data_dir) if not url else run_upgrade(url) if command == "upgrade" else run_check(url)
    if outcome.ok:
        typer.echo(outcome.message)
    else:
        typer.echo(f"councilbot: {outcome.message}", err=True)
    raise typer.Exit(outcome.code)


@db_app.command("upgrade")
def db_upgrade(config: Optional[Path] = CONFIG) -> None:
    """Create or update the database's tables to this version of CouncilBot (safe to run again, and from several machines at once)."""
    _db("upgrade", config)


@db_app.command("check")
def db_check(config: Optional[Path] = CONFIG) -> None:
    """Exit 0 if the database's tables are up to date, 1 (saying what to run) if not, 2 if it cannot be reached."""
    _db("check", config)


def main() -> None:
    """The core's commands only; the installed ``councilbot`` command is ``councilbot_adapters.cli``,
    which adds the chat platforms (chat, serve, teams-package, doctor --online)."""
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
