"""How well "may I post this?" and the policy lookup do on writing they have never seen.

    .venv/bin/python bench/policy_eval.py                 # every held-out author, then all of them together
    .venv/bin/python bench/policy_eval.py FILE.jsonl -v   # any labelled set, with each miss

For drafts: accuracy, recall on "do not post", fine drafts blocked, "do not post" drafts answered OK, and
recall per kind of rule. For questions: the right clause in the top three, and how well "the policy
doesn't say" is said (precision and recall on the questions the policy does not cover, and how often it is
said of covered ones). The held-out authors (``corpus/authors.json``) never trained anything: run this once
per change and report what it prints; tuning on it would make it one more training set.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from councilbot.checker import Draft, check_many
from councilbot.lookup import ask
from councilbot.pack import load_pack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import corpus  # noqa: E402

VERDICTS = ("ok", "caution", "do_not_post")


def evaluate_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    results = check_many([(Draft(r["text"], r["where"], r["platform"]), load_pack(r["council"])) for r in rows])
    confusion: Counter[tuple[str, str]] = Counter()
    kind_hit: Counter[str] = Counter()
    kind_all: Counter[str] = Counter()
    misses = []
    for row, result in zip(rows, results, strict=True):
        got = result.verdict.value
        confusion[(row["verdict"], got)] += 1
        if got != row["verdict"]:
            misses.append((row["id"], row["verdict"], got, result.kinds, row["text"][:100]))
        if row["verdict"] != "ok":
            for k in row["kinds"]:
                kind_all[k] += 1
                kind_hit[k] += got != "ok"  # caught: not passed as OK
    total = len(rows)
    dnp = sum(confusion[("do_not_post", v)] for v in VERDICTS)
    fine = sum(confusion[("ok", v)] for v in VERDICTS)
    return {"rows": total, "confusion": confusion,
            "accuracy": sum(confusion[(v, v)] for v in VERDICTS) / total if total else 0.0,
            "dnp_recall": confusion[("do_not_post", "do_not_post")] / dnp if dnp else 1.0,
            "benign_blocked": confusion[("ok", "do_not_post")] / fine if fine else 0.0,
            "dnp_passed": confusion[("do_not_post", "ok")] / dnp if dnp else 0.0,
            "kind_recall": {k: kind_hit[k] / kind_all[k] for k in kind_all}, "kind_support": dict(kind_all),
            "misses": misses}


def evaluate(path: Path | None = None) -> dict[str, Any]:
    """One labelled file, or (no path) every held-out author's drafts together."""
    if path is None:
        return evaluate_rows(corpus.drafts("heldout"))
    return evaluate_rows(corpus.read(path))


def evaluate_questions(rows: list[dict[str, Any]]) -> dict[str, float]:
    hit = covered = silent_right = silent_said = wrong = 0
    for r in rows:
        answer = ask(load_pack(r["council"]), r["question"])
        said_silent = not answer.covered
        silent_said += said_silent
        if r["covered"]:
            covered += 1
            top3 = {c.id for c in answer.clauses[:3]}
            hit += (not said_silent) and bool(top3 & set(r["clauses"]))
            wrong += said_silent
        else:
            silent_right += said_silent
    uncovered = len(rows) - covered
    return {"questions": len(rows), "covered": covered, "uncovered": uncovered,
            "top3_hit": hit / covered if covered else 0.0,
            "silent_recall": silent_right / uncovered if uncovered else 0.0,
            "silent_precision": silent_right / silent_said if silent_said else 0.0,
            "wrongly_silent": wrong / covered if covered else 0.0}


def _line(name: str, r: dict[str, Any]) -> str:
    return (f"{name:<14}{r['rows']:>6}{r['accuracy']:>10.3f}{r['dnp_recall']:>10.3f}"
            f"{r['benign_blocked']:>10.3f}{r['dnp_passed']:>10.3f}")


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv
    header = f"{'set':<14}{'drafts':>6}{'accuracy':>10}{'dnp rec':>10}{'fine blk':>10}{'dnp->ok':>10}"
    if args:
        r = evaluate(Path(args[0]))
        print(header)
        print(_line(Path(args[0]).stem, r))
        overall = r
    else:
        held = corpus.drafts("heldout")
        print(f"held-out authors' drafts ({len(held)}; near-copies of training drafts removed)\n")
        print(header)
        for author in sorted({row["author"] for row in held}):
            print(_line(author, evaluate_rows([row for row in held if row["author"] == author])))
        overall = evaluate_rows(held)
        print(_line("all held-out", overall))
    print("\nconfusion (rows = expected, columns = verdict given)")
    print(f"{'':>14}" + "".join(f"{v:>14}" for v in VERDICTS))
    for e in VERDICTS:
        print(f"{e:>14}" + "".join(f"{overall['confusion'][(e, g)]:>14}" for g in VERDICTS))
    print(f"\n{'kind':<30}{'caught':>8}{'of':>6}")
    for k in sorted(overall["kind_recall"]):
        print(f"{k:<30}{overall['kind_recall'][k]:>8.2f}{overall['kind_support'][k]:>6}")
    print("\ntargets: accuracy >= 0.90, dnp recall >= 0.93, fine blocked <= 0.03, dnp answered OK <= 0.02")
    if not args:
        questions = corpus.questions("heldout")
        print(f"\n{'questions by':<14}{'asked':>6}{'top 3':>8}{'silent rec':>12}{'silent prec':>13}{'wrongly silent':>16}")
        for author in sorted({q["author"] for q in questions}):
            a = evaluate_questions([q for q in questions if q["author"] == author])
            print(f"{author:<14}{a['questions']:>6}{a['top3_hit']:>8.3f}{a['silent_recall']:>12.3f}{a['silent_precision']:>13.3f}"
                  f"{a['wrongly_silent']:>16.3f}")
        q = evaluate_questions(questions)
        print(f"\nlookup, held-out authors' questions ({q['questions']}: {q['covered']} covered, {q['uncovered']} not)")
        print(f"  right clause in the top three   {q['top3_hit']:.3f}  (target >= 0.90)")
        print(f"  'the policy doesn't say': recall {q['silent_recall']:.3f} (target >= 0.80), precision "
              f"{q['silent_precision']:.3f}, said of covered questions {q['wrongly_silent']:.3f} (target <= 0.05)")
    if verbose:
        print("\nmisses:")
        for m in overall["misses"]:
            print("  ", *m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
