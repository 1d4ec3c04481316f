"""CPU benchmark: memx `score_samples` against the paper's scoring loop and the bare-pass floor.

All three run in one process, on the same loaded models and the same samples:

(a) memx: `score_samples` with every metric (perplexity, ratio per reference, zlib,
    lowercase, window, min_k, min_k_plus_plus), batched, exact generated ids.
(b) paper: what the paper's public script did per sample: decode the text, re-tokenize it
    for each model, one unbatched `model(ids, labels=ids)` per sample per model, plus the
    lowercase pass on the target and zlib. It computes fewer metrics than (a).
(c) floor: the bare batched forward passes (a) cannot avoid — target, each reference,
    lowercase — on pre-tokenized, length-sorted, right-padded batches; no reductions,
    no tokenizing, no zlib. Through the forward (a) takes: memx's own GPT-2 forward
    (`memx.gpt2_cpu`) for a fp32 GPT-2 on the CPU, else the HF module.

Printed: samples/s of each, a/b (target >= 2x on 2 cores) and memx's overhead over (c)
(target < 25%).

    python tests/bench/bench_score.py [--target DIR --ref small=DIR --ref medium=DIR]
    python tests/bench/bench_score.py --lab ~/.cache/memx/lab/default-XXXX   # models/{xl,small,medium}

Without model dirs, random GPT-2s are built from config (xl analogue ~5M parameters, refs
smaller) over a BPE tokenizer trained on stdlib text: speed does not depend on the weights.
Samples are BOS + `--new-tokens` random ids, decoded to text. Not a pytest test; no Ray.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from memx.config import ScoringConfig  # noqa: E402
from memx.gpt2_cpu import Gpt2Decoder, supports  # noqa: E402
from memx.models import LoadedModel, load_causal_lm, same_vocabulary  # noqa: E402


def default_models(root: Path) -> tuple[Path, dict[str, Path]]:
    from tests.scoring.scoring_fixtures import build_model, build_tokenizer, training_text

    tok = build_tokenizer(root / "tok", vocab_size=8192, text=training_text(max_bytes=1_500_000))
    xl = build_model(root / "xl", tok, n_embd=256, n_layer=4, n_head=4, n_positions=512, seed=0, initializer_range=0.02)
    medium = build_model(root / "medium", tok, n_embd=128, n_layer=3, n_head=4, n_positions=512, seed=1)
    small = build_model(root / "small", tok, n_embd=64, n_layer=2, n_head=2, n_positions=512, seed=2)
    return xl, {"small": small, "medium": medium}


def make_samples(lm: LoadedModel, n: int, new_tokens: int, seed: int = 0) -> pa.Table:
    rng = random.Random(seed)
    vocab = len(lm.tokenizer)
    # Random ids stand in for sampled ones (EOS included, as a sampler may emit it).
    tokens = [[rng.randrange(vocab) for _ in range(new_tokens)] for _ in range(n)]
    prompts = [[lm.bos_id] for _ in range(n)]
    texts = lm.tokenizer.batch_decode([p + t for p, t in zip(prompts, tokens)], skip_special_tokens=True)
    return pa.table(
        {
            "sample_id": [f"top_k-00000-{i:05d}" for i in range(n)],
            "prompt_ids": pa.array(prompts, type=pa.list_(pa.int32())),
            "token_ids": pa.array(tokens, type=pa.list_(pa.int32())),
            "text": texts,
        }
    )


def run_memx(samples, target, refs, batch_size) -> float:
    from memx.scoring import score_samples

    metrics = ["perplexity", *[f"ratio_{n}" for n in refs], "zlib", "lowercase", "window", "min_k", "min_k_plus_plus"]
    start = time.perf_counter()
    table = score_samples(samples, target, refs, ScoringConfig(batch_size=batch_size), metrics)
    seconds = time.perf_counter() - start
    assert table.num_rows == samples.num_rows
    return seconds


def _context(lm: LoadedModel) -> int:
    """Re-tokenized text can outgrow the model (the paper's script would crash there; memx
    truncates): both sides truncate alike so they score the same lengths."""
    return lm.model.config.n_positions


def run_paper(samples, target, refs) -> float:
    """The paper's per-sample loop (extraction.py: calculatePerplexity on each model)."""
    texts = samples.column("text").to_pylist()
    models = [target, *refs.values()]
    for lm in models:
        lm.model.loss_type = "ForCausalLM"  # what `labels=` uses for GPT-2 anyway, without the warning
    start = time.perf_counter()
    with torch.no_grad():
        for text in texts:
            for lm in models:
                ids = torch.tensor([[lm.bos_id, *lm.tokenizer.encode(text)][: _context(lm)]], device=lm.device)
                float(torch.exp(lm.model(ids, labels=ids).loss))
            ids = torch.tensor([[target.bos_id, *target.tokenizer.encode(text.lower())][: _context(target)]],
                               device=target.device)
            float(torch.exp(target.model(ids, labels=ids).loss))
            len(zlib.compress(text.encode("utf-8")))
    return time.perf_counter() - start


def _bare_passes(lm: LoadedModel, sequences: list[list[int]], batch_size: int) -> float:
    from memx.scoring.passes import pad_right

    ordered = sorted(sequences, key=len, reverse=True)
    batches = [pad_right(ordered[i : i + batch_size], lm.pad_id) for i in range(0, len(ordered), batch_size)]
    own = supports(lm.model, lm.device)
    start = time.perf_counter()
    with torch.inference_mode():
        for ids, mask in batches:
            if own:
                Gpt2Decoder.for_model(lm.model).logits(ids)
            else:
                lm.model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    return time.perf_counter() - start


def run_floor(samples, target, refs, batch_size) -> float:
    ids = [p + t for p, t in zip(samples.column("prompt_ids").to_pylist(), samples.column("token_ids").to_pylist())]
    texts = samples.column("text").to_pylist()

    def retok(lm, strings):
        return [[lm.bos_id, *x][: _context(lm)] for x in lm.tokenizer(strings, add_special_tokens=False)["input_ids"]]

    seconds = _bare_passes(target, ids, batch_size)
    for lm in refs.values():
        seconds += _bare_passes(lm, ids if same_vocabulary(target, lm) else retok(lm, texts), batch_size)
    return seconds + _bare_passes(target, retok(target, [t.lower() for t in texts]), batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=Path)
    parser.add_argument("--ref", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--lab", type=Path, help="a lab dir holding models/{xl,small,medium}")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of (c), (a), (b); best of each is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.lab:
            target_dir = args.lab / "models" / "xl"
            ref_dirs = {n: args.lab / "models" / n for n in ("small", "medium")}
        elif args.target:
            target_dir = args.target
            ref_dirs = dict(r.split("=", 1) for r in args.ref)
        else:
            target_dir, ref_dirs = default_models(Path(tmp))
        target = load_causal_lm(str(target_dir), dtype="float32", device="cpu")
        refs = {n: load_causal_lm(str(d), dtype="float32", device="cpu") for n, d in ref_dirs.items()}
        samples = make_samples(target, args.samples, args.new_tokens)
        params = {n: sum(p.numel() for p in lm.model.parameters()) / 1e6 for n, lm in {"target": target, **refs}.items()}
        print(f"torch threads {torch.get_num_threads()}; samples {args.samples} x (1 + {args.new_tokens}) tokens; "
              f"batch {args.batch_size}; params (M): " + ", ".join(f"{n} {p:.1f}" for n, p in params.items()))

        run_memx(samples.slice(0, 8), target, refs, args.batch_size)  # warm-up: first-call costs
        # Alternating rounds: a shared machine's load (VM steal time) then hits all three alike,
        # and the per-round ratios show how much of a difference is noise.
        rounds = []
        for _ in range(args.repeats):
            rounds.append({"c": run_floor(samples, target, refs, args.batch_size),
                           "a": run_memx(samples, target, refs, args.batch_size),
                           "b": run_paper(samples, target, refs)})
        best = {k: min(r[k] for r in rounds) for k in "abc"}
        rate = {k: args.samples / v for k, v in best.items()}
        print(f"(a) memx score_samples      {rate['a']:8.1f} samples/s  ({best['a']:.2f} s)")
        print(f"(b) paper per-sample loop   {rate['b']:8.1f} samples/s  ({best['b']:.2f} s)")
        print(f"(c) bare batched passes     {rate['c']:8.1f} samples/s  ({best['c']:.2f} s)")
        print(f"a/b speed-up: {rate['a'] / rate['b']:.2f}x (target >= 2x); per round: "
              + ", ".join(f"{r['b'] / r['a']:.2f}x" for r in rounds))
        print(f"memx overhead over (c): {100 * (best['a'] / best['c'] - 1):.1f}% (target < 25%); per round: "
              + ", ".join(f"{100 * (r['a'] / r['c'] - 1):.1f}%" for r in rounds))

if __name__ == "__main__":
    main()
