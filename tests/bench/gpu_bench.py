"""One-shot GPU benchmark (an H200, no hub access): generation speed of a GPT-2-XL-sized model,
projected to the paper's 600,000 samples, plus a separate scoring comparison.

    python tests/bench/gpu_bench.py --quick      # < ~5 minutes, summary table printed last
    python tests/bench/gpu_bench.py              # more batch sizes and batches per size

The model is `GPT2Config(n_layer=48, n_embd=1600, n_head=25)` (1.56B parameters) with
random weights in bf16, and the tokenizer a synthetic 50,257-entry word-level one: speed
does not depend on what the weights or the vocabulary say. The scoring section adds a
GPT-2-small-sized reference (`n_layer=12, n_embd=768`) and compares memx `score_samples`
(every metric, batched) with the paper's loop (decode, re-tokenize, one unbatched pass per
sample per model plus the lowercase pass) from tests/bench/bench_score.py. The extraction
section times the exact extraction pass (docs/formulas.md#extraction) against bare forward passes of the same
windows. Not a pytest test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere: memx and tests.bench importable
    sys.path.insert(0, str(ROOT))

EOT = "<|endoftext|>"
PAPER_SAMPLES = 600_000
ROWS: list[tuple[str, int, int, float, str]] = []  # (what, batch, tokens, seconds, note)


def synthetic_tokenizer(vocab_size: int = 50257):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(vocab_size - 1)}
    vocab[EOT] = vocab_size - 1  # where GPT-2 keeps it
    raw = Tokenizer(models.WordLevel(vocab, unk_token=EOT))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=EOT, eos_token=EOT, unk_token=EOT)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


XL_SHAPE = dict(n_layer=48, n_embd=1600, n_head=25)
SMALL_SHAPE = dict(n_layer=12, n_embd=768, n_head=12)
SMOKE_SHAPE = dict(n_layer=2, n_embd=64, n_head=2)


def build_gpt2(device: torch.device, dtype: torch.dtype, shape: dict, name: str, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    from memx.models import LoadedModel

    tokenizer = synthetic_tokenizer()
    tokenizer.padding_side = "left"
    config = GPT2Config(**shape, vocab_size=50257, n_positions=1024, bos_token_id=50256, eos_token_id=50256)
    torch.manual_seed(seed)
    with device:  # random init directly on the GPU: seconds instead of minutes on the host
        model = GPT2LMHeadModel(config)
    model = model.to(dtype).eval()
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, device=device, dtype=dtype)


def record(what: str, batch: int, tokens: int, seconds: float, note: str = "") -> None:
    ROWS.append((what, batch, tokens, seconds, note))
    print(f"  {what:<34} batch {batch:>4}  {tokens / seconds:>9.0f} tokens/s  {note}", flush=True)


def bench_memx(lm, strategy: str, batch: int, batches: int, new_tokens: int, corpus=None, quiet=False,
               decoder: str | None = None) -> float:
    from memx.config import GenerationConfig
    from memx.generation import GenerationStats, generate_shard
    from memx.plan import ShardSpec

    size = batch * batches
    gen = GenerationConfig(samples_per_strategy=size, shard_size=size, batch_size=batch, max_new_tokens=new_tokens)
    spec = ShardSpec("samples", strategy, 0, 0, size, 4321)
    stats = GenerationStats()
    cuda = lm.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(lm.device)
    rows = sum(b.num_rows for b in generate_shard(lm, spec, gen, corpus, stats=stats, decoder=decoder))
    assert rows == size, (rows, size)
    if quiet:
        return stats.tokens_per_second
    peak = torch.cuda.max_memory_allocated(lm.device) / 2**30 if cuda else 0.0
    note = f"peak {peak:.0f} GiB" + (f", OOM halvings {stats.oom_halvings} -> {stats.batch_size}" if stats.oom_halvings else "")
    record(f"memx {strategy}" + (f" ({decoder} cache)" if decoder else ""), batch, stats.new_tokens, stats.seconds, note)
    return stats.tokens_per_second


def bench_reference(lm, new_tokens: int, batch: int = 10) -> float:
    """The paper's loop: HF generate, top-k 40, batches of 10 BOS prompts."""
    prompt = torch.full((batch, 1), lm.bos_id, dtype=torch.long, device=lm.device)
    _sync(lm.device)
    started = time.perf_counter()
    with torch.no_grad():
        out = lm.model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=40,
                                max_length=1 + new_tokens, min_length=1 + new_tokens, pad_token_id=lm.pad_id)
    _sync(lm.device)
    seconds = time.perf_counter() - started
    record("reference HF generate (paper)", batch, (out.shape[1] - 1) * batch, seconds)
    return (out.shape[1] - 1) * batch / seconds


SCORING: list[str] = []
EXTRACTION: list[str] = []


def bench_extraction(lm, quick: bool, smoke: bool) -> None:
    """The exact extraction pass (docs/formulas.md#extraction: top-k 40, 50-token prefix and suffix) on random windows:
    windows/s and tokens/s at each batch size, against bare batched forward passes of the same ids."""
    from memx.extraction.passes import WindowPass

    prefix = suffix = 8 if smoke else 50
    batches = [8] if smoke else ([64, 256] if quick else [64, 128, 256, 512])
    count = 16 if smoke else (1024 if quick else 4096)
    width = prefix + suffix
    ids = torch.randint(0, 50256, (count, width), generator=torch.Generator().manual_seed(2)).to(lm.device)
    flat, starts = ids.reshape(-1), torch.arange(count).numpy() * width
    for batch in batches:
        window_pass = WindowPass(lm.model, lm.device, top_k=40, batch_size=batch)
        window_pass.score(flat, starts[:batch], prefix, suffix)  # warm-up
        _sync(lm.device)
        started = time.perf_counter()
        window_pass.score(flat, starts, prefix, suffix)  # returns host arrays: synchronised
        pass_s = time.perf_counter() - started
        started = time.perf_counter()
        with torch.inference_mode():
            for first in range(0, count, batch):
                lm.model(input_ids=ids[first: first + batch], use_cache=False).logits.float().sum().item()
        bare_s = time.perf_counter() - started
        EXTRACTION.append(f"extraction pass, batch {batch}: {count / pass_s:,.0f} windows/s "
                          f"({count * width / pass_s:,.0f} tokens/s), bare forward {count * width / bare_s:,.0f} "
                          f"tokens/s: overhead {100 * (pass_s / bare_s - 1):+.1f}% (target <= +25%)")
        print("  " + EXTRACTION[-1], flush=True)


def bench_scoring(target, quick: bool, smoke: bool, new_tokens: int) -> None:
    """memx `score_samples` (target + small-sized reference, every metric) against the paper's
    per-sample loop, on the same random samples; samples/s of each and the ratio (target >= 20x)."""
    from tests.bench.bench_score import make_samples, run_memx, run_paper

    ref = build_gpt2(target.device, target.dtype, SMOKE_SHAPE if smoke else SMALL_SHAPE, "gpt2-small-random", seed=1)
    refs = {"small": ref}
    n_memx, n_paper, batch = (512, 64, 64) if quick else (2048, 128, 128)
    if smoke:
        n_memx, n_paper, batch = 16, 4, 8
    samples = make_samples(target, n_memx, new_tokens)
    run_memx(samples.slice(0, batch), target, refs, batch)  # warm-up
    run_paper(samples.slice(0, 2), target, refs)
    memx_s = run_memx(samples, target, refs, batch)  # returns host rows: synchronised
    paper_s = run_paper(samples.slice(0, n_paper), target, refs)
    memx_rate, paper_rate = n_memx / memx_s, n_paper / paper_s
    SCORING.append(f"scoring, {new_tokens} tokens, xl + small ref: memx {memx_rate:,.1f} samples/s (batch {batch}, "
                   f"{n_memx} samples), paper loop {paper_rate:,.1f} samples/s ({n_paper} samples): "
                   f"{memx_rate / paper_rate:.1f}x (target >= 20x)")
    print("  " + SCORING[-1], flush=True)


def summary(best_rate: float, new_tokens: int) -> None:
    print("\n=== memx gpu_bench summary ===")
    print(f"{'what':<38}{'batch':>6}{'tokens':>10}{'seconds':>9}{'tokens/s':>11}  note")
    for what, batch, tokens, seconds, note in ROWS:
        print(f"{what:<38}{batch:>6}{tokens:>10}{seconds:>9.1f}{tokens / seconds:>11.0f}  {note}")
    hours = PAPER_SAMPLES * new_tokens / best_rate / 3600
    print(f"projection: {PAPER_SAMPLES:,} samples x {new_tokens} tokens at {best_rate:,.0f} tokens/s = "
          f"{hours:.2f} GPU-hours on this GPU ({hours / 8:.2f} h on 8 such GPUs)")
    for line in SCORING + EXTRACTION:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes, one batch each (< ~5 min)")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="a 2-layer model on whatever device: checks the script, not speed")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        raise SystemExit("gpu_bench needs a CUDA device (or --smoke)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}  torch {torch.__version__}", flush=True)

    started = time.perf_counter()
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    lm = build_gpt2(device, dtype, SMOKE_SHAPE if args.smoke else XL_SHAPE, "gpt2-xl-random")
    params = sum(p.numel() for p in lm.model.parameters()) / 1e9
    print(f"built {params:.2f}B-parameter GPT-2-XL-sized model in {time.perf_counter() - started:.0f}s", flush=True)

    from memx.generation import PromptCorpus

    words = torch.randint(0, 50256, (200_000,), generator=torch.Generator().manual_seed(1)).tolist()
    corpus = PromptCorpus.from_texts([" ".join(f"t{w}" for w in words[i : i + 2000]) for i in range(0, len(words), 2000)])

    bench_memx(lm, "top_k", 8, 1, 8, quiet=True)  # warm-up: kernels, allocator, lazy imports
    bench_reference(lm, args.new_tokens)
    batch_sizes, batches = ([64, 256, 512], 1) if args.quick else ([64, 128, 256, 512, 768], 2)
    if args.smoke:
        batch_sizes = [4, 8]
    rates = {b: bench_memx(lm, "top_k", b, batches, args.new_tokens) for b in batch_sizes}
    best = max(rates, key=rates.get)
    bench_memx(lm, "top_k", best, 1, args.new_tokens, decoder="dynamic")  # vs the default static cache
    bench_memx(lm, "temperature", best, 1, args.new_tokens)
    bench_memx(lm, "internet", best, 1, args.new_tokens, corpus=corpus)
    if not args.skip_scoring:
        bench_scoring(lm, args.quick, args.smoke, args.new_tokens)
    if not args.skip_extraction:
        bench_extraction(lm, args.quick, args.smoke)
    summary(rates[best], args.new_tokens)


if __name__ == "__main__":
    main()
