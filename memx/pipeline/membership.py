"""The `membership` stage and step over a Run (docs/membership.md): the input checks, the runner
that turns a shard of one side's documents into score rows, and membership.json from the
committed shards.

- `membership_problem(config, inputs)`: the section against its sources and the target
  (a side that cannot be read, fewer than 2 documents a side, both sides one file,
  `max_tokens` beyond the target's context), checked before anything is written (exit 2);
- `MembershipRunner`: the target and every reference loaded once, each side's selection
  found once per actor; a shard's documents -> `memx.membership.score` rows;
- `membership_step(run)`: both sides' committed rows and their scored texts (read again
  from the sources: the shards hold no text) -> `MembershipSummary` -> membership.json.

The rows, figures and verdict come from `memx.membership`, which knows no Run. No Ray.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from memx.config import Config
from memx.errors import ConfigError, MemxFailure
from memx.membership.documents import SIDES
from memx.membership.plan import side_source
from memx.membership.summary import MEMBERSHIP_KEY, MembershipSummary, read_summary
from memx.pipeline.inputs import Inputs
from memx.pipeline.run import Run
from memx.pipeline.runner import ShardRunner
from memx.pipeline.stages import MEMBERSHIP
from memx.plan import ShardSpec
from memx.shards import read_manifest, read_shard



def membership_problem(config: Config, inputs: Inputs, local_paths: bool = True) -> str | None:
    """The first problem of the section against its sources and the target, or None."""
    from memx.models import context_length

    section = config.membership
    sources = {}
    for side in SIDES:
        try:
            sources[side] = side_source(config, inputs, side)
        except ValueError as error:
            return str(error)
        if sources[side].n_documents < 2:
            return (f"membership.{side}: {sources[side].uri} holds {sources[side].n_documents} document(s); "
                    "a side needs 2 at least")
    local = [getattr(section, side) for side in SIDES if not getattr(section, side).startswith("s3://")]
    if len(local) == 2 and os.path.realpath(local[0]) == os.path.realpath(local[1]):
        return f"membership.nonmembers: {section.nonmembers} is the same source as membership.members"
    if not local_paths:
        return None
    from transformers import AutoConfig

    try:  # the files the actors will load
        positions = context_length(AutoConfig.from_pretrained(config.target.model))
    except (OSError, ValueError) as error:
        return f"target.model: {config.target.model}: cannot load its config ({str(error).splitlines()[0]})"
    if positions and section.max_tokens > positions:
        return (f"membership.max_tokens: {section.max_tokens} is more than target.model's context "
                f"({positions} positions); set membership.max_tokens to {positions} or less")
    return None


class MembershipRunner(ShardRunner):
    """The target and every reference on one device (like the scores stage); a shard of one
    side's documents -> their score rows."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        super().__init__(run, device, num_threads)
        from memx.models import load_causal_lm

        config = run.config
        self.inputs = run.inputs
        self.target = load_causal_lm(config.target.model, config.target.dtype, device)
        self.references = {ref.name: load_causal_lm(ref.model, ref.dtype, self.target.device)
                           for ref in config.references}
        self._selected: dict[str, np.ndarray] = {}
        self._last = (0, 0)

    def selected(self, side: str) -> np.ndarray:
        """The side's selected documents, found once per actor (`documents: n` tokenizes to find them)."""
        if side not in self._selected:
            from memx.membership.documents import select_documents

            section = self.config.membership
            self._selected[side] = select_documents(side_source(self.config, self.inputs, side),
                                                    self.target.tokenizer, section.documents,
                                                    self.config.generation.seed, side)
        return self._selected[side]

    def rows(self, spec: ShardSpec) -> pa.Table:
        from memx.extraction.plan import shard_documents
        from memx.membership.documents import read_kept
        from memx.membership.score import score_documents, shard_rows

        side, section = spec.strategy, self.config.membership
        kept = read_kept(side_source(self.config, self.inputs, side), self.target.tokenizer,
                         shard_documents(self.selected(side), spec), section.max_tokens, side)
        scores = score_documents(kept.ids, kept.text, self.target, self.references, self.config.scoring,
                                 self.config.metric_names())
        self._last = (len(kept.ids), int(scores.column("tokens").to_numpy().sum()))
        return shard_rows(kept.document, kept.document_name, side == "members", scores)

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        documents, tokens = self._last
        return {"model": self.config.target.model, "references": sorted(self.references),
                "device": str(self.target.device), "documents": documents, "tokens": tokens,
                "documents_per_second": round(documents / max(seconds, 1e-9), 1)}

    def result(self, spec: ShardSpec) -> dict:
        return {"tokens": self._last[1]}


def side_rows(run: Run, side: str) -> pa.Table:
    """Every committed row of one side, in plan order; MemxFailure when a shard is missing."""
    tables = []
    for spec in (s for s in run.plan(MEMBERSHIP) if s.strategy == side):
        if read_manifest(run.storage, spec) is None:
            raise MemxFailure(f"{spec.key} is not committed; run `memx resume {run.uri}` to finish the stage")
        tables.append(read_shard(run.storage, spec))
    return pa.concat_tables(tables)


def scored_texts(run: Run, side: str, documents: np.ndarray) -> list[str]:
    """The text each document's scored ids cover, read again from the side's source."""
    from transformers import AutoTokenizer

    from memx.membership.documents import read_kept

    tokenizer = AutoTokenizer.from_pretrained(run.config.target.model)
    source = side_source(run.config, run.inputs, side)
    return read_kept(source, tokenizer, documents, run.config.membership.max_tokens, side).text


def membership_step(run: Run) -> MembershipSummary:
    """membership.json from both sides' committed rows (and, for the blind baseline, their texts)."""
    from memx.membership.summary import summarize

    config = run.config
    if config.membership is None:
        raise ConfigError("membership: the config has no `membership` section (docs/membership.md)")
    section = config.membership
    rows = {side: side_rows(run, side) for side in SIDES}
    texts = {side: (scored_texts(run, side, rows[side].column("document").to_numpy()) if section.blind
                    else [""] * rows[side].num_rows) for side in SIDES}
    summary = summarize(rows["members"], rows["nonmembers"], texts["members"], texts["nonmembers"],
                        config.metric_names(), section.bootstrap, config.generation.seed, blind=section.blind)
    run.storage.write_bytes(MEMBERSHIP_KEY, summary.model_dump_json(indent=2).encode())
    return summary


def read_membership(run: Run) -> MembershipSummary | None:
    if not run.storage.exists(MEMBERSHIP_KEY):
        return None
    return read_summary(run.storage.read_bytes(MEMBERSHIP_KEY))


def membership_section(run: Run) -> str | None:
    """The report's membership section, or None when membership.json is not written."""
    from memx.report.membership import membership_html

    summary = read_membership(run)
    if summary is None:
        return None
    return membership_html(summary, side_rows(run, "members"), side_rows(run, "nonmembers"),
                           run.config.metric_names())


def membership_summary_lines(run: Run) -> list[str]:
    """The verdict and the table for a terminal ([] when the run has no membership.json)."""
    from memx.report.membership import membership_lines

    summary = read_membership(run)
    return membership_lines(summary) if summary is not None else []
