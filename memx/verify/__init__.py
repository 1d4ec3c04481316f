"""Verification against a training-corpus index: token bytes, spans, candidates, categories.

Public API: `token_byte_table(tokenizer)` / `ids_to_bytes(ids, table)` (the exact bytes of
token ids), `verify_candidates(candidates, index, tokenizer, min_match_tokens)` and
`categorize(text)`. The index itself (build and queries) lives in `memx.index`; this
package knows nothing about where candidates came from or how results are reported.
"""

from memx.verify.categories import CATEGORIES, categorize
from memx.verify.tokenbytes import ids_to_bytes, token_byte_table
from memx.verify.verify import VERIFY_COLUMNS, longest_token_span, token_offsets, verify_candidates

__all__ = ["CATEGORIES", "VERIFY_COLUMNS", "categorize", "ids_to_bytes", "longest_token_span",
           "token_byte_table", "token_offsets", "verify_candidates"]
