"""Backups of the data folder, safe while the bot runs: every file is replaced by atomic rename,
so each file in the backup is a complete version of itself. Files are copied one after another,
so a backup taken under heavy traffic may hold a record a moment newer than another."""

from __future__ import annotations

import io
import json
import os
import hashlib
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from . import clock
from .store import keep_out_of_git, tinydb_shaped


MARKER = ".councilbot-backup"
# Besides the records: kept evidence files (named by their SHA-256) and the bundle-signing key, so a
# restored council still has its screenshots and signs bundles with the key it gave the police.
EVIDENCE = re.compile(r"\.evidence/[0-9a-f]{64}")
SIGNING_KEY = ".bundle-signing-key.pem"
MARKER_TEXT = b"CouncilBot data folder backup, format 1\n"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message names the file and why."""


def make_backup(data_dir: Path, target: Path) -> int:
    if not data_dir.is_dir():
        raise BackupError(f"{data_dir}: no data folder to back up")
    if not target.name or target.is_dir():
        raise BackupError(f"{target}: give the backup a file name, such as councilbot-backup.tar.gz")
    files = sorted(p for p in data_dir.rglob("*.json") if not p.name.startswith("."))
    files += sorted(p for p in data_dir.glob(".evidence/*") if EVIDENCE.fullmatch(p.relative_to(data_dir).as_posix()))
    files += [p for p in (data_dir / SIGNING_KEY,) if p.is_file()]
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            mark = tarfile.TarInfo(MARKER)  # says "a CouncilBot backup", even of a folder with no records yet
            mark.size = len(MARKER_TEXT)
            tar.addfile(mark, io.BytesIO(MARKER_TEXT))
            for path in files:
                tar.add(path, arcname=str(path.relative_to(data_dir)))
        os.replace(tmp, target)
    except OSError as exc:
        raise BackupError(f"{target}: cannot write the backup ({exc.strerror})") from None
    return len(files)


def restore_backup(source: Path, data_dir: Path) -> int:
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    try:
        with tarfile.open(source, "r:gz") as tar:
            everything = tar.getmembers()
            marked = any(m.name == MARKER for m in everything)
            if marked and _marker_text(tar) != MARKER_TEXT:  # e.g. a PostgreSQL backup (pgbackup): no data folder inside
                raise BackupError(f"{source}: not a backup of a data folder: it is a backup of a PostgreSQL database, "
                                  "restored with database_url set to the database; nothing was changed")
            members = [m for m in everything if m.isfile() and (m.name.endswith(".json") or EVIDENCE.fullmatch(m.name)
                                                                  or m.name == SIGNING_KEY)]
            for m in members:
                if m.name.startswith("/") or ".." in Path(m.name).parts:
                    raise BackupError(f"{source}: unsafe path {m.name!r} in the backup")
            staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir.parent if data_dir.parent.exists() else None))
            tar.extractall(staging, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{source}: not a readable backup ({exc})") from None
    try:
        _check_restored(source, staging, members, marked)
    except BackupError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if data_dir.exists():
        # Kept, never overwritten: a second restore must not destroy the only copy of the first data.
        aside = data_dir.with_name(f"{data_dir.name}.before-restore-{clock.now():%Y%m%dT%H%M%S%f}")
        data_dir.rename(aside)
    keep_out_of_git(staging)
    staging.rename(data_dir)
    return len(members)


def _marker_text(tar: tarfile.TarFile) -> bytes:
    fh = tar.extractfile(MARKER)
    return fh.read(len(MARKER_TEXT) + 1) if fh is not None else b""


def _check_restored(source: Path, staging: Path, members: list[tarfile.TarInfo], marked: bool) -> None:
    """A backup replaces the live data only if it is one: marked as ours (or, from before the mark,
    holding table files), each file a whole TinyDB file."""
    if not marked and not any(len(Path(m.name).parts) == 2 for m in members):
        raise BackupError(f"{source}: not a CouncilBot backup (it holds no data tables); nothing was changed")
    for m in members:
        if EVIDENCE.fullmatch(m.name):  # an evidence file must still be the file its name fingerprints
            if hashlib.sha256((staging / m.name).read_bytes()).hexdigest() != Path(m.name).name:
                raise BackupError(f"{source}: the evidence file {m.name} in the backup is damaged; nothing was changed")
            continue
        if m.name == SIGNING_KEY:
            continue
        try:
            data = json.loads((staging / m.name).read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise BackupError(f"{source}: {m.name} in the backup is damaged ({exc}); nothing was changed") from None
        if not tinydb_shaped(data):
            raise BackupError(f"{source}: {m.name} in the backup is not a CouncilBot data file; nothing was changed")
