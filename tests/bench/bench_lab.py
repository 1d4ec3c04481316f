"""Benchmark the lab: a fresh build of a preset, its per-stage seconds, and the audit table.

    python tests/bench/bench_lab.py --preset default [--out DIR] [--seed 0]

Builds into a fresh temporary directory unless --out names one (an existing complete
lab there is reused, so its stage times are the original build's). Prints each model's
parameters as a share of the target's beside the paper's (GPT-2 small/medium of XL). The machine is
shared: the load average before and after is printed, because contention from other
processes changes the build time several-fold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from memx.lab import PRESETS, audit_lab, build_lab  # noqa: E402
from memx.lab.presets import PAPER_PARAMETERS, TARGET  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--out", default=None, help="lab directory (default: a fresh temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="memx-bench-lab-")) / args.preset
    load_before = os.getloadavg()
    started = time.perf_counter()
    lab = build_lab(out, preset=args.preset, seed=args.seed, progress=True)
    build_wall = time.perf_counter() - started
    meta = json.loads((lab / "lab.json").read_text())

    stages = Table(title=f"lab build, preset {args.preset} ({os.cpu_count()} CPUs)")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for name, seconds in meta["stage_seconds"].items():
        stages.add_row(name, f"{seconds:.1f}")
    stages.add_row("[bold]build (wall; chat runs beside the family)", f"{meta['build_seconds']:.1f}")
    stages.add_row("wall, this call", f"{build_wall:.1f}")
    console.print(stages)
    stats = meta["stats"]
    console.print(f"corpus: {stats['train_docs']} docs, {stats['train_tokens']:,} tokens; "
                  f"{stats['canaries']} canaries, {stats['canary_copies']} copies = "
                  f"{stats['canary_share']:.1%} of tokens")
    target = meta["models"][TARGET]["parameters"]
    for name, info in meta["models"].items():
        paper = PAPER_PARAMETERS.get(name)
        share = f"{info['parameters'] / target:.1%} of {TARGET}" + (
            f" (paper {paper / PAPER_PARAMETERS[TARGET]:.1%})" if paper and name != TARGET else "")
        console.print(f"model {name}: {info['parameters']:,} params = {share}, {info['split']} split, "
                      f"{info['steps']} steps, final loss {info['final_loss']}, {info['seconds']:.0f}s "
                      f"({info.get('cpu_seconds', float('nan')):.0f} CPU s)")

    started = time.perf_counter()
    result = audit_lab(lab)
    console.print(result.render())
    console.print(f"audit: {time.perf_counter() - started:.1f}s; saved {lab / 'audit.json'}")
    load_after = os.getloadavg()
    console.print(f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f} "
                  f"on {os.cpu_count()} CPUs: above the CPU count means other work was competing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
