"""CPU benchmark of membership scoring on labelled documents, and of its whole-run figures.

(a) Scoring, in one process, on the same loaded lab models and the same documents (each
    cut to its first `--max-tokens` tokens, no BOS):
    memx   `memx.membership.score.score_documents`: the scoring package's batched passes,
           every metric below from one forward pass per model;
    mimir_code  mimir's own code path, step for step (`mimir_as_written`): per document, the
           text tokenized again, a forward with labels, a per-position `.item()` loop, the
           reference's probabilities by the same route, each attack's own arithmetic;
    mimir  mimir's approach at its leanest: one document per forward pass per model on the
           ids in hand, the same metrics (loss, ratio to a reference, zlib, Min-K%, Min-K%++)
           vectorized per document;
    floor  the bare batched forward passes through the HF module (target and reference,
           right-padded batches of the same size): just the model calls;
    floor_own  the same passes through memx's own GPT-2 forward (`memx.gpt2_cpu`, which
           memx's scoring takes for a fp32 GPT-2 on the CPU): what is left of memx's time
           beyond it is the metrics' reductions and bookkeeping.
    The four take turns within each of `--rounds` rounds (best of each kept), so the
    machine's load hits them alike. Printed: documents/s of each, memx against both mimirs (target >= 5x) and memx's overhead over the
    floor (target <= 25%).
(b) The blind baseline and one metric's bootstrap (1,000 resamples) on 100,000 synthetic
    documents a side, through `memx.membership.summary.summarize`, on one thread
    (target: under a minute).

    python tests/bench/bench_membership.py [--lab DIR] [--documents 512] [--rounds 3] [--side 100000]

`--lab` defaults to the newest default lab in $MEMX_CACHE/lab, else the newest tiny one.
Not a pytest test; no Ray.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # (b) is measured on one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from memx.config import ScoringConfig  # noqa: E402
from memx.gpt2_cpu import Gpt2Decoder, supports  # noqa: E402
from memx.membership.documents import kept_tokens  # noqa: E402
from memx.membership.score import score_documents  # noqa: E402
from memx.models import load_causal_lm  # noqa: E402
from memx.scoring.passes import pad_right  # noqa: E402

METRICS = ["perplexity", "ratio_out", "zlib", "min_k", "min_k_plus_plus"]


def find_lab() -> Path:
    root = Path(os.environ.get("MEMX_CACHE") or Path.home() / ".cache" / "memx") / "lab"
    for preset in ("default", "tiny"):
        labs = sorted(root.glob(f"{preset}-*/lab.json"), key=lambda p: p.stat().st_mtime)
        if labs:
            return labs[-1].parent
    sys.exit(f"no lab under {root}: build one with `memx lab build`")


def lab_documents(lab: Path, n: int) -> list[str]:
    """The lab's member paragraphs when it has them, else paragraphs of its training corpus."""
    members = lab / "membership" / "members.jsonl"
    if members.exists():
        texts = [json.loads(line)["text"] for line in members.read_text().splitlines() if line.strip()]
    else:
        docs = [json.loads(line)["text"] for line in (lab / "corpus" / "train.jsonl").read_text().splitlines()]
        texts = [p for d in docs for p in d.split("\n\n") if len(p) >= 100]
    return (texts * (n // len(texts) + 1))[:n]


def mimir(target, ref, ids: list[list[int]], texts: list[str]) -> list[dict]:
    """One document per forward pass per model, each metric computed on that document."""
    out = []
    with torch.inference_mode():
        for doc, text in zip(ids, texts):
            x = torch.tensor([doc])
            logq = torch.log_softmax(target.model(x).logits[0, :-1].float(), -1)
            logp = logq.gather(1, x[0, 1:].unsqueeze(1)).squeeze(1)
            p = logq.exp()
            mu = (p * logq).sum(-1)
            sigma = (p * (logq - mu.unsqueeze(1)) ** 2).sum(-1).sqrt()
            ref_logq = torch.log_softmax(ref.model(x).logits[0, :-1].float(), -1)
            ref_nll = -ref_logq.gather(1, x[0, 1:].unsqueeze(1)).mean()
            nll = -logp.mean()
            k = max(1, int(0.2 * len(logp)))
            out.append({"perplexity": float(-nll), "ratio_out": float(ref_nll / nll),
                        "zlib": len(zlib.compress(text.encode())) / float(nll),
                        "min_k": float(logp.sort().values[:k].mean()),
                        "min_k_plus_plus": float(((logp - mu) / sigma).sort().values[:k].mean())})
    return out


def _mimir_probabilities(lm, text: str) -> tuple[list[float], torch.Tensor]:
    """mimir's `Model.get_probabilities(text, return_all_probs=True)` step for step (mimir/models.py
    at 1b6fd64): the text tokenized again, windows of half the context, the forward with labels
    (so the model computes its loss too), the log-softmax over the vocabulary, then a Python loop
    over positions taking each target token's log-probability with `.item()` and stacking rows."""
    labels = lm.tokenizer(text, return_tensors="pt").input_ids
    max_length = lm.model.config.max_position_embeddings
    stride = max_length // 2
    target_log_probs, all_log_probs = [], []
    for i in range(0, labels.size(1), stride):
        begin, end = max(i + stride - max_length, 0), min(i + stride, labels.size(1))
        input_ids = labels[:, begin:end]
        target_ids = input_ids.clone()
        target_ids[:, :-(end - i)] = -100
        logits = lm.model(input_ids, labels=target_ids).logits.cpu()
        log_probabilities = torch.nn.functional.log_softmax(logits[..., :-1, :].contiguous(), dim=-1)
        for j, token_id in enumerate(target_ids[..., 1:].contiguous()[0]):
            if token_id != -100:
                target_log_probs.append(log_probabilities[0, j, token_id].item())
                all_log_probs.append(log_probabilities[0, j])
    return target_log_probs, torch.stack(all_log_probs, dim=0)


def mimir_as_written(target, ref, texts: list[str]) -> list[dict]:
    """mimir's own path (run.py `get_mia_scores` and the attacks' `_attack`), one document at a
    time: the target's probabilities once, LOSS, zlib, Min-K% (a window-1 n-gram loop) and
    Min-K%++ from them; the reference attack's own `get_probabilities` on the reference model."""
    out = []
    with torch.no_grad():
        for text in texts:
            probs, all_probs = _mimir_probabilities(target, text)
            loss = -np.mean(probs)
            ngram = sorted(np.mean(probs[i:i + 1]) for i in range(len(probs)))
            k = int(len(ngram) * 0.2)
            mu = (torch.exp(all_probs) * all_probs).sum(-1)
            sigma = (torch.exp(all_probs) * torch.square(all_probs)).sum(-1) - torch.square(mu)
            plus = (np.array(probs) - mu.numpy()) / sigma.sqrt().numpy()
            ref_loss = -np.mean(_mimir_probabilities(ref, text)[0])
            out.append({"perplexity": -loss, "ratio_out": ref_loss / loss,
                        "zlib": len(zlib.compress(bytes(text, "utf-8"))) / loss,
                        "min_k": float(np.mean(ngram[:k])),
                        "min_k_plus_plus": float(np.mean(sorted(plus)[:int(len(plus) * 0.2)]))})
    return out


def floor(models, ids: list[list[int]], batch_size: int, own: bool = False) -> None:
    """The bare batched forwards: the HF module's, or (`own`) memx's own GPT-2 forward's."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    with torch.inference_mode():
        for lm in models:
            for start in range(0, len(ids), batch_size):
                x, mask = pad_right([ids[i] for i in order[start:start + batch_size]], lm.pad_id)
                if own:
                    Gpt2Decoder.for_model(lm.model).logits(x)
                else:
                    lm.model(input_ids=x, attention_mask=mask, use_cache=False).logits


def alternating(runs: dict, rounds: int) -> dict[str, float]:
    """Best seconds of each callable over `rounds` rounds, the callables taking turns within a
    round, so a change in the machine's load hits all of them alike (the ratios are the figure)."""
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_scoring(lab: Path, n: int, max_tokens: int | None, batch_size: int, rounds: int) -> None:
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    target = load_causal_lm(str(lab / "models" / "xl"), "float32", "cpu")
    ref = load_causal_lm(str(lab / "models" / "out"), "float32", "cpu")
    assert supports(target.model, "cpu") and supports(ref.model, "cpu")  # memx scores through memx.gpt2_cpu
    context = target.model.config.n_positions
    max_tokens = min(max_tokens or context, context)
    ids, texts = kept_tokens(target.tokenizer, lab_documents(lab, n), max_tokens)
    scoring = ScoringConfig(batch_size=batch_size)
    memx_rows = score_documents(ids, texts, target, {"out": ref}, scoring, METRICS)
    for check in (mimir(target, ref, ids[:8], texts[:8]), mimir_as_written(target, ref, texts[:8])):
        for row, want in zip(memx_rows.slice(0, 8).to_pylist(), check):
            assert all(abs(row[f"score_{m}"] - want[m]) <= 1e-3 * max(1.0, abs(want[m])) for m in METRICS), (row, want)
    best = alternating({"memx": lambda: score_documents(ids, texts, target, {"out": ref}, scoring, METRICS),
                        "floor": lambda: floor([target, ref], ids, batch_size),
                        "floor_own": lambda: floor([target, ref], ids, batch_size, own=True),
                        "mimir": lambda: mimir(target, ref, ids, texts),
                        "mimir_code": lambda: mimir_as_written(target, ref, texts)}, rounds)
    t_memx, t_mimir, t_floor, t_code = best["memx"], best["mimir"], best["floor"], best["mimir_code"]
    t_own = best["floor_own"]
    tokens = sum(len(i) for i in ids)
    print(f"lab {lab.name}: {n} documents, {tokens / n:.0f} tokens each (max_tokens {max_tokens}), target xl + "
          f"reference out, batch {batch_size}, {torch.get_num_threads()} threads, best of {rounds} alternating rounds")
    print(f"  {'':8s}{'seconds':>9s}{'docs/s':>10s}")
    for name, t in (("memx", t_memx), ("mimir", t_mimir), ("mimir_code", t_code), ("floor", t_floor),
                    ("floor_own", t_own)):
        print(f"  {name:11s}{t:9.2f}{n / t:10.1f}")
    print(f"  memx / mimir's code path: {t_code / t_memx:.1f}x (target >= 5x); memx / one document per "
          f"forward, metrics vectorized: {t_mimir / t_memx:.1f}x; "
          f"memx over the HF module's bare forwards: {100 * (t_memx / t_floor - 1):+.0f}% (target <= 25%), "
          f"over memx's own: {100 * (t_memx / t_own - 1):+.0f}%")


def synthetic(n: int, seed: int, chars: int = 1000) -> list[str]:
    words = np.array([f"w{i}" for i in range(20_000)])
    rng = np.random.default_rng(seed)
    per = chars // 6
    picks = rng.zipf(1.2, size=(n, per)) % len(words)
    return [" ".join(words[row]) for row in picks]


def bench_figures(side: int, bootstrap: int) -> None:
    import pyarrow as pa

    from memx.membership.summary import summarize

    torch.set_num_threads(1)
    start = time.perf_counter()
    texts_m, texts_n = synthetic(side, 1), synthetic(side, 2)
    made = time.perf_counter() - start
    rng = np.random.default_rng(0)
    members = pa.table({"tokens": pa.array(np.full(side, 256), pa.int32()), "score_loss": rng.normal(0.1, 1, side)})
    nonmembers = pa.table({"tokens": pa.array(np.full(side, 256), pa.int32()), "score_loss": rng.normal(0, 1, side)})
    cpu, wall = time.process_time(), time.perf_counter()
    summary = summarize(members, nonmembers, texts_m, texts_n, ["loss"], bootstrap=bootstrap, seed=0)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    cpu2, wall2 = time.process_time(), time.perf_counter()
    summarize(members, nonmembers, texts_m, texts_n, ["loss"], bootstrap=bootstrap, seed=0, blind=False)
    cpu2, wall2 = time.process_time() - cpu2, time.perf_counter() - wall2
    print(f"figures: {side:,} synthetic documents a side (~1,000 characters; made in {made:.0f}s), "
          f"{bootstrap} resamples, one thread")
    print(f"  one metric's bootstrap alone: {wall2:.1f}s wall, {cpu2:.1f}s CPU")
    print(f"  with the blind baseline ({summary.blind.members:,} a side read): {wall:.1f}s wall, {cpu:.1f}s CPU "
          f"(target < 60s); blind AUC {summary.blind.auc:.3f}, verdict {summary.verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", type=Path)
    parser.add_argument("--documents", type=int, default=512)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of memx, floor and mimir")
    parser.add_argument("--side", type=int, default=100_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--skip", choices=["scoring", "figures"])
    args = parser.parse_args()
    if args.skip != "scoring":
        bench_scoring(args.lab or find_lab(), args.documents, args.max_tokens, args.batch_size, args.rounds)
    if args.skip != "figures":
        bench_figures(args.side, args.bootstrap)


if __name__ == "__main__":
    main()
