"""Prompt sources for the `internet` strategy: a text corpus and random token spans of it.

`load_prompt_corpus` reads plain text, `.jsonl` (`text` field), `.parquet` (`text`
column) or a Common Crawl WET file (English `conversion` records only), optionally
gzipped, through an injected `open_input` (the caller backs it with S3 for s3:// URIs;
storage is not this module's business). The corpus is kept as one UTF-8 byte blob plus
document boundaries (a local plain-text file is memory-mapped instead of read), and it
is never tokenized as a whole: each prompt tokenizes one small window at a random byte,
cut at word boundaries so that the window's tokens are the corpus's own tokens.
"""

from __future__ import annotations

import gzip
import io
import mmap
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from memx.documents import OpenInput, jsonl_text, local_open
from memx.generation.wet import english_wet_texts

_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")
_MAX_ROUNDS = 64


class PromptCorpus:
    """Documents as byte ranges [starts[i], ends[i]) of one blob; prompts never cross documents."""

    def __init__(self, blob: bytes | mmap.mmap, starts: np.ndarray, ends: np.ndarray, source: str = "corpus"):
        self.blob = blob
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        self.source = source
        self.mapped_path: str | None = None  # set when `blob` maps a local file, to re-map after pickling
        sizes = self.ends - self.starts
        if len(sizes) == 0 or sizes.sum() == 0:
            raise ValueError(f"{source}: the prompt corpus holds no text")
        self._cumulative = np.cumsum(sizes)

    def __reduce__(self):
        # An mmap cannot be pickled (Ray ships objects by pickle): map the same file again on
        # the other side instead of copying a multi-GB corpus into the message.
        path = getattr(self, "mapped_path", None)
        if isinstance(self.blob, mmap.mmap) and path:
            return (_remap, (path, self.starts, self.ends, self.source))
        blob = bytes(self.blob) if isinstance(self.blob, mmap.mmap) else self.blob
        return (PromptCorpus, (blob, self.starts, self.ends, self.source))

    @classmethod
    def from_texts(cls, texts: Iterable[str], source: str = "corpus") -> "PromptCorpus":
        parts = [text.encode("utf-8") for text in texts if text]
        sizes = np.fromiter((len(part) for part in parts), dtype=np.int64, count=len(parts))
        ends = np.cumsum(sizes)
        return cls(b"".join(parts), ends - sizes, ends, source)

    @property
    def n_documents(self) -> int:
        return len(self.starts)

    @property
    def n_bytes(self) -> int:
        return int(self._cumulative[-1])

    def document(self, index: int) -> str:
        return bytes(self.blob[self.starts[index] : self.ends[index]]).decode("utf-8", "replace")

    def sample_prompts(self, tokenizer, n: int, min_tokens: int, max_tokens: int, rng: np.random.Generator) -> list[list[int]]:
        """`n` prompts, each a uniform length in [min_tokens, max_tokens] of consecutive corpus tokens.

        Deterministic in `rng`'s state. A window that turns out too short (end of a
        document, tiny document) is redrawn; a corpus with no document long enough fails.
        """
        if not 0 < min_tokens <= max_tokens:
            raise ValueError(f"need 0 < min_tokens <= max_tokens, got {min_tokens}, {max_tokens}")
        lengths = rng.integers(min_tokens, max_tokens + 1, size=n)
        window = max(256, 16 * max_tokens)  # bytes; English BPE averages ~4 bytes a token
        prompts: list[list[int] | None] = [None] * n
        pending = np.arange(n)
        for _ in range(_MAX_ROUNDS):
            if len(pending) == 0:
                break
            texts = [self._window(int(p), window) for p in rng.integers(0, self.n_bytes, size=len(pending))]
            encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
            offsets = rng.random(len(pending))
            still = []
            for row, tokens, u in zip(pending, encoded, offsets):
                need = int(lengths[row])
                if len(tokens) < need:
                    still.append(row)
                    continue
                start = int(u * (len(tokens) - need + 1))
                prompts[row] = [int(t) for t in tokens[start : start + need]]
            pending = np.asarray(still, dtype=np.int64)
        if len(pending):
            raise ValueError(f"{self.source}: could not find {max_tokens}-token spans; the corpus documents are too short")
        return prompts  # type: ignore[return-value]

    def _window(self, position: int, size: int) -> str:
        """Text of about `size` bytes from `position`, both ends moved onto word boundaries."""
        doc = int(np.searchsorted(self._cumulative, position, side="right"))
        doc_start, doc_end = int(self.starts[doc]), int(self.ends[doc])
        start = doc_start + (position - (int(self._cumulative[doc]) - (doc_end - doc_start)))
        end = min(doc_end, start + size)
        if start > doc_start:
            start = self._boundary(start, end, forward=True)
            if start is None:
                return ""
        if end < doc_end:
            end = self._boundary(start + 1, end, forward=False)
            if end is None:
                return ""
        return bytes(self.blob[start:end]).decode("utf-8", "replace")

    def _boundary(self, lo: int, hi: int, forward: bool) -> int | None:
        """A single space between two non-space bytes: GPT-2-style pre-tokenizers always cut
        right before it (the space opens the next word's token), so tokenizing from or up
        to it reproduces the corpus's own tokens. Also a char boundary in UTF-8."""
        blob = self.blob
        pos = blob.find(b" ", lo, hi) if forward else blob.rfind(b" ", lo, hi)
        while pos != -1:
            if 0 < pos < len(blob) - 1 and blob[pos - 1] not in _WHITESPACE and blob[pos + 1] not in _WHITESPACE:
                return pos
            pos = blob.find(b" ", pos + 1, hi) if forward else blob.rfind(b" ", lo, pos)
        return None


def _format(uri: str) -> tuple[str, bool]:
    name = uri.lower().split("?", 1)[0]
    compressed = name.endswith(".gz")
    name = name.removesuffix(".gz")
    for suffix, kind in ((".warc.wet", "wet"), (".wet", "wet"), (".jsonl", "jsonl"), (".parquet", "parquet")):
        if name.endswith(suffix):
            return kind, compressed
    return "text", compressed


def _jsonl_texts(stream: BinaryIO, uri: str) -> Iterator[str]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield jsonl_text(line, uri, number)


def _parquet_texts(stream: BinaryIO, uri: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    if not (hasattr(stream, "seekable") and stream.seekable()):
        stream = io.BytesIO(stream.read())  # Parquet needs random access to its footer
    parquet = pq.ParquetFile(stream)
    if "text" not in parquet.schema_arrow.names:
        raise ValueError(f"{uri}: no 'text' column (columns: {', '.join(parquet.schema_arrow.names)})")
    for batch in parquet.iter_batches(columns=["text"], batch_size=4096):
        yield from (text for text in batch.column(0).to_pylist() if text)


def _mapped(stream: BinaryIO) -> mmap.mmap | None:
    """Memory-map a real local file so a multi-GB corpus costs page cache, not heap, per process."""
    try:
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _remap(path: str, starts: np.ndarray, ends: np.ndarray, source: str) -> PromptCorpus:
    with open(path, "rb") as handle:
        mapped = _mapped(handle)
        blob = mapped if mapped is not None else handle.read()
    corpus = PromptCorpus(blob, starts, ends, source)
    corpus.mapped_path = path if mapped is not None else None
    return corpus


def load_prompt_corpus(uri: str, open_input: OpenInput = local_open) -> PromptCorpus:
    """Read a prompt corpus: text, .jsonl, .parquet or CC WET, each optionally .gz."""
    kind, compressed = _format(uri)
    with open_input(uri) as raw:
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if compressed else raw  # type: ignore[assignment]
        if kind == "text":
            blob = None if compressed else _mapped(raw)
            if blob is None:
                blob = stream.read()
            if len(blob) == 0:
                raise ValueError(f"{uri}: the prompt corpus holds no text")
            corpus = PromptCorpus(blob, np.array([0]), np.array([len(blob)]), source=uri)
            corpus.mapped_path = getattr(raw, "name", None) if isinstance(blob, mmap.mmap) else None
            return corpus
        if kind == "jsonl":
            return PromptCorpus.from_texts(_jsonl_texts(stream, uri), source=uri)
        if kind == "parquet":
            return PromptCorpus.from_texts(_parquet_texts(stream, uri), source=uri)
        return PromptCorpus.from_texts(english_wet_texts(stream), source=uri)
