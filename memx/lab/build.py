"""Build the lab (corpus, canaries, tokenizer, model family, index, config), cached.

A build runs in a temporary sibling directory and is renamed into place only after
`lab.json` (settings, file hashes, per-stage seconds) is written inside it, so a
directory at the final path is either complete or was damaged afterwards: `check_lab`
(memx.lab.labdir) tells which, comparing every file with the hashes in `lab.json`. A damaged entry is an
error that names the problem and says to delete the directory (memx never deletes a
directory holding a `lab.json` by itself); a directory with our marker but no
`lab.json` is a half-finished build and is rebuilt, never reused.

This module sequences the stages; what each stage does lives in its own module.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

from memx.errors import ConfigError, MemxFailure
from memx.lab import canaries as canary_mod
from memx.lab import corpus as corpus_mod
from memx.lab import membership as membership_mod
from memx.lab.labdir import MARKER, check_lab, file_hashes, lab_path, sha256_file
from memx.lab.presets import (FORMAT, MODEL_NAMES, MODEL_SPLITS, TARGET, LabSettings, get_preset, model_spec,
                               python_version, settings_key)
from memx.lab.chat import build_chat
from memx.lab.chatconfig import make_chat_config
from memx.lab.runconfig import make_config, write_config
from memx.lab.tokenizer import encode_documents, train_tokenizer
from memx.lab.train import parameter_count, steps_for, train_model

def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[memx lab] {message}", file=sys.stderr, flush=True)


def build_lab(out: str | Path | None = None, preset: str = "default", seed: int = 0, progress: bool = True) -> Path:
    """Build the lab at `out` (default: the cache), or reuse a complete one; return its path."""
    settings = get_preset(preset)
    return _build_or_reuse(out, preset, settings, seed, progress)


def _build_or_reuse(out, preset: str, settings: LabSettings, seed: int, progress: bool) -> Path:
    key = settings_key(preset, settings, seed)
    target = Path(out).expanduser().resolve() if out else lab_path(preset, seed)
    with _build_lock(target, progress):
        return _locked_build_or_reuse(target, key, preset, settings, seed, progress)


@contextmanager
def _build_lock(target: Path, progress: bool):
    """One build of a lab directory at a time across processes (two demos, two test workers):
    the second waits and then reuses what the first built instead of training it again."""
    lock_path = target.parent / f".{target.name}.lock"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a")
    except OSError:
        yield  # an unwritable parent: the build's own checks below name the problem
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(progress, f"another process is building {target}: waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locked_build_or_reuse(target: Path, key: str, preset: str, settings: LabSettings, seed: int,
                           progress: bool) -> Path:
    if (target / "lab.json").exists():
        meta = check_lab(target)
        if meta["key"] != key:
            raise ConfigError(f"--out {target}: holds a lab built with other settings "
                              f"(preset {meta['preset']}, seed {meta['seed']}); choose another directory")
        _say(progress, f"reusing {target}")
        return target
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        if not (target / MARKER).exists():
            raise ConfigError(f"--out {target}: exists, is not empty and is not a memx lab; choose another directory")
        _say(progress, f"{target} is a half-finished build (no lab.json): rebuilding it")
        shutil.rmtree(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    except OSError as error:
        blocker = next((p for p in target.parents if p.exists()), None)
        why = f"{blocker} is not a directory" if blocker is not None and not blocker.is_dir() else error.strerror or error
        raise ConfigError(f"--out {target}: not writable ({why})") from None
    try:
        _build_into(tmp, target, preset, settings, seed, key, progress)
        if (target / "lab.json").exists():  # a concurrent build of the same key won the race
            shutil.rmtree(tmp)
            return target
        if target.is_dir():
            target.rmdir()  # only ever empty here (checked above)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _say(progress, f"lab ready: {target}")
    return target


def _build_into(tmp: Path, final: Path, preset: str, settings: LabSettings, seed: int, key: str, progress: bool) -> None:
    (tmp / MARKER).write_text("memx lab build in progress or finished; lab.json marks completion\n")
    seconds: dict[str, float] = {}
    stats: dict[str, object] = {}

    def stage(name: str, started: float) -> None:
        seconds[name] = round(time.perf_counter() - started, 2)
        _say(progress, f"stage {name}: {seconds[name]:.1f}s")

    started = t = time.perf_counter()
    # The `out` reference gets as much text as the target's training split, from other sources;
    # the membership pair's non-members are training-split paragraphs no model trains on.
    split, train_docs, aside = membership_mod.lab_split(seed, settings)
    canaries = canary_mod.make_canaries(seed, settings.canaries_per_count)
    canary_mod.check_unique(canaries, "\n".join(split.train + split.disjoint))
    docs = canary_mod.insert_canaries(train_docs, canaries, seed)
    (tmp / "corpus").mkdir()
    corpus_mod.write_train_jsonl(docs, tmp / "corpus" / "train.jsonl")
    corpus_mod.write_train_jsonl(split.disjoint, tmp / "corpus" / "disjoint.jsonl")
    corpus_mod.write_heldout_txt(split.heldout, tmp / "corpus" / "heldout.txt")
    import pyarrow.parquet as pq

    pq.write_table(canary_mod.canaries_table(canaries), tmp / "canaries.parquet")
    membership = membership_mod.write_pair(tmp, *membership_mod.pair(docs, aside, [c.text for c in canaries]))
    stats.update(train_docs=len(docs), train_chars=sum(len(d) for d in docs), train_sources=len(split.train_sources),
                 heldout_paragraphs=len(split.heldout), heldout_sources=len(split.heldout_sources),
                 disjoint_docs=len(split.disjoint), disjoint_chars=sum(len(d) for d in split.disjoint),
                 disjoint_sources=len(split.disjoint_sources),
                 canaries=len(canaries), canary_copies=sum(c.repetitions for c in canaries))
    stage("corpus", t)

    t = time.perf_counter()
    tokenizer = train_tokenizer(docs, settings.vocab_size, tmp / "tokenizer")
    stream = encode_documents(tokenizer, docs)
    # One tokenizer for the family, as the paper's models share GPT-2's: ratio metrics
    # compare per-token likelihoods of the same token ids.
    disjoint_stream = encode_documents(tokenizer, split.disjoint)
    lengths = [len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) for c in canaries]
    canary_tokens = sum(n * c.repetitions for n, c in zip(lengths, canaries))
    stats.update(train_tokens=len(stream), canary_tokens=canary_tokens,
                 canary_share=round(canary_tokens / len(stream), 4), min_canary_tokens=min(lengths),
                 max_canary_tokens=max(lengths), disjoint_tokens=len(disjoint_stream))
    if canary_tokens / len(stream) > settings.max_canary_share:
        raise MemxFailure(f"lab preset {preset}: canaries are {canary_tokens / len(stream):.1%} of the corpus "
                          f"tokens, over the {settings.max_canary_share:.0%} limit; enlarge train_chars")
    stage("tokenizer", t)

    t = time.perf_counter()
    model_stats, chat = _train_family({"train": stream, "disjoint": disjoint_stream}, tmp, settings, seed, progress)
    seconds["chat"] = round(sum(chat["seconds"].values()), 2)  # ran beside the family: its own seconds, not the build's
    stage("train", t)

    t = time.perf_counter()
    from memx.index import build_index
    from memx.verify.byteindex import CorpusIndex

    build_index([tmp / "corpus" / "train.jsonl"], tmp / "index", progress=progress)
    index = CorpusIndex(tmp / "index")
    for canary in canaries:
        found = index.count(canary.text)
        if found != canary.repetitions:
            raise MemxFailure(f"lab build: canary {canary.canary_id} occurs {found} times in the index, "
                              f"planned {canary.repetitions}; this is a bug in memx.lab")
    stage("index", t)

    write_config(tmp / "memx.yaml", make_config(final, preset, settings.to_dict(), stats, files_at=tmp))
    write_config(tmp / "memx-chat.yaml", make_chat_config(final, preset, settings.to_dict(), files_at=tmp))  # chat
    meta = {
        "format": FORMAT, "preset": preset, "seed": seed, "key": key, "python": python_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": settings.to_dict(), "stats": stats, "models": model_stats,
        "chat": chat, "membership": membership,
        "stage_seconds": seconds, "build_seconds": round(time.perf_counter() - started, 2),
        "corpus_sha256": sha256_file(tmp / "corpus" / "train.jsonl"),
        "canaries_sha256": sha256_file(tmp / "canaries.parquet"),
        "files": file_hashes(tmp),
    }
    # Written last, through a rename: its presence is the completion marker.
    (tmp / "lab.json.tmp").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    os.replace(tmp / "lab.json.tmp", tmp / "lab.json")


def _train_family(streams: dict[str, list[int]], tmp: Path, settings: LabSettings, seed: int,
                  progress: bool) -> tuple[dict, dict]:
    """Train every model and the chat adapter, two jobs at a time in separate processes
    (one thread each); return the models' stats and the chat part's.

    One process per job uses both cores without OpenMP threads waiting on each other
    (see memx.lab.train). Largest first: the two xl-sized models (`xl`, `out`) take both
    cores, then `medium`, `small` and the chat adapter (which needs the saved `xl`) follow
    on whichever core frees first, so the chat part costs no wall time of its own. Every
    model gets the target's number of optimizer steps, whatever the length of its own stream.
    """
    steps = steps_for(len(streams[MODEL_SPLITS[TARGET]]), settings.train)
    context = settings.train.context
    order = sorted(MODEL_NAMES, key=lambda n: -parameter_count(model_spec(settings, n), settings.vocab_size, context))
    jobs = {name: (streams[MODEL_SPLITS[name]], str(tmp / "tokenizer"), model_spec(settings, name), settings.train,
                   seed, str(tmp / "models" / name), name, progress, steps) for name in order}
    chat_job = (tmp, settings.chat, seed, context, progress)
    workers = min(2, os.cpu_count() or 1)
    if workers == 1:
        results = {name: _train_job(*jobs[name]) for name in MODEL_NAMES}
        chat = build_chat(*chat_job)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = {name: pool.submit(_train_job, *job) for name, job in jobs.items()}
            futures[TARGET].result()  # the adapter's base is on disk: queue the chat part behind the family
            chat_future = pool.submit(build_chat, *chat_job)
            results = {name: futures[name].result() for name in MODEL_NAMES}
            chat = chat_future.result()
    return {name: {**results[name], "split": MODEL_SPLITS[name]} for name in MODEL_NAMES}, chat


def _train_job(stream, tokenizer_dir, spec, train, seed, out_dir, label, progress, steps) -> dict:
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # this worker's own process: the save bar is noise here
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    # Two processes cannot share one progress bar: plain log lines from each.
    return train_model(stream, tokenizer, spec, train, seed, Path(out_dir), label=label, progress=progress,
                       bar=False, steps=steps)
