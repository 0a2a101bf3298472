"""The labelled corpus: who wrote what, which authors train the judge and which are held out.

Training never sees a held-out author's drafts or questions: the split is by author, written down in
``corpus/authors.json`` before training, so a held-out figure says how the judge does on a stranger's
writing. The first labelled sets (``tests/data/drafts*.jsonl``, written by earlier blind authors) each
count as one author and train the judge.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
EARLIER = ROOT / "tests" / "data"
_WORD = re.compile(r"[a-z0-9]+")
EARLIER_SETS = ("drafts", "drafts_holdout", "drafts_blind", "drafts_fresh", "drafts_final", "drafts_sixth",
                "drafts_seventh", "drafts_eighth")

Row = dict[str, Any]


def authors() -> dict[str, dict[str, str]]:
    """Author id -> {"persona": ..., "split": "train" | "heldout"}."""
    data: dict[str, dict[str, str]] = json.loads((CORPUS / "authors.json").read_text(encoding="utf-8"))
    return data


def read(path: Path) -> list[Row]:
    """One JSON Lines file of drafts, questions or labels."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def drafts(split: str) -> list[Row]:
    """Every labelled draft of one split, each with its ``author``; near-copies of a training draft
    are left out of the held-out split (``corpus/near_copies.json``)."""
    rows: list[Row] = []
    if split == "train":
        for name in EARLIER_SETS:
            rows += [{**r, "author": f"earlier:{name}"} for r in read(EARLIER / f"{name}.jsonl")]
    for author, info in sorted(authors().items()):
        path = CORPUS / "drafts" / f"{author}.jsonl"
        if info["split"] == split and path.exists():
            rows += read(path)
    if split == "heldout":
        dropped = set(json.loads((CORPUS / "near_copies.json").read_text(encoding="utf-8"))) \
            if (CORPUS / "near_copies.json").exists() else set()
        rows = [r for r in rows if r["id"] not in dropped]
    return rows


def questions(split: str) -> list[Row]:
    """Every labelled question of one split; a held-out question that a training author also asked,
    word for word ("tiktok?"), is left out of the held-out split."""
    rows: list[Row] = []
    for author, info in sorted(authors().items()):
        path = CORPUS / "questions" / f"{author}.jsonl"
        if info["split"] == split and path.exists():
            rows += read(path)
    if split == "heldout":
        asked = {_same(q["question"]) for q in questions("train")}
        rows = [q for q in rows if _same(q["question"]) not in asked]
    return rows


def _same(question: str) -> str:
    return " ".join(_WORD.findall(question.lower()))


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return frozenset(tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1)))


def near_copies(held: list[Row], train: list[Row], at: float = 0.5) -> list[tuple[str, str, float]]:
    """Held-out drafts that share at least ``at`` of their word triples with one training draft
    (Jaccard): the held-out id, the training id, the overlap."""
    index: dict[tuple[str, ...], list[int]] = {}
    train_sets = [shingles(r["text"]) for r in train]
    for i, s in enumerate(train_sets):
        for g in s:
            index.setdefault(g, []).append(i)
    out = []
    for r in held:
        s = shingles(r["text"])
        seen: dict[int, int] = {}
        for g in s:
            for i in index.get(g, ()):
                seen[i] = seen.get(i, 0) + 1
        best = max(((n / len(s | train_sets[i]), i) for i, n in seen.items()), default=(0.0, -1))
        if best[0] >= at:
            out.append((r["id"], train[best[1]]["id"], round(best[0], 3)))
    return out


def write_near_copies(at: float = 0.4) -> list[tuple[str, str, float]]:
    """Find the held-out drafts that are near-copies of a training draft and write them down, so the
    held-out split leaves them out."""
    held: list[Row] = []
    for author, info in sorted(authors().items()):
        path = CORPUS / "drafts" / f"{author}.jsonl"
        if info["split"] == "heldout" and path.exists():
            held += read(path)
    found = near_copies(held, drafts("train"), at)
    (CORPUS / "near_copies.json").write_text(json.dumps(sorted(h for h, _, _ in found), indent=0) + "\n", encoding="utf-8")
    return found


if __name__ == "__main__":
    for held_id, train_id, overlap in write_near_copies():
        print(f"{held_id} is a near-copy of {train_id} ({overlap:.0%} of word triples shared)")
