"""A labelled set for the personal data detector, built deterministically from a seed:
positives of every type (positives.py) and near misses (near_misses.py).

`labelled_set(seed)` -> list[Labelled]. Nothing here calls the detector.
"""

from __future__ import annotations

import random

from .near_misses import near_misses
from .positives import (Labelled, _api_keys, _cards, _emails, _ibans, _ips, _phones, _private_keys,
                        pem_block)

__all__ = ["Labelled", "labelled_set", "pem_block"]


def labelled_set(seed: int = 0) -> list[Labelled]:
    """Every positive and near miss, in a fixed order for `seed`."""
    rng = random.Random(seed)
    return (_emails(rng) + _phones(rng) + _cards(rng) + _ibans(rng) + _ips(rng) + _api_keys(rng) + _private_keys(rng)
            + near_misses(rng))
