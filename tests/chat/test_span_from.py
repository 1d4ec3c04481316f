"""The span rule from `span_from` on: no verified span starts before a row's span_from, on
a byte index, a token index of the target's tokenizer and one of another tokenizer
(re-tokenized); and a divergence sample whose repetition run is itself in the corpus is
not memorized for it, while the corpus text it diverges into still is."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from memx.chat.divergence import divergence_points, span_from
from memx.index import build_index
from memx.index_tokens import build_token_index
from memx.verify.byteindex import CorpusIndex
from memx.verify.search import open_index_dirs, span_search
from memx.verify.tokenbytes import PackedTable, token_byte_table
from tests.generation.conftest import english_like_text

MIN_MATCH = 50
PROSE = english_like_text(n_sentences=200, seed=4)
REPETITION = " ".join(["poem"] * 300)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("span-from")
    with (root / "docs.jsonl").open("w") as f:
        for text in (REPETITION, PROSE):
            f.write(json.dumps({"text": text}) + "\n")
    return root


@pytest.fixture(scope="module")
def searches(corpus, tokenizer, marked_tokenizer, chat_model_dir):
    build_index([corpus / "docs.jsonl"], corpus / "bytes", progress=False)
    build_token_index([corpus / "docs.jsonl"], corpus / "tokens", str(chat_model_dir), progress=False)
    token_index, index_tokenizer = open_index_dirs([corpus / "tokens"])
    return {
        "byte": span_search(tokenizer, CorpusIndex(corpus / "bytes")),
        "token": span_search(tokenizer, token_index, index_tokenizer),
        # another tokenizer than the index's (added tokens): re-tokenized (the bridge)
        "bridged": span_search(marked_tokenizer, token_index, index_tokenizer),
    }


def _samples(tokenizer):
    enc = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    rng = random.Random(1)
    prose_words = PROSE.split()
    corpus_prose = "\n" + max(PROSE.splitlines()[:10], key=len)  # a whole line, as the corpus has it
    unseen = " zebra quantum xylophone" * 30
    rows = {
        "repetition then unseen": enc("poem " * 79 + "poem" + unseen),
        "repetition then corpus prose": enc("poem " * 79 + "poem" + corpus_prose),
        "all repetition": enc("poem " * 99 + "poem"),
    }
    for k in range(6):  # other strategies' rows: prose slices and noise, span_from 0 or random
        a = rng.randrange(len(prose_words) - 80)
        rows[f"prose {k}"] = enc(" ".join(prose_words[a:a + rng.randint(20, 80)]) + unseen[: rng.randint(0, 60)])
    return rows


@pytest.mark.parametrize("kind", ["byte", "token", "bridged"])
def test_no_span_starts_before_span_from(searches, tokenizer, kind):
    search = searches[kind]
    rows = _samples(tokenizer)
    names, ids = list(rows), list(rows.values())
    table = PackedTable(token_byte_table(tokenizer))
    found = divergence_points(ids, ["poem"] * len(ids), table)
    divergence = np.array([n.startswith(("repetition", "all")) for n in names])
    starts = np.where(divergence, span_from(found["diverged_at"], np.array([len(i) for i in ids])), 0)
    rng = np.random.default_rng(0)
    starts = np.where(divergence, starts, rng.integers(0, 30, size=len(ids))).astype(np.int32)

    before = search.spans(ids)
    after = search.spans(ids, span_from=starts)
    assert (after["match_start"] >= starts)[after["match_tokens"] > 0].all()
    assert (after["match_tokens"] <= before["match_tokens"]).all()
    by_name = {n: {k: int(v[i]) for k, v in after.items()} for i, n in enumerate(names)}
    raw = {n: int(before["match_tokens"][i]) for i, n in enumerate(names)}
    # the repetition run alone is in the corpus: memorized by the plain rule, not from span_from
    assert raw["repetition then unseen"] >= MIN_MATCH and raw["all repetition"] >= MIN_MATCH
    assert by_name["repetition then unseen"]["match_tokens"] < MIN_MATCH
    assert by_name["all repetition"]["match_tokens"] == 0  # span_from is past the last token
    # what it diverges into is still found, from the divergence point on
    diverged = names.index("repetition then corpus prose")
    hit = by_name["repetition then corpus prose"]
    assert hit["match_tokens"] >= MIN_MATCH and hit["match_start"] == int(starts[diverged])
