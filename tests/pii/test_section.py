"""The personal_data config section: defaults, and one error naming the field for an
unknown key, an unknown type, an empty list, or a region libphonenumber does not know."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memx.pii import TYPES
from memx.config.personal_data import PersonalDataConfig


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


def test_in_the_run_config_and_its_plan(tmp_path):
    """`personal_data` is a key of the run config (an error names `personal_data.types`), and
    a resumed run may not change it: it decides what the verified shards list."""
    from memx.config import parse_config
    from memx.errors import ConfigError
    from memx.pipeline.run import new_run, start_run

    def make(**section):
        raw = {"run_id": "pd", "output": str(tmp_path), "target": {"model": "lab-xl"},
               "generation": {"strategies": ["top_k"]}, "scoring": {"metrics": ["zlib"]}}
        return parse_config({**raw, **({"personal_data": section} if section else {})})

    assert make().personal_data is None
    assert make(types=["email"], phone_region="GB").personal_data.types == ["email"]
    with pytest.raises(ConfigError, match=r"personal_data\.types: .*'ssn'"):
        make(types=["ssn"])
    start_run(new_run(make(types=["email"])))
    start_run(new_run(make(types=["email"])))
    with pytest.raises(ConfigError, match=r"^personal_data: differs"):
        start_run(new_run(make()))
