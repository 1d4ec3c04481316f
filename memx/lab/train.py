"""Train one GPT-2 analogue on the lab's token stream, on the CPU, and save it.

A plain next-token loop: the stream is cut into context-length chunks at a fresh
random offset every epoch (so a canary is not always split at the same place), the
chunks are shuffled, and AdamW runs with a short warm-up and a cosine decay. Dropout
and weight decay are off: the lab wants a victim that memorizes what it saw often, as
large real models do, within a few CPU minutes. The saved directory holds the model
and the tokenizer, an ordinary Hugging Face checkpoint.

This module does not know where the stream came from, nor about canaries or caching.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

log = logging.getLogger("memx.lab")


@dataclass(frozen=True)
class ModelSpec:
    n_layer: int
    n_embd: int
    n_head: int


@dataclass(frozen=True)
class TrainSpec:
    context: int
    epochs: float
    batch_size: int
    lr: float


def make_model(spec: ModelSpec, vocab_size: int, context: int, eos_id: int, seed: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=context,
        n_embd=spec.n_embd,
        n_layer=spec.n_layer,
        n_head=spec.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def _lr_at(step: int, total: int, peak: float) -> float:
    warmup = max(1, min(100, total // 20))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _epoch_batches(stream: torch.Tensor, context: int, batch_size: int, gen: torch.Generator):
    offset = int(torch.randint(0, context, (1,), generator=gen))
    n_chunks = (len(stream) - offset) // context
    chunks = stream[offset : offset + n_chunks * context].view(n_chunks, context)
    order = torch.randperm(n_chunks, generator=gen)
    for start in range(0, n_chunks, batch_size):
        yield chunks[order[start : start + batch_size]]


def steps_for(n_tokens: int, train: TrainSpec) -> int:
    per_epoch = math.ceil((n_tokens // train.context) / train.batch_size)
    return max(1, round(per_epoch * train.epochs))


def parameter_count(spec: ModelSpec, vocab_size: int, context: int) -> int:
    """Parameters of the GPT-2 model `make_model` builds, without building it.

    Counted like GPT-2's published sizes (124M, 355M, 1.5B): token and position
    embeddings, per layer two layer norms, attention (qkv + projection) and MLP (4x)
    with biases, the final layer norm; the output head is tied to the token embedding.
    """
    d = spec.n_embd
    per_layer = 12 * d * d + 13 * d
    return (vocab_size + context) * d + spec.n_layer * per_layer + 2 * d


def train_model(
    stream: list[int],
    tokenizer,
    spec: ModelSpec,
    train: TrainSpec,
    seed: int,
    out_dir: Path,
    label: str,
    progress: bool = True,
    bar: bool | None = None,
    steps: int | None = None,
) -> dict:
    """Train from scratch, save model + tokenizer to out_dir, return a few statistics.

    `steps` fixes the number of optimizer steps (default: `train.epochs` passes over the
    stream), so a model trained on another stream can get exactly the target's budget.
    """
    # One intra-op thread: on a shared 2-core machine, two OpenMP threads that spin-wait
    # for each other were measured 10-30x slower per step than one (load from others).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(stream, tokenizer, spec, train, seed, out_dir, label, progress, bar, steps)
    finally:
        torch.set_num_threads(threads)  # the caller's process keeps its own setting


def _train(stream, tokenizer, spec: ModelSpec, train: TrainSpec, seed: int, out_dir: Path, label: str,
           progress: bool, bar: bool | None, steps: int | None) -> dict:
    model = make_model(spec, len(tokenizer), train.context, tokenizer.eos_token_id, seed)
    # The loss transformers falls back to for GPT2LMHeadModel anyway, named so it does not
    # warn that the class name is not one it recognises.
    model.loss_type = "ForCausalLM"
    model.train()
    data = torch.tensor(stream, dtype=torch.long)
    total = steps or steps_for(len(stream), train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    losses: list[float] = []
    with _Reporter(label, total, progress, bar) as report:
        step = 0
        while step < total:
            for batch in _epoch_batches(data, train.context, train.batch_size, gen):
                if step >= total:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = _lr_at(step, total, train.lr)
                loss = model(input_ids=batch, labels=batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                step += 1
                report.advance(step, losses[-1])
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    tail = losses[-max(1, len(losses) // 20) :]
    return {
        **asdict(spec),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": total,
        "tokens_seen": total * train.batch_size * train.context,
        "final_loss": round(sum(tail) / len(tail), 4),
        "seconds": round(time.perf_counter() - started, 2),
        # this process's CPU time: on a shared machine, the work itself, whatever the wait
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
    }


class _Reporter:
    """A rich progress bar on a terminal; otherwise a log line every ~10% of the steps."""

    def __init__(self, label: str, total: int, enabled: bool, bar: bool | None = None):
        self.label, self.total, self.enabled = label, total, enabled
        self.tty = enabled and (sys.stderr.isatty() if bar is None else bar)
        self.bar = None
        self.next_log = 0
        self.started = time.perf_counter()

    def __enter__(self) -> "_Reporter":
        if self.tty:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]train {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} steps  loss {task.fields[loss]:.3f}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, loss=float("nan"))
        return self

    def advance(self, step: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=loss)
        elif self.enabled and (step >= self.next_log or step == self.total):
            rate = step / max(1e-9, time.perf_counter() - self.started)
            eta = (self.total - step) / max(rate, 1e-9)
            print(f"[memx lab] train {self.label}: step {step}/{self.total} loss {loss:.3f} "
                  f"({rate:.1f} steps/s, eta {eta:.0f}s)", file=sys.stderr, flush=True)
            self.next_log = step + max(1, self.total // 10)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
