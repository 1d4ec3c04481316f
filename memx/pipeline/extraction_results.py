"""The `extraction` stage's results on the driver, over a Run (docs/formulas.md#extraction): extraction.json from
the committed shards and their manifests, and what the report section needs (the rows'
positions and probabilities, and the texts of the documents it maps).

`extraction_stage` reads every planned shard (a shard not committed is a runtime failure
that names `memx resume`: a summary of part of the windows would be read as the whole) and
writes extraction.json at the run root; rerunning recomputes the same bytes. The texts of
mapped documents are read from the source through the run's inputs; a run whose source
cannot be read from here still gets its maps, without the text. It knows no Ray.
"""

from __future__ import annotations

import pyarrow as pa

from memx.errors import ConfigError, MemxFailure
from memx.extraction.summary import Extraction
from memx.pipeline.memorization import read_json
from memx.pipeline.run import Run
from memx.shards import read_manifest, read_shard
from memx.pipeline.stages import EXTRACTION

EXTRACTION_KEY = "extraction.json"
SUMMARY_COLUMNS = ["document", "document_name", "prefix_tokens", "char_start", "char_end", "log_p", "greedy_exact",
                   "token_accuracy"]


def _committed(run: Run):
    """(spec, manifest) of every planned shard; MemxFailure when one is not committed."""
    specs = run.plan(EXTRACTION)
    found = []
    for spec in specs:
        manifest = read_manifest(run.storage, spec)
        if manifest is None:
            raise MemxFailure(f"{spec.key} is not committed; run `memx resume {run.uri}` to finish the stage")
        found.append((spec, manifest))
    return found


def extraction_stage(run: Run) -> Extraction:
    """extraction.json over every window of the stage."""
    from memx.extraction.summary import summarize

    config = run.config
    if config.extraction is None:
        raise ConfigError("extraction: the config has no `extraction` section (docs/formulas.md#extraction)")
    columns = SUMMARY_COLUMNS + (["sequence_count"] if config.verify is not None else [])
    shards = ((read_shard(run.storage, spec, columns), manifest["documents"]) for spec, manifest in _committed(run))
    result = summarize(config.extraction, shards)
    run.storage.write_bytes(EXTRACTION_KEY, result.to_json())
    return result


def read_extraction(run: Run) -> Extraction | None:
    return read_json(run.storage, EXTRACTION_KEY, Extraction)


def window_rows(run: Run) -> pa.Table:
    """Every window's document, prefix length, character range and log_p (the report's histogram and maps)."""
    tables = [read_shard(run.storage, spec, ["document", "prefix_tokens", "char_start", "char_end", "log_p",
                                             "greedy_exact"]) for spec, _ in _committed(run)]
    return pa.concat_tables(tables) if tables else pa.table({})


def document_texts(run: Run, documents: list[int]) -> dict[int, str | None]:
    """The texts of `documents` from the source; None for each when the source cannot be read here."""
    import numpy as np

    from memx.extraction.documents import read_documents
    from memx.pipeline.inputs import scan_source

    if not documents:
        return {}
    try:
        source = scan_source(run.config, run.inputs)
        return dict(zip(documents, read_documents(source, np.asarray(documents, dtype=np.int64))))
    except (ValueError, OSError):
        return {d: None for d in documents}


def extraction_sections(run: Run, redact: bool = True) -> list:
    """The report's extraction sections (memx.report.html.Section; none without extraction.json)."""
    from memx.report.extraction import extraction_sections as sections
    from memx.report.extraction_maps import pick_documents

    summary = read_extraction(run)
    if summary is None:
        return []
    texts = document_texts(run, [e.document for e in pick_documents(summary)])
    return sections(summary, window_rows(run), texts, redact)
