"""memx's own GPT-2 forward for the CPU: whole causal passes for scoring, and a prefill then
single-token steps over a KV cache for sampling.

Why it exists: a small GPT-2 through the Hugging Face module is mostly not arithmetic at
decode time (mask building, cache bookkeeping, attention over the whole preallocated
cache, GELU as five separate ops), and fp32 GEMMs through MKL's sgemm run at half the
speed oneDNN reaches on the same CPU (AMD EPYC here: 90-180 vs 170-460 GFLOP/s at the
decode shapes). This module reads the weights of a loaded `GPT2LMHeadModel`, prepacks
every linear layer once for oneDNN (`torch.ops.mkldnn`, the kernels torch's own CPU
compiler emits), fuses the GELU into the MLP's first GEMM, and attends each step over the
filled part of the cache only. The arithmetic is HF's GPT-2 up to float round-off; the
tests compare logits, and tokens with the HF path. The prepacked weights are a second copy
beside the model's (its size again in RAM), made once per model and made again only when a
parameter is written in place.

Padding. `logits` takes right-padded rows (or none): with causal attention alone no real
query sees a pad key, and every real token keeps its position, so a row computes what it
would alone. `prefill` takes left-padded prompts as `sampler.left_pad` makes them: pad
keys are masked for every real query (a pad query attends to itself only, which keeps its
unused states finite).

It knows nothing of sampling, metrics or shards (`sampler.sample_batch` and
`memx.scoring.passes` drive it); other architectures, other dtypes and GPUs use the HF
module.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

# HF activation name -> the `approximate` argument of torch's GELU.
_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}
_DECODERS: "weakref.WeakKeyDictionary[torch.nn.Module, Gpt2Decoder]" = weakref.WeakKeyDictionary()


def supports(model: torch.nn.Module, device: torch.device | str) -> bool:
    """Whether `model` is a plain fp32 GPT-2 LM on the CPU, the case this decoder computes."""
    from transformers import GPT2LMHeadModel

    if not isinstance(model, GPT2LMHeadModel) or torch.device(device).type != "cpu":
        return False
    config = model.config
    return (model.lm_head.weight.dtype == torch.float32 and config.activation_function in _GELU
            and not getattr(config, "add_cross_attention", False))


def onednn_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class _Linear:
    """y = x W^T + b (and GELU), on 2-D x; W is (out, in). Prepacked for oneDNN where it can be."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, gelu: str | None = None):
        self.bias, self.gelu = bias, gelu
        self.weight = weight.detach().contiguous()
        self.packed = None
        if onednn_available():
            # The batch hint only tunes the layout; any number of rows is computed, and a
            # row's result does not depend on how many rows share the call.
            self.packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, 128)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            if self.gelu:
                return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "gelu", [], self.gelu)
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        y = F.linear(x, self.weight, self.bias)
        return F.gelu(y, approximate=self.gelu) if self.gelu else y


class _Block:
    def __init__(self, block: torch.nn.Module, gelu: str, scale: float):
        conv = lambda layer, act=None: _Linear(layer.weight.t(), layer.bias, act)  # noqa: E731  (Conv1D is (in, out))
        self.ln_1, self.ln_2 = block.ln_1, block.ln_2
        self.qkv, self.out = conv(block.attn.c_attn), conv(block.attn.c_proj)
        self.up, self.down = conv(block.mlp.c_fc, gelu), conv(block.mlp.c_proj)
        self.scale = scale


class DecodeState:
    """One batch's KV cache and positions: `step` appends a token per row and returns the next logits."""

    def __init__(self, decoder: "Gpt2Decoder", batch: int, total: int, pad_bias: torch.Tensor | None,
                 next_position: torch.Tensor):
        shape = (batch, decoder.heads, total, decoder.head_dim)
        self.keys = [torch.empty(shape) for _ in decoder.blocks]
        self.values = [torch.empty(shape) for _ in decoder.blocks]
        self.decoder, self.pad_bias, self.next_position, self.length = decoder, pad_bias, next_position, 0

    @torch.inference_mode()
    def step(self, token: torch.Tensor) -> torch.Tensor:
        dec, t = self.decoder, self.length
        batch = token.shape[0]
        x = F.embedding(token, dec.wte) + F.embedding(self.next_position, dec.wpe)
        for block, keys, values in zip(dec.blocks, self.keys, self.values):
            q, k, v = block.qkv(dec.norm(x, block.ln_1)).view(batch, 3, dec.heads, dec.head_dim).unbind(1)
            keys[:, :, t], values[:, :, t] = k, v
            scores = torch.matmul(q.unsqueeze(2), keys[:, :, : t + 1].transpose(-1, -2)).mul_(block.scale)
            if self.pad_bias is not None:
                scores += self.pad_bias[:, :, :, : t + 1]
            attended = torch.matmul(scores.softmax(-1), values[:, :, : t + 1]).view(batch, dec.width)
            x = x + block.out(attended)
            x = x + block.down(block.up(dec.norm(x, block.ln_2)))
        self.length, self.next_position = t + 1, self.next_position + 1
        return dec.lm_head(dec.norm(x, dec.ln_f))


class Gpt2Decoder:
    """The prepacked weights of one GPT2LMHeadModel; `for_model` keeps one per model."""

    def __init__(self, model: torch.nn.Module):
        config, transformer = model.config, model.transformer
        self.heads, self.width = config.n_head, config.n_embd
        self.head_dim = self.width // self.heads
        self.eps = config.layer_norm_epsilon
        gelu = _GELU[config.activation_function]
        self.blocks = []
        for index, block in enumerate(transformer.h):
            scale = self.head_dim ** -0.5 if config.scale_attn_weights else 1.0
            if config.scale_attn_by_inverse_layer_idx:
                scale /= index + 1
            self.blocks.append(_Block(block, gelu, scale))
        self.wte, self.wpe = transformer.wte.weight.detach(), transformer.wpe.weight.detach()
        self.ln_f = transformer.ln_f
        self.lm_head = _Linear(model.lm_head.weight, getattr(model.lm_head, "bias", None))
        self.versions = _versions(model)

    @classmethod
    def for_model(cls, model: torch.nn.Module) -> "Gpt2Decoder":
        """The model's decoder, packed again if any parameter changed in place since."""
        decoder = _DECODERS.get(model)
        if decoder is None or decoder.versions != _versions(model):
            decoder = _DECODERS[model] = cls(model)
        return decoder

    def norm(self, x: torch.Tensor, layer: torch.nn.LayerNorm) -> torch.Tensor:
        return F.layer_norm(x, (self.width,), layer.weight, layer.bias, self.eps)

    @torch.inference_mode()
    def prefill(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                total: int) -> tuple[DecodeState, torch.Tensor]:
        """Run the left-padded prompts (B, W) and return the state sized for `total` positions
        with the logits after each prompt (B, V)."""
        batch, width = ids.shape
        real = mask.bool()
        padded = not bool(real.all())
        pad_bias = attn_mask = None
        if padded:
            pad_bias = torch.zeros((batch, 1, 1, total))
            pad_bias[:, 0, 0, :width].masked_fill_(~real, float("-inf"))
            causal = torch.ones((width, width), dtype=torch.bool).tril_()
            attn_mask = (causal & (real[:, None, :] | torch.eye(width, dtype=torch.bool))).unsqueeze(1)
        state = DecodeState(self, batch, total, pad_bias, positions[:, -1] + 1)
        x = self._blocks(F.embedding(ids, self.wte) + F.embedding(positions, self.wpe), attn_mask,
                         list(zip(state.keys, state.values)))
        state.length = width
        return state, self.lm_head(self.norm(x[:, -1], self.ln_f))

    @torch.inference_mode()
    def logits(self, ids: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        """Logits (B, T, V) at every position of right-padded or unpadded ids (B, T), causal
        attention only; `keep=S` projects only the last S positions onto the vocabulary."""
        batch, width = ids.shape
        x = self._blocks(F.embedding(ids, self.wte) + F.embedding(torch.arange(width), self.wpe), None)
        if keep is not None:
            x = x[:, width - keep:]
        steps = x.shape[1]
        return self.lm_head(self.norm(x, self.ln_f).reshape(-1, self.width)).view(batch, steps, -1)

    def _blocks(self, x: torch.Tensor, attn_mask: torch.Tensor | None,
                caches: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> torch.Tensor:
        """Every block over embedded inputs (B, T, W); causal when `attn_mask` is None. With
        `caches`, each block's keys and values fill their first T positions."""
        batch, width, _ = x.shape
        for index, block in enumerate(self.blocks):
            qkv = block.qkv(self.norm(x, block.ln_1).view(-1, self.width))
            q, k, v = qkv.view(batch, width, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            if caches is not None:
                keys, values = caches[index]
                keys[:, :, :width], values[:, :, :width] = k, v
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=attn_mask is None,
                                                      scale=block.scale)
            x = x + block.out(attended.transpose(1, 2).reshape(-1, self.width)).view(batch, width, self.width)
            x = x + block.down(block.up(self.norm(x, block.ln_2).view(-1, self.width))).view(batch, width, self.width)
        return x


def _versions(model: torch.nn.Module) -> tuple[int, ...]:
    # Every in-place write to a parameter bumps its version counter: a changed model repacks.
    # (Inference tensors keep no counter; they cannot be written in place outside inference mode.)
    return tuple(0 if p.is_inference() else p._version for p in model.parameters())
