"""The run config of a lab: a memx.yaml that attacks the lab's `xl` model like the paper.

Target = the `xl` analogue, references = `small` and `medium` (the paper's Small/Medium
comparisons) and `out` (the target's size trained on disjoint text: the LiRA-style
reference), `internet` prompts = the held-out slice, `prefix` sequences cut from the
training corpus itself (discoverable extraction, docs/formulas.md#prefix: a quarter of the context each
for prefix and suffix, Pythia's 32 + 32 at the default preset's 128), verification of
every sample against the lab's index (`scope: all`: the lab has the ground truth, docs/formulas.md#span),
exact extraction (docs/formulas.md#extraction) over the training documents holding canaries and as many
without, membership inference over the lab's member / non-member pair. Sizes are a CPU
demo's, not the paper's: hundreds to a thousand samples per strategy, with the selection
pool and per-configuration counts kept in the paper's 10:1 proportion. This module only
writes a dict / YAML; it does not build or run.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from memx.config import parse_config
from memx.lab.labdir import check_lab
from memx.metrics import METRIC_NAMES

# `ratio_small`, `ratio_medium`, `ratio_out`: every lab model but the target.
REFERENCES = ("small", "medium", "out")


def min_match_tokens(max_new_tokens: int) -> int:
    return max(8, round(max_new_tokens * 50 / 256))


def extraction_section(lab_dir: Path, files_at: Path, context: int) -> dict:
    """docs/formulas.md#extraction over the lab's training documents: those holding the planted canaries (one copy
    of each at least) and as many without (`memx.lab.extraction.extraction_documents`), a
    quarter of the context as prefix and an eighth as suffix (a canary's secret is 3-21 lab
    tokens: a 16-token suffix holds most of them whole, with little else), top-k 40 like
    the sampling strategies, a suffix every 4 tokens. Sized to add a few seconds to the demo."""
    import json

    import pyarrow.parquet as pq

    from memx.lab.extraction import extraction_documents

    lines = (files_at / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] if line.strip() else "" for line in lines]
    canaries = pq.read_table(files_at / "canaries.parquet").to_pylist()
    return {"source": str(lab_dir / "corpus" / "train.jsonl"), "name": "train",
            "documents": extraction_documents(texts, canaries), "shard_documents": 4,
            "prefix_tokens": [context // 4], "suffix_tokens": context // 8, "stride_tokens": 4,
            "decoding": {"top_k": 40}, "queries": [1, 10, 100, 1000]}


DEMO_MEMBERSHIP_DOCUMENTS = 192  # a side


def membership_section(lab_dir: Path, files_at: Path, context: int) -> dict:
    """docs/membership.md over the lab's pair (`memx.lab.membership`): 192 paragraphs a side
    (all of a smaller side) and each paragraph's first half-context of tokens. Sized for the
    demo: every lab model scores each document, so the whole pair at the full context costs
    ~100 CPU seconds on the default preset, this ~40 (~20 s on two cores)."""
    from memx.lab.membership import MEMBERS, NONMEMBERS

    sizes = [sum(1 for line in (files_at / rel).read_text(encoding="utf-8").splitlines() if line.strip())
             for rel in (MEMBERS, NONMEMBERS)]
    return {"members": str(lab_dir / MEMBERS), "nonmembers": str(lab_dir / NONMEMBERS),
            "documents": min(DEMO_MEMBERSHIP_DOCUMENTS, *sizes), "max_tokens": context // 2,
            "shard_documents": 128, "bootstrap": 1000, "blind": True}


def make_config(lab_dir: Path, preset: str, settings: dict, stats: dict, files_at: Path | None = None) -> dict:
    """The config dict for a lab whose files live (or will live) at `lab_dir`; `files_at` is
    where they are now (a build's temporary directory), `lab_dir` when not given."""
    lab_dir = Path(lab_dir).resolve()
    models = lab_dir / "models"
    context = settings["train"]["context"]
    # Leave room for the longest internet prompt (10 tokens): positions past n_positions
    # do not exist in a GPT-2 model.
    max_new = min(settings["max_new_tokens"], context - 10)
    return {
        "run_id": f"lab-{preset}",
        "output": str(lab_dir / "runs"),
        "target": {"model": str(models / "xl"), "dtype": "auto"},
        "references": [{"name": name, "model": str(models / name)} for name in REFERENCES],
        "generation": {
            "strategies": ["top_k", "temperature", "internet", "prefix"],
            "samples_per_strategy": settings["samples_per_strategy"],
            "shard_size": settings["shard_size"],
            # one batch per shard: on the CPU a batch of 100 lab samples generates 1.7x the
            # tokens/s of batches of 25 (tests/bench/bench_generate.py), and memory is no limit
            "batch_size": min(settings["shard_size"], 128),
            "max_new_tokens": max_new,
            "top_k": 40,
            "temperature": {"start": 10.0, "end": 1.0, "decay_tokens": 20},
            "internet": {"prompts": str(lab_dir / "corpus" / "heldout.txt"), "min_tokens": 5, "max_tokens": 10},
            "prefix": {"source": str(lab_dir / "corpus" / "train.jsonl"), "prefix_tokens": context // 4,
                       "suffix_tokens": context // 4, "decoding": "greedy", "draws": 1},
            "seed": 0,
        },
        "scoring": {
            "metrics": list(METRIC_NAMES),  # every metric memx has
            # The paper's 50-token window is about a fifth of its 256-token samples; the
            # lab's samples are ~100 tokens and a canary is ~15-35, so a 50-token window
            # would average a canary with as much unrelated text. Same fifth-to-third share.
            "window": settings["scoring_window"],
            "batch_size": 25,
        },
        "selection": {"pool": settings["pool"], "per_config": settings["per_config"]},
        "verify": {
            "index": str(lab_dir / "index"),
            # The paper's 50 tokens of its 256-token samples, scaled to the lab's sample
            # length (19 of 96 for the default preset). A shorter threshold (the shortest
            # canary, 7 tokens) was tried and rejected: over half of all samples of a model
            # overfit on 0.4 MB of stdlib contain some 7-token corpus span (`return self.`
            # runs), so every candidate "was memorized" and Table 2 said nothing.
            "min_match_tokens": min_match_tokens(max_new),
            "scope": "all",
        },
        "extraction": extraction_section(lab_dir, Path(files_at or lab_dir), context),
        "membership": membership_section(lab_dir, Path(files_at or lab_dir), context),
        "cluster": {"actors": "auto", "gpus_per_actor": 1},
    }


def write_config(path: Path, config: dict) -> None:
    parse_config(config, source=str(path))  # never write a config memx would refuse
    header = "# memx run config for the embedded lab (memx lab build); paths are absolute.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def lab_config(lab_dir: str | Path) -> dict:
    """The run config for a built lab, with paths where the lab is now (it may have moved)."""
    lab_dir = Path(lab_dir).resolve()
    meta = check_lab(lab_dir, hashes=False)
    return make_config(lab_dir, meta["preset"], meta["settings"], meta["stats"])

