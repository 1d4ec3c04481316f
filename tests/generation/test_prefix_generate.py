"""The prefix strategy end to end on a tiny random GPT-2: greedy continuation equal to a plain
argmax loop (also through EOS, where HF generate would stop), prefix rows and their columns,
reproducibility, (n, p) draws, and the rows scored and summarised."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch

from memx.config import GenerationConfig, ScoringConfig
from memx.discoverable import discoverable_summary
from memx.generation import (
    SAMPLE_SCHEMA, DocumentSource, generate_shard, greedy_complete, load_prompt_corpus, shard_sequences,
)
from memx.plan import ShardSpec, shard_seed
from memx.scoring import score_samples
from tests.generation.conftest import english_like_text

PREFIX = {"prefix_tokens": 8, "suffix_tokens": 10}
GEN = GenerationConfig(strategies=["prefix"], samples_per_strategy=14, shard_size=7, batch_size=4, max_new_tokens=3,
                       prefix={"source": "unused-here", **PREFIX})


def _spec(index: int = 0, size: int = 7, strategy: str = "prefix") -> ShardSpec:
    return ShardSpec("samples", strategy, index, index * size, size, shard_seed(0, strategy, index))


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    path = tmp_path_factory.mktemp("prefix-source") / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"text": english_like_text(6, seed=i)}) for i in range(30)) + "\n")
    return DocumentSource.scan(str(path))


def _table(lm, spec, documents, gen=GEN) -> pa.Table:
    return pa.Table.from_batches(list(generate_shard(lm, spec, gen, documents=documents)), schema=SAMPLE_SCHEMA)


@torch.no_grad()
def _argmax_loop(model, prompt: list[int], steps: int) -> list[int]:
    """The plainest greedy decoder: one unpadded, uncached forward per token, never stops."""
    ids = list(prompt)
    for _ in range(steps):
        ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt):]


@pytest.fixture(scope="module")
def eos_model(tiny_lm):
    """An untied random GPT-2 whose output row for EOS is moved next to the argmax token's
    at step 4 of prompt 0, so the greedy path emits EOS mid-way."""
    from transformers import GPT2Config, GPT2LMHeadModel

    eos = tiny_lm.tokenizer.eos_token_id
    torch.manual_seed(7)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tiny_lm.tokenizer), n_positions=64, n_embd=32, n_layer=2,
                                       n_head=2, tie_word_embeddings=False)).eval()
    prompt = tiny_lm.tokenizer("The river and the garden", add_special_tokens=False)["input_ids"]
    ids = prompt + _argmax_loop(model, prompt, 4)
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0, -1]
        top = int(model.lm_head(hidden).argmax())
        model.lm_head.weight[eos] = model.lm_head.weight[top] + 0.05 * hidden / hidden.dot(hidden)
    return model, prompt, eos


def test_greedy_equals_a_plain_argmax_loop_through_eos(eos_model, tiny_lm):
    model, prompt, eos = eos_model
    tok = tiny_lm.tokenizer
    prompts = [prompt, tok("Silver", add_special_tokens=False)["input_ids"],
               tok("We travel to the distant island quickly and", add_special_tokens=False)["input_ids"]]
    steps = 16
    expected = [_argmax_loop(model, p, steps) for p in prompts]
    assert eos in expected[0][:-1]  # EOS mid-way: HF generate would stop there, memx must not
    got = greedy_complete(model, prompts, tiny_lm.pad_id, steps, torch.device("cpu"), batch_size=2)
    assert got.shape == (3, steps) and got.tolist() == expected
    hf = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                        do_sample=False, max_new_tokens=steps, eos_token_id=eos, pad_token_id=eos)
    assert hf.shape[1] - len(prompt) < steps  # the contrast this test guards against


def test_prefix_rows(tiny_lm, documents):
    spec = _spec(index=1)
    table = _table(tiny_lm, spec, documents)
    rows = table.to_pylist()
    seqs = shard_sequences(documents, tiny_lm.tokenizer, spec.seed, 7, **PREFIX)
    assert [r["sample_id"] for r in rows] == [spec.sample_id(i) for i in range(7)]
    assert [r["prompt_ids"] for r in rows] == seqs.prefixes.tolist()  # the prefix alone, no BOS
    assert [r["target_ids"] for r in rows] == seqs.suffixes.tolist()
    assert [r["sequence_id"] for r in rows] == seqs.sequence_ids
    # exactly suffix_tokens new tokens (max_new_tokens is for the other strategies), greedy
    expected = greedy_complete(tiny_lm.model, seqs.prefixes.tolist(), tiny_lm.pad_id, 10, tiny_lm.device)
    assert [r["token_ids"] for r in rows] == expected.tolist()
    for r in rows:
        assert r["text"] == tiny_lm.tokenizer.decode(r["prompt_ids"] + r["token_ids"], skip_special_tokens=True)
    assert table.equals(_table(tiny_lm, spec, documents))
    assert table.column("sequence_id") != _table(tiny_lm, _spec(index=2), documents).column("sequence_id")


def test_other_strategies_leave_the_prefix_columns_null(tiny_lm, corpus_file):
    corpus = load_prompt_corpus(str(corpus_file))
    gen = GEN.model_copy(update={"strategies": ["top_k", "internet"]})
    for strategy in ("top_k", "internet"):
        table = pa.Table.from_batches(list(generate_shard(tiny_lm, _spec(strategy=strategy), gen, corpus)))
        assert table.schema.equals(SAMPLE_SCHEMA)
        assert table.column("target_ids").null_count == table.column("sequence_id").null_count == 7
        assert all(len(t) == 3 for t in table.column("token_ids").to_pylist())


def test_top_k_draws_share_a_sequence_and_differ(tiny_lm, documents):
    gen = GEN.model_copy(update={"prefix": GEN.prefix.model_copy(update={"decoding": "top_k", "draws": 3})})
    rows = _table(tiny_lm, _spec(size=6), documents, gen).to_pylist()
    ids = [r["sequence_id"] for r in rows]
    assert ids[:3] == [ids[0]] * 3 and ids[3:] == [ids[3]] * 3 and ids[0] != ids[3]
    assert rows[0]["prompt_ids"] == rows[2]["prompt_ids"] and rows[0]["target_ids"] == rows[2]["target_ids"]
    assert len({tuple(r["token_ids"]) for r in rows[:3]}) > 1  # each draw samples on its own


def test_prefix_rows_scored_and_summarised(tiny_lm, documents):
    samples = _table(tiny_lm, _spec(), documents)
    scores = score_samples(samples, tiny_lm, {}, ScoringConfig(batch_size=4), ["perplexity", "min_k"])
    tokens, targets = samples.column("token_ids").to_pylist(), samples.column("target_ids").to_pylist()
    assert scores.column("exact").to_pylist() == [t == g for t, g in zip(tokens, targets)]
    accuracy = [np.mean(np.array(t) == np.array(g)) for t, g in zip(tokens, targets)]
    assert scores.column("token_accuracy").to_pylist() == pytest.approx(accuracy)
    summary = discoverable_summary(samples, scores, ["perplexity", "min_k"]).to_dict()
    block = summary["strategies"]["prefix"]
    assert block["rows"] == block["sequences"] == 7 and block["draws"] == 1
    assert block["token_accuracy"] == pytest.approx(np.mean(accuracy))
    assert set(summary["metrics"]) == {"perplexity", "min_k"} and "duplication" not in summary
