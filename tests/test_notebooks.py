"""The notebooks are kept as jupytext sources (``notebooks/*.py``); the ``.ipynb`` files match them."""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9]*.py"))


def _cells(path: Path) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in jupytext.read(path).cells]


def test_there_are_notebooks() -> None:
    assert len(SOURCES) >= 4


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_notebook_matches_its_source(source: Path) -> None:
    notebook = source.with_suffix(".ipynb")
    assert notebook.is_file(), f"{notebook.name} is missing: run `make notebooks`"
    assert _cells(notebook) == _cells(source), (
        f"{notebook.name} differs from {source.name}: run `make notebooks`"
    )
