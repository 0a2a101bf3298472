"""Train the checker's learned second opinion from the labelled drafts in ``tests/data``, and write
it to ``src/councilbot/models/drafts.json`` (committed; CouncilBot never trains at run time).

Two small linear models over word and word-pair TF-IDF (scikit-learn, which alt-profanity-check
already brings): one says how likely a draft is one the policies say not to post; the other,
trained on those drafts only, says which kind of rule it most resembles, so the finding can cite a
clause. Two thresholds are chosen by 5-fold cross-validation: above the first (at most 2% of fine
drafts would reach it) the checker asks for a check; above the second (at most 0.5% of fine drafts
and 1% of those that only need care) it answers as the rule the draft resembles does. The newest
labelled sets (``HELD_OUT``) are kept out of training entirely, as the honest test.

    .venv/bin/python scripts/train_drafts_model.py            # prints cross-validated figures, writes the model
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from councilbot import learned

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
OUT = ROOT / "src" / "councilbot" / "models" / "drafts.json"
TRAINING_SETS = ("drafts", "drafts_holdout", "drafts_blind", "drafts_fresh", "drafts_final", "drafts_sixth")
HELD_OUT = ("drafts_seventh", "drafts_eighth")
CONTEXT_ONLY = "unapproved-channel"  # decided by where a post goes, not by its words
MAX_BENIGN_FLAGGED = 0.02
MAX_BENIGN_BLOCKED = 0.005
MAX_CAUTION_BLOCKED = 0.01
DIGITS = 5  # weights are rounded to this many decimals in the file


def training_rows() -> list[dict[str, Any]]:
    rows = []
    for name in TRAINING_SETS:
        rows += [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    # A draft that is wrong only because of where it is going says nothing about its words.
    return [r for r in rows if not (r["verdict"] == "do_not_post" and set(r["kinds"]) <= {CONTEXT_ONLY})]


def pipeline() -> Pipeline:
    return Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                     ("model", LogisticRegression(C=10, class_weight="balanced", max_iter=5000))])


def primary_kind(row: dict[str, Any]) -> str:
    return next(k for k in row["kinds"] if k != CONTEXT_ONLY)


def fit(rows: list[dict[str, Any]]) -> tuple[Pipeline, Pipeline, float, dict[str, float]]:
    texts = [r["text"] for r in rows]
    blocked = np.array([r["verdict"] == "do_not_post" for r in rows])
    fine = np.array([r["verdict"] == "ok" for r in rows])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    cv = cross_val_predict(pipeline(), texts, blocked, cv=folds, method="predict_proba")[:, 1]
    care = np.array([r["verdict"] == "caution" for r in rows])
    long_enough = np.array([learned.words(r["text"]) >= learned.MIN_WORDS_TO_BLOCK for r in rows])
    steps = np.arange(0.30, 0.96, 0.025)
    threshold = next(float(t) for t in steps if (cv[fine] >= t).mean() <= MAX_BENIGN_FLAGGED)
    block = next(float(t) for t in steps if t >= threshold and ((cv >= t) & long_enough)[fine].mean() <= MAX_BENIGN_BLOCKED
                 and ((cv >= t) & long_enough)[care].mean() <= MAX_CAUTION_BLOCKED)
    blocks = (cv >= block) & long_enough
    figures = {"cv_do_not_post_recall": float((cv[blocked] >= threshold).mean()),
               "cv_fine_flagged": float((cv[fine] >= threshold).mean()),
               "cv_do_not_post_blocked": float(blocks[blocked].mean()),
               "cv_fine_blocked": float(blocks[fine].mean()),
               "cv_caution_blocked": float(blocks[care].mean()),
               "block_threshold": block}
    binary = pipeline().fit(texts, blocked)
    bad = [r for r in rows if r["verdict"] == "do_not_post"]
    kinds = Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                      ("model", LogisticRegression(C=10, max_iter=5000))]).fit([r["text"] for r in bad], [primary_kind(r) for r in bad])
    return binary, kinds, threshold, figures


def export(binary: Pipeline, kinds: Pipeline, threshold: float, figures: dict[str, float], rows: int) -> dict[str, Any]:
    def table(p: Pipeline, columns: int) -> dict[str, list[float]]:
        vec, model = p.named_steps["tfidf"], p.named_steps["model"]
        coef = model.coef_
        return {term: [round(float(vec.idf_[i]), DIGITS)] + [round(float(coef[c][i]), DIGITS) for c in range(columns)]
                for term, i in sorted(vec.vocabulary_.items())}

    kind_model = kinds.named_steps["model"]
    return {
        "about": f"Trained by scripts/train_drafts_model.py on {rows} labelled drafts ({', '.join(TRAINING_SETS)}).",
        "drafts": rows,
        "threshold": round(threshold, 3),
        "block_threshold": round(figures["block_threshold"], 3),
        "figures": {k: round(v, 3) for k, v in figures.items()},
        "binary": {"terms": table(binary, 1), "intercept": round(float(binary.named_steps["model"].intercept_[0]), DIGITS)},
        "kinds": {"classes": [str(c) for c in kind_model.classes_], "terms": table(kinds, len(kind_model.classes_)),
                  "intercepts": [round(float(b), DIGITS) for b in kind_model.intercept_]},
    }


def main() -> int:
    rows = training_rows()
    binary, kinds, threshold, figures = fit(rows)
    model = export(binary, kinds, threshold, figures, len(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(rows)} drafts; threshold {threshold:.3f} (cross-validated: do-not-post recall "
          f"{figures['cv_do_not_post_recall']:.2f}, fine drafts flagged {figures['cv_fine_flagged']:.3f})")
    print(f"block threshold {figures['block_threshold']:.3f} (cross-validated: do-not-post blocked "
          f"{figures['cv_do_not_post_blocked']:.2f}, fine {figures['cv_fine_blocked']:.3f}, "
          f"needing care {figures['cv_caution_blocked']:.3f})")
    print(f"kinds: {', '.join(model['kinds']['classes'])}")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
