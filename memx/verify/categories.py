"""Rule-based content tagger: which of the paper's categories a piece of text belongs to.

`categorize(text)` returns one of CATEGORIES. Rules run from the most specific signal to
the most generic, and the first that fires wins: a licence notice often carries an
e-mail and a URL, so licence is tested first; contact details beat URLs (a signature
block is contact info even with a homepage in it); URLs are measured before secrets so
the random-looking path of a URL is not mistaken for a key; logs before code, because
log lines are full of brackets and colons; prose last among the real categories.

Where a category is about personal data it asks the personal data detector (`memx.pii`),
so a category and the report's masking never disagree: contact is a validated e-mail
address or phone number (or a street address, which the detector has no type for);
an API key in a documented shape or a PEM private key is high_entropy, as are UUIDs and
long random hex or base64, which identify no one but are the paper's high-entropy text.

It deliberately knows nothing about models, memorization or the corpus: it is a
heuristic over the text alone, meant for summary counts, not for ground truth.
"""

from __future__ import annotations

import re

from memx.pii import detect

CATEGORIES = ("url", "contact", "high_entropy", "code", "license", "log", "news/prose", "other")

_LICENSE = re.compile(
    r"permission is hereby granted|licensed under the|gnu (?:lesser |affero )?general public"
    r"|apache license|mit license|bsd license|spdx-license-identifier|all rights reserved"
    r"|without warranty|without warranties|redistribution and use in source|creative commons"
    r"|this program is free software|\bcopyright\s+(?:\(c\)|©|\d{4})",
    re.I,
)
_CONTACT_TYPES = ("email", "phone")
_KEY_TYPES = ("api_key", "private_key")
_ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln"
    r"|Drive|Dr|Court|Ct|Way|Place|Pl)\b\.?"
)
URL = re.compile(r"(?:https?|ftp)://[^\s<>\"')\]]+|\bwww\.[A-Za-z0-9-]+\.[^\s<>\"')\]]+", re.I)
UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]{16,}\b")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
_LOG_LINE = re.compile(
    r"^\s*(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?|\[?\d{2}:\d{2}:\d{2}"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}"
    r"|\[?(?:INFO|DEBUG|WARN|WARNING|ERROR|CRITICAL|FATAL|TRACE)\]?[\s:])"
)
_LOG_LEVEL = re.compile(r"\b(?:INFO|DEBUG|WARN|WARNING|ERROR|CRITICAL|FATAL|TRACE)\b")
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |#include|return\b|if\s*\(|for\s*\(|while\s*\("
    r"|function\b|var |let |const |public |private |static |@\w+|elif |else:|try:|except\b)"
    r"|[;{}]\s*$|^\s*[}\])]|=>|\w+\([^)]*\)\s*[:{]?\s*$|^\s*\w+(?:\.\w+)*\s*[+\-*/]?=\s*\S"
)
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def _is_secret(tok: str) -> bool:
    # A key mixes classes: long all-letter words or all-digit runs are not secrets.
    has_digit = any(c.isdigit() for c in tok)
    has_alpha = any(c.isalpha() for c in tok)
    return has_digit and has_alpha


def _share(matches: list[str], text: str) -> float:
    dense = len(re.sub(r"\s", "", text)) or 1
    return sum(len(m) for m in matches) / dense


def categorize(text: str) -> str:
    """The paper's category of `text` (one of CATEGORIES)."""
    if not text or not text.strip():
        return "other"
    if _LICENSE.search(text):
        return "license"
    if detect(text, _CONTACT_TYPES) or _ADDRESS.search(text):
        return "contact"
    urls = URL.findall(text)
    if urls and (_share(urls, text) >= 0.2 or len(urls) >= 3):
        return "url"
    if detect(text, _KEY_TYPES):
        return "high_entropy"
    rest = URL.sub(" ", text)
    secrets = UUID.findall(rest) + [h for h in HEX.findall(rest) if _is_secret(h)]
    secrets += [b for b in _B64.findall(UUID.sub(" ", HEX.sub(" ", rest))) if _is_secret(b)]
    if secrets and _share(secrets, rest) >= 0.2:
        return "high_entropy"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    n_lines = len(lines) or 1
    log_lines = sum(1 for ln in lines if _LOG_LINE.search(ln))
    if log_lines >= 2 and log_lines / n_lines >= 0.3 or (log_lines and _LOG_LEVEL.search(text) and n_lines <= 2):
        return "log"
    code_lines = sum(1 for ln in lines if _CODE_LINE.search(ln))
    symbols = sum(text.count(c) for c in "{}()[];=<>_")
    if (n_lines >= 2 and code_lines / n_lines >= 0.3) or symbols / len(text) >= 0.06:
        return "code"
    if urls:
        return "url"
    words = _WORD.findall(text)
    letters = sum(len(w) for w in words)
    if len(words) >= 12 and letters / len(re.sub(r"\s", "", text)) >= 0.75:
        return "news/prose"
    if secrets:
        return "high_entropy"
    return "other"
