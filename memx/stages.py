"""Shard runners: the pure unit of work behind every actor.

A runner loads its models once (`__init__`) and then turns shard spec after shard spec
into a committed shard on storage (`run`); which stage each one serves, and what it runs
after, is declared in `memx.stagedefs`. Runners know the run's config and storage,
but not Ray: `cluster/` wraps them in actors, tests and single-process runs call them
directly. A runner receives its `Run` (storage resolved by the command that started the
job) and never rebuilds a location from the config. A shard whose manifest already
exists is skipped, so a duplicate delivery of a task (a retry racing a slow success)
costs time, never a duplicate.
"""

from __future__ import annotations

import time

from memx.plan import ShardSpec
from memx.runstate import Run
from memx.shards import WrittenShard, commit_shard, manifest_key, read_manifest, read_shard, write_shard
from memx.stagedefs import SAMPLES
from memx.storage import Storage


def configure_threads(num_threads: int | None) -> None:
    import torch

    if num_threads:
        torch.set_num_threads(max(1, int(num_threads)))


class _Runner:
    uses_torch = True  # a numpy-only runner skips torch: ~120 MiB and seconds per actor

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        if self.uses_torch:
            configure_threads(num_threads)
        self.config = run.config
        self.storage: Storage = run.storage
        self.device = device

    def already_committed(self, spec: ShardSpec) -> dict | None:
        return read_manifest(self.storage, spec) if self.storage.exists(manifest_key(spec)) else None

    def commit_sidecar(self, spec: ShardSpec, make_table, **details) -> dict:
        """A sidecar shard (same name as its samples): skipped when committed, else
        `make_table(spec)` written, then its manifest created."""
        done = self.already_committed(spec)
        if done is not None:
            return {"shard": spec.key, "rows": done["rows"], "skipped": True}
        started = time.time()
        table = make_table(spec)
        written: WrittenShard = write_shard(self.storage, spec, table.schema, [table])
        written.seconds = time.time() - started
        written.extra = details
        committed = commit_shard(self.storage, spec, written)
        return {"shard": spec.key, "rows": written.rows, "seconds": written.seconds, "committed": committed}


class GenerateRunner(_Runner):
    """Loads the target (and the internet prompt corpus) once; writes sample shards."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        config = run.config
        from memx.generation import load_prompt_corpus
        from memx.models import load_causal_lm

        self.lm = load_causal_lm(config.target.model, config.target.dtype, device)
        self.prompts = self.documents = None
        if "internet" in config.generation.strategies:
            self.prompts = load_prompt_corpus(config.generation.internet.prompts, open_input=run.inputs.open)
        if "prefix" in config.generation.strategies:
            # one scan per actor: document offsets only (8 bytes a document), never the text;
            # every later read opens its files through the same Inputs (no new S3 client)
            self.documents = run.inputs.documents(config.generation.prefix.source)

    def run(self, spec: ShardSpec) -> dict:
        done = self.already_committed(spec)
        if done is not None:
            return {"shard": spec.key, "rows": done["rows"], "skipped": True}
        from memx.generation import SAMPLE_SCHEMA, GenerationStats, generate_shard

        stats = GenerationStats()
        batches = generate_shard(self.lm, spec, self.config.generation, self.prompts, documents=self.documents,
                                 stats=stats)
        written = write_shard(self.storage, spec, SAMPLE_SCHEMA, batches)
        tokens = stats.new_tokens
        written.extra = {"tokens": tokens, "model": self.config.target.model, "device": str(self.lm.device),
                         "tokens_per_second": round(stats.tokens_per_second, 1), "batch_size": stats.batch_size}
        committed = commit_shard(self.storage, spec, written)
        return {"shard": spec.key, "rows": written.rows, "tokens": tokens, "seconds": written.seconds,
                "committed": committed}


class ScoreRunner(_Runner):
    """Holds the target and every reference model on one device; writes score sidecars."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        config = run.config
        from memx.models import load_causal_lm

        self.target = load_causal_lm(config.target.model, config.target.dtype, device)
        self.references = {ref.name: load_causal_lm(ref.model, ref.dtype, self.target.device)
                           for ref in config.references}
        self.sequence_counter = None
        if "prefix" in config.generation.strategies and config.verify is not None:
            from memx.inputs import open_index
            from memx.scoring.extraction import SequenceCounter

            # how often each whole prefix + suffix occurs in the corpus (SPEC §7 sequence_count),
            # by the span rule of the index's kind (SPEC §10)
            opened = open_index(run)
            self.sequence_counter = SequenceCounter(self.target.tokenizer, opened.index, opened.tokenizer)

    def score_table(self, spec: ShardSpec):
        """The score rows of one committed sample shard (not written anywhere)."""
        from memx.scoring import score_samples

        sample_spec = spec.in_stage(SAMPLES)
        columns = ["sample_id", "prompt_ids", "token_ids", "text"] + (["target_ids"] if spec.strategy == "prefix" else [])
        samples = read_shard(self.storage, sample_spec, columns)
        counter = self.sequence_counter if spec.strategy == "prefix" else None
        return score_samples(samples, self.target, self.references, self.config.scoring, self.config.metric_names(),
                             sequence_counter=counter)

    def run(self, spec: ShardSpec) -> dict:
        return self.commit_sidecar(spec, self.score_table, model=self.config.target.model,
                                   references=sorted(self.references))


class VerifyRunner(_Runner):
    """CPU only: the index (memory-mapped, shared through the page cache by every actor of a
    node) and the target's tokenizer, loaded once as a span search; writes `verified`
    sidecars (SPEC §6, §10)."""

    uses_torch = False

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        from memx.inputs import open_span_search

        self.search = open_span_search(run)  # byte-level, same-tokenizer or re-tokenizing (SPEC §10)
        self.index = self.search.index

    def verified_table(self, spec: ShardSpec):
        import pyarrow as pa

        samples = read_shard(self.storage, spec.in_stage(SAMPLES), ["sample_id", "token_ids"])
        spans = self.search.spans(samples.column("token_ids"))
        return pa.table({"sample_id": samples.column("sample_id"), **{k: pa.array(v) for k, v in spans.items()}})

    def run(self, spec: ShardSpec) -> dict:
        # "corpus_index": a manifest's "index" is the shard's own number
        return self.commit_sidecar(spec, self.verified_table, corpus_index=self.config.verify.index)
