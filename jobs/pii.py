"""`memx pii FILE`: the personal data detector over a text, jsonl or parquet file, one
line per entity (docs/personal-data.md).

A `.jsonl` / `.ndjson` file is one document per line (its `text` field), named
`FILE:{line}` from 1; a `.parquet` file one per row of its `text` column, named
`FILE:{row}` from 0; any other file is one text document named FILE. Each entity prints
as `document<TAB>type<TAB>start<TAB>end<TAB>value` (or a JSON line with those keys),
offsets in characters of the document's text, the value masked by type unless
`--no-redact`. Every document is read and checked before anything is printed, so a bad
input (a missing file, an unreadable parquet, a jsonl line without `text`, a parquet
without a `text` column) is one error line naming the file (and line), exit 2, and
nothing else.

It knows nothing about runs; the detector and the masks are memx.pii's.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

import typer

from memx.errors import ConfigError

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def _jsonl(path: str) -> list[tuple[str, str]]:
    docs = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(f"{path}:{n}: not a JSON object") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ConfigError(f"{path}:{n}: no `text` string")
            docs.append((f"{path}:{n}", row["text"]))
    return docs


def _parquet(path: str) -> list[tuple[str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        if "text" not in schema.names:
            raise ConfigError(f"{path}: no `text` column (columns: {', '.join(schema.names) or 'none'})")
        texts = pq.read_table(path, columns=["text"]).column("text")
    except (pa.ArrowException, OSError) as error:
        raise ConfigError(f"{path}: not a readable parquet file ({str(error).splitlines()[0]})") from None
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise ConfigError(f"{path}: the `text` column is {texts.type}, not strings")
    return [(f"{path}:{i}", t or "") for i, t in enumerate(texts.to_pylist())]


def read_documents(path: str) -> list[tuple[str, str]]:
    """(name, text) of every document of `path`; ConfigError naming the file (and line)."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such file")
    if path.endswith(JSONL_SUFFIXES):
        return _jsonl(path)
    if path.endswith(".parquet"):
        return _parquet(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        return [(path, f.read())]


def _types(values: list[str] | None):
    from memx.pii.detect import check_types

    if not values:
        return None
    names = [v.strip() for value in values for v in value.split(",") if v.strip()]
    try:
        return check_types(names)
    except ValueError as error:
        raise ConfigError(f"--types: {error}") from None


def pii(file: str = typer.Argument(..., help="A text, jsonl (`text` field) or parquet (`text` column) file."),
        as_json: bool = typer.Option(False, "--json", help="JSON lines: document, type, start, end, value."),
        no_redact: bool = typer.Option(False, "--no-redact", help="Show the values unmasked."),
        types: Optional[List[str]] = typer.Option(None, "--types", help="Only these types (repeat or comma-separate): "
                                                  "email, phone, credit_card, iban, ip_address, api_key, private_key."),
        phone_region: str = typer.Option("US", "--phone-region", help="Region of phone numbers without a country code.")):
    """Personal data in a file: one line per entity (document, type, start, end, value masked)."""
    from memx.pii import detect, mask_value
    from memx.pii.detect import check_region

    wanted = _types(types)
    try:
        check_region(phone_region)
    except ValueError as error:
        raise ConfigError(f"--phone-region: {error}") from None
    lines = []
    for name, text in read_documents(file):
        for e in detect(text, wanted, phone_region):
            value = e.value if no_redact else mask_value(e.type, e.value)
            row = {"document": name, "type": e.type, "start": e.start, "end": e.end, "value": value}
            lines.append(json.dumps(row, ensure_ascii=False) if as_json else
                         "\t".join((name, e.type, str(e.start), str(e.end), value.replace("\n", "\\n"))))
    if lines:
        typer.echo("\n".join(lines))
