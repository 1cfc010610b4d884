"""README.md stays true: its imports exist, its commands exist, its figures name their commands."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from retrieval.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
IMPORTS = sorted(
    {
        (module, name.strip())
        for block in PYTHON_BLOCKS
        for module, names in re.findall(r"^from (retrieval[\w.]*) import (.+)$", block, flags=re.M)
        for name in names.split(",")
    }
)


def test_the_readme_has_python_examples_to_check() -> None:
    assert len(PYTHON_BLOCKS) >= 8
    assert len(IMPORTS) >= 20


@pytest.mark.parametrize(("module", "name"), IMPORTS, ids=[f"{m}.{n}" for m, n in IMPORTS])
def test_every_name_the_readme_imports_exists(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"README imports {module}.{name}"


def test_every_command_in_the_readme_table_is_a_subcommand() -> None:
    table = TEXT.split("## Command line", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `retrieval (\w+)", table, flags=re.M))
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert named, "the command table is empty"
    assert named == subcommands


def test_every_config_the_readme_names_exists() -> None:
    root = README.parent
    for path in set(re.findall(r"configs/[\w/]+\.toml", TEXT)):
        assert (root / path).is_file(), path


def test_every_benchmark_the_readme_quotes_exists() -> None:
    root = README.parent
    for path in set(re.findall(r"benchmarks/\w+\.py", TEXT)):
        assert (root / path).is_file(), path


def test_the_quality_tables_are_the_results_files() -> None:
    """README's quality block is what benchmarks/quality_readme.py writes from the results."""
    import sys

    sys.path.insert(0, str(README.parent / "benchmarks"))
    try:
        import quality_readme
    finally:
        sys.path.pop(0)
    inside = TEXT.split(quality_readme.START, 1)[1].split(quality_readme.END, 1)[0]
    assert inside.strip() == quality_readme.block(list(quality_readme.DEFAULT_RESULTS)).strip()
