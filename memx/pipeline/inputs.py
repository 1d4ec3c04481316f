"""Every input a run reads, resolved once: the `internet` prompt corpus, the `prefix` and
`extraction` document sources and the verification index (their checks before anything is
written: `memx.pipeline.checks`).

`Inputs` is how a run opens them: local paths directly, s3:// through one Storage per
bucket, built the first time the bucket is read and kept for the rest of the process
(an index is opened once too). A command makes one with its `Run`; an actor rebuilds it
once from the Run's wire form, so no file opened costs a new S3 client.

It knows no Run, no Ray and runs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from memx.config import Config
from memx.documents import DocumentSource, local_files
from memx.errors import ConfigError
from memx.storage import Storage

if TYPE_CHECKING:
    from memx.config.verify import VerifyConfig
    from memx.verify.byteindex import CorpusIndex
    from memx.verify.tokenindex import TokenIndex


class Inputs:
    """A run's inputs, resolved once: one Storage per s3:// bucket (the config's endpoint
    and region), and each verification index opened once."""

    def __init__(self, endpoint_url: str | None = None, region: str | None = None):
        self.endpoint_url = endpoint_url
        self.region = region
        self._buckets: dict[str, Storage] = {}
        self._indexes: dict[tuple, OpenIndex] = {}
        self._sources: dict[str, DocumentSource] = {}

    @classmethod
    def of(cls, config: Config) -> "Inputs":
        return cls(config.storage.endpoint_url, config.storage.region)

    def to_wire(self) -> dict:
        """Plain JSON for an actor: the storage settings, never credentials nor open clients."""
        return {"endpoint_url": self.endpoint_url, "region": self.region}

    @classmethod
    def from_wire(cls, wire: dict) -> "Inputs":
        return cls(wire["endpoint_url"], wire["region"])

    def _locate(self, uri: str) -> tuple[Storage, str]:
        """(the bucket's Storage, the key inside it) of an s3:// URI."""
        bucket, _, key = uri[len("s3://"):].partition("/")
        if bucket not in self._buckets:
            self._buckets[bucket] = Storage(f"s3://{bucket}", self.endpoint_url, self.region)
        return self._buckets[bucket], key.strip("/")

    def open(self, uri: str) -> BinaryIO:
        """`open(uri, "rb")` for an input file, local or s3:// (seekable)."""
        if uri.startswith("s3://"):
            storage, key = self._locate(uri)
            return storage.open_input_file(key)
        return open(uri, "rb")

    def list_files(self, uri: str) -> list[str]:
        """The files under a source given as a directory (local, recursively) or an s3:// prefix."""
        if not uri.startswith("s3://"):
            return local_files(uri)
        storage, key = self._locate(uri)
        return [storage.uri(found) for found in storage.list(key)]

    def documents(self, uri: str) -> DocumentSource:
        """The document source at `uri`, scanned once per process: the input check, the
        planner, the runner and the report all ask for it."""
        if uri not in self._sources:
            self._sources[uri] = DocumentSource.scan(uri, self.open, self.list_files)
        return self._sources[uri]

    def size(self, uri: str) -> int | None:
        """An s3:// object's size, None when there is none."""
        storage, key = self._locate(uri)
        return storage.size(key)

    def index(self, verify: "VerifyConfig") -> "OpenIndex":
        """The verification index `verify` names (one directory or a list, local or s3://
        synced once into the machine's cache), and its tokenizer for a token index."""
        key = (tuple(verify.index_uris), verify.tokenizer, verify.token_dtype)
        if key not in self._indexes:
            from memx.verify.search import open_index_dirs

            # a released token index has no index.json: with verify.tokenizer set none is required
            dirs = [local_index_dir(uri, self, require_marker=verify.tokenizer is None) for uri in verify.index_uris]
            self._indexes[key] = OpenIndex(*open_index_dirs(dirs, verify.tokenizer, verify.token_dtype))
        return self._indexes[key]


@dataclass(frozen=True)
class OpenIndex:
    """An opened verification index: a byte-level `CorpusIndex` (tokenizer None) or a
    token-level `TokenIndex` with the tokenizer its ids belong to (docs/indexes.md)."""

    index: "CorpusIndex | TokenIndex"
    tokenizer: Any = None

    def search(self, target_tokenizer):
        """The span (docs/indexes.md) search of a target's token ids in this index (memx.verify.search)."""
        from memx.verify.search import span_search

        return span_search(target_tokenizer, self.index, self.tokenizer)


def local_index_dir(uri: str, inputs: Inputs, require_marker: bool = True) -> str:
    """infini-gram reads local files: an s3:// index is synced once into a local cache that
    every process of the machine shares (memory-mapped, so the OS keeps one copy in RAM)."""
    if not uri.startswith("s3://"):
        if not os.path.isdir(uri):
            raise ConfigError(f"verify.index: {uri} is not a directory (build one with `memx index build`)")
        return uri
    from memx.sync import sync_to_local

    cache = os.path.join(os.environ.get("MEMX_CACHE", os.path.expanduser("~/.cache/memx")), "index",
                         uri[len("s3://"):].replace("/", "_"))
    return sync_to_local(uri, cache, inputs.endpoint_url, inputs.region, require_marker=require_marker)


def scan_source(config: Config, inputs: Inputs) -> DocumentSource:
    """The `extraction` section's scanned source; ValueError naming `extraction.source` when it cannot be read."""
    uri = config.extraction.source
    try:
        return inputs.documents(uri)
    except (OSError, ValueError) as error:
        raise ValueError(f"extraction.source: cannot read {uri} ({error})") from None
