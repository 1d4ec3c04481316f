"""The personal_data config section: defaults, and one error naming the field for an
unknown key, an unknown type, an empty list, or a region libphonenumber does not know."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memx.pii import TYPES
from memx.pii.section import PersonalDataConfig


def test_defaults_and_values():
    assert PersonalDataConfig().types == list(TYPES) and PersonalDataConfig().phone_region == "US"
    got = PersonalDataConfig(types=["phone", "email", "phone"], phone_region="GB")
    assert got.types == ["phone", "email"] and got.phone_region == "GB"


@pytest.mark.parametrize("kwargs,field,word", [
    ({"types": ["email", "ssn"]}, "types", "ssn"),
    ({"types": []}, "types", "at least 1"),
    ({"phone_region": "XX"}, "phone_region", "XX"),
    ({"phone_region": "us"}, "phone_region", "us"),
    ({"regions": ["US"]}, "regions", "Extra"),
])
def test_errors_name_the_field(kwargs, field, word):
    with pytest.raises(ValidationError) as info:
        PersonalDataConfig(**kwargs)
    errors = info.value.errors()
    assert len(errors) == 1 and errors[0]["loc"][0] == field and word in str(info.value)
