"""The base of every JSON file a run writes at its root (memorization.json, discoverable.json,
extraction.json, ...): one pydantic model per file, written and read through it, so that a
key renamed in one place fails loudly everywhere instead of dropping out of the report.

`Output.to_json()` is the file's bytes (indented, no NaN); `Output.from_json(data)` reads
them back. A field with a default that was never set is not written (`exclude_unset`): an
optional key (`duplication` without verification, `extraction_probability` with one draw)
stays absent exactly as before, and a field read from a file is written back as read. So
adding a key is one line: `new_key: SomeModel | None = None` on the file's model, set it
where the value is computed. Unknown keys are an error (extra="forbid"). Each model lives
next to the code that computes it; `python -m memx.schemas DIR` writes their JSON schemas.
It knows no storage and no Run.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict
from typing_extensions import Self


class Output(BaseModel):
    """A JSON object of a run's output; nested objects are Outputs too."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as plain Python values, keys as on disk."""
        return self.model_dump(mode="python", by_alias=True, exclude_unset=True)

    def to_json(self) -> bytes:
        # rerun: same bytes (field order is the model's, which is the file's)
        return json.dumps(self.to_dict(), indent=2, allow_nan=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        return cls.model_validate_json(data)
