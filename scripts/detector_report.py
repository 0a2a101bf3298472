"""Which of the detectors' patterns generalise: each pattern rule's matches over the training authors'
drafts written since the patterns were (``corpus/drafts``), how many authors those drafts came from, and
how many of them really needed care or were ruled out.

    .venv/bin/python scripts/detector_report.py            # the table
    .venv/bin/python scripts/detector_report.py --prune    # delete from the source the rules that do not generalise

A rule is kept when it matches at least ``MIN_DRAFTS`` drafts by at least ``MIN_AUTHORS`` authors and at
least ``MIN_PRECISION`` of those drafts are not fine. A pattern that fits one draft is memorisation: the
judge reads meaning, the detectors keep what is certain and explainable.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

from councilbot.detectors import conduct, content, privacy  # noqa: E402
from councilbot.kinds import RuleKind, Verdict  # noqa: E402
from councilbot.pack import load_pack  # noqa: E402
from councilbot.text import Doc  # noqa: E402

MIN_DRAFTS = 3
MIN_AUTHORS = 2
MIN_PRECISION = 0.75
MODULES = {"conduct": conduct, "content": content, "privacy": privacy}
KIND_OF = {"_ATTACK": "personal-attack", "_THREAT": "threat", "_HARASS": "harassment", "_INFLAME": "inflammatory",
           "_DEFAME": "defamation", "_POLITICAL": "political", "_ADVERT": "advertising", "_CONFIDENTIAL": "confidential",
           "_COPYRIGHT": "copyright", "_OPINION": "personal-opinion-as-council", "_CONTRARY": "contrary-to-decision",
           "_UNLAWFUL": "unlawful", "_SECURITY": "security", "_DIRECTION": "councillor-direction",
           "_THIRD_PARTY": "third-party-citation", "_THREAT_FIXED": "threat", "_INFLAME_FIXED": "inflammatory"}


def applies(row: dict, kind: str) -> bool:  # type: ignore[type-arg]
    """Whether the rule's kind can give a verdict for this draft at all (its council governs it, and it
    is not OK in this place): a discount on a personal account is no evidence against a rule about
    the council's page."""
    pack = load_pack(row["council"])
    k = RuleKind(kind)
    return pack.governs(k) and getattr(pack.severities[k], row["where"]) is not Verdict.OK


def rule_lists() -> list[tuple[str, str, int, re.Pattern[str], str]]:
    """(module, list name, index in the list, pattern, reason) for every pattern rule."""
    out = []
    for mod_name, mod in MODULES.items():
        for name, value in vars(mod).items():
            if name.startswith("_") and isinstance(value, list) and value and isinstance(value[0], tuple) \
                    and isinstance(value[0][0], re.Pattern):
                out += [(mod_name, name, i, rule[0], rule[1]) for i, rule in enumerate(value)]
    return out


def main() -> int:
    rows = [r for r in corpus.drafts("train") if not r["author"].startswith("earlier:")]
    docs = [(r, Doc(r["text"])) for r in rows]
    drop: dict[tuple[str, str], list[int]] = {}
    kept = 0
    print(f"{len(rows)} drafts by {len({r['author'] for r in rows})} training authors\n")
    print(f"{'rule':<28}{'drafts':>7}{'authors':>8}{'not fine':>9}  reason")
    for mod_name, list_name, i, pattern, reason in rule_lists():
        hits = [r for r, d in docs if pattern.search(d.text) and applies(r, KIND_OF[list_name])]
        authors = {r["author"] for r in hits}
        bad = sum(r["verdict"] != "ok" for r in hits)
        precision = bad / len(hits) if hits else 0.0
        # Lists named *_FIXED hold wording kept on purpose (rare, certain): reported, never pruned.
        keep = list_name.endswith("_FIXED") or (len(hits) >= MIN_DRAFTS and len(authors) >= MIN_AUTHORS and precision >= MIN_PRECISION)
        kept += keep
        if not keep:
            drop.setdefault((mod_name, list_name), []).append(i)
        print(f"{list_name + '[' + str(i) + ']':<28}{len(hits):>7}{len(authors):>8}{precision:>9.2f}  "
              f"{'keep' if keep else 'drop'}: {reason}")
    print(f"\n{kept} rules generalise; {sum(len(v) for v in drop.values())} do not")
    if "--prune" in sys.argv:
        prune(drop)
    return 0


def prune(drop: dict[tuple[str, str], list[int]]) -> None:
    """Delete the listed rules (whole tuples, with any comment lines just above them) from the source."""
    for mod_name, mod in MODULES.items():
        path = Path(mod.__file__ or "")
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        tree = ast.parse(source)
        doomed: set[int] = set()
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            value = getattr(node, "value", None)
            if not isinstance(target, ast.Name) or not isinstance(value, ast.List):
                continue
            for i in drop.get((mod_name, target.id), []):
                element = value.elts[i]
                start = element.lineno - 1
                while start > 0 and lines[start - 1].strip().startswith("#"):
                    start -= 1
                doomed.update(range(start, element.end_lineno or element.lineno))
        path.write_text("".join(line for n, line in enumerate(lines) if n not in doomed), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
