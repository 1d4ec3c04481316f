"""A synthetic verified candidates table (and score subsample) with planted personal data.

Samples recur across metrics, as in a real run where several metrics pick the same
sample; nothing here touches models, storage or an index.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

METRICS = ["perplexity", "ratio_small", "zlib", "lowercase"]
STRATEGIES = ["top_k", "temperature", "internet"]
EMAILS = ["jane.doe@example.com", "bob_smith99@mail.example.org"]
# with its country code: the detector reads national numbers in the phone region (US by
# default), where "020 7946 0958" is not a valid number and so is not masked
PHONES = ["+1 (415) 555-0199", "+44 20 7946 0958"]
CATS = ["url", "contact", "high_entropy", "code", "license", "log", "news/prose", "other"]


@pytest.fixture
def cands():
    rng = random.Random(3)
    rows = []
    for s in STRATEGIES:
        pool = [f"{s}-00000-{i:05d}" for i in range(40)]
        for m in METRICS:
            for rank, sid in enumerate(rng.sample(pool, 15), 1):
                i = int(sid[-5:])
                text = f"sample {sid} <b>&amp; text</b> [bold]x[/bold]"
                if i % 7 == 0:
                    text += f" contact {EMAILS[i % 2]} or {PHONES[i % 2]}"
                mem = (i % 3 == 0)
                rows.append({"sample_id": sid, "strategy": s, "metric": m, "rank": rank,
                             "score": rng.random(), "text": text, "duplicates": 1,
                             "match_tokens": 60 if mem else rng.randint(0, 49),
                             "memorized": mem, "category": CATS[i % len(CATS)]})
    schema = pa.schema([("sample_id", pa.string()), ("strategy", pa.string()), ("metric", pa.string()),
                        ("rank", pa.int32()), ("score", pa.float64()), ("text", pa.string()),
                        ("duplicates", pa.int32()), ("match_tokens", pa.int32()),
                        ("memorized", pa.bool_()), ("category", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture
def scatter():
    rng = random.Random(4)
    ids = [f"{s}-00000-{i:05d}" for s in STRATEGIES for i in range(40)]
    nll = [rng.uniform(1, 5) for _ in ids]
    return pa.table({"sample_id": ids, "strategy": [i.split("-")[0] for i in ids],
                     "score_perplexity": [-x for x in nll],
                     "score_zlib": [rng.uniform(100, 400) / x for x in nll],
                     "score_ratio_small": [rng.uniform(0.8, 1.5) for _ in ids]})
