"""Verification against a training-corpus index: token bytes, spans, candidates, categories.

Public API: `token_byte_table(tokenizer)` / `ids_to_bytes(ids, table)` (the exact bytes of
token ids), `generated_spans(token_ids, table, index)` (SPEC §6's span of every sample),
`verify_candidate_tokens(candidates, token_ids_by_sample, table, index, min_match_tokens)`
(the same rule for candidates), the older text-based `verify_candidates`, and
`categorize(text)`. The index itself (build and queries) lives in `memx.index`; this
package knows nothing about where candidates came from or how results are reported.
"""

from memx.verify.categories import CATEGORIES, categorize
from memx.verify.spans import SPAN_COLUMNS, generated_spans
from memx.verify.tokenbytes import PackedTable, ids_to_bytes, token_byte_table
from memx.verify.verify import (VERIFY_COLUMNS, longest_token_span, token_offsets, verify_candidate_tokens,
                                verify_candidates)

__all__ = ["CATEGORIES", "SPAN_COLUMNS", "VERIFY_COLUMNS", "PackedTable", "categorize", "generated_spans",
           "ids_to_bytes", "longest_token_span", "token_byte_table", "token_offsets",
           "verify_candidate_tokens", "verify_candidates"]
