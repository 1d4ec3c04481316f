"""Verification against a training-corpus index: token bytes, spans, candidates, categories.

Public API: `token_byte_table(tokenizer)` and its `PackedTable` (the exact bytes of token
ids), `generated_spans(token_ids, table, index)` (the span (docs/formulas.md#span) of every sample,
searched in its generated tokens only), `verify_candidate_tokens(candidates,
token_ids_by_sample, table, index, min_match_tokens)` (the same rule for candidates) and
`categorize(text)`. There is deliberately no text-based check: it cannot tell a copied
prompt from the model's own continuation. The index itself (build and queries) lives in
`memx.index`; this package knows nothing about where candidates came from or how results
are reported.
"""

from memx.verify.categories import CATEGORIES, categorize
from memx.verify.spans import SPAN_COLUMNS, generated_spans
from memx.verify.tokenbytes import PackedTable, token_byte_table
from memx.verify.candidates import VERIFY_COLUMNS, verify_candidate_tokens

__all__ = ["CATEGORIES", "SPAN_COLUMNS", "VERIFY_COLUMNS", "PackedTable", "categorize", "generated_spans",
           "token_byte_table", "verify_candidate_tokens"]
