"""Sequences for the `prefix` strategy (docs/formulas.md#prefix): prefix + true suffix cut from source documents.

A sequence is `prefix_tokens + suffix_tokens` consecutive tokens of one document,
tokenized whole without special tokens, at a uniformly random token offset; documents
are drawn uniformly, with replacement, by a numpy generator seeded with the shard seed
alone, so the same shard always gets the same sequences whatever else ran before.
Documents too short are skipped: one whose byte-size bound (`DocumentSource.byte_bounds`)
rules it out is never even read, the others are read, tokenized in one batch per round,
and dropped when they have fewer tokens than needed.

Also the up-front checks the driver runs before any actor starts
(`check_prefix_source`, `prefix_context_problem`). This module knows nothing about
models, sampling, Arrow or storage.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from memx.documents import DocumentSource, ListFiles
from memx.generation.prompts import OpenInput, local_open

_MAX_ROUNDS = 64
_MAX_DRAWS_PER_ROUND = 1 << 15
_CHECK_SAMPLE = 512  # documents tokenized by check_prefix_source when a source has more


@dataclass
class PrefixSequences:
    """One row per sample: the prefix the model sees, the suffix it should produce."""

    prefixes: np.ndarray  # (rows, prefix_tokens) int64
    suffixes: np.ndarray  # (rows, suffix_tokens) int64
    sequence_ids: list[str]  # "{document index}:{token offset}"

    def __len__(self) -> int:
        return len(self.sequence_ids)


def plain_backend(tokenizer) -> bool:
    """A transformers 5 fast tokenizer whose encoding is its Rust backend's, unmodified."""
    try:
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # transformers 4.x: always the ordinary call
        return False
    backend = tokenizer.backend_tokenizer
    return (isinstance(tokenizer, TokenizersBackend) and type(tokenizer)._encode_plus is TokenizersBackend._encode_plus
            and backend.truncation is None and backend.padding is None
            and backend.encode_special_tokens == bool(getattr(tokenizer, "split_special_tokens", False)))


def encode_documents(tokenizer, texts: list[str]) -> list[list[int]]:
    """`tokenizer(texts, add_special_tokens=False)["input_ids"]`, the same ids. Whole documents
    are long, so where the call would only wrap the Rust backend, its `encode_batch_fast`
    (no character offsets) is called directly: about twice as fast."""
    if not texts:
        return []
    fast = getattr(getattr(tokenizer, "backend_tokenizer", None), "encode_batch_fast", None)
    if fast is not None and plain_backend(tokenizer):
        return [encoding.ids for encoding in fast(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def _token_counts_and_flat(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lengths, starts, flat ids) of every text tokenized without special tokens, in one batch."""
    encoded = encode_documents(tokenizer, texts)
    lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else lengths
    flat = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int64, count=int(lengths.sum()))
    return lengths, starts, flat


def draw_sequences(source: DocumentSource, tokenizer, n: int, prefix_tokens: int, suffix_tokens: int,
                   rng: np.random.Generator) -> PrefixSequences:
    """`n` sequences, in draw order; deterministic in `rng`'s state and the source's content."""
    need = prefix_tokens + suffix_tokens
    if source.n_documents == 0 and n > 0:
        raise ValueError(f"{source.uri}: the prefix source holds no documents")
    docs_out, offsets_out, ids_out = [], [], []
    found, drawn, read, rate = 0, 0, 0, None
    for _ in range(_MAX_ROUNDS):
        missing = n - found
        if missing <= 0:
            break
        # First exactly what is missing (every document tokenized costs time), then enough
        # for the acceptance rate seen so far: a source of mostly short documents costs a few
        # large rounds rather than many small ones.
        wanted = missing if rate is None else max(missing, np.ceil(1.1 * missing / max(rate, 1e-3)))
        k = int(min(_MAX_DRAWS_PER_ROUND, wanted))
        docs = rng.integers(0, source.n_documents, size=k)
        uniforms = rng.random(k)
        drawn += k
        fits = source.byte_bounds(docs) >= need - 1  # cannot hold `need` tokens: not even read
        readable = np.flatnonzero(fits)
        unique, back = np.unique(docs[readable], return_inverse=True)
        lengths, starts, flat = _token_counts_and_flat(tokenizer, source.read(unique))
        read += len(unique)
        long_enough = np.zeros(k, dtype=bool)
        long_enough[readable] = lengths[back] >= need
        accepted = np.flatnonzero(long_enough)[:missing]
        rate = max(np.count_nonzero(long_enough) / k, 1.0 / k)
        if len(accepted) == 0:
            continue
        where = np.searchsorted(readable, accepted)  # position of each accepted draw among the read ones
        doc_len = lengths[back[where]]
        offset = np.floor(uniforms[accepted] * (doc_len - need + 1)).astype(np.int64)
        take = (starts[back[where]] + offset)[:, None] + np.arange(need)
        ids_out.append(flat[take])
        docs_out.append(docs[accepted])
        offsets_out.append(offset)
        found += len(accepted)
    if found < n:
        raise ValueError(f"{source.uri}: found {found} of {n} sequences of {need} tokens in {drawn} document draws "
                         f"({read} documents read); most documents are shorter than prefix_tokens + suffix_tokens")
    if not ids_out:  # n == 0
        return PrefixSequences(np.zeros((0, prefix_tokens), np.int64), np.zeros((0, suffix_tokens), np.int64), [])
    ids = np.concatenate(ids_out)
    docs, offsets = np.concatenate(docs_out), np.concatenate(offsets_out)
    return PrefixSequences(ids[:, :prefix_tokens], ids[:, prefix_tokens:],
                           [f"{d}:{o}" for d, o in zip(docs.tolist(), offsets.tolist())])


def shard_sequences(source: DocumentSource, tokenizer, seed: int, rows: int, prefix_tokens: int,
                    suffix_tokens: int, draws: int = 1) -> PrefixSequences:
    """A shard's rows: ceil(rows / draws) sequences from the shard seed, each on `draws` consecutive rows."""
    count = -(-rows // draws)
    drawn = draw_sequences(source, tokenizer, count, prefix_tokens, suffix_tokens, np.random.default_rng(seed))
    if draws == 1:
        return drawn
    row_of = np.repeat(np.arange(count), draws)[:rows]
    return PrefixSequences(drawn.prefixes[row_of], drawn.suffixes[row_of], [drawn.sequence_ids[i] for i in row_of])


def prefix_context_problem(prefix_tokens: int, suffix_tokens: int, max_positions: int | None) -> str | None:
    """Why a model of `max_positions` positions cannot continue these sequences, or None."""
    if max_positions is not None and prefix_tokens + suffix_tokens > max_positions:
        return (f"generation.prefix: prefix_tokens + suffix_tokens ({prefix_tokens} + {suffix_tokens}) exceeds "
                f"the target model's {max_positions} positions")
    return None


def check_prefix_source(uri: str, open_input: OpenInput, tokenizer, need_tokens: int,
                        list_files: ListFiles | None = None, sample: int = _CHECK_SAMPLE) -> str | None:
    """Why `uri` cannot give sequences of `need_tokens` tokens (one line naming the field), or None.

    Unreadable or empty sources and sources where no document is long enough are
    problems. Documents ruled out by their byte size are counted exactly; of the others,
    all are tokenized when there are at most `sample`, else a seeded sample of `sample`.
    """
    field = "generation.prefix.source"
    try:
        source = DocumentSource.scan(uri, open_input or local_open, list_files)
    except (OSError, ValueError) as error:
        return f"{field}: cannot read {uri} ({error})"
    total = source.n_documents
    if total == 0:
        return f"{field}: {uri} holds no documents"
    candidates = np.flatnonzero(source.byte_bounds() >= need_tokens - 1)
    by_size = total - len(candidates)
    if len(candidates) == 0:
        return f"{field}: no document of {uri} is long enough for {need_tokens} tokens (prefix_tokens + " \
               f"suffix_tokens): all {total} are shorter than {need_tokens} bytes"
    tried = candidates if len(candidates) <= sample else np.sort(
        np.random.default_rng(0).choice(candidates, size=sample, replace=False))
    try:
        lengths, _, _ = _token_counts_and_flat(tokenizer, source.read(tried))
    except (OSError, ValueError) as error:
        return f"{field}: cannot read {uri} ({error})"
    if (lengths >= need_tokens).any():
        return None
    if len(tried) == len(candidates):
        return f"{field}: no document of {uri} is long enough for {need_tokens} tokens (prefix_tokens + " \
               f"suffix_tokens): all {total} documents are shorter"
    return f"{field}: none of {len(tried)} documents of {uri} tried has {need_tokens} tokens (prefix_tokens + " \
           f"suffix_tokens); {by_size} of {total} documents are shorter than {need_tokens} bytes"
