"""The `verify` section (docs/config.md; token-level indexes too): the training-corpus index, its
tokenizer and token width, the span rule's threshold, and which samples are verified.
Validation only: whether the index can be read is checked with the run's inputs
(`memx.pipeline.checks`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from memx.config.strict import PositiveInt, StrictModel


class VerifyConfig(StrictModel):
    # a directory (local or s3://), or a list of them: shards of one corpus, searched as one
    index: str | list[str] = Field(min_length=1)
    min_match_tokens: PositiveInt = 50
    # candidates: verify the selected candidates only (the paper); all: a sharded `verified`
    # stage checks every sample, so memorization.json can measure rates and metric quality
    scope: Literal["candidates", "all"] = "candidates"
    # a token-level index (docs/config.md): its tokenizer (HF id or directory; required when the
    # index has no index.json) and token width (else index.json's, else from the vocabulary)
    tokenizer: str | None = Field(None, min_length=1)
    token_dtype: Literal["u8", "u16", "u32"] | None = None

    @field_validator("index")
    @classmethod
    def _index(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not all(isinstance(v, str) and v for v in value):
            raise ValueError("every entry must be a non-empty directory or s3:// URI")
        return value

    @property
    def index_uris(self) -> list[str]:
        return list(self.index) if isinstance(self.index, list) else [self.index]
