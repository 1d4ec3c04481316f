"""Byte-level verification index: build one from text files, query it for verbatim spans.

`build_index` streams documents from .txt (a whole file is one document, so a memorized
span may cross paragraph breaks), .jsonl (`text` per line) and .parquet (`text` column)
files or directories of them into infini-gram shards of raw UTF-8 bytes (`token_dtype
u8`, no tokenizer: any target model can be verified against it), has infini-gram build
the suffix arrays, and writes `index.json` LAST: a directory without it is incomplete.
`CorpusIndex` answers exact-count and longest-prefix queries across all shards, in
batches (`memx.verify.spans` turns the latter into SPEC §6's token spans).

This module knows nothing about models, tokenizers or candidates (see `memx.verify`),
nor about object stores: sources and the index directory are local paths.
"""

from __future__ import annotations

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
from memx.verify.sarray import ShardSearcher, pack_queries

SUFFIXES = (".txt", ".jsonl", ".parquet")
DOC_SEP = b"\xff"  # never occurs in UTF-8, so no match can span two documents
DEFAULT_SHARD_BYTES = 1 << 31  # keeps each suffix-array build within a few GiB of RAM
_SHARD_FILES = ("tokenized.", "offset.", "table.")
FORMAT = "memx-infini-gram-u8"  # index.json `format`: byte-level (u8) infini-gram v4 shards


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

    def __init__(self, out: Path, shard_bytes: int):
        self.out, self.cap = out, shard_bytes
        self.shards, self.docs, self.bytes = 0, 0, 0
        self._ds = self._od = None
        self._pos = 0

    def add(self, doc: bytes) -> None:
        if self._ds is None or (self._pos and self._pos + len(doc) + 1 > self.cap):
            self._open()
        self._od.write(np.uint64(self._pos).tobytes())
        self._ds.write(DOC_SEP)
        self._ds.write(doc)
        self._pos += len(doc) + 1
        self.docs += 1
        self.bytes += len(doc)

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


def _build_suffix_arrays(out: Path, shards: int, progress: bool) -> None:
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
        cmd = [sys.executable, "-m", "infini_gram.indexing", "--data_dir", str(out),
               "--save_dir", str(out), "--token_dtype", "u8", "--version", "4",
               "--shards", str(shards), "--workers", str(shards), "--worker_id", str(i),
               "--cpus", str(cpus if size >= 1 << 20 else 1), "--mem", str(mem_gib),
               "--ulimit", str(ulimit)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not (out / f"table.{i}").exists():
            tail = (proc.stdout + proc.stderr)[-800:]
            raise MemxFailure(f"infini-gram suffix-array build failed in {out} (shard {i}); rerun "
                              f"`memx index build` (free disk/memory?). Output tail:\n{tail}")
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
    writer = _ShardWriter(out, shard_bytes)
    last = time.time()
    try:
        for path in files:
            for doc in _documents(path):
                writer.add(doc)
            if time.time() - last > 5:
                last = time.time()
                rate = writer.bytes / max(last - t0, 1e-9) / 2**20
                _log(progress, f"read {writer.bytes / 2**20:,.0f} MiB, {writer.docs:,} docs ({rate:.0f} MiB/s)")
    finally:
        writer.close()
    if writer.docs == 0:
        raise ConfigError("index sources: no non-empty documents found")
    _log(progress, f"{writer.docs:,} docs, {writer.bytes / 2**20:,.1f} MiB in {writer.shards} shard(s)")
    _build_suffix_arrays(out, writer.shards, progress)
    meta = {"format": FORMAT, "version": 1, "token_dtype": "u8",
            "sources": [_source_label(Path(p), out) for p in sources], "files": len(files),
            "docs": writer.docs, "documents": writer.docs,
            "bytes": writer.bytes, "shards": writer.shards,
            "build_seconds": round(time.time() - t0, 3)}
    with atomic_local_file(str(out / "index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, indent=2))
    _log(progress, f"done in {meta['build_seconds']:.1f}s -> {out}")
    return meta


class CorpusIndex:
    """Queries over a built index; every position and length is in the query's own text."""

    def __init__(self, index_dir: str | Path):
        self.dir = Path(index_dir)
        meta_path = self.dir / "index.json"
        if not meta_path.is_file():
            raise ConfigError(f"verify.index: {self.dir}: no index.json (missing or incomplete; "
                              "run `memx index build`)")
        self.meta = json.loads(meta_path.read_text())
        found = (self.meta.get("format"), self.meta.get("token_dtype"))
        if found != (FORMAT, "u8"):  # the only layout memx.verify.sarray reads
            raise ConfigError(f"verify.index: {self.dir}: an index made for another format (format {found[0]!r}, "
                              f"token_dtype {found[1]!r}; memx reads {FORMAT!r}, u8): build one with `memx index build`")
        self._shards = [ShardSearcher(self.dir / f"tokenized.{i}", self.dir / f"table.{i}")
                        for i in range(int(self.meta["shards"]))]

    def count(self, text: str) -> int:
        """Occurrences of the exact UTF-8 bytes of `text` in the corpus (overlaps included)."""
        return self.count_bytes(text.encode("utf-8"))

    def count_bytes(self, data: bytes) -> int:
        """Occurrences of the exact bytes `data` in the corpus (overlaps included)."""
        return int(self.count_many([data])[0])

    def count_many(self, datas: list[bytes]) -> np.ndarray:
        """`count_bytes` of each of `datas` (int64), in one batched search; 0 for b""."""
        buf, starts = pack_queries(datas)
        return self.count_packed(buf, starts, np.array([len(d) for d in datas], dtype=np.int64))

    def count_packed(self, buf: np.ndarray, pos: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Occurrences of each buf[p:p+n] in a `sarray.pack_queries` buffer; 0 where n == 0."""
        pos, lens = np.asarray(pos, dtype=np.int64), np.asarray(lens, dtype=np.int64)
        out = np.zeros(len(pos), dtype=np.int64)
        some = np.nonzero(lens > 0)[0]
        if some.size:
            for shard in self._shards:  # documents never cross shards: counts add up
                out[some] += shard.count(buf, pos[some], lens[some])
        return out

    def prefix_lengths(self, datas: list[bytes], offsets: list[np.ndarray]) -> list[np.ndarray]:
        """For each datas[i] and each l in offsets[i], the longest n with datas[i][l:l+n] in
        the corpus. One batched search for all of them: the way to query in bulk."""
        buf, starts = pack_queries(datas)
        offs = [np.asarray(o, dtype=np.int64) for o in offsets]
        if not offs or sum(len(o) for o in offs) == 0:
            return [np.zeros(len(o), dtype=np.int64) for o in offs]
        pos = np.concatenate([starts[i] + o for i, o in enumerate(offs)])
        return np.split(self.prefix_lengths_packed(buf, pos), np.cumsum([len(o) for o in offs])[:-1])

    def prefix_lengths_packed(self, buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Longest n with buf[p:p+n] in the corpus, for each p in `pos`, over a
        `sarray.pack_queries`-style buffer (every query ends with its SENTINEL)."""
        best = np.zeros(len(pos), dtype=np.int64)
        for shard in self._shards:
            np.maximum(best, shard.prefix_lengths(buf, np.asarray(pos, dtype=np.int64)), out=best)
        return best
