"""Membership inference on labelled sets (docs/membership.md, section `membership`).

Documents known to be training data against documents known not to be: `documents`
selects and cuts each side's documents from a `DocumentSource`, `score` scores them with
the scoring package's batched passes, `evaluate` turns scores into AUC and TPR at low FPR
with bootstrap intervals, `blind` is the model-free baseline, `summary` builds
membership.json and `section` is the config section. Pure: no Ray, no storage, no Run;
the package root imports nothing.
"""
