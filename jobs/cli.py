"""The `memx` command line (docs/commands.md): argument parsing and printing, nothing else.

It sits above the library and the Ray jobs (the composition root): each verb loads its
input, calls one function of memx/ or of jobs/, and prints the outcome; memx/ never calls
back up here. A verb on an existing RUN opens the run where the user points
(`memx.pipeline.run.open_run`), never where its config.json says it was made. Exit codes come
from jobs.exits (0 success, 2 bad input, 1 runtime failure). Heavy imports (torch, Ray)
happen inside the verbs so `memx --help` and config errors answer instantly.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer
from rich.console import Console

from jobs.exits import exit_code_of
from jobs.pii import pii
from memx.errors import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="memx: find the training data a language model has memorized (Carlini et al. 2021), at scale.")
index_app = typer.Typer(no_args_is_help=True, help="Verification indexes (infini-gram: byte- or token-level).")
lab_app = typer.Typer(no_args_is_help=True, help="The embedded victim: a model family with known training data.")
app.add_typer(index_app, name="index")
app.add_typer(lab_app, name="lab")
app.command()(pii)  # `memx pii FILE`: the personal data detector over a file (jobs/pii.py)
out = Console()

ENDPOINT_HELP = "S3-compatible endpoint for s3:// RUN URIs (default: $AWS_ENDPOINT_URL)."


def _config(path: str):
    from memx.config import load_config

    return load_config(path)


def _new_run(path: str):
    """The run a CONFIG file creates (or continues) at its `{output}/{run_id}`."""
    from memx.pipeline.run import new_run

    return new_run(_config(path))


def _open_run(uri: str, endpoint_url: str | None):
    """An existing run, at the URI given (RUN), with the config saved in it."""
    from memx.pipeline.run import open_run

    return open_run(uri, endpoint_url)


@app.command()
def demo(out_dir: str = typer.Option("./runs", "--out", help="Where the demo run is written."),
         preset: str = typer.Option("default", help="Lab preset (tiny is for tests)."),
         samples: Optional[int] = typer.Option(None, help="Samples per strategy (default: the lab's)."),
         no_redact: bool = typer.Option(False, "--no-redact", help="Show personal data unmasked.")):
    """Build (or reuse) the lab, run the whole attack on a local Ray on the CPU, verify, report."""
    from jobs.demo import run_demo

    run_demo(out_dir, preset=preset, samples=samples, redact=not no_redact, console=out)


@app.command()
def run(config: str = typer.Argument(..., help="YAML config (docs/config.md).")):
    """generate -> score -> reduce (-> verify) -> report on the Ray cluster in RAY_ADDRESS, else a local one."""
    handle = _new_run(config)  # a bad config is refused before torch and Ray are imported (seconds)
    from jobs.run import run_pipeline

    run_pipeline(handle, log=out.print)
    out.print(f"[green]done[/green]: {handle.uri}", soft_wrap=True)


def _stage(config: str, stages: tuple[str, ...]) -> None:
    handle = _new_run(config)  # a bad config is refused before torch and Ray are imported
    from cluster.schedule import start_and_run
    from jobs.run import log_stage_results

    results = start_and_run(handle, stages)
    log_stage_results(results, out.print)
    if not results:
        out.print("nothing to do: every shard is committed")


@app.command()
def generate(config: str = typer.Argument(..., help="YAML config.")):
    """Generate the sample shards that are missing (Ray actors, one model replica per GPU)."""
    from memx.pipeline.stages import SAMPLES

    _stage(config, (SAMPLES,))


@app.command()
def score(config: str = typer.Argument(..., help="YAML config.")):
    """Score every committed sample shard that has no score shard yet."""
    from memx.pipeline.stages import SCORES

    _stage(config, (SCORES,))


@app.command()
def extract(config: str = typer.Argument(..., help="YAML config with an `extraction` section (docs/formulas.md#extraction).")):
    """Exact extraction probability of every window of the section's documents (the `extraction`
    stage alone, shards that are missing), then extraction.json."""
    handle = _new_run(config)  # a bad config is refused before torch and Ray are imported
    if handle.config.extraction is None:
        raise ConfigError(f"{config}: extraction: the config has no `extraction` section (docs/formulas.md#extraction)")
    from cluster.schedule import start_and_run
    from jobs.run import log_stage_results
    from memx.pipeline.stages import EXTRACTION
    from memx.pipeline.steps import run_steps

    results = start_and_run(handle, (EXTRACTION,))
    log_stage_results(results, out.print)
    run_steps(handle, lambda line: out.print(line, soft_wrap=True), names=("extraction",))


@app.command()
def membership(config: str = typer.Argument(..., help="YAML config with a `membership` section (docs/membership.md).")):
    """Membership inference on labelled sets: the `membership` stage alone (shards that are
    missing), then membership.json and its verdict and table."""
    from cluster.schedule import start_and_run
    from jobs.run import log_stage_results
    from memx.pipeline.membership import read_membership
    from memx.pipeline.stages import MEMBERSHIP
    from memx.pipeline.steps import run_steps
    from memx.report.membership import membership_lines

    handle = _new_run(config)
    if handle.config.membership is None:
        raise ConfigError(f"{config}: membership: the config has no `membership` section (docs/membership.md)")
    log_stage_results(start_and_run(handle, (MEMBERSHIP,)), out.print)
    run_steps(handle, lambda line: out.print(line, soft_wrap=True), names=("membership",))
    for line in membership_lines(read_membership(handle))[1:]:  # the step's log line said the verdict
        out.print(line, highlight=False, soft_wrap=True)


@app.command()
def reduce(config: str = typer.Argument(..., help="YAML config.")):
    """Rank, de-duplicate and select the candidates (candidates.parquet)."""
    from memx.pipeline.candidates import reduce_stage

    table = reduce_stage(_new_run(config))
    out.print(f"candidates.parquet: {table.num_rows} rows")


@app.command()
def verify(config: str = typer.Argument(..., help="YAML config with a `verify` section.")):
    """Check each candidate against the training-corpus index (with `scope: all`, every sample
    first, then memorization.json); set match_tokens, memorized, category."""
    from jobs.run import verify_run

    verify_run(_new_run(config), log=lambda line: out.print(line, soft_wrap=True))


@app.command()
def submit(config: str = typer.Argument(..., help="YAML config."),
           address: str = typer.Option(..., help="Ray dashboard address, e.g. http://HEAD:8265."),
           wait: bool = typer.Option(False, "--wait", help="Follow the job's logs until it ends.")):
    """Submit `memx run CONFIG` as a Ray job (Jobs API); prints the job id."""
    from jobs.submit import submit_run

    code = submit_run(_config(config), config, address, wait, console=out)
    raise typer.Exit(code)


@app.command()
def status(run: str = typer.Argument(..., help="The run's URI: {output}/{run_id}."),
           endpoint_url: Optional[str] = typer.Option(None, help=ENDPOINT_HELP),
           fast: bool = typer.Option(False, "--fast", help="Skip checksums (sizes only)."),
           as_json: bool = typer.Option(False, "--json", help="Print the status as one JSON object.")):
    """Per stage: shards planned, committed, missing, corrupt, failed; samples; throughput."""
    from memx.pipeline.status_view import print_status, status_record

    handle = _open_run(run, endpoint_url)
    if as_json:
        print(json.dumps(status_record(handle, verify_checksums=not fast)))
        return
    print_status(handle, console=out, verify_checksums=not fast)


@app.command()
def resume(run: str = typer.Argument(..., help="The run's URI: {output}/{run_id}."),
           endpoint_url: Optional[str] = typer.Option(None, help=ENDPOINT_HELP)):
    """Rerun only what is missing or failed, in every stage, from the run's saved config."""
    from jobs.run import run_pipeline
    from memx.pipeline.steps import finished

    handle = _open_run(run, endpoint_url)
    if finished(handle):
        out.print(f"nothing to resume: {handle.uri} is complete", soft_wrap=True)
        return
    run_pipeline(handle, log=out.print)
    out.print(f"[green]done[/green]: {handle.uri}", soft_wrap=True)


@app.command()
def inspect(run: str = typer.Argument(..., help="The run's URI."),
            metric: Optional[str] = typer.Option(None), strategy: Optional[str] = typer.Option(None),
            memorized: Optional[bool] = typer.Option(None, "--memorized/--not-memorized"),
            top: int = typer.Option(20, min=1), no_redact: bool = typer.Option(False, "--no-redact"),
            summary: bool = typer.Option(False, "--summary", help="How much each strategy memorized and which "
                                         "metric finds it best (memorization.json), and the exact-extraction "
                                         "headline (extraction.json), instead of candidates."),
            endpoint_url: Optional[str] = typer.Option(None, help=ENDPOINT_HELP)):
    """A table of the top candidates in the terminal (or, with --summary, the run's headline)."""
    from memx.pipeline.candidates import CANDIDATES_KEY, read_table
    from memx.report import inspect_table

    handle = _open_run(run, endpoint_url)
    cfg = handle.config
    if summary:
        _print_summary(handle)
        return
    for option, value, known in (("--metric", metric, cfg.metric_names()),
                                 ("--strategy", strategy, list(cfg.generation.strategies))):
        if value is not None and value not in known:
            raise ConfigError(f"{option} {value}: not in this run (choose one of {', '.join(known)})")
    candidates = read_table(handle.storage, CANDIDATES_KEY)
    from memx.report.redact import Masking

    out.print(inspect_table(candidates, metric=metric, strategy=strategy, memorized=memorized, top=top,
                            redact=False if no_redact else Masking.of(cfg.personal_data)))


def _print_summary(handle) -> None:
    from memx.pipeline.extraction_results import read_extraction
    from memx.pipeline.memorization import read_memorization
    from memx.report.extraction import extraction_headline
    from memx.report.chat import chat_tables
    from memx.report.headline import headline_points, headline_table, metric_table

    memorization = read_memorization(handle)
    extraction = read_extraction(handle) if handle.config.extraction is not None else None
    if handle.config.membership is not None:  # the verdict in words, then the table (docs/membership.md)
        from memx.pipeline.membership import read_membership
        from memx.report.membership import membership_lines

        found = read_membership(handle)
        if found is None and memorization is None and extraction is None:
            raise ConfigError(f"--summary: {handle.uri} has no membership.json yet; run `memx resume {handle.uri}`")
        for line in membership_lines(found) if found else []:
            out.print(line, highlight=False, soft_wrap=True)
        if memorization is None and extraction is None:
            return
    for line in extraction_headline(extraction) if extraction else []:
        out.print(line, soft_wrap=not out.is_terminal)
    if memorization is None and extraction is not None:
        return
    if memorization is None:
        raise ConfigError(f"--summary: {handle.uri} has no memorization.json (it needs `verify.scope: all`, "
                          "which verifies every sample; set it in config.json's verify section and "
                          f"run `memx resume {handle.uri}`)")
    for point in headline_points(memorization):  # one line per strategy, in a terminal or not
        out.print(point + ".", soft_wrap=not out.is_terminal)
    out.print(headline_table(memorization))
    out.print(metric_table(memorization))
    from memx.report.personal_data import personal_data_lines  # docs/personal-data.md

    counts = memorization.personal_data or {}
    for line in personal_data_lines({name: c.model_dump() for name, c in counts.items()}):
        out.print(line, soft_wrap=True)
    for table in chat_tables(memorization):  # divergence and template beside top_k (docs/chat.md)
        out.print(table)


@app.command()
def report(run: str = typer.Argument(..., help="The run's URI."),
           out_file: Optional[str] = typer.Option(None, "--out", help="Write here instead of RUN/report.html."),
           no_redact: bool = typer.Option(False, "--no-redact", help="Show personal data unmasked."),
           endpoint_url: Optional[str] = typer.Option(None, help=ENDPOINT_HELP)):
    """The self-contained HTML report."""
    from memx.pipeline.report import report_stage

    out.print(report_stage(_open_run(run, endpoint_url), out_file, redact=not no_redact), soft_wrap=True)


@index_app.command("build")
def index_build(corpus: List[str] = typer.Argument(..., help="Text, jsonl or parquet files, or directories."),
                out_dir: str = typer.Option(..., "--out", help="Index directory to create."),
                tokenizer: Optional[str] = typer.Option(
                    None, "--tokenizer", help="Token-level index in this tokenizer's ids (HF id or directory; "
                    "u16 when its vocabulary fits, else u32); without it a byte-level index, for any tokenizer.")):
    """Build an infini-gram index of a training corpus (byte-level, or token-level with --tokenizer)."""
    if tokenizer is None:
        from memx.index import build_index

        info = build_index(corpus, out_dir)
    else:
        from memx.index_tokens import build_token_index

        info = build_token_index(corpus, out_dir, tokenizer)
    kind = f"{info['token_dtype']} tokens of {tokenizer}, {info['tokens']:,} tokens" if tokenizer else "bytes"
    out.print(f"index: {out_dir} ({info.get('documents', '?')} documents, {info.get('bytes', '?')} bytes; {kind})")


@lab_app.command("build")
def lab_build(preset: str = typer.Option("default", help="tiny | default"),
              out_dir: Optional[str] = typer.Option(None, "--out", help="Lab directory (default: a cache keyed by settings)."),
              seed: int = typer.Option(0)):
    """Build the lab: corpus with canaries, tokenizer, small/medium/xl models and a disjoint-data `out`
    reference, index, memx.yaml."""
    from memx.lab import build_lab

    path = build_lab(out_dir, preset=preset, seed=seed)
    out.print(f"lab: {path}\nrun it: memx run {path}/memx.yaml")


@lab_app.command("audit")
def lab_audit(lab: str = typer.Argument(..., help="A lab directory.")):
    """Greedy extraction of each canary's secret from its prefix, per repetition count x model size."""
    from memx.lab import audit_lab

    out.print(audit_lab(lab).render())


def main(argv: list[str] | None = None) -> int:
    return exit_code_of(lambda: app(args=argv, prog_name="memx", standalone_mode=False))


if __name__ == "__main__":
    sys.exit(main())
