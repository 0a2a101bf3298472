"""Evidence kept with a report, so a case survives the platform deleting things.

Screenshots are downloaded at once by the adapter (with the bot's own token) and handed to the
core as ``Upload`` values; here they are checked (size, and what the bytes are: images and PDFs
only, recognised from their first bytes, never from the name), and kept in the data folder under
their SHA-256, so the same screenshot sent twice is kept once and a changed byte shows. They are
never opened, rendered or run: only read back into an evidence bundle.

Also here: links added later (kept as given, with when they were reported), incident linking
(reports about the same sender), and the two reference numbers the police and platforms ask for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any, Sequence

from . import clock
from .context import Ctx, text_value
from .storage.port import Ne
from .errors import BadInput, Refused
from .messages import Button, Field, Form, Input, Reply, Upload

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # a phone screenshot is 1-5 MB; a PDF of a long thread rarely more
MAX_FILES_PER_REPORT = 50
MAX_LINKS_PER_REPORT = 100
MAX_LINKED = 500  # reports followed through links from one report; a long campaign is a few dozen
FOLDER = ".evidence"  # a dot folder: the record store does not take it for a table
REPORT_REF = re.compile(r"\bR-\d{4}-\d{4,}\b", re.IGNORECASE)
# A link ends at a space, or at < > | which no link holds unescaped: Slack sends a link typed in a
# message as <https://facebook.com/p/1> or <http://facebook.com/p/1|facebook.com/p/1>.
_URL = re.compile(r"https?://[^\s<>|]+")
_SHA = re.compile(r"[0-9a-f]{64}")

# What the bytes are, from their first bytes (magic numbers): (media type, file extension).
_MAGIC: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", "image/heic": "heic",
              "image/avif": "avif", "application/pdf": "pdf"}
KINDS_IN_WORDS = "an image (PNG, JPEG, GIF, WebP, HEIC) or a PDF"

REFERENCE_FIELDS = {"crime_ref": "Crime reference number", "platform_ref": "Platform's report reference"}


def sniff(data: bytes) -> tuple[str, str] | None:
    """(media type, extension) of an image or PDF, judged by its bytes alone; None for anything else."""
    for magic, offset, media, ext in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return media, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return ("image/avif", "avif") if data[8:12] == b"avif" else ("image/heic", "heic")
    return None


def safe_name(name: str) -> str:
    """A file name fit to show and to put in a zip: no folders, no control characters, not too long."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip(" .")
    return (base or "file")[:120]


def folder(ctx: Ctx) -> Path:
    return ctx.files / FOLDER


def path_of(ctx: Ctx, sha256: str) -> Path:
    if not _SHA.fullmatch(sha256):
        raise ValueError("not a SHA-256")
    return folder(ctx) / sha256


def check(uploads: Sequence[Upload], field: str) -> list[tuple[Upload, str, str]]:
    """Every upload is fit to keep, or BadInput naming the first that is not (nothing is kept then)."""
    out = []
    for upload in uploads:
        name = safe_name(upload.name)
        if upload.problem:
            raise BadInput(f"{name} could not be fetched ({upload.problem}). Please try again.", field)
        if not upload.data:
            raise BadInput(f"{name} is empty.", field)
        if len(upload.data) > MAX_BYTES:
            raise BadInput(f"{name} is over {MAX_BYTES // (1024 * 1024)} MB; please send a smaller screenshot.", field)
        kind = sniff(upload.data)
        if kind is None:
            raise BadInput(f"{name} is not {KINDS_IN_WORDS}, so it cannot be kept as evidence.", field)
        out.append((upload, kind[0], kind[1]))
    return out


def _write(path: Path, data: bytes) -> None:
    """Atomic and private: a crash leaves the whole file or none; only this user can read it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


async def keep(ctx: Ctx, user: str, uploads: Sequence[Upload], field: str = "evidence_files") -> list[dict[str, Any]]:
    """Check every upload, then store each under its SHA-256; the records' metadata, in order."""
    checked = check(uploads, field)
    now = clock.iso(clock.now())
    kept: list[dict[str, Any]] = []
    for upload, media, _ext in checked:
        digest = hashlib.sha256(upload.data).hexdigest()
        if any(k["sha256"] == digest for k in kept):
            continue  # the same screenshot twice in one go is kept once
        path = path_of(ctx, digest)
        if not path.exists():
            await asyncio.to_thread(_write, path, upload.data)  # up to 10 MB, fsynced: off the event loop
        kept.append({"sha256": digest, "name": safe_name(upload.name), "type": media, "size": len(upload.data),
                     "at": now, "by": user, "source": upload.source})
    return kept


async def read(ctx: Ctx, sha256: str) -> bytes:
    return await asyncio.to_thread(path_of(ctx, sha256).read_bytes)


def uploads_in(values: Any, name: str = "evidence_files") -> list[Upload]:
    raw = values.get(name) if hasattr(values, "get") else None
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, (list, tuple)) and all(isinstance(u, Upload) for u in raw):
        return list(raw)
    raise BadInput("Screenshots must be sent as files.", name)


def files_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return list(record.get("files") or [])


def links_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every link, as given, with when it was reported: those in the report form (when it was
    filed), then any added later."""
    given = [{"url": url, "at": record["created"], "by": record["reporter"]} for url in record.get("evidence") or []]
    return given + list(record.get("links") or [])


async def collect(ctx: Ctx) -> int:
    """Delete kept files no report refers to any more (after a purge or an erasure): evidence goes
    with its report, under the same retention and erasure rules."""
    where = folder(ctx)
    if not where.is_dir():
        return 0
    wanted = {f["sha256"] for r in await ctx.store.find("reports") for f in files_of(r)}
    gone = 0
    for path in where.iterdir():
        if path.is_file() and (path.name not in wanted or not _SHA.fullmatch(path.name)):
            path.unlink(missing_ok=True)
            gone += 1
    if gone:
        log.info("evidence files deleted with their reports", extra={"count": gone})
    return gone


# ---------------------------------------------------------------- adding evidence to a report


async def _may_add(ctx: Ctx, user: str, ref: str) -> dict[str, Any]:
    """The reporter or a recipient may add evidence; anyone else hears the report does not exist."""
    from . import reports

    record = await ctx.store.get("reports", ref.strip().upper())
    if record is None or not reports.can_see(ctx, user, record):
        raise Refused(f"There is no report {ref.strip()} that you can see.")
    return record


async def _target(ctx: Ctx, user: str, text: str) -> dict[str, Any]:
    """The report named in the message; without a reference, the sender's only open report."""
    named = REPORT_REF.search(text)
    if named:
        return await _may_add(ctx, user, named.group(0))
    own = await ctx.store.find("reports", {"reporter": user, "status": Ne("closed")}, order_by="created")
    if len(own) == 1:
        return own[0]
    if not own:
        raise Refused("To keep screenshots as evidence, first make a report (/report), then send them to me with "
                      "its reference, for example: evidence R-2026-0012.")
    refs = ", ".join(r["id"] for r in sorted(own, key=lambda r: r["created"]))
    raise Refused(f"You have more than one open report ({refs}). Please send the screenshots again with the "
                  "reference in the same message, for example: evidence R-2026-0012.")


async def add(ctx: Ctx, user: str, text: str, values: Any) -> list[Reply]:
    """The ``evidence`` command: files (downloaded by the adapter) and links added to a report."""
    uploads = uploads_in(values, "files")
    links = [u.rstrip(").,>") for u in _URL.findall(text)][:20]
    if not uploads and not links:
        return [Reply(title="Adding evidence to a report",
                      text="Send screenshots (images or PDFs) to me here with the report's reference, for example "
                           "'evidence R-2026-0012', and they are kept with the report, even if the post is deleted. "
                           "Links in the same message are kept too.")]
    record = await _target(ctx, user, text)
    files = files_of(record)
    if len(files) + len(uploads) > MAX_FILES_PER_REPORT:
        raise BadInput(f"A report can keep at most {MAX_FILES_PER_REPORT} files.", "files")
    kept = await keep(ctx, user, uploads, "files")
    known = {f["sha256"] for f in files}
    new = []
    for k in kept:  # each file once, however often it is sent
        if k["sha256"] not in known:
            known.add(k["sha256"])
            new.append(k)
    now = clock.iso(clock.now())
    added_links = [{"url": url[:1000], "at": now, "by": user} for url in links]
    changes: dict[str, Any] = {"files": files + new}
    if added_links:
        changes["links"] = (list(record.get("links") or []) + added_links)[:MAX_LINKS_PER_REPORT]
    record = await ctx.store.update("reports", record["id"], changes)
    await ctx.audit.record(user, "report.evidence_added", record["id"], files=len(new), links=len(added_links),
                     sha256=[k["sha256"] for k in new])
    parts = []
    if new:
        parts.append(f"{len(new)} file(s)")
    if len(kept) > len(new):
        parts.append(f"{len(kept) - len(new)} already kept")
    if added_links:
        parts.append(f"{len(added_links)} link(s)")
    return [Reply(title=f"Evidence kept with {record['id']}", tone="ok",
                  text=f"Kept with report {record['id']}: {', '.join(parts)}. They stay with the report even if "
                       "the post or the message is deleted.")]


# ---------------------------------------------------------------- linking incidents


async def link(ctx: Ctx, user: str, text: str) -> list[Reply]:
    """``link R-2026-0012 R-2026-0015``: reports about the same sender, linked both ways."""
    from . import reports

    refs = list(dict.fromkeys(r.upper() for r in REPORT_REF.findall(text)))
    if len(refs) < 2:
        return [Reply(title="Link reports", text="Give two or more report references about the same sender, "
                      "for example: link R-2026-0012 R-2026-0015")]
    records = [await reports.as_recipient(ctx, user, ref) for ref in refs]  # a recipient of every one of them
    for record in records:
        others = sorted((set(record.get("linked") or []) | set(refs)) - {record["id"]})
        await ctx.store.update("reports", record["id"], {"linked": others})
    await ctx.audit.record(user, "report.linked", refs[0], linked=refs[1:])
    return await reports.view(ctx, user, refs[0])


async def linked_records(ctx: Ctx, record: dict[str, Any], viewers: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The linked reports that every one of ``viewers`` (by default, everyone who can read this
    report as a recipient) may also read, oldest first. The others stay unseen: a report about the
    Clerk that the Chair linked never shows in a view or bundle the Clerk can have."""
    from . import reports

    if viewers is None:
        viewers = [u for u in record["recipients"] if reports._is_recipient(ctx, u, record)]
    if not viewers:
        return []
    # Links are followed on: R-12 linked to later to R-20, are one sender's three
    # incidents, so the bundle of R-12 holds R-20 too.
    seen, queue, out = {record["id"]}, list(record.get("linked") or []), []
    while queue and len(seen) <= MAX_LINKED:
        ref = queue.pop(0)
        if ref in seen:
            continue
        seen.add(ref)
        other = await ctx.store.get("reports", ref)
        if other is None:
            continue
        queue += other.get("linked") or []
        if all(reports._is_recipient(ctx, u, other) for u in viewers):
            out.append(other)
    return sorted(out, key=lambda r: r["created"])


# ---------------------------------------------------------------- reference numbers


async def references_form(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    from . import reports

    record = await reports.as_recipient(ctx, user, ref)
    return [Reply(text="", form=Form(name="report_refs", title="Reference numbers", context=record["id"], inputs=(
        Input("crime_ref", "Crime reference number (from the police)", required=False, max_length=100,
              initial=record.get("crime_ref") or "", placeholder="e.g. 14/123456/26"),
        Input("platform_ref", "The platform's report reference", required=False, max_length=200,
              initial=record.get("platform_ref") or "", placeholder="e.g. Facebook report 1234567890"),
    )))]


async def set_references(ctx: Ctx, user: str, ref: str, values: Any) -> list[Reply]:
    from . import reports

    record = await reports.as_recipient(ctx, user, ref)
    crime = text_value(values, "crime_ref", required=False, limit=100, label="the crime reference number")
    platform = text_value(values, "platform_ref", required=False, limit=200, label="the platform's report reference")
    changed = [k for k, v in (("crime_ref", crime), ("platform_ref", platform)) if (record.get(k) or "") != v]
    if changed:
        record = await ctx.store.update("reports", record["id"], {"crime_ref": crime, "platform_ref": platform})
        await ctx.audit.record(user, "report.references_set", record["id"], changed=changed)
    return [await reports.recipient_view(ctx, record)]


# ---------------------------------------------------------------- what the report view adds


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


async def view_fields(ctx: Ctx, record: dict[str, Any]) -> list[Field]:
    """Reference numbers, kept files, later links and linked incidents, for the recipients' view."""
    fields = [Field(label, record[key]) for key, label in REFERENCE_FIELDS.items() if record.get(key)]
    files = files_of(record)
    if files:
        fields.append(Field(f"Evidence kept ({len(files)} file(s))", "\n".join(
            f"{f['name']} ({f['type']}, {_size(int(f['size']))}), added {ctx.human(f['at'])}" for f in files)))
    later = list(record.get("links") or [])
    if later:
        fields.append(Field("Links added later", "\n".join(f"{x['url']} ({ctx.human(x['at'])})" for x in later)))
    linked = await linked_records(ctx, record)
    if linked:
        timeline = sorted([record, *linked], key=lambda r: r["created"])
        fields.append(Field("Linked incidents (oldest first)", "\n".join(
            f"{r['id']}{' (this one)' if r['id'] == record['id'] else ''}: filed {ctx.human(r['created'])}, "
            f"{r['platform']}, from {r['who'] or 'not known'}" for r in timeline)))
    return fields


def view_buttons(record: dict[str, Any]) -> list[Button]:
    return [Button("report.refs", "Reference numbers", record["id"]), Button("report.bundle", "Evidence bundle", record["id"])]
