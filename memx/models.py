"""Load a Hugging Face causal LM and its tokenizer, by hub id or local directory, with an
optional PEFT adapter over it and its resolved chat template.

One place decides device and dtype (`auto` = bf16 on a GPU that supports it, fp32 on
CPU) and the padding conventions every other module relies on: left padding, and a pad
id that is only ever masked by position (attention mask), never by token id, because
GPT-2-style tokenizers have pad == eos. An adapter (`target.adapter`) is loaded with
`peft` over the one copy of the base weights: `merge=True` folds it in (generation, where
only the fine-tune samples, and memx's GPT-2 decoder then applies), otherwise it stays a
`PeftModel`: `folded_view` runs it with each LoRA folded into its weight for the call
(scoring), and `base_view` runs the same replica with the adapter disabled (a reference
that is the target's own base). This module does not know about shards or Ray.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch

from memx.errors import ConfigError

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# what each family calls its number of positions (GPT-2: n_positions / n_ctx, Llama and
# most others: max_position_embeddings, a few: seq_length / max_sequence_length)
_CONTEXT_KEYS = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length", "max_sequence_length")


def context_length(model) -> int | None:
    """The model's maximum number of positions, or None when its config does not say; `model`
    is a LoadedModel, a torch module with a `.config`, or a transformers config itself."""
    config = getattr(getattr(model, "model", model), "config", model)
    for key in _CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


@dataclass
class LoadedModel:
    name: str
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    chat_template: str | None = None  # resolved Jinja source (memx.chat.templates), None without one
    adapter: str | None = None
    _byte_table: object = field(default=None, repr=False, compare=False)

    def byte_table(self):
        """The tokenizer's `PackedTable` of token bytes, built once per loaded model."""
        if self._byte_table is None:
            from memx.verify.tokenbytes import PackedTable, token_byte_table

            self._byte_table = PackedTable(token_byte_table(self.tokenizer))
        return self._byte_table

    @property
    def bos_id(self) -> int:
        tok = self.tokenizer
        for candidate in (tok.bos_token_id, tok.eos_token_id):
            if candidate is not None:
                return int(candidate)
        raise ValueError(f"{self.name}: tokenizer has neither a BOS nor an EOS token")

    @property
    def pad_id(self) -> int:
        tok = self.tokenizer
        return int(tok.pad_token_id if tok.pad_token_id is not None else self.bos_id)


def same_vocabulary(a: LoadedModel, b: LoadedModel) -> bool:
    """True when token ids of one model mean the same strings to the other (no re-tokenizing needed)."""
    return a.tokenizer is b.tokenizer or a.tokenizer.get_vocab() == b.tokenizer.get_vocab()


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype != "auto":
        return _DTYPES[dtype]
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def local_model_problem(name_or_path: str) -> str | None:
    """Why `name_or_path` cannot be a local model, when it names one; None for hub ids.

    A path that is absolute or starts with `.` or `~` is always meant locally; transformers
    would otherwise take it for a malformed hub id and say so, which hides the real problem.
    """
    path = Path(name_or_path).expanduser()
    looks_local = name_or_path.startswith((".", "~", os.sep)) or path.is_dir()
    if not looks_local:
        return None
    if not path.is_dir():
        return "no such directory"
    if not (path / "config.json").is_file():
        return "not a Hugging Face model directory (no config.json)"
    return None


def load_causal_lm(name_or_path: str, dtype: str = "auto", device: str | torch.device | None = None, *,
                   adapter: str | None = None, merge: bool = False, chat_template: str = "none") -> LoadedModel:
    """The model, its tokenizer (left padding), an optional adapter (see the module
    docstring) and the chat template `chat_template` names (`target.chat_template`:
    auto, none or a Jinja file; the default `none` keeps references template-free)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-load bars flood actor logs; memx shows one bar per stage

    problem = local_model_problem(name_or_path)
    if problem:
        raise ConfigError(f"model {name_or_path}: {problem}")
    device = device if isinstance(device, torch.device) else pick_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch_dtype)
    adapter_tokenizer = None
    if adapter is not None:
        model, adapter_tokenizer = _with_adapter(model, adapter, merge)
    model.to(device).eval()
    from memx.chat.templates import resolve_template

    template = resolve_template(chat_template, tokenizer, adapter_tokenizer)
    return LoadedModel(name=name_or_path, model=model, tokenizer=tokenizer, device=device, dtype=torch_dtype,
                       chat_template=template, adapter=adapter)


@contextmanager
def quiet_peft():
    """peft still asks transformers (5.25 on) `is_gradient_checkpointing`, which warns that it
    is deprecated: one library's note to the other, nothing a memx user can act on, printed
    once per replica into the run's output. Only that warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def _with_adapter(base: torch.nn.Module, adapter: str, merge: bool):
    """(the base with `adapter` loaded over it, the adapter's own tokenizer or None)."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    path = Path(adapter).expanduser()
    if (adapter.startswith((".", "~", os.sep)) or path.exists()) and not (path / "adapter_config.json").is_file():
        raise ConfigError(f"target.adapter: {adapter}: not a PEFT adapter directory (no adapter_config.json)")
    with quiet_peft():
        model = PeftModel.from_pretrained(base, adapter)
    if merge:
        model = model.merge_and_unload()
    shipped = path.is_dir() and any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    return model, AutoTokenizer.from_pretrained(str(path)) if shipped else None


def _require_unmerged(lm: LoadedModel, verb: str) -> None:
    """Both adapter views need a `PeftModel` (loaded with merge=False), not a merged or plain model."""
    if lm.adapter is None or not hasattr(lm.model, "disable_adapter"):
        raise ValueError(f"{lm.name}: no unmerged adapter to {verb} (load it with merge=False)")


class AdapterDisabled(torch.nn.Module):
    """A `PeftModel` seen with its adapter off: the base model's forward, same weights."""

    def __init__(self, peft_model: torch.nn.Module):
        super().__init__()
        self.peft_model = peft_model

    @property
    def config(self):
        return self.peft_model.config

    def forward(self, *args, **kwargs):
        with self.peft_model.disable_adapter():
            return self.peft_model(*args, **kwargs)


def base_view(lm: LoadedModel, name: str | None = None) -> LoadedModel:
    """The target's base model on the target's replica: every forward runs with the
    adapter disabled. For a reference whose `model` is the target's and has no adapter."""
    _require_unmerged(lm, "disable")
    return LoadedModel(name=name or lm.name, model=AdapterDisabled(lm.model), tokenizer=lm.tokenizer,
                       device=lm.device, dtype=lm.dtype)


def _foldable(module: torch.nn.Module) -> bool:
    """A LoRA layer peft runs as base + s·B·A with one active adapter over a plain linear."""
    from peft.tuners.lora import LoraLayer
    from transformers.pytorch_utils import Conv1D

    if not isinstance(module, LoraLayer) or module.merged or len(module.active_adapters) != 1:
        return False
    name = module.active_adapters[0]
    return (name in module.lora_A and not module.use_dora.get(name, False)
            and not getattr(module, "lora_bias", {}).get(name, False)
            and type(module.get_base_layer()) in (torch.nn.Linear, Conv1D))


def _folded_forward(layer, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    if layer.disable_adapters or layer.merged:  # peft's own switches still rule
        return type(layer).forward(layer, x, *args, **kwargs)
    base = layer.get_base_layer()
    weight = base.weight + layer.get_delta_weight(layer.active_adapters[0]).to(base.weight.dtype)
    if isinstance(base, torch.nn.Linear):
        return torch.nn.functional.linear(x, weight, base.bias)
    # transformers' Conv1D (GPT-2): a linear with its weight stored (in, out)
    return torch.addmm(base.bias, x.reshape(-1, x.shape[-1]), weight).view(*x.shape[:-1], base.nf)


class AdapterFolded(torch.nn.Module):
    """A `PeftModel` whose forward runs each LoRA linear as one matmul with W + ΔW.

    peft runs an adapted linear as x·W + s·(x·A)·B: two skinny matmuls and a full-size
    temporary and sum more per layer, which cost up to a quarter of the forward at small
    widths (docs/benchmarks.md, the adapter row). Folding ΔW = s·B·A into a fresh weight for
    the call costs a d×r×d product per layer, about r / (tokens in the batch) of the
    forward, and leaves the stored weights as they are, so the base view of the same replica
    still sees W bit for bit and nothing drifts from merging and unmerging. Layers adapted
    any other way (DoRA, several adapters, quantized bases) run peft's forward. For whole
    sequences (scoring), not one-token decoding steps, which would pay the fold every step."""

    def __init__(self, peft_model: torch.nn.Module):
        super().__init__()
        self.peft_model = peft_model
        self._layers = [m for m in peft_model.modules() if _foldable(m)]

    @property
    def config(self):
        return self.peft_model.config

    def forward(self, *args, **kwargs):
        for layer in self._layers:  # an instance attribute, shadowing the class's, for this call only
            layer.forward = partial(_folded_forward, layer)
        try:
            return self.peft_model(*args, **kwargs)
        finally:
            for layer in self._layers:
                del layer.forward


def folded_view(lm: LoadedModel) -> LoadedModel:
    """The target with its unmerged adapter, every forward folding the LoRAs (`AdapterFolded`)."""
    _require_unmerged(lm, "fold")
    return LoadedModel(name=lm.name, model=AdapterFolded(lm.model), tokenizer=lm.tokenizer, device=lm.device,
                       dtype=lm.dtype, chat_template=lm.chat_template, adapter=lm.adapter)
