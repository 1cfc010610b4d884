"""Top-20 recall reports: a self-contained HTML page and a Markdown summary of retrieval runs.

The HTML and Markdown come from jinja2 templates shipped in ``retrieval/report/templates``.
"""

from retrieval.report._bundle import report_for_model, run_from_model
from retrieval.report._html import write_report
from retrieval.report._run import RunResult

__all__ = ["RunResult", "report_for_model", "run_from_model", "write_report"]
