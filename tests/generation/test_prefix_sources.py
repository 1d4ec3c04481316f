"""Prefix sequences from jsonl / parquet / txt sources: verbatim slices of the tokenized
documents, reproducible from the shard seed alone, too-short documents skipped, sources
read by seeking (never loaded whole), and the up-front source checks."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memx.generation import DocumentSource, check_prefix_source, prefix_context_problem, shard_sequences
from tests.generation.conftest import english_like_text

PREFIX, SUFFIX = 6, 5
NEED = PREFIX + SUFFIX


def _documents(n: int = 40) -> list[str]:
    """Mixed lengths: every 4th document is far too short to hold a sequence."""
    docs = []
    for i in range(n):
        text = english_like_text(n_sentences=3 + i % 5, seed=100 + i).strip()
        docs.append("Short." if i % 4 == 1 else text)
    return docs


def _write(kind: str, root, docs: list[str]) -> str:
    if kind == "jsonl":
        path = root / "docs.jsonl"
        lines = [json.dumps({"text": d, "id": i}) for i, d in enumerate(docs)]
        lines.insert(3, "")  # a blank line is an empty document: it keeps the numbering, never a sequence
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)
    if kind == "parquet":
        path = root / "docs.parquet"
        pq.write_table(pa.table({"text": docs, "n": list(range(len(docs)))}), path, row_group_size=7)
        return str(path)
    directory = root / "txt"
    directory.mkdir()
    for i, d in enumerate(docs):
        (directory / f"doc-{i:03d}.txt").write_text(d, encoding="utf-8")
    (directory / "notes.md").write_text("ignored: not a source kind")
    return str(directory)


@pytest.fixture(params=["jsonl", "parquet", "txt"])
def source(request, tmp_path):
    docs = _documents()
    uri = _write(request.param, tmp_path, docs)
    expected = docs[:3] + [""] + docs[3:] if request.param == "jsonl" else docs
    return DocumentSource.scan(uri), expected


def test_documents_are_indexed_and_read_by_global_index(source):
    src, docs = source
    assert src.n_documents == len(docs)
    picks = np.array([5, 0, len(docs) - 1, 5, 12])
    assert src.read(picks) == [docs[i] for i in picks]
    # a byte bound never under-states a document's UTF-8 size
    bounds = src.byte_bounds()
    assert all(b >= len(d.encode()) for b, d in zip(bounds, docs))


def test_sequences_are_verbatim_slices_of_their_documents(source, tiny_lm):
    src, docs = source
    seqs = shard_sequences(src, tiny_lm.tokenizer, seed=11, rows=30, prefix_tokens=PREFIX, suffix_tokens=SUFFIX)
    assert seqs.prefixes.shape == (30, PREFIX) and seqs.suffixes.shape == (30, SUFFIX)
    used = set()
    for prefix, suffix, sid in zip(seqs.prefixes, seqs.suffixes, seqs.sequence_ids):
        doc, offset = map(int, sid.split(":"))
        ids = tiny_lm.tokenizer(docs[doc], add_special_tokens=False)["input_ids"]
        assert len(ids) >= NEED and 0 <= offset <= len(ids) - NEED
        assert prefix.tolist() + suffix.tolist() == ids[offset : offset + NEED]
        used.add(doc)
    short = {i for i, d in enumerate(docs) if len(tiny_lm.tokenizer(d, add_special_tokens=False)["input_ids"]) < NEED}
    assert short and not used & short  # too-short (and empty) documents were skipped
    assert len(used) > 5  # drawn across the source, not from one document


def test_same_seed_same_sequences_other_seed_others(source, tiny_lm):
    src, _ = source
    draw = lambda seed: shard_sequences(src, tiny_lm.tokenizer, seed, 12, PREFIX, SUFFIX)  # noqa: E731
    first, again, other = draw(3), draw(3), draw(4)
    assert first.sequence_ids == again.sequence_ids and np.array_equal(first.prefixes, again.prefixes)
    assert first.sequence_ids != other.sequence_ids


def test_draws_repeat_each_sequence_on_consecutive_rows(source, tiny_lm):
    src, _ = source
    seqs = shard_sequences(src, tiny_lm.tokenizer, 5, rows=9, prefix_tokens=PREFIX, suffix_tokens=SUFFIX, draws=3)
    ids = seqs.sequence_ids
    assert ids[0:3] == [ids[0]] * 3 and ids[3:6] == [ids[3]] * 3 and ids[6:9] == [ids[6]] * 3
    single = shard_sequences(src, tiny_lm.tokenizer, 5, rows=3, prefix_tokens=PREFIX, suffix_tokens=SUFFIX)
    assert single.sequence_ids == ids[::3]  # the same sequences as draws: 1, repeated


class _Counting(io.BytesIO):
    reads: list[int] = []

    def read(self, size=-1):
        data = super().read(size)
        _Counting.reads.append(len(data))
        return data


def test_s3_like_prefix_is_listed_then_read_by_seeking(tmp_path, tiny_lm):
    """An injected list_files / open_input stand for S3: the scan streams each jsonl in
    bounded chunks, and drawing a shard reads only the lines of the documents drawn."""
    docs = _documents(200)
    blobs = {}
    for part in range(2):
        chunk = docs[part * 100 : (part + 1) * 100]
        blobs[f"s3://bucket/pile/part-{part}.jsonl"] = ("\n".join(json.dumps({"text": d}) for d in chunk) + "\n").encode()
    blobs["s3://bucket/pile/_SUCCESS"] = b""
    opened = []

    def open_input(uri):
        opened.append(uri)
        return _Counting(blobs[uri])

    src = DocumentSource.scan("s3://bucket/pile/", open_input, list_files=lambda uri: sorted(blobs, reverse=True))
    assert src.n_documents == 200 and [f.uri for f in src.files] == sorted(u for u in blobs if u.endswith(".jsonl"))
    _Counting.reads.clear()
    seqs = shard_sequences(src, tiny_lm.tokenizer, 9, 4, PREFIX, SUFFIX)
    total = sum(len(b) for b in blobs.values())
    assert 0 < sum(_Counting.reads) < total / 5  # a few lines, not the files
    for sid, prefix in zip(seqs.sequence_ids, seqs.prefixes):
        doc, offset = map(int, sid.split(":"))
        ids = tiny_lm.tokenizer(docs[doc], add_special_tokens=False)["input_ids"]
        assert prefix.tolist() == ids[offset : offset + PREFIX]


def test_a_source_with_no_document_long_enough_fails_clearly(tmp_path, tiny_lm):
    path = tmp_path / "short.jsonl"
    path.write_text("\n".join(json.dumps({"text": "Tiny words."}) for _ in range(30)) + "\n")
    problem = check_prefix_source(str(path), None, tiny_lm.tokenizer, NEED)
    assert problem.startswith("generation.prefix.source: no document") and "all 30" in problem
    with pytest.raises(ValueError, match="found 0 of 3 sequences"):
        shard_sequences(DocumentSource.scan(str(path)), tiny_lm.tokenizer, 1, 3, PREFIX, SUFFIX)


def test_check_prefix_source(tmp_path, tiny_lm):
    good = _write("jsonl", tmp_path, _documents())
    assert check_prefix_source(good, None, tiny_lm.tokenizer, NEED) is None
    assert "cannot read" in check_prefix_source(str(tmp_path / "absent.jsonl"), None, tiny_lm.tokenizer, NEED)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert "holds no documents" in check_prefix_source(str(empty), None, tiny_lm.tokenizer, NEED)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "' + "word " * 40 + '"}\nnot json at all, but long enough to be read ' * 3 + "\n")
    assert "is not JSON" in check_prefix_source(str(bad), None, tiny_lm.tokenizer, NEED)
    none = tmp_path / "none"
    none.mkdir()
    assert "no .jsonl, .parquet or .txt" in check_prefix_source(str(none), None, tiny_lm.tokenizer, NEED)
    # many documents: a seeded sample is tokenized, the byte-short ones are counted exactly
    many = tmp_path / "many.jsonl"
    many.write_text("\n".join(json.dumps({"text": "A b c d e f g h i j k l m n o p."}) for _ in range(700)) + "\n")
    problem = check_prefix_source(str(many), None, tiny_lm.tokenizer, 40)
    assert "none of 512 documents" in problem and "0 of 700 documents are shorter than 40 bytes" in problem


def test_prefix_context_problem():
    assert prefix_context_problem(50, 50, 1024) is None and prefix_context_problem(50, 50, None) is None
    assert "exceeds the target model's 64 positions" in prefix_context_problem(50, 50, 64)


def test_document_encoding_equals_the_tokenizer_call(tiny_lm):
    from memx.generation.prefix import encode_documents, plain_backend

    tok = tiny_lm.tokenizer
    texts = [english_like_text(20, seed=3), "Before <|endoftext|> after", "", "  spaced\n\nlines  "]
    assert plain_backend(tok)  # the fast path is the one under test
    assert encode_documents(tok, texts) == tok(texts, add_special_tokens=False)["input_ids"]
