"""Top-20 recall reports: a self-contained HTML page and a Markdown summary of retrieval runs."""

from retrieval.report._html import write_report
from retrieval.report._run import RunResult, run_metrics

__all__ = ["RunResult", "run_metrics", "write_report"]
