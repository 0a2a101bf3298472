"""Train the policy lookup's two small models from the training authors' labelled questions and write
``src/councilbot/models/lookup.json`` (committed; nothing is trained at run time).

    .venv/bin/python scripts/train_lookup.py            # cross-validated figures, then writes the model
    .venv/bin/python scripts/train_lookup.py --dry-run

The ranking model weighs each clause's evidence (BM25, the judge's kind scores, nearness to labelled
example questions, the pack's keywords); the coverage model says whether the best clause answers the
question at all. Both are fitted on features computed with the example questions of other authors only
(GroupKFold), as a stranger's question would meet them. The threshold for "the policy doesn't say" is the
highest at which at most ``MAX_WRONGLY_SILENT`` of covered questions would be answered that way.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

from councilbot import lookup  # noqa: E402
from councilbot.pack import load_pack  # noqa: E402

OUT = corpus.ROOT / "src" / "councilbot" / "models" / "lookup.json"
GUIDE = corpus.ROOT / "docs" / "labelling-guide.md"
MAX_WRONGLY_SILENT = 0.04  # the target is at most 5% on held-out questions; keep a margin
FOLDS = 5
C_COVER = 10.0  # chosen by cross-validation (1, 10, 100 tried): the coverage model has few inputs and many questions


def kind_words() -> dict[str, str]:
    """The labelling guide's plain-words description of each kind (its table of the 19 kinds)."""
    out = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`([a-z-]+)`\s*\|\s*([^|]+)\|", line)
        if m:
            out[m.group(1)] = re.sub(r"[`*\"“”]", "", m.group(2)).strip()
    return out


def model_with(words: dict[str, str], examples: dict[str, list[tuple[str, tuple[str, ...]]]],
               rank: tuple[list[float], float] = ([0.0] * len(lookup.RANK_FEATURES), 0.0), cover: tuple[list[float], float] = ([0.0] * len(lookup.COVER_FEATURES), 0.0),
               covered_at: float = 0.5) -> lookup.LookupModel:
    return lookup.LookupModel(rank_w=tuple(rank[0]), rank_b=rank[1], cover_w=tuple(cover[0]), cover_b=cover[1],
                              covered_at=covered_at, kind_words=words, examples=examples)


def examples_of(rows: list[dict[str, Any]]) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for r in rows:
        out.setdefault(r["council"], []).append((r["question"], tuple(r["clauses"])))
    return out


def features(rows: list[dict[str, Any]], examples: dict[str, list[tuple[str, tuple[str, ...]]]], words: dict[str, str]) -> list[Any]:
    m = model_with(words, examples)
    indexes = {c: lookup.Index(load_pack(c), m) for c in {r["council"] for r in rows}}
    return [(indexes[r["council"]], *indexes[r["council"]].features(r["question"])) for r in rows]


def evaluate(rows: list[dict[str, Any]], feats: list[Any], m: lookup.LookupModel) -> dict[str, float]:
    hits = covered = silent_right = silent_said = uncovered = wrong_silent = 0
    for r, (index, crows, qf) in zip(rows, feats, strict=True):
        index.model = m
        p, scores = index.cover_probability(crows, qf)
        said_silent = p < m.covered_at
        top3 = {index.clauses[i].id for i in sorted(range(len(scores)), key=lambda i: -scores[i])[:3]}
        if r["covered"]:
            covered += 1
            hits += (not said_silent) and bool(top3 & set(r["clauses"]))
            wrong_silent += said_silent
        else:
            uncovered += 1
            silent_right += said_silent
        silent_said += said_silent
    return {"questions": len(rows), "top3_hit": hits / max(covered, 1), "silent_recall": silent_right / max(uncovered, 1),
            "silent_precision": silent_right / max(silent_said, 1), "wrongly_silent": wrong_silent / max(covered, 1)}


def fit_rank(feats: list[Any], rows: list[dict[str, Any]]) -> tuple[list[float], float]:
    x, y = [], []
    for r, (index, crows, _) in zip(rows, feats, strict=True):
        if not r["covered"]:
            continue
        for c, f in zip(index.clauses, crows, strict=True):
            x.append(f)
            y.append(c.id in r["clauses"])
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(np.array(x), np.array(y))
    return [float(v) for v in lr.coef_[0]], float(lr.intercept_[0])


def cover_matrix(feats: list[Any], m: lookup.LookupModel) -> np.ndarray:
    out = []
    for index, crows, qf in feats:
        index.model = m
        out.append(index.cover_features(crows, qf)[0])
    return np.array(out)


def main() -> int:
    dry = "--dry-run" in sys.argv
    rows = corpus.questions("train")
    groups = np.array([r["author"] for r in rows])
    words = kind_words()
    print(f"{len(rows)} training questions by {len(set(groups))} authors, {sum(not r['covered'] for r in rows)} not covered")
    oof: list[Any] = [None] * len(rows)
    folds = list(GroupKFold(n_splits=min(FOLDS, len(set(groups)))).split(rows, groups=groups))
    for fit_i, test_i in folds:
        ex = examples_of([rows[i] for i in fit_i])
        for i, f in zip(test_i, features([rows[i] for i in test_i], ex, words), strict=True):
            oof[i] = f
    rank = fit_rank(oof, rows)
    m = model_with(words, {}, rank)
    x = cover_matrix(oof, m)
    y = np.array([r["covered"] for r in rows])
    p = np.zeros(len(rows))
    for fit_i, test_i in folds:
        lr = LogisticRegression(C=C_COVER, max_iter=2000).fit(x[fit_i], y[fit_i])
        p[test_i] = lr.predict_proba(x[test_i])[:, 1]
    grid = np.round(np.arange(0.05, 0.95, 0.01), 2)
    covered_at = max((float(t) for t in grid if (p[y] < t).mean() <= MAX_WRONGLY_SILENT), default=0.05)
    lr = LogisticRegression(C=C_COVER, max_iter=2000).fit(x, y)
    cover = ([float(v) for v in lr.coef_[0]], float(lr.intercept_[0]))
    silent = p < covered_at
    cv = {"top3_hit": evaluate(rows, oof, model_with(words, {}, rank, cover, covered_at))["top3_hit"],
          "silent_recall": float(silent[~y].mean()), "silent_precision": float((~y)[silent].mean()) if silent.any() else 0.0,
          "wrongly_silent": float(silent[y].mean())}
    print("cross-validated by author:", json.dumps({k: round(v, 3) for k, v in cv.items()}))
    print(f"  rank weights {dict(zip(lookup.RANK_FEATURES, np.round(rank[0], 2), strict=True))}; covered at {covered_at}")
    if dry:
        return 0
    data = {"about": "Trained by scripts/train_lookup.py on the training authors' questions in corpus/questions.",
            "questions": len(rows), "rank": {"w": rank[0], "b": rank[1]}, "cover": {"w": cover[0], "b": cover[1]},
            "covered_at": covered_at, "cv": {k: round(v, 4) for k, v in cv.items()}, "kind_words": words,
            "examples": {k: [[q, list(c)] for q, c in v] for k, v in sorted(examples_of(rows).items())}}
    OUT.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(corpus.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
