"""CPU benchmark: scoring a LoRA fine-tune with its base as the reference on one replica
(the target with its adapter unmerged, the reference the same weights with the adapter
disabled: `memx.chat.replica.load_scoring_models`) against two separate models (the base
loaded twice: a merged-adapter target and a plain base reference), side by side.

Each setup runs in its own fresh subprocess, so its resident memory is its own: printed
are the parameter bytes each holds (unique tensors) and the RSS growth from loading the
models, and the seconds per sample of `score_samples` (every metric, ratio_base included)
over the same samples, best of --rounds. Targets: memory <= 0.6x, time per sample <= 1.1x.

    python tests/bench/bench_adapter.py [--lab DIR] [--samples 200] [--rounds 3]

Without --lab the cached lab of the newest format with a chat fine-tune ($MEMX_CACHE/lab,
default preset preferred). Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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


def measure(lab: Path, setup: str, n: int, rounds: int) -> dict:
    import torch

    from memx.chat.replica import load_scoring_models
    from memx.config import ReferenceConfig, ScoringConfig, TargetConfig
    from memx.models import load_causal_lm
    from memx.scoring import score_samples

    torch.set_num_threads(1)
    xl, adapter = str(lab / "models" / "xl"), str(lab / "models" / "xl-chat")
    context = json.loads((lab / "lab.json").read_text())["settings"]["train"]["context"]
    samples = _samples(lab, n, context - 1)
    before = _rss()
    if setup == "shared":
        target, refs = load_scoring_models(TargetConfig(model=xl, adapter=adapter, dtype="float32"),
                                           [ReferenceConfig(name="base", model=xl, dtype="float32")], "cpu")
    else:
        target = load_causal_lm(xl, "float32", "cpu", adapter=adapter, merge=True)
        refs = {"base": load_causal_lm(xl, "float32", "cpu")}
    loaded = _rss() - before
    metrics = ["perplexity", "ratio_base", "zlib", "lowercase", "window", "min_k", "min_k_plus_plus"]
    config = ScoringConfig(batch_size=25)
    score_samples(samples.slice(0, 25), target, refs, config, metrics)  # warm-up
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        score_samples(samples, target, refs, config, metrics)
        best = min(best, time.perf_counter() - t)
    return {"setup": setup, "param_bytes": _param_bytes([target.model] + [r.model for r in refs.values()]),
            "rss_bytes": loaded, "seconds_per_sample": best / n}


def _default_lab() -> Path:
    from memx.lab.labdir import default_cache_root

    labs = [p for p in (default_cache_root() / "lab").glob("*-*") if (p / "models" / "xl-chat").is_dir()
            and (p / "lab.json").is_file()]
    if not labs:
        sys.exit("no cached lab with a chat fine-tune: run `python -m jobs.cli lab build --preset tiny` first")
    labs.sort(key=lambda p: (json.loads((p / "lab.json").read_text())["format"], p.name.startswith("default")))
    return labs[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setup", choices=["shared", "separate"], help=argparse.SUPPRESS)  # the subprocess's
    args = parser.parse_args()
    lab = args.lab or _default_lab()
    if args.setup:
        print(json.dumps(measure(lab, args.setup, args.samples, args.rounds)))
        return
    results = {}
    for setup in ("shared", "separate"):
        out = subprocess.run([sys.executable, __file__, "--lab", str(lab), "--samples", str(args.samples),
                              "--rounds", str(args.rounds), "--setup", setup], capture_output=True, text=True, check=True)
        results[setup] = json.loads(out.stdout.strip().splitlines()[-1])
    shared, separate = results["shared"], results["separate"]
    print(f"lab: {lab}  samples: {args.samples}  rounds: {args.rounds}")
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
