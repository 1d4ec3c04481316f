"""Personal data inside a sample's memorized span: the `personal_data` column of verified
shards and candidates.parquet.

A span is a token range of the generated `token_ids` (docs/personal-data.md: match_start,
match_end), while entities are found in the sample's `text` = decode(prompt_ids +
token_ids). `span_char_range` maps the one onto the other through the tokens' exact bytes
(a byte-level token may hold part of a UTF-8 character: a character cut by a span edge is
left out, as `match_text` leaves it out); `personal_data_in_span` lists the entities of
`text` that lie inside that range, so the same e-mail in the prompt or after the span does
not count. A private key whose BEGIN line is inside the span counts even when the span
stops inside its body, cut at the span's end: a memorized half key is a leaked key.

It knows nothing about runs, shards or which samples are memorized; the caller passes
the token table's `bytes_of` (memx.verify.tokenbytes.PackedTable.bytes_of).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import pyarrow as pa

from memx.pii.detect import DEFAULT_PHONE_REGION, detect

# list<struct<type: string, start: int32, end: int32>>: character offsets into `text`, end exclusive
PERSONAL_DATA_TYPE = pa.list_(pa.struct([("type", pa.string()), ("start", pa.int32()), ("end", pa.int32())]))


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def span_char_range(text: str, prompt_ids: Sequence[int], token_ids: Sequence[int], match_start: int,
                    match_end: int, bytes_of: Callable[[Sequence[int]], bytes]) -> tuple[int, int]:
    """The [start, end) characters of `text` that generated tokens match_start..match_end-1
    stand for; (0, 0) for an empty span, or when the span's text is not found in `text`."""
    if match_end <= match_start:
        return 0, 0
    head = bytes_of(list(prompt_ids)) + bytes_of(list(token_ids[:match_start]))
    span = bytes_of(list(token_ids[match_start:match_end]))
    full = head + span + bytes_of(list(token_ids[match_end:]))
    lo, hi = len(head), len(head) + len(span)
    while lo < hi and _is_continuation(full[lo]):  # the span starts inside a character
        lo += 1
    while hi > lo and hi < len(full) and _is_continuation(full[hi]):  # it ends inside one
        hi -= 1
    start = len(full[:lo].decode("utf-8", "replace"))
    inner = full[lo:hi].decode("utf-8", "replace")
    if text[start:start + len(inner)] == inner:
        return start, start + len(inner)
    # `text` was decoded differently (a tokenizer that cleans up spaces): find the span's text
    # nearest to where the bytes put it
    found = [i for i in (text.rfind(inner, 0, start + len(inner)), text.find(inner, start)) if i >= 0]
    if not inner or not found:
        return 0, 0
    best = min(found, key=lambda i: abs(i - start))
    return best, best + len(inner)


def personal_data_in_span(text: str, span: tuple[int, int], types: Iterable[str] | None = None,
                          phone_region: str = DEFAULT_PHONE_REGION) -> list[dict]:
    """[{type, start, end}] of the entities of `text` inside `span` (character offsets into `text`)."""
    lo, hi = span
    if hi <= lo or not text:
        return []
    out = []
    for e in detect(text, types, phone_region):
        if lo <= e.start and e.end <= hi:
            out.append({"type": e.type, "start": e.start, "end": e.end})
        elif e.type == "private_key" and lo <= e.start < hi:
            out.append({"type": e.type, "start": e.start, "end": hi})
    return out


def personal_data_column(texts: Sequence[str], spans: Sequence[tuple[int, int]], types: Iterable[str] | None = None,
                         phone_region: str = DEFAULT_PHONE_REGION) -> pa.Array:
    """The `personal_data` column for rows of `texts` with their character spans (an
    empty list where the span is empty: callers pass (0, 0) for samples not memorized)."""
    types = tuple(types) if types is not None else None
    return pa.array([personal_data_in_span(t or "", s, types, phone_region) for t, s in zip(texts, spans)],
                    PERSONAL_DATA_TYPE)


def memorized_personal_data(texts: Sequence[str], prompt_ids: Sequence[Sequence[int]],
                            token_ids: Sequence[Sequence[int]], match_start: Sequence[int], match_end: Sequence[int],
                            memorized: Sequence[bool], bytes_of: Callable[[Sequence[int]], bytes],
                            types: Iterable[str] | None = None, phone_region: str = DEFAULT_PHONE_REGION) -> pa.Array:
    """The `personal_data` column of rows with their token spans: the entities inside each
    memorized row's span, [] for every other row (the detector runs on memorized rows only)."""
    spans = [span_char_range(t or "", p, g, int(s), int(e), bytes_of) if hit else (0, 0)
             for t, p, g, s, e, hit in zip(texts, prompt_ids, token_ids, match_start, match_end, memorized)]
    return personal_data_column(texts, spans, types, phone_region)
