"""The strict base model every section of the config shares, and the small types they use.
Validation only: nothing here knows storage, models or Ray."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

RUN_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PositiveInt = Annotated[int, Field(gt=0)]


class StrictModel(BaseModel):
    """Unknown keys are an error; a loaded config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
