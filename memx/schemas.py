"""The JSON schemas of the files a run writes at its root, from their models.

`python -m memx.schemas docs/schemas/` writes one `<file>.schema.json` per entry of
SCHEMAS; tests/core/test_schemas.py fails when docs/schemas/ differs from what this writes,
so the documented schemas cannot go stale. A new JSON output is one line in SCHEMAS.
It knows the models, nothing of storage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from memx.discoverable import Discoverable
from memx.extraction.summary import Extraction
from memx.membership.summary import MembershipSummary
from memx.verify.summary import Memorization

SCHEMAS: dict[str, type] = {  # pydantic models (Output, or BaseModel for membership.json)
    "memorization.json": Memorization,
    "discoverable.json": Discoverable,
    "extraction.json": Extraction,
    "membership.json": MembershipSummary,
}


def schema_files() -> dict[str, str]:
    """{file name under docs/schemas/: its text}."""
    return {f"{name.removesuffix('.json')}.schema.json":
            json.dumps(model.model_json_schema(by_alias=True), indent=2, sort_keys=True) + "\n"
            for name, model in SCHEMAS.items()}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m memx.schemas DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, text in schema_files().items():
        (out / name).write_text(text)
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
