"""Exact extraction probability (SPEC §9): every window of chosen training documents scored in
one teacher-forced pass per window and prefix length.

- `documents`: the source's documents in SPEC order, `documents: all | n | [list]`, names, tokenizing with offsets;
- `windows`: the windows of a tokenized document and their character ranges;
- `passes`: the batched forward pass and its on-device reductions (log_p, greedy_exact, token_accuracy);
- `shard`: one shard's documents -> its rows (the stage's pure step);
- `summary`: extraction.json from the committed rows.

Nothing here knows storage layout beyond rows, Ray, or the command line.
"""

from memx.extraction.documents import (TokenizedDocument, check_documents, document_names, encode_with_offsets,
                                       min_document_tokens, select_documents)
from memx.extraction.passes import WindowPass, WindowScores, suffix_scores
from memx.extraction.shard import DocumentStats, extraction_rows, extraction_schema, score_documents
from memx.extraction.summary import ExtractionSummary, extraction_probability, log1mexp, summarize
from memx.extraction.windows import Windows, enumerate_windows, window_offsets

__all__ = [
    "DocumentStats", "ExtractionSummary", "TokenizedDocument", "WindowPass", "WindowScores", "Windows",
    "check_documents", "document_names", "encode_with_offsets", "enumerate_windows", "extraction_probability",
    "extraction_rows", "extraction_schema", "log1mexp", "min_document_tokens", "score_documents",
    "select_documents", "suffix_scores", "summarize", "window_offsets",
]
