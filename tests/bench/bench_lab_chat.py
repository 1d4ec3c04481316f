"""CPU benchmark: the chat part of `memx lab build` (conversations, the LoRA adapter over
the xl, the chat index), which may add at most 90 s to a build of the default preset.

It copies a built lab's corpus, tokenizer and xl into a temporary directory and runs
`memx.lab.chat.build_chat` there with the preset's settings, so the family is not
retrained. Printed: wall and CPU seconds of the chat part and of each of its steps, and
the load average beside them (the machine is shared: compare CPU seconds across runs).

    python -m tests.bench.bench_lab_chat [--preset default] [--lab DIR]

Without --lab the preset's lab is taken from the cache ($MEMX_CACHE/lab), built when
missing. Not a pytest test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--lab", default=None)
    args = parser.parse_args()
    from memx.lab import build_lab
    from memx.lab.chat import build_chat
    from memx.lab.presets import get_preset

    settings = get_preset(args.preset)
    lab = Path(args.lab) if args.lab else build_lab(preset=args.preset, progress=True)
    with tempfile.TemporaryDirectory(prefix="memx-bench-chat-") as tmp:
        work = Path(tmp)
        shutil.copytree(lab / "corpus", work / "corpus")
        shutil.copytree(lab / "tokenizer", work / "tokenizer")
        shutil.copytree(lab / "models" / "xl", work / "models" / "xl")
        for stale in ("conversations.jsonl", "conversation-turns.jsonl"):
            (work / "corpus" / stale).unlink(missing_ok=True)
        wall, cpu = time.perf_counter(), time.process_time()
        chat = build_chat(work, settings.chat, 0, settings.train.context)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"preset {args.preset}: chat part {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(load average {os.getloadavg()[0]:.1f}; budget 90 s)")
    print(f"  steps: {chat['seconds']}; adapter {chat['train']['steps']} steps, loss "
          f"{chat['train']['first_loss']} -> {chat['train']['final_loss']}; {chat['conversations']} conversations, "
          f"{chat['conversation_tokens']} tokens")


if __name__ == "__main__":
    main()
