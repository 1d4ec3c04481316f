"""NLL per byte, for the ratio of two models whose tokenizers differ (docs/formulas.md).

A reference with another tokenizer predicts other units than the target: mean NLL per
token moves with how finely each tokenizer cuts the text, not only with what each model
knows. So each side becomes its total NLL over the positions it predicts divided by the
UTF-8 bytes of the tokens at those positions (the target's exact token bytes; special
tokens have none). With one tokenizer the paper's per-token ratio stays as it is: that is
the caller's choice (`memx.scoring.score`). Pure math on per-token arrays and id lists;
it knows nothing about models or samples.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from memx.verify.tokenbytes import PackedTable, token_byte_table

_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def byte_table(tokenizer) -> PackedTable:
    """The tokenizer's exact token bytes, built once per tokenizer object."""
    try:
        return _TABLES[tokenizer]
    except (KeyError, TypeError):
        table = PackedTable(token_byte_table(tokenizer))
        try:
            _TABLES[tokenizer] = table
        except TypeError:  # not weak-referenceable: rebuilt per call, still correct
            pass
        return table


def predicted_bytes(sequences: list[list[int]], lengths: torch.Tensor, table: PackedTable) -> np.ndarray:
    """UTF-8 bytes of the tokens each sequence's predicted positions hold (positions
    1..lengths[i]: the first id is context only), from one gather over all of them."""
    counts = lengths.numpy().astype(np.int64)
    ids = np.fromiter((t for seq, n in zip(sequences, counts) for t in seq[1:1 + n]), dtype=np.int64,
                      count=int(counts.sum()))
    known = (ids >= 0) & (ids < len(table))
    sizes = np.where(known, table.length[np.where(known, ids, 0)], 0)
    owner = np.repeat(np.arange(len(counts)), counts)
    return np.bincount(owner, weights=sizes, minlength=len(counts)).astype(np.int64)


def nll_per_byte(logp: torch.Tensor, lengths: torch.Tensor, nbytes: np.ndarray) -> torch.Tensor:
    """Total NLL over the predicted positions / their bytes (at least 1: a prediction of
    byte-less tokens still carries its NLL); 0.0 with no predicted position."""
    real = torch.arange(logp.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
    total = -torch.where(real, logp, 0.0).sum(dim=1)
    return total / torch.from_numpy(np.maximum(nbytes, 1)).to(torch.float64)
