"""One shard of samples: strategy → prompts → batched sampling → Arrow record batches.

`generate_shard` is pure: given a loaded model, a `ShardSpec` and the generation config
it yields the shard's rows as `SAMPLE_SCHEMA` record batches, and the same spec always
gives the same rows. The `prefix` strategy (docs/formulas.md#prefix) takes its prompts from sequences cut
from a `DocumentSource` (`memx.generation.prefix`), continues each for exactly
suffix_tokens tokens (greedy, or top-k with one row per draw) and keeps the true suffix
in `target_ids`; the other strategies leave `target_ids` and `sequence_id` null. The
chat strategies `divergence` and `template` (`memx.generation.chat`) render their prompts
through the target's chat template and sample as `top_k`; every row carries `span_from`
(0 but for divergence rows) and the divergence columns (null for other strategies).
All randomness comes from the shard seed: a numpy generator for
internet prompts and prefix sequences, and a device `torch.Generator` that draws every row's per-step
uniforms up front, so a row's tokens do not depend on batch size or batch neighbours
(CUDA OOM halving and length sorting keep the samples; only float round-off of
differently shaped kernels could differ). Writing, storage and Ray are the caller's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import torch

from memx.config import GenerationConfig
from memx.generation.chat import CHAT_FIELDS, ChatRows, chat_columns, chat_prompts, is_chat
from memx.generation.chat import new_tokens as chat_new_tokens
from memx.documents import DocumentSource
from memx.generation.prefix import shard_sequences
from memx.generation.processors import DecayingTemperature, greedy, sample_full, sample_top_k
from memx.generation.prompts import PromptCorpus
from memx.generation.sampler import Choose, default_decoder, sample_batch
from memx.models import LoadedModel
from memx.plan import ShardSpec

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string()),
        pa.field("strategy", pa.string()),
        pa.field("shard", pa.int32()),
        pa.field("seed", pa.int64()),
        pa.field("prompt_ids", pa.list_(pa.int32())),
        pa.field("token_ids", pa.list_(pa.int32())),
        pa.field("text", pa.string()),
        pa.field("target_ids", pa.list_(pa.int32())),  # prefix: the true suffix; null otherwise
        pa.field("sequence_id", pa.string()),  # prefix: "{document index}:{token offset}"; null otherwise
        *CHAT_FIELDS,  # span_from for every strategy; divergence's columns, null otherwise
    ]
)


@dataclass
class GenerationStats:
    """Filled in while the shard's iterator is consumed; `seconds` excludes the caller's own time."""

    rows: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    batches: int = 0
    oom_halvings: int = 0
    batch_size: int = 0  # the size the shard ended with (smaller than configured after OOM)
    prompt_seconds: float = 0.0  # of `seconds`: making the prompts (prefix: reading and tokenizing documents)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def strategy_chooser(strategy: str, gen: GenerationConfig) -> Choose:
    """The per-step token rule of each docs/formulas.md strategy; `prefix` (docs/formulas.md#prefix) is argmax with
    decoding: greedy, else the top_k strategy's rule (`generation.top_k`, T = 1), which
    the chat strategies `divergence` and `template` sample with too."""
    if strategy == "prefix" and gen.prefix.decoding == "greedy":
        return lambda step, logits, uniforms: greedy(logits)
    if strategy in ("top_k", "internet", "prefix", "divergence", "template"):
        k = gen.top_k
        return lambda step, logits, uniforms: sample_top_k(logits, k, uniforms)
    if strategy == "temperature":
        t = gen.temperature
        warp = DecayingTemperature(t.start, t.end, t.decay_tokens)
        return lambda step, logits, uniforms: sample_full(warp(step, logits), uniforms)
    raise ValueError(f"unknown generation strategy {strategy!r}")


def shard_prompts(lm: LoadedModel, spec: ShardSpec, gen: GenerationConfig, prompts: PromptCorpus | None) -> list[list[int]]:
    if spec.strategy == "prefix":
        raise ValueError("prefix prompts come with their suffixes: use prefix_rows")
    if is_chat(spec.strategy):
        return chat_prompts(lm, spec.strategy, spec.seed, spec.size, gen).prompts
    if spec.strategy in ("top_k", "temperature"):
        return [[lm.bos_id] for _ in range(spec.size)]
    if spec.strategy != "internet":
        raise ValueError(f"unknown generation strategy {spec.strategy!r}")
    if prompts is None:
        raise ValueError("the internet strategy needs a prompt corpus (generation.internet.prompts)")
    rng = np.random.default_rng(spec.seed)
    return prompts.sample_prompts(lm.tokenizer, spec.size, gen.internet.min_tokens, gen.internet.max_tokens, rng)


def prefix_rows(lm: LoadedModel, spec: ShardSpec, gen: GenerationConfig, documents: DocumentSource | None):
    """The prefix shard's rows (`PrefixSequences`): prompts, true suffixes and sequence ids."""
    if documents is None:
        raise ValueError("the prefix strategy needs a document source (generation.prefix.source)")
    p = gen.prefix
    return shard_sequences(documents, lm.tokenizer, spec.seed, spec.size, p.prefix_tokens, p.suffix_tokens, p.draws)


def _fixed_width(block: np.ndarray) -> pa.ListArray:
    n, width = block.shape
    return pa.ListArray.from_arrays(
        pa.array(np.arange(0, n * width + 1, width, dtype=np.int32)), pa.array(block.reshape(-1).astype(np.int32))
    )


def _record_batch(spec: ShardSpec, rows: list[int], prompts: list[list[int]], tokens: np.ndarray, texts: list[str],
                  targets: np.ndarray | None, sequence_ids: list[str] | None, chat: ChatRows | None = None,
                  table=None) -> pa.RecordBatch:
    n = len(rows)
    if targets is None:
        target_array, id_array = pa.nulls(n, pa.list_(pa.int32())), pa.nulls(n, pa.string())
    else:
        target_array = _fixed_width(targets[rows])
        id_array = pa.array([sequence_ids[r] for r in rows], pa.string())
    columns = [
        pa.array([spec.sample_id(r) for r in rows], pa.string()),
        pa.array([spec.strategy] * n, pa.string()),
        pa.array(np.full(n, spec.index, dtype=np.int32)),
        pa.array(np.full(n, spec.seed, dtype=np.int64)),
        pa.array([prompts[r] for r in rows], pa.list_(pa.int32())),
        _fixed_width(tokens),
        pa.array(texts, pa.string()),
        target_array,
        id_array,
        *chat_columns(spec.strategy, rows, tokens, chat, table),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SAMPLE_SCHEMA)


def generate_shard(
    lm: LoadedModel,
    spec: ShardSpec,
    gen: GenerationConfig,
    prompts: PromptCorpus | None = None,
    *,
    documents: DocumentSource | None = None,
    stats: GenerationStats | None = None,
    decoder: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the shard's rows in row order, in record batches of at most `gen.batch_size` rows.

    Rows are generated shortest-prompt-first (less padding) but yielded in row order:
    rows go out as soon as every earlier row is done, which for single-token prompts
    means one record batch per generated batch, and for mixed prompt lengths mostly at
    the end of the shard (the whole shard is a few MB of token ids: buffering is cheap).
    On CUDA OOM the batch is halved, for the rest of the shard, and retried.
    `documents` is the `prefix` strategy's source (scanned once per process by the caller);
    its rows get exactly `gen.prefix.suffix_tokens` new tokens, the others `gen.max_new_tokens`.
    `decoder`: "gpt2" (the default for a fp32 GPT-2 on the CPU) is memx's own
    GPT-2 decoder; "static" (the default otherwise, with transformers 5) runs the HF module
    over a preallocated cache, "dynamic" concatenates the whole cache at every step, which
    measured 1.4-3x slower on CPU and costs memory bandwidth on GPU. Same tokens each way,
    up to float round-off.
    """
    decoder = decoder or default_decoder(lm.model, lm.device)
    stats = stats if stats is not None else GenerationStats()
    started = time.perf_counter()
    targets = sequence_ids = chat = table = None
    if is_chat(spec.strategy):
        chat = chat_prompts(lm, spec.strategy, spec.seed, spec.size, gen)
        row_prompts, new_tokens = chat.prompts, chat_new_tokens(spec.strategy, gen)
        table = lm.byte_table() if spec.strategy == "divergence" else None
    elif spec.strategy == "prefix":
        sequences = prefix_rows(lm, spec, gen, documents)
        row_prompts, targets, sequence_ids = sequences.prefixes.tolist(), sequences.suffixes, sequences.sequence_ids
        new_tokens = gen.prefix.suffix_tokens
    else:
        row_prompts, new_tokens = shard_prompts(lm, spec, gen, prompts), gen.max_new_tokens
    stats.prompt_seconds += time.perf_counter() - started
    choose = strategy_chooser(spec.strategy, gen)
    generator = torch.Generator(device=lm.device)
    generator.manual_seed(spec.seed)
    uniforms = torch.rand((spec.size, new_tokens), generator=generator, device=lm.device)
    order = sorted(range(spec.size), key=lambda r: len(row_prompts[r]))  # stable: ties keep row order
    done: dict[int, np.ndarray] = {}
    next_row, cursor, batch_size = 0, 0, gen.batch_size
    stats.batch_size = batch_size
    stats.seconds += time.perf_counter() - started

    while cursor < spec.size:
        started = time.perf_counter()
        rows = order[cursor : cursor + batch_size]
        index = torch.tensor(rows, device=lm.device)
        try:
            tokens = sample_batch(
                lm.model, [row_prompts[r] for r in rows], lm.pad_id, new_tokens,
                uniforms.index_select(0, index), choose, lm.device, decoder=decoder,
            )
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise
            tokens = None
        if tokens is None:
            # Outside the handler, so the failed batch's activations are already unreferenced.
            torch.cuda.empty_cache()
            batch_size = max(1, len(rows) // 2)
            stats.oom_halvings += 1
            stats.batch_size = batch_size
            stats.seconds += time.perf_counter() - started
            continue
        cursor += len(rows)
        done.update(zip(rows, tokens))
        stats.batches += 1
        ready = []
        while next_row < spec.size and next_row in done:
            ready.append(next_row)
            next_row += 1
        stats.seconds += time.perf_counter() - started
        # Rows that waited for earlier ones (length-sorted shards) go out in batch-sized
        # record batches, so the writer's row groups stay the size it was promised.
        for first in range(0, len(ready), gen.batch_size):
            started = time.perf_counter()
            chunk = ready[first : first + gen.batch_size]
            block = np.stack([done.pop(r) for r in chunk])
            texts = lm.tokenizer.batch_decode(
                [row_prompts[r] + t.tolist() for r, t in zip(chunk, block)], skip_special_tokens=True
            )
            batch = _record_batch(spec, chunk, row_prompts, block, texts, targets, sequence_ids, chat, table)
            stats.rows += len(chunk)
            stats.prompt_tokens += sum(len(row_prompts[r]) for r in chunk)
            stats.new_tokens += block.size
            stats.seconds += time.perf_counter() - started
            yield batch
