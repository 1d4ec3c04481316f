"""report.html of a run: what the report needs, gathered from the run's storage (the
candidates, a scatter sample of scores, per-stage throughput, memorization.json,
discoverable.json, extraction.json and its windows, the models' facts), rendered by `memx.report.render_report` and
written at the run root (REPORT_KEY) or to a local file the user names.

It gathers and writes; every table and figure is drawn in memx.report, which reads and
writes no storage.
"""

from __future__ import annotations

import pyarrow as pa

from memx.pipeline.candidates import CANDIDATES_KEY, read_table
from memx.errors import ConfigError
from memx.pipeline.memorization import read_discoverable, read_memorization
from memx.modelinfo import model_facts
from memx.pipeline.run import Run
from memx.shards import read_shard
from memx.pipeline.stages import SCORES
from memx.pipeline.status import run_status
from memx.report.redact import Masking
from memx.storage import atomic_local_file

REPORT_KEY = "report.html"
SCATTER_ROWS = 5000


def scatter_sample(run: Run, candidate_ids: set[str] = frozenset(),
                   rows: int = SCATTER_ROWS) -> pa.Table:
    """Every candidate's scores plus a deterministic subsample of all other samples, for the
    score-vs-perplexity figure (the candidates must all be there: they are the point)."""
    storage, specs = run.storage, run.plan(SCORES)
    per_shard = max(1, rows // max(1, len(specs)))
    tables = []
    for spec in specs:
        table = read_shard(storage, spec)
        step = max(1, table.num_rows // per_shard)
        picked = set(range(0, table.num_rows, step)[:per_shard])
        ids = table.column("sample_id").to_pylist()
        picked.update(i for i, sample_id in enumerate(ids) if sample_id in candidate_ids)
        chosen = table.take(sorted(picked))
        tables.append(chosen.append_column("strategy", pa.array([spec.strategy] * chosen.num_rows)))
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def run_stats(run: Run) -> dict:
    stats = {}
    for stage, status in run_status(run, verify_checksums=False).items():
        # keyed by the stage's unit, so documents of extraction are never read as samples
        stats[stage] = {"shards": len(status.committed), "planned": status.planned, status.unit: status.units_done,
                        "seconds": round(status.busy_seconds, 2),
                        f"{status.unit}_per_s": round(status.units_per_second, 3)}
    return stats


def report_stage(run: Run, out: str | None = None, redact: bool = True, extra: list | None = None) -> str:
    """Render report.html (plus `extra` sections, memx.report.html.Section, e.g. a lab's audit);
    returns where it was written."""
    from memx.report import render_report
    from memx.report.chat import chat_html
    from memx.report.discoverable import discoverable_section

    from memx.pipeline.extraction_results import extraction_sections
    from memx.report.html import Section, render_extraction_report

    storage, config = run.storage, run.config
    settings = config.model_dump(mode="json")
    # the sections after the built-in ones, in reading order (a long one, Section.long, is
    # shown after every summary): one line per feature
    redact = Masking.of(config.personal_data) if redact else False  # what the run counts, it masks
    discoverable = read_discoverable(run)
    sections = extraction_sections(run, redact) if config.extraction is not None else []
    sections += [discoverable_section(discoverable)] if discoverable else []
    if config.membership is not None:  # the membership section (docs/membership.md)
        from memx.pipeline.membership import membership_section
        membership = membership_section(run)
        sections += [Section("", membership)] if membership else []
    sections += extra or []
    if not config.generation.strategies:  # an extraction-only run (docs/outputs.md): no samples, no candidates
        html = render_extraction_report(settings, run_stats(run), sections, models=model_facts(config))
        return _write(run, html, out)
    candidates = read_table(storage, CANDIDATES_KEY)
    scatter = scatter_sample(run, set(candidates.column("sample_id").to_pylist()))
    memorization = read_memorization(run)
    chat = chat_html(memorization)  # docs/chat.md
    sections = [Section("", _personal_data_section(config, candidates, memorization, redact))] \
        + ([Section("", chat)] if chat else []) + sections
    html = render_report(settings, run_stats(run), candidates, scatter, redact=redact,
                         metric_names=config.metric_names(), strategies=list(config.generation.strategies),
                         memorization=memorization, models=model_facts(config),
                         sections=sections)
    return _write(run, html, out)


def _personal_data_section(config, candidates: pa.Table, memorization, redact) -> str:
    """docs/personal-data.md: memorization.json's counts, else the memorized candidates'."""
    from memx.pipeline.personal_data import settings
    from memx.report.personal_data import personal_data_html

    section = settings(config)
    counts = memorization.personal_data if memorization is not None else None
    counts = {name: c.model_dump() for name, c in counts.items()} if counts is not None else None
    return personal_data_html(counts, candidates, section.types,
                              section.phone_region, redact)


def _write(run: Run, html: str, out: str | None) -> str:
    if out:
        try:
            with atomic_local_file(out, "w") as stream:
                stream.write(html)
        except OSError as error:  # unwritable, missing, not a directory: the filesystem says which
            raise ConfigError(f"--out: cannot write {out} ({error.strerror or error})") from None
        return out
    run.storage.write_bytes(REPORT_KEY, html.encode("utf-8"))
    return run.storage.uri(REPORT_KEY)
