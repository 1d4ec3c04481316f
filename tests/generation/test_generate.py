"""generate_shard end to end on a tiny random GPT-2: row counts and schema per strategy,
reproducibility from the shard seed alone, left-padding correctness, OOM halving."""

from __future__ import annotations

import pyarrow as pa
import pytest
import torch
from transformers import AutoModelForCausalLM

from memx.config import GenerationConfig
from memx.generation import (
    SAMPLE_SCHEMA, GenerationStats, generate_shard, load_prompt_corpus, sample_batch,
    shard_prompts, strategy_chooser,
)
from memx.generation import shard as shard_module
from memx.generation.sampler import DECODERS
from memx.plan import ShardSpec, shard_seed
from tests.support.reference import first_step_logits

GEN = GenerationConfig(samples_per_strategy=14, shard_size=7, batch_size=4, max_new_tokens=12)


def _spec(strategy: str, index: int = 0, size: int = 7) -> ShardSpec:
    return ShardSpec("samples", strategy, index, index * size, size, shard_seed(0, strategy, index))


@pytest.fixture(scope="module")
def corpus(corpus_file):
    return load_prompt_corpus(str(corpus_file))


def _table(lm, spec, corpus, gen=GEN, stats=None) -> pa.Table:
    return pa.Table.from_batches(list(generate_shard(lm, spec, gen, corpus, stats=stats)), schema=SAMPLE_SCHEMA)


@pytest.mark.parametrize("strategy", ["top_k", "temperature", "internet"])
def test_each_strategy_yields_the_planned_rows(tiny_lm, corpus, strategy):
    spec, stats = _spec(strategy, index=1), GenerationStats()
    batches = list(generate_shard(tiny_lm, spec, GEN, corpus, stats=stats))
    assert all(batch.schema.equals(SAMPLE_SCHEMA) for batch in batches)
    assert all(0 < batch.num_rows <= GEN.batch_size for batch in batches)
    table = pa.Table.from_batches(batches)
    rows = table.to_pylist()
    assert [r["sample_id"] for r in rows] == [spec.sample_id(i) for i in range(7)] == [f"{strategy}-00001-{i:05d}" for i in range(7)]
    assert {(r["strategy"], r["shard"], r["seed"]) for r in rows} == {(strategy, 1, spec.seed)}
    assert all(len(r["token_ids"]) == GEN.max_new_tokens for r in rows)
    for r in rows:
        assert r["text"] == tiny_lm.tokenizer.decode(r["prompt_ids"] + r["token_ids"], skip_special_tokens=True)
    if strategy == "internet":
        assert all(5 <= len(r["prompt_ids"]) <= 10 for r in rows)
        assert [r["prompt_ids"] for r in rows] == shard_prompts(tiny_lm, spec, GEN, corpus)
    else:
        assert all(r["prompt_ids"] == [tiny_lm.bos_id] for r in rows)
        assert len(batches) == 2  # streamed: one record batch per generated batch of 4
    assert (stats.rows, stats.new_tokens, stats.batches) == (7, 7 * GEN.max_new_tokens, 2)
    assert stats.seconds > 0 and stats.tokens_per_second > 0


@pytest.mark.parametrize("strategy", ["top_k", "temperature", "internet"])
def test_same_spec_same_rows_alone_or_after_another(tiny_lm, corpus, strategy):
    first = _table(tiny_lm, _spec(strategy, 0), corpus)
    other = _table(tiny_lm, _spec(strategy, 1), corpus)
    assert first.equals(_table(tiny_lm, _spec(strategy, 0), corpus))
    assert not first.column("token_ids").equals(other.column("token_ids"))
    # Per-row uniforms: the batch size does not change which tokens a row gets.
    wide = GEN.model_copy(update={"batch_size": 7})
    assert first.column("token_ids").equals(_table(tiny_lm, _spec(strategy, 0), corpus, gen=wide).column("token_ids"))


def test_internet_rows_keep_their_prompts_when_sorted_by_length(tiny_lm, corpus):
    spec = _spec("internet", 2, size=9)
    table = _table(tiny_lm, spec, corpus).to_pylist()
    prompts = shard_prompts(tiny_lm, spec, GEN, corpus)
    assert len({len(p) for p in prompts}) > 1  # the shard really mixes lengths
    for row, prompt in zip(table, prompts):
        alone = sample_batch(
            tiny_lm.model, [prompt], tiny_lm.pad_id, GEN.max_new_tokens,
            _row_uniforms(spec, int(row["sample_id"][-5:])), strategy_chooser("internet", GEN), tiny_lm.device,
        )
        assert row["prompt_ids"] == prompt and row["token_ids"] == alone[0].tolist()


def _row_uniforms(spec: ShardSpec, row: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(spec.seed)
    return torch.rand((spec.size, GEN.max_new_tokens), generator=generator)[row : row + 1]


@pytest.mark.parametrize("attention,decoder", [("sdpa", "dynamic"), ("eager", "dynamic"), ("sdpa", "static"), ("eager", "static")])
def test_left_padding_matches_unpadded(tiny_model_dir, tiny_lm, attention, decoder):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention).eval()
    prompts = [[5, 17, 33, 2, 9, 41, 8, 12, 3], [7, 11], [19, 23, 29, 31]]
    batched = first_step_logits(model, prompts, tiny_lm.pad_id, torch.device("cpu"))
    for i, prompt in enumerate(prompts):
        alone = first_step_logits(model, [prompt], tiny_lm.pad_id, torch.device("cpu"))
        torch.testing.assert_close(batched[i], alone[0], atol=1e-5, rtol=1e-5)
    # The whole KV-cached loop too: each padded row generates what it would alone.
    uniforms = torch.rand((3, 10), generator=torch.Generator().manual_seed(0))
    choose = strategy_chooser("temperature", GEN)
    together = sample_batch(model, prompts, tiny_lm.pad_id, 10, uniforms, choose, torch.device("cpu"), decoder=decoder)
    for i, prompt in enumerate(prompts):
        alone = sample_batch(model, [prompt], tiny_lm.pad_id, 10, uniforms[i : i + 1], choose, torch.device("cpu"))
        assert together[i].tolist() == alone[0].tolist()


def test_kv_cache_loop_matches_full_recompute(tiny_lm):
    """Step t of the cached loop sees the same logits as a fresh forward over prompt + t tokens."""
    prompt, steps = [[tiny_lm.bos_id]], 6
    uniforms = torch.rand((1, steps), generator=torch.Generator().manual_seed(3))
    seen: list[torch.Tensor] = []

    def recording(step, logits, u):
        seen.append(logits.clone())
        return strategy_chooser("top_k", GEN)(step, logits, u)

    tokens = sample_batch(tiny_lm.model, prompt, tiny_lm.pad_id, steps, uniforms, recording, tiny_lm.device)[0].tolist()
    for step in range(steps):
        fresh = first_step_logits(tiny_lm.model, [prompt[0] + tokens[:step]], tiny_lm.pad_id, tiny_lm.device)
        torch.testing.assert_close(seen[step], fresh, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("strategy", ["top_k", "temperature", "internet"])
def test_every_decoder_gives_the_same_rows(tiny_lm, corpus, strategy):
    """memx's GPT-2 decoder and the HF module with either cache."""
    spec = _spec(strategy, 3)
    gpt2, static, dynamic = (
        pa.Table.from_batches(list(generate_shard(tiny_lm, spec, GEN, corpus, decoder=kind))) for kind in DECODERS
    )
    assert gpt2.equals(static) and static.equals(dynamic)


def test_cuda_oom_halves_the_batch_and_keeps_the_rows(tiny_lm, corpus, monkeypatch):
    expected = _table(tiny_lm, _spec("top_k"), corpus)
    real = shard_module.sample_batch

    def small_memory(model, prompts, *args, **kwargs):
        if len(prompts) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(model, prompts, *args, **kwargs)

    monkeypatch.setattr(shard_module, "sample_batch", small_memory)
    stats = GenerationStats()
    assert _table(tiny_lm, _spec("top_k"), corpus, stats=stats).equals(expected)
    assert stats.oom_halvings == 1 and stats.batch_size == 2 and stats.rows == 7


def test_errors(tiny_lm, corpus):
    with pytest.raises(ValueError, match="prompt corpus"):
        list(generate_shard(tiny_lm, _spec("internet"), GEN, None))
    with pytest.raises(ValueError, match="positions"):
        list(generate_shard(tiny_lm, _spec("top_k"), GEN.model_copy(update={"max_new_tokens": 600}), None))
