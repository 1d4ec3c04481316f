"""The `extraction` section (docs/config.md): the source's documents, the window lengths, the decoding
scheme whose exact probability is computed, the query counts of the summary. Validation only:
a vocabulary against `top_k` or a source's documents are checked with the model and the run's
inputs (`memx.extraction.checks`, `memx.pipeline.checks`).
"""

from __future__ import annotations

import re
from typing import Literal, Annotated

from pydantic import Field, field_validator, model_validator

from memx.config.strict import RUN_ID_PATTERN, PositiveInt, StrictModel


class ExtractionDecoding(StrictModel):
    """The decoding scheme whose probability is computed: top-k (default k 40, T 1) or greedy."""

    greedy: bool = False
    top_k: PositiveInt | None = None
    temperature: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> "ExtractionDecoding":
        if self.greedy and self.top_k is not None:
            raise ValueError("give either greedy: true or top_k (with temperature), not both")
        if self.greedy and self.temperature is not None:
            raise ValueError("temperature has no effect with greedy: true (the argmax does not change)")
        return self

    @property
    def k(self) -> int | None:
        """The number of tokens kept (None for greedy)."""
        return None if self.greedy else (self.top_k or 40)

    @property
    def t(self) -> float:
        return self.temperature or 1.0


class ExtractionConfig(StrictModel):
    """Every window (prefix, suffix) of the chosen documents of `source`, scored exactly."""

    source: str = Field(min_length=1)
    name: str | None = None  # the stage's folder; default a slug of the source's last path part
    documents: Literal["all"] | PositiveInt | list[Annotated[int, Field(ge=0)]] = "all"
    shard_documents: PositiveInt = 16
    suffix_tokens: PositiveInt = 50
    prefix_tokens: list[PositiveInt] = Field(default_factory=lambda: [50])
    stride_tokens: PositiveInt = 10
    decoding: ExtractionDecoding = ExtractionDecoding()
    queries: list[PositiveInt] = Field(default_factory=lambda: [1, 10, 100, 1000])
    batch_size: PositiveInt = 64  # windows per forward pass (docs/config.md leaves it to memx)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID_PATTERN.match(value):
            raise ValueError(f"{value!r} must match [a-z0-9][a-z0-9_-]{{0,63}} (it names a folder)")
        return value

    @field_validator("documents")
    @classmethod
    def _documents(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list selects no document (use all, a count, or indexes)")
            seen = set()
            for index in value:
                if index in seen:
                    raise ValueError(f"document {index} is listed twice")
                seen.add(index)
        return value

    @field_validator("prefix_tokens", mode="before")
    @classmethod
    def _one_length_is_a_list(cls, value):
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("prefix_tokens")
    @classmethod
    def _prefix_lengths(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("at least one prefix length is required")
        if len(set(value)) != len(value):
            raise ValueError("prefix lengths must not repeat")
        return value

    @field_validator("queries")
    @classmethod
    def _queries(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("at least one query budget n is required")
        if len(set(value)) != len(value):
            raise ValueError("query budgets must not repeat")
        return sorted(value)

    @property
    def stage_name(self) -> str:
        """`name`, else a slug of the source's last path part (`s3://b/books/` -> `books`)."""
        if self.name:
            return self.name
        last = self.source.rstrip("/").rsplit("/", 1)[-1]
        for suffix in (".jsonl", ".parquet", ".txt"):
            if last.lower().endswith(suffix):
                last = last[: -len(suffix)]
        slug = re.sub(r"[^a-z0-9_-]+", "-", last.lower()).strip("-_")[:64]
        return slug or "documents"
