"""The KV-cached batched sampling loop: one prefill, then one single-token forward per step.

Prompts are left-padded; the attention mask marks real tokens and position ids count
real tokens only, so a padded row sees exactly what it would see alone. Each step's
token choice is delegated to a `choose(step, last_logits, uniforms)` callable (the
strategy), and no tensor leaves the device until the batch's token ids are complete.
`greedy_complete` is the one greedy completion of memx (the `prefix` strategy's rule and
the lab audit): `sample_batch` with the argmax rule over batches of many prompts.
This module does not know about strategies, shards, Arrow or text.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
import torch

Choose = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


def _forward_kwargs(model: torch.nn.Module) -> tuple[str, str | None]:
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


def default_cache() -> str:
    import transformers

    # transformers 4.x StaticCache wants batch size, dtype and cache positions up front:
    # the static path is written for the 5.x API only.
    return "static" if int(transformers.__version__.split(".")[0]) >= 5 else "dynamic"


def _static_cache(model: torch.nn.Module, length: int):
    from transformers import StaticCache

    # Sized lazily by its first update (batch, heads, dtype and device of the key states).
    return StaticCache(config=model.config, max_cache_len=length)


def max_positions(model: torch.nn.Module) -> int | None:
    config = getattr(model, "config", None)
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


@torch.inference_mode()
def first_step_logits(model: torch.nn.Module, prompts: list[list[int]], pad_id: int, device: torch.device) -> torch.Tensor:
    """Next-token logits after each prompt (B, V): the prefill step alone, for padding checks."""
    ids, mask, positions = left_pad(prompts, pad_id, device)
    return model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1, :]


@torch.inference_mode()
def sample_batch(
    model: torch.nn.Module,
    prompts: list[list[int]],
    pad_id: int,
    max_new_tokens: int,
    uniforms: torch.Tensor,
    choose: Choose,
    device: torch.device,
    cache: str = "dynamic",
) -> np.ndarray:
    """Generate `max_new_tokens` ids per prompt; returns (B, max_new_tokens) int64 on the host.

    `uniforms` (B, max_new_tokens) on `device` drives row b's draw at step t. EOS is not
    special: like the paper, every row gets the full number of tokens. `cache="static"`
    preallocates the KV cache for prompt + new tokens (transformers 5 API); "dynamic"
    grows it by concatenating the whole cache at every step.
    """
    batch = len(prompts)
    ids, prompt_mask, positions = left_pad(prompts, pad_id, device)
    width = ids.shape[1]
    limit = max_positions(model)
    if limit is not None and width + max_new_tokens > limit:
        raise ValueError(f"prompt ({width}) + max_new_tokens ({max_new_tokens}) exceeds the model's {limit} positions")
    if cache not in ("static", "dynamic"):
        raise ValueError(f"cache must be 'static' or 'dynamic', got {cache!r}")
    cache_kw, keep_kw = _forward_kwargs(model)
    keep = {keep_kw: 1} if keep_kw else {}
    total = width + max_new_tokens
    # One mask for the whole generation, sliced per step: no per-step allocation.
    mask = torch.ones((batch, total), dtype=prompt_mask.dtype, device=device)
    mask[:, :width] = prompt_mask
    next_position = positions[:, -1:] + 1
    tokens = torch.empty((batch, max_new_tokens), dtype=torch.long, device=device)
    kv = _static_cache(model, total) if cache == "static" else None
    # A static cache is masked over its full length (causality hides the future slots);
    # a dynamic one over what it holds so far.
    span = (lambda seen: total) if kv is not None else (lambda seen: seen)  # noqa: E731
    output = model(
        input_ids=ids, attention_mask=mask[:, : span(width)], position_ids=positions, use_cache=True,
        **({cache_kw: kv} if kv is not None else {}), **keep,
    )
    for step in range(max_new_tokens):
        token = choose(step, output.logits[:, -1, :], uniforms[:, step])
        tokens[:, step] = token
        if step + 1 == max_new_tokens:
            break
        output = model(
            input_ids=token.unsqueeze(-1),
            attention_mask=mask[:, : span(width + step + 1)],
            position_ids=next_position + step,
            use_cache=True,
            **{cache_kw: kv if kv is not None else _cache_of(output)},
            **keep,
        )
    return tokens.cpu().numpy()


def greedy_complete(
    model: torch.nn.Module,
    prompts: list[list[int]],
    pad_id: int,
    new_tokens: int,
    device: torch.device,
    batch_size: int = 32,
    cache: str | None = None,
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
                                 cache=cache or default_cache())
    return out
