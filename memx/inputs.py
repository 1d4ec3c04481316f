"""Every input a run reads, checked before anything is written: model directories, the
`internet` prompt corpus, the `prefix` document source and the verification index.

A bad path must be exit 2 at once, naming the field, not a config.json written and
actors restarting until their budget runs out minutes later. Local paths are checked only
when the run uses this machine's own Ray (`local_paths=True`): a named cluster's nodes
may mount paths this machine lacks, and there the actors' bounded restarts report the
reason instead. S3 inputs are checked everywhere. Also the one way inputs are opened
(`open_input`, `open_index`), on S3 with the run's storage settings. It knows no Ray and
runs nothing.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from memx.config import Config
from memx.errors import ConfigError


def _input_storage(config: Config, uri: str):
    """Storage rooted at an s3:// input, with the config's endpoint and region."""
    from memx.storage import Storage

    return Storage(uri, config.storage.endpoint_url, config.storage.region)


def open_input(config: Config):
    """`open(uri)` for input files: local paths directly, s3:// through the run's storage settings."""

    def opener(uri: str) -> BinaryIO:
        if uri.startswith("s3://"):
            parent, _, name = uri.rpartition("/")
            return _input_storage(config, parent).open_input_file(name)
        return open(uri, "rb")

    return opener


def list_input_files(config: Config):
    """Files under an s3:// prefix (sorted URIs), for sources given as a prefix."""

    def lister(uri: str) -> list[str]:
        storage = _input_storage(config, uri)
        return [storage.uri(key) for key in storage.list("")]

    return lister


def local_index_dir(uri: str, config: Config) -> str:
    """infini-gram reads local files: an s3:// index is synced once into a local cache that
    every process of the machine shares (memory-mapped, so the OS keeps one copy in RAM)."""
    if not uri.startswith("s3://"):
        if not os.path.isdir(uri):
            raise ConfigError(f"verify.index: {uri} is not a directory (build one with `memx index build`)")
        return uri
    from memx.sync import sync_to_local

    cache = os.path.join(os.environ.get("MEMX_CACHE", os.path.expanduser("~/.cache/memx")), "index",
                         uri[len("s3://"):].replace("/", "_"))
    return sync_to_local(uri, cache, config.storage.endpoint_url, config.storage.region)


def open_index(config: Config):
    """The run's CorpusIndex, from a local directory or a synced copy of an s3:// one."""
    from memx.index import CorpusIndex

    if config.verify is None:
        raise ConfigError("verify: the config has no `verify` section (index, min_match_tokens)")
    return CorpusIndex(local_index_dir(config.verify.index, config))


def _file_problem(field: str, uri: str, config: Config, local_paths: bool) -> str | None:
    if uri.startswith("s3://"):
        parent, _, name = uri.rpartition("/")
        size = _input_storage(config, parent).size(name)
        return None if size else f"{field}: {uri} {'is empty' if size == 0 else 'does not exist'}"
    if not local_paths:
        return None
    if not os.path.isfile(uri):
        return f"{field}: {uri}: no such file"
    return None if os.path.getsize(uri) else f"{field}: {uri} is empty"


def _index_problem(config: Config, local_paths: bool) -> str | None:
    uri = config.verify.index
    if uri.startswith("s3://"):
        return _file_problem("verify.index", f"{uri.rstrip('/')}/index.json", config, local_paths)
    if not local_paths:
        return None
    try:
        open_index(config)  # reads index.json, checks its format, maps the shards: milliseconds
    except ConfigError as error:
        return str(error)
    except (OSError, ValueError) as error:
        return f"verify.index: {uri}: not a readable memx index ({error})"
    return None


def _prefix_problem(config: Config, local_paths: bool) -> str | None:
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
    return check_prefix_source(prefix.source, open_input(config), tokenizer, prefix.sequence_tokens,
                               list_input_files(config))


def check_inputs(config: Config, local_paths: bool = True) -> None:
    """Raise ConfigError (exit 2) naming the first input that cannot be read."""
    from memx.models import local_model_problem

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
        problems.append(_file_problem("generation.internet.prompts", gen.internet.prompts, config, local_paths))
    if config.verify is not None:
        problems.append(_index_problem(config, local_paths))
    if "prefix" in gen.strategies:
        problems.append(_prefix_problem(config, local_paths))
    for problem in problems:
        if problem:
            raise ConfigError(problem)
