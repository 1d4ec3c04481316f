"""Benchmark: verify 2,000 candidates (`verify_candidate_tokens`) against a byte-level
index of >= 1 GiB of text; also the cached bench corpus that bench_verify_all.py shares.

Builds once, cached under $MEMX_CACHE (default /tmp/memx-cache)/bench-verify: a corpus
of the standard library's Python sources (one JSONL document per file) plus ~1 GiB of
deterministic pseudo-text (random word sequences over a vocabulary drawn from those
sources, as .txt files), its infini-gram index (about 25 minutes on 2 cores) and a small
byte-level BPE tokenizer standing in for the target's. `make_samples` writes synthetic
generated samples of 256 token ids: half carry a planted run of 60-200 tokens cut from a
corpus file between pseudo-random words, half are pseudo-random words only.

The bench itself is the candidates step (`memx.pipeline.candidates.verify_stage`, all verification
costs with `scope: candidates`): one candidate row per sample, verified on its generated
token ids (span, category, matched text), timed, and checked (planted: memorized with at
least the planted span; random: not memorized).

It does not know real models or real corpora; the pseudo-text is only hard enough that
random 50-token spans never occur in it by chance. Run: `python tests/bench/bench_verify.py
[--gib 1.0] [--n 2000]`. Measured on a shared 2-core VM (load ~4.7), 1.07 GiB index: 2,000
candidates in 2.3-2.5 s (~800-860 candidates/s), 2,000/2,000 correct.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from memx.index import build_index  # noqa: E402
from memx.verify.byteindex import CorpusIndex  # noqa: E402
from memx.verify import PackedTable, token_byte_table, verify_candidate_tokens  # noqa: E402

CACHE = Path(os.environ.get("MEMX_CACHE", "/tmp/memx-cache")) / "bench-verify"
FILE_BYTES = 8 << 20
MIN_MATCH = 50
TOKENS = 256  # generated tokens per sample, as in a default run


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


def _random_words(rng: np.random.Generator, vocab: np.ndarray, n: int, keep: int | None = None) -> str:
    """`n` random words with separators, drawn from `rng`; joined up to word `keep` only
    (tokenizing less text is faster, and the draw, hence what follows it, stays the same)."""
    ids = rng.integers(0, len(vocab), n)
    seps = rng.choice(np.array([" ", " ", " ", " ", " ", ", ", ". ", "\n"], dtype=object), n)
    return "".join((vocab[ids] + seps)[:keep])


def ensure_corpus(gib: float) -> Path:
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


def ensure_index(corpus: Path) -> tuple[Path, float]:
    index = corpus.with_name(corpus.name.replace("corpus", "index"))
    if (index / "index.json").exists():
        return index, json.loads((index / "index.json").read_text())["build_seconds"]
    meta = build_index([corpus], index)
    return index, meta["build_seconds"]


def train_bpe(path: Path, files: list[Path], vocab_size: int) -> Path:
    """A byte-level BPE trained on `files`, saved at `path` once (cached)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if not path.exists():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train([str(f) for f in files], trainer)
        tok.save(str(path))
    return path


def ensure_tokenizer(corpus: Path):
    from tokenizers import Tokenizer

    path = train_bpe(CACHE / "tokenizer.json", [corpus / "stdlib.jsonl", corpus / "words-0000.txt"], 4096)
    return Tokenizer.from_file(str(path))


def make_samples(corpus: Path, tokenizer, n: int, seed: int = 99) -> tuple[list[list[int]], list]:
    """`n` samples of TOKENS ids; for even k the planted (start, end) token range, else None."""
    rng = np.random.default_rng(seed)
    vocab = _vocab(_stdlib_docs())
    files = sorted(corpus.glob("words-*.txt"))
    noise, slices, planted = [], [], []
    for k in range(n):  # draw everything first, then tokenize in two batched calls
        noise.append(_random_words(rng, vocab, 2 * TOKENS, keep=TOKENS))  # >= 1 token a word
        if k % 2:
            planted.append(None)
            continue
        with files[int(rng.integers(0, len(files)))].open("rb") as f:
            f.seek(int(rng.integers(0, 6 << 20)))
            slices.append(f.read(8192).decode("utf-8", errors="ignore")[:2048])  # > 300 tokens
        length = int(rng.integers(60, 201))
        at = int(rng.integers(0, TOKENS - length + 1))
        planted.append((at, at + length))
    noise_ids = [e.ids for e in tokenizer.encode_batch(noise)]
    slice_ids = iter(e.ids for e in tokenizer.encode_batch(slices))
    samples = []
    for ids, p in zip(noise_ids, planted):
        if p is None:
            samples.append(ids[:TOKENS])
            continue
        at, length = p[0], p[1] - p[0]
        span = next(slice_ids)[1:1 + length]  # any run of a slice's tokens is corpus bytes
        samples.append(ids[:at] + span + ids[at:TOKENS - length])
    return samples, planted


def check(out: dict, planted: list) -> tuple[int, list[str]]:
    """Correct spans (of `generated_spans`' columns) for `make_samples`' samples, and what is wrong."""
    problems = []
    for k, p in enumerate(planted):
        n, s, e = (int(out[c][k]) for c in ("match_tokens", "match_start", "match_end"))
        if p is None:
            if n >= MIN_MATCH:
                problems.append(f"random sample {k}: {n} tokens matched")
        elif not (s <= p[0] and e >= p[1] and e - s == n and out["corpus_count"][k] >= 1):
            problems.append(f"planted sample {k}: span {p} but got [{s}, {e}) count {out['corpus_count'][k]}")
    return len(planted) - len(problems), problems


def candidates_of(samples: list, tokenizer) -> pa.Table:
    """One candidate row per sample, as reduce writes them (text: the decoded sample)."""
    n = len(samples)
    return pa.table({"sample_id": [f"top_k-00000-{i:05d}" for i in range(n)],
                     "strategy": ["top_k"] * n, "metric": ["zlib"] * n,
                     "rank": pa.array(range(1, n + 1), pa.int32()), "score": [1.0] * n,
                     "text": tokenizer.decode_batch(samples)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    t = time.time()
    corpus = ensure_corpus(args.gib)
    print(f"corpus ready in {time.time() - t:.1f}s: {corpus}")
    index_dir, build_s = ensure_index(corpus)
    meta = json.loads((index_dir / "index.json").read_text())
    print(f"index: {meta['bytes'] / 2**30:.2f} GiB, {meta['docs']:,} docs, {meta['shards']} shard(s), "
          f"built in {build_s:.0f}s")
    tokenizer = ensure_tokenizer(corpus)
    samples, planted = make_samples(corpus, tokenizer, args.n)
    cands = candidates_of(samples, tokenizer)
    by_sample = dict(zip(cands.column("sample_id").to_pylist(), samples))
    index, table = CorpusIndex(index_dir), PackedTable(token_byte_table(tokenizer))
    for attempt in ("first", "second"):  # the first pass also faults the index into the page cache
        t = time.time()
        out = verify_candidate_tokens(cands, by_sample, table, index, MIN_MATCH)
        dt = time.time() - t
        got, mem = out.column("match_tokens").to_pylist(), out.column("memorized").to_pylist()
        ok = sum((not m) if p is None else (m and g >= p[1] - p[0]) for p, g, m in zip(planted, got, mem))
        print(f"{attempt} pass: verified {len(got)} candidates in {dt:.1f}s = {len(got) / dt:.1f} candidates/s; "
              f"correct {ok}/{len(got)}")
    print("categories of the memorized:", dict(Counter(c for c, m in zip(out.column("category").to_pylist(), mem) if m)))


if __name__ == "__main__":
    main()
