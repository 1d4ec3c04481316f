"""Verification: the longest verbatim span of each candidate found in a training corpus.

`verify_candidates` adds `match_tokens` (int32), `memorized` (bool) and `category` (str)
to a candidates table. A span is measured in whole target-model tokens of the
candidate's own text: the text is tokenized once with offsets, the index reports, for
every token's first byte l, the furthest r such that text[l:r] occurs in the corpus (one
batched search for all texts), and the longest run of tokens k..m-1 whose bytes lie
inside such a [l, r) with l at token k's start is the match. Any substring of a corpus string is in
the corpus, so this is the exact longest token-aligned verbatim span. Each distinct
text is verified once, however many (metric, strategy) rows carry it.

`verify_candidate_tokens` is SPEC §6's rule for candidates: the span is searched in the
sample's generated `token_ids` only (`memx.verify.spans`), so an `internet` prompt copied
from the corpus never counts. Prefer it wherever token ids are at hand; the text-based
`verify_candidates` measures prompt and continuation together.

It does not know where the index lives (it takes a CorpusIndex) nor how candidates were
chosen; a tokenizer without offsets (slow HF tokenizers, None) falls back to a
GPT-2-style word split, which approximates token counts.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa

from memx.verify.categories import categorize
from memx.verify.spans import generated_spans
from memx.verify.tokenbytes import PackedTable

VERIFY_COLUMNS = ("match_tokens", "memorized", "category", "match_text")
# GPT-2's pre-tokenizer pattern (without \p classes, which `re` lacks): a stand-in for
# token boundaries when the tokenizer cannot report offsets.
_PRETOKEN = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+")


def token_offsets(texts: list[str], tokenizer: Any) -> list[list[tuple[int, int]]]:
    """Character (start, end) of each token of each text, in order."""
    if tokenizer is not None and hasattr(tokenizer, "encode_batch"):  # tokenizers.Tokenizer
        encs = tokenizer.encode_batch(texts, add_special_tokens=False)
        return [list(e.offsets) for e in encs]
    if tokenizer is not None and getattr(tokenizer, "is_fast", False):  # HF fast tokenizer
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return [list(map(tuple, o)) for o in enc["offset_mapping"]]
    return [[m.span() for m in _PRETOKEN.finditer(t)] for t in texts]


def _byte_index(text: str) -> list[int]:
    """Byte offset of each character position 0..len(text)."""
    out = [0] * (len(text) + 1)
    pos = 0
    for i, ch in enumerate(text):
        out[i] = pos
        pos += 1 if ch < "\x80" else len(ch.encode("utf-8"))
    out[len(text)] = pos
    return out


def _token_bytes(text: str, offsets: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, list]:
    """Byte start of each non-empty token, the running max of token byte ends, the spans."""
    spans = [(s, e) for s, e in offsets if e > s]
    byte_at = _byte_index(text)
    starts = np.array([byte_at[s] for s, _ in spans], dtype=np.int64)
    # Overlapping offsets (a multi-byte char split over tokens) must keep ends ordered.
    ends = np.maximum.accumulate(np.array([byte_at[e] for _, e in spans], dtype=np.int64)) \
        if spans else np.zeros(0, dtype=np.int64)
    return starts, ends, spans


def _best_run(starts: np.ndarray, tok_end: np.ndarray, spans: list,
              match_len: np.ndarray) -> tuple[int, int, int]:
    if not spans:
        return (0, 0, 0)
    # tokens k..m-1 fit inside the verbatim match starting at token k's first byte
    m = np.searchsorted(tok_end, starts + match_len, side="right")
    n = np.maximum(m - np.arange(len(spans)), 0)
    k = int(np.argmax(n))
    if n[k] == 0:
        return (0, 0, 0)
    return (int(n[k]), spans[k][0], spans[k + int(n[k]) - 1][1])


def longest_token_span(text: str, offsets: list[tuple[int, int]], index) -> tuple[int, int, int]:
    """(n_tokens, start_char, end_char) of the longest run of whole tokens in the corpus."""
    return _longest_spans([text], [offsets], index)[0]


def _longest_spans(texts: list[str], offsets: list, index) -> list[tuple[int, int, int]]:
    prepared = [_token_bytes(t, o) for t, o in zip(texts, offsets)]
    lens = index.prefix_lengths([t.encode("utf-8") for t in texts], [p[0] for p in prepared])
    return [_best_run(p[0], p[1], p[2], n) for p, n in zip(prepared, lens)]


def _verify_unique(texts: list[str], index, tokenizer, min_match_tokens: int,
                   batch: int = 1000) -> dict[str, tuple[int, bool, str]]:
    out = {}
    for s in range(0, len(texts), batch):  # bounds memory; the index search is batched anyway
        chunk = texts[s:s + batch]
        for text, (n, a, b) in zip(chunk, _longest_spans(chunk, token_offsets(chunk, tokenizer), index)):
            memorized = n >= min_match_tokens
            out[text] = (n, memorized, categorize(text[a:b] if memorized else text))
    return out


def verify_candidates(candidates: pa.Table, index, tokenizer, min_match_tokens: int) -> pa.Table:
    """`candidates` plus match_tokens (int32), memorized (bool), category (str)."""
    if min_match_tokens < 1:
        raise ValueError("min_match_tokens must be >= 1")
    for name in VERIFY_COLUMNS:  # re-verification replaces earlier results
        if name in candidates.column_names:
            candidates = candidates.drop_columns([name])
    texts = candidates.column("text").to_pylist()
    unique = list(dict.fromkeys(t or "" for t in texts))
    res = _verify_unique(unique, index, tokenizer, min_match_tokens)
    rows = [res[t or ""] for t in texts]
    candidates = candidates.append_column("match_tokens", pa.array([r[0] for r in rows], pa.int32()))
    candidates = candidates.append_column("memorized", pa.array([r[1] for r in rows], pa.bool_()))
    return candidates.append_column("category", pa.array([r[2] for r in rows], pa.string()))


def _token_ids_of(sample_ids: list[str], token_ids_by_sample) -> list:
    if isinstance(token_ids_by_sample, pa.Table):  # a samples table: sample_id, token_ids
        token_ids_by_sample = dict(zip(token_ids_by_sample.column("sample_id").to_pylist(),
                                       token_ids_by_sample.column("token_ids").to_pylist()))
    missing = [s for s in sample_ids if s not in token_ids_by_sample]
    if missing:
        raise ValueError(f"no token_ids for {len(missing)} candidate(s), e.g. {missing[:3]}")
    return [token_ids_by_sample[s] for s in sample_ids]


def verify_candidate_tokens(candidates: pa.Table, token_ids_by_sample, table, index,
                            min_match_tokens: int) -> pa.Table:
    """`candidates` plus match_tokens, memorized, category, by the span rule on each
    sample's generated tokens (`token_ids_by_sample`: sample_id -> ids, or a table of
    sample_id and token_ids). The category is the matched span's when memorized, else
    the candidate text's."""
    if min_match_tokens < 1:
        raise ValueError("min_match_tokens must be >= 1")
    for name in VERIFY_COLUMNS:  # re-verification replaces earlier results
        if name in candidates.column_names:
            candidates = candidates.drop_columns([name])
    packed = table if isinstance(table, PackedTable) else PackedTable(table)
    sample_ids = candidates.column("sample_id").to_pylist()
    unique = list(dict.fromkeys(sample_ids))  # a sample is a candidate of many configurations
    ids = _token_ids_of(unique, token_ids_by_sample)
    spans = generated_spans(ids, packed, index)
    row_of = {s: k for k, s in enumerate(unique)}
    texts = candidates.column("text").to_pylist()
    n_tokens, memorized, category, matched = [], [], [], []
    for sample_id, text in zip(sample_ids, texts):
        k = row_of[sample_id]
        n = int(spans["match_tokens"][k])
        hit = n >= min_match_tokens
        span = ids[k][int(spans["match_start"][k]):int(spans["match_end"][k])]
        # the span's edges may cut a character: drop the partial bytes there
        span_text = packed.bytes_of(span).decode("utf-8", errors="ignore") if n else ""
        n_tokens.append(n)
        memorized.append(hit)
        category.append(categorize((span_text if hit else text) or ""))
        matched.append(span_text)
    candidates = candidates.append_column("match_tokens", pa.array(n_tokens, pa.int32()))
    candidates = candidates.append_column("memorized", pa.array(memorized, pa.bool_()))
    candidates = candidates.append_column("category", pa.array(category, pa.string()))
    # the longest span's own text, so a report can mark it inside `text`
    return candidates.append_column("match_text", pa.array(matched, pa.string()))

