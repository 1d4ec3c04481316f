"""Which documents of each side the `membership` stage reads, and what of each it scores.

A side is a `DocumentSource` (`memx.generation.documents`, opened once per process by
`Inputs.documents(uri)`): the same order, `document` indexes and `document_name`s as the
extraction stage (docs/membership.md). `documents: all` takes every document;
`documents: n` takes n distinct documents with at least 2 tokens (one predicted token),
exactly as extraction selects `documents: n` (`memx.extraction.documents`: the first n
of a permutation seeded with `generation.seed`, sorted so a shard reads forward).

Each document is tokenized whole, in one call for a batch, without special tokens, and
its first `max_tokens` ids are kept (`Kept`); its scored text is the source text those
ids cover (the tokenizer's character offsets: `text[:end of the last kept token]`), so
zlib, lowercase and the blind baseline see exactly what the model sees. This module knows
no models, shards or storage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memx.extraction.documents import walk_documents, document_names, encode_with_offsets
from memx.documents import DocumentSource

MIN_TOKENS = 2  # one predicted position
SIDES = ("members", "nonmembers")  # the stage's shard families, in this order


@dataclass
class Kept:
    """The scored part of a batch of documents, in the order asked."""

    document: np.ndarray  # int64 indexes in the source's order
    document_name: list[str]
    ids: list[list[int]]  # the first max_tokens ids of each document
    text: list[str]  # the source text those ids cover


def select_documents(source: DocumentSource, tokenizer, documents: int | str, seed: int, side: str) -> np.ndarray:
    """The document indexes of one side (int64, sorted); ValueError naming the field."""
    total = source.n_documents
    if total == 0:
        raise ValueError(f"membership.{side}: {source.uri} holds no documents")
    if documents == "all":
        return np.arange(total, dtype=np.int64)
    if documents > total:
        raise ValueError(f"membership.documents: {documents} documents a side asked for, but "
                         f"membership.{side} ({source.uri}) holds {total}")
    picked, _ = walk_documents(source, tokenizer, int(documents), MIN_TOKENS, seed)
    if len(picked) < documents:
        raise ValueError(f"membership.documents: {documents} documents a side asked for, but only {len(picked)} of "
                         f"membership.{side} ({source.uri}) have {MIN_TOKENS} tokens or more")
    return picked


def kept_tokens(tokenizer, texts: list[str], max_tokens: int) -> tuple[list[list[int]], list[str]]:
    """The first `max_tokens` ids of each text (tokenized whole, no special tokens) and the text they cover."""
    ids, kept = [], []
    for text, doc in zip(texts, encode_with_offsets(tokenizer, texts)):
        n = min(len(doc.ids), max_tokens)
        ids.append(doc.ids[:n].tolist())
        kept.append(text[: int(doc.offsets[n - 1, 1])] if n else "")
    return ids, kept


def read_kept(source: DocumentSource, tokenizer, indices: np.ndarray, max_tokens: int, side: str) -> Kept:
    """Read, name and cut the documents `indices` of one side."""
    indices = np.asarray(indices, dtype=np.int64)
    try:
        texts = source.read(indices)
    except (OSError, ValueError) as error:
        raise ValueError(f"membership.{side}: cannot read {source.uri} ({error})") from None
    ids, kept = kept_tokens(tokenizer, texts, max_tokens)
    return Kept(indices, document_names(source, indices), ids, kept)
