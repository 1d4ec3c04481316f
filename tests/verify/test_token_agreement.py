"""The lab's samples verified three ways (docs/formulas.md#span, docs/indexes.md): against the lab's byte-level index,
a token index of the same corpus with the lab's tokenizer, and a token index built with a
second BPE trained here (the bridged rule). Real lab model, real infini-gram indexer.

A third index uses a SentencePiece-style BPE (word-start marker), the shape of the Llama-2
tokenizer of infini-gram's released indexes.

Samples: the lab's `xl` continues 8-token prompts cut from its training documents (greedy
and top-k 40: memorized, half-memorized and new text) and samples top-k from its BOS
token, as the `internet`/`top_k` strategies do; the prompt is never searched. Thirty true
continuations join them, so the memorized class never depends on how much the lab, whose
text is this Python's standard library, happened to memorize.
`min_match_tokens` is 12 here so both classes are well populated in 56 generated tokens.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
import torch

from memx.index_tokens import build_token_index
from memx.verify.search import open_index_dirs, span_search

pytestmark = pytest.mark.slow
MIN_MATCH = 12
NEW_TOKENS = 56


def _metaspace_bpe(path, train: list[str], docs: list[str]) -> str:
    """A SentencePiece-style BPE (Llama-2's shape: a word-start marker, no byte-level alphabet),
    so a re-tokenized fragment's first word gets a marker its corpus copy may not have."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    alphabet = sorted({ch for doc in docs for ch in doc})
    tok.train_from_iterator(train, trainers.BpeTrainer(vocab_size=1200, special_tokens=["<unk>"],
                                                       initial_alphabet=alphabet, show_progress=False))
    tok.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def lab_setup(tmp_path_factory, tiny_lab):
    from memx.generation.processors import sample_top_k
    from memx.generation.sampler import greedy_complete, sample_batch
    from memx.models import load_causal_lm
    from tests.scoring.scoring_fixtures import build_tokenizer

    lab = tiny_lab
    root = tmp_path_factory.mktemp("agree")
    corpus = lab / "corpus" / "train.jsonl"
    docs = [json.loads(line)["text"] for line in corpus.open()]
    same = build_token_index([corpus], root / "same", str(lab / "tokenizer"), progress=False,
                             shard_bytes=(lab / "index" / "tokenized.0").stat().st_size * 2 // 5)  # 2 shards
    rng = random.Random(0)
    other_dir = build_tokenizer(root / "other-tok", vocab_size=900, text=rng.sample(docs, len(docs) // 2))
    other = build_token_index([corpus], root / "other", str(other_dir), progress=False)
    sentencepiece_like = _metaspace_bpe(root / "sp-tokenizer.json", rng.sample(docs, len(docs) // 2), docs)
    build_token_index([corpus], root / "sp", sentencepiece_like, progress=False)
    lm = load_causal_lm(str(lab / "models" / "xl"), dtype="float32", device="cpu")
    prompts = []
    for _ in range(240):
        ids = lm.tokenizer(rng.choice(docs), add_special_tokens=False)["input_ids"]
        at = rng.randrange(max(1, len(ids) - 8))
        prompts.append(ids[at:at + 8])
    torch.manual_seed(0)
    greedy = greedy_complete(lm.model, prompts[:120], lm.pad_id, NEW_TOKENS, lm.device)
    uniforms = torch.rand((240, NEW_TOKENS))
    top_k = lambda step, logits, u: sample_top_k(logits, 40, u)  # noqa: E731
    sampled = sample_batch(lm.model, prompts[120:], lm.pad_id, NEW_TOKENS, uniforms[:120], top_k, lm.device)
    bos = sample_batch(lm.model, [[lm.bos_id]] * 120, lm.pad_id, NEW_TOKENS, uniforms[120:], top_k, lm.device)
    # The true continuations of 30 more prompts: what a model that memorized them would say,
    # so both classes are populated however much this Python's lab happened to memorize.
    verbatim = []
    while len(verbatim) < 30:
        ids = lm.tokenizer(rng.choice(docs), add_special_tokens=False)["input_ids"]
        if len(ids) >= 8 + NEW_TOKENS:
            at = rng.randrange(len(ids) - 8 - NEW_TOKENS + 1) + 8
            verbatim.append(ids[at:at + NEW_TOKENS])
    samples = [row.tolist() for block in (greedy, sampled, bos) for row in block] + verbatim
    return {"lab": lab, "tokenizer": lm.tokenizer, "samples": samples, "same": same, "other": other,
            "dirs": {"byte": lab / "index", "same": root / "same", "other": root / "other", "sp": root / "sp"}}


@pytest.fixture(scope="module")
def verified(lab_setup):
    out = {}
    for name, directory in lab_setup["dirs"].items():
        index, index_tokenizer = open_index_dirs([directory])
        search = span_search(lab_setup["tokenizer"], index, index_tokenizer)
        out[name] = {"search": search, "index": index, "spans": search.spans(lab_setup["samples"])}
    assert [type(out[n]["search"]).__name__ for n in out] == ["ByteSearch", "TokenSearch", "BridgedSearch",
                                                              "BridgedSearch"]
    return out


def _agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Share of samples whose byte-index span is 2+ tokens from MIN_MATCH that agree on memorized."""
    eligible = np.abs(a - MIN_MATCH) >= 2
    agree = (a >= MIN_MATCH) == (b >= MIN_MATCH)
    return float(agree[eligible].mean()), int(eligible.sum()), np.nonzero(eligible & ~agree)[0]


def test_two_shards_and_counts_equal_infini_gram_engine(lab_setup, verified):
    from infini_gram.engine import InfiniGramEngine

    assert lab_setup["same"]["shards"] == 2 and lab_setup["same"]["token_dtype"] == "u16"
    engine = InfiniGramEngine(index_dir=str(lab_setup["dirs"]["same"]), eos_token_id=0, token_dtype="u16")
    spans, samples = verified["same"]["spans"], lab_setup["samples"]
    found = [k for k in range(len(samples)) if spans["match_tokens"][k] > 0]
    assert len(found) > 100
    for k in found:
        ids = samples[k][spans["match_start"][k]:spans["match_end"][k]]
        assert spans["corpus_count"][k] == engine.count(ids)["count"], k


def test_same_tokenizer_agrees_with_the_byte_index(lab_setup, verified):
    byte, token = verified["byte"]["spans"], verified["same"]["spans"]
    assert (token["match_tokens"] <= byte["match_tokens"]).all()  # one tokenizer: a token match is a byte match
    share, eligible, disagree = _agreement(byte["match_tokens"], token["match_tokens"])
    memorized = int((byte["match_tokens"] >= MIN_MATCH).sum())
    print(f"\nsame tokenizer: memorized flags agree on {share:.2%} of {eligible} samples "
          f"({memorized} memorized by the byte index); {len(disagree)} disagree")
    assert 20 <= memorized <= len(lab_setup["samples"]) - 20 and share >= 0.99
    tokenizer, index = lab_setup["tokenizer"], verified["same"]["index"]
    kinds = {"edge": 0, "non-canonical": 0, "whitespace run": 0}
    shorter = np.nonzero(token["match_tokens"] < byte["match_tokens"])[0]
    for k in shorter:  # every shorter span: a tokenization boundary, of one of three kinds
        ids = lab_setup["samples"][k][byte["match_start"][k]:byte["match_end"][k]]
        text = tokenizer.decode(ids)
        canonical = tokenizer(text, add_special_tokens=False)["input_ids"]
        if canonical != ids:
            kinds["non-canonical"] += 1  # the model cut its text into other tokens than the tokenizer does
        elif index.count_tokens([ids[1:-1]])[0] >= 1:
            kinds["edge"] += 1  # the corpus holds the text cut differently at the span's edges only
        else:
            # the pre-tokenizer cuts a run of spaces by what follows it (code indentation before
            # a word or a bracket), so the corpus holds the run in other pieces all along
            assert re.search(r"\s{2,}", text), (k, text)
            kinds["whitespace run"] += 1
    print(f"shorter token-index spans: {len(shorter)} ({kinds})")


@pytest.mark.parametrize("other", ["other", "sp"])  # byte-level BPE, SentencePiece-style BPE
def test_another_tokenizer_agrees_and_counts_target_tokens(lab_setup, verified, other):
    byte, bridged = verified["byte"]["spans"], verified[other]["spans"]
    share, eligible, disagree = _agreement(byte["match_tokens"], bridged["match_tokens"])
    print(f"\nanother tokenizer ({other}): memorized flags agree on {share:.2%} of {eligible} samples; "
          f"{len(disagree)} disagree")
    assert share >= 0.97
    lengths = bridged["match_end"] - bridged["match_start"]
    assert (lengths == bridged["match_tokens"]).all() and (bridged["match_tokens"] <= byte["match_tokens"]).all()
    table, byte_index = verified["byte"]["search"].table, verified["byte"]["index"]
    found = np.nonzero(bridged["match_tokens"] > 0)[0]
    spans = [table.bytes_of(lab_setup["samples"][k][bridged["match_start"][k]:bridged["match_end"][k]])
             for k in found]
    assert (byte_index.count_many(spans) >= 1).all()  # the span is target tokens whose bytes are in the corpus


@pytest.mark.parametrize("other", ["other", "sp"])
def test_another_tokenizer_loses_at_most_one_index_token_per_edge(lab_setup, verified, other):
    """Against the corpus's own cut: the byte span's text where a training document holds it,
    tokenized as the index tokenized that document; the bridged span must hold every target
    token inside those index tokens but the first and the last (docs/indexes.md)."""
    from memx.verify.bridge import _char_to_byte

    byte, bridged = verified["byte"]["spans"], verified[other]["spans"]
    index_tokenizer = verified[other]["search"].index_tokenizer
    table = verified["byte"]["search"].table
    docs = [json.loads(line)["text"] for line in (lab_setup["lab"] / "corpus" / "train.jsonl").open()]
    raw_docs = [d.encode("utf-8") for d in docs]
    cuts: dict[int, np.ndarray] = {}
    lost = []
    for k in np.nonzero(byte["match_tokens"] > 0)[0]:
        ids = lab_setup["samples"][k][byte["match_start"][k]:byte["match_end"][k]]
        span = table.bytes_of(ids)
        doc = next(i for i, d in enumerate(raw_docs) if span in d)
        if doc not in cuts:  # the document's index tokens as byte ranges
            enc = index_tokenizer.encode(docs[doc], add_special_tokens=False)
            cuts[doc] = _char_to_byte(docs[doc])[np.array(enc.offsets, dtype=np.int64).reshape(-1, 2)]
        at = raw_docs[doc].find(span)
        inside = cuts[doc][(cuts[doc][:, 0] >= at) & (cuts[doc][:, 1] <= at + len(span))] - at
        if len(inside) < 3:
            continue
        lo, hi = inside[1][0], inside[-2][1]  # less one index token at each edge
        ends = np.cumsum([table.length[t] for t in ids])
        starts = ends - [table.length[t] for t in ids]
        kept = int(((starts >= lo) & (ends <= hi)).sum())  # target tokens wholly inside
        lost.append(kept - int(bridged["match_tokens"][k]))
    lost = np.array(lost)
    print(f"\nbridged ({other}) spans short of the byte span less one index token per edge: "
          f"{(lost > 0).sum()} of {len(lost)}")
    assert len(lost) > 100 and (lost <= 0).all()


def test_sequence_counts_of_prefix_rows_through_each_index(lab_setup, verified):
    """`sequence_count` (prompt + true suffix of `prefix` rows) by the same rule (docs/indexes.md)."""
    import pyarrow as pa

    from memx.scoring.discoverable import SequenceCounter

    tokenizer = lab_setup["tokenizer"]
    docs = [json.loads(line)["text"] for line in (lab_setup["lab"] / "corpus" / "train.jsonl").open()]
    rng = random.Random(3)
    prompts, targets = [], []
    for doc in rng.sample(docs, min(150, len(docs))):
        ids = tokenizer(doc, add_special_tokens=False)["input_ids"]
        if len(ids) < 40:
            continue
        at = rng.randrange(len(ids) - 32)
        prompts.append(ids[at:at + 8])
        targets.append(ids[at + 8:at + 32])
    prompts, targets = pa.array(prompts, pa.list_(pa.int32())), pa.array(targets, pa.list_(pa.int32()))
    counts = {}
    for name in ("byte", "same", "other", "sp"):
        index = verified[name]["index"]
        _, index_tokenizer = open_index_dirs([lab_setup["dirs"][name]])
        counts[name] = SequenceCounter(tokenizer, index, index_tokenizer)(prompts, targets)
    assert (counts["byte"] >= 1).all()  # every row is a window of a training document
    assert (counts["same"] <= counts["byte"]).all() and (counts["same"] == counts["byte"]).mean() >= 0.95
    for other in ("other", "sp"):
        assert (counts[other] >= 1).mean() >= 0.95  # less one index token per edge: found
    print(f"\nsequence_count equal to the byte index's: same tokenizer {(counts['same'] == counts['byte']).mean():.0%}, "
          f"byte-level BPE {(counts['other'] == counts['byte']).mean():.0%}, SentencePiece-style "
          f"{(counts['sp'] == counts['byte']).mean():.0%} of {len(counts['byte'])} rows")
