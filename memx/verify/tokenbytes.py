"""The exact bytes each token id of a tokenizer stands for, for byte-level verification.

The index is over raw UTF-8 bytes and generated samples are token ids, so verifying a
sample means concatenating its tokens' bytes: never decoding to text, because a
byte-level token may hold only part of a multi-byte character and `decode` would turn
that part into U+FFFD. `token_byte_table(tokenizer)` maps every id to its bytes, with
None for special tokens (EOS/BOS/PAD...: they stand for no text and break a span);
`load_tokenizer(model)` reads a model's tokenizer without torch where it can.

For GPT-2-style byte-level BPE (the lab's tokenizer, GPT-2, GPT-NeoX, Llama 3, ...) the
table is exact: each vocabulary string is written in GPT-2's printable alphabet of the
256 bytes, which `_byte_decoder` inverts. Other tokenizers (SentencePiece and the like)
get an approximation: each id decoded on its own (`<0xNN>` byte-fallback pieces are
mapped to their byte), which loses the word-start space SentencePiece only shows in
context. It knows nothing about the index or about spans.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any

import numpy as np

from memx.errors import ConfigError

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's `bytes_to_unicode`: printable character -> the byte it encodes."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)  # unprintable bytes move past the Latin-1 range
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def _backend(tokenizer: Any):
    """The `tokenizers.Tokenizer` behind a transformers fast tokenizer, or the argument
    itself when it is one; None for slow tokenizers."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    return backend if hasattr(backend, "to_str") else None


def _is_byte_level(tokenizer: Any) -> bool:
    if hasattr(tokenizer, "byte_decoder"):  # slow GPT2Tokenizer and its relatives
        return True
    backend = _backend(tokenizer)
    if backend is None or backend.decoder is None:
        return False
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    # a Sequence decoder (some Llama-3-style exports) counts when one part is ByteLevel
    parts = decoder.get("decoders", [decoder])
    return any(p.get("type") == "ByteLevel" for p in parts if isinstance(p, dict))


def _added_tokens(tokenizer: Any) -> dict[int, Any]:
    added = getattr(tokenizer, "added_tokens_decoder", None)
    if added is None and hasattr(tokenizer, "get_added_tokens_decoder"):  # tokenizers.Tokenizer
        added = tokenizer.get_added_tokens_decoder()
    return {int(i): t for i, t in (added or {}).items()}


def _special_ids(tokenizer: Any, added: dict[int, Any]) -> set[int]:
    ids = set(int(i) for i in getattr(tokenizer, "all_special_ids", []) or [])
    # added tokens flagged special (chat markers etc.) are not in all_special_ids everywhere
    ids.update(i for i, t in added.items() if getattr(t, "special", False))
    return ids


def _vocab_size(vocab: dict[str, int], tokenizer: Any) -> int:
    top = max(vocab.values(), default=-1) + 1
    if hasattr(tokenizer, "get_vocab_size"):
        return max(top, tokenizer.get_vocab_size(with_added_tokens=True))
    return max(top, len(tokenizer)) if hasattr(tokenizer, "__len__") else top


def token_byte_table(tokenizer: Any) -> list[bytes | None]:
    """For every id in 0..vocab size-1, the bytes it stands for; None for special tokens
    and for ids the vocabulary does not use."""
    vocab = tokenizer.get_vocab()  # includes added tokens (transformers and tokenizers alike)
    table: list[bytes | None] = [None] * _vocab_size(vocab, tokenizer)
    added = _added_tokens(tokenizer)
    special = _special_ids(tokenizer, added)
    if _is_byte_level(tokenizer):
        decoder = _byte_decoder()
        for piece, token_id in vocab.items():
            if token_id in special:
                continue
            if token_id in added:  # added tokens are stored as plain text, not byte-mapped
                table[token_id] = getattr(added[token_id], "content", str(added[token_id])).encode("utf-8")
            elif all(ch in decoder for ch in piece):
                table[token_id] = bytes(decoder[ch] for ch in piece)
            else:  # a piece outside the byte alphabet cannot come from this BPE's merges
                table[token_id] = piece.encode("utf-8")
        return table
    for token_id in range(len(table)):
        if token_id in special:
            continue
        piece = (tokenizer.id_to_token(token_id) if hasattr(tokenizer, "id_to_token")
                 else tokenizer.convert_ids_to_tokens(token_id))
        if piece is None:
            continue
        byte = _BYTE_PIECE.fullmatch(piece)
        if byte:
            table[token_id] = bytes([int(byte.group(1), 16)])
        else:
            table[token_id] = tokenizer.decode([token_id]).encode("utf-8")
    return table


class PackedTable:
    """`token_byte_table` as flat arrays, so whole shards are converted with numpy:
    `data[offset[i]:offset[i] + length[i]]` are token i's bytes; `special[i]` marks None."""

    def __init__(self, table: list[bytes | None]):
        self.length = np.array([len(b) if b is not None else 0 for b in table], dtype=np.int64)
        self.special = np.array([b is None for b in table], dtype=bool)
        self.offset = np.zeros(len(table), dtype=np.int64)
        np.cumsum(self.length[:-1], out=self.offset[1:])
        self.data = np.frombuffer(b"".join(b for b in table if b is not None) or b"\0",
                                  dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.length)

    def bytes_of(self, ids) -> bytes:
        """Concatenated bytes of `ids` (special and unknown ids contribute nothing)."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < len(self))]
        lens = self.length[ids]
        within = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        return self.data[np.repeat(self.offset[ids], lens) + within].tobytes()


def load_tokenizer(name_or_path: str, field: str = "verify.tokenizer"):
    """A tokenizer from a directory or file holding tokenizer.json, read with `tokenizers`
    alone (transformers would import torch into a verify actor that needs none of it), else
    through transformers (a hub id, or a slow tokenizer's directory). ConfigError naming
    `field` when neither can load it."""
    path = os.path.expanduser(name_or_path)
    json_file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
    if os.path.isfile(json_file) and json_file.endswith(".json"):
        from tokenizers import Tokenizer

        try:
            return Tokenizer.from_file(json_file)
        except Exception as error:  # the Rust side raises plain Exceptions for a bad file
            raise ConfigError(f"{field}: {json_file}: not a tokenizer.json ({str(error).splitlines()[0]})") from None
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{field}: {name_or_path}: cannot load a tokenizer ({str(error).splitlines()[0]})") from None
