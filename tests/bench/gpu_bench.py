"""One-shot GPU benchmark (an H200, no hub access): generation speed of a GPT-2-XL-sized model,
projected to the paper's 600,000 samples, plus a separate scoring comparison.

    python tests/bench/gpu_bench.py --quick      # < ~5 minutes, summary table printed last
    python tests/bench/gpu_bench.py              # more batch sizes and batches per size

The model is `GPT2Config(n_layer=48, n_embd=1600, n_head=25)` (1.56B parameters) with
random weights in bf16, and the tokenizer a synthetic 50,257-entry word-level one: speed
does not depend on what the weights or the vocabulary say. `bench_scoring` belongs to the
scoring engineer and is skipped when `memx.scoring` is not there. Not a pytest test.
"""

from __future__ import annotations

import argparse
import time

import torch

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


def build_xl(device: torch.device, dtype: torch.dtype, smoke: bool = False):
    from transformers import GPT2Config, GPT2LMHeadModel

    from memx.models import LoadedModel

    tokenizer = synthetic_tokenizer()
    tokenizer.padding_side = "left"
    shape = dict(n_layer=2, n_embd=64, n_head=2) if smoke else dict(n_layer=48, n_embd=1600, n_head=25)
    config = GPT2Config(**shape, vocab_size=50257, n_positions=1024, bos_token_id=50256, eos_token_id=50256)
    torch.manual_seed(0)
    with device:  # random init directly on the GPU: seconds instead of minutes on the host
        model = GPT2LMHeadModel(config)
    model = model.to(dtype).eval()
    return LoadedModel(name="gpt2-xl-random", model=model, tokenizer=tokenizer, device=device, dtype=dtype)


def record(what: str, batch: int, tokens: int, seconds: float, note: str = "") -> None:
    ROWS.append((what, batch, tokens, seconds, note))
    print(f"  {what:<34} batch {batch:>4}  {tokens / seconds:>9.0f} tokens/s  {note}", flush=True)


def bench_memx(lm, strategy: str, batch: int, batches: int, new_tokens: int, corpus=None, quiet=False,
               cache: str | None = None) -> float:
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
    rows = sum(b.num_rows for b in generate_shard(lm, spec, gen, corpus, stats=stats, cache=cache))
    assert rows == size, (rows, size)
    if quiet:
        return stats.tokens_per_second
    peak = torch.cuda.max_memory_allocated(lm.device) / 2**30 if cuda else 0.0
    note = f"peak {peak:.0f} GiB" + (f", OOM halvings {stats.oom_halvings} -> {stats.batch_size}" if stats.oom_halvings else "")
    record(f"memx {strategy}" + (f" ({cache} cache)" if cache else ""), batch, stats.new_tokens, stats.seconds, note)
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


def bench_scoring(lm, quick: bool) -> None:
    """Scoring engineer's section: memx.scoring.token_stats against bare batched forward passes."""
    try:
        from memx.scoring import token_stats
    except ImportError as error:
        print(f"  scoring: skipped ({error})")
        return
    n, length, batch = (128, 257, 32) if quick else (512, 257, 64)
    if lm.device.type != "cuda":
        n, batch = 8, 4
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50257, (n, length), generator=generator)

    _sync(lm.device)
    started = time.perf_counter()
    with torch.inference_mode():
        for chunk in ids.split(batch):
            chunk = chunk.to(lm.device)
            logits = lm.model(input_ids=chunk).logits[:, :-1].float()
            logp = logits.log_softmax(-1).gather(-1, chunk[:, 1:, None]).squeeze(-1)
            logp.cpu()
    _sync(lm.device)
    record("scoring: bare forward + log_softmax", batch, n * (length - 1), time.perf_counter() - started)
    for moments in (False, True):
        try:
            started = time.perf_counter()
            token_stats(lm, ids.tolist(), batch, moments=moments)
            _sync(lm.device)
        except TypeError as error:  # the scoring API moved: report, do not hide the generation figures
            print(f"  scoring: token_stats call failed ({error})")
            return
        record(f"scoring: memx token_stats{' +moments' if moments else ''}", batch, n * (length - 1),
               time.perf_counter() - started)


def summary(best_rate: float, new_tokens: int) -> None:
    print("\n=== memx gpu_bench summary ===")
    print(f"{'what':<38}{'batch':>6}{'tokens':>10}{'seconds':>9}{'tokens/s':>11}  note")
    for what, batch, tokens, seconds, note in ROWS:
        print(f"{what:<38}{batch:>6}{tokens:>10}{seconds:>9.1f}{tokens / seconds:>11.0f}  {note}")
    hours = PAPER_SAMPLES * new_tokens / best_rate / 3600
    print(f"projection: {PAPER_SAMPLES:,} samples x {new_tokens} tokens at {best_rate:,.0f} tokens/s = "
          f"{hours:.2f} GPU-hours on this GPU ({hours / 8:.2f} h on 8 such GPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes, one batch each (< ~5 min)")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="a 2-layer model on whatever device: checks the script, not speed")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        raise SystemExit("gpu_bench needs a CUDA device (or --smoke)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}  torch {torch.__version__}", flush=True)

    started = time.perf_counter()
    lm = build_xl(device, torch.bfloat16 if device.type == "cuda" else torch.float32, smoke=args.smoke)
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
    bench_memx(lm, "top_k", best, 1, args.new_tokens, cache="dynamic")  # vs the default static cache
    bench_memx(lm, "temperature", best, 1, args.new_tokens)
    bench_memx(lm, "internet", best, 1, args.new_tokens, corpus=corpus)
    if not args.skip_scoring:
        bench_scoring(lm, args.quick)
    summary(rates[best], args.new_tokens)


if __name__ == "__main__":
    main()
