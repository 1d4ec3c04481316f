"""The `membership` config section (docs/membership.md): two labelled document sets and how
to measure them.

Validation only: nothing here opens a file. Checks that need the files themselves (a side
with fewer than 2 documents, a side that does not exist) are input checks made against
the sources when a run starts. Like every section, unknown keys are an error.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from memx.config.strict import StrictModel

PositiveInt = Annotated[int, Field(gt=0)]


class MembershipConfig(StrictModel):
    """Members against non-members: every score of `scoring.metrics`, and the blind baseline."""

    members: str = Field(min_length=1)  # jsonl / parquet / txt: a file, a directory or an S3 prefix
    nonmembers: str = Field(min_length=1)
    # per side: n distinct documents, seeded by generation.seed, or every document
    documents: Literal["all"] | Annotated[int, Field(ge=2)] = "all"
    # each document's first N tokens (tokenized whole, no special tokens); 2 at least: one predicted token
    max_tokens: Annotated[int, Field(ge=2)] = 256
    shard_documents: PositiveInt = 256
    bootstrap: PositiveInt = 1000  # resamples for the 95% intervals
    blind: bool = True  # the model-free baseline (text n-grams, logistic regression)

    @model_validator(mode="after")
    def _sound(self) -> "MembershipConfig":
        if _same_uri(self.members, self.nonmembers):
            raise ValueError(f"members and nonmembers are the same source ({self.members}): "
                             "give a different set for each side")
        return self


def _same_uri(a: str, b: str) -> bool:
    # A trailing slash names the same directory or prefix.
    return a.rstrip("/") == b.rstrip("/")
