"""The documents of a source (a `prefix` or `extraction` source; the input checks read
them too), found by one scan and read by seeking.

Design: a source is never loaded whole. `DocumentSource.scan` reads each file once and
keeps only where its documents are, 8 bytes a document at most:

- `.jsonl`: a numpy int64 array of line boundaries (one document per line, its `text`
  field; a blank line is an empty document), found by streaming the file in chunks;
- `.parquet`: the row count of each row group, from the footer alone (one document per
  row of the `text` column; a document is read with its row group's `text` column);
- `.txt`: one document per file, and the file's size.

A document's global index is its position in the concatenation of the source's files in
sorted URI order (a jsonl line number, a parquet row number, a txt file's rank), so
`{document}:{token offset}` names one sequence across every shard and actor.
`read(indices)` opens each file it needs once and seeks to the documents asked for.
The source is a local file or directory, or an S3 object or prefix: files are opened
through an injected `open_input(uri)` (seekable) and a prefix is listed through an
injected `list_files(uri)`, so this module knows nothing about S3, tokenizers or shards.
Compressed files cannot be seeked into and are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

OpenInput = Callable[[str], BinaryIO]
ListFiles = Callable[[str], list[str]]
KINDS = {".jsonl": "jsonl", ".parquet": "parquet", ".txt": "txt"}
_CHUNK = 1 << 23  # bytes per read while scanning jsonl: a bounded buffer whatever the file size
_UNKNOWN = np.iinfo(np.int64).max  # a parquet row's size is not known before reading it


def local_open(uri: str) -> BinaryIO:
    return open(uri, "rb")


def jsonl_text(line: bytes, uri: str, number: int) -> str:
    """The `text` field of one JSON line (`number` counts from 1, for the error)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{uri}: line {number} is not JSON ({error.msg})") from None
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise ValueError(f"{uri}: line {number} has no string 'text' field")
    return text


def kind_of(uri: str) -> str | None:
    name = uri.lower().split("?", 1)[0]
    return next((kind for suffix, kind in KINDS.items() if name.endswith(suffix)), None)


def local_files(uri: str) -> list[str]:
    """A local file as itself; a local directory as every file below it (recursively)."""
    path = Path(uri)
    if path.is_dir():
        return [str(p) for p in path.rglob("*") if p.is_file()]
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {uri}")
    return [uri]


@dataclass
class _File:
    uri: str
    kind: str
    first: int  # global index of its first document
    bounds: np.ndarray  # jsonl: line boundaries (n+1); parquet: cumulative rows per row group (groups+1); txt: [0, size]

    @property
    def count(self) -> int:
        return 1 if self.kind == "txt" else int(self.bounds[-1] if self.kind == "parquet" else len(self.bounds) - 1)


def _line_bounds(stream: BinaryIO) -> np.ndarray:
    """Start of every line, then the end of the file: line i is [b[i], b[i+1])."""
    parts, base = [np.zeros(1, dtype=np.int64)], 0
    while chunk := stream.read(_CHUNK):
        parts.append(np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 0x0A).astype(np.int64) + (base + 1))
        base += len(chunk)
    bounds = np.concatenate(parts)
    return bounds if bounds[-1] == base else np.append(bounds, base)  # a last line without its newline


def _parquet(stream: BinaryIO, uri: str):
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    if "text" not in parquet.schema_arrow.names:
        raise ValueError(f"{uri}: no 'text' column (columns: {', '.join(parquet.schema_arrow.names)})")
    return parquet


def _scan_file(uri: str, kind: str, first: int, open_input: OpenInput) -> _File:
    with open_input(uri) as stream:
        if kind == "jsonl":
            bounds = _line_bounds(stream)
        elif kind == "parquet":
            meta = _parquet(stream, uri).metadata
            rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            bounds = np.concatenate([[0], np.cumsum(rows, dtype=np.int64)]).astype(np.int64)
        else:
            bounds = np.array([0, stream.seek(0, 2)], dtype=np.int64)
    return _File(uri, kind, first, bounds)


class DocumentSource:
    """Where every document of a source is; `read` fetches documents by global index."""

    def __init__(self, uri: str, files: list[_File], open_input: OpenInput = local_open):
        self.uri = uri
        self.files = files
        self.open_input = open_input
        self.firsts = np.array([f.first for f in files] + [sum(f.count for f in files)], dtype=np.int64)

    @classmethod
    def scan(cls, uri: str, open_input: OpenInput = local_open, list_files: ListFiles | None = None) -> "DocumentSource":
        """Find the documents of `uri` (a file, a directory or an S3 prefix), reading each file once."""
        if uri.lower().split("?", 1)[0].endswith(".gz"):
            raise ValueError(f"{uri}: compressed sources cannot be read by seeking; decompress it first")
        if kind_of(uri) is not None:
            uris = [uri]
        else:
            listed = (list_files or local_files)(uri)
            uris = sorted(u for u in listed if kind_of(u) is not None)
            if not uris:
                raise ValueError(f"{uri}: no .jsonl, .parquet or .txt file found")
        files, first = [], 0
        for file_uri in uris:
            scanned = _scan_file(file_uri, kind_of(file_uri), first, open_input)  # type: ignore[arg-type]
            files.append(scanned)
            first += scanned.count
        return cls(uri, files, open_input)

    @property
    def n_documents(self) -> int:
        return int(self.firsts[-1])

    def _file_of(self, indices: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.firsts, indices, side="right") - 1

    def byte_bounds(self, indices: np.ndarray | None = None) -> np.ndarray:
        """An upper bound of each document's UTF-8 text size in bytes (int64), without reading it:
        a jsonl line's length (escapes only make JSON longer than its text), a txt file's size,
        and int64 max for parquet rows. A tokenizer never makes more tokens than bytes + 1."""
        indices = np.arange(self.n_documents, dtype=np.int64) if indices is None else np.asarray(indices, np.int64)
        out = np.full(len(indices), _UNKNOWN, dtype=np.int64)
        which = self._file_of(indices)
        for f in np.unique(which):
            file, rows = self.files[f], np.flatnonzero(which == f)
            local = indices[rows] - file.first
            if file.kind == "jsonl":
                out[rows] = file.bounds[local + 1] - file.bounds[local]
            elif file.kind == "txt":
                out[rows] = file.bounds[1]
        return out

    def read(self, indices: np.ndarray) -> list[str]:
        """The text of each document asked for, in the order asked ("" for an empty one).

        Each file is opened once and its documents are read in file order (seeks only
        forward); a repeated index is read once."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= self.n_documents):
            raise IndexError(f"{self.uri}: document index out of range [0, {self.n_documents})")
        unique, back = np.unique(indices, return_inverse=True)
        texts: list[str] = [""] * len(unique)
        which = self._file_of(unique)
        for f in np.unique(which):
            rows = np.flatnonzero(which == f)
            file = self.files[f]
            found = self._read_file(file, unique[rows] - file.first)
            for row, text in zip(rows, found):
                texts[row] = text
        return [texts[i] for i in back.reshape(-1)]

    def _read_file(self, file: _File, local: np.ndarray) -> list[str]:
        with self.open_input(file.uri) as stream:
            if file.kind == "txt":
                return [stream.read().decode("utf-8", "replace")] * len(local)
            if file.kind == "jsonl":
                return [_jsonl_text(stream, file, int(i)) for i in local]
            parquet = _parquet(stream, file.uri)
            groups = np.searchsorted(file.bounds, local, side="right") - 1
            out: list[str] = []
            for g in np.unique(groups):  # one read per row group, of the text column only
                column = parquet.read_row_group(int(g), columns=["text"]).column(0)
                rows = (local[groups == g] - file.bounds[g]).tolist()
                out.extend(text or "" for text in column.take(rows).to_pylist())
            return out


def _jsonl_text(stream: BinaryIO, file: _File, line: int) -> str:
    start, end = int(file.bounds[line]), int(file.bounds[line + 1])
    stream.seek(start)
    raw = stream.read(end - start)
    return jsonl_text(raw, file.uri, line + 1) if raw.strip() else ""
