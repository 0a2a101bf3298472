"""How far two blind labellers agree: each author's labels against a second, independent labeller's on
a sample of 30 of that author's drafts (``corpus/relabels/*.jsonl``).

    .venv/bin/python scripts/corpus_agreement.py        # per author, overall, Cohen's kappa, disagreements
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

VERDICTS = ("ok", "caution", "do_not_post")


def kappa(pairs: list[tuple[str, str]]) -> float:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[v] * second[v] for v in VERDICTS) / (n * n)
    return (observed - chance) / (1 - chance) if chance < 1 else 1.0


def main() -> int:
    by_id = {}
    for author in corpus.authors():
        path = corpus.CORPUS / "drafts" / f"{author}.jsonl"
        if path.exists():
            by_id.update({r["id"]: r for r in corpus.read(path)})
    pairs: dict[str, list[tuple[str, str]]] = {}
    disagreements: Counter[tuple[str, str, str]] = Counter()
    kinds_same = kinds_total = 0
    for path in sorted((corpus.CORPUS / "relabels").glob("*.jsonl")):
        for second in corpus.read(path):
            first = by_id.get(second["id"])
            if first is None:
                continue
            pairs.setdefault(first["author"], []).append((first["verdict"], second["verdict"]))
            kinds_total += 1
            kinds_same += set(first["kinds"]) == set(second["kinds"])
            if first["verdict"] != second["verdict"]:
                kind = (first["kinds"] or second["kinds"] or ["-"])[0]
                disagreements[(kind, first["verdict"], second["verdict"])] += 1
    everything = [p for ps in pairs.values() for p in ps]
    if not everything:
        print("no relabels yet")
        return 1
    print(f"{'author':<8}{'drafts':>7}{'agree':>8}{'kappa':>8}")
    for author, ps in sorted(pairs.items()):
        print(f"{author:<8}{len(ps):>7}{sum(a == b for a, b in ps) / len(ps):>8.2f}{kappa(ps):>8.2f}")
    agree = sum(a == b for a, b in everything) / len(everything)
    print(f"{'all':<8}{len(everything):>7}{agree:>8.2f}{kappa(everything):>8.2f}")
    print(f"\nthe same set of kinds: {kinds_same / kinds_total:.2f} of {kinds_total} drafts")
    print("\nconfusion (rows: the author; columns: the second labeller)")
    c = Counter(everything)
    print(f"{'':>14}" + "".join(f"{v:>13}" for v in VERDICTS))
    for a in VERDICTS:
        print(f"{a:>14}" + "".join(f"{c[(a, b)]:>13}" for b in VERDICTS))
    print("\nmost frequent disagreements (kind, author's verdict, second labeller's verdict)")
    for (kind, a, b), n in disagreements.most_common(15):
        print(f"  {n:>3}  {kind:<28} {a} -> {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
