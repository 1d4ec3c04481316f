"""`memx demo` end to end on the tiny lab, through the real CLI: the run completes, its
outputs follow docs/outputs.md, a planted canary repeated 16+ times is among the memorized
candidates, and the tables it prints equal the ones in the report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.support.cli import memx_in_process

STRATEGIES = ("top_k", "temperature", "internet", "prefix")


class _Table2Parser(HTMLParser):
    """Collects {(metric, strategy): count} from the report's <table id="table2"> cells."""

    def __init__(self):
        super().__init__()
        self.inside, self.cell, self.cells = False, None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "table2":
            self.inside = True
        elif self.inside and tag == "td" and "data-metric" in attrs:
            self.cell = (attrs["data-metric"], attrs["data-strategy"])
            self.cells[self.cell] = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        if tag == "td":
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cells[self.cell] += data.strip()


def _printed_table2(stdout: str, metrics: list[str]) -> dict[tuple[str, str], str]:
    """Rows of the printed Table 2: a box-drawn rich table, one metric per row."""
    cells = {}
    for line in stdout.splitlines():
        parts = [p.strip() for p in re.split(r"[│┃|]", line) if p.strip()]
        if len(parts) == 1 + len(STRATEGIES) and parts[0] in metrics:
            for strategy, value in zip(STRATEGIES, parts[1:]):
                cells[(parts[0], strategy)] = value
    return cells


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_lab):
    out = tmp_path_factory.mktemp("demo")  # the demo finds the session's tiny lab in $MEMX_CACHE
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "demo", "--preset", "tiny", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env={**__import__("os").environ,
                                                                              "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out / "demo-tiny", proc.stdout + proc.stderr  # memx output, whichever stream it took


def test_outputs_follow_the_spec_layout(demo_run):
    run_dir, _ = demo_run
    config = json.loads((run_dir / "config.json").read_text())
    for strategy in config["generation"]["strategies"]:
        samples = sorted((run_dir / "samples" / strategy).glob("shard-*.parquet"))
        scores = sorted((run_dir / "scores" / strategy).glob("shard-*.parquet"))
        manifests = sorted((run_dir / "_manifest" / "samples" / strategy).glob("shard-*.json"))
        assert samples and [p.name for p in samples] == [p.name for p in scores]
        assert [p.stem for p in manifests] == [p.stem for p in samples]
        assert re.fullmatch(r"shard-\d{5}", samples[0].stem)
        table = pq.read_table(samples[0])
        assert table.column_names[:7] == ["sample_id", "strategy", "shard", "seed", "prompt_ids", "token_ids", "text"]
        score = pq.read_table(scores[0])
        assert score.column("sample_id").to_pylist() == table.column("sample_id").to_pylist()
    candidates = pq.read_table(run_dir / "candidates.parquet")
    for column in ("sample_id", "strategy", "metric", "rank", "score", "text", "match_tokens", "memorized", "category"):
        assert column in candidates.column_names
    assert (run_dir / "report.html").stat().st_size > 1000


def test_a_canary_repeated_16_plus_times_is_memorized(demo_run):
    run_dir, _ = demo_run
    config = json.loads((run_dir / "config.json").read_text())
    lab = Path(config["target"]["model"]).parent.parent
    canaries = pq.read_table(lab / "canaries.parquet").to_pylist()
    candidates = pq.read_table(run_dir / "candidates.parquet").to_pylist()
    memorized = [c["text"] for c in candidates if c["memorized"]]
    frequent = [c for c in canaries if c["repetitions"] >= 16]
    assert any(c["secret"] in text for c in frequent for text in memorized)


def test_printed_tables_equal_the_report(demo_run):
    run_dir, stdout = demo_run
    metrics = [m for m in ("perplexity", "ratio_small", "ratio_medium", "ratio_out", "zlib", "lowercase", "window",
                           "min_k", "min_k_plus_plus")]
    printed = _printed_table2(stdout, metrics)
    parser = _Table2Parser()
    parser.feed((run_dir / "report.html").read_text())
    reported = {key: value for key, value in parser.cells.items() if key[0] in metrics}
    assert printed and printed == reported
    candidates = pq.read_table(run_dir / "candidates.parquet").to_pylist()
    for (metric, strategy), value in reported.items():
        expected = sum(1 for c in candidates if c["metric"] == metric and c["strategy"] == strategy and c["memorized"])
        assert int(value) == expected
    assert "report.html" in stdout


def test_printed_open_with_line_runs_as_printed(demo_run):
    """The line the demo prints for opening the Parquet outputs works with what memx installs."""
    _, stdout = demo_run
    line = next(line for line in stdout.splitlines() if line.startswith("open with:"))
    command = line.removeprefix("open with:").strip().replace("python ", f"{sys.executable} ", 1)
    opened = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert opened.returncode == 0, opened.stderr
    assert "sample_id" in opened.stdout and "memorized" in opened.stdout


def test_candidate_text_and_score_belong_to_the_same_sample(demo_run):
    """The paper's script printed one sample's text beside another's score for 15 months:
    recompute the zlib score of candidates from their own text and their own scores row."""
    import zlib

    import pyarrow as pa

    run_dir, _ = demo_run
    candidates = pq.read_table(run_dir / "candidates.parquet").to_pylist()
    samples = pa.concat_tables([pq.read_table(p, columns=["sample_id", "text"])
                                for p in sorted((run_dir / "samples").rglob("shard-*.parquet"))])
    scores = pa.concat_tables([pq.read_table(p, columns=["sample_id", "nll_target", "score_zlib"])
                               for p in sorted((run_dir / "scores").rglob("shard-*.parquet"))])
    text_of = dict(zip(samples.column("sample_id").to_pylist(), samples.column("text").to_pylist()))
    nll_of = dict(zip(scores.column("sample_id").to_pylist(), scores.column("nll_target").to_pylist()))
    zlib_rows = [c for c in candidates if c["metric"] == "zlib"]
    assert zlib_rows
    for row in zlib_rows:
        assert row["text"] == text_of[row["sample_id"]]
        recomputed = len(zlib.compress(row["text"].encode("utf-8"))) / nll_of[row["sample_id"]]
        assert row["score"] == pytest.approx(recomputed, rel=1e-9)


def test_inspect_and_report_on_the_finished_run(demo_run, tmp_path):
    run_dir, _ = demo_run
    shown = memx_in_process("inspect", run_dir, "--metric", "zlib", "--top", "3")
    assert shown.returncode == 0 and "zlib  score" in shown.stdout
    for option, value in (("--metric", "bogus"), ("--strategy", "nope")):
        refused = memx_in_process("inspect", run_dir, option, value)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and f"{option} {value}" in refused.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a directory is expected")
    refused = memx_in_process("report", run_dir, "--out", blocker / "report.html")
    assert refused.returncode == 2 and refused.stderr.startswith("memx: error: --out:"), refused.stderr
    written = memx_in_process("report", run_dir, "--out", tmp_path / "copy.html")
    assert written.returncode == 0 and "<html" in (tmp_path / "copy.html").read_text()[:500].lower()
    assert not list(tmp_path.glob("*.tmp"))


def test_every_sample_is_verified_and_memorization_json_says_how_much(demo_run):
    """The demo runs `verify.scope: all`: a verified sidecar per sample shard, memorization.json
    in the layout (docs/formulas.md#span) whose counts are those of the sidecars, the headline printed, and no
    library warning in memx's output."""
    run_dir, stdout = demo_run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["verify"]["scope"] == "all"
    memorization = json.loads((run_dir / "memorization.json").read_text())
    threshold = config["verify"]["min_match_tokens"]
    for strategy in config["generation"]["strategies"]:
        samples = sorted((run_dir / "samples" / strategy).glob("shard-*.parquet"))
        verified = sorted((run_dir / "verified" / strategy).glob("shard-*.parquet"))
        assert [p.name for p in verified] == [p.name for p in samples]
        match = [n for p in verified for n in pq.read_table(p).column("match_tokens").to_pylist()]
        entry = memorization["strategies"][strategy]
        assert entry["samples"] == len(match) and entry["memorized"] == sum(n >= threshold for n in match)
        for metric, per in memorization["metrics"].items():
            assert set(per[strategy]["precision_at"]) == {"10", "100", "1000"}
            assert set(per[strategy]["tpr_at_fpr"]) == {"0.01", "0.001"}
    assert "samples memorized" in stdout and "Which metric finds it" in stdout
    for strategy in config["generation"]["strategies"]:  # one line each, though stdout is no terminal
        assert re.search(rf"^{strategy}: [\d,]+ of [\d,]+ samples memorized", stdout, re.M), strategy
    assert "WARNING" not in stdout
    assert "Warning: " not in stdout, [line for line in stdout.splitlines() if "Warning: " in line][:3]  # Python's
    status = subprocess.run([sys.executable, "-m", "jobs.cli", "status", str(run_dir)], capture_output=True,
                            text=True, timeout=120)
    assert re.search(r"^verified\s", status.stdout, re.M) and "every shard is committed" in status.stdout
    summary = subprocess.run([sys.executable, "-m", "jobs.cli", "inspect", str(run_dir), "--summary"],
                             capture_output=True, text=True, timeout=120)
    assert summary.returncode == 0 and "ranks best" in summary.stdout


def test_prefix_runs_over_the_lab_corpus_and_the_report_shows_the_canary_audit(demo_run):
    run_dir, _ = demo_run
    discoverable = json.loads((run_dir / "discoverable.json").read_text())
    block = discoverable["strategies"]["prefix"]
    scores = [pq.read_table(p) for p in sorted((run_dir / "scores" / "prefix").glob("shard-*.parquet"))]
    assert block["rows"] == sum(t.num_rows for t in scores)
    assert block["exact"] == sum(sum(t.column("exact").to_pylist()) for t in scores)
    assert "duplication" in discoverable  # the lab verifies, so every sequence is counted in its index
    report = (run_dir / "report.html").read_text()
    assert "id=\"discoverable\"" in report and "id=\"canary-audit\"" in report
    audit = json.loads((Path(json.loads((run_dir / "config.json").read_text())["target"]["model"]).parent.parent
                        / "audit.json").read_text())
    assert set(audit["models"]) == {"small", "medium", "xl", "out"}


def test_the_demo_measures_exact_extraction_and_the_canaries_light_up(demo_run):
    """docs/formulas.md#extraction in the demo: extraction.json over the lab's documents with and without canaries,
    the report's summary, (n, p) table, maps and the canaries' p_z by repetitions, printed too."""
    run_dir, stdout = demo_run
    config = json.loads((run_dir / "config.json").read_text())
    section = config["extraction"]
    summary = json.loads((run_dir / "extraction.json").read_text())
    shards = sorted((run_dir / "extraction" / section["name"]).glob("shard-*.parquet"))
    rows = sum(pq.read_table(p).num_rows for p in shards)
    k = str(section["prefix_tokens"][0])
    assert summary["prefix_tokens"][k]["windows"] == rows > 0
    assert summary["settings"]["documents_read"] == len(section["documents"])
    assert "duplication" in summary  # the lab verifies: every window is counted in its index
    report = (run_dir / "report.html").read_text()
    for table in ("extraction-summary", "extraction-queries", "extraction-maps", "canary-extraction"):
        assert f"id=\"{table}\"" in report, table
    assert "exact extraction:" in stdout and "Planted canaries: p_z" in stdout


def _planted_values(lab: Path) -> list[str]:
    """Every planted value the detector finds whole: the contact canaries' e-mails and phones,
    and the chat lab's customers' e-mails, phones, IBANs and cards."""
    from memx.lab.planted import planted_entities

    canaries = pq.read_table(lab / "canaries.parquet").to_pylist()
    values = [(c["secret"], c["repetitions"]) for c in canaries]
    if (lab / "customers.parquet").is_file():
        for row in pq.read_table(lab / "customers.parquet").to_pylist():
            values += [(row[field], row["copies"]) for field in ("email", "phone", "iban", "card")]
    return [p.value for p in planted_entities(values)]


def test_no_planted_personal_data_is_shown_whole(demo_run, tmp_path):
    """Without --no-redact, no planted value the detector finds appears whole in report.html,
    in `memx inspect` (every candidate) or in `memx inspect --summary`; the verified shards and
    candidates.parquet list the personal data of memorized spans (values read at the listed
    offsets are what the detector finds there), memorization.json counts them per strategy,
    and the demo printed its planted table."""
    from memx.pii import TYPES, detect, personal_data_by_strategy

    run_dir, stdout = demo_run
    config = json.loads((run_dir / "config.json").read_text())
    lab = Path(config["target"]["model"]).parent.parent
    planted = _planted_values(lab)
    assert any("@" in v for v in planted) and len(planted) >= 6
    shown = {"report.html": (run_dir / "report.html").read_text(),
             "inspect": memx_in_process("inspect", run_dir, "--top", "1000").stdout,
             "inspect --memorized": memx_in_process("inspect", run_dir, "--memorized", "--top", "1000").stdout,
             "inspect --summary": memx_in_process("inspect", run_dir, "--summary").stdout}
    for where, text in shown.items():
        assert len(text) > 200, where
        leaked = [v for v in planted if v in text]
        assert not leaked, f"{where} shows {leaked}"
    assert "id=\"personal-data\"" in shown["report.html"]
    assert "Personal data in memorized spans:" in shown["inspect --summary"]
    lines = shown["inspect --summary"].split("Personal data in memorized spans:")[1].strip("\n").splitlines()
    assert lines and all(len(line) <= 80 and line.startswith("  ") for line in lines)
    assert "Planted contact data emitted" in stdout

    threshold = config["verify"]["min_match_tokens"]
    strategies, memorized, texts, lists = [], [], [], []
    for strategy in config["generation"]["strategies"]:
        for path in sorted((run_dir / "verified" / strategy).glob("shard-*.parquet")):
            verified = pq.read_table(path)
            samples = pq.read_table(run_dir / "samples" / strategy / path.name, columns=["text"])
            for n, text, entities in zip(verified.column("match_tokens").to_pylist(),
                                         samples.column("text").to_pylist(),
                                         verified.column("personal_data").to_pylist()):
                if n < threshold:
                    assert entities == []
                found = {(e.start, e.end): e.type for e in detect(text)}
                for e in entities:  # a private key cut by the span's end is listed to the span's end
                    assert e["type"] == "private_key" or found.get((e["start"], e["end"])) == e["type"]
                strategies.append(strategy)
                memorized.append(n >= threshold)
                texts.append(text)
                lists.append(entities)
    expected = personal_data_by_strategy(strategies, memorized, texts, lists, TYPES)
    assert json.loads((run_dir / "memorization.json").read_text())["personal_data"] == expected
    candidates = pq.read_table(run_dir / "candidates.parquet").to_pylist()
    for row in candidates:
        assert row["memorized"] or row["personal_data"] == []
