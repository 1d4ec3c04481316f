"""The memorization maps of the report's exact-extraction section (docs/outputs.md): for the most
extractable documents, each a strip along its characters coloured by the largest p_z of a
suffix covering each character (grey: no suffix covers it), and the extractable text
(characters under a suffix with p_z >= 0.5), masked like candidates unless `redact=False`.

It knows extraction.json's `documents` entries and the window rows; the caller gives the
documents' texts (it reads nothing).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from memx.extraction.summary import DocumentEntry, Extraction
from memx.report.headline import percent
from memx.report.plots import _png
from memx.report.redact import masker
from memx.report.render import render

MAPS = 20
FLOOR = -8.0  # log10 p_z at the bottom of the colour scale (and for p_z = 0)
_STRIP_BINS = 1200  # a strip is drawn at most this many bins wide: each bin shows its largest p_z
_TEXT_CHARS = 1500  # extractable text shown per document


def max_cover(chars: int, starts: np.ndarray, ends: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    """Per character of [0, chars) the largest log p_z of a [start, end) range covering it (NaN: none)."""
    out = np.full(chars, np.nan)
    for i in np.argsort(log_p, kind="stable"):  # larger values written last win
        out[max(0, starts[i]): min(chars, ends[i])] = log_p[i]
    return out

def _ranges(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))

def pick_documents(summary: Extraction, count: int = MAPS) -> list[DocumentEntry]:
    """The most extractable documents, each once (its best prefix length), in extraction.json order."""
    ranked = sorted(summary.documents, key=lambda e: (-e.extractable_chars, -(
        e.max_log_p if e.max_log_p is not None else -math.inf), e.document, e.prefix_tokens))
    chosen, seen = [], set()
    for entry in ranked:
        if entry.document not in seen:
            seen.add(entry.document)
            chosen.append(entry)
        if len(chosen) == count:
            break
    return chosen

def _strip_values(cover: np.ndarray) -> np.ndarray:
    """log10 of the largest p_z per bin of a document's characters (NaN where nothing covers it)."""
    values = np.where(np.isnan(cover), np.nan, np.maximum(cover / math.log(10), FLOOR))
    bins = min(_STRIP_BINS, max(1, len(values)))
    edges = np.linspace(0, len(values), bins + 1).astype(int)
    out = np.full(bins, np.nan)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        chunk = values[a:max(b, a + 1)]
        if len(chunk) and not np.isnan(chunk).all():
            out[i] = np.nanmax(chunk)
    return out

def maps_png(strips: list[tuple[str, np.ndarray]]) -> str | None:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    if not strips:
        return None
    fig = Figure(figsize=(9.0, 0.42 * len(strips) + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    cmap = colormaps["inferno"].copy()
    cmap.set_bad("#d9d9d9")
    width = _STRIP_BINS
    grid = np.full((len(strips), width), np.nan)
    for i, (_, values) in enumerate(strips):  # each document stretched over the full width
        grid[i] = values[(np.arange(width) * len(values)) // width]
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=FLOOR, vmax=0.0,
                      interpolation="nearest")
    ax.set_yticks(range(len(strips)), [label for label, _ in strips], fontsize=7)
    ax.set_xticks([0, width - 1], ["document start", "end"], fontsize=7)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.set_label("log10 of the largest p_z covering a character", fontsize=7)
    ax.set_title("memorization map: where each document is extractable (bright = likely)", fontsize=10)
    fig.tight_layout()
    return _png(fig)

def document_label(entry: DocumentEntry) -> str:
    name = entry.document_name.rstrip("/").rsplit("/", 1)[-1]  # the file (and line or row), not its folders
    return f"#{entry.document} {name if len(name) <= 40 else name[:39] + '…'} (k={entry.prefix_tokens})"

def _extractable_text(text: str, cover: np.ndarray, redact: bool) -> str:
    good = np.nan_to_num(cover, nan=-np.inf) >= math.log(0.5)
    pieces, shown = [], 0
    for a, b in _ranges(good):
        piece = text[a:b]
        pieces.append(masker(redact)(piece) if redact else piece)
        shown += len(piece)
        if shown >= _TEXT_CHARS:
            break
    return " … ".join(pieces)[:_TEXT_CHARS]  # the template escapes it

def maps_html(summary: Extraction, rows: pa.Table, texts: dict[int, str | None], redact: bool = True) -> str:
    """Strips and extractable text of the most extractable documents; `texts` maps a document to its text."""
    chosen = [e for e in pick_documents(summary) if e.chars]
    doc, k_of = rows.column("document").to_numpy(), rows.column("prefix_tokens").to_numpy()
    starts, ends = rows.column("char_start").to_numpy(), rows.column("char_end").to_numpy()
    log_p = rows.column("log_p").to_numpy()
    strips, items = [], []
    for entry in chosen:
        mine = (doc == entry.document) & (k_of == entry.prefix_tokens)
        cover = max_cover(entry.chars, starts[mine], ends[mine], log_p[mine])
        strips.append((document_label(entry), _strip_values(cover)))
        text = texts.get(entry.document)
        items.append({"document": entry.document, "label": document_label(entry),
                      "share": percent(entry.extractable_chars), "windows": f"{entry.windows:,}",
                      "text": _extractable_text(text, cover, redact) if text is not None else None})
    return render("extraction_maps.html.j2", items=items, png=maps_png(strips) if items else None, redact=redact)
