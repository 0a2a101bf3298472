"""Operating a PostgreSQL database's schema: what ``councilbot db upgrade|check`` and
``python -m councilbot.storage upgrade|check`` both run, so the two can never disagree.

Each operation returns an ``Outcome`` (exit status and one line of text) instead of printing, so each
front end words its own prefix. Everything said passes through ``redact``: a database URL carries its
password, and libpq quotes parts of a malformed URL back in its errors (``unexpected spaces found in
"pass word"``), so the password is blanked out of every message before anyone sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .migrations import check_current, upgrade
from .port import SchemaBehind, StorageError

OK, BEHIND, BAD = 0, 1, 2  # exit statuses: current / behind (or ahead) / cannot use the database at all
UPGRADE_COMMAND = "councilbot db upgrade"


@dataclass(frozen=True)
class Outcome:
    code: int
    message: str

    @property
    def ok(self) -> bool:
        return self.code == OK


def passwords(url: str) -> list[str]:
    """Every form the password of ``url`` may take in a message: as written, percent-decoded, and
    from a ``?password=`` parameter. Found without libpq, so even a URL libpq rejects is covered."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced [ in the host: take whatever sits between the scheme and @
        parts = None
    if parts is not None:
        for userinfo in (parts.netloc.rpartition("@")[0], parts.netloc.partition("@")[0]):  # "@" in it, or a stray one
            if ":" in userinfo:
                found.append(userinfo.split(":", 1)[1])
        for key, value in parse_qsl(parts.query, keep_blank_values=False):
            if key == "password":
                found.append(value)
        found += [m.group(1) for m in re.finditer(r"(?:^|[?&])password=([^&]*)", parts.query)]
    else:
        match = re.match(r"^[a-z]+://[^:/@]*:(.*)@", url)
        if match:
            found.append(match.group(1))
    found += [unquote(p) for p in found]
    return sorted({p for p in found if p}, key=len, reverse=True)  # longest first: a decoded form may contain another


def redact(text: str, url: str | None) -> str:
    """``text`` with the URL's password replaced by ``***`` wherever it appears."""
    for secret in passwords(url) if url else []:
        text = text.replace(secret, "***")
    return text


def split_password(url: str) -> tuple[str, str | None]:
    """The connection settings without the password (fit for a child's command line: host, port,
    user, database, sslmode...) and the password (for the child's ``PGPASSWORD``)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StorageError(redact(f"the database URL is not valid: {str(exc).strip()}", url)) from None
    password = params.pop("password", None)
    return make_conninfo("", **params), (str(password) if password is not None else None)


def check_url(url: str) -> str:
    """The URL, if it names a PostgreSQL database at all (the same rule as ``open_backend``)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise StorageError("database_url must start with postgresql:// (or leave it out to keep the records in data_dir)")
    return url


def one_line(text: str) -> str:
    """libpq's messages run over several lines (a hint on the next); an operator's terminal and a
    log want one."""
    return " ".join(text.split())


def _cannot(exc: Exception, url: str) -> Outcome:
    return Outcome(BAD, one_line(redact(str(exc) or type(exc).__name__, url)))


def run_upgrade(url: str) -> Outcome:
    """Apply every migration not yet applied; running it again does nothing."""
    try:
        applied = upgrade(check_url(url))
        version = check_current(url)
    except SchemaBehind as exc:  # the database is newer than this CouncilBot
        return Outcome(BEHIND, one_line(redact(str(exc), url)))
    except StorageError as exc:
        return _cannot(exc, url)
    except psycopg.Error as exc:  # e.g. the user may not create tables in this database
        return Outcome(BAD, one_line(redact(f"the upgrade failed (the step that failed was not applied): {exc}", url)))
    done = f" (applied {', '.join(map(str, applied))})" if applied else " (already up to date)"
    return Outcome(OK, f"schema at version {version}{done}")


def run_check(url: str) -> Outcome:
    """OK if the schema is the one this CouncilBot needs; BEHIND saying what to run; BAD if the
    database cannot be reached at all."""
    try:
        version = check_current(check_url(url))
    except SchemaBehind as exc:
        return Outcome(BEHIND, one_line(redact(str(exc), url)))
    except StorageError as exc:
        return _cannot(exc, url)
    except psycopg.Error as exc:
        return Outcome(BAD, one_line(redact(f"cannot read the schema version: {exc}", url)))
    return Outcome(OK, f"schema at version {version}: up to date")


def nothing_to_migrate(data_dir: Path) -> Outcome:
    """TinyDB has no schema: its records are files the bot reads as they are."""
    return Outcome(OK, f"nothing to migrate: the records are TinyDB files in {data_dir}, which have no schema "
                       "(only a PostgreSQL database, set by database_url, has one)")
