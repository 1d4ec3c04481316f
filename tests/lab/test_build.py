"""The lab build: deterministic corpus and canaries, exact canary counts, loadable models,
a valid run config, and caching that never reuses a half-finished or damaged build."""

from __future__ import annotations

import hashlib
import json
import shutil
import time

import pytest

from memx.config import load_config, parse_config
from memx.errors import ConfigError, MemxFailure
from memx.lab import PRESETS, build_lab, check_lab, lab_config, lab_path, load_canaries
from memx.lab import canaries as canary_mod
from memx.lab.build import _build_or_reuse
from memx.lab.canaries import REPETITIONS
from memx.lab.membership import lab_split
from memx.lab.presets import MODEL_NAMES
from tests.support.elsewhere import in_fresh_process
from tests.support.reference import read_train_jsonl


def _corpus_digest(seed: int) -> str:
    s = PRESETS["tiny"]
    split, train_docs, _ = lab_split(seed, s)
    canaries = canary_mod.make_canaries(seed, s.canaries_per_count)
    docs = canary_mod.insert_canaries(train_docs, canaries, seed)
    blob = json.dumps([docs, split.heldout, [c.text for c in canaries]]).encode()
    return hashlib.sha256(blob).hexdigest()


def test_corpus_and_canaries_are_deterministic_for_a_seed(tiny_lab):
    here = _corpus_digest(0)
    assert here == in_fresh_process("from tests.lab.test_build import _corpus_digest; print(_corpus_digest(0))")
    assert here != _corpus_digest(1)
    # The built lab holds exactly what a fresh computation for seed 0 produces.
    s = PRESETS["tiny"]
    split, train_docs, _ = lab_split(0, s)
    canaries = canary_mod.make_canaries(0, s.canaries_per_count)
    docs = canary_mod.insert_canaries(train_docs, canaries, 0)
    assert read_train_jsonl(tiny_lab / "corpus" / "train.jsonl") == docs
    assert load_canaries(tiny_lab).column("text").to_pylist() == [c.text for c in canaries]
    meta = check_lab(tiny_lab)
    assert meta["corpus_sha256"] == hashlib.sha256((tiny_lab / "corpus" / "train.jsonl").read_bytes()).hexdigest()


def test_every_canary_occurs_exactly_its_planned_times(tiny_lab):
    from memx.verify.byteindex import CorpusIndex

    table = load_canaries(tiny_lab)
    assert table.column_names == ["canary_id", "category", "text", "prefix", "secret", "repetitions"]
    rows = table.to_pylist()
    assert sorted({r["repetitions"] for r in rows}) == list(REPETITIONS)
    index = CorpusIndex(tiny_lab / "index")
    for row in rows:
        assert row["text"] == f"{row['prefix']} {row['secret']}"
        assert index.count(row["text"]) == row["repetitions"], row["canary_id"]
        assert index.count(row["secret"]) == row["repetitions"], row["canary_id"]


def test_canaries_sit_inside_documents_and_are_a_small_share(tiny_lab):
    docs = read_train_jsonl(tiny_lab / "corpus" / "train.jsonl")
    texts = set(load_canaries(tiny_lab).column("text").to_pylist())
    for doc in docs:
        lines = doc.split("\n")
        assert doc not in texts
        assert lines[0] not in texts and lines[-1] not in texts  # never first or last line
    stats = check_lab(tiny_lab)["stats"]
    assert 0 < stats["canary_share"] <= PRESETS["tiny"].max_canary_share
    heldout = (tiny_lab / "corpus" / "heldout.txt").read_text()
    assert not any(t in heldout for t in texts)
    assert not set(heldout.split("\n\n")) & set(docs)


def test_models_load_as_ordinary_hf_directories(tiny_lab):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sizes = []
    for name in MODEL_NAMES:
        path = tiny_lab / "models" / name
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        assert tok.bos_token == tok.eos_token == "<|endoftext|>"
        assert tok.pad_token in (None, tok.eos_token)
        assert model.config.vocab_size == len(tok)
        ids = tok("def main():\n    return 0", add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == "def main():\n    return 0"
        sizes.append(sum(p.numel() for p in model.parameters()))
    small, medium, xl, out = sizes
    assert small < medium < xl == out


def test_run_config_validates_and_points_into_the_lab(tiny_lab):
    config = load_config(tiny_lab / "memx.yaml")
    assert config.target.model == str(tiny_lab / "models" / "xl")
    assert [r.name for r in config.references] == ["small", "medium", "out"]
    assert [r.model for r in config.references] == [str(tiny_lab / "models" / n) for n in ("small", "medium", "out")]
    assert "ratio_out" in config.metric_names()
    assert config.verify and config.verify.index == str(tiny_lab / "index")
    assert config.verify.scope == "all"  # the lab knows its ground truth: verify every sample
    assert config.generation.internet.prompts == str(tiny_lab / "corpus" / "heldout.txt")
    assert config.generation.max_new_tokens + 10 <= PRESETS["tiny"].train.context
    # the paper's 50 of 256 tokens, scaled to the lab's sample length
    assert config.verify.min_match_tokens == max(8, round(config.generation.max_new_tokens * 50 / 256))
    assert parse_config(lab_config(tiny_lab)) == config


def test_complete_lab_is_reused_not_rebuilt(tiny_lab):
    before = (tiny_lab / "lab.json").stat().st_mtime_ns
    started = time.perf_counter()
    assert build_lab(tiny_lab, preset="tiny", seed=0, progress=False) == tiny_lab
    assert time.perf_counter() - started < 10
    assert (tiny_lab / "lab.json").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="other settings"):
        build_lab(tiny_lab, preset="tiny", seed=1, progress=False)


def test_cache_location_and_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMX_CACHE", str(tmp_path / "cache"))
    path = lab_path("tiny", 0)
    assert path.parent == tmp_path / "cache" / "lab" and path.name.startswith("tiny-")
    assert lab_path("tiny", 1) != path and lab_path("default", 0) != path
    with pytest.raises(ConfigError, match="unknown"):
        build_lab(tmp_path / "x", preset="huge")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="not writable"):
        build_lab(blocker / "lab", preset="tiny", progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a memx lab"):
        build_lab(foreign, preset="tiny", progress=False)
    assert (foreign / "notes.txt").exists()  # never deleted


def test_damaged_cache_entry_is_a_clear_error(tiny_lab, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_lab, broken)
    weights = next((broken / "models" / "xl").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(MemxFailure, match=r"corrupt.*models/xl/.*safetensors"):
        build_lab(broken, preset="tiny", progress=False)
    shutil.rmtree(broken / "models" / "medium")
    with pytest.raises(MemxFailure, match="missing"):
        check_lab(broken)
    (broken / "lab.json").write_text("{not json")
    with pytest.raises(MemxFailure, match="unreadable"):
        build_lab(broken, preset="tiny", progress=False)


def test_half_finished_build_is_rebuilt_never_reused(micro_settings, tmp_path):
    out = tmp_path / "lab"
    _build_or_reuse(out, "tiny", micro_settings, 0, False)
    (out / "lab.json").unlink()
    (out / "stale.txt").write_text("left by a crashed build")
    with pytest.raises(ConfigError, match="half-finished"):
        check_lab(out)
    _build_or_reuse(out, "tiny", micro_settings, 0, False)
    assert not (out / "stale.txt").exists()
    check_lab(out)
    assert not [p for p in tmp_path.iterdir() if ".building-" in p.name]  # no temp dirs left


def test_two_concurrent_builds_of_one_lab_train_it_once(micro_settings, tmp_path, capsys):
    import threading

    out, built = tmp_path / "lab", []
    builders = [threading.Thread(target=lambda: built.append(_build_or_reuse(out, "tiny", micro_settings, 0, True)))
                for _ in range(2)]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join(timeout=300)
    said = capsys.readouterr().err
    assert built == [out, out]
    assert said.count("stage train:") == 1, said  # the second waited for the first and reused its lab
    assert said.count(f"reusing {out}") == 1 and "waiting for it" in said, said
    check_lab(out)
