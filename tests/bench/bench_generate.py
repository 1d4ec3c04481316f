"""CPU benchmark: memx `generate_shard` against the paper's reference generation loop.

The reference is what the paper's public script did: Hugging Face `model.generate(
do_sample=True, top_k=40, max_length=prompt+N)` on batches of 10, fp32, one process.
Both run the `top_k` strategy on the same loaded model in one run, alternating in rounds
(a shared machine's load then hits both alike), and the table reports new tokens per
second of each and their ratio (target: memx >= 3x on 2 cores).

    python tests/bench/bench_generate.py [--model DIR] [--samples 256] [--batch-size 128] [--new-tokens 256]

Without --model a GPT-2 of about 5M parameters with random weights is built from config
(tokenizer trained on the standard library's source): speed does not depend on what the
weights say. This script knows nothing about Ray or storage; it is not a pytest test.
"""

from __future__ import annotations

import argparse
import sysconfig
import tempfile
import time
from pathlib import Path

import torch

EOT = "<|endoftext|>"


def build_default_model(directory: Path, vocab_size: int = 8192) -> Path:
    """A ~5M-parameter GPT-2 (4 layers, width 256) with a BPE tokenizer trained on stdlib text."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:120]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sources]
    raw = ByteLevelBPETokenizer()
    raw.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw._tokenizer, bos_token=EOT, eos_token=EOT, unk_token=EOT)
    eot = tokenizer.convert_tokens_to_ids(EOT)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=1024, n_embd=256, n_layer=4, n_head=4,
        bos_token_id=eot, eos_token_id=eot,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    tokenizer.save_pretrained(directory)
    model.save_pretrained(directory)
    return directory


def run_memx(lm, samples: int, batch_size: int, new_tokens: int) -> tuple[float, int]:
    from memx.config import GenerationConfig
    from memx.generation import GenerationStats, generate_shard
    from memx.plan import ShardSpec

    gen = GenerationConfig(samples_per_strategy=samples, shard_size=samples, batch_size=batch_size, max_new_tokens=new_tokens)
    spec = ShardSpec("samples", "top_k", 0, 0, samples, 1234)
    stats = GenerationStats()
    rows = sum(batch.num_rows for batch in generate_shard(lm, spec, gen, None, stats=stats))
    assert rows == samples
    return stats.seconds, stats.new_tokens


def run_reference(lm, samples: int, new_tokens: int, batch_size: int = 10) -> tuple[float, int]:
    """The paper's loop: HF generate on batches of 10 BOS prompts, top-k 40, T = 1."""
    model, tokens = lm.model, 0
    started = time.perf_counter()
    for _ in range(-(-samples // batch_size)):
        prompt = torch.full((batch_size, 1), lm.bos_id, dtype=torch.long, device=lm.device)
        with torch.no_grad():
            output = model.generate(
                input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=40,
                temperature=1.0, max_length=1 + new_tokens, pad_token_id=lm.pad_id,
            )
        tokens += (output.shape[1] - 1) * batch_size
        lm.tokenizer.batch_decode(output.tolist(), skip_special_tokens=True)  # the paper decoded every batch too
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a local HF model directory (e.g. the lab's xl analogue)")
    parser.add_argument("--samples", type=int, default=256, help="memx samples over all rounds")
    parser.add_argument("--rounds", type=int, default=2, help="alternations reference / memx (10 reference samples each)")
    parser.add_argument("--batch-size", type=int, default=128, help="memx batch (the reference keeps the paper's 10)")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from memx.models import load_causal_lm

    with tempfile.TemporaryDirectory(prefix="memx-bench-") as scratch:
        model_dir = args.model or str(build_default_model(Path(scratch)))
        lm = load_causal_lm(model_dir, dtype="float32", device="cpu")
    params = sum(p.numel() for p in lm.model.parameters()) / 1e6
    run_memx(lm, 8, 8, 8)  # warm-up: first-call allocations and lazy imports
    run_reference(lm, 10, 8)

    # Interleaved rounds: the machine is shared, so both engines must see the same load.
    ref_seconds = ref_tokens = memx_seconds = memx_tokens = 0.0
    ratios = []
    per_round = max(1, args.samples // args.rounds)
    for _ in range(args.rounds):
        r_s, r_t = run_reference(lm, 10, args.new_tokens)
        m_s, m_t = run_memx(lm, per_round, args.batch_size, args.new_tokens)
        ref_seconds, ref_tokens, memx_seconds, memx_tokens = ref_seconds + r_s, ref_tokens + r_t, memx_seconds + m_s, memx_tokens + m_t
        ratios.append((m_t / m_s) / (r_t / r_s))
    ref_rate, memx_rate = ref_tokens / ref_seconds, memx_tokens / memx_seconds
    reference_samples, memx_samples = 10 * args.rounds, per_round * args.rounds
    ref_tokens, memx_tokens = int(ref_tokens), int(memx_tokens)

    print(f"\nmodel: {args.model or 'random GPT-2 (built)'}  {params:.1f}M params  fp32  threads={args.threads}")
    print(f"{'engine':<34}{'samples':>8}{'batch':>7}{'tokens':>9}{'seconds':>9}{'tokens/s':>10}")
    print(f"{'reference (HF generate, paper)':<34}{reference_samples:>8}{10:>7}{ref_tokens:>9}{ref_seconds:>9.1f}{ref_rate:>10.0f}")
    print(f"{'memx generate_shard':<34}{memx_samples:>8}{args.batch_size:>7}{memx_tokens:>9}{memx_seconds:>9.1f}{memx_rate:>10.0f}")
    print(f"speed-up memx / reference: {memx_rate / ref_rate:.2f}x (target >= 3x); per round: "
          + ", ".join(f"{r:.2f}x" for r in ratios))


if __name__ == "__main__":
    main()
