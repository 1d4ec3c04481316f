"""Personal data in text: one validated detector (types email, phone, credit_card,
iban, ip_address, api_key, private_key), masking by type, the entities inside a memorized
span, and the counts memorization.json reports (docs/personal-data.md).

Public API: `detect(text, types=None, phone_region="US") -> list[Entity]`, `TYPES`,
`mask(text)`, `mask_value(type, value)`, `span_char_range(...)`,
`personal_data_in_span(text, span)`, `memorized_personal_data(...)` (the column of rows and
their spans), `PERSONAL_DATA_TYPE`, `personal_data_summary(...)`, `PersonalDataCounts`.
Pure: nothing here reads storage, runs or models.
"""

from memx.pii.detect import DEFAULT_PHONE_REGION, Entity, detect
from memx.pii.mask import mask, mask_entities, mask_value
from memx.pii.registry import DETECTORS, TYPES, register
from memx.pii.span import (PERSONAL_DATA_TYPE, memorized_personal_data, personal_data_column, personal_data_in_span,
                           span_char_range)
from memx.pii.summary import (PersonalDataCounts, StrategyPersonalData, personal_data_by_strategy,
                             personal_data_summary)

__all__ = ["DEFAULT_PHONE_REGION", "DETECTORS", "Entity", "PERSONAL_DATA_TYPE", "PersonalDataCounts",
           "StrategyPersonalData", "TYPES", "detect", "mask", "mask_entities", "mask_value", "memorized_personal_data",
           "personal_data_by_strategy", "personal_data_column", "personal_data_in_span", "personal_data_summary",
           "register", "span_char_range"]
