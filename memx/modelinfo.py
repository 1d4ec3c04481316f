"""Facts about the models a run names, read from their directories without loading them:
the parameter count (from the safetensors header, a few KB) and, for a memx lab's
models, the split each was trained on (`train` or `disjoint`, from the lab's lab.json).

For the report's settings section, so a reader sees the size gap between target and
references the ratio metrics rely on. A hub id that is not a local directory gets
neither fact (nothing is downloaded to describe it). It loads no weights and no torch.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from memx.config import Config


def safetensors_parameters(directory: Path) -> int | None:
    """Elements of every tensor in the directory's *.safetensors files, from headers only."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for path in files:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for name, tensor in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for size in tensor["shape"]:
                count *= size
            total += count
    # tied input/output embeddings are stored once, as in `model.num_parameters()`
    return total


def _lab_models(directory: Path) -> dict:
    """`models` of the lab.json two levels up (LAB/models/NAME), if the model lies in a lab."""
    lab_json = directory.parent.parent / "lab.json"
    if directory.parent.name != "models" or not lab_json.is_file():
        return {}
    try:
        return json.loads(lab_json.read_text(encoding="utf-8")).get("models", {})
    except (OSError, ValueError):  # a damaged lab.json only costs the report a column
        return {}


def model_facts(config: Config) -> list[dict]:
    """role, name, model, parameters (int or None), split (str or None) of every model."""
    named = [("target", "target", config.target.model)]
    named += [("reference", ref.name, ref.model) for ref in config.references]
    facts = []
    for role, name, model in named:
        directory = Path(model)
        parameters = split = None
        if directory.is_dir():
            lab = _lab_models(directory).get(directory.name, {})
            parameters = lab.get("parameters") or safetensors_parameters(directory)
            split = lab.get("split")
        facts.append({"role": role, "name": name, "model": model, "parameters": parameters, "split": split})
    return facts
