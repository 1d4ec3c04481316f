"""Verification of candidates: the span (docs/formulas.md#span) rule applied to the selected samples.

`verify_candidate_tokens` adds `match_tokens` (int32), `memorized` (bool), `category`
(str) and `match_text` (str) to a candidates table, and, given the samples' prompt ids and
a `personal_data` section, `personal_data` (the entities inside a memorized span,
docs/personal-data.md). The span is searched in each
sample's generated `token_ids` only (`memx.verify.spans`), so an `internet` prompt
copied from the corpus never counts, and a candidate's `match_tokens` is the number the
`verified` stage writes for its sample. Each distinct sample is searched once, however
many (metric, strategy) rows carry it.

It does not know where the index lives (it takes a CorpusIndex, or the span search of
`memx.verify.search` that any index, token-level included, is read through), where the
token ids were read from, nor how candidates were chosen.
"""

from __future__ import annotations

import pyarrow as pa

from memx.pii import memorized_personal_data
from memx.verify.categories import categorize
from memx.verify.spans import generated_spans
from memx.verify.tokenbytes import PackedTable

VERIFY_COLUMNS = ("match_tokens", "memorized", "category", "match_text", "personal_data")


def _token_ids_of(sample_ids: list[str], token_ids_by_sample, column: str = "token_ids") -> list:
    if isinstance(token_ids_by_sample, pa.Table):  # a samples table: sample_id, token_ids
        token_ids_by_sample = dict(zip(token_ids_by_sample.column("sample_id").to_pylist(),
                                       token_ids_by_sample.column(column).to_pylist()))
    missing = [s for s in sample_ids if s not in token_ids_by_sample]
    if missing:
        raise ValueError(f"no {column} for {len(missing)} candidate(s), e.g. {missing[:3]}")
    return [token_ids_by_sample[s] for s in sample_ids]


def verify_candidate_tokens(candidates: pa.Table, token_ids_by_sample, table, index,
                            min_match_tokens: int, prompt_ids_by_sample=None, personal_data=None,
                            span_from: dict[str, int] | None = None) -> pa.Table:
    """`candidates` plus match_tokens, memorized, category, by the span rule on each
    sample's generated tokens (`token_ids_by_sample`: sample_id -> ids, or a table of
    sample_id and token_ids). The category is the matched span's when memorized, else
    the candidate text's. With `personal_data` (a section: types, phone_region) and
    `prompt_ids_by_sample` (like token_ids_by_sample, column prompt_ids), also the
    `personal_data` column. `span_from` (sample_id -> the first generated token a span may
    start at; 0 when absent) keeps spans out of a divergence sample's repetition."""
    if min_match_tokens < 1:
        raise ValueError("min_match_tokens must be >= 1")
    for name in VERIFY_COLUMNS:  # re-verification replaces earlier results
        if name in candidates.column_names:
            candidates = candidates.drop_columns([name])
    packed = table if isinstance(table, PackedTable) else PackedTable(table)
    sample_ids = candidates.column("sample_id").to_pylist()
    unique = list(dict.fromkeys(sample_ids))  # a sample is a candidate of many configurations
    ids = _token_ids_of(unique, token_ids_by_sample)
    # a span search (memx.verify.search: any index, token-level ones included) or a byte index
    starts = None if span_from is None else [int(span_from.get(s) or 0) for s in unique]
    spans = (index.spans(ids, span_from=starts) if hasattr(index, "spans")
             else generated_spans(ids, packed, index, span_from=starts))
    row_of = {s: k for k, s in enumerate(unique)}
    texts = candidates.column("text").to_pylist()
    n_tokens, memorized, category, matched = [], [], [], []
    for sample_id, text in zip(sample_ids, texts):
        k = row_of[sample_id]
        n = int(spans["match_tokens"][k])
        hit = n >= min_match_tokens
        span = ids[k][int(spans["match_start"][k]):int(spans["match_end"][k])]
        # the span's edges may cut a character: drop the partial bytes there
        span_text = packed.bytes_of(span).decode("utf-8", errors="ignore") if n else ""
        n_tokens.append(n)
        memorized.append(hit)
        category.append(categorize((span_text if hit else text) or ""))
        matched.append(span_text)
    candidates = candidates.append_column("match_tokens", pa.array(n_tokens, pa.int32()))
    candidates = candidates.append_column("memorized", pa.array(memorized, pa.bool_()))
    candidates = candidates.append_column("category", pa.array(category, pa.string()))
    # the longest span's own text, so a report can mark it inside `text`
    candidates = candidates.append_column("match_text", pa.array(matched, pa.string()))
    if personal_data is None:
        return candidates
    prompts = _token_ids_of(unique, prompt_ids_by_sample, "prompt_ids")
    first: dict[str, int] = {}
    for i, s in enumerate(sample_ids):
        first.setdefault(s, i)  # a sample's text is the same in all its rows
    hit = [int(spans["match_tokens"][k]) >= min_match_tokens for k in range(len(unique))]
    per_sample = memorized_personal_data([texts[first[s]] for s in unique], prompts, ids, spans["match_start"],
                                         spans["match_end"], hit, packed.bytes_of, personal_data.types,
                                         personal_data.phone_region)
    return candidates.append_column("personal_data", per_sample.take([row_of[s] for s in sample_ids]))

