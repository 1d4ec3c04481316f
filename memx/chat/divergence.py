"""The divergence attack (Nasr et al. 2023): its prompts, and where each sample diverges.

`divergence_prompts` draws each row's word and repeat count uniformly from the configured
lists with the shard's seed and renders the message through the chat template with its
generation prompt (or the message alone without a template); one rendering per distinct
(word, repeats), shared by every row that drew it.

`divergence_points` finds, for every sample, the repetition run R: the longest prefix of
the decoded generated text t (special tokens dropped) made only of whole occurrences of
the word (case-insensitive) and the whitespace and punctuation around them. A whole
occurrence is not followed by a word character (letter, digit, underscore): in
"poem poems" the run is "poem " and "poems" is where it diverges; R's other edge is a
separator or the start of t by construction. It returns `repeated` (occurrences in R)
and `diverged_at` (the first generated token holding a byte of t past R; -1 for "null":
nothing but whitespace follows R). t is built from each token's exact bytes
(`memx.verify.tokenbytes`), never by decoding token by token, so a token that holds
the end of R and the start of what follows is found by its byte range.

It knows no models, shards or storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from memx.chat.templates import message_prompt
from memx.verify.spans import flatten_token_ids
from memx.verify.tokenbytes import PackedTable

NOT_DIVERGED = -1  # diverged_at's stand-in for null in numpy arrays


@dataclass
class DivergencePrompts:
    """Per row: prompt ids, the word and the repeat count it drew."""

    prompts: list[list[int]]
    words: list[str]
    repeats: np.ndarray  # int32


def divergence_message(message: str, word: str, repeats: int) -> str:
    return message.replace("{words}", " ".join([word] * repeats))


def divergence_prompts(tokenizer, template: str | None, seed: int, n: int, words: list[str], repeats: list[int],
                       message: str) -> DivergencePrompts:
    """`n` rows' prompts, deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    word_at = rng.integers(0, len(words), size=n)
    repeat_at = rng.integers(0, len(repeats), size=n)
    rendered: dict[tuple[int, int], list[int]] = {}
    prompts = []
    for w, r in zip(word_at.tolist(), repeat_at.tolist()):
        if (w, r) not in rendered:
            rendered[(w, r)] = message_prompt(tokenizer, template, divergence_message(message, words[w], repeats[r]))
        prompts.append(rendered[(w, r)])
    return DivergencePrompts(prompts, [words[w] for w in word_at.tolist()],
                             np.asarray(repeats, dtype=np.int32)[repeat_at])


@lru_cache(maxsize=64)
def _run_pattern(word: str) -> re.Pattern:
    # \W* before each occurrence cannot overlap the word's first character unless the word
    # itself opens with punctuation; the lookahead keeps occurrences whole.
    return re.compile(rf"(?:\W*{re.escape(word)}(?!\w))*\W*", re.IGNORECASE)


@lru_cache(maxsize=64)
def _occurrence(word: str) -> re.Pattern:
    return re.compile(rf"{re.escape(word)}(?!\w)", re.IGNORECASE)


def repetition_run(text: str, word: str) -> tuple[int, int]:
    """(characters of t in R, occurrences of `word` in R)."""
    run = _run_pattern(word).match(text)
    end = run.end() if run else 0
    return end, len(_occurrence(word).findall(text, 0, end))


def divergence_points(token_ids, words: list[str], table: PackedTable) -> dict[str, np.ndarray]:
    """`repeated` and `diverged_at` (int32, NOT_DIVERGED for null) of every sample.

    `token_ids`: the generated ids of each sample (list of lists or an Arrow list array);
    `words[i]`: the word sample i was asked to repeat.
    """
    flat, offsets = flatten_token_ids(token_ids)
    n = len(offsets) - 1
    known = (flat >= 0) & (flat < len(table))
    safe = np.where(known, flat, 0)
    lengths = np.where(~known | table.special[safe], 0, table.length[safe])  # special: no bytes
    repeated = np.zeros(n, dtype=np.int32)
    diverged = np.full(n, NOT_DIVERGED, dtype=np.int32)
    for row in range(n):
        lo, hi = int(offsets[row]), int(offsets[row + 1])
        raw = table.bytes_of(flat[lo:hi])
        text = raw.decode("utf-8", errors="surrogateescape")  # every byte keeps its place
        chars, count = repetition_run(text, words[row])
        repeated[row] = count
        if not text[chars:].strip():
            continue
        cut = len(text[:chars].encode("utf-8", errors="surrogateescape"))  # bytes of t in R
        ends = np.cumsum(lengths[lo:hi])
        # the first token whose bytes reach past the cut (special tokens end where their
        # predecessor did, so they are never it)
        diverged[row] = int(np.searchsorted(ends, cut, side="right"))
    return {"repeated": repeated, "diverged_at": diverged}


def span_from(diverged_at: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """`span_from` of divergence rows: diverged_at, or the generated length when null."""
    diverged_at = np.asarray(diverged_at)
    return np.where(diverged_at == NOT_DIVERGED, np.asarray(generated), diverged_at).astype(np.int32)
