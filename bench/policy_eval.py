"""Accuracy of the checker on the labelled development set: confusion matrix, per-kind precision
and recall, and the three targets (verdict accuracy >= 0.9, do_not_post recall >= 0.97, benign
drafts wrongly blocked <= 3%)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from councilbot.checker import Draft, check_many
from councilbot.pack import load_pack

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "drafts.jsonl"
VERDICTS = ("ok", "caution", "do_not_post")


def evaluate(path: Path = DATA) -> dict[str, object]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = check_many([(Draft(r["text"], r["where"], r["platform"]), load_pack(r["council"])) for r in rows])
    confusion: Counter[tuple[str, str]] = Counter()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    misses = []
    for row, result in zip(rows, results, strict=True):
        got = result.verdict.value
        confusion[(row["verdict"], got)] += 1
        if got != row["verdict"]:
            misses.append((row["id"], row["verdict"], got, result.kinds, row["text"][:90]))
        expected, found = set(row["kinds"]), set(result.kinds) - {"platform-limit"}
        for k in expected & found:
            tp[k] += 1
        for k in found - expected:
            fp[k] += 1
        for k in expected - found:
            fn[k] += 1
    total = len(rows)
    accuracy = sum(confusion[(v, v)] for v in VERDICTS) / total
    dnp = sum(confusion[("do_not_post", v)] for v in VERDICTS)
    dnp_recall = confusion[("do_not_post", "do_not_post")] / dnp if dnp else 1.0
    benign = sum(confusion[("ok", v)] for v in VERDICTS)
    blocked = confusion[("ok", "do_not_post")] / benign if benign else 0.0
    passed = confusion[("do_not_post", "ok")] / dnp if dnp else 0.0
    return {"rows": total, "confusion": confusion, "accuracy": accuracy, "dnp_recall": dnp_recall,
            "benign_blocked": blocked, "dnp_passed": passed, "tp": tp, "fp": fp, "fn": fn, "misses": misses}


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    path = Path(args[0]) if args else DATA
    r = evaluate(path)
    print(f"{r['rows']} labelled drafts from {path.name}\n")
    print("confusion (rows = expected, columns = verdict given)")
    print(f"{'':>14}" + "".join(f"{v:>14}" for v in VERDICTS))
    for e in VERDICTS:
        print(f"{e:>14}" + "".join(f"{r['confusion'][(e, g)]:>14}" for g in VERDICTS))
    print(f"\n{'kind':<30}{'precision':>10}{'recall':>10}{'support':>9}")
    kinds = sorted(set(r["tp"]) | set(r["fp"]) | set(r["fn"]))
    for k in kinds:
        tp, fp, fn = r["tp"][k], r["fp"][k], r["fn"][k]
        p = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        print(f"{k:<30}{p:>10.2f}{rc:>10.2f}{tp + fn:>9}")
    print(f"\nverdict accuracy        {r['accuracy']:.3f}  (target >= 0.90)")
    print(f"do_not_post recall      {r['dnp_recall']:.3f}  (target >= 0.97)")
    print(f"benign wrongly blocked  {r['benign_blocked']:.3f}  (target <= 0.03)")
    print(f"do_not_post passed OK   {r['dnp_passed']:.3f}  (the ones no check caught at all)")
    if "-v" in sys.argv:
        print("\nmisses:")
        for m in r["misses"]:
            print("  ", *m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
