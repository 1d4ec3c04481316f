"""The up-front checks of an `extraction` section (SPEC §9), run by the driver before anything
is written: windows that do not fit the model's context, a top-k beyond its vocabulary, an
unreadable source, no document long enough for one window, `documents` beyond the source.

Each problem is one line that starts with the config field. It reads the target's config
and tokenizer (not its weights) and scans the source; it knows no storage or Ray: the
source is the run's `memx.inputs.Inputs`' (scanned once per process, whoever asks first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from memx.config import Config
from memx.extraction.documents import check_documents, select_documents
from memx.generation.documents import DocumentSource

if TYPE_CHECKING:
    from memx.inputs import Inputs


def model_problem(config: Config, model_config) -> str | None:
    """Why the target cannot score these windows (context, vocabulary), or None."""
    ex = config.extraction
    positions = getattr(model_config, "n_positions", None) or getattr(model_config, "max_position_embeddings", None)
    longest = max(ex.prefix_tokens)
    if positions is not None and longest + ex.suffix_tokens > positions:
        return (f"extraction.prefix_tokens: the longest prefix + suffix_tokens ({longest} + {ex.suffix_tokens}) "
                f"exceeds the target model's {positions} positions")
    vocab = getattr(model_config, "vocab_size", None)
    if ex.decoding.k is not None and vocab is not None and ex.decoding.k > vocab:
        return f"extraction.decoding.top_k: {ex.decoding.k} is beyond the target's vocabulary of {vocab} tokens"
    return None


def scan_source(config: Config, inputs: "Inputs") -> DocumentSource:
    """The scanned source; ValueError naming `extraction.source` when it cannot be read."""
    uri = config.extraction.source
    try:
        return inputs.documents(uri)
    except (OSError, ValueError) as error:
        raise ValueError(f"extraction.source: cannot read {uri} ({error})") from None


def selected_documents(config: Config, source: DocumentSource, tokenizer) -> np.ndarray:
    """The documents the stage covers, checked: ValueError naming the field when there is no window."""
    selected = select_documents(source, tokenizer, config.extraction, config.generation.seed)
    check_documents(source, tokenizer, config.extraction, selected)
    return selected


def extraction_problem(config: Config, inputs: "Inputs") -> str | None:
    """The first problem of the section, or None."""
    from transformers import AutoConfig, AutoTokenizer

    try:  # the files the actors will load: config and tokenizer only
        model_config = AutoConfig.from_pretrained(config.target.model)
        tokenizer = AutoTokenizer.from_pretrained(config.target.model)
    except (OSError, ValueError) as error:
        return f"target.model: {config.target.model}: cannot load its config and tokenizer ({str(error).splitlines()[0]})"
    problem = model_problem(config, model_config)
    if problem:
        return problem
    if not getattr(tokenizer, "is_fast", False):
        return "target.model: extraction needs a fast tokenizer (character offsets of every token)"
    try:
        selected_documents(config, scan_source(config, inputs), tokenizer)
    except ValueError as error:
        return str(error)
    return None
