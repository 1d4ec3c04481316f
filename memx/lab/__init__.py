"""The lab: an embedded victim model family with known ground truth (docs/commands.md#lab).

`build_lab` makes (or reuses from the cache) a training corpus of Python stdlib text with
planted canaries, a byte-level BPE tokenizer, `small`/`medium`/`xl` GPT-2 analogues
trained on it (the references at GPT-2 small's and medium's share of XL's parameters),
an `out` reference of the target's size trained on disjoint stdlib text, the corpus's
verification index and a ready `memx.yaml`. `audit_lab`
measures which canaries each model completes from their prefix. This package does not
run the attack itself: the lab is an ordinary target for every other memx command.
"""

from memx.lab.audit import AuditResult, audit_lab, load_canaries
from memx.lab.build import build_lab
from memx.lab.labdir import check_lab, lab_path
from memx.lab.presets import PRESETS, LabSettings
from memx.lab.runconfig import lab_config

__all__ = [
    "PRESETS",
    "AuditResult",
    "LabSettings",
    "audit_lab",
    "build_lab",
    "check_lab",
    "lab_config",
    "lab_path",
    "load_canaries",
]
