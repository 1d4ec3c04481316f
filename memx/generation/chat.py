"""The chat strategies' side of a shard: `template` and `divergence` prompts, and the
columns every strategy's rows carry for them (docs/chat.md, "Chat models and
fine-tunes").

`chat_prompts` renders a shard's prompts through the target's resolved chat template
(`LoadedModel.chat_template`); `chat_columns` gives a record batch's `span_from`,
`repeated`, `diverged_at`, `word` and `repeats`: for divergence rows the divergence
point of the generated tokens (`memx.chat.divergence`), for every other row `span_from`
0 and nulls. Sampling itself is the `top_k` rule (`strategy_chooser`). It knows no
storage or Ray.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from memx.chat.divergence import NOT_DIVERGED, divergence_points, divergence_prompts, span_from
from memx.config.chat import CHAT_STRATEGIES
from memx.chat.templates import cut_prompt, template_problem
from memx.errors import ConfigError

CHAT_FIELDS = [
    pa.field("span_from", pa.int32()),  # the first generated token a memorized span may start at
    pa.field("repeated", pa.int32()),  # divergence: occurrences of the word in the repetition run
    pa.field("diverged_at", pa.int32()),  # divergence: first token past the run; null when none
    pa.field("word", pa.string()),  # divergence: the word the prompt repeats
    pa.field("repeats", pa.int32()),  # divergence: how many times the prompt writes it
]


@dataclass
class ChatRows:
    """A chat shard's prompts, and for divergence each row's word and repeat count."""

    prompts: list[list[int]]
    words: list[str] | None = None
    repeats: np.ndarray | None = None


def is_chat(strategy: str) -> bool:
    return strategy in CHAT_STRATEGIES


def new_tokens(strategy: str, gen) -> int:
    return gen.divergence.max_new_tokens if strategy == "divergence" else gen.max_new_tokens


def chat_prompts(lm, strategy: str, seed: int, size: int, gen) -> ChatRows:
    template = getattr(lm, "chat_template", None)
    if strategy == "template":
        problem = template_problem(template, [strategy])
        if problem:
            raise ConfigError(problem)
        return ChatRows([list(prompt) for prompt in [cut_prompt(lm.tokenizer, template, gen.template.turn)] * size])
    if strategy == "divergence":
        d = gen.divergence
        drawn = divergence_prompts(lm.tokenizer, template, seed, size, d.words, d.repeats, d.message)
        return ChatRows(drawn.prompts, drawn.words, drawn.repeats)
    raise ValueError(f"not a chat strategy: {strategy!r}")


def chat_columns(strategy: str, rows: list[int], block: np.ndarray, chat: ChatRows | None, table) -> list[pa.Array]:
    """CHAT_FIELDS' arrays for the rows `rows` whose generated tokens are `block`.

    `table`: the target's `PackedTable` (token bytes), needed for divergence rows only."""
    n = len(rows)
    if strategy != "divergence":
        return [pa.array(np.zeros(n, dtype=np.int32)), pa.nulls(n, pa.int32()), pa.nulls(n, pa.int32()),
                pa.nulls(n, pa.string()), pa.nulls(n, pa.int32())]
    words = [chat.words[r] for r in rows]
    found = divergence_points(block.tolist(), words, table)
    at = found["diverged_at"]
    generated = np.full(n, block.shape[1], dtype=np.int32)
    return [
        pa.array(span_from(at, generated)),
        pa.array(found["repeated"]),
        pa.array(at, mask=at == NOT_DIVERGED),
        pa.array(words, pa.string()),
        pa.array(chat.repeats[rows]),
    ]
