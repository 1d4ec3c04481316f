"""memx: find the training data a language model has memorized (Carlini et al. 2021), at scale.

This package is the pure library: configs, storage, shard plans, generation, scoring,
reduction, verification and reporting. It never imports Ray; `cluster/` and `jobs/` do.
"""

__version__ = "0.1.0"
