"""The KV-cached batched sampling loop: one prefill, then one single-token forward per step.

Prompts are left-padded; the attention mask marks real tokens and position ids count
real tokens only, so a padded row sees exactly what it would see alone. Each step's
token choice is delegated to a `choose(step, last_logits, uniforms)` callable (the
strategy), and no tensor leaves the device until the batch's token ids are complete.
The forward passes come from memx's own GPT-2 decoder on the CPU (`memx.gpt2_cpu`) or
from the HF module with its KV cache (every other model, and GPUs).
`greedy_complete` is the one greedy completion of memx (the `prefix` strategy's rule and
the lab audit): `sample_batch` with the argmax rule over batches of many prompts.
This module does not know about strategies, shards, Arrow or text.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
import torch

from memx.gpt2_cpu import Gpt2Decoder, supports
from memx.models import context_length

Choose = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]
DECODERS = ("gpt2", "static", "dynamic")  # memx's GPT-2 decoder, the HF module over either KV cache


def forward_kwargs(model: torch.nn.Module) -> tuple[str, str | None]:
    """The cache and logits-slicing keyword names, which moved across transformers releases
    (`past_key_values` → `cache` in 5.x; `num_logits_to_keep` → `logits_to_keep`)."""
    params = inspect.signature(model.forward).parameters
    cache = "cache" if "cache" in params else "past_key_values"
    keep = next((name for name in ("logits_to_keep", "num_logits_to_keep") if name in params), None)
    return cache, keep


def _cache_of(output) -> object:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def left_pad(prompts: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids), each (B, L), prompts right-aligned."""
    lengths = np.fromiter((len(p) for p in prompts), dtype=np.int64, count=len(prompts))
    if (lengths == 0).any():
        raise ValueError("every prompt needs at least one token")
    width = int(lengths.max())
    ids = np.full((len(prompts), width), pad_id, dtype=np.int64)
    mask = np.arange(width)[None, :] >= (width - lengths)[:, None]
    ids[mask] = np.concatenate([np.asarray(p, dtype=np.int64) for p in prompts])
    positions = np.clip(np.cumsum(mask, axis=1) - 1, 0, None)
    as_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return as_tensor(ids), as_tensor(mask.astype(np.int64)), as_tensor(positions)


def default_decoder(model: torch.nn.Module | None = None, device: torch.device | str = "cpu") -> str:
    """"gpt2" (memx's own decoder) for a fp32 GPT-2 on the CPU, else the HF module with its cache."""
    import transformers

    if model is not None and supports(model, device):
        return "gpt2"
    # transformers 4.x StaticCache wants batch size, dtype and cache positions up front:
    # the static path is written for the 5.x API only.
    return "static" if int(transformers.__version__.split(".")[0]) >= 5 else "dynamic"


def _static_cache(model: torch.nn.Module, length: int):
    from transformers import StaticCache

    # Sized lazily by its first update (batch, heads, dtype and device of the key states).
    return StaticCache(config=model.config, max_cache_len=length)


class _HFSteps:
    """The HF module's KV-cached loop: `prefill()` then one single-token forward per `step`."""

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor, prompt_mask: torch.Tensor,
                 positions: torch.Tensor, total: int, cache: str):
        batch, self.seen = ids.shape
        self.model, self.ids, self.positions = model, ids, positions
        self.cache_kw, keep_kw = forward_kwargs(model)
        self.keep = {keep_kw: 1} if keep_kw else {}
        # One mask for the whole generation, sliced per step: no per-step allocation.
        self.mask = torch.ones((batch, total), dtype=prompt_mask.dtype, device=ids.device)
        self.mask[:, : self.seen] = prompt_mask
        self.kv = _static_cache(model, total) if cache == "static" else None
        self.total = total

    def _mask(self) -> torch.Tensor:
        # A static cache is masked over its full length (causality hides the future slots);
        # a dynamic one over what it holds so far.
        return self.mask[:, : self.total if self.kv is not None else self.seen]

    def prefill(self) -> torch.Tensor:
        cache = {self.cache_kw: self.kv} if self.kv is not None else {}
        self.output = self.model(input_ids=self.ids, attention_mask=self._mask(), position_ids=self.positions,
                                 use_cache=True, **cache, **self.keep)
        self.next_position = self.positions[:, -1:] + 1
        return self.output.logits[:, -1, :]

    def step(self, token: torch.Tensor) -> torch.Tensor:
        self.seen += 1
        cache = self.kv if self.kv is not None else _cache_of(self.output)
        self.output = self.model(input_ids=token.unsqueeze(-1), attention_mask=self._mask(),
                                 position_ids=self.next_position, use_cache=True, **{self.cache_kw: cache}, **self.keep)
        self.next_position = self.next_position + 1
        return self.output.logits[:, -1, :]


@torch.inference_mode()
def sample_batch(
    model: torch.nn.Module,
    prompts: list[list[int]],
    pad_id: int,
    max_new_tokens: int,
    uniforms: torch.Tensor,
    choose: Choose,
    device: torch.device,
    decoder: str | None = None,
) -> np.ndarray:
    """Generate `max_new_tokens` ids per prompt; returns (B, max_new_tokens) int64 on the host.

    `uniforms` (B, max_new_tokens) on `device` drives row b's draw at step t. EOS is not
    special: like the paper, every row gets the full number of tokens. `decoder="gpt2"` is
    memx's own GPT-2 decoder (CPU, fp32; `memx.gpt2_cpu`); "static" runs the HF module over
    a preallocated KV cache (transformers 5 API); "dynamic" grows it by concatenating the
    whole cache at every step.
    """
    batch = len(prompts)
    ids, prompt_mask, positions = left_pad(prompts, pad_id, device)
    width = ids.shape[1]
    limit = context_length(model)
    if limit is not None and width + max_new_tokens > limit:
        raise ValueError(f"prompt ({width}) + max_new_tokens ({max_new_tokens}) exceeds the model's {limit} positions")
    decoder = decoder or default_decoder(model, device)
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    total = width + max_new_tokens
    tokens = torch.empty((batch, max_new_tokens), dtype=torch.long, device=device)
    if decoder == "gpt2":
        state, logits = Gpt2Decoder.for_model(model).prefill(ids, prompt_mask, positions, total)
        advance = state.step
    else:
        steps = _HFSteps(model, ids, prompt_mask, positions, total, decoder)
        logits, advance = steps.prefill(), steps.step
    for step in range(max_new_tokens):
        token = choose(step, logits, uniforms[:, step])
        tokens[:, step] = token
        if step + 1 < max_new_tokens:
            logits = advance(token)
    return tokens.cpu().numpy()


def greedy_complete(
    model: torch.nn.Module,
    prompts: list[list[int]],
    pad_id: int,
    new_tokens: int,
    device: torch.device,
    batch_size: int = 32,
    decoder: str | None = None,
) -> np.ndarray:
    """The greedy continuation of every prompt, exactly `new_tokens` ids each (no EOS stop):
    (len(prompts), new_tokens) int64, in the caller's order.

    Prompts are batched shortest first (less padding); padding is masked by position, so a
    row's argmax does not depend on its batch neighbours beyond float round-off."""
    from memx.generation.processors import greedy

    out = np.zeros((len(prompts), new_tokens), dtype=np.int64)
    if not prompts:
        return out
    choose = lambda step, logits, uniforms: greedy(logits)  # noqa: E731
    order = np.argsort(np.fromiter((len(p) for p in prompts), dtype=np.int64, count=len(prompts)), kind="stable")
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        unused = torch.zeros((len(rows), new_tokens), device=device)  # greedy draws nothing
        out[rows] = sample_batch(model, [prompts[r] for r in rows], pad_id, new_tokens, unused, choose, device,
                                 decoder=decoder)
    return out
