"""The `extraction` stage's shard runner (SPEC §9), hosted by the model-replica actors like
scoring: the target, the scanned source, the pass and (with `verify`) the sequence counter
are loaded once; then shard spec after shard spec becomes a committed shard
`extraction/{name}/shard-NNNNN` whose manifest (written last, created only if absent)
also keeps each document's characters and tokens, which extraction.json needs.

A shard whose manifest exists is skipped, so a task delivered twice (an actor killed
mid-shard, its shard requeued) costs time, never a duplicate row. Storage and Ray stay
outside: the runner writes through the Run it is given.
"""

from __future__ import annotations

import time

import numpy as np

from memx.plan import ShardSpec
from memx.runstate import Run
from memx.shards import commit_shard, write_shard
from memx.stages import _Runner


class ExtractionRunner(_Runner):
    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        from memx.extraction.checks import scan_source
        from memx.extraction.passes import WindowPass
        from memx.models import load_causal_lm

        config = run.config
        ex = config.extraction
        self.lm = load_causal_lm(config.target.model, config.target.dtype, device)
        self.source = scan_source(config, run.inputs)  # offsets only, never the text
        self.window_pass = WindowPass(self.lm.model, self.lm.device, ex.decoding.k, ex.decoding.t, ex.batch_size)
        self.counter = None
        if config.verify is not None:
            from memx.inputs import open_index
            from memx.scoring.extraction import SequenceCounter

            # the span rule of the index's kind (SPEC §10): byte, token, or re-tokenized
            opened = open_index(run)
            self.counter = SequenceCounter(self.lm.tokenizer, opened.index, opened.tokenizer)
        self._selected: np.ndarray | None = None

    def selected(self) -> np.ndarray:
        """The run's selected documents, found once per actor (`documents: n` tokenizes to find them)."""
        if self._selected is None:
            from memx.extraction.documents import select_documents

            self._selected = select_documents(self.source, self.lm.tokenizer, self.config.extraction,
                                              self.config.generation.seed)
        return self._selected

    def run(self, spec: ShardSpec) -> dict:
        done = self.already_committed(spec)
        if done is not None:
            return {"shard": spec.key, "rows": done["rows"], "skipped": True}
        from memx.extraction.documents import document_names, read_documents
        from memx.extraction.plan import shard_documents
        from memx.extraction.shard import extraction_rows

        started = time.time()
        documents = shard_documents(self.selected(), spec)
        texts = read_documents(self.source, documents)
        table, stats = extraction_rows(self.window_pass, self.lm.tokenizer, texts, documents,
                                       document_names(self.source, documents), self.config.extraction, self.counter)
        written = write_shard(self.storage, spec, table.schema, [table])
        written.seconds = time.time() - started
        tokens = int(sum(stats.tokens))
        written.extra = {"model": self.config.target.model, "device": str(self.lm.device), "documents": stats.to_dict(),
                         "windows": table.num_rows, "windows_per_second": round(table.num_rows / max(written.seconds,
                                                                                                    1e-9), 1),
                         "document_tokens": tokens}
        committed = commit_shard(self.storage, spec, written)
        return {"shard": spec.key, "rows": written.rows, "seconds": written.seconds, "committed": committed}
