"""Which documents the `extraction` stage reads (docs/formulas.md#extraction), how they are named and tokenized.

The order is `memx.generation.DocumentSource`'s: files in sorted URI order (directories
recursively), then jsonl lines / parquet rows in file order, each .txt file one document,
a blank jsonl line an empty document; `document` is the index in that order over the whole
source. `select_documents` turns `documents: all | n | [indexes]` into the list of
document indexes the stage covers, in the order shards take them:

- `all`: every document of the source (too short ones simply have no window);
- a list: exactly those, in the order given;
- `n`: n distinct documents among those long enough for one window, without replacement,
  drawn by a numpy generator seeded with `generation.seed` (the first n long-enough
  documents of a seeded permutation, which is a uniform sample of them), then sorted so
  a shard reads its files forward. Only as many documents are tokenized as the walk needs.

Documents are tokenized whole, one call for a batch of them, without special tokens,
with the tokenizer's character offsets (`encode_with_offsets`). Errors that a user can
fix are `ValueError`s whose message starts with the config field. This module knows no
models, shards or storage: the source is a scanned `DocumentSource`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memx.config.extraction import ExtractionConfig
from memx.documents import DocumentSource
from memx.generation.prefix import encode_documents, plain_backend

_WALK_BATCH = 256  # documents tokenized per step of the `documents: n` walk
_CHECK_SAMPLE = 512  # documents tokenized to check a source under `documents: all`
FIELD = "extraction.documents"


@dataclass
class TokenizedDocument:
    ids: np.ndarray  # (tokens,) int64
    offsets: np.ndarray  # (tokens, 2) int64: [start, end) character indexes of each token in the text
    chars: int  # len(text)


def min_document_tokens(extraction: ExtractionConfig) -> int:
    """The fewest tokens a document needs for one window: the smallest stride multiple o >= k, plus S."""
    stride = extraction.stride_tokens
    return min(-(-k // stride) * stride for k in extraction.prefix_tokens) + extraction.suffix_tokens


def encode_with_offsets(tokenizer, texts: list[str]) -> list[TokenizedDocument]:
    """Each text tokenized whole without special tokens, with its character offsets: the ids
    of `tokenizer(texts, add_special_tokens=False)`, the same as the `prefix` strategy's."""
    if not texts:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and plain_backend(tokenizer):
        encoded = [(e.ids, e.offsets) for e in backend.encode_batch(texts, add_special_tokens=False)]
    elif getattr(tokenizer, "is_fast", False):
        out = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        encoded = list(zip(out["input_ids"], out["offset_mapping"]))
    else:
        raise ValueError("target.model: extraction needs a fast tokenizer (character offsets of every token)")
    return [TokenizedDocument(np.asarray(ids, dtype=np.int64),
                              np.asarray(offsets, dtype=np.int64).reshape(-1, 2), len(text))
            for (ids, offsets), text in zip(encoded, texts)]


def document_names(source: DocumentSource, indices: np.ndarray) -> list[str]:
    """docs/formulas.md#extraction `document_name`: the file's URI, plus `:{line}` (from 1) for jsonl or `:{row}` (from 0) for parquet."""
    indices = np.asarray(indices, dtype=np.int64)
    which = np.searchsorted(source.firsts, indices, side="right") - 1
    names = []
    for i, f in zip(indices.tolist(), which.tolist()):
        file = source.files[f]
        local = i - file.first
        names.append(file.uri if file.kind == "txt" else f"{file.uri}:{local + 1 if file.kind == 'jsonl' else local}")
    return names


def read_documents(source: DocumentSource, indices: np.ndarray) -> list[str]:
    """The texts of `indices`; a file that cannot be read or parsed is a ValueError naming the field."""
    try:
        return source.read(indices)
    except (OSError, ValueError) as error:
        raise ValueError(f"extraction.source: cannot read {source.uri} ({error})") from None


def _token_lengths(source: DocumentSource, tokenizer, indices: np.ndarray) -> np.ndarray:
    texts = read_documents(source, indices)
    return np.fromiter((len(ids) for ids in encode_documents(tokenizer, texts)), dtype=np.int64, count=len(texts))


def walk_documents(source: DocumentSource, tokenizer, count: int, need: int, seed: int) -> tuple[np.ndarray, int]:
    """The first `count` documents of a seeded permutation with >= `need` tokens, and how
    many documents were ruled out on the way (by size or by token count)."""
    order = np.random.default_rng(seed).permutation(source.n_documents)
    fits = order[source.byte_bounds(order) >= need - 1]  # a text of b bytes never has more than b + 1 tokens
    chosen: list[np.ndarray] = []
    found = position = 0
    while found < count and position < len(fits):
        step = fits[position: position + max(_WALK_BATCH, 2 * (count - found))]
        position += len(step)
        lengths = _token_lengths(source, tokenizer, step)
        good = step[lengths >= need][: count - found]
        chosen.append(good)
        found += len(good)
    picked = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    return np.sort(picked).astype(np.int64), (len(order) - len(fits)) + (position - found)


def select_documents(source: DocumentSource, tokenizer, extraction: ExtractionConfig, seed: int) -> np.ndarray:
    """The document indexes the stage covers (int64), in shard order; ValueError naming the field."""
    total = source.n_documents
    need = min_document_tokens(extraction)
    wanted = extraction.documents
    if total == 0:
        raise ValueError(f"extraction.source: {source.uri} holds no documents")
    if wanted == "all":
        return np.arange(total, dtype=np.int64)
    if isinstance(wanted, list):
        listed = np.asarray(wanted, dtype=np.int64)
        beyond = listed[listed >= total]
        if len(beyond):
            raise ValueError(f"{FIELD}: document {int(beyond[0])} is beyond the source, which holds {total} "
                             f"documents (0-{total - 1})")
        return listed
    if wanted > total:
        raise ValueError(f"{FIELD}: {wanted} documents asked for, but {source.uri} holds {total}")
    picked, _ = walk_documents(source, tokenizer, wanted, need, seed)
    if len(picked) < wanted:
        raise ValueError(f"{FIELD}: {wanted} documents asked for, but only {len(picked)} of the source's {total} are "
                         f"long enough for one window ({need} tokens); {total - len(picked)} are shorter")
    return picked


def check_documents(source: DocumentSource, tokenizer, extraction: ExtractionConfig, selected: np.ndarray) -> None:
    """ValueError when no selected document is long enough for one window (saying how many are shorter).

    Documents ruled out by their byte size are counted exactly; of the others, all are
    tokenized when there are at most 512, else a seeded sample of 512."""
    need = min_document_tokens(extraction)
    candidates = selected[source.byte_bounds(selected) >= need - 1]
    by_size = len(selected) - len(candidates)
    tried = candidates if len(candidates) <= _CHECK_SAMPLE else np.sort(
        np.random.default_rng(0).choice(candidates, size=_CHECK_SAMPLE, replace=False))
    if len(tried) and (_token_lengths(source, tokenizer, tried) >= need).any():
        return
    what = "the source's" if extraction.documents == "all" else "the selected"
    if len(tried) == len(candidates):
        raise ValueError(f"extraction.source: no document is long enough for one window ({need} tokens: the smallest "
                         f"multiple of stride_tokens >= a prefix length, plus suffix_tokens); all {len(selected)} of "
                         f"{what} documents are shorter")
    raise ValueError(f"extraction.source: none of {len(tried)} documents tried has {need} tokens (one window); "
                     f"{by_size} of {what} {len(selected)} documents are shorter than {need} bytes")
