"""CPU benchmark: scoring a LoRA fine-tune with its base as the reference on one replica
(the target with its adapter unmerged, the reference the same weights with the adapter
disabled: `memx.chat.replica.load_scoring_models`) against two separate models (the base
loaded twice: a merged-adapter target and a plain base reference), side by side.

Memory: each setup loads in its own fresh subprocess, so its resident memory is its own:
printed are the parameter bytes each holds (unique tensors) and the RSS growth from loading
the models. Time: the seconds per sample of `score_samples` (every metric, ratio_base
included) over the same samples, both setups loaded in this one process and taking turns
within each of --rounds rounds, the best round of each kept, so a change in the machine's
load hits both alike (the ratio is the figure). Every process starts with the allocator
settings memx's replicas get (`cluster.schedule.ALLOCATOR_ENV`). Targets: memory <= 0.6x,
time per sample <= 1.1x.

`--synthetic-width W --layers L` replaces the lab's xl and xl-chat by a random GPT-2 of
width W and L layers (the lab's tokenizer, vocabulary and context; W/64 heads) with a
random LoRA of the lab adapter's rank, alpha and target modules, to see the same
comparison at a realistic width (the lab's tiny xl makes the LoRA's skinny matmuls look
expensive).

    python tests/bench/bench_adapter.py [--lab DIR] [--samples 200] [--rounds 3] [--synthetic-width 768 --layers 4]

Without --lab the cached lab of the newest format with a chat fine-tune ($MEMX_CACHE/lab,
default preset preferred). Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _param_bytes(models) -> int:
    seen = {}
    for model in models:
        for p in model.parameters():
            seen[p.data_ptr()] = p.numel() * p.element_size()
    return sum(seen.values())


def _samples(lab: Path, n: int, length: int):
    import pyarrow as pa
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(lab / "models" / "xl"))
    text = (lab / "corpus" / "conversations.jsonl").read_text(encoding="utf-8")
    ids = tokenizer(text[: 400 * n * length], add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    rows = [ids[i * length:(i + 1) * length] for i in range(n)]
    return pa.table({"sample_id": [f"top_k-00000-{i:06d}" for i in range(n)], "prompt_ids": [[bos]] * n,
                     "token_ids": rows, "text": tokenizer.batch_decode(rows)})


def synthetic_models(lab: Path, width: int, layers: int, into: Path) -> tuple[str, str]:
    """(model dir, adapter dir): a random GPT-2 of `width` x `layers` on the lab's tokenizer
    and context, and a random LoRA shaped like the lab's xl-chat adapter (non-zero B, so
    the adapter changes the scores as a trained one does)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    lab_model = json.loads((lab / "models" / "xl" / "config.json").read_text())
    lora = json.loads((lab / "models" / "xl-chat" / "adapter_config.json").read_text())
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=lab_model["vocab_size"], n_positions=lab_model["n_positions"], n_embd=width,
                        n_layer=layers, n_head=max(1, width // 64), bos_token_id=lab_model["bos_token_id"],
                        eos_token_id=lab_model["eos_token_id"])
    model_dir, adapter_dir = into / "base", into / "adapter"
    GPT2LMHeadModel(config).save_pretrained(model_dir)
    AutoTokenizer.from_pretrained(str(lab / "models" / "xl")).save_pretrained(model_dir)
    peft = get_peft_model(GPT2LMHeadModel.from_pretrained(model_dir), LoraConfig(
        r=lora["r"], lora_alpha=lora["lora_alpha"], target_modules=lora["target_modules"],
        lora_dropout=lora["lora_dropout"], fan_in_fan_out=True, init_lora_weights=False))
    peft.save_pretrained(adapter_dir)
    return str(model_dir), str(adapter_dir)


METRICS = ["perplexity", "ratio_base", "zlib", "lowercase", "window", "min_k", "min_k_plus_plus"]


def load(setup: str, xl: str, adapter: str):
    """(target, references) as a replica of `setup` holds them."""
    from memx.chat.replica import load_scoring_models
    from memx.config import ReferenceConfig, TargetConfig
    from memx.models import load_causal_lm

    if setup == "shared":
        return load_scoring_models(TargetConfig(model=xl, adapter=adapter, dtype="float32"),
                                   [ReferenceConfig(name="base", model=xl, dtype="float32")], "cpu")
    return (load_causal_lm(xl, "float32", "cpu", adapter=adapter, merge=True),
            {"base": load_causal_lm(xl, "float32", "cpu")})


def memory(setup: str, xl: str, adapter: str) -> dict:
    """In a fresh process: the parameter bytes the setup holds and the RSS growth from loading it."""
    before = _rss()
    target, refs = load(setup, xl, adapter)
    return {"setup": setup, "param_bytes": _param_bytes([target.model] + [r.model for r in refs.values()]),
            "rss_bytes": _rss() - before}


def timing(lab: Path, n: int, rounds: int, xl: str, adapter: str) -> dict[str, float]:
    """Seconds per sample of `score_samples` for each setup, both loaded in this process and
    taking turns within each round (best round kept): a change in the machine's load hits
    both alike, where separate processes timed minutes apart differed by 20% run to run."""
    import torch

    from memx.config import ScoringConfig
    from memx.scoring import score_samples

    torch.set_num_threads(1)
    context = json.loads((lab / "lab.json").read_text())["settings"]["train"]["context"]
    samples = _samples(lab, n, context - 1)
    setups = {setup: load(setup, xl, adapter) for setup in ("shared", "separate")}
    config = ScoringConfig(batch_size=25)
    best = {setup: float("inf") for setup in setups}
    for target, refs in setups.values():
        score_samples(samples.slice(0, 25), target, refs, config, METRICS)  # warm-up
    for _ in range(rounds):
        for setup, (target, refs) in setups.items():
            t = time.perf_counter()
            score_samples(samples, target, refs, config, METRICS)
            best[setup] = min(best[setup], time.perf_counter() - t)
    return {setup: seconds / n for setup, seconds in best.items()}


def _default_lab() -> Path:
    from memx.lab.labdir import default_cache_root

    labs = [p for p in (default_cache_root() / "lab").glob("*-*") if (p / "models" / "xl-chat").is_dir()
            and (p / "lab.json").is_file()]
    if not labs:
        sys.exit("no cached lab with a chat fine-tune: run `python -m jobs.cli lab build --preset tiny` first")
    labs.sort(key=lambda p: (json.loads((p / "lab.json").read_text())["format"], p.name.startswith("default")))
    return labs[-1]


def main() -> None:
    from cluster.schedule import ALLOCATOR_ENV

    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synthetic-width", type=int, help="a random GPT-2 of this width instead of the lab's xl")
    parser.add_argument("--layers", type=int, default=4, help="its layers (with --synthetic-width)")
    parser.add_argument("--setup", choices=["shared", "separate"], help=argparse.SUPPRESS)  # the subprocess's
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--adapter", help=argparse.SUPPRESS)
    args = parser.parse_args()
    lab = args.lab or _default_lab()
    if args.setup:
        print(json.dumps(memory(args.setup, args.model, args.adapter)))
        return
    # memx's replicas start with these allocator settings (cluster/schedule.py): so do both
    # memory subprocesses, and this process before it times (glibc reads them at start)
    if any(key not in os.environ for key in ALLOCATOR_ENV):
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], {**ALLOCATOR_ENV, **os.environ})
    with tempfile.TemporaryDirectory(prefix="memx-bench-adapter-") as tmp:
        xl, adapter = str(lab / "models" / "xl"), str(lab / "models" / "xl-chat")
        if args.synthetic_width:
            xl, adapter = synthetic_models(lab, args.synthetic_width, args.layers, Path(tmp))
        results = {}
        for setup in ("shared", "separate"):
            out = subprocess.run([sys.executable, __file__, "--lab", str(lab), "--setup", setup, "--model", xl,
                                  "--adapter", adapter], capture_output=True, text=True, check=True)
            results[setup] = json.loads(out.stdout.strip().splitlines()[-1])
        for setup, seconds in timing(lab, args.samples, args.rounds, xl, adapter).items():
            results[setup]["seconds_per_sample"] = seconds
    shared, separate = results["shared"], results["separate"]
    what = f"random GPT-2 width {args.synthetic_width} x {args.layers} layers" if args.synthetic_width else "lab xl"
    print(f"lab: {lab} ({what})  samples: {args.samples}  alternating rounds: {args.rounds}")
    print(f"{'setup':<10} {'param MB':>9} {'RSS MB':>8} {'ms/sample':>10}")
    for r in (shared, separate):
        print(f"{r['setup']:<10} {r['param_bytes'] / 2**20:>9.2f} {r['rss_bytes'] / 2**20:>8.1f} "
              f"{1000 * r['seconds_per_sample']:>10.3f}")
    print(f"memory (parameter bytes) shared/separate: {shared['param_bytes'] / separate['param_bytes']:.3f}x (target <= 0.6x)")
    print(f"memory (RSS growth)      shared/separate: {shared['rss_bytes'] / max(separate['rss_bytes'], 1):.3f}x")
    print(f"time per sample          shared/separate: "
          f"{shared['seconds_per_sample'] / separate['seconds_per_sample']:.3f}x (target <= 1.1x)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main()
