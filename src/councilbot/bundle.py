"""The evidence bundle: one zip a clerk can hand to the police or a platform.

Inside: ``summary.html`` (the incident and its linked incidents in time order: what was reported
and when, who acknowledged, notes, the outcome, the reference numbers), every evidence file, and
``manifest.json`` listing each file with its SHA-256, the case's audit trail and the time of
export. The manifest is signed with Ed25519 (``manifest.sig``); the key is made at first use and
kept in the data folder (readable by this user only), its public half is in the bundle
(``public-key.txt``) and printed by ``councilbot doctor``, so anyone can check later that nothing
in the bundle was changed (``councilbot verify-bundle``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import shutil
import time
import zipfile
import zlib
import asyncio
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import clock, evidence
from .context import Ctx
from .storage.port import Has, In
from .messages import Reply

FORMAT = "councilbot-evidence-bundle/1"
KEY_FILE = ".bundle-signing-key.pem"
BUNDLES = ".bundles"  # bundles made for chat, kept briefly for the adapter to send
BUNDLE_LIFETIME = 3600.0
MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "public-key.txt"
SUMMARY = "summary.html"
MAX_MANIFEST = 20 * 1024 * 1024  # a case with years of audit trail is a few hundred kilobytes


class BundleError(Exception):
    """A bundle that cannot be made (an evidence file missing or changed on disk); says which."""


class NotABundle(Exception):
    """A file that is not an evidence bundle at all (not a zip, no manifest, no signature)."""


# ---------------------------------------------------------------- the signing key


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The council's bundle-signing key: made at first use, mode 0600, never overwritten."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another process just now: use that one
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise BundleError(f"{path}: not an Ed25519 key")
    return loaded


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as one line of base64 (32 bytes), easy to print, publish and compare."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def load_public(text: str) -> Ed25519PublicKey:
    """A public key given as base64 (as doctor prints it), or the path of a file holding it."""
    candidate = text.strip()
    if len(candidate) < 200 and Path(candidate).is_file():
        candidate = Path(candidate).read_text(encoding="utf-8", errors="replace").strip()
    try:
        raw = base64.b64decode(candidate, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise ValueError("not an Ed25519 public key (expected 44 characters of base64, as 'councilbot doctor' prints it)") from None


# ---------------------------------------------------------------- making a bundle


async def _case(ctx: Ctx, user: str, ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from . import reports

    record = await reports.as_recipient(ctx, user, ref)
    return record, sorted([record, *await evidence.linked_records(ctx, record, [user])], key=lambda r: r["created"])


def _zip_name(record: dict[str, Any], number: int, meta: dict[str, Any]) -> str:
    """Where a file sits in the zip: by report, numbered, its name ending in what its bytes are."""
    name = evidence.safe_name(meta["name"])
    ext = evidence.EXTENSIONS.get(str(meta["type"]), "bin")
    if not name.lower().endswith(f".{ext}") and not (ext == "jpg" and name.lower().endswith(".jpeg")):
        name = f"{name}.{ext}"
    return f"evidence/{record['id']}/{number:02d}-{meta['sha256'][:12]}-{name}"


async def _audit(ctx: Ctx, ids: set[str]) -> list[dict[str, Any]]:
    """The case's audit trail, naming only the reports in this bundle: a linked report its maker
    may not read (one routed round them) is not even named, as its linking or export by someone
    else would otherwise show it exists."""
    found = await ctx.store.find("audit", {"subject": In(sorted(ids))})
    for ref in sorted(ids):
        found += await ctx.store.find("audit", {"linked": Has(ref)})
    entries = list({a["id"]: a for a in found}.values())
    out = []
    for a in sorted(entries, key=lambda a: a["at"]):
        linked = [r for r in a.get("linked") or [] if r in ids]
        subject = a["subject"]
        if subject not in ids:
            if a["action"] != "report.linked" or len(linked) < 2:
                continue  # something done to a report not in this bundle
            subject, linked = linked[0], linked[1:]  # the reports here that were linked together
        out.append({"at": a["at"], "action": a["action"], "subject": subject,
                    "by": ctx.people.name(a["actor"]) if ":" in str(a["actor"]) else a["actor"], **({"linked": linked} if linked else {})})
    return out


async def build(ctx: Ctx, user: str, ref: str, out: Path, via: str = "chat") -> dict[str, Any]:
    """Write the bundle for report ``ref`` to ``out``, for ``user`` (a recipient); audited, with
    ``via`` saying whether it was asked for in chat or by whoever runs the server's command line
    (who names the recipient with ``--as``, so the trail must not read as the recipient's own act)."""
    record, case = await _case(ctx, user, ref)
    ids = {r["id"] for r in case}
    exported = clock.iso(clock.now())
    contents: list[tuple[str, bytes, dict[str, Any]]] = []
    for r in case:
        for number, meta in enumerate(evidence.files_of(r), start=1):
            try:
                data = await evidence.read(ctx, meta["sha256"])
            except OSError:
                raise BundleError(f"{r['id']}: the evidence file {meta['name']} is missing from the data folder") from None
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise BundleError(f"{r['id']}: the evidence file {meta['name']} has changed on disk since it was kept")
            contents.append((_zip_name(r, number, meta), data, {
                "report": r["id"], "original_name": meta["name"], "type": meta["type"], "kept_at": meta["at"],
                "added_by": ctx.people.name(meta["by"]), "source": meta.get("source", "")}))
    summary = summary_html(ctx, record, case, [(name, extra) for name, _, extra in contents], exported, user).encode("utf-8")
    contents.insert(0, (SUMMARY, summary, {"type": "text/html"}))
    key = signing_key(ctx.files)
    manifest = {
        "format": FORMAT, "council": ctx.pack.council, "report": record["id"], "linked_reports": sorted(ids - {record["id"]}),
        "exported_at": exported, "exported_by": ctx.people.name(user),
        "files": [{"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), **extra}
                  for name, data, extra in contents],
        "audit_trail": await _audit(ctx, ids), "public_key": public_text(key),
    }
    raw = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    signature = base64.b64encode(key.sign(raw)) + b"\n"
    out = Path(out)
    # Megabytes of screenshots, compressed and written: in a thread, never on the event loop.
    await asyncio.to_thread(_write_zip, out, contents, raw, signature, public_text(key))
    digest = hashlib.sha256(raw).hexdigest()
    await ctx.audit.record(user, "report.bundle_exported", record["id"], linked=sorted(ids - {record["id"]}),
                     files=len(contents) - 1, manifest_sha256=digest, via=via)
    return {"report": record["id"], "files": len(contents) - 1, "path": str(out), "manifest_sha256": digest,
            "public_key": manifest["public_key"]}


def _write_zip(out: Path, contents: list[tuple[str, bytes, dict[str, Any]]], manifest: bytes, signature: bytes,
               public_key: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, data, extra in contents:
            compress = zipfile.ZIP_DEFLATED if extra.get("type") == "text/html" else zipfile.ZIP_STORED
            zf.writestr(name, data, compress_type=compress)
        zf.writestr(MANIFEST, manifest, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(SIGNATURE, signature)
        zf.writestr(PUBLIC_KEY, public_key + "\n")
    os.replace(tmp, out)


async def for_chat(ctx: Ctx, user: str, ref: str) -> list[Reply]:
    """The chat button: a bundle made into a private folder for the adapter to send to this person
    alone; bundles older than an hour are deleted as new ones are made."""
    from . import reports

    record = await reports.as_recipient(ctx, user, ref)
    await sweep(ctx)
    where = ctx.files / BUNDLES / secrets.token_hex(12)
    where.mkdir(parents=True, mode=0o700)
    made = await build(ctx, user, record["id"], where / f"{record['id']}-evidence-bundle.zip")
    return [Reply(title=f"Evidence bundle for {record['id']}", tone="ok", file=made["path"], text=(
        f"The evidence bundle for {record['id']} ({made['files']} file(s), with its linked incidents) is for you alone. "
        "It holds a summary to print, every evidence file, and a signed list of them, so anyone can check nothing "
        f"was changed (councilbot verify-bundle). Signing key: {made['public_key']}"))]


async def sweep(ctx: Ctx, older_than: float = BUNDLE_LIFETIME) -> int:
    """Delete bundles made for chat and not fetched in time (or all, for an erasure)."""
    return await asyncio.to_thread(_sweep, ctx.files / BUNDLES, older_than)


def _sweep(root: Path, older_than: float) -> int:
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than
    gone = 0
    for folder in root.iterdir():
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


# ---------------------------------------------------------------- the summary


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""))


def _timeline(ctx: Ctx, r: dict[str, Any]) -> list[tuple[str, str]]:
    """What happened to one report, as (ISO time, words), for the timeline."""
    name = ctx.people.name
    events = [(r["created"], f"{r['id']} reported by {name(r['reporter'])}")]
    if r.get("acknowledged_at"):
        events.append((r["acknowledged_at"], f"{r['id']} acknowledged by {name(r['acknowledged_by']) if r.get('acknowledged_by') else 'the Clerk'}"))
    events += [(n["at"], f"{r['id']}: note by {name(n['by'])}") for n in r.get("notes") or []]
    events += [(f["at"], f"{r['id']}: evidence file {f['name']} kept") for f in evidence.files_of(r) if f["at"] != r["created"]]
    events += [(x["at"], f"{r['id']}: link added, {x['url']}") for x in r.get("links") or []]
    if r.get("closed_at"):
        events.append((r["closed_at"], f"{r['id']} closed by {name(r['closed_by']) if r.get('closed_by') else 'the Clerk'}: {r.get('outcome') or ''}"))
    return events


def _rows(pairs: Iterable[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs if v not in (None, "", []))


def summary_html(ctx: Ctx, record: dict[str, Any], case: list[dict[str, Any]], files: list[tuple[str, dict[str, Any]]],
                 exported: str, user: str) -> str:
    from . import reports

    name = ctx.people.name
    events = sorted((e for r in case for e in _timeline(ctx, r)), key=lambda e: clock.parse(e[0]))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evidence bundle {_e(record['id'])}</title>",
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}th{text-align:left;vertical-align:top;"
        "padding-right:1em;white-space:nowrap}td{white-space:pre-wrap}table{border-collapse:collapse;margin-bottom:1em}"
        "h2{border-top:1px solid #999;padding-top:.5em}</style></head><body>",
        f"<h1>Evidence bundle: report {_e(record['id'])}</h1>",
        f"<p>{_e(ctx.pack.council)}. Exported {_e(ctx.human(exported))} by {_e(name(user))}. Confidential.</p>",
        "<table>", _rows([("Crime reference number", record.get("crime_ref") or "not yet given"),
                          ("Platform's report reference", record.get("platform_ref") or "not yet given"),
                          ("Linked incidents", ", ".join(r["id"] for r in case if r["id"] != record["id"]) or "none")]), "</table>",
        "<h2>Timeline</h2><table>",
        "".join(f"<tr><th>{_e(ctx.human(at))}</th><td>{_e(words)}</td></tr>" for at, words in events), "</table>",
    ]
    for r in case:
        parts.append(f"<h2>Report {_e(r['id'])}{' (this report)' if r['id'] == record['id'] else ''}</h2><table>")
        parts.append(_rows([
            ("Reported", f"{ctx.human(r['created'])} by {name(r['reporter'])}"),
            ("Someone in immediate danger", "yes" if r.get("urgent") else "no"),
            ("What happened", r["what"]), ("Where", f"{r['platform']} {r.get('link') or ''}".strip()),
            ("When it happened (as reported)", r["when"]), ("Who it was from", r.get("who") or "not known"),
            ("Status", reports.status_text(r)),
            ("Acknowledged", f"{ctx.human(r['acknowledged_at'])} by {name(r['acknowledged_by']) if r.get('acknowledged_by') else 'the Clerk'}"
             if r.get("acknowledged_at") else "not yet"),
            ("Reported to the platform", r.get("host_reported")),
            ("Crime reference number", r.get("crime_ref")), ("Platform's report reference", r.get("platform_ref")),
            ("Outcome", f"{r['outcome']} (closed {ctx.human(r['closed_at'])})" if r.get("closed_at") else None),
        ]))
        parts.append("</table>")
        notes = r.get("notes") or []
        if notes:
            parts.append("<h3>Notes</h3><table>" + "".join(
                f"<tr><th>{_e(ctx.human(n['at']))}, {_e(name(n['by']))}</th><td>{_e(n['text'])}</td></tr>" for n in notes) + "</table>")
        links = evidence.links_of(r)
        if links:
            parts.append("<h3>Links, as reported</h3><table>" + "".join(
                f"<tr><th>{_e(ctx.human(x['at']))}</th><td>{_e(x['url'])}</td></tr>" for x in links) + "</table>")
        mine = [(path, extra) for path, extra in files if extra.get("report") == r["id"]]
        if mine:
            parts.append("<h3>Evidence files in this bundle</h3><table>" + "".join(
                f"<tr><th>{_e(path)}</th><td>{_e(extra['original_name'])}, {_e(extra['type'])}; kept "
                f"{_e(ctx.human(extra['kept_at']))}, sent by {_e(extra['added_by'])}</td></tr>" for path, extra in mine) + "</table>")
    parts.append("<h2>Checking this bundle</h2><p>manifest.json lists every file with its SHA-256 fingerprint and the "
                 "case's audit trail; manifest.sig is its Ed25519 signature, made with the council's key (public-key.txt). "
                 "<code>councilbot verify-bundle THIS.zip --public-key KEY</code> checks both.</p></body></html>")
    return "".join(parts)


# ---------------------------------------------------------------- checking a bundle


def verify(path: Path, public_key: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """What was altered (empty when nothing was), and the manifest. NotABundle for a file that is
    not a bundle; ValueError for a public key that is not one."""
    given = load_public(public_key) if public_key else None
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise NotABundle(f"{path}: not an evidence bundle (not a readable zip file: {exc})") from None
    with zf:
        names = zf.namelist()
        if MANIFEST not in names:
            raise NotABundle(f"{path}: not an evidence bundle (no {MANIFEST})")
        if zf.getinfo(MANIFEST).file_size > MAX_MANIFEST or (SIGNATURE in names and zf.getinfo(SIGNATURE).file_size > 1024):
            raise NotABundle(f"{path}: not an evidence bundle ({MANIFEST} is far larger than any bundle's)")
        problems: list[str] = []
        # A name twice: zip tools differ on which copy they show, and this check reads the last.
        problems += [f"{name}: in the bundle {n} times (a copy was added)" for name, n in Counter(names).items() if n > 1]
        raw = _member(zf, MANIFEST)
        if raw is None:
            return [*problems, f"{MANIFEST}: altered (its bytes in the zip are damaged)"], {}
        try:
            manifest = json.loads(raw)
            listed = {str(f["path"]): str(f["sha256"]) for f in manifest["files"]}
        except (ValueError, KeyError, TypeError):
            manifest, listed = None, {}
        # The signature and the key beside it are files of the bundle too: one taken out is named.
        embedded_text = (_member(zf, PUBLIC_KEY) or b"").decode("utf-8", "replace").strip() if PUBLIC_KEY in names else ""
        if PUBLIC_KEY not in names:
            problems.append(f"{PUBLIC_KEY}: missing from the bundle")
        key_text = embedded_text or (str(manifest.get("public_key") or "") if isinstance(manifest, dict) else "")
        try:
            key = given or load_public(key_text)
        except ValueError:
            raise NotABundle(f"{path}: not an evidence bundle ({PUBLIC_KEY} holds no public key)") from None
        if SIGNATURE not in names:
            problems.append(f"{SIGNATURE}: missing from the bundle (so nothing shows the manifest is the council's)")
        else:
            try:
                signature = base64.b64decode((_member(zf, SIGNATURE) or b"").strip(), validate=True)
            except ValueError:
                signature = b""
            try:
                key.verify(signature, raw)
            except InvalidSignature:
                problems.append(f"{MANIFEST}: altered, or not signed by this key (the signature does not match)")
        if not isinstance(manifest, dict):
            if problems:
                return problems, {}
            raise NotABundle(f"{path}: not an evidence bundle ({MANIFEST} is not a bundle's manifest)")
        if embedded_text and manifest.get("public_key") != embedded_text:
            problems.append(f"{PUBLIC_KEY}: altered (it is not the key named in the manifest)")
        for name, expected in listed.items():
            if name not in names:
                problems.append(f"{name}: missing from the bundle")
                continue
            found = _sha256(zf, name)
            if found is None:
                problems.append(f"{name}: altered (its bytes in the zip are damaged)")
            elif found != expected:
                problems.append(f"{name}: altered (its SHA-256 does not match the manifest)")
        for name in dict.fromkeys(names):
            if name not in listed and name not in (MANIFEST, SIGNATURE, PUBLIC_KEY):
                problems.append(f"{name}: added (not in the manifest)")
    return problems, manifest


# What reading a changed or damaged member raises: its checksum (CRC-32) fails, its compressed
# stream is broken or cut short, or its header claims a method or encryption nothing wrote.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)


def _member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A member's bytes, or None when they are damaged (a byte changed in the zip file itself)."""
    try:
        return zf.read(name)
    except _DAMAGED:
        return None


def _sha256(zf: zipfile.ZipFile, name: str) -> str | None:
    """A member's SHA-256 read in pieces (an evidence file may be large), or None when damaged."""
    digest = hashlib.sha256()
    try:
        with zf.open(name) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except _DAMAGED:
        return None
    return digest.hexdigest()
