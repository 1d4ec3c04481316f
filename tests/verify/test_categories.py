"""categorize: each category fires on a typical example, and rule order resolves overlaps
(licence beats contact, contact beats URL, URL paths are not secrets)."""

from __future__ import annotations

import pytest

from memx.verify import CATEGORIES, categorize

CASES = {
    "url": [
        "https://github.com/openai/gpt-2/blob/master/README.md",
        "see http://example.org/a/b?c=1 and https://docs.python.org/3/library/re.html "
        "and www.wikipedia.org/wiki/Extraction",
        "https://pastebin.com/raw/aZ3kQ9vLm2Xp7RtY",
    ],
    "contact": [
        "Jane Doe, jane.doe@example.com",
        "Call us at +1 (415) 555-0199 during office hours.",
        "Dr. Alan Smith\n1600 Pennsylvania Avenue\nWashington DC",
        # a validated number (memx.pii): the national "020 7946 0958" this case used to be is
        # not valid in the default US region, so it carries its country code now
        "Tel: +44 20 7946 0958, ask for the night desk",
    ],
    "high_entropy": [
        "123e4567-e89b-12d3-a456-426614174000",
        "api_key = sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "7f3a9c2e4b1d8f6a0c5e7b9d2f4a6c8e 1b2c3d4e5f60718293a4b5c6d7e8f901",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA9x3k",
    ],
    "code": [
        "def foo(x):\n    return x + 1\n\nclass Bar:\n    pass\n",
        "for (int i = 0; i < n; i++) {\n    sum += a[i];\n}\n",
        "import os\nimport sys\nfrom pathlib import Path\n",
        "const x = require('fs');\nfunction f(a, b) { return a => b; }",
    ],
    "license": [
        "Permission is hereby granted, free of charge, to any person obtaining a copy",
        "Licensed under the Apache License, Version 2.0 (the \"License\"); contact legal@apache.org",
        "Copyright (c) 2019 The Authors. All rights reserved.",
        "# SPDX-License-Identifier: MIT",
    ],
    "log": [
        "2021-03-04 12:00:01 INFO server started\n2021-03-04 12:00:02 WARN slow disk\n",
        "[ERROR] connection refused\n[INFO] retrying in 5s\n[INFO] connected",
        "Mar 12 10:00:01 host sshd[123]: Accepted publickey\nMar 12 10:00:02 host sshd[123]: session opened",
    ],
    "news/prose": [
        "The city council voted on Tuesday to approve the new budget, which includes "
        "funding for schools, parks and public transport. Critics said the plan was rushed.",
        "It was a bright cold day in April, and the clocks were striking thirteen. Winston "
        "Smith slipped quickly through the glass doors of Victory Mansions.",
    ],
    "other": [
        "",
        "   \n ",
        "1 2 3 4 5 6 7 8 9 10",  # parses as +1 234-567-8910; the detector knows a list when it sees one
        "order 4155550199 shipped",
        "!!! ??? ...",
        "hello",
    ],
}


@pytest.mark.parametrize("expected,text", [(k, t) for k, ts in CASES.items() for t in ts])
def test_category(expected, text):
    assert categorize(text) == expected


def test_all_categories_covered():
    assert set(CASES) == set(CATEGORIES)
