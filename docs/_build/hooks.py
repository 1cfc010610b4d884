"""MkDocs hooks: pages marked with a placeholder get text generated from the code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import config_reference  # noqa: E402
import sphinx_roles  # noqa: E402

PLACEHOLDER = "<!-- generated: configuration reference -->"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Put the configuration reference in place of its placeholder."""
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, config_reference.reference(sphinx_roles.rendered))
    return markdown
