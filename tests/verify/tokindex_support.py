"""Helpers for the token-index tests: raw infini-gram v4 token indexes written the way the
released ones are (no index.json: tokenized.{i} of separator + little-endian ids per
document, offset.{i} of u64 byte offsets, infini-gram's own indexer for table.{i}; for
u32, whose indexer needs over 32 GiB of RAM, a plain sort of the suffixes), and a
brute-force longest match over token lists to check memx against.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np

WIDTH = {"u8": 1, "u16": 2, "u32": 4}


def write_raw_index(out: Path, shards: list[list[list[int]]], dtype: str = "u16") -> Path:
    """One shard per entry of `shards` (a list of documents, each a list of ids)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    np_dtype, sep = f"<u{WIDTH[dtype]}", (1 << (8 * WIDTH[dtype])) - 1
    for i, docs in enumerate(shards):
        data, offsets = [], []
        at = 0
        for doc in docs:
            offsets.append(at)
            units = np.array([sep, *doc], dtype=np_dtype).tobytes()
            data.append(units)
            at += len(units)
        (out / f"tokenized.{i}").write_bytes(b"".join(data))
        (out / f"offset.{i}").write_bytes(np.array(offsets, dtype="<u8").tobytes())
    if dtype == "u32":  # infini-gram's indexer allocates 2^35 bytes for u32 (more than this machine has)
        for i in range(len(shards)):
            _sort_table(out, i, WIDTH[dtype])
        return out
    for i in range(len(shards)):
        proc = subprocess.run([sys.executable, "-m", "infini_gram.indexing", "--data_dir", str(out),
                               "--save_dir", str(out), "--token_dtype", dtype, "--version", "4",
                               "--shards", str(len(shards)), "--workers", str(len(shards)), "--worker_id", str(i),
                               "--cpus", "1", "--mem", "1", "--ulimit", "1024"], capture_output=True, text=True)
        assert proc.returncode == 0 and (out / f"table.{i}").exists(), proc.stdout[-500:] + proc.stderr[-500:]
    return out


def _sort_table(out: Path, shard: int, width: int) -> None:
    """table.{shard} by a plain sort of every token position's suffix, byte-wise."""
    data = (out / f"tokenized.{shard}").read_bytes()
    pointers = sorted(range(0, len(data), width), key=lambda p: data[p:])
    size = max(1, math.ceil(math.log2(len(data)) / 8))
    (out / f"table.{shard}").write_bytes(b"".join(p.to_bytes(size, "little") for p in pointers))


def brute_longest(docs: list[list[int]], query: list[int]) -> int:
    """The most leading tokens of `query` found inside one document."""
    best = 0
    for doc in docs:
        for start in range(len(doc)):
            n = 0
            while n < len(query) and start + n < len(doc) and doc[start + n] == query[n]:
                n += 1
            best = max(best, n)
    return best


def brute_count(docs: list[list[int]], query: list[int]) -> int:
    n = len(query)
    return sum(doc[s:s + n] == query for doc in docs for s in range(len(doc) - n + 1)) if n else 0


def longest_prefix_tokens(index, id_lists) -> np.ndarray:
    """For each id sequence, the most leading tokens that occur in a TokenIndex, through the
    packed queries `memx.verify.spans` sends."""
    from memx.verify.tokenindex import pack_token_queries

    buf, starts = pack_token_queries(id_lists, index.token_dtype, index.end_token)
    return index.prefix_lengths_packed(buf, starts) // index.width
