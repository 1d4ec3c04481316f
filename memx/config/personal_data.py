"""The optional `personal_data` config section: which types are detected and the region
phone numbers without a country code are read in.

```yaml
personal_data: {types: [email, phone], phone_region: GB}   # defaults: every type, US
```

Strict like every config section: unknown keys are an error, an unknown type is an error
naming `personal_data.types`, a region libphonenumber has no metadata for an error naming
`personal_data.phone_region`. Validation only: it does not run the detector. It lives with
the other sections (memx.config imports it; the detector's package never imports config).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from memx.config.strict import StrictModel
from memx.pii.detect import DEFAULT_PHONE_REGION, check_region, check_types
from memx.pii.registry import TYPES


class PersonalDataConfig(StrictModel):
    types: Annotated[list[str], Field(min_length=1)] = list(TYPES)
    phone_region: str = DEFAULT_PHONE_REGION

    @field_validator("types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        check_types(value)  # ValueError names the unknown type; pydantic adds the field
        return list(dict.fromkeys(value))

    @field_validator("phone_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return check_region(value)
