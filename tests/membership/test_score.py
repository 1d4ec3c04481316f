"""A document's scores equal a plain Hugging Face forward over its first max_tokens tokens.

Fast variant: a tiny random GPT-2 pair sharing one byte-level BPE tokenizer, built here;
tests/membership/test_lab.py repeats the check on the lab's trained models.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from memx.config import ScoringConfig
from memx.membership.documents import kept_tokens
from memx.membership.score import membership_schema, score_documents, shard_rows
from memx.models import LoadedModel
from tests.support.tiny import build_family, prose

METRICS = ["perplexity", "zlib", "min_k", "min_k_plus_plus", "ratio_ref"]
MAX_TOKENS = 40


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    dirs = build_family(tmp_path_factory.mktemp("family"), sizes={"xl": (1, 16)})
    tokenizer = AutoTokenizer.from_pretrained(dirs["xl"])
    models = {}
    for seed, (name, width) in enumerate([("target", 48), ("ref", 24)]):
        torch.manual_seed(seed)
        # a wide initializer keeps next-token distributions far from uniform (Min-K%++'s σ)
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=width, n_layer=2, n_head=2,
                            initializer_range=0.2, bos_token_id=tokenizer.bos_token_id,
                            eos_token_id=tokenizer.eos_token_id)
        models[name] = LoadedModel(name, GPT2LMHeadModel(config).eval(), tokenizer, torch.device("cpu"), torch.float32)
    return models


def _documents() -> list[str]:
    lines = prose(60, seed=3).splitlines()
    return ["\n".join(lines[i: i + n]) for i, n in zip(range(0, 60, 6), [1, 2, 5, 6, 3, 4, 6, 2, 1, 5])] + ["Paper", ""]


def _plain(model, ids: list[int]) -> dict[str, float]:
    """What the metrics are, written out: one unbatched forward, no BOS, every predicted position."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].double()
    logq = torch.log_softmax(logits, dim=-1)
    logp = logq.gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
    mu = (logq.exp() * logq).sum(-1)
    sigma = (logq.exp() * (logq - mu.unsqueeze(1)) ** 2).sum(-1).sqrt()
    k = max(1, int(0.2 * len(logp)))
    return {"nll": float(-logp.mean()), "min_k": float(logp.sort().values[:k].mean()),
            "min_k_plus_plus": float(((logp - mu) / sigma).sort().values[:k].mean())}


def test_kept_tokens_are_the_documents_first_tokens(family):
    tokenizer = family["target"].tokenizer
    texts = _documents()
    ids, kept = kept_tokens(tokenizer, texts, MAX_TOKENS)
    for text, doc_ids, doc_text in zip(texts, ids, kept):
        whole = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert doc_ids == whole[:MAX_TOKENS]
        assert text.startswith(doc_text)
        assert tokenizer(doc_text, add_special_tokens=False)["input_ids"] == doc_ids
    assert any(len(tokenizer(t, add_special_tokens=False)["input_ids"]) > MAX_TOKENS for t in texts)


def test_scores_equal_a_plain_forward(family):
    target, ref = family["target"], family["ref"]
    texts = _documents()
    ids, kept = kept_tokens(target.tokenizer, texts, MAX_TOKENS)
    table = score_documents(ids, kept, target, {"ref": ref}, ScoringConfig(batch_size=3), METRICS)
    assert table.column_names == ["tokens", "nll_target", "nll_ref"] + [f"score_{m}" for m in METRICS]
    rows = table.to_pylist()
    for doc_ids, text, row in zip(ids, kept, rows):
        assert row["tokens"] == len(doc_ids)
        if len(doc_ids) < 2:  # nothing predicted: the defined no-evidence score, ranked last
            assert all(row[f"score_{m}"] == -1e9 for m in METRICS)
            continue
        want, other = _plain(target.model, doc_ids), _plain(ref.model, doc_ids)
        assert row["nll_target"] == pytest.approx(want["nll"], abs=1e-4)
        assert row["nll_ref"] == pytest.approx(other["nll"], abs=1e-4)
        assert row["score_perplexity"] == pytest.approx(-want["nll"], abs=1e-4)
        assert row["score_zlib"] == pytest.approx(len(zlib.compress(text.encode())) / want["nll"], rel=1e-4)
        assert row["score_min_k"] == pytest.approx(want["min_k"], abs=1e-4)
        assert row["score_min_k_plus_plus"] == pytest.approx(want["min_k_plus_plus"], abs=1e-4)
        assert row["score_ratio_ref"] == pytest.approx(other["nll"] / want["nll"], rel=1e-4)
    assert sum(len(i) >= 2 for i in ids) >= 10


def test_shard_rows_follow_the_schema(family):
    target = family["target"]
    ids, kept = kept_tokens(target.tokenizer, _documents()[:4], MAX_TOKENS)
    scores = score_documents(ids, kept, target, {"ref": family["ref"]}, ScoringConfig(), METRICS)
    rows = shard_rows(np.arange(10, 14), [f"m.jsonl:{i}" for i in range(11, 15)], True, scores)
    assert rows.schema == membership_schema(METRICS)
    assert rows.column("member").to_pylist() == [True] * 4
    assert rows.column("document_name").to_pylist()[0] == "m.jsonl:11"


def test_documents_n_selects_distinct_documents_with_a_predicted_token(family, tmp_path):
    import json

    from memx.documents import DocumentSource
    from memx.membership.documents import read_kept, select_documents

    texts = _documents() * 3  # 36 documents, some with fewer than 2 tokens (the empty ones)
    path = tmp_path / "side.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    source, tokenizer = DocumentSource.scan(str(path)), family["target"].tokenizer
    picked = select_documents(source, tokenizer, 20, seed=4, side="members")
    assert len(set(picked.tolist())) == 20 and list(picked) == sorted(picked)
    assert all(len(tokenizer(texts[i], add_special_tokens=False)["input_ids"]) >= 2 for i in picked)
    assert list(select_documents(source, tokenizer, 20, seed=4, side="members")) == list(picked)
    assert list(select_documents(source, tokenizer, "all", seed=4, side="members")) == list(range(36))
    kept = read_kept(source, tokenizer, picked[:2], MAX_TOKENS, "members")
    assert kept.document_name == [f"{path}:{i + 1}" for i in picked[:2]]
    long_enough = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) >= 2 for t in texts)
    assert long_enough < 36
    for n, field in ((37, "holds 36"), (long_enough + 1, f"only {long_enough}")):
        with pytest.raises(ValueError, match=f"membership.documents: .*{field}"):
            select_documents(source, tokenizer, n, seed=4, side="members")


def test_lowercase_reads_no_bos_either(family):
    """The lowercase pass predicts positions 1..N-1 of the lowered text, as the target pass does of the ids."""
    target = family["target"]
    ids, kept = kept_tokens(target.tokenizer, _documents(), MAX_TOKENS)
    rows = score_documents(ids, kept, target, {}, ScoringConfig(batch_size=4), ["perplexity", "lowercase"]).to_pylist()
    checked = 0
    for doc_ids, text, row in zip(ids, kept, rows):
        lowered = target.tokenizer(text.lower(), add_special_tokens=False)["input_ids"]
        if len(doc_ids) < 2 or len(lowered) < 2:
            continue
        want = _plain(target.model, lowered)["nll"] / _plain(target.model, doc_ids)["nll"]
        assert row["score_lowercase"] == pytest.approx(want, rel=1e-4)
        checked += 1
    assert checked >= 8
