"""Prompt corpora: every input format, English-only WET records, and prompts that are real
5-10-token spans of the corpus (not re-tokenized fragments)."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memx.generation import PromptCorpus, load_prompt_corpus
from memx.generation.wet import looks_english

ENGLISH = "The river was quiet in the morning and the people of the town walked to the market with their baskets."
GERMAN = "Der Fluss war am Morgen ruhig und die Leute der Stadt gingen mit ihren Koerben zum Markt und kauften Brot."
FRENCH = "La riviere etait calme le matin et les gens de la ville allaient au marche avec leurs paniers de pain."


def _record(kind: str, body: str, language: str | None) -> bytes:
    payload = body.encode("utf-8")
    headers = [
        "WARC/1.0", f"WARC-Type: {kind}", "WARC-Target-URI: http://example.com/",
        "WARC-Date: 2021-05-01T00:00:00Z", "WARC-Record-ID: <urn:uuid:1>",
    ]
    if language is not None:
        headers.append(f"WARC-Identified-Content-Language: {language}")
    headers += ["Content-Type: text/plain", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + payload + b"\r\n\r\n"


WET_RECORDS = [
    _record("warcinfo", "software: test " + ENGLISH, None),
    _record("conversion", "A " + ENGLISH, "eng"),
    _record("conversion", FRENCH, "fra"),
    _record("conversion", "B " + ENGLISH, "eng,fra"),
    _record("conversion", "C " + ENGLISH, "fra,eng"),
    _record("conversion", "D " + ENGLISH, None),
    _record("conversion", GERMAN, None),
    _record("response", "E " + ENGLISH, "eng"),
]
KEPT = ["A " + ENGLISH, "B " + ENGLISH, "D " + ENGLISH]


@pytest.mark.parametrize("name", ["crawl.warc.wet", "crawl.warc.wet.gz"])
def test_wet_keeps_only_english_conversion_records(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".gz"):  # CC files are one gzip member per record
        path.write_bytes(b"".join(gzip.compress(record) for record in WET_RECORDS))
    else:
        path.write_bytes(b"".join(WET_RECORDS))
    corpus = load_prompt_corpus(str(path))
    assert [corpus.document(i) for i in range(corpus.n_documents)] == KEPT


def test_looks_english():
    assert looks_english(ENGLISH) and not looks_english(GERMAN) and not looks_english(FRENCH)
    assert not looks_english("") and not looks_english("12345 67890")


def test_jsonl_parquet_text_and_gzip_formats(tmp_path):
    docs = [ENGLISH, "Second document " + ENGLISH]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"text": d, "id": i}) + "\n" for i, d in enumerate(docs)))
    pq.write_table(pa.table({"text": docs, "n": [1, 2]}), tmp_path / "p.parquet")
    (tmp_path / "p.txt").write_text(ENGLISH)
    (tmp_path / "p.txt.gz").write_bytes(gzip.compress(ENGLISH.encode()))
    for name in ("p.jsonl", "p.parquet"):
        corpus = load_prompt_corpus(str(tmp_path / name))
        assert [corpus.document(i) for i in range(corpus.n_documents)] == docs
    for name in ("p.txt", "p.txt.gz"):
        assert load_prompt_corpus(str(tmp_path / name)).document(0) == ENGLISH
    # An injected opener without a file descriptor (how S3 is plugged in) works the same.
    blobs = {"s3://b/p.parquet": (tmp_path / "p.parquet").read_bytes(), "s3://b/p.txt": ENGLISH.encode()}
    for uri in blobs:
        corpus = load_prompt_corpus(uri, open_input=lambda u: io.BytesIO(blobs[u]))
        assert corpus.document(0) == ENGLISH


def test_bad_inputs_fail_clearly(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"title": "no text"}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_prompt_corpus(str(tmp_path / "bad.jsonl"))
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="'text' column"):
        load_prompt_corpus(str(tmp_path / "bad.parquet"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="no text"):
        load_prompt_corpus(str(tmp_path / "empty.txt"))


def _contains(haystack: list[int], needle: list[int]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def test_prompts_are_real_token_spans_of_the_corpus(tiny_lm, corpus_file, corpus_text):
    tokenizer = tiny_lm.tokenizer
    corpus = load_prompt_corpus(str(corpus_file))
    prompts = corpus.sample_prompts(tokenizer, 300, 5, 10, np.random.default_rng(7))
    full = tokenizer(corpus_text, add_special_tokens=False)["input_ids"]
    assert len(prompts) == 300
    assert {len(p) for p in prompts} == set(range(5, 11))
    assert all(_contains(full, p) for p in prompts)
    assert len({tuple(p) for p in prompts}) > 250  # spread over the corpus, not one place
    again = corpus.sample_prompts(tokenizer, 300, 5, 10, np.random.default_rng(7))
    assert again == prompts


def test_multi_document_spans_stay_inside_documents(tiny_lm, corpus_text):
    docs = corpus_text.splitlines()[:20]
    corpus = PromptCorpus.from_texts(docs)
    tokenized = [tiny_lm.tokenizer(d, add_special_tokens=False)["input_ids"] for d in docs]
    for prompt in corpus.sample_prompts(tiny_lm.tokenizer, 100, 5, 10, np.random.default_rng(1)):
        assert any(_contains(doc, prompt) for doc in tokenized)


def test_corpus_too_short_for_prompts(tiny_lm):
    corpus = PromptCorpus.from_texts(["tiny", "docs"])
    with pytest.raises(ValueError, match="too short"):
        corpus.sample_prompts(tiny_lm.tokenizer, 3, 5, 10, np.random.default_rng(0))


def test_corpus_pickles_for_ray(tiny_lm, corpus_file, corpus_text):
    import pickle

    mapped = load_prompt_corpus(str(corpus_file))
    assert mapped.mapped_path == str(corpus_file)
    in_memory = PromptCorpus.from_texts(corpus_text.splitlines()[:10])
    for corpus in (mapped, in_memory):
        clone = pickle.loads(pickle.dumps(corpus))
        a = corpus.sample_prompts(tiny_lm.tokenizer, 20, 5, 10, np.random.default_rng(3))
        assert clone.sample_prompts(tiny_lm.tokenizer, 20, 5, 10, np.random.default_rng(3)) == a
    assert len(pickle.dumps(mapped)) < 1000  # the file is re-mapped, not shipped
