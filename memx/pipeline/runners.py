"""The runners of the sharded stages: each loads what it needs once, then turns a shard spec
into rows (`memx.pipeline.runner.ShardRunner` skips, writes and commits).

- `GenerateRunner` (samples): the target and the prompt corpus or prefix source;
- `ScoreRunner` (scores): the target and every reference on one device, sample shard -> score rows;
- `VerifyRunner` (verified, CPU only): the index's span search, sample shard -> spans (docs/outputs.md)
  and the personal data inside memorized spans (docs/personal-data.md);
- `ExtractionRunner` (extraction): the target and the window pass, documents -> window rows (docs/outputs.md).

Which stage each serves is declared in `memx.pipeline.stages`. The rows themselves are made by
the domain packages (generation, scoring, verify, extraction), which know no Run.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from memx.pipeline.personal_data import verified_column
from memx.pipeline.run import Run
from memx.pipeline.runner import ShardRunner
from memx.pipeline.span_from import read_samples
from memx.pipeline.stages import SAMPLES
from memx.plan import ShardSpec


class GenerateRunner(ShardRunner):
    """Loads the target (and the internet prompt corpus) once; sample rows, streamed."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        config = run.config
        from memx.generation import GenerationStats, load_prompt_corpus
        from memx.models import load_causal_lm

        target = config.target  # an adapter is merged in: generation runs the fine-tune at full speed
        self.lm = load_causal_lm(target.model, target.dtype, device, adapter=target.adapter, merge=True,
                                 chat_template=target.chat_template)
        self.prompts = self.documents = None
        if "internet" in config.generation.strategies:
            self.prompts = load_prompt_corpus(config.generation.internet.prompts, open_input=run.inputs.open)
        if "prefix" in config.generation.strategies:
            # one scan per actor: document offsets only (8 bytes a document), never the text;
            # every later read opens its files through the same Inputs (no new S3 client)
            self.documents = run.inputs.documents(config.generation.prefix.source)
        self.stats = GenerationStats()

    def schema(self, spec: ShardSpec) -> pa.Schema:
        from memx.generation import SAMPLE_SCHEMA

        return SAMPLE_SCHEMA

    def rows(self, spec: ShardSpec):
        from memx.generation import GenerationStats, generate_shard

        self.stats = GenerationStats()
        return generate_shard(self.lm, spec, self.config.generation, self.prompts, documents=self.documents,
                              stats=self.stats)

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        return {"tokens": self.stats.new_tokens, "model": self.config.target.model, "device": str(self.lm.device),
                "tokens_per_second": round(self.stats.tokens_per_second, 1), "batch_size": self.stats.batch_size}

    def result(self, spec: ShardSpec) -> dict:
        return {"tokens": self.stats.new_tokens}


class ScoreRunner(ShardRunner):
    """Holds the target and every reference model on one device; score rows of a sample shard."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        config = run.config
        from memx.chat.replica import load_scoring_models

        # one copy of the base weights: a reference that is the target's base runs with the adapter off
        self.target, self.references = load_scoring_models(config.target, config.references, device)
        self.sequence_counter = None
        if "prefix" in config.generation.strategies and config.verify is not None:
            from memx.scoring.discoverable import SequenceCounter

            # how often each whole prefix + suffix occurs in the corpus (sequence_count, docs/outputs.md),
            # by the span rule of the index's kind (docs/outputs.md)
            opened = run.index()
            self.sequence_counter = SequenceCounter(self.target.tokenizer, opened.index, opened.tokenizer)

    def rows(self, spec: ShardSpec) -> pa.Table:
        """The score rows of one committed sample shard."""
        from memx.scoring import score_samples

        columns = ["sample_id", "prompt_ids", "token_ids", "text"] + (["target_ids"] if spec.strategy == "prefix" else [])
        divergence = spec.strategy == "divergence"
        samples = read_samples(self.storage, spec.in_stage(SAMPLES), columns)  # + span_from
        counter = self.sequence_counter if spec.strategy == "prefix" else None
        return score_samples(samples, self.target, self.references, self.config.scoring, self.config.metric_names(),
                             sequence_counter=counter,
                             span_from=samples.column("span_from") if divergence else None)  # the word is no evidence

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        return {"model": self.config.target.model, "references": sorted(self.references)}


PERSONAL_DATA_READS = ["prompt_ids", "text"]  # where the span's characters are (docs/personal-data.md)


class VerifyRunner(ShardRunner):
    """CPU only: the index (memory-mapped, shared through the page cache by every actor of a
    node) and the target's tokenizer, loaded once as a span search; spans of a sample shard."""

    uses_torch = False

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        self.search = run.span_search()  # byte-level, same-tokenizer or re-tokenizing (docs/outputs.md)
        self.index = self.search.index

    def rows(self, spec: ShardSpec) -> pa.Table:
        samples = read_samples(self.storage, spec.in_stage(SAMPLES),
                               ["sample_id", "token_ids"] + PERSONAL_DATA_READS)  # + span_from
        spans = self.search.spans(samples.column("token_ids"), span_from=samples.column("span_from"))
        table = pa.table({"sample_id": samples.column("sample_id"), **{k: pa.array(v) for k, v in spans.items()}})
        # the entities inside each memorized span (docs/personal-data.md)
        entities = verified_column(self.config, samples, spans, self.search.table.bytes_of)
        return table.append_column("personal_data", entities)

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        # "corpus_index": a manifest's "index" is the shard's own number
        return {"corpus_index": self.config.verify.index}


class ExtractionRunner(ShardRunner):
    """The target, the scanned source (offsets only), the window pass and, with `verify`, the
    sequence counter, loaded once; a shard's documents -> every window's row. The manifest
    keeps each document's characters and tokens, which extraction.json divides by."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        from memx.extraction.passes import WindowPass
        from memx.models import load_causal_lm
        from memx.pipeline.inputs import scan_source

        config = run.config
        ex = config.extraction
        self.lm = load_causal_lm(config.target.model, config.target.dtype, device)
        self.source = scan_source(config, run.inputs)  # offsets only, never the text
        self.window_pass = WindowPass(self.lm.model, self.lm.device, ex.decoding.k, ex.decoding.t, ex.batch_size)
        self.counter = None
        if config.verify is not None:
            from memx.scoring.discoverable import SequenceCounter

            # the span rule of the index's kind (docs/outputs.md): byte, token, or re-tokenized
            opened = run.index()
            self.counter = SequenceCounter(self.lm.tokenizer, opened.index, opened.tokenizer)
        self._selected: np.ndarray | None = None
        self._last: tuple[int, object] | None = None

    def selected(self) -> np.ndarray:
        """The run's selected documents, found once per actor (`documents: n` tokenizes to find them)."""
        if self._selected is None:
            from memx.extraction.documents import select_documents

            self._selected = select_documents(self.source, self.lm.tokenizer, self.config.extraction,
                                              self.config.generation.seed)
        return self._selected

    def rows(self, spec: ShardSpec) -> pa.Table:
        from memx.extraction.documents import document_names, read_documents
        from memx.extraction.plan import shard_documents
        from memx.extraction.shard import extraction_rows

        documents = shard_documents(self.selected(), spec)
        texts = read_documents(self.source, documents)
        table, stats = extraction_rows(self.window_pass, self.lm.tokenizer, texts, documents,
                                       document_names(self.source, documents), self.config.extraction, self.counter)
        self._last = (table.num_rows, stats)
        return table

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        windows, stats = self._last
        return {"model": self.config.target.model, "device": str(self.lm.device), "documents": stats.to_dict(),
                "windows": windows, "windows_per_second": round(windows / max(seconds, 1e-9), 1),
                "document_tokens": int(sum(stats.tokens))}
