"""The paper's trigram rule: multiplicities, asymmetry, punctuation, degenerate texts."""

from collections import Counter

import numpy as np

from memx.reduce.trigrams import gram_hashes, gram_multiset, hashed_overlap, is_duplicate, overlap, trigrams, words


def test_paper_example_has_two_trigrams_each_twice():
    t = trigrams("my name my name my name")
    assert t == Counter({("my", "name", "my"): 2, ("name", "my", "name"): 2})
    h, o = gram_hashes(["my name my name my name"])
    values, counts = gram_multiset(h[o[0] : o[1]])
    assert sorted(counts.tolist()) == [2, 2]


def test_multiset_intersection_counts_the_smaller_multiplicity():
    a, b = trigrams("my name my name my name"), trigrams("my name my")
    assert overlap(a, b) == 1  # (my, name, my) once in b, twice in a
    # as sets, 1 of 2 distinct trigrams would be shared (a duplicate); as multisets 1 < 4 / 2
    assert not is_duplicate("my name my name my name", "my name my")
    assert is_duplicate("my name my name my name", "my name my name")  # 2 >= 4 / 2
    assert is_duplicate("my name my", "my name my name my name")


def test_short_text_inside_long_one_is_asymmetric():
    long = "the quick brown fox jumps over the lazy dog and then runs far away into the woods"
    short = "fox jumps over the lazy dog"
    assert is_duplicate(short, long)
    assert not is_duplicate(long, short)


def test_punctuation_and_whitespace_split_words():
    assert words("Hello,world!  foo\tbar--baz_qux 3.14") == ["Hello", "world", "foo", "bar", "baz", "qux", "3", "14"]
    assert is_duplicate("a, b; c. d", "a b c d")
    assert words("naïve café—déjà vu") == ["naïve", "café", "déjà", "vu"]


def test_degenerate_texts_with_fewer_than_three_words():
    assert is_duplicate("", "")
    assert not is_duplicate("", "one two three four")
    assert is_duplicate("hello world", "hello, world!")
    assert not is_duplicate("hello world", "hello world again and again")
    assert not is_duplicate("hello world again and again", "hello world")
    h, o = gram_hashes(["", "hello world", "hello, world!", "hello", "one two three"])
    assert np.diff(o).tolist() == [1, 1, 1, 1, 1]
    assert h[1] == h[2] and len({h[0], h[1], h[3], h[4]}) == 4


def test_hashed_rule_matches_tuple_rule_on_random_pairs():
    rng = np.random.default_rng(1)
    vocab = ["a", "b", "c", "dé", "e,", "f."]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(0, 12))) for _ in range(60)]
    h, o = gram_hashes(texts)
    ms = [gram_multiset(h[o[i] : o[i + 1]]) for i in range(len(texts))]
    for i in range(len(texts)):
        ti = trigrams(texts[i])
        assert int(ms[i][1].sum()) == sum(ti.values())
        for j in range(len(texts)):
            assert hashed_overlap(ms[i], ms[j]) == overlap(ti, trigrams(texts[j])), (texts[i], texts[j])


def test_ascii_and_unicode_paths_hash_words_alike():
    h1, _ = gram_hashes(["alpha beta gamma"])
    h2, _ = gram_hashes(["alpha beta gamma", "ünï cödé"])
    assert h1[0] == h2[0]


def test_sliced_chunked_and_mixed_inputs_hash_like_single_texts():
    import pyarrow as pa

    texts = ["zero one two three", "ünï cödé “quoted” words here", "a b c d e", "", None, "x y", "ñ ñ ñ ñ"]
    full = pa.array(texts)
    for sample in (full.slice(1), full.slice(2, 4), pa.chunked_array([full.slice(0, 3), full.slice(3)])):
        h, o = gram_hashes(sample)
        got = [h[o[i] : o[i + 1]].tolist() for i in range(len(o) - 1)]
        assert got == [gram_hashes([t or ""])[0].tolist() for t in sample.to_pylist()]
