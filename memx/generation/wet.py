"""Common Crawl WET reading: the English `conversion` records, as the paper's code kept them.

A WET file is a sequence of WARC records (`WARC/1.0`, header lines, a blank line, then
`Content-Length` bytes of extracted text). The paper's script kept the records whose
`WARC-Identified-Content-Language` starts with `eng` (CC lists the detected languages
most-present first, so `eng,fra` counts and `fra,eng` does not); crawls older than
2018 have no such header, and then a cheap stop-word test decides. Only the record
framing is parsed here: this module does not know about tokenizers or prompts, and
gzip is the caller's business (a CC `.warc.wet.gz` is a multi-member gzip stream,
which `gzip.GzipFile` reads whole).
"""

from __future__ import annotations

import re
from typing import BinaryIO, Iterator

# Frequent English function words that are rare as words in other major Latin-script
# languages (no "a", "in", "on", "an", "was", "will", which German/French/Italian share).
_ENGLISH_STOPWORDS = frozenset(
    "the of and to is that for it with as are be by this have from or at not but which you his they "
    "we were has their been would there what can all if its your our more when who about than".split()
)
_WORD = re.compile(r"[a-z]+")


def looks_english(text: str, min_words: int = 8, min_stopword_share: float = 0.12) -> bool:
    """A header-less record is kept when it is mostly ASCII and dense in English function words."""
    if not text:
        return False
    sample = text[:20_000]  # a page's beginning is representative; keeps huge records cheap
    ascii_share = sum(ch.isascii() for ch in sample) / len(sample)
    if ascii_share < 0.9:
        return False
    words = _WORD.findall(sample.lower())
    if len(words) < min_words:
        return False
    return sum(word in _ENGLISH_STOPWORDS for word in words) / len(words) >= min_stopword_share


def iter_warc_records(stream: BinaryIO) -> Iterator[tuple[dict[str, str], bytes]]:
    """(headers with lower-cased names, body bytes) for every record of a WARC/WET stream."""
    while True:
        line = stream.readline()
        if not line:
            return
        if not line.startswith(b"WARC/"):
            continue  # blank separator lines between records (or junk): resynchronise on the next record
        headers: dict[str, str] = {}
        while True:
            line = stream.readline()
            if not line or not line.strip():
                break
            name, _, value = line.decode("utf-8", "replace").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw_length = headers.get("content-length", "0")
        try:
            length = int(raw_length)
        except ValueError:
            raise ValueError(f"WARC record with a bad Content-Length {raw_length!r}") from None
        body = stream.read(length)
        if len(body) < length:
            raise ValueError(f"truncated WARC record: expected {length} bytes, got {len(body)}")
        yield headers, body


def is_english_record(headers: dict[str, str], text: str) -> bool:
    language = headers.get("warc-identified-content-language")
    if language is None or not language.strip():
        return looks_english(text)
    return language.split(",")[0].strip().lower() == "eng"


def english_wet_texts(stream: BinaryIO) -> Iterator[str]:
    """The extracted text of each English `conversion` record, in file order."""
    for headers, body in iter_warc_records(stream):
        if headers.get("warc-type", "").lower() != "conversion":
            continue
        text = body.decode("utf-8", "replace").strip()
        if text and is_english_record(headers, text):
            yield text
