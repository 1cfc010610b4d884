"""Top-20 recall reports: a self-contained HTML page and a Markdown summary of retrieval runs."""

from retrieval.report._bundle import report_for_retriever, run_from_retriever
from retrieval.report._html import write_report
from retrieval.report._run import RunResult, run_metrics

__all__ = ["RunResult", "report_for_retriever", "run_from_retriever", "run_metrics", "write_report"]
