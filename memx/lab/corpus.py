"""The lab's text: documents cut from the Python standard library and `pydoc_data`.

Every Python installation carries this text, so the lab needs no download. Sources are
the stdlib's `.py` files (test suites, site-packages and caches skipped) and the prose
topics of `pydoc_data`; each is cut at blank lines into documents of a bounded number of
lines. A seeded shuffle of whole *sources* decides which go to training and which to
the held-out slice, so no held-out paragraph was ever seen in training (a file is never
split across the two). The same shuffle continues into a third, *disjoint* slice: the
training text of the `out` reference (a model that never saw the target's data), cut into
documents like the training split, from sources in neither of the others, and without any
document that overlaps a training document (stdlib files repeat boilerplate). The result
depends only on the seed, the sizes asked for and the Python version's stdlib.

This module does not know about canaries, tokenizers or models: it returns plain text.
"""

from __future__ import annotations

import json
import random
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

# Test suites are mostly generated fixtures and huge data tables; site-packages is not
# "what every installation carries".
_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


@dataclass(frozen=True)
class Source:
    name: str  # stable id: "stdlib/<relative path>" or "pydoc/<topic>"
    text: str


def stdlib_sources() -> list[Source]:
    """All eligible sources, in a fixed (sorted) order so the seeded shuffle is reproducible."""
    root = Path(sysconfig.get_paths()["stdlib"])
    sources: list[Source] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            # A handful of stdlib files are latin-1 or unreadable; skipping them keeps
            # the corpus pure UTF-8, which the byte-level index and tokenizer assume.
            continue
        if text.strip():
            sources.append(Source(f"stdlib/{rel.as_posix()}", text))
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distro builds strip pydoc_data; the stdlib alone suffices
        topics = {}
    for key in sorted(topics):
        if topics[key].strip():
            sources.append(Source(f"pydoc/{key}", topics[key]))
    return sources


def split_documents(text: str, max_lines: int) -> list[str]:
    """Cut at blank lines into chunks of at most ~max_lines lines (a long block stays whole)."""
    blocks, current = [], []
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        current.append(line.rstrip())
    if current:
        blocks.append(current)
    docs, chunk = [], []
    for block in blocks:
        if chunk and len(chunk) + len(block) > max_lines:
            docs.append("\n".join(chunk))
            chunk = []
        # Keep one blank line between blocks inside a document, as in the source.
        chunk.extend(([""] if chunk else []) + block)
    if chunk:
        docs.append("\n".join(chunk))
    # Documents of one or two lines have no interior line boundary for a canary and
    # carry little signal; dropping them keeps every training doc insertable.
    return [d for d in docs if d.count("\n") >= 2]


@dataclass
class CorpusSplit:
    train: list[str]
    heldout: list[str]
    train_sources: list[str]
    heldout_sources: list[str]
    disjoint: list[str] = field(default_factory=list)
    disjoint_sources: list[str] = field(default_factory=list)


def build_split(seed: int, train_chars: int, heldout_chars: int, max_lines: int,
                disjoint_chars: int = 0) -> CorpusSplit:
    """Seeded choice of whole sources: training docs, then the held-out slice, then the
    disjoint documents. Asking for a disjoint slice leaves the other two unchanged."""
    sources = stdlib_sources()
    rng = random.Random(f"corpus-{seed}")
    order = list(range(len(sources)))
    rng.shuffle(order)
    train, heldout, train_names, heldout_names = [], [], [], []
    disjoint, disjoint_names = [], []
    train_size = heldout_size = disjoint_size = 0
    for i in order:
        src = sources[i]
        if train_size < train_chars:
            docs = split_documents(src.text, max_lines)
            if docs:
                train.extend(docs)
                train_names.append(src.name)
                train_size += sum(len(d) for d in docs)
        elif heldout_size < heldout_chars:
            # A cap per source keeps one huge module from being the whole prompt corpus.
            paragraphs = _take(heldout_paragraphs(src.text), max(2_000, heldout_chars // 8))
            if paragraphs:
                heldout.extend(paragraphs)
                heldout_names.append(src.name)
                heldout_size += sum(len(p) for p in paragraphs)
        elif disjoint_size < disjoint_chars:
            # Held-out paragraphs are checked one by one: the generated codecs of `encodings/`
            # share whole paragraphs, and `out` must not have read a held-out prompt either.
            docs = [d for d in split_documents(src.text, max_lines)
                    if not _overlaps(d, train) and not any(p in d for p in heldout)]
            if docs:
                disjoint.extend(docs)
                disjoint_names.append(src.name)
                disjoint_size += sum(len(d) for d in docs)
        else:
            break
    if train_size < train_chars or heldout_size < heldout_chars or disjoint_size < disjoint_chars:
        raise ValueError(
            f"the stdlib of this Python has {train_size + heldout_size + disjoint_size} usable characters, "
            f"fewer than the {train_chars + heldout_chars + disjoint_chars} the preset asks for"
        )
    return CorpusSplit(train, heldout, train_names, heldout_names, disjoint, disjoint_names)


def _overlaps(doc: str, train: list[str]) -> bool:
    # Whole-document containment either way: a copied licence block or a twin
    # `__init__.py` in another package would put training text into the `out` model.
    return any(doc in t or t in doc for t in train)


def _take(paragraphs: list[str], budget: int) -> list[str]:
    taken, size = [], 0
    for paragraph in paragraphs:
        if size >= budget:
            break
        taken.append(paragraph)
        size += len(paragraph)
    return taken


def heldout_paragraphs(text: str, min_chars: int = 40) -> list[str]:
    """Paragraphs (blank-line separated) long enough to take a 5-10 token prompt from."""
    out, current = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraph = "\n".join(current)
            if len(paragraph) >= min_chars:
                out.append(paragraph)
            current = []
    return out


def write_train_jsonl(docs: list[str], path: Path) -> None:
    # One {"text": ...} per line: the layout memx.index.build_index reads directly.
    with path.open("w", encoding="utf-8") as handle:
        for doc in docs:
            handle.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")


def write_heldout_txt(paragraphs: list[str], path: Path) -> None:
    # Paragraphs separated by one blank line: a reader that takes paragraphs gets one
    # document each, a reader that takes lines gets each non-empty line; both work.
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
