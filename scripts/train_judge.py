"""Train the checker's learned judge from the training authors' labelled drafts and write it to
``src/councilbot/models/judge.npz`` (committed; CouncilBot never trains at run time).

    .venv/bin/python scripts/train_judge.py           # cross-validated figures, then writes the model
    .venv/bin/python scripts/train_judge.py --dry-run  # figures only

Cross-validation holds out whole authors (GroupKFold), as the held-out figures do, so the thresholds
are chosen on writing the models have not seen. The block threshold is the lowest at which at most
``MAX_FINE_BLOCKED`` of fine drafts would be blocked by the checker as a whole (detectors and judge);
the caution threshold then gives the best accuracy. The held-out authors are never read here.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

from councilbot import judge, toxicity  # noqa: E402
from councilbot.checker import Draft, detected, severities  # noqa: E402
from councilbot.pack import load_pack  # noqa: E402
from councilbot.text import Doc, without_names  # noqa: E402

OUT = corpus.ROOT / "src" / "councilbot" / "models" / "judge.npz"
CONTEXT_ONLY = "unapproved-channel"  # decided by where a post goes, not by its words
MAX_FINE_BLOCKED = 0.025  # the issue allows 3% in cross-validation; keep a margin
MAX_DNP_PASSED = 0.018  # a post that must not go out answered "OK" is the worst mistake: at most this many
MIN_KIND_EXAMPLES = 8
FOLDS = 5
# Chosen by cross-validation over authors: C of 3, 8 and 20 gave the same figures within a point; dropping
# terms in more than 15% or 30% of drafts changed nothing; the letter-run model at a quarter, half or none of
# the text score: half gave the best recall on "do not post".
C_VERDICT = 8.0
C_KIND = 8.0
CHAR_WEIGHT = 0.5
RANK = {"ok": 0, "caution": 1, "do_not_post": 2}


def vectoriser() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float64)


def char_vectoriser() -> TfidfVectorizer:
    """Letter runs inside words: sees "councillors" in "councilors", "f**kwits" near "fuckwits"."""
    return TfidfVectorizer(analyzer="char_wb", ngram_range=judge.CHAR_RANGE, sublinear_tf=True, min_df=2, dtype=np.float64)


def placed(x: sparse.csr_matrix, wheres: list[str]) -> sparse.csr_matrix:
    """Every term once for everywhere and once for its place, so a term can weigh differently on the
    council's page and on a personal account."""
    council = sparse.diags([1.0 if w == "council" else 0.0 for w in wheres])
    personal = sparse.diags([1.0 if w == "personal" else 0.0 for w in wheres])
    return sparse.hstack([x, council @ x, personal @ x]).tocsr()


class TextModels:
    def __init__(self, rows: list[dict[str, Any]], kinds: list[str]) -> None:
        self.kinds = kinds
        texts = [r["text"] for r in rows]
        self.vec = vectoriser().fit(texts)
        x = self.vec.transform(texts)
        y = np.array([RANK[r["verdict"]] for r in rows])
        wheres = [r["where"] for r in rows]
        self.verdict = LogisticRegression(C=C_VERDICT, class_weight="balanced", max_iter=3000).fit(placed(x, wheres), y)
        self.char_vec = char_vectoriser().fit(texts)
        self.char_verdict = LogisticRegression(C=C_VERDICT, class_weight="balanced", max_iter=3000).fit(
            placed(self.char_vec.transform(texts), wheres), y)
        self.kind_models = []
        for k in kinds:
            yk = np.array([k in r["kinds"] for r in rows])
            self.kind_models.append(LogisticRegression(C=C_KIND, class_weight="balanced", max_iter=3000, solver="liblinear").fit(x, yk))

    def predict(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        texts, wheres = [r["text"] for r in rows], [r["where"] for r in rows]
        x = self.vec.transform(texts)
        p3 = ((1 - CHAR_WEIGHT) * self.verdict.predict_proba(placed(x, wheres))
              + CHAR_WEIGHT * self.char_verdict.predict_proba(placed(self.char_vec.transform(texts), wheres)))
        pk = np.column_stack([m.predict_proba(x)[:, 1] for m in self.kind_models])
        return p3, pk


def detections(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the detectors find in each draft, and the toxicity score, as the checker sees them."""
    scores = toxicity.score([without_names(r["text"]) for r in rows])
    out = []
    for r, s in zip(rows, scores, strict=True):
        pack = load_pack(r["council"])
        draft = Draft(r["text"], r["where"], r["platform"])
        found = detected(Doc(r["text"], model_score=s), pack, draft)
        certain = max((RANK[f.verdict.value] for f in found.findings if f.basis != "hint"), default=0)
        hint = max((RANK[f.verdict.value] for f in found.findings if f.basis == "hint"), default=0)
        out.append({"flags": found.flags, "certain": certain, "hint": hint, "offensive": float(s), "length": judge.words(r["text"]),
                    "severity": severities(pack, r["where"])})
    return out


def stage2_matrix(rows: list[dict[str, Any]], det: list[dict[str, Any]], p3: np.ndarray, pk: np.ndarray, kinds: list[str]) -> np.ndarray:
    return np.array([judge.combined_features(p3[i], dict(zip(kinds, pk[i], strict=True)), det[i]["severity"], det[i]["flags"],
                                             det[i]["offensive"], rows[i]["where"], judge.words(rows[i]["text"]))
                     for i in range(len(rows))])


def final_verdicts(p: np.ndarray, det: list[dict[str, Any]], block_at: float, caution_at: float) -> np.ndarray:
    """The checker's verdicts, as checker._findings gives them: the judge's, settled against the pack's
    severities and the kind scores (judge.settle), never below a detector's certain finding. A soft hint
    counts only where the judge agrees: it never raises the verdict."""
    settled = np.array([RANK[judge.settle(judge.decide(row, d["length"], block_at, caution_at), d["kinds"], d["severity"])[0].value]
                        for row, d in zip(p, det, strict=True)])
    certain = np.array([d["certain"] for d in det])
    return np.maximum(settled, certain)


def figures(expected: np.ndarray, got: np.ndarray) -> dict[str, float]:
    fine, bad = expected == 0, expected == 2
    return {"accuracy": float((expected == got).mean()), "dnp_recall": float((got[bad] == 2).mean()),
            "fine_blocked": float((got[fine] == 2).mean()), "dnp_passed": float((got[bad] == 0).mean()),
            "fine_flagged": float((got[fine] >= 1).mean())}


def choose(p: np.ndarray, det: list[dict[str, Any]], expected: np.ndarray) -> tuple[float, float]:
    grid = np.round(np.arange(0.20, 0.99, 0.01), 2)
    fine = expected == 0
    block_at = next((float(t) for t in grid if (final_verdicts(p, det, t, 1.0)[fine] == 2).mean() <= MAX_FINE_BLOCKED),
                    float(grid[-1]))
    bad = expected == 2
    caution_at = max((float(t) for t in grid if (final_verdicts(p, det, block_at, t)[bad] == 0).mean() <= MAX_DNP_PASSED),
                     default=float(grid[0]))
    return block_at, caution_at


def export(final: TextModels, s2: LogisticRegression, meta: dict[str, Any]) -> bytes:
    """The models as judge.npz: float32 weights, the vocabulary as one UTF-8 string."""
    def by_place(model: LogisticRegression, v: int) -> np.ndarray:
        coef = model.coef_
        return np.column_stack([coef[:, 0:v].T, coef[:, v:2 * v].T, coef[:, 2 * v:3 * v].T]).astype(np.float32)

    vocab = final.vec.get_feature_names_out()
    char_vocab = final.char_vec.get_feature_names_out()
    verdict_w = by_place(final.verdict, len(vocab))
    kind_w = np.column_stack([m.coef_[0] for m in final.kind_models]).astype(np.float32)
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.frombuffer(json.dumps({**meta, "kinds": final.kinds}).encode(), dtype=np.uint8),
                        vocab=np.frombuffer("\n".join(vocab).encode("utf-8"), dtype=np.uint8),
                        idf=final.vec.idf_.astype(np.float32), verdict_w=verdict_w,
                        char_vocab=np.frombuffer("\n".join(char_vocab).encode("utf-8"), dtype=np.uint8),
                        char_idf=final.char_vec.idf_.astype(np.float32), char_w=by_place(final.char_verdict, len(char_vocab)),
                        char_b=final.char_verdict.intercept_.astype(np.float32),
                        verdict_b=final.verdict.intercept_.astype(np.float32), kind_w=kind_w,
                        kind_b=np.array([m.intercept_[0] for m in final.kind_models], dtype=np.float32),
                        stage2_w=s2.coef_.astype(np.float32), stage2_b=s2.intercept_.astype(np.float32))
    return buf.getvalue()


def main() -> int:
    dry = "--dry-run" in sys.argv
    rows = [r for r in corpus.drafts("train") if CONTEXT_ONLY not in r["kinds"]]
    groups = np.array([r["author"] for r in rows])
    expected = np.array([RANK[r["verdict"]] for r in rows])
    counts: dict[str, int] = {}
    for r in rows:
        for k in r["kinds"]:
            counts[k] = counts.get(k, 0) + 1
    kinds = sorted(k for k, n in counts.items() if n >= MIN_KIND_EXAMPLES and k != CONTEXT_ONLY)
    print(f"{len(rows)} training drafts by {len(set(groups))} authors; kinds: {len(kinds)}", flush=True)
    det = detections(rows)

    folds = list(GroupKFold(n_splits=FOLDS).split(rows, groups=groups))
    p3 = np.zeros((len(rows), 3))
    pk = np.zeros((len(rows), len(kinds)))
    for n, (fit_i, test_i) in enumerate(folds, 1):
        m = TextModels([rows[i] for i in fit_i], kinds)
        p3[test_i], pk[test_i] = m.predict([rows[i] for i in test_i])
        print(f"  fold {n}: text models done", flush=True)
    for d, scores in zip(det, pk, strict=True):
        d["kinds"] = dict(zip(kinds, scores, strict=True))
    x2 = stage2_matrix(rows, det, p3, pk, kinds)
    p2 = np.zeros((len(rows), 3))
    for fit_i, test_i in folds:
        s2 = LogisticRegression(C=1.0, max_iter=2000).fit(x2[fit_i], expected[fit_i])
        p2[test_i] = s2.predict_proba(x2[test_i])
    # The thresholds are set on the authors who wrote to the standard and everyday briefs, the mix of
    # drafts the held-out authors also wrote; the contrast authors' minimal pairs teach the models, but
    # are harder than everyday use by design.
    contrast = {a for a, info in corpus.authors().items() if info.get("brief") == "contrast"}
    plain = np.array([g not in contrast for g in groups])
    block_at, caution_at = choose(p2[plain], [d for d, keep in zip(det, plain, strict=True) if keep], expected[plain])
    cv = figures(expected, final_verdicts(p2, det, block_at, caution_at))
    text_only = figures(expected, np.where(p3[:, 2] >= 0.5, 2, np.argmax(p3, axis=1)))
    print(f"cross-validated by author (checker as a whole): {json.dumps({k: round(v, 3) for k, v in cv.items()})}")
    if contrast & set(groups):
        got = final_verdicts(p2, det, block_at, caution_at)
        print(f"  of which the authors with the standard and everyday briefs: "
              f"{json.dumps({k: round(v, 3) for k, v in figures(expected[plain], got[plain]).items()})}")
        print(f"  and the contrast authors: {json.dumps({k: round(v, 3) for k, v in figures(expected[~plain], got[~plain]).items()})}")
    print(f"  the text model alone, argmax: {json.dumps({k: round(v, 3) for k, v in text_only.items()})}")
    print(f"  thresholds: block at P(dnp) >= {block_at}, caution at P(caution or worse) >= {caution_at}")
    if dry:
        for t in (0.3, 0.4, 0.5, 0.6, caution_at, 0.7, 0.8):
            f = figures(expected, final_verdicts(p2, det, block_at, t))
            print(f"  caution at {t:.2f}: " + json.dumps({k: round(v, 3) for k, v in f.items()}))
        return 0

    final = TextModels(rows, kinds)
    s2 = LogisticRegression(C=1.0, max_iter=2000).fit(x2, expected)
    meta = {"drafts": len(rows), "authors": len(set(groups)), "char_weight": CHAR_WEIGHT, "trained_on": sorted(set(groups)), "kinds": kinds,
            "block_at": block_at, "caution_at": caution_at, "cv": {k: round(val, 4) for k, val in cv.items()},
            "stage2": list(judge.STAGE2),
            "about": "Trained by scripts/train_judge.py on the training authors of corpus/ and tests/data."}
    OUT.write_bytes(export(final, s2, meta))
    v = len(final.vec.vocabulary_)
    print(f"wrote {OUT.relative_to(corpus.ROOT)} ({OUT.stat().st_size // 1024} KB, {v} terms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
