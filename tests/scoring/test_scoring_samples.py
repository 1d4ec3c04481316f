"""score_samples against a plain one-sample-at-a-time implementation of docs/formulas.md.

`plain_scores` below is deliberately naive: one unpadded float64 pass per sample per
model, Python loops for the window and Min-K%, no shared code with memx.scoring beyond
the per-token reference in scoring_fixtures. Agreement is to 1e-4.
"""

from __future__ import annotations

import math
import zlib

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from memx.config import ScoringConfig
from memx.models import same_vocabulary
from memx.scoring import NO_EVIDENCE_SCORE, score_columns, score_samples
from tests.scoring.scoring_fixtures import TARGET_CONTEXT, TEXTS, make_samples, plain_token_arrays

ALL = ["perplexity", "ratio_same", "ratio_foreign", "zlib", "lowercase", "window", "min_k", "min_k_plus_plus"]


def _mean_nll(logp) -> float:
    return -sum(logp) / len(logp) if len(logp) else 0.0


def _decoded_bytes(lm, ids) -> int:
    return len(lm.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False).encode("utf-8"))


def _lowest_mean(values) -> float:
    k = max(1, len(values) // 5)  # floor(0.2 N)
    return sum(sorted(values)[:k]) / k


def plain_scores(row: dict, target, refs: dict, window: int) -> dict[str, float]:
    ids = (row["prompt_ids"] + row["token_ids"])[:TARGET_CONTEXT]
    text = row["text"]
    t = {k: v.tolist() for k, v in plain_token_arrays(target, ids).items()}
    nll = _mean_nll(t["logp"])
    out = {"nll_target": nll, "score_perplexity": -nll}
    for name, lm in refs.items():
        if same_vocabulary(target, lm):
            ref_ids = row["prompt_ids"] + row["token_ids"]
            out[f"nll_{name}"] = _mean_nll(plain_token_arrays(lm, ref_ids)["logp"].tolist())
            out[f"score_ratio_{name}"] = out[f"nll_{name}"] / max(nll, 1e-8)
            continue
        # another tokenizer (docs/formulas.md): each side's total NLL over the bytes it predicts,
        # bytes counted from decoded text here (no special tokens), not from token tables
        ref_ids = [lm.bos_id] + lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        ref_logp = plain_token_arrays(lm, ref_ids)["logp"].tolist()
        ref_bytes = _decoded_bytes(lm, ref_ids[1:1 + len(ref_logp)])
        target_bytes = _decoded_bytes(target, ids[1:1 + len(t["logp"])])
        out[f"nll_{name}"] = -sum(ref_logp) / max(ref_bytes, 1)
        out[f"score_ratio_{name}"] = out[f"nll_{name}"] / max(-sum(t["logp"]) / max(target_bytes, 1), 1e-8)
    lower_ids = [target.bos_id] + target.tokenizer(text.lower(), add_special_tokens=False)["input_ids"]
    out["nll_lowercase"] = _mean_nll(plain_token_arrays(target, lower_ids[:TARGET_CONTEXT])["logp"].tolist())
    out["score_lowercase"] = out["nll_lowercase"] / max(nll, 1e-8)
    out["zlib_bytes"] = len(zlib.compress(text.encode("utf-8")))
    out["score_zlib"] = out["zlib_bytes"] / max(nll, 1e-8)
    nlls = [-x for x in t["logp"]]
    if len(nlls) <= window:
        out["window_nll"] = sum(nlls) / len(nlls)
    else:
        out["window_nll"] = min(sum(nlls[j : j + window]) / window for j in range(len(nlls) - window + 1))
    out["score_window"] = -out["window_nll"]
    out["score_min_k"] = _lowest_mean(t["logp"])
    z = [(lp - m) / s for lp, m, s in zip(t["logp"], t["mu"], t["sigma"])]
    out["score_min_k_plus_plus"] = _lowest_mean(z)
    return out


@pytest.fixture(scope="module")
def refs(models):
    assert same_vocabulary(models["target"], models["ref_same"])
    assert not same_vocabulary(models["target"], models["ref_foreign"])
    return {"same": models["ref_same"], "foreign": models["ref_foreign"]}


def _check(table: pa.Table, samples: pa.Table, target, refs, window):
    assert table.column("sample_id").to_pylist() == samples.column("sample_id").to_pylist()
    got = table.to_pylist()
    for row, result in zip(samples.to_pylist(), got):
        want = plain_scores(row, target, refs, window)
        for key, value in want.items():
            if key in result:
                assert result[key] == pytest.approx(value, rel=1e-5, abs=1e-4), (row["sample_id"], key)


def test_matches_plain_implementation(target, refs):
    # A long sample (truncated to the context), EOS inside continuations, short ones.
    texts = TEXTS + ["word " * 80]
    samples = pa.concat_tables([make_samples(target, texts), make_samples(target, TEXTS[:3], eos_inside=True)])
    samples = samples.set_column(0, "sample_id", pa.array([f"s{i}" for i in range(samples.num_rows)]))
    window = 6  # shorter than some samples, longer than others
    table = score_samples(samples, target, refs, ScoringConfig(window=window, batch_size=3), ALL)
    assert table.schema.names == [name for name, _ in score_columns(ALL)]
    assert table.num_rows == samples.num_rows
    _check(table, samples, target, refs, window)


def test_target_and_same_vocab_ref_score_exact_ids_not_text(target, refs):
    # Spell "the thing" one character per token: it decodes to the same text but the text
    # re-tokenizes to merged tokens. Target and same-vocab ref must score these ids.
    tok = target.tokenizer
    ids = [tok.convert_tokens_to_ids("\u0120" if c == " " else c) for c in "the thing"]  # Ġ = byte-level space
    text = tok.decode([target.bos_id, *ids], skip_special_tokens=True)
    assert text == "the thing" and tok(text, add_special_tokens=False)["input_ids"] != ids
    samples = pa.table({"sample_id": ["x"], "prompt_ids": [[target.bos_id]], "token_ids": [ids], "text": [text]})
    table = score_samples(samples, target, refs, ScoringConfig(), ALL)
    exact = [target.bos_id, *ids]
    row = table.to_pylist()[0]
    assert row["nll_target"] == pytest.approx(_mean_nll(plain_token_arrays(target, exact)["logp"].tolist()), abs=1e-5)
    assert row["nll_same"] == pytest.approx(_mean_nll(plain_token_arrays(refs["same"], exact)["logp"].tolist()), abs=1e-5)
    _check(table, samples, target, refs, 50)


def test_degenerate_samples_have_defined_finite_values(target, refs):
    eos = target.tokenizer.eos_token_id
    samples = pa.table(
        {
            "sample_id": ["empty", "one", "eos_only", "normal"],
            "prompt_ids": [[target.bos_id], [], [target.bos_id], [target.bos_id]],
            "token_ids": [[], [5], [eos, eos], target.tokenizer("hello there", add_special_tokens=False)["input_ids"]],
            "text": ["", target.tokenizer.decode([5]), "", "hello there"],
        },
        schema=pa.schema([("sample_id", pa.string()), ("prompt_ids", pa.list_(pa.int32())),
                          ("token_ids", pa.list_(pa.int32())), ("text", pa.string())]),
    )
    table = score_samples(samples, target, refs, ScoringConfig(), ALL)
    for name in table.schema.names[1:]:
        assert all(math.isfinite(v) for v in table.column(name).to_pylist()), name
    rows = {r["sample_id"]: r for r in table.to_pylist()}
    # 1 token in total: no predicted position -> no evidence, ranks last everywhere.
    for rid in ("empty", "one"):
        assert rows[rid]["nll_target"] == 0.0
        assert all(rows[rid][f"score_{m}"] == NO_EVIDENCE_SCORE for m in ALL)
    # EOS-only continuation: the target scores the ids; the empty text gives 0-NLL
    # re-tokenized passes (BOS alone), so ratio_foreign and lowercase are 0.
    assert rows["eos_only"]["nll_target"] > 0
    assert rows["eos_only"]["nll_foreign"] == 0.0 and rows["eos_only"]["score_lowercase"] == 0.0
    assert rows["eos_only"]["zlib_bytes"] == len(zlib.compress(b""))
    _check(table.filter(pc.equal(table["sample_id"], "normal")),
           samples.filter(pc.equal(samples["sample_id"], "normal")), target, refs, 50)


def test_only_requested_columns_and_passes(target, refs):
    class Exploding:
        def __getattr__(self, name):
            raise AssertionError(f"an unrequested reference was used ({name})")

    samples = make_samples(target, TEXTS[:3])
    metrics = ["min_k", "perplexity"]
    table = score_samples(samples, target, {"same": Exploding()}, ScoringConfig(), metrics)
    assert table.schema.names == ["sample_id", "nll_target", "score_min_k", "score_perplexity"]
    _check(table, samples, target, refs, 50)


def test_bad_metric_names(target, refs):
    samples = make_samples(target, TEXTS[:1])
    for bad in (["ratio"], ["ratio_nope"], ["entropy"], ["zlib", "zlib"]):
        with pytest.raises(ValueError):
            score_samples(samples, target, refs, ScoringConfig(), bad)


def test_empty_table(target, refs):
    samples = make_samples(target, [])
    table = score_samples(samples, target, refs, ScoringConfig(), ALL)
    assert table.num_rows == 0
    assert table.schema.names == [name for name, _ in score_columns(ALL)]
    assert table.schema.field("zlib_bytes").type == pa.int64()
