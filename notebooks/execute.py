"""Write each ``notebooks/NN_*.ipynb`` from its jupytext source, executed, outputs included.

Usage: ``python notebooks/execute.py [notebooks/05_exercises.py ...]`` (default: all of them;
``make notebooks`` runs it). Cells run in the ``notebooks/`` folder, as in Jupyter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat

import retrieval
from retrieval.cli._quiet import is_noise
from retrieval.config import RunConfig
from retrieval.workflows import demo_config

HERE = Path(__file__).resolve().parent


def _without_native_noise(notebook: nbformat.NotebookNode) -> None:
    """Drop TensorFlow's native start-up lines from stderr outputs."""
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [
                    line
                    for line in output["text"].splitlines(keepends=True)
                    if not is_noise(line)
                ]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        if cell.cell_type == "code":
            cell["outputs"] = kept


def made_by() -> dict[str, str]:
    """What a notebook's outputs were made with: the package version and the defaults' digests.

    ``tests/test_notebooks.py`` fails when a committed notebook records other defaults than
    the package has now, so outputs made by an older default cannot stay unnoticed.
    """
    return {
        "version": retrieval.__version__,
        "default_config": RunConfig().digest(),
        "demo_config": demo_config().digest(),
    }


def execute(source: Path) -> Path:
    """Convert ``source`` to a notebook, run every cell, and write it beside the source."""
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(HERE)}}
    ).execute()
    _without_native_noise(notebook)
    notebook.metadata["retrieval"] = made_by()
    target = source.with_suffix(".ipynb")
    nbformat.write(notebook, target)
    return target


if __name__ == "__main__":
    sources = [Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("[0-9]*.py"))
    for source in sources:
        print(execute(source), flush=True)
