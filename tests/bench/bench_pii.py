"""Benchmark: the personal data detector (`memx.pii.detect`) over generated-sample-sized
texts, on one core, beside the pattern-only redaction memx used before (kept below,
verbatim, for the comparison only).

Samples are ~1,100 characters (about 256 GPT-2 tokens) cut from the lab's training corpus
when $MEMX_CACHE holds a lab of at least 4 MiB, else from the text the lab is built from (the standard
library's Python sources and pydoc_data's prose); one in ten gets a labelled entity
(tests/pii/labelled.py) spliced in at a line boundary. Prints samples/s of `detect` (all
types), the time of each type's finder alone, and samples/s of the old regexes on the same
texts. Rates are per CPU second of this one process (single-threaded: one core), so other
work on a shared machine does not count; wall seconds are printed beside them. Run:
`python tests/bench/bench_pii.py [--samples 100000]`. Measured on a shared 2-core VM (load
~5), 100,000 samples from the stdlib text: detect 9,967 samples/s per CPU second without
the phone cache (10,913 with it; ~4,800/s wall clock), the old regexes 2,792/s.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

import memx.pii.numbers as numbers  # noqa: E402
from memx.pii import DETECTORS, TYPES, detect  # noqa: E402
from tests.pii.labelled import labelled_set  # noqa: E402

SAMPLE_CHARS = 1100


MIN_LAB_BYTES = 4 << 20  # a smaller corpus (the tiny lab) would repeat itself in every sample


def _source_text() -> tuple[str, str]:
    cache = os.environ.get("MEMX_CACHE", "/tmp/memx-cache")
    labs = [p for p in glob.glob(os.path.join(cache, "lab", "*", "corpus", "train.jsonl"))
            if os.path.getsize(p) >= MIN_LAB_BYTES]
    if labs:
        with open(max(labs, key=os.path.getsize)) as f:
            return "\n".join(json.loads(line)["text"] for line in f), max(labs, key=os.path.getsize)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = [p.read_text(errors="replace") for p in sorted(stdlib.glob("*.py"))[:200]]
    from pydoc_data.topics import topics

    parts += list(topics.values())
    return "\n".join(parts), f"{stdlib}/*.py + pydoc_data"


def make_samples(n: int, seed: int = 0) -> tuple[list[str], str]:
    text, source = _source_text()
    rng = random.Random(seed)
    entities = [s.text for s in labelled_set(seed) if s.type]
    samples = []
    for i in range(n):
        at = rng.randrange(0, max(1, len(text) - SAMPLE_CHARS))
        sample = text[at:at + SAMPLE_CHARS]
        if i % 10 == 0:
            cut = sample.find("\n", rng.randrange(SAMPLE_CHARS // 2)) + 1
            sample = sample[:cut] + rng.choice(entities) + "\n" + sample[cut:]
        samples.append(sample)
    return samples, source


# ---- the redaction memx used before the detector (memx/report/redact.py until this change) ----
_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]+)@((?:[A-Za-z0-9-]+\.)+)([A-Za-z]{2,})\b")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_IP = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_KEY = re.compile(r"(?<![A-Za-z0-9+/_=-])(?=[A-Za-z0-9+/_=-]*\d)(?=[A-Za-z0-9+/_=-]*[A-Za-z])"
                  r"[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/_=-])")
_PHONE = re.compile(
    r"(?<![\w@+.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{1,5}){1,5}(?![\w-])"
    r"|(?<![\w@])\+\d{7,15}\b"
)
_DIGITS = re.compile(r"(?<![\w.])(?:\d{7,}|\d{4}(?:[ -]\d{4}){2,3})(?![\w])")
_KEY_PREFIX = re.compile(r"(?:sk|pk|rk)_(?:live|test)_|gh[pousr]_|AKIA|xox[baprs]-|AIza")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}|\d{4}")


def _old_email(m):
    local, domain, tld = m.group(1), m.group(2), m.group(3)
    return f"{local[:1]}***@{domain.split('.')[0][:1]}***.{tld}"


def _old_key(m):
    s = m.group(0)
    core = s.rstrip("=")
    hexy = re.fullmatch(r"(?:0x)?[0-9a-fA-F]+", core) is not None
    mixed = any(c.isupper() for c in core) and any(c.islower() for c in core)
    return f"[KEY:{len(s)}]" if hexy or (mixed and len(core) >= 20) or _KEY_PREFIX.match(core) else s


def _old_phone(m):
    s = m.group(0)
    digits = sum(c.isdigit() for c in s)
    groups = re.split(r"[\s.()-]+", s.strip("+()"))
    if not 7 <= digits <= 15 or _DATE.fullmatch(s) or (len(groups) > 2 and all(len(g) <= 1 for g in groups)):
        return s
    if not s.startswith(("+", "(")) and sum(len(g) >= 3 for g in groups) < 2:
        return s
    return "[PHONE]"


def old_redact(text: str) -> str:
    text = _EMAIL.sub(_old_email, text)
    text = _UUID.sub("[UUID]", text)
    text = _IP.sub("[IP]", text)
    text = _KEY.sub(_old_key, text)
    text = _PHONE.sub(_old_phone, text)
    return _DIGITS.sub(lambda m: f"[DIGITS:{sum(c.isdigit() for c in m.group())}]", text)


def _timed(fn, samples) -> tuple[float, int]:
    """CPU seconds of this process (on a shared machine the wall clock also counts the time
    other processes held the core) and what `fn` found."""
    started, wall = time.process_time(), time.perf_counter()
    found = sum(fn(s) for s in samples)
    _timed.wall = time.perf_counter() - wall
    return time.process_time() - started, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20000)
    args = parser.parse_args()
    samples, source = make_samples(args.samples)
    chars = sum(map(len, samples))
    print(f"{len(samples):,} samples of ~{chars // len(samples):,} characters from {source}; one core")
    detect(samples[0])  # imports and compiled patterns, outside the timing
    numbers._matches.cache_clear()
    seconds, found = _timed(lambda s: len(detect(s)), samples)
    info = numbers._matches.cache_info()
    print(f"detect, all types:  {len(samples) / seconds:10,.0f} samples/s  ({seconds:6.2f} CPU s, "
          f"{_timed.wall:6.2f} wall s, {found:,} entities; phone windows cached: {info.hits:,} hits, "
          f"{info.misses:,} misses)")
    cached, numbers._matches = numbers._matches, numbers._matches.__wrapped__  # every window parsed
    seconds, found = _timed(lambda s: len(detect(s)), samples)
    print(f"  without the cache: {len(samples) / seconds:9,.0f} samples/s  ({seconds:6.2f} CPU s, "
          f"{_timed.wall:6.2f} wall s, {found:,} entities)")
    seconds_old, _ = _timed(lambda s: old_redact(s) != s, samples)
    print(f"old redact regexes: {len(samples) / seconds_old:10,.0f} samples/s  ({seconds_old:6.2f} CPU s, "
          f"{_timed.wall:6.2f} wall s)  -> detect without the cache takes {seconds / seconds_old:.2f}x the old time")
    print("each type alone (phone without the cache):")
    for name in TYPES:
        t, n = _timed(lambda s, f=DETECTORS[name]: sum(1 for _ in f(s, "US")), samples)
        print(f"  {name:<12} {t:6.2f} CPU s  {1e6 * t / len(samples):7.1f} us/sample  {n:6,} finds")
    numbers._matches = cached


if __name__ == "__main__":
    main()
