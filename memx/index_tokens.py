"""Token-level verification index: a corpus tokenized with the user's tokenizer, indexed by
infini-gram's own indexer (`memx index build CORPUS --out DIR --tokenizer MODEL`).

The same sources and shard layout as the byte-level `memx.index.build_index` (which does
the writing, the suffix arrays on one CPU, the permutation check of every table and
index.json last), with documents tokenized here, without special tokens (no BOS/EOS:
the layout of infini-gram's released indexes), as little-endian u16 ids when the
vocabulary fits below the separator 0xFFFF, else u32. A copy of the tokenizer is kept in
`DIR/tokenizer/tokenizer.json`, so the index directory alone (or its S3 copy) says what
its ids mean; index.json records `format`, `token_dtype` and `tokenizer` (the name given).
It knows nothing about queries (`memx.verify.tokenindex` reads what this writes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from memx.errors import ConfigError
from memx.index import DEFAULT_SHARD_BYTES, build_v4_index
from memx.verify.search import vocab_size
from memx.verify.tokenbytes import load_tokenizer
from memx.verify.tokenindex import FORMAT, separator

TOKENIZER_DIR = "tokenizer"


def token_dtype_for(vocabulary: int) -> str:
    """u16 when every id fits below u16's separator, else u32 (docs/indexes.md)."""
    return "u16" if vocabulary <= separator("u16") else "u32"


def _encoder(tokenizer, dtype: str):
    """Batch of document bytes -> their ids as little-endian bytes of `dtype`."""
    np_dtype = "<u2" if dtype == "u16" else "<u4"

    if hasattr(tokenizer, "encode_batch"):  # tokenizers.Tokenizer
        def ids_of(texts):
            return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    else:
        def ids_of(texts):
            return tokenizer(texts, add_special_tokens=False)["input_ids"]

    def encode(docs: list[bytes]) -> list[bytes]:
        return [np.asarray(ids, dtype=np_dtype).tobytes() for ids in ids_of([d.decode("utf-8") for d in docs])]

    return encode


def _save_tokenizer(tokenizer, out: Path) -> None:
    target = out / TOKENIZER_DIR
    target.mkdir(parents=True, exist_ok=True)
    if hasattr(tokenizer, "save_pretrained"):
        tokenizer.save_pretrained(str(target))
    else:
        tokenizer.save(str(target / "tokenizer.json"))


def build_token_index(sources: list[str | Path], out_dir: str | Path, tokenizer_name: str, *,
                      progress: bool = True, shard_bytes: int = DEFAULT_SHARD_BYTES) -> dict:
    """Build a token-level infini-gram index of `sources` in `out_dir`; return its index.json."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    tokenizer = load_tokenizer(tokenizer_name, field="--tokenizer")
    vocabulary = vocab_size(tokenizer)
    if vocabulary > separator("u32"):
        raise ConfigError(f"--tokenizer: {tokenizer_name}: {vocabulary:,} ids do not fit u32")
    dtype = token_dtype_for(vocabulary)
    out = Path(out_dir).resolve()
    (out / "index.json").unlink(missing_ok=True)  # incomplete from here until the build writes it
    _save_tokenizer(tokenizer, out)
    meta = {"format": FORMAT, "version": 1, "token_dtype": dtype, "tokenizer": tokenizer_name,
            "vocab_size": vocabulary}
    return build_v4_index(sources, out, meta, encode=_encoder(tokenizer, dtype), progress=progress,
                          shard_bytes=shard_bytes)
