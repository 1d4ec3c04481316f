"""Every input a run reads, resolved once and checked before anything is written: model
directories, the `internet` prompt corpus, the `prefix` and `extraction` document sources
and the verification index.

`Inputs` is how a run opens them: local paths directly, s3:// through one Storage per
bucket, built the first time the bucket is read and kept for the rest of the process
(an index is opened once too). A command makes one with its `Run`; an actor rebuilds it
once from the Run's wire form, so no file opened costs a new S3 client.

A bad path must be exit 2 at once, naming the field, not a config.json written and
actors restarting until their budget runs out minutes later. Local paths are checked only
when the run uses this machine's own Ray (`local_paths=True`): a named cluster's nodes
may mount paths this machine lacks, and there the actors' bounded restarts report the
reason instead. S3 inputs are checked everywhere. It knows no Ray and runs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from memx.config import Config
from memx.errors import ConfigError
from memx.storage import Storage

if TYPE_CHECKING:
    from memx.config import VerifyConfig
    from memx.verify.byteindex import CorpusIndex
    from memx.runstate import Run
    from memx.verify.tokenindex import TokenIndex


class Inputs:
    """A run's inputs, resolved once: one Storage per s3:// bucket (the config's endpoint
    and region), and each verification index opened once."""

    def __init__(self, endpoint_url: str | None = None, region: str | None = None):
        self.endpoint_url = endpoint_url
        self.region = region
        self._buckets: dict[str, Storage] = {}
        self._indexes: dict[tuple, OpenIndex] = {}
        self._sources: dict[str, Any] = {}

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
            from memx.generation.documents import local_files

            return local_files(uri)
        storage, key = self._locate(uri)
        return [storage.uri(found) for found in storage.list(key)]

    def documents(self, uri: str):
        """The document source at `uri` (a `DocumentSource`), scanned once per process: the
        input check, the planner, the runner and the report all ask for it."""
        if uri not in self._sources:
            from memx.generation.documents import DocumentSource

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
    token-level `TokenIndex` with the tokenizer its ids belong to (SPEC §10)."""

    index: "CorpusIndex | TokenIndex"
    tokenizer: Any = None

    def search(self, target_tokenizer):
        """SPEC §10's span search of a target's token ids in this index (memx.verify.search)."""
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


def open_index(run: "Run") -> OpenIndex:
    """The run's verification index, opened once per process by the run's Inputs."""
    if run.config.verify is None:
        raise ConfigError("verify: the config has no `verify` section (index, min_match_tokens)")
    return run.inputs.index(run.config.verify)


def open_span_search(run: "Run", target_tokenizer=None):
    """The span search of the run's target in the run's index: the one way the verified
    stage, candidates and memorization.json read the index. Without a tokenizer in hand,
    the target's is read with `tokenizers` alone (a verify actor needs no torch)."""
    from memx.verify.tokenbytes import load_tokenizer

    opened = open_index(run)
    return opened.search(target_tokenizer or load_tokenizer(run.config.target.model, field="target.model"))


def _file_problem(field: str, uri: str, inputs: Inputs, local_paths: bool) -> str | None:
    if uri.startswith("s3://"):
        size = inputs.size(uri)
        return None if size else f"{field}: {uri} {'is empty' if size == 0 else 'does not exist'}"
    if not local_paths:
        return None
    if not os.path.isfile(uri):
        return f"{field}: {uri}: no such file"
    return None if os.path.getsize(uri) else f"{field}: {uri} is empty"


def _index_problem(run: "Run", local_paths: bool) -> str | None:
    verify = run.config.verify
    remote = [uri for uri in verify.index_uris if uri.startswith("s3://")]
    for uri in remote:
        if verify.tokenizer is None:  # memx's own indexes: index.json is written last
            problem = _file_problem("verify.index", f"{uri.rstrip('/')}/index.json", run.inputs, local_paths)
            if problem:
                return problem
        elif not any(f.rsplit("/", 1)[-1].startswith("table.") for f in run.inputs.list_files(uri)):
            return f"verify.index: {uri}: no shard files (tokenized.N, table.N, offset.N) there"
    if remote or not local_paths:
        return None
    try:
        open_index(run)  # reads index.json, checks the layout, maps the shards: milliseconds
    except ConfigError as error:
        return str(error)
    except (OSError, ValueError) as error:
        return f"verify.index: {verify.index}: not a readable index ({error})"
    return None


def _prefix_problem(config: Config, inputs: Inputs, local_paths: bool) -> str | None:
    from transformers import AutoConfig, AutoTokenizer

    from memx.generation.prefix import check_prefix_source, prefix_context_problem

    prefix = config.generation.prefix
    if not local_paths:  # the model (and a local source) may exist only on the cluster's nodes
        return None
    try:  # the same files the actors will load; if they cannot load here, neither can a local run
        model_config = AutoConfig.from_pretrained(config.target.model)
        tokenizer = AutoTokenizer.from_pretrained(config.target.model)
    except (OSError, ValueError) as error:
        return f"target.model: {config.target.model}: cannot load its config and tokenizer ({str(error).splitlines()[0]})"
    positions = getattr(model_config, "n_positions", None) or getattr(model_config, "max_position_embeddings", None)
    problem = prefix_context_problem(prefix.prefix_tokens, prefix.suffix_tokens, positions)
    if problem:
        return problem
    return check_prefix_source(prefix.source, inputs.open, tokenizer, prefix.sequence_tokens, inputs.list_files)


def check_inputs(run: "Run", local_paths: bool = True) -> None:
    """Raise ConfigError (exit 2) naming the first input that cannot be read."""
    from memx.models import local_model_problem

    config = run.config
    if local_paths:
        models = [("target.model", config.target.model)]
        models += [(f"references.{ref.name}.model", ref.model) for ref in config.references]
        for field, model in models:
            problem = local_model_problem(model)
            if problem:
                raise ConfigError(f"{field}: {model}: {problem}")
    gen = config.generation
    problems = []
    if "internet" in gen.strategies:
        problems.append(_file_problem("generation.internet.prompts", gen.internet.prompts, run.inputs, local_paths))
    if config.verify is not None:
        problems.append(_index_problem(run, local_paths))
    if "prefix" in gen.strategies:
        problems.append(_prefix_problem(config, run.inputs, local_paths))
    if config.extraction is not None and local_paths:  # the model may exist only on the cluster's nodes
        from memx.extraction.checks import extraction_problem

        # windows against the model's context and vocabulary, the source, the documents (SPEC §9)
        problems.append(extraction_problem(config, run.inputs))
    for problem in problems:
        if problem:
            raise ConfigError(problem)
