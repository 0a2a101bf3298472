"""Write ``corpus/clauses.md``: every clause id of the shipped packs with its words, for the people who
label questions (they cite clause ids; they never see the checker)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    out = ["# Clause ids of the councils' policies", "",
           "Generated from `policy/*.yaml` by `scripts/corpus_clauses.py`: the ids a question's `clauses` may name."]
    for path in sorted((ROOT / "policy").glob("*.yaml")):
        pack = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += ["", f"## {pack['council']} (`{pack['id']}`)", ""]
        out += [f"- **{c['id']}** ({c['section']}): {c['text']}" for c in pack["clauses"]]
    (ROOT / "corpus" / "clauses.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
