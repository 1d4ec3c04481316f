"""The lab's membership pair, as cut (fast: no lab is built)."""

from __future__ import annotations

from memx.lab.corpus import split_documents
from memx.lab.membership import MIN_CHARS, pair, set_aside
from tests.support.tiny import prose


def _docs() -> list[str]:
    lines = prose(900, seed=2).splitlines()
    text = "\n\n".join("\n".join(lines[i: i + 3]) for i in range(0, len(lines), 3))  # paragraphs of 3 lines
    return split_documents(text, max_lines=24)


def test_set_aside_cuts_paragraphs_out_of_training_documents():
    docs = _docs()
    kept, aside = set_aside(docs, seed=0, chars=8_000)
    assert len(kept) == len(docs) and 8_000 <= sum(map(len, aside)) < 8_000 + 1_000
    assert all(len(p) >= MIN_CHARS for p in aside)
    assert all(d.count("\n") >= 2 for d in kept)  # still a training document
    training = "\n\n".join(kept)
    assert not any(p in training for p in aside)
    # paragraphs come from many documents, not a few
    assert sum(any(p in d for p in aside) for d in docs) > len(docs) // 3
    assert set_aside(docs, seed=0, chars=8_000) == (kept, aside) != set_aside(docs, seed=1, chars=8_000)


def test_pair_leaves_out_canaries_and_training_text():
    docs = _docs()
    kept, aside = set_aside(docs, seed=0, chars=8_000)
    canary = "Contact Brath Kelzo at brath@example.org"
    planted = [kept[0].replace("\n", f"\n{canary}\n", 1)] + kept[1:]
    members, nonmembers = pair(planted, aside + [kept[1].split("\n\n")[0]], [canary])
    assert members and not any(canary in m for m in members)
    assert all(m in "\n\n".join(planted) for m in members)
    assert nonmembers == [p for p in aside if p not in "\n\n".join(planted)]
