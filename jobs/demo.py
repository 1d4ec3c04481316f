"""`memx demo`: the whole attack on the embedded lab, through the same code as `memx run`.

Builds (or reuses) the lab, points the lab's own run config at `--out`, runs the real
pipeline on a local Ray with CPU actors (the paper's three strategies and `prefix`;
scoring with the lab's small, medium and out references; reduce; every sample verified
against the lab's index; exact extraction over the training documents holding canaries
and as many without; report, with the audit of the lab's canaries and their extraction
probabilities in it), and
prints what a user came to see: the Table 2 analogue, which planted canaries were
extracted by repetition count, which planted contact data (e-mails, phones) the model
emitted verbatim by copy count, the audit table, the memorization headline, and where
the outputs are.

It knows the lab's layout and the printing; every computation is the library's. It lives
in jobs/ because it runs the Ray pipeline: memx/ (the library) never imports Ray.
"""

from __future__ import annotations

import os
import time

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from memx.config import parse_config
from memx.errors import ConfigError


def canaries_extracted(candidates: pa.Table, canaries: pa.Table) -> dict[int, tuple[int, int, int]]:
    """{repetitions: (among candidates, verified memorized, planted)}. A canary is extracted
    when a candidate contains its secret verbatim (the part no prefix gives away); it is also
    verified when that candidate passed `memx verify` (a long enough verbatim corpus span)."""
    texts = candidates.column("text").to_pylist()
    memorized = candidates.column("memorized").to_pylist()
    counts: dict[int, list[int]] = {}
    for secret, reps in zip(canaries.column("secret").to_pylist(), canaries.column("repetitions").to_pylist()):
        hits = [hit for text, hit in zip(texts, memorized) if secret in text]
        entry = counts.setdefault(int(reps), [0, 0, 0])
        entry[0] += int(bool(hits))
        entry[1] += int(any(hits))
        entry[2] += 1
    return {reps: tuple(entry) for reps, entry in sorted(counts.items())}


def canary_table(extracted: dict[int, tuple[int, int, int]]) -> Table:
    table = Table(title="Planted canaries whose secret a candidate contains")
    table.add_column("repetitions", justify="right")
    table.add_column("among candidates", justify="right")
    table.add_column("verified memorized", justify="right")
    for reps, (found, verified, total) in extracted.items():
        table.add_row(str(reps), f"{found}/{total}", f"{verified}/{total}")
    return table


def generated_texts(run) -> list[str]:
    """Every sample's generated text (its tokens' bytes; the prompt left out), for the planted table."""
    from memx.pipeline.stages import SAMPLES
    from memx.shards import read_shard
    from memx.verify.tokenbytes import PackedTable, load_tokenizer, token_byte_table

    table = PackedTable(token_byte_table(load_tokenizer(run.config.target.model, field="target.model")))
    return [table.bytes_of(ids).decode("utf-8", "replace") for spec in run.plan(SAMPLES)
            for ids in read_shard(run.storage, spec, ["token_ids"]).column("token_ids").to_pylist()]


def canary_extraction(run, lab) -> dict:
    """The lab's canaries by repetitions in probabilities, from the run's extraction windows."""
    from memx.pipeline.extraction_results import document_texts, window_rows
    from memx.lab import load_canaries
    from memx.lab.extraction import by_repetitions, canary_probabilities

    extraction = run.config.extraction
    if extraction is None or not isinstance(extraction.documents, list):
        return {}
    texts = document_texts(run, list(extraction.documents))
    if any(text is None for text in texts.values()):
        return {}
    return by_repetitions(canary_probabilities(load_canaries(lab).to_pylist(), texts, window_rows(run)))


def run_demo(out_dir: str, preset: str = "default", samples: int | None = None, redact: bool = True,
             console: Console | None = None) -> dict:
    from jobs.run import run_pipeline
    from memx.lab import audit_lab, build_lab, check_lab, lab_config, load_canaries
    from memx.lab.planted import planted_entities, planted_table, recovered_rows
    from memx.pipeline.candidates import CANDIDATES_KEY, read_table
    from memx.pipeline.extraction_results import read_extraction
    from memx.pipeline.memorization import read_memorization
    from memx.report.extraction import canary_extraction_lines, canary_extraction_section, extraction_headline
    from memx.report import render_table2, table2
    from memx.report.discoverable import canary_audit_section
    from memx.report.headline import headline_points, headline_table, metric_table
    from memx.pipeline.run import new_run

    console = console or Console()
    started = time.time()
    out_dir = os.path.abspath(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out: cannot create {out_dir} ({error.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise ConfigError(f"--out: {out_dir} is not writable")

    console.rule("[bold]1/4 lab")
    lab = build_lab(None, preset=preset)
    lab_seconds = time.time() - started
    raw = lab_config(lab)
    raw.update(output=out_dir, run_id=f"demo-{preset}")
    if samples:
        raw["generation"]["samples_per_strategy"] = samples
    config = parse_config(raw, source="demo config")
    run = new_run(config)

    console.rule("[bold]2/4 lab audit")
    audit = audit_lab(lab)
    # the audit is discoverable extraction with known ground truth: it joins the run's report
    parameters = {name: m.get("parameters") for name, m in check_lab(lab, hashes=False).get("models", {}).items()}
    audit_section = canary_audit_section(audit.to_dict(), parameters)

    console.rule("[bold]3/4 attack: generate -> score -> reduce -> verify -> exact extraction -> report")
    canary_p: dict = {}

    def report_sections(finished_run) -> list:
        canary_p.update(canary_extraction(finished_run, lab))
        extraction = finished_run.config.extraction
        canaries = canary_extraction_section(canary_p, extraction.suffix_tokens)
        return [audit_section] + ([canaries] if canaries else [])

    run_pipeline(run, log=console.print, redact=redact, report_extra=report_sections)
    candidates = read_table(run.storage, CANDIDATES_KEY)

    console.rule("[bold]4/4 results")
    strategies = list(config.generation.strategies)
    counts = table2(candidates, config.metric_names(), strategies)
    console.print(render_table2(counts, config.metric_names(), strategies))
    canaries = load_canaries(lab)
    extracted = canaries_extracted(candidates, canaries)
    console.print(canary_table(extracted))
    # the canaries that are personal data, typed by the detector (docs/personal-data.md)
    planted = planted_entities(zip(canaries.column("secret").to_pylist(), canaries.column("repetitions").to_pylist()))
    console.print(planted_table(recovered_rows(planted, generated_texts(run)), "Planted contact data emitted"))
    console.print(audit.render())
    memorization = read_memorization(run)
    if memorization is not None:
        for point in headline_points(memorization):  # one line per strategy, in a terminal or not
            console.print(point + ".", soft_wrap=not console.is_terminal)
        console.print(headline_table(memorization))
        console.print(metric_table(memorization))
    extraction = read_extraction(run)
    if extraction is not None:
        for line in extraction_headline(extraction):
            console.print(line, soft_wrap=not console.is_terminal)
    from memx.pipeline.membership import membership_summary_lines
    for line in membership_summary_lines(run):  # the lab's member / non-member pair (docs/membership.md)
        console.print(line, highlight=False, soft_wrap=True)
    if canary_p:
        console.print("Planted canaries: p_z of the best window holding the whole secret")
        for line in canary_extraction_lines(canary_p):
            console.print(line)
    from jobs.chat_demo import run_chat_demo  # the chat fine-tune (docs/chat.md)

    console.rule("[bold]chat: template, divergence and top_k against the xl's LoRA fine-tune")
    chat = run_chat_demo(lab, out_dir, console, redact=redact)
    wall = time.time() - started
    run_dir = run.uri
    console.print(f"wall time: {wall:.0f}s (lab {lab_seconds:.0f}s)")
    console.print(f"report:     {run_dir}/report.html")
    console.print(f"parquet:    {run_dir}/samples/, {run_dir}/scores/, {run_dir}/candidates.parquet", soft_wrap=True)
    # pyarrow comes with memx (pandas and duckdb may not); soft_wrap keeps each command on
    # one line so it can be copied as printed
    console.print(f"open with:  python -c \"import pyarrow.parquet as pq; "
                  f"print(pq.read_table('{run_dir}/candidates.parquet'))\"", soft_wrap=True)
    console.print(f"or:         memx inspect {run_dir} --top 20", soft_wrap=True)
    return {"config": config, "table2": counts, "canaries": extracted, "audit": audit, "seconds": wall,
            "memorization": memorization, "chat": chat}
