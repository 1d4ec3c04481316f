"""The input checks of a chat target (docs/chat.md), run before anything is written:
an adapter over another base than `target.model`, the `template` strategy without a chat
template, and `divergence` prompts that with `divergence.max_new_tokens` overflow the
model's context. Each returns the first problem as one line, or None.

It reads only the files the actors will load (config, tokenizers, adapter_config.json);
it knows no runs, storage or Ray.
"""

from __future__ import annotations

import json
from pathlib import Path

from memx.chat.divergence import divergence_message
from memx.chat.templates import adapter_base_problem, message_prompt, resolve_template, template_problem
from memx.errors import ConfigError
from memx.models import context_length


def adapter_problem(target) -> str | None:
    """A local adapter directory must hold adapter_config.json naming `target.model` (or no base)."""
    if target.adapter is None:
        return None
    path = Path(target.adapter).expanduser()
    if not path.exists():
        return None if not target.adapter.startswith((".", "/", "~")) else f"target.adapter: {target.adapter}: no such directory"
    config_file = path / "adapter_config.json"
    try:
        adapter_config = json.loads(config_file.read_text(encoding="utf-8"))
    except OSError:
        return f"target.adapter: {target.adapter}: not a PEFT adapter directory (no adapter_config.json)"
    except ValueError as error:
        return f"target.adapter: {config_file}: not JSON ({error})"
    return adapter_base_problem(adapter_config, target.model, str(path))


def _tokenizers(target):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(target.model)
    adapter_tokenizer = None
    if target.adapter is not None:
        path = Path(target.adapter).expanduser()
        if any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
            adapter_tokenizer = AutoTokenizer.from_pretrained(str(path))
    return tokenizer, adapter_tokenizer


def chat_problem(config) -> str | None:
    """The first problem of the target's adapter and the chat strategies, or None."""
    problem = adapter_problem(config.target)
    if problem:
        return problem
    gen = config.generation
    if not {"template", "divergence"} & set(gen.strategies):
        return None
    from transformers import AutoConfig

    try:
        tokenizer, adapter_tokenizer = _tokenizers(config.target)
        positions = context_length(AutoConfig.from_pretrained(config.target.model))
    except (OSError, ValueError) as error:
        return f"target.model: {config.target.model}: cannot load its config and tokenizer ({str(error).splitlines()[0]})"
    try:
        template = resolve_template(config.target.chat_template, tokenizer, adapter_tokenizer)
    except ConfigError as error:
        return str(error)
    problem = template_problem(template, gen.strategies)
    if problem or "divergence" not in gen.strategies or positions is None:
        return problem
    div = gen.divergence
    longest = max(len(message_prompt(tokenizer, template, divergence_message(div.message, word, max(div.repeats))))
                  for word in div.words)
    if longest + div.max_new_tokens > positions:
        return (f"generation.divergence.max_new_tokens: {div.max_new_tokens} new tokens after a prompt of up to "
                f"{longest} tokens exceed the model's context of {positions} positions")
    return None
