"""The pure checks of an `extraction` section (docs/formulas.md#extraction): windows that do not fit the model's
context, a top-k beyond its vocabulary, no document long enough for one window, `documents`
beyond the source. Each problem is one line that starts with the config field.

It takes the model's config, its tokenizer and a scanned source in hand; it knows no Run,
no storage and no Ray (the run's inputs are checked in `memx.pipeline.checks`).
"""

from __future__ import annotations

import numpy as np

from memx.config import Config
from memx.documents import DocumentSource
from memx.extraction.documents import check_documents, select_documents
from memx.models import context_length


def model_problem(config: Config, model_config) -> str | None:
    """Why the target cannot score these windows (context, vocabulary), or None."""
    ex = config.extraction
    positions = context_length(model_config)
    longest = max(ex.prefix_tokens)
    if positions is not None and longest + ex.suffix_tokens > positions:
        return (f"extraction.prefix_tokens: the longest prefix + suffix_tokens ({longest} + {ex.suffix_tokens}) "
                f"exceeds the target model's {positions} positions")
    vocab = getattr(model_config, "vocab_size", None)
    if ex.decoding.k is not None and vocab is not None and ex.decoding.k > vocab:
        return f"extraction.decoding.top_k: {ex.decoding.k} is beyond the target's vocabulary of {vocab} tokens"
    return None


def selected_documents(config: Config, source: DocumentSource, tokenizer) -> np.ndarray:
    """The documents the stage covers, checked: ValueError naming the field when there is no window."""
    selected = select_documents(source, tokenizer, config.extraction, config.generation.seed)
    check_documents(source, tokenizer, config.extraction, selected)
    return selected
