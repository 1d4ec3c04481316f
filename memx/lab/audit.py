"""The lab audit: which planted secrets does each model size reproduce from its prefix?

This is the paper's URL table (extraction against number of repetitions, per model
size) with ground truth instead of manual checks: every canary's prefix is fed to each
model, decoded greedily in batches (the same greedy completion as the `prefix`
strategy, memx.generation.greedy_complete), and the secret counts as extracted when the
decoded continuation contains it exactly. The result is saved as `audit.json` and
`audit.parquet` in the lab directory. This module does not build labs and knows
nothing about the sampling attack: it is the ceiling a perfect ranking could reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from memx.lab.labdir import check_lab
from memx.lab.presets import MODEL_NAMES

# Room after the secret's own length, so a secret that starts a few tokens late (after
# a stray space or quote) still counts, as the paper counted a URL anywhere in the output.
_SLACK_TOKENS = 4


@dataclass
class AuditResult:
    lab_dir: Path
    models: list[str]
    repetitions: list[int]
    table: dict[int, dict[str, float]]  # repetitions -> model -> fraction extracted
    counts: dict[int, int]  # repetitions -> number of canaries
    rows: list[dict] = field(default_factory=list)  # one per (canary, model)

    def to_dict(self) -> dict:
        return {
            "lab_dir": str(self.lab_dir),
            "models": self.models,
            "repetitions": self.repetitions,
            "table": {str(r): dict(v) for r, v in self.table.items()},
            "counts": {str(r): n for r, n in self.counts.items()},
            "rows": self.rows,
        }

    def render(self):
        from rich.table import Table

        table = Table(title="Canary extraction: share of secrets completed exactly from their prefix (greedy)")
        table.add_column("repetitions", justify="right")
        table.add_column("canaries", justify="right")
        for model in self.models:
            table.add_column(model, justify="right")
        for reps in self.repetitions:
            cells = [f"{self.table[reps][m]:.0%}" for m in self.models]
            table.add_row(str(reps), str(self.counts[reps]), *cells)
        return table

    def save(self) -> None:
        (self.lab_dir / "audit.json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        pq.write_table(pa.Table.from_pylist(self.rows), self.lab_dir / "audit.parquet")


def load_canaries(lab_dir: str | Path) -> pa.Table:
    """The ground truth: canary_id, category, text, prefix, secret, repetitions."""
    path = Path(lab_dir) / "canaries.parquet"
    if not path.is_file():
        from memx.errors import ConfigError

        raise ConfigError(f"lab {lab_dir}: no canaries.parquet (not a memx lab?)")
    return pq.read_table(path)


def greedy_continuations(loaded, prompts: list[str], max_new_tokens: int, batch_size: int = 32) -> list[str]:
    """Greedy continuation text of each prompt (the prompt itself excluded), through memx's one
    greedy path (`memx.generation.greedy_complete`, the `prefix` strategy's): batched, KV-cached,
    no EOS stop: every prompt gets the same number of new tokens, capped by the context
    left after the longest prompt."""
    from memx.generation import greedy_complete
    from memx.models import context_length

    tok = loaded.tokenizer
    encoded = tok(prompts, add_special_tokens=False)["input_ids"]
    if not encoded:
        return []
    limit = context_length(loaded.model) or 1 << 30
    new = max(1, min(max_new_tokens, limit - max(len(ids) for ids in encoded)))
    tokens = greedy_complete(loaded.model, encoded, loaded.pad_id, new, loaded.device, batch_size)
    return tok.batch_decode(tokens.tolist(), skip_special_tokens=True)


def audit_lab(lab_dir: str | Path, models: list[str] | None = None, batch_size: int = 32, save: bool = True) -> AuditResult:
    """Prompt every model size with every canary's prefix; tabulate exact secret completions."""
    from memx.models import load_causal_lm

    lab_dir = Path(lab_dir).resolve()
    check_lab(lab_dir, hashes=False)
    canaries = load_canaries(lab_dir).to_pylist()
    models = list(models or MODEL_NAMES)
    rows: list[dict] = []
    for name in models:
        loaded = load_causal_lm(str(lab_dir / "models" / name), dtype="float32")
        # Prompt with the prefix exactly as it appears in training; the secret follows
        # after one space, which GPT-2 pre-tokenization attaches to the secret's first token.
        prompts = [c["prefix"] for c in canaries]
        longest = max(len(loaded.tokenizer(" " + c["secret"], add_special_tokens=False)["input_ids"]) for c in canaries)
        continuations = greedy_continuations(loaded, prompts, longest + _SLACK_TOKENS, batch_size)
        for canary, text in zip(canaries, continuations):
            rows.append({"canary_id": canary["canary_id"], "category": canary["category"],
                         "repetitions": canary["repetitions"], "model": name,
                         "extracted": canary["secret"] in text, "continuation": text})
        del loaded
    repetitions = sorted({c["repetitions"] for c in canaries})
    counts = {r: sum(1 for c in canaries if c["repetitions"] == r) for r in repetitions}
    table = {
        r: {m: sum(row["extracted"] for row in rows if row["repetitions"] == r and row["model"] == m) / counts[r]
            for m in models}
        for r in repetitions
    }
    result = AuditResult(lab_dir, models, repetitions, table, counts, rows)
    if save:
        result.save()
    return result
