"""Score columns of labelled documents: every metric of `scoring.metrics`, from the scoring
package's own batched passes.

A document is scored as a sample whose prompt is empty and whose generated tokens are its
first `max_tokens` tokens: `memx.scoring.score_samples` then runs one forward pass per
model over exactly those ids, no BOS prepended, every predicted position (positions
1..N-1), and applies the formulas of docs/membership.md unchanged, batched and
right-padded. The sample's text is the document text those ids cover, for zlib and the
re-tokenized passes (lowercase, a reference with another tokenizer), which prepend no BOS
either (`bos=False`): every pass predicts positions 1..N-1 of what it reads.

Rows (`membership_schema`): `document` int64, `document_name` str, `member` bool,
`tokens` int32 (the predicted positions' sequence length, after the target's context),
`nll_target` and `nll_<ref>` for each reference a ratio metric names, then
`score_<metric>` per metric, all float64. This module knows no storage or shards.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from memx.models import LoadedModel, context_length
from memx.scoring import score_columns, score_samples

_KEYS = [("document", pa.int64()), ("document_name", pa.string()), ("member", pa.bool_()), ("tokens", pa.int32())]


def score_fields(metric_names: list[str]) -> list[tuple[str, pa.DataType]]:
    """The model columns: `nll_target`, `nll_<ref>` per reference, `score_<metric>` per metric."""
    return [(name, kind) for name, kind in score_columns(metric_names)
            if (name.startswith("nll_") and name != "nll_lowercase") or name.startswith("score_")]


def membership_schema(metric_names: list[str]) -> pa.Schema:
    """The schema of a `membership/{members|nonmembers}/shard-NNNNN` shard."""
    return pa.schema(_KEYS + score_fields(metric_names))


def score_documents(ids: list[list[int]], texts: list[str], target: LoadedModel,
                    references: dict[str, LoadedModel], scoring, metric_names: list[str]) -> pa.Table:
    """`tokens` and the model columns for documents given as the target's ids and their texts, same order."""
    samples = pa.table({
        "sample_id": pa.array([str(i) for i in range(len(ids))], pa.string()),
        "prompt_ids": pa.array([[] for _ in ids], pa.list_(pa.int32())),
        "token_ids": pa.array(ids, pa.list_(pa.int32())),
        "text": pa.array(texts, pa.string()),
    })
    scored = score_samples(samples, target, references, scoring, metric_names, bos=False)
    limit = context_length(target) or np.iinfo(np.int32).max
    tokens = np.minimum(np.fromiter((len(x) for x in ids), np.int64, len(ids)), limit).astype(np.int32)
    fields = score_fields(metric_names)
    return pa.table([pa.array(tokens, pa.int32())] + [scored.column(name) for name, _ in fields],
                    schema=pa.schema([("tokens", pa.int32())] + fields))


def shard_rows(document: np.ndarray, document_name: list[str], member: bool, scores: pa.Table) -> pa.Table:
    """One shard's rows: the documents' keys beside their score columns (`score_documents`)."""
    n = len(document)
    keys = [pa.array(np.asarray(document, np.int64)), pa.array(document_name, pa.string()),
            pa.array(np.full(n, member)), scores.column("tokens")]
    rest = [f for f in scores.schema if f.name != "tokens"]
    return pa.Table.from_arrays(keys + [scores.column(f.name) for f in rest],
                                schema=pa.schema(_KEYS + [(f.name, f.type) for f in rest]))
