"""render_report: one offline HTML document whose Table 2 cells equal counts computed
from the candidates table; personal data masked by default and shown with redact=False;
table2 definitions; inspect filters."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from rich.console import Console

from memx.report import TOTAL, inspect_table, render_report, render_table2, table2

from .conftest import EMAILS, METRICS, PHONES, STRATEGIES

SETTINGS = {"run_id": "demo", "target": {"model": "lab/xl"}, "selection": {"pool": 40, "per_config": 15}}
STATS = {"generate": {"samples": 120, "seconds": 2.0, "samples_per_s": 60.0},
         "score": {"samples": 120, "seconds": 4.0, "samples_per_s": 30.0}}


class _Cells(HTMLParser):
    """Collects Table 2 cells and every tag/attribute, and checks for external resources."""

    def __init__(self):
        super().__init__()
        self.cells, self.external, self._cell, self.tags = {}, [], None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for k in ("src", "href"):
            if k in a and not a[k].startswith("data:"):
                self.external.append(a[k])
        if tag == "td" and "data-metric" in a:
            self._cell = (a["data-metric"], a["data-strategy"])
            self.cells[self._cell] = ""

    def handle_data(self, data):
        if self._cell:
            self.cells[self._cell] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None


def _expected(cands):
    rows = cands.to_pylist()
    exp = {(m, s): sum(1 for r in rows if r["metric"] == m and r["strategy"] == s and r["memorized"])
           for m in METRICS for s in STRATEGIES}
    for s in STRATEGIES:
        exp[(TOTAL, s)] = len({r["sample_id"] for r in rows if r["strategy"] == s and r["memorized"]})
    return exp


def test_report_table2_matches_parquet(cands, scatter, tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(cands, tmp_path / "candidates.parquet")
    back = pq.read_table(tmp_path / "candidates.parquet")
    html = render_report(SETTINGS, STATS, back, scatter)
    p = _Cells()
    p.feed(html)
    p.close()
    got = {k: int(v) for k, v in p.cells.items()}
    assert got == _expected(back)
    assert p.external == [] and "script" not in p.tags and "link" not in p.tags
    assert "data:image/png;base64," in html and "<table id=\"table2\">" in html
    # total unique counts a sample chosen by several metrics once
    assert any(got[(TOTAL, s)] < sum(got[(m, s)] for m in METRICS) for s in STRATEGIES)


def test_redaction_default_and_off(cands, scatter):
    masked = render_report(SETTINGS, STATS, cands, scatter)
    plain = render_report(SETTINGS, STATS, cands, scatter, redact=False)
    for secret in EMAILS + PHONES:
        assert secret not in masked
    assert "j***@e***.com" in masked and "+* (***) ***-**99" in masked  # masked by type (memx.pii)
    for secret in EMAILS:
        assert secret in plain
    assert "+1 (415) 555-0199" in plain
    # sample text is escaped, never interpreted as markup
    assert "<b>&amp;" not in plain and "&lt;b&gt;&amp;amp;" in plain


def test_report_without_scatter_or_verification(cands):
    unverified = cands.drop_columns(["match_tokens", "memorized", "category"])
    html = render_report(SETTINGS, {}, unverified, None)
    p = _Cells()
    p.feed(html)
    assert set(p.cells.values()) == {"–"} and "Not verified" in html


def test_table2_definition(cands):
    t2 = table2(cands, METRICS, STRATEGIES)
    assert {(m, s): t2["counts"][m][s] for m in METRICS for s in STRATEGIES} == \
        {k: v for k, v in _expected(cands).items() if k[0] != TOTAL}
    assert t2["total"] == len({r["sample_id"] for r in cands.to_pylist() if r["memorized"]})
    assert t2["candidates"]["zlib"]["top_k"] == 15
    # subsets: the given order and only the given metrics count
    sub = table2(cands, ["zlib"], ["internet"])
    assert list(sub["counts"]) == ["zlib"] and sub["strategies"] == ["internet"]
    out = io.StringIO()
    Console(file=out, width=120).print(render_table2(t2))
    assert TOTAL in out.getvalue() and "ratio_small" in out.getvalue()


def _render(table) -> str:
    out = io.StringIO()
    Console(file=out, width=400).print(table)
    return out.getvalue()


def test_inspect_filters(cands):
    text = _render(inspect_table(cands, metric="zlib", strategy="internet", top=5))
    ids = list(dict.fromkeys(re.findall(r"internet-00000-\d{5}", text)))  # text repeats the id
    assert len(ids) == 5 and "top_k-" not in text and "perplexity" not in text
    rows = [r for r in cands.to_pylist() if r["metric"] == "zlib" and r["strategy"] == "internet"]
    assert ids[0] == min(rows, key=lambda r: r["rank"])["sample_id"]
    mem = _render(inspect_table(cands, memorized=True, top=1000))
    shown = set(re.findall(r"\w+-00000-\d{5}", mem))
    assert shown == {r["sample_id"] for r in cands.to_pylist() if r["memorized"]}
    assert "[bold]x[/bold]" in mem  # rich markup in sample text is shown, not applied


def test_inspect_redaction(cands):
    masked = _render(inspect_table(cands, top=1000))
    plain = _render(inspect_table(cands, top=1000, redact=False))
    assert not any(e in masked for e in EMAILS) and "j***@e***.com" in masked
    assert any(e in plain for e in EMAILS)


def test_inspect_unverified_filter_errors(cands):
    with pytest.raises(ValueError, match="memorized"):
        inspect_table(cands.drop_columns(["memorized"]), memorized=True)
    empty = _render(inspect_table(cands.slice(0, 0)))
    assert "top 0 candidates" in empty and not re.findall(r"\w+-00000-\d{5}", empty)


def test_order_from_config_settings(cands, scatter):
    settings = {"run_id": "demo", "references": [{"name": "small", "model": "lab/small"}],
                "scoring": {"metrics": ["zlib", "ratio", "perplexity", "window"]},
                "generation": {"strategies": ["internet", "top_k", "temperature"]}}
    html = render_report(settings, STATS, cands, scatter)
    p = _Cells()
    p.feed(html)
    keys = list(p.cells)
    assert [k[0] for k in keys[::3]] == ["zlib", "ratio_small", "perplexity", "window", TOTAL]
    assert [k[1] for k in keys[:3]] == ["internet", "top_k", "temperature"]
    assert p.cells[("window", "top_k")] == "0"  # a configured metric without candidates


def test_render_table2_picks_rows(cands):
    t2 = table2(cands, METRICS, STRATEGIES)
    text = _render(render_table2(t2, ["zlib"], ["top_k", "internet"]))
    assert "zlib" in text and "perplexity" not in text and "temperature" not in text


def test_sections_read_summaries_first_and_long_lists_after(cands, scatter):
    """A caller's section is one Section: a summary lands before the candidate list, a long
    one after it, both before the settings; their text is the template's, escaped by it."""
    from memx.report import Section

    html = render_report(SETTINGS, STATS, cands, scatter,
                         sections=[Section("A summary <of> something", "<p id=\"mine\">x</p>"),
                                   Section("A long list", "<table id=\"long\"></table>", long=True)])
    order = [html.index(marker) for marker in ("id=\"table2\"", "A summary &lt;of&gt; something", "id=\"mine\"",
                                               "id=\"candidates\"", "A long list", "id=\"long\"", "id=\"settings\"")]
    assert order == sorted(order)
