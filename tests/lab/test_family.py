"""The lab's model family: the paper's capacity gap and a reference trained on disjoint data.

`small` and `medium` must hold GPT-2 small's and medium's share of GPT-2 XL's parameters
(the paper's references), `out` must be the target's size trained on text the target never
saw: no canary, no training document. Sizes are checked on the presets without training;
the data and `lab.json` on the tiny lab the other lab tests share.
"""

from __future__ import annotations

import pytest

from memx.lab import PRESETS, check_lab, load_canaries
from memx.lab import corpus as corpus_mod
from memx.lab.membership import lab_split
from memx.lab.presets import MODEL_NAMES, MODEL_SPLITS, PAPER_PARAMETERS, TARGET, model_spec
from memx.lab.train import parameter_count
from tests.support.reference import read_train_jsonl

# How far a lab reference's share of the target's parameters may be from the paper's
# (GPT-2 small 8.0% and medium 22.8% of XL), relative: whole layers and head-divisible
# widths make exact shares impossible at these sizes.
RATIO_TOLERANCE = 0.10


def _parameters(preset: str) -> dict[str, int]:
    settings = PRESETS[preset]
    return {name: parameter_count(model_spec(settings, name), settings.vocab_size, settings.train.context)
            for name in MODEL_NAMES}


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_references_have_the_papers_share_of_the_target(preset):
    counts = _parameters(preset)
    for name in ("small", "medium"):
        lab_share = counts[name] / counts[TARGET]
        paper_share = PAPER_PARAMETERS[name] / PAPER_PARAMETERS["xl"]
        assert abs(lab_share / paper_share - 1) <= RATIO_TOLERANCE, (name, lab_share, paper_share)
    assert counts["out"] == counts[TARGET]
    assert model_spec(PRESETS[preset], "out") == PRESETS[preset].models[TARGET]


def test_parameter_count_matches_the_published_gpt2_sizes():
    from memx.lab.train import ModelSpec

    # GPT-2's own shapes, vocabulary 50,257 and 1,024 positions: the count the paper quotes.
    shapes = {"small": (12, 768), "medium": (24, 1024), "xl": (48, 1600)}
    for name, (layers, width) in shapes.items():
        assert parameter_count(ModelSpec(layers, width, width // 64), 50_257, 1024) == PAPER_PARAMETERS[name]


def test_lab_json_records_parameters_and_split_of_every_model(tiny_lab):
    from transformers import AutoModelForCausalLM

    meta = check_lab(tiny_lab)
    settings = PRESETS["tiny"]
    assert list(meta["models"]) == list(MODEL_NAMES)
    for name, info in meta["models"].items():
        assert info["split"] == MODEL_SPLITS[name] == ("disjoint" if name == "out" else "train")
        assert isinstance(info["parameters"], int)
        model = AutoModelForCausalLM.from_pretrained(tiny_lab / "models" / name)
        assert info["parameters"] == sum(p.numel() for p in model.parameters())
        assert model.config.vocab_size == settings.vocab_size
        assert info["parameters"] == parameter_count(model_spec(settings, name), settings.vocab_size,
                                                     settings.train.context)
    # same recipe, other data: every model gets the target's optimizer steps
    assert len({info["steps"] for info in meta["models"].values()}) == 1
    assert meta["stats"]["disjoint_tokens"] > 0 and meta["stats"]["disjoint_docs"] > 0


def test_out_trains_on_disjoint_text_without_canaries(tiny_lab):
    built_train = read_train_jsonl(tiny_lab / "corpus" / "train.jsonl")
    disjoint = read_train_jsonl(tiny_lab / "corpus" / "disjoint.jsonl")
    settings = PRESETS["tiny"]
    split, _, _ = lab_split(0, settings)
    assert disjoint == split.disjoint
    assert sum(len(d) for d in disjoint) >= settings.train_chars  # as much text as the target's
    canaries = load_canaries(tiny_lab).to_pylist()
    text = "\n".join(disjoint)
    for canary in canaries:
        assert canary["text"] not in text and canary["secret"] not in text, canary["canary_id"]
    # no training document (as built, with canaries, or as cut from its source) in either
    # direction, and no source file shared with the training or held-out slices
    for doc in disjoint:
        for train_doc in built_train + split.train:
            assert doc not in train_doc and train_doc not in doc
    assert not set(split.disjoint_sources) & (set(split.train_sources) | set(split.heldout_sources))
    heldout = (tiny_lab / "corpus" / "heldout.txt").read_text()
    assert not any(p in text for p in heldout.split("\n\n") if p.strip())


def test_asking_for_a_disjoint_slice_leaves_train_and_heldout_unchanged():
    s = PRESETS["tiny"]
    plain = corpus_mod.build_split(3, s.train_chars, s.heldout_chars, s.max_doc_lines)
    with_out = corpus_mod.build_split(3, s.train_chars, s.heldout_chars, s.max_doc_lines, disjoint_chars=50_000)
    assert (plain.train, plain.heldout) == (with_out.train, with_out.heldout)
    assert plain.disjoint == [] and sum(len(d) for d in with_out.disjoint) >= 50_000


def test_disjoint_documents_overlapping_training_ones_are_dropped(monkeypatch):
    # Twin files exist in the stdlib; a shuffle that puts one twin in each split must not
    # hand the training document to `out`.
    twin = "\n".join(f"line {i} of a boilerplate block" for i in range(5))
    sources = [corpus_mod.Source(f"stdlib/pkg{i}/__init__.py", twin + f"\n\nunique_{i} = {i}\n" * 3 + "x\ny\nz")
               for i in range(12)]
    monkeypatch.setattr(corpus_mod, "stdlib_sources", lambda: sources)
    split = corpus_mod.build_split(0, 10, 10, max_lines=5, disjoint_chars=10)
    assert split.disjoint
    assert not any(d in t or t in d for d in split.disjoint for t in split.train)
    assert not any("boilerplate" in d for d in split.disjoint)
