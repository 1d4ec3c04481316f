"""Reporting: redaction, Table 2, figures, the self-contained HTML report, the inspect table.

Public API: `redact(text)`, `table2(candidates, metric_names, strategies)`,
`render_table2(t2)`, `inspect_table(candidates, ...)`, `render_report(settings, stats,
candidates, scatter, redact=True, sections=[Section(title, html, long)])`. Nothing here reads or writes run storage:
`memx.pipeline.report` gathers what a report needs from the run and writes report.html, and the
command line prints the terminal tables.
"""

from memx.report.html import Section, render_report, table2_html
from memx.report.redact import redact
from memx.report.tables import TOTAL, filter_candidates, inspect_table, render_table2, table2

__all__ = ["TOTAL", "Section", "filter_candidates", "inspect_table", "redact", "render_report",
           "render_table2", "table2", "table2_html"]
