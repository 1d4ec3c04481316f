"""Windows and documents exactly as docs/formulas.md#extraction says: the set by hand on short documents, no window
across a document, `documents: n` distinct and seeded, names, and character ranges equal to the
tokenizer's offsets, a multi-byte character split between two tokens included."""

from __future__ import annotations

import numpy as np
import pytest

from memx.extraction.documents import document_names, encode_with_offsets, min_document_tokens, select_documents
from memx.extraction.windows import enumerate_windows, window_offsets
from memx.documents import DocumentSource
from tests.extraction.helpers import extraction_config, write_jsonl


def test_window_offsets_by_hand():
    # length 10, S 3, stride 2: o in {2, 4, 6} for k 2 (o >= 2, o + 3 <= 10); {4, 6} for k 3 and 4
    assert window_offsets(10, 2, 3, 2).tolist() == [2, 4, 6]
    assert window_offsets(10, 3, 3, 2).tolist() == [4, 6]
    assert window_offsets(10, 4, 3, 2).tolist() == [4, 6]
    assert window_offsets(10, 1, 3, 1).tolist() == [1, 2, 3, 4, 5, 6, 7]  # the last suffix ends at the last token
    assert window_offsets(7, 4, 3, 2).tolist() == [4]  # 4 + 3 = 7: the suffix ends exactly at the end
    assert window_offsets(7, 4, 3, 4).tolist() == [4]
    assert window_offsets(6, 4, 3, 1).tolist() == []  # 4 + 3 > 6
    assert window_offsets(5, 5, 1, 7).tolist() == []  # the first stride multiple >= 5 is 7


def test_min_document_tokens(tmp_path):
    config = extraction_config("m", str(tmp_path), source="s", prefix_tokens=[5, 12], suffix_tokens=4, stride_tokens=4)
    assert min_document_tokens(config.extraction) == 8 + 4  # k 5 -> first o is 8


def test_windows_of_documents_by_hand(family, tiny, tmp_path):
    lengths = [0, 3, 9, 12]
    docs = [tiny.tokenizer.decode(list(range(40, 40 + n))) for n in lengths]
    tokenized = encode_with_offsets(tiny.tokenizer, docs)
    real = [len(d.ids) for d in tokenized]
    windows = enumerate_windows(tokenized, [2, 4], 3, 2)
    got = sorted(zip(windows.document.tolist(), windows.prefix_tokens.tolist(), windows.offset.tolist()))
    expected = sorted((d, k, o) for d, n in enumerate(real) for k in (2, 4)
                      for o in range(0, n) if o % 2 == 0 and o >= k and o + 3 <= n)
    assert got == expected
    # a document of 9 tokens: k 2 -> o 2, 4, 6; k 4 -> 4, 6 (if the tokenizer kept 9 tokens)
    if real[2] == 9:
        assert [(k, o) for d, k, o in got if d == 2] == [(2, 2), (2, 4), (2, 6), (4, 4), (4, 6)]
    # row order: document, then prefix length in config order, then offset
    keys = list(zip(windows.document.tolist(), [[2, 4].index(k) for k in windows.prefix_tokens.tolist()],
                    windows.offset.tolist()))
    assert keys == sorted(keys)


def test_character_ranges_follow_the_offsets_and_share_a_split_character(tiny):
    text = "the river 🙂 window é and the garden"
    (doc,) = encode_with_offsets(tiny.tokenizer, [text])
    assert doc.ids.tolist() == tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    emoji = text.index("🙂")
    pieces = np.flatnonzero((doc.offsets[:, 0] == emoji) & (doc.offsets[:, 1] == emoji + 1))
    assert len(pieces) >= 2, "the emoji should be cut into several byte tokens"
    windows = enumerate_windows([doc], [1], 2, 1)
    start = dict(zip(windows.offset.tolist(), windows.char_start.tolist()))
    end = dict(zip(windows.offset.tolist(), windows.char_end.tolist()))
    for o in windows.offset.tolist():
        assert start[o] == doc.offsets[o][0] and end[o] == doc.offsets[o + 1][1]
    second = int(pieces[1])  # a suffix starting inside the emoji starts at the emoji...
    assert start[second] == emoji
    ending = second - 2  # ...and the suffix ending at its first byte token ends after it: both hold it
    if ending in end:
        assert end[ending] == emoji + 1
    assert text[start[second]:end[second]].startswith("🙂")


def _source(tmp_path, texts):
    return DocumentSource.scan(write_jsonl(tmp_path / "docs.jsonl", texts))


def test_documents_n_are_distinct_long_enough_and_seeded(tiny, tmp_path):
    long = "the river and the window " * 8
    texts = [long if i % 3 else "short" for i in range(60)] + [None, long]  # a blank line is an empty document
    source = _source(tmp_path, texts)
    assert source.n_documents == 62 and source.read(np.array([60]))[0] == ""
    config = extraction_config("m", str(tmp_path), source="s", documents=10, prefix_tokens=[8], suffix_tokens=8,
                               stride_tokens=4).extraction
    picked = select_documents(source, tiny.tokenizer, config, seed=0)
    assert len(picked) == 10 and len(set(picked.tolist())) == 10
    assert all(texts[i] == long for i in picked.tolist())
    assert picked.tolist() == sorted(picked.tolist())
    assert select_documents(source, tiny.tokenizer, config, seed=0).tolist() == picked.tolist()
    assert select_documents(source, tiny.tokenizer, config, seed=1).tolist() != picked.tolist()
    listed = extraction_config("m", str(tmp_path), source="s", documents=[5, 2, 61]).extraction
    assert select_documents(source, tiny.tokenizer, listed, seed=0).tolist() == [5, 2, 61]
    everything = extraction_config("m", str(tmp_path), source="s").extraction
    assert select_documents(source, tiny.tokenizer, everything, seed=0).tolist() == list(range(62))


@pytest.mark.parametrize("documents, message", [
    (41, "41 documents asked for, but"),
    (25, "only 20 of the source's 31 are long enough.*11 are shorter"),
    ([3, 31], "document 31 is beyond the source, which holds 31 documents"),
])
def test_documents_beyond_the_source(tiny, tmp_path, documents, message):
    long = "the river and the window " * 8
    source = _source(tmp_path, [long if i % 3 else "short" for i in range(31)])
    config = extraction_config("m", str(tmp_path), source="s", documents=documents, prefix_tokens=[8],
                               suffix_tokens=8, stride_tokens=4).extraction
    with pytest.raises(ValueError, match=message):
        select_documents(source, tiny.tokenizer, config, seed=0)


def test_document_names_and_order(tmp_path):
    root = tmp_path / "src"
    (root / "b").mkdir(parents=True)
    write_jsonl(root / "b" / "x.jsonl", ["one", "two"])
    (root / "a.txt").write_text("alpha")
    write_jsonl(root / "c.jsonl", ["three"])
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["p0", "p1"]}), root / "b" / "y.parquet")
    source = DocumentSource.scan(str(root))
    names = document_names(source, np.arange(source.n_documents))
    assert names == [f"{root}/a.txt", f"{root}/b/x.jsonl:1", f"{root}/b/x.jsonl:2", f"{root}/b/y.parquet:0",
                     f"{root}/b/y.parquet:1", f"{root}/c.jsonl:1"]
    assert source.read(np.arange(6)) == ["alpha", "one", "two", "p0", "p1", "three"]
