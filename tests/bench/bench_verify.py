"""Benchmark: verify 2,000 candidates against a byte-level index of >= 1 GB of text.

Builds once, cached under $MEMX_CACHE (default /tmp/memx-cache)/bench-verify: a corpus
of the standard library's Python sources (one JSONL document per file) plus ~1 GiB of
deterministic pseudo-text (random word sequences over a vocabulary drawn from those
sources, as .txt files), its infini-gram index, and a small byte-level BPE tokenizer
standing in for the target's. Then times `verify_candidates` on 2,000 candidates: half
carry a planted corpus span of known length between random words, half are random
words only, and prints the time, candidates/s and how many results are correct.

It does not know real models or real corpora; the pseudo-text is only hard enough that
random 50-token spans never occur in it by chance. Run: `python tests/bench/bench_verify.py
[--gib 1.0] [--n 2000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sysconfig
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from memx.index import CorpusIndex, build_index
from memx.verify import verify_candidates

CACHE = Path(os.environ.get("MEMX_CACHE", "/tmp/memx-cache")) / "bench-verify"
FILE_BYTES = 8 << 20
MIN_MATCH = 50


def _stdlib_docs() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for p in sorted(root.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        docs.append(p.read_text(encoding="utf-8", errors="replace"))
    return docs


def _vocab(docs: list[str]) -> np.ndarray:
    words = sorted({w for d in docs[:400] for w in re.findall(r"[A-Za-z]{2,14}", d)})
    return np.array(words, dtype=object)


def _random_words(rng: np.random.Generator, vocab: np.ndarray, n: int) -> str:
    ids = rng.integers(0, len(vocab), n)
    seps = rng.choice(np.array([" ", " ", " ", " ", " ", ", ", ". ", "\n"], dtype=object), n)
    return "".join(vocab[ids] + seps)


def _ensure_corpus(gib: float) -> Path:
    corpus = CACHE / f"corpus-{gib:g}"
    done = corpus / "DONE"
    if done.exists():
        return corpus
    corpus.mkdir(parents=True, exist_ok=True)
    docs = _stdlib_docs()
    with (corpus / "stdlib.jsonl").open("w") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    vocab = _vocab(docs)
    total = int(gib * (1 << 30))
    for i in range(total // FILE_BYTES + 1):
        rng = np.random.default_rng(i)
        text = _random_words(rng, vocab, FILE_BYTES // 8)
        (corpus / f"words-{i:04d}.txt").write_text(text)
    done.write_text("ok")
    return corpus


def _ensure_index(corpus: Path) -> tuple[Path, float]:
    index = corpus.with_name(corpus.name.replace("corpus", "index"))
    if (index / "index.json").exists():
        return index, json.loads((index / "index.json").read_text())["build_seconds"]
    meta = build_index([corpus], index)
    return index, meta["build_seconds"]


def _ensure_tokenizer(corpus: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    path = CACHE / "tokenizer.json"
    if not path.exists():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=4096, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train([str(corpus / "stdlib.jsonl"), str(corpus / "words-0000.txt")], trainer)
        tok.save(str(path))
    return Tokenizer.from_file(str(path))


def _candidates(corpus: Path, n: int, tokenizer) -> tuple[pa.Table, list[int | None]]:
    """Half with a planted span (expected token count recorded), half pure random words."""
    rng = np.random.default_rng(1234)
    docs = _stdlib_docs()
    vocab = _vocab(docs)
    files = sorted(corpus.glob("words-*.txt"))
    texts, expected = [], []
    for k in range(n):
        noise = _random_words(rng, vocab, int(rng.integers(150, 300)))
        if k % 2:
            texts.append(noise)
            expected.append(None)
            continue
        if k % 10 == 0:  # some spans of source code too
            doc = docs[int(rng.integers(0, len(docs)))]
        else:
            with files[int(rng.integers(0, len(files)))].open("rb") as f:
                doc = f.read(1 << 20).decode("utf-8")
        length = int(rng.integers(200, 1200))
        start = int(rng.integers(0, max(1, len(doc) - length)))
        span = doc[start:start + length]
        cut = len(noise) // 2
        # spaces around the span keep its tokens tokenized the same inside the candidate
        texts.append(noise[:cut] + "\u00a7 " + span + " \u00a7" + noise[cut:])
        expected.append(len(tokenizer.encode(span).ids))
    m = len(texts)
    table = pa.table({
        "sample_id": [f"top_k-00000-{i:05d}" for i in range(m)],
        "strategy": ["top_k"] * m, "metric": ["zlib"] * m,
        "rank": pa.array(range(1, m + 1), pa.int32()), "score": [1.0] * m,
        "text": texts, "duplicates": pa.array([1] * m, pa.int32()),
    })
    return table, expected


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    t = time.time()
    corpus = _ensure_corpus(args.gib)
    print(f"corpus ready in {time.time() - t:.1f}s: {corpus}")
    index_dir, build_s = _ensure_index(corpus)
    meta = json.loads((index_dir / "index.json").read_text())
    print(f"index: {meta['bytes'] / 2**30:.2f} GiB, {meta['docs']:,} docs, {meta['shards']} shard(s), "
          f"built in {build_s:.0f}s")
    tokenizer = _ensure_tokenizer(corpus)
    cands, expected = _candidates(corpus, args.n, tokenizer)
    index = CorpusIndex(index_dir)
    t = time.time()
    out = verify_candidates(cands, index, tokenizer, MIN_MATCH)
    dt = time.time() - t
    got = out.column("match_tokens").to_pylist()
    mem = out.column("memorized").to_pylist()
    ok = 0
    for e, g, m in zip(expected, got, mem):
        if e is None:
            ok += (not m) and g < MIN_MATCH
        else:
            # the planted span may tokenize a token or two differently at its edges
            ok += bool(m) == (e >= MIN_MATCH) and g >= e - 2
    print(f"verified {len(got)} candidates in {dt:.1f}s = {len(got) / dt:.1f} candidates/s; "
          f"correct {ok}/{len(got)}")


if __name__ == "__main__":
    main()
