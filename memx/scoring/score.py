"""Sample rows -> score rows (docs/outputs.md, ARCHITECTURE "score row"), one shard at a time.

`score_samples` runs the model passes the requested metrics need and nothing else:

- target: the exact generated ids `prompt_ids + token_ids`, never re-tokenized text (the
  paper's script re-tokenized decoded text and so scored a different sequence).
- each reference named by a `ratio_<ref>` metric: the same ids when its vocabulary is the
  target's (`memx.models.same_vocabulary`); otherwise `[BOS] + ref_tokenizer(text)`, and
  then `nll_<ref>` and both sides of `ratio_<ref>` are NLL per byte of the predicted
  tokens (`memx.scoring.perbyte`, docs/formulas.md), not per token.
- lowercase: `[BOS] + target_tokenizer(text.lower())`.
  BOS rule: every re-tokenized pass prepends the model's BOS id (`LoadedModel.bos_id`) so
  the first real token gets a prediction, as the BOS prompt of the generated samples does.
- zlib: `len(zlib.compress(text.encode("utf-8")))`, in a worker thread while the model
  passes run (the same thread also does the re-tokenizing ahead of its pass).

Columns, in this order (float64 unless said; see `score_columns`): `sample_id`,
`nll_target`, `nll_<ref>` for each reference a `ratio_<ref>` metric names,
`nll_lowercase` if `lowercase`, `zlib_bytes` (int64) if `zlib`, `window_nll` if
`window`, then `score_<metric>` for each metric in the order given; then, for `prefix`
rows (a samples table whose `target_ids` are set), `exact`, `match_prefix_tokens`,
`token_accuracy` and, when a `sequence_counter` is given, `sequence_count`
(`memx.scoring.discoverable`). Columns no requested metric needs are omitted, not filled.
Rows keep the order of `samples`.
`span_from` (divergence rows, docs/chat.md): per row, the first generated token that
may be evidence. Every metric then counts only the predicted positions of generated
tokens from there on (the target and every same-vocabulary reference, from the same
forward pass: `TokenStats.after`), and zlib, lowercase and references of another
vocabulary read the text of those tokens (they lose the conditioning on what came before).
No value is NaN or inf: see the defined degenerate values in `memx.scoring.metrics`;
a sample whose target sequence has no predicted position gets `NO_EVIDENCE_SCORE` in
every score column. Sequences longer than a model's context are truncated to it
(`memx.scoring.passes`). This module knows nothing about storage, shards on disk or Ray.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from memx.config import ScoringConfig
from memx.metrics import LOWERCASE, METRIC_NAMES, MOMENTS, WINDOW, ZLIB, evidence_needed, metric_named
from memx.models import LoadedModel, same_vocabulary
from memx.scoring import metrics as M
from memx.scoring.discoverable import EXTRACTION_COLUMNS, SEQUENCE_COUNT_COLUMN, extraction_scores
from memx.scoring.passes import token_stats
from memx.scoring.perbyte import byte_table, nll_per_byte, predicted_bytes



def _reference_of(metric: str, references: dict[str, LoadedModel]) -> str | None:
    if not metric.startswith("ratio_"):
        return None
    name = metric.removeprefix("ratio_")
    if name not in references:
        raise ValueError(f"metric {metric!r} names no reference (have: {sorted(references)})")
    return name


def _check_metrics(metric_names: list[str], references: dict[str, LoadedModel]) -> list[str]:
    """The reference names the metrics need, in metric order; rejects unknown names."""
    if len(set(metric_names)) != len(metric_names):
        raise ValueError("metric_names must not repeat")
    needed = []
    for metric in metric_names:
        ref = _reference_of(metric, references)
        if ref is not None:
            needed.append(ref)
        elif metric == "ratio" or metric not in METRIC_NAMES:
            raise ValueError(f"unknown metric {metric!r}: 'ratio' must be expanded to ratio_<ref>")
    return needed


def score_columns(metric_names: list[str], prefix: bool = False, sequence_count: bool = False) -> list[tuple[str, pa.DataType]]:
    """The (name, type) of every column `score_samples` emits for these concrete metrics
    (`prefix`: a shard of prefix rows; `sequence_count`: scored with a sequence counter)."""
    cols: list[tuple[str, pa.DataType]] = [("sample_id", pa.string()), ("nll_target", pa.float64())]
    cols += [(f"nll_{m.removeprefix('ratio_')}", pa.float64()) for m in metric_names if m.startswith("ratio_")]
    needs = evidence_needed(metric_names)
    if LOWERCASE in needs:
        cols.append(("nll_lowercase", pa.float64()))
    if ZLIB in needs:
        cols.append(("zlib_bytes", pa.int64()))
    if WINDOW in needs:
        cols.append(("window_nll", pa.float64()))
    cols += [(f"score_{m}", pa.float64()) for m in metric_names]
    if prefix:
        cols += EXTRACTION_COLUMNS + ([SEQUENCE_COUNT_COLUMN] if sequence_count else [])
    return cols


def _targets(samples: pa.Table) -> pa.ChunkedArray | None:
    """The true suffixes of a prefix shard; None for the other strategies (no or all-null column)."""
    if "target_ids" not in samples.column_names:
        return None
    targets = samples.column("target_ids")
    if targets.null_count == len(targets):
        return None
    if targets.null_count:
        raise ValueError("target_ids is set on some rows only: a shard holds one strategy")
    return targets


def _generated_ids(samples: pa.Table) -> list[list[int]]:
    prompts = samples.column("prompt_ids").to_pylist()
    tokens = samples.column("token_ids").to_pylist()
    return [(p or []) + (t or []) for p, t in zip(prompts, tokens)]


def _retokenize(lm: LoadedModel, texts: list[str], bos: bool = True) -> list[list[int]]:
    """`[BOS] + ids` (or the ids alone, `bos=False`) of each text under lm's tokenizer (no other special tokens)."""
    if not texts:
        return []
    encoded = lm.tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [[lm.bos_id, *ids] for ids in encoded] if bos else [list(ids) for ids in encoded]


def _mean_nll(lm: LoadedModel, sequences: list[list[int]], batch_size: int, skip=None) -> torch.Tensor:
    stats = token_stats(lm, sequences, batch_size)
    if skip is not None:
        stats = stats.after(skip)
    return M.mean_nll(stats.logp, stats.lengths)


def _skip(samples: pa.Table, span_from) -> torch.Tensor | None:
    """Predicted positions before generated token `span_from` of each row: prompt + span_from - 1."""
    if span_from is None:
        return None
    if isinstance(span_from, (pa.ChunkedArray, pa.Array)):
        span_from = span_from.to_numpy(zero_copy_only=False)
    prompts = pc.list_value_length(samples.column("prompt_ids")).fill_null(0).to_numpy(zero_copy_only=False)
    return torch.from_numpy(np.maximum(prompts.astype(np.int64) + np.asarray(span_from, dtype=np.int64) - 1, 0))


def _span_texts(samples: pa.Table, texts: list[str], span_from, tokenizer) -> list[str]:
    """The text of each row's generated tokens from span_from on (the whole text at 0)."""
    if span_from is None:
        return texts
    starts = np.asarray(span_from.to_numpy(zero_copy_only=False) if hasattr(span_from, "to_numpy") else span_from)
    tokens = samples.column("token_ids").to_pylist()
    later = [i for i, s in enumerate(starts.tolist()) if s > 0]
    decoded = tokenizer.batch_decode([(tokens[i] or [])[starts[i]:] for i in later], skip_special_tokens=True)
    out = list(texts)
    for i, text in zip(later, decoded):
        out[i] = text
    return out


def score_samples(
    samples: pa.Table,
    target: LoadedModel,
    references: dict[str, LoadedModel],
    scoring: ScoringConfig,
    metric_names: list[str],
    *,
    sequence_counter: Callable[[pa.ChunkedArray, pa.ChunkedArray], np.ndarray] | None = None,
    span_from=None,
    bos: bool = True,
) -> pa.Table:
    """Score rows for `samples` (sample_id, prompt_ids, token_ids, text; target_ids for
    prefix rows), same order. `sequence_counter(prompt_ids, target_ids)` (an
    `extraction.SequenceCounter`) adds `sequence_count` to prefix rows. `bos=False`: the
    re-tokenized passes prepend no BOS either, as the ids given carry none (labelled documents)."""
    needed_refs = _check_metrics(metric_names, references)
    targets = _targets(samples)
    needs = evidence_needed(metric_names)
    batch = scoring.batch_size
    ids = _generated_ids(samples)
    skip = _skip(samples, span_from)
    texts = _span_texts(samples, [t or "" for t in samples.column("text").to_pylist()], span_from, target.tokenizer)
    columns: dict[str, object] = {"sample_id": samples.column("sample_id")}

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memx-score-cpu") as cpu:
        # Queued in the order the passes below consume them, so each is ready in time.
        foreign = {
            name: cpu.submit(_retokenize, references[name], texts, bos)
            for name in needed_refs
            if not same_vocabulary(target, references[name])
        }
        lowered = cpu.submit(_retokenize, target, [t.lower() for t in texts], bos) if LOWERCASE in needs else None
        compressed = cpu.submit(M.zlib_bytes, texts) if ZLIB in needs else None

        stats = token_stats(target, ids, batch, moments=MOMENTS in needs)
        if skip is not None:
            stats = stats.after(skip)
        nll_target = M.mean_nll(stats.logp, stats.lengths)
        columns["nll_target"] = nll_target
        evidence = M.Evidence(stats.logp, stats.lengths, nll_target, stats.mu, stats.sigma)
        scores: dict[str, torch.Tensor] = {}
        target_per_byte = None
        if foreign:  # another tokenizer: each side's NLL per byte it predicts (docs/formulas.md)
            target_per_byte = nll_per_byte(stats.logp, stats.lengths,
                                           predicted_bytes(ids if skip is None else [s[k:] for s, k in zip(ids, skip.tolist())],
                                                           stats.lengths, byte_table(target.tokenizer)))
        for name in needed_refs:
            if name in foreign:
                sequences, ref = foreign[name].result(), references[name]
                ref_stats = token_stats(ref, sequences, batch)
                nll_ref = nll_per_byte(ref_stats.logp, ref_stats.lengths,
                                       predicted_bytes(sequences, ref_stats.lengths, byte_table(ref.tokenizer)))
                scores[f"ratio_{name}"] = M.ratio_score(nll_ref, target_per_byte)
            else:
                nll_ref = _mean_nll(references[name], ids, batch, skip)
                scores[f"ratio_{name}"] = M.ratio_score(nll_ref, nll_target)
            columns[f"nll_{name}"] = nll_ref
        if lowered is not None:
            columns["nll_lowercase"] = evidence.nll_lowercase = _mean_nll(target, lowered.result(), batch)
        if compressed is not None:
            sizes = compressed.result()
            columns["zlib_bytes"] = sizes
            evidence.zlib_bytes = torch.from_numpy(sizes)

    if WINDOW in needs:
        columns["window_nll"] = evidence.window_nll = M.window_nll(stats.logp, stats.lengths, scoring.window)
    for metric in metric_names:
        formula = metric_named(metric).formula
        if formula is not None:  # ratio_<ref> was scored per reference above
            scores[metric] = getattr(M, formula)(evidence)

    no_evidence = stats.lengths == 0
    for metric in metric_names:
        columns[f"score_{metric}"] = torch.where(no_evidence, M.NO_EVIDENCE_SCORE, scores[metric])
    counted = targets is not None and sequence_counter is not None
    if targets is not None:
        columns.update(extraction_scores(samples.column("token_ids"), targets))
    if counted:
        columns["sequence_count"] = sequence_counter(samples.column("prompt_ids"), targets)
    return _to_table(columns, score_columns(metric_names, prefix=targets is not None, sequence_count=counted))


def _to_table(columns: dict[str, object], layout: list[tuple[str, pa.DataType]]) -> pa.Table:
    arrays, fields = [], []
    for name, dtype in layout:
        value = columns[name]
        if isinstance(value, torch.Tensor):
            value = value.to(torch.float64).numpy()
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
            raise FloatingPointError(f"score column {name} has a non-finite value")  # a bug, never data
        arrays.append(pa.array(value, type=dtype) if not isinstance(value, pa.ChunkedArray) else value.cast(dtype))
        fields.append(pa.field(name, dtype))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
