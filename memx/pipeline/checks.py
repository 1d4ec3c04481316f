"""Every input of a run checked before anything is written: model directories, the `internet`
prompt corpus, the `prefix` and `extraction` sources (windows against the model's context and
vocabulary, documents long enough) and the verification index.

A bad path must be exit 2 at once, naming the field, not a config.json written and
actors restarting until their budget runs out minutes later. Local paths are checked only
when the run uses this machine's own Ray (`local_paths=True`): a named cluster's nodes
may mount paths this machine lacks, and there the actors' bounded restarts report the
reason instead. S3 inputs are checked everywhere. It knows no Ray and runs nothing.
"""

from __future__ import annotations

import os

from memx.chat.checks import chat_problem
from memx.config import Config
from memx.errors import ConfigError
from memx.extraction.checks import model_problem, selected_documents
from memx.models import context_length
from memx.pipeline.inputs import Inputs, scan_source
from memx.pipeline.run import Run


def _file_problem(field: str, uri: str, inputs: Inputs, local_paths: bool) -> str | None:
    if uri.startswith("s3://"):
        size = inputs.size(uri)
        return None if size else f"{field}: {uri} {'is empty' if size == 0 else 'does not exist'}"
    if not local_paths:
        return None
    if not os.path.isfile(uri):
        return f"{field}: {uri}: no such file"
    return None if os.path.getsize(uri) else f"{field}: {uri} is empty"


def _index_problem(run: Run, local_paths: bool) -> str | None:
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
        run.index()  # reads index.json, checks the layout, maps the shards: milliseconds
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
    positions = context_length(model_config)
    problem = prefix_context_problem(prefix.prefix_tokens, prefix.suffix_tokens, positions)
    if problem:
        return problem
    return check_prefix_source(prefix.source, inputs.open, tokenizer, prefix.sequence_tokens, inputs.list_files)


def check_inputs(run: Run, local_paths: bool = True) -> None:
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
    if local_paths:  # the adapter's base, a template for `template`, divergence prompts in the context
        problems.append(chat_problem(config))
    if config.extraction is not None and local_paths:  # the model may exist only on the cluster's nodes
        # windows against the model's context and vocabulary, the source, the documents (docs/formulas.md#extraction)
        problems.append(extraction_problem(config, run.inputs))
    if config.membership is not None:  # the sides, their sizes, max_tokens against the context (docs/membership.md)
        from memx.pipeline.membership import membership_problem

        problems.append(membership_problem(config, run.inputs, local_paths))
    for problem in problems:
        if problem:
            raise ConfigError(problem)


def extraction_problem(config: Config, inputs: Inputs) -> str | None:
    """The first problem of the section, or None."""
    from transformers import AutoConfig, AutoTokenizer

    try:  # the files the actors will load: config and tokenizer only
        model_config = AutoConfig.from_pretrained(config.target.model)
        tokenizer = AutoTokenizer.from_pretrained(config.target.model)
    except (OSError, ValueError) as error:
        return f"target.model: {config.target.model}: cannot load its config and tokenizer ({str(error).splitlines()[0]})"
    problem = model_problem(config, model_config)
    if problem:
        return problem
    if not getattr(tokenizer, "is_fast", False):
        return "target.model: extraction needs a fast tokenizer (character offsets of every token)"
    try:
        selected_documents(config, scan_source(config, inputs), tokenizer)
    except ValueError as error:
        return str(error)
    return None
