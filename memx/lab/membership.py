"""The lab's labelled membership pair: documents the target trained on against documents of
the same kind that no lab model trained on.

Membership is only measured fairly when the two sides differ in nothing but membership.
Held-out text from other source files is not enough: a text classifier tells the lab's
stdlib files apart by their identifiers alone (a blind AUC near 1.0 on the lab's source
split). So the lab sets aside whole *documents* of the training split, chosen at random
(seeded) across all its sources, before canaries are planted and before any model trains:
members and non-members then come from the same files. Both sides are cut into
paragraphs (blank-line separated, at least `MIN_CHARS` characters): a member paragraph is
an exact substring of a training document and holds no canary; a non-member paragraph
occurs nowhere in the training text (stdlib files repeat boilerplate).

Files: `membership/members.jsonl` and `membership/nonmembers.jsonl`, one {"text"} a line.
This module knows no tokenizers or models.
"""

from __future__ import annotations

import random
from pathlib import Path

from memx.lab.corpus import heldout_paragraphs, write_train_jsonl

MIN_CHARS = 100
MEMBERS = "membership/members.jsonl"
NONMEMBERS = "membership/nonmembers.jsonl"


def set_aside(docs: list[str], seed: int, chars: int) -> tuple[list[str], list[str]]:
    """(documents kept for training, documents set aside): a seeded random choice of whole
    documents, about `chars` characters, taken out of training; the order of the rest stays."""
    if chars <= 0:
        return docs, []
    order = list(range(len(docs)))
    random.Random(f"membership-{seed}").shuffle(order)
    aside, size = set(), 0
    for i in order:
        if size >= chars:
            break
        aside.add(i)
        size += len(docs[i])
    return [d for i, d in enumerate(docs) if i not in aside], [d for i, d in enumerate(docs) if i in aside]


def pair(train_docs: list[str], aside_docs: list[str], canary_texts: list[str]) -> tuple[list[str], list[str]]:
    """(member paragraphs, non-member paragraphs) from the training documents as trained on
    (canaries planted) and the documents set aside."""
    members = [p for d in train_docs for p in heldout_paragraphs(d, MIN_CHARS)
               if not any(c in p for c in canary_texts)]
    corpus = "\n\n".join(train_docs)
    nonmembers = [p for d in aside_docs for p in heldout_paragraphs(d, MIN_CHARS) if p not in corpus]
    return members, nonmembers


def write_pair(root: Path, members: list[str], nonmembers: list[str]) -> dict:
    """Write both sides under `root`; return lab.json's `membership` entry."""
    (root / "membership").mkdir(exist_ok=True)
    write_train_jsonl(members, root / MEMBERS)
    write_train_jsonl(nonmembers, root / NONMEMBERS)
    return {"members": MEMBERS, "nonmembers": NONMEMBERS, "member_documents": len(members),
            "nonmember_documents": len(nonmembers)}
