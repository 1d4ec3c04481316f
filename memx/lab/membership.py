"""The lab's labelled membership pair: documents the target trained on against documents of
the same kind that no lab model trained on.

Membership is only measured fairly when the two sides differ in nothing but membership.
Held-out text from other source files is not enough: a text classifier tells the lab's
stdlib files apart by their identifiers alone (a blind AUC near 1.0 on the lab's source
split). Whole documents set aside are not enough either: the tiny preset's few dozen documents
come from a handful of files, and a random handful of them is another mix of files (a
blind AUC of 0.73). So the lab sets aside *paragraphs* (blank-line separated blocks of at
least `MIN_CHARS` characters), drawn at random (seeded) across every training document,
cut out of them before canaries are planted and before any model trains: each side then
draws on the same files in the same proportions. A member is a paragraph of a training
document as trained on that holds no canary; a non-member is a paragraph set aside that
occurs nowhere in the training text (stdlib files repeat boilerplate).

Files: `membership/members.jsonl` and `membership/nonmembers.jsonl`, one {"text"} a line.
This module knows no tokenizers or models.
"""

from __future__ import annotations

import random
from pathlib import Path

from memx.lab.corpus import CorpusSplit, build_split, heldout_paragraphs, write_train_jsonl
from memx.lab.presets import LabSettings

MIN_CHARS = 100
MEMBERS = "membership/members.jsonl"
NONMEMBERS = "membership/nonmembers.jsonl"


def lab_split(seed: int, settings: LabSettings) -> tuple[CorpusSplit, list[str], list[str]]:
    """The build's corpus split, the training documents (before canaries) and the paragraphs set
    aside. The training split is cut larger by `nonmember_chars`, so the training text keeps
    its size; the `out` model's disjoint slice is as large as the training text."""
    split = build_split(seed, settings.train_chars + settings.nonmember_chars, settings.heldout_chars,
                        settings.max_doc_lines, disjoint_chars=settings.train_chars)
    train_docs, aside = set_aside(split.train, seed, settings.nonmember_chars)
    return split, train_docs, aside


def set_aside(docs: list[str], seed: int, chars: int) -> tuple[list[str], list[str]]:
    """(training documents, paragraphs set aside): paragraphs of at least `MIN_CHARS`
    characters drawn at random (seeded) across every document until about `chars` characters,
    each cut out of its document before training. A document keeps at least one paragraph
    and three lines (the corpus's rule for a training document)."""
    blocks = [d.split("\n\n") for d in docs]  # split_documents joins a document's blocks with one blank line
    pairs = [(i, j) for i, parts in enumerate(blocks) for j, p in enumerate(parts) if len(p) >= MIN_CHARS]
    random.Random(f"membership-{seed}").shuffle(pairs)
    taken: set[tuple[int, int]] = set()
    size = 0
    for i, j in pairs:
        if size >= chars:
            break
        rest = [p for k, p in enumerate(blocks[i]) if k != j and (i, k) not in taken]
        if not rest or "\n\n".join(rest).count("\n") < 2:
            continue
        taken.add((i, j))
        size += len(blocks[i][j])
    kept = ["\n\n".join(p for j, p in enumerate(parts) if (i, j) not in taken) for i, parts in enumerate(blocks)]
    return kept, [blocks[i][j] for i, j in sorted(taken)]


def pair(train_docs: list[str], aside: list[str], canary_texts: list[str]) -> tuple[list[str], list[str]]:
    """(member paragraphs, non-member paragraphs) from the training documents as trained on
    (canaries planted) and the paragraphs set aside."""
    members = [p for d in train_docs for p in heldout_paragraphs(d, MIN_CHARS)
               if not any(c in p for c in canary_texts)]
    corpus = "\n\n".join(train_docs)
    nonmembers = [p for p in aside if p not in corpus]
    return members, nonmembers


def write_pair(root: Path, members: list[str], nonmembers: list[str]) -> dict:
    """Write both sides under `root`; return lab.json's `membership` entry."""
    (root / "membership").mkdir(exist_ok=True)
    write_train_jsonl(members, root / MEMBERS)
    write_train_jsonl(nonmembers, root / NONMEMBERS)
    return {"members": MEMBERS, "nonmembers": NONMEMBERS, "member_documents": len(members),
            "nonmember_documents": len(nonmembers)}
