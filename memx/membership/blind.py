"""The blind baseline (Das et al. 2024): tell members from non-members by their text alone.

Features are hashed n-gram counts of the text, word 1-2 grams and character 3-5 grams
(`HashingVectorizer`, 2^18 columns each, so memory is bounded whatever the vocabulary),
each block tf-idf weighted (sublinear tf) and L2-normalized; the classifier is a
logistic regression. Its scores are out-of-fold: 5-fold stratified cross-validation,
shuffled with `seed`, each document scored by the model fit on the other four folds, so
the scores are honest held-out scores and go through the same figures as any metric
(`memx.membership.evaluate`). The text given should be what the metrics saw (each
document's first `max_tokens` tokens), so a difference past them, which no score can
use, does not count.

Character n-grams cost about a millisecond a document, so the baseline reads a seeded
sample of at most `SAMPLE` documents a side (`blind_sample`; every document of a smaller
set): its AUC is then known to about ±0.01, which is all a verdict needs, and 100,000
documents a side stay well under a minute on one core. This module knows no models,
tokenizers or storage.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

FEATURES = 1 << 18  # per block: word n-grams, character n-grams
FOLDS = 5
SAMPLE = 5_000  # documents a side the baseline reads at most


def blind_sample(members: int, nonmembers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the documents the baseline reads on each side: all, or a seeded sample of `SAMPLE`."""
    rng = np.random.default_rng(seed)
    return tuple(np.arange(n) if n <= SAMPLE else np.sort(rng.choice(n, SAMPLE, replace=False))
                 for n in (members, nonmembers))  # type: ignore[return-value]


def _features(texts: list[str], train: np.ndarray, blocks: list[sp.csr_matrix]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """tf-idf fitted on the training rows only (no statistic of a held-out document leaks in)."""
    fitted, held = [], []
    test = np.setdiff1d(np.arange(len(texts)), train)
    for counts in blocks:
        rows = counts[train]
        # Only the columns the training rows use: liblinear's cost grows with the width (2^18),
        # and a column no training row has gets no weight anyway.
        used = np.unique(rows.indices)
        tfidf = TfidfTransformer(sublinear_tf=True).fit(rows[:, used])
        fitted.append(tfidf.transform(rows[:, used]))
        held.append(tfidf.transform(counts[test][:, used]))
    return sp.hstack(fitted, format="csr"), sp.hstack(held, format="csr")


def blind_scores(member_texts: list[str], nonmember_texts: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores (higher = more like a member) of every member and non-member text."""
    texts = list(member_texts) + list(nonmember_texts)
    labels = np.r_[np.ones(len(member_texts), np.int8), np.zeros(len(nonmember_texts), np.int8)]
    folds = min(FOLDS, len(member_texts), len(nonmember_texts))
    if folds < 2:
        raise ValueError(f"the blind baseline needs 2 documents a side at least "
                         f"(have {len(member_texts)} and {len(nonmember_texts)})")
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=FEATURES, alternate_sign=False,
                              norm=None, lowercase=False, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    chars = HashingVectorizer(analyzer="char", ngram_range=(3, 5), n_features=FEATURES, alternate_sign=False,
                              norm=None, lowercase=False)
    blocks = [words.transform(texts).tocsr(), chars.transform(texts).tocsr()]
    scores = np.zeros(len(texts))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in split.split(np.zeros(len(texts)), labels):
        x_train, x_test = _features(texts, train, blocks)
        model = LogisticRegression(C=1.0, max_iter=1000, solver="liblinear")
        model.fit(x_train, labels[train])
        scores[np.sort(test)] = model.decision_function(x_test)
    return scores[: len(member_texts)], scores[len(member_texts):]
