"""Check the shape of labelled corpus files (drafts, questions or relabels) and print counts.

    python scripts/corpus_check.py corpus/drafts/a01.jsonl corpus/questions/a01.jsonl

Only the shape: it knows nothing of the checker, so blind authors may run it on their own files.
Exit status 1 with one line per problem."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KINDS = {"offensive-language", "personal-attack", "harassment", "threat", "personal-data", "minors-media", "political",
         "advertising", "confidential", "defamation", "copyright", "personal-opinion-as-council", "contrary-to-decision",
         "inflammatory", "third-party-citation", "unlawful", "security", "unapproved-channel", "councillor-direction"}
COUNCILS = {"alsager": {"facebook", "twitter"}, "castle-cary": {"facebook", "instagram", "youtube"}}
PLATFORMS = {"facebook", "twitter", "instagram", "youtube"}
VERDICTS = {"ok", "caution", "do_not_post"}
ROOT = Path(__file__).resolve().parents[1]


def clause_ids() -> set[str]:
    import yaml

    return {c["id"] for p in (ROOT / "policy").glob("*.yaml") for c in yaml.safe_load(p.read_text(encoding="utf-8"))["clauses"]}


def problems_in_draft(r: dict) -> list[str]:  # type: ignore[type-arg]
    out = []
    for key in ("id", "author", "council", "where", "platform", "text", "verdict", "kinds", "note"):
        if key not in r:
            out.append(f"missing {key!r}")
    if out:
        return out
    if r["council"] not in COUNCILS:
        out.append(f"council {r['council']!r}")
    if r["where"] not in {"council", "personal"}:
        out.append(f"where {r['where']!r}")
    if r["platform"] not in PLATFORMS:
        out.append(f"platform {r['platform']!r}")
    if r["verdict"] not in VERDICTS:
        out.append(f"verdict {r['verdict']!r}")
    if not isinstance(r["kinds"], list) or set(r["kinds"]) - KINDS:
        out.append(f"kinds {r['kinds']!r}")
    elif r["verdict"] == "ok" and r["kinds"]:
        out.append("an ok draft lists no kinds")
    elif r["verdict"] != "ok" and not r["kinds"]:
        out.append("a caution or do_not_post draft names its kinds")
    if r["council"] == "castle-cary" and "councillor-direction" in r["kinds"]:
        out.append("councillor-direction is Alsager's rule only")
    if not str(r["text"]).strip():
        out.append("empty text")
    return out


def problems_in_question(r: dict, ids: set[str]) -> list[str]:  # type: ignore[type-arg]
    out = [f"missing {k!r}" for k in ("id", "author", "council", "question", "covered", "clauses") if k not in r]
    if out:
        return out
    if r["council"] not in COUNCILS:
        out.append(f"council {r['council']!r}")
    if not isinstance(r["covered"], bool):
        out.append("covered is true or false")
    elif r["covered"] and not r["clauses"]:
        out.append("a covered question names its clauses")
    elif not r["covered"] and r["clauses"]:
        out.append("an uncovered question names no clauses")
    prefix = "ATC-" if r["council"] == "alsager" else "CCTC-"
    for c in r["clauses"]:
        if c not in ids or not c.startswith(prefix):
            out.append(f"clause {c!r} is not one of {r['council']}'s ids (corpus/clauses.md)")
    return out


def main(paths: list[str]) -> int:
    ids = clause_ids()
    bad = 0
    for name in paths:
        rows = []
        for n, line in enumerate(Path(name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{name}:{n}: not JSON ({e})")
                bad += 1
                continue
            if "question" in r:
                probs = problems_in_question(r, ids)
            elif "text" in r and "relabel_of" not in r:
                probs = problems_in_draft(r)
            else:
                probs = [] if r.get("verdict") in VERDICTS else ["relabel needs a verdict"]
            for p in probs:
                print(f"{name}:{n}: {p}")
            bad += len(probs)
            rows.append(r)
        dup = [k for k, v in Counter(r.get("id") for r in rows).items() if v > 1]
        if dup:
            print(f"{name}: repeated ids {dup[:5]}")
            bad += 1
        verdicts = Counter(r.get("verdict") for r in rows if "verdict" in r)
        kinds = Counter(k for r in rows for k in r.get("kinds", []))
        print(f"{name}: {len(rows)} rows; verdicts {dict(verdicts)}; kinds {len(kinds)}: {dict(sorted(kinds.items()))}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
