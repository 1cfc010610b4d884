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


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_notebook_was_run_with_the_current_defaults(source: Path) -> None:
    import json

    from retrieval.config import RunConfig
    from retrieval.workflows import demo_config

    made = json.loads(source.with_suffix(".ipynb").read_text()).get("metadata", {}).get("retrieval")
    assert made, f"{source.stem}.ipynb records nothing of what made it: run `make notebooks`"
    assert (made["default_config"], made["demo_config"]) == (
        RunConfig().digest(),
        demo_config().digest(),
    ), f"{source.stem}.ipynb was run with other defaults than the package's: run `make notebooks`"
