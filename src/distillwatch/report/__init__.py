"""report: render findings and scores as the spec's files and an offline HTML case file."""

from distillwatch.report._charts import timeline_svg
from distillwatch.report._files import (
    ACCOUNTS_CSV_COLUMNS,
    write_accounts_csv,
    write_findings_jsonl,
)
from distillwatch.report._html import render_report, write_report

__all__ = [
    "ACCOUNTS_CSV_COLUMNS",
    "render_report",
    "timeline_svg",
    "write_accounts_csv",
    "write_findings_jsonl",
    "write_report",
]
