"""Benchmark part of bench_verify_all.py (`--token`): the same text indexed byte-level and
token-level (docs/indexes.md), sizes and verification speed side by side, in one run.

The corpus, byte index, BPE tokenizer (4,096 ids, the target's) and 256-token samples are
bench_verify.py's. Two token indexes of the same corpus are built by
`memx.index_tokens.build_token_index` (infini-gram's indexer, one CPU) and cached beside
the byte index: one with the target's tokenizer (`TokenSearch`: generated ids searched as
they are) and one with a second BPE (2,048 ids, trained on other text: `BridgedSearch`,
the re-tokenizing case). Printed: bytes of index per byte of text for each and their
ratio (target: token / byte <= 0.45 with the target's tokenizer), the same figure by
arithmetic from the v4 layout for a ~4-bytes-a-token tokenizer (Llama-2's), and
samples/s of each search in alternating rounds (target: token >= byte, same tokenizer),
each result checked as bench_verify_all checks the byte index's. It knows nothing about
runs or Ray.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from memx.verify.byteindex import CorpusIndex
from memx.index_tokens import build_token_index
from memx.verify.search import open_index_dirs, span_search
from tests.bench.bench_verify import CACHE, MIN_MATCH, TOKENS, check, ensure_tokenizer, train_bpe


def index_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.iterdir() if f.name.split(".")[0] in ("tokenized", "table", "offset"))


def ensure_other_tokenizer(corpus: Path) -> Path:
    return train_bpe(CACHE / "tokenizer-other.json", [corpus / "words-0001.txt"], 2048)


def ensure_token_index(corpus: Path, tokenizer: Path, name: str) -> tuple[Path, float]:
    out = corpus.with_name(corpus.name.replace("corpus", f"token-index-{name}"))
    if not (out / "index.json").exists():
        build_token_index([corpus], out, str(tokenizer))
    return out, json.loads((out / "index.json").read_text())["build_seconds"]


def layout_arithmetic(bytes_per_token: float, shard_bytes: int = 1 << 33) -> str:
    """Bytes of index per byte of text of a u16 and a byte index, from the v4 layout alone."""
    token_ptr = math.ceil(math.log2(shard_bytes) / 8)
    byte_ptr = math.ceil(math.log2(shard_bytes * bytes_per_token / 2) / 8)
    token, byte = (2 + token_ptr) / bytes_per_token, 1 + byte_ptr
    return (f"{bytes_per_token:.1f} bytes a token, shards of {shard_bytes / 2**30:.0f} GiB: u16 index "
            f"{token:.2f} bytes per byte of text ({2 + token_ptr} per token), byte index {byte:.2f}: "
            f"ratio {token / byte:.2f}")


def within_edges(out: dict, planted: list, edge: int) -> int:
    """Samples judged right when a planted span may lose `edge` tokens at each end: its
    first tokens were cut from the middle of a corpus word, which the corpus's own
    tokenization cut otherwise (the tolerance (docs/indexes.md); the byte index has none)."""
    right = 0
    for k, p in enumerate(planted):
        n, s, e = (int(out[c][k]) for c in ("match_tokens", "match_start", "match_end"))
        if p is None:
            right += n < MIN_MATCH
        else:
            right += s <= p[0] + edge and e >= p[1] - edge and e - s == n and out["corpus_count"][k] >= 1
    return right


def run_token_bench(corpus: Path, byte_dir: Path, samples: list, planted: list, rounds: int = 5) -> None:
    tokenizer_path = CACHE / "tokenizer.json"
    tokenizer = ensure_tokenizer(corpus)
    same_dir, same_s = ensure_token_index(corpus, tokenizer_path, "same")
    other_dir, other_s = ensure_token_index(corpus, ensure_other_tokenizer(corpus), "other")
    text = json.loads((byte_dir / "index.json").read_text())["bytes"]
    sizes = {"byte": index_bytes(byte_dir), "token": index_bytes(same_dir), "token (other BPE)": index_bytes(other_dir)}
    tokens = json.loads((same_dir / "index.json").read_text())["tokens"]
    print(f"text {text / 2**30:.2f} GiB; {text / tokens:.2f} bytes a token with the target's tokenizer; "
          f"token indexes built in {same_s:.0f}s and {other_s:.0f}s")
    for name, size in sizes.items():
        print(f"  {name} index: {size / 2**30:.2f} GiB = {size / text:.2f} bytes per byte of text")
    ratio = sizes["token"] / sizes["byte"]
    print(f"token / byte index size: {ratio:.2f} (target <= 0.45: {'met' if ratio <= 0.45 else 'NOT met'})")
    print("by arithmetic:", layout_arithmetic(text / tokens), "|", layout_arithmetic(4.0))
    searches = {"byte": span_search(tokenizer, CorpusIndex(byte_dir))}
    for name, directory in (("token", same_dir), ("token re-tokenizing", other_dir)):
        index, index_tokenizer = open_index_dirs([directory])
        searches[name] = span_search(tokenizer, index, index_tokenizer)
    rates = {name: [] for name in searches}
    for _ in range(rounds):  # alternating rounds: the page cache and the load are shared alike
        for name, search in searches.items():
            t0 = time.perf_counter()
            merged = {}
            for s in range(0, len(samples), 1000):
                for column, values in search.spans(samples[s:s + 1000]).items():
                    merged.setdefault(column, []).extend(values.tolist())
            rates[name].append(len(samples) / (time.perf_counter() - t0))
        print(f"  round {_ + 1}: " + ", ".join(f"{n} {r[-1]:,.0f}" for n, r in rates.items()) + " samples/s")
    best = {name: max(r) for name, r in rates.items()}
    median = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
    for name, search in searches.items():
        merged = search.spans(samples)
        ok, problems = check(merged, planted)
        near = within_edges(merged, planted, 1)
        print(f"{name}: best {best[name]:,.0f} samples/s of {TOKENS}-token samples ({type(search).__name__}); "
              f"planted span whole {ok}/{len(samples)}, whole but for at most one token per edge {near}/{len(samples)}")
    for label, rate in (("best", best), ("median", median)):
        print(f"token / byte speed ({label} round), same tokenizer: {rate['token'] / rate['byte']:.2f}x (target >= 1: "
              f"{'met' if rate['token'] >= rate['byte'] else 'NOT met'}); re-tokenizing: "
              f"{rate['token re-tokenizing'] / rate['byte']:.2f}x")
