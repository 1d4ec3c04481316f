"""Byte-level verification index: build one from text files.

`build_index` streams documents from .txt (a whole file is one document, so a memorized
span may cross paragraph breaks), .jsonl (`text` per line) and .parquet (`text` column)
files or directories of them into infini-gram shards of raw UTF-8 bytes (`token_dtype
u8`, no tokenizer: any target model can be verified against it), has infini-gram build
the suffix arrays, and writes `index.json` LAST: a directory without it is incomplete.
Its reader is `memx.verify.byteindex.CorpusIndex`. `build_v4_index` is the build both
kinds share (`memx.index_tokens` feeds it token ids): every table is checked to be a
permutation before index.json.

This module knows nothing about models, tokenizers or candidates (see `memx.verify`),
nor about object stores: sources and the index directory are local paths.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from memx.errors import ConfigError, MemxFailure
from memx.storage import atomic_local_file
from memx.verify.byteindex import DOC_SEP, FORMAT
from memx.verify.sarray import ShardSearcher
from memx.verify.tokenindex import WIDTHS

SUFFIXES = (".txt", ".jsonl", ".parquet")
DEFAULT_SHARD_BYTES = 1 << 31  # keeps each suffix-array build within a few GiB of RAM
_SHARD_FILES = ("tokenized.", "offset.", "table.")


def _expand(sources: list[str | Path]) -> list[Path]:
    if not sources:
        raise ConfigError("index sources: none given")
    files: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES)
            if not found:
                raise ConfigError(f"index source {p}: no .txt/.jsonl/.parquet files inside")
            files.extend(found)
        elif p.is_file():
            if p.suffix not in SUFFIXES:
                raise ConfigError(f"index source {p}: unsupported type (use .txt, .jsonl, .parquet)")
            files.append(p)
        else:
            raise ConfigError(f"index source {p}: not found")
    return files


def _utf8(raw: bytes) -> bytes:
    # Non-UTF-8 input is repaired rather than rejected so the index holds valid text only.
    try:
        raw.decode("utf-8")
        return raw
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace").encode("utf-8")


def _documents(path: Path) -> Iterator[bytes]:
    if path.suffix == ".txt":
        yield _utf8(path.read_bytes())
    elif path.suffix == ".jsonl":
        with path.open("rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    text = json.loads(line)["text"]
                except (ValueError, KeyError, TypeError) as e:
                    raise ConfigError(f"index source {path}:{n}: no JSON `text` field ({e})") from None
                if not isinstance(text, str):
                    raise ConfigError(f"index source {path}:{n}: `text` is not a string")
                yield text.encode("utf-8", errors="replace")
    else:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (OSError, ValueError) as e:
            raise ConfigError(f"index source {path}: unreadable Parquet ({e})") from None
        if "text" not in pf.schema_arrow.names:
            raise ConfigError(f"index source {path}: no `text` column")
        for batch in pf.iter_batches(columns=["text"], batch_size=8192):
            for text in batch.column(0).to_pylist():
                if text:
                    yield text.encode("utf-8", errors="replace")


class _ShardWriter:
    """Appends documents to tokenized.{i}/offset.{i}, starting a new shard past a size cap."""

    def __init__(self, out: Path, shard_bytes: int, sep: bytes = DOC_SEP):
        self.out, self.cap, self.sep = out, shard_bytes, sep
        self.shards, self.docs, self.bytes, self.units = 0, 0, 0, 0
        self._ds = self._od = None
        self._pos = 0

    def add(self, doc: bytes, text_bytes: int | None = None) -> None:
        """One document: its units' bytes (raw text, or little-endian token ids whose text
        was `text_bytes` long), after a separator."""
        size = len(doc) + len(self.sep)
        if self._ds is None or (self._pos and self._pos + size > self.cap):
            self._open()
        self._od.write(np.uint64(self._pos).tobytes())
        self._ds.write(self.sep)
        self._ds.write(doc)
        self._pos += size
        self.docs += 1
        self.units += len(doc) // len(self.sep)
        self.bytes += len(doc) if text_bytes is None else text_bytes

    def _open(self) -> None:
        self.close()
        i = self.shards
        self._ds = open(self.out / f"tokenized.{i}", "wb")
        self._od = open(self.out / f"offset.{i}", "wb")
        self._pos = 0
        self.shards += 1

    def close(self) -> None:
        for f in (self._ds, self._od):
            if f is not None:
                f.close()
        self._ds = self._od = None


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[memx index] {msg}", file=sys.stderr, flush=True)


def check_permutation(out: Path, shard: int, width: int = 1) -> None:
    """MemxFailure unless table.{shard} holds every token position of tokenized.{shard}
    exactly once, in a sampled suffix order: infini-gram's parallel build has written
    duplicate pointers (PITFALLS), which its own engine then silently counts as 0."""
    searcher = ShardSearcher(out / f"tokenized.{shard}", out / f"table.{shard}", width)
    problem = searcher.permutation_problem() or searcher.order_problem()
    if problem:
        raise MemxFailure(f"{out}/table.{shard} is not a suffix array of tokenized.{shard} ({problem}); "
                          f"delete {out} and rebuild")


def _build_suffix_arrays(out: Path, shards: int, progress: bool, token_dtype: str = "u8") -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ulimit = 20000 if hard == resource.RLIM_INFINITY else min(hard, 20000)
    cpus = max(1, len(os.sched_getaffinity(0)))
    avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    mem_gib = max(1, int(avail * 0.5) >> 30)  # half of what is free: others share this host
    for i in range(shards):
        # One call per shard (worker i of `shards`) so tiny shards can use one thread:
        # infini-gram's parallel merge crashes on inputs of a few hundred bytes.
        size = (out / f"tokenized.{i}").stat().st_size
        t0 = time.time()
        _log(progress, f"shard {i + 1}/{shards}: suffix array over {size / 2**20:,.1f} MiB ...")
        # token-level builds use one CPU: with --cpus 2 a u16 table came out with duplicate pointers
        threads = cpus if size >= 1 << 20 and token_dtype == "u8" else 1
        cmd = [sys.executable, "-m", "infini_gram.indexing", "--data_dir", str(out),
               "--save_dir", str(out), "--token_dtype", token_dtype, "--version", "4",
               "--shards", str(shards), "--workers", str(shards), "--worker_id", str(i),
               "--cpus", str(threads), "--mem", str(mem_gib),
               "--ulimit", str(ulimit)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not (out / f"table.{i}").exists():
            tail = (proc.stdout + proc.stderr)[-800:]
            if token_dtype == "u32":  # seen on a 24 GiB machine: "memory allocation of 34359738368 bytes failed"
                tail = "infini-gram's u32 indexer allocates 32 GiB (2^35 bytes) per build: run it on a bigger machine.\n" + tail
            raise MemxFailure(f"infini-gram suffix-array build failed in {out} (shard {i}); rerun "
                              f"`memx index build` (free disk/memory?). Output tail:\n{tail}")
        check_permutation(out, i, WIDTHS[token_dtype])
        _log(progress, f"shard {i + 1}/{shards}: done in {time.time() - t0:.0f}s")


def _source_label(source: Path, out: Path) -> str:
    """Where a source was, for people reading index.json. A source in the same tree as the
    index (a lab: corpus/ beside index/) is recorded relative to the index, so the tree can
    be moved or built under a temporary name and renamed; anything else stays absolute."""
    source = source.resolve()
    if source.is_relative_to(out.parent):
        return os.path.relpath(source, out)
    return str(source)


def build_index(sources: list[str | Path], out_dir: str | Path, *, progress: bool = True,
                shard_bytes: int = DEFAULT_SHARD_BYTES) -> dict:
    """Build a byte-level infini-gram index of `sources` in `out_dir`; return its index.json."""
    return build_v4_index(sources, out_dir, {"format": FORMAT, "version": 1, "token_dtype": "u8"},
                          progress=progress, shard_bytes=shard_bytes)


def build_v4_index(sources: list[str | Path], out_dir: str | Path, meta: dict, *, encode=None,
                   progress: bool = True, shard_bytes: int = DEFAULT_SHARD_BYTES) -> dict:
    """Any v4 index: documents (through `encode`, a batch of texts' bytes -> their token
    bytes, for a token index) into shards, infini-gram's suffix arrays, every table
    checked, then index.json (`meta` plus what the build counted), last."""
    t0 = time.time()
    files = _expand(list(sources))
    out = Path(out_dir).resolve()  # infini-gram chdirs into its package: paths must be absolute
    out.mkdir(parents=True, exist_ok=True)
    # index.json goes first so a crash from here on leaves a detectably incomplete index.
    (out / "index.json").unlink(missing_ok=True)
    for f in out.iterdir():
        if f.is_file() and f.name.startswith(_SHARD_FILES):
            f.unlink()
        elif f.is_dir() and f.name.startswith(("parts-", "merged-")):  # infini-gram temp dirs
            shutil.rmtree(f, ignore_errors=True)
    token_dtype = meta["token_dtype"]
    writer = _ShardWriter(out, shard_bytes, b"\xff" * WIDTHS[token_dtype])
    last = time.time()
    try:
        for path in files:
            docs = _documents(path)
            while batch := list(itertools.islice(docs, 1024)):
                for doc, units in zip(batch, encode(batch) if encode else batch):
                    writer.add(units, len(doc))
            if time.time() - last > 5:
                last = time.time()
                rate = writer.bytes / max(last - t0, 1e-9) / 2**20
                _log(progress, f"read {writer.bytes / 2**20:,.0f} MiB, {writer.docs:,} docs ({rate:.1f} MiB/s)")
    finally:
        writer.close()
    if writer.docs == 0:
        raise ConfigError("index sources: no non-empty documents found")
    _log(progress, f"{writer.docs:,} docs, {writer.bytes / 2**20:,.1f} MiB in {writer.shards} shard(s)")
    _build_suffix_arrays(out, writer.shards, progress, token_dtype)
    meta = {**meta, "sources": [_source_label(Path(p), out) for p in sources], "files": len(files),
            "docs": writer.docs, "documents": writer.docs, "bytes": writer.bytes,
            **({"tokens": writer.units} if token_dtype != "u8" else {}), "shards": writer.shards,
            "build_seconds": round(time.time() - t0, 3)}
    with atomic_local_file(str(out / "index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, indent=2))
    _log(progress, f"done in {meta['build_seconds']:.1f}s -> {out}")
    return meta
