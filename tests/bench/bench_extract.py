"""CPU benchmark: exact extraction probability (docs/formulas.md#extraction) against the sampling estimate it replaces.

Case `ratio`: the same (prefix, suffix) sequences measured two ways, alternating in rounds on
one loaded model (a shared machine's load then hits both alike):
- sampling: memx's `prefix` strategy with `decoding: top_k, draws: 100` (top-k 40), which
  estimates each sequence's extraction probability from 100 continuations;
- exact: the extraction pass (`memx.extraction.passes.WindowPass`), one teacher-forced forward pass
  per sequence giving p_z itself, over the ids the sampling shard drew.
Printed: sequences per second of each and their ratio (target: exact >= 50x).

Case `overhead`: tokens/s of the extraction pass against bare batched forward passes of the
same windows (model(ids) with all logits, nothing reduced), same batches, alternating
(target: overhead <= 25%; the pass projects only the suffix positions onto the vocabulary,
so it can be faster than bare).

    python tests/bench/bench_extract.py [--model DIR] [--sequences 8] [--draws 100] [--rounds 3]

Without --model the lab's xl model is used when a lab is cached ($MEMX_CACHE/lab), else a
random GPT-2 of about 5M parameters (speed does not depend on the weights). Not a pytest test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.bench_generate import build_default_model, cached_lab_model, write_prefix_source  # noqa: E402

PREFIX = SUFFIX = 50


def sampling_round(lm, documents, sequences: int, draws: int, seed: int):
    """(seconds, prefix + suffix ids of each distinct sequence) of one prefix shard with draws."""
    from memx.config import GenerationConfig
    from memx.generation import GenerationStats, generate_shard
    from memx.plan import ShardSpec

    rows = sequences * draws
    gen = GenerationConfig(strategies=["prefix"], samples_per_strategy=rows, shard_size=rows, batch_size=min(rows, 128),
                           prefix={"source": documents.uri, "prefix_tokens": PREFIX, "suffix_tokens": SUFFIX,
                                   "decoding": "top_k", "draws": draws})
    stats = GenerationStats()
    started = time.perf_counter()
    batches = list(generate_shard(lm, ShardSpec("samples", "prefix", 0, 0, rows, seed), gen, documents=documents,
                                  stats=stats))
    seconds = time.perf_counter() - started
    seen, windows = set(), []
    for batch in batches:
        for sid, prompt, target in zip(batch.column("sequence_id").to_pylist(), batch.column("prompt_ids").to_pylist(),
                                       batch.column("target_ids").to_pylist()):
            if sid not in seen:
                seen.add(sid)
                windows.append(prompt + target)
    return seconds, windows


def exact_round(window_pass, windows: list[list[int]], repeat: int) -> float:
    """Seconds per pass over `windows` (each scored exactly), timed over `repeat` passes."""
    flat = torch.tensor([t for w in windows for t in w], device=window_pass.device)
    starts = np.arange(len(windows)) * (PREFIX + SUFFIX)
    started = time.perf_counter()
    for _ in range(repeat):
        window_pass.score(flat, starts, PREFIX, SUFFIX)
    return (time.perf_counter() - started) / repeat


@torch.inference_mode()
def bare_round(model, ids: torch.Tensor, batch_size: int) -> float:
    started = time.perf_counter()
    for first in range(0, len(ids), batch_size):
        model(input_ids=ids[first: first + batch_size], use_cache=False).logits.sum()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from memx.extraction.passes import WindowPass
    from memx.generation import DocumentSource
    from memx.models import load_causal_lm

    tmp = Path(tempfile.mkdtemp(prefix="memx-bench-extract-"))
    model = args.model or cached_lab_model(PREFIX + SUFFIX) or str(build_default_model(tmp / "model"))
    lm = load_causal_lm(model, dtype="float32", device="cpu")
    documents = DocumentSource.scan(str(write_prefix_source(tmp / "docs.jsonl", 4.0, 200)))
    window_pass = WindowPass(lm.model, lm.device, top_k=40, batch_size=args.batch_size)
    print(f"model {model} ({sum(p.numel() for p in lm.model.parameters()):,} parameters), "
          f"{torch.get_num_threads()} threads; {args.sequences} sequences x {args.draws} draws per round")
    sampled = exact = 0.0
    measured = 0
    windows: list[list[int]] = []
    for round_ in range(args.rounds):
        seconds, windows = sampling_round(lm, documents, args.sequences, args.draws, seed=round_)
        sampled += seconds
        repeat = 20
        exact += exact_round(window_pass, windows, repeat)
        measured += len(windows)
        print(f"round {round_ + 1}: sampling {len(windows) / seconds:,.1f} sequences/s, "
              f"exact {len(windows) / (exact / (round_ + 1)):,.0f} sequences/s", flush=True)
    ratio = sampled / exact
    print(f"\nsequences measured per second: sampling (top-k 40, {args.draws} draws) {measured / sampled:,.2f}, "
          f"exact {measured / exact:,.1f}; ratio exact/sampling {ratio:,.0f}x (target >= 50x)")

    many = [w for w in windows for _ in range(max(1, 256 // max(1, len(windows))))]
    ids = torch.tensor(many)
    flat, starts = ids.reshape(-1), np.arange(len(many)) * (PREFIX + SUFFIX)
    pass_s = bare_s = 0.0
    for _ in range(args.rounds):
        started = time.perf_counter()
        window_pass.score(flat, starts, PREFIX, SUFFIX)
        pass_s += time.perf_counter() - started
        bare_s += bare_round(lm.model, ids, args.batch_size)
    tokens = ids.numel() * args.rounds
    overhead = pass_s / bare_s - 1
    print(f"tokens/s over {len(many)} windows of {PREFIX + SUFFIX} tokens, batch {args.batch_size}: extraction pass "
          f"{tokens / pass_s:,.0f}, bare forward {tokens / bare_s:,.0f}; overhead {100 * overhead:+.1f}% "
          f"(target <= +25%)")


if __name__ == "__main__":
    main()
