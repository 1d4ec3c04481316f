"""Verification of candidates against a training-corpus index, and the category tagger.

Public API: `verify_candidates(candidates, index, tokenizer, min_match_tokens)` and
`categorize(text)`. The index itself (build and queries) lives in `memx.index`; this
package knows nothing about where candidates came from or how results are reported.
"""

from memx.verify.categories import CATEGORIES, categorize
from memx.verify.verify import VERIFY_COLUMNS, longest_token_span, token_offsets, verify_candidates

__all__ = ["CATEGORIES", "VERIFY_COLUMNS", "categorize", "longest_token_span", "token_offsets",
           "verify_candidates"]
