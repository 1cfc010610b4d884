"""MkDocs hooks: pages marked with a placeholder get text generated from the code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(REPO / "benchmarks"))

import config_reference  # noqa: E402
import quality_tables  # noqa: E402
import sphinx_roles  # noqa: E402

GENERATED = {
    "<!-- generated: configuration reference -->": lambda: config_reference.reference(
        sphinx_roles.rendered
    ),
    "<!-- generated: quality tables -->": lambda: quality_tables.block(
        list(quality_tables.DEFAULT_RESULTS)
    ),
}
"""Each placeholder and what replaces it when a page holding it is built."""


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Put generated text in place of each placeholder the page holds."""
    for placeholder, make in GENERATED.items():
        if placeholder in markdown:
            markdown = markdown.replace(placeholder, make())
    return markdown
