"""The `membership` section: defaults, and the errors a user sees for a bad one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memx.config.membership import MembershipConfig


def test_defaults():
    section = MembershipConfig(members="s3://b/members.jsonl", nonmembers="s3://b/nonmembers.jsonl")
    assert (section.documents, section.max_tokens, section.shard_documents, section.bootstrap, section.blind) == (
        "all", 256, 256, 1000, True)
    assert MembershipConfig(members="a", nonmembers="b", documents=500).documents == 500


@pytest.mark.parametrize("fields, names", [
    ({"max_tokens": 1}, "max_tokens"),
    ({"nonmembers": "data/members/"}, "same source"),
    ({"colour": "red"}, "colour"),
    ({"documents": 1}, "documents"),
    ({"documents": "some"}, "documents"),
    ({"bootstrap": 0}, "bootstrap"),
])
def test_errors_name_the_field(fields, names):
    with pytest.raises(ValidationError) as caught:
        MembershipConfig(**{"members": "data/members", "nonmembers": "data/nonmembers", **fields})
    assert names in str(caught.value)
