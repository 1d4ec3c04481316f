"""Exact extraction probability (docs/formulas.md#extraction): every window of chosen training documents scored in
one teacher-forced pass per window and prefix length.

- `documents`: the source's documents in the documented order (docs/formulas.md#windows), `documents: all | n | [list]`, names, tokenizing with offsets;
- `windows`: the windows of a tokenized document and their character ranges;
- `passes`: the batched forward pass and its on-device reductions (log_p, greedy_exact, token_accuracy);
- `shard`: one shard's documents -> its rows (the stage's pure step);
- `summary`: extraction.json from the committed rows;
- `checks`: the section's up-front input checks; `plan`: its shards;
- `runner`: the stage's shard runner (model replicas); `results`: extraction.json and the rows on
  the driver, over a Run.

This package's root imports nothing (its modules import torch, storage or runners as each needs):
import from the submodules.
"""
