"""README.md and the documentation site stay true: their code runs and prints what they show,
their commands and configurations exist, their figures come from the results files, and the
site builds with ``mkdocs build --strict`` (which also checks links and anchors)."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.cli import build_parser
from retrieval.config import RunConfig
from tests import docs_snippets
from tests.docs_snippets import REPO, blocks, commands, console_steps, matches

README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
RUNNABLE = [
    p
    for p in PAGES
    if any(
        b.language in ("python", "pycon", "console") for b in blocks(p.read_text(encoding="utf-8"))
    )
]
BUILD = DOCS / "_build"


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _module(name: str, folder: Path):
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


# --- the checker itself --------------------------------------------------------------------


def test_console_steps_pair_each_command_with_its_output() -> None:
    steps = console_steps("$ echo a\na\n$ true\n$ printf 'x\\ny'\nx\ny\n")
    assert steps == [("echo a", "a\n"), ("true", ""), ("printf 'x\\ny'", "x\ny\n")]
    with pytest.raises(ValueError, match="before any"):
        console_steps("output first\n$ echo a\n")


def test_shown_output_must_match_except_where_elided() -> None:
    assert matches("score 0.5164\n", "score 0.5164\n")
    assert not matches("score 0.5164\n", "score 0.5069\n")
    assert matches("done in ... s\n", "done in 27 s\n")
    assert matches("...\nlast line\n", "first\nsecond\nlast line\n")
    assert not matches("a\nb\n", "a\n")


def test_listings_join_continuations_and_drop_comments() -> None:
    listing = (
        "retrieval train --root R \\\n    --out O   # comment\n\n# only a comment\nmake demo\n"
    )
    assert commands(listing) == ["retrieval train --root R --out O", "make demo"]


def test_a_console_block_that_prints_something_else_fails(tmp_path: Path) -> None:
    page = DOCS / "x.md"
    block = docs_snippets.Block("console", "$ echo 2\n1\n", 1)
    env = docs_snippets.environment(tmp_path)
    with pytest.raises(AssertionError, match="shown"):
        docs_snippets.run_console(block, tmp_path, env, _name(page))


def test_a_pycon_block_with_a_wrong_output_fails() -> None:
    block = docs_snippets.Block("pycon", ">>> 1 + 1\n3\n", 1)
    with pytest.raises(AssertionError, match="Expected"):
        docs_snippets.run_pycon(block, {}, "x.md")


# --- every page ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=[_name(p) for p in RUNNABLE])
def test_every_code_block_runs_and_prints_what_the_page_shows(page: Path, tmp_path: Path) -> None:
    docs_snippets.run_page(page, tmp_path / "work")


def test_there_are_pages_to_run() -> None:
    names = {_name(p) for p in RUNNABLE}
    assert {"README.md", "docs/guide/python-api.md", "docs/tutorial/competition.md"} <= names


def _retrieval_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in blocks(_text(page)):
            if block.language == "bash":
                lines = commands(block.code)
            elif block.language == "console":
                lines = [command for command, _ in console_steps(block.code)]
            else:
                continue
            found += [
                (f"{_name(page)}:{block.line}", line)
                for line in lines
                if line.startswith("retrieval ")
            ]
    return found


COMMANDS = _retrieval_commands()


@pytest.mark.parametrize(
    ("where", "line"), COMMANDS, ids=[f"{where} {line[:40]}" for where, line in COMMANDS]
)
def test_every_retrieval_command_shown_parses(where: str, line: str) -> None:
    words = shlex.split(line.split(" 2>", 1)[0].split(" >", 1)[0].split(" |", 1)[0])[1:]
    parser = build_parser()
    parser.exit_on_error = False
    for action in parser._subparsers._group_actions[0].choices.values():  # noqa: SLF001
        action.exit_on_error = False
    try:
        parser.parse_args(words)
    except (argparse.ArgumentError, SystemExit) as exc:
        pytest.fail(f"{where}: {line!r} does not parse: {exc}")


def test_every_toml_block_is_a_valid_configuration() -> None:
    import tomllib

    found = 0
    for page in PAGES:
        for block in blocks(_text(page)):
            if block.language == "toml":
                RunConfig.from_dict(tomllib.loads(block.code), source=f"{_name(page)}:{block.line}")
                found += 1
    assert found >= 1


def test_every_config_and_benchmark_named_exists() -> None:
    for page in PAGES:
        text = _text(page)
        for path in set(
            re.findall(
                r"(?<![\w/(])(?:configs/[\w/]+\.toml|benchmarks/[\w/]+\.(?:py|md|json))", text
            )
        ):
            assert (REPO / path).is_file(), f"{_name(page)} names {path}"


def test_every_name_imported_exists() -> None:
    imported = set()
    for page in PAGES:
        for block in blocks(_text(page)):
            if block.language in ("python", "pycon"):
                code = re.sub(r"^(>>>|\.\.\.) ?", "", block.code, flags=re.M)
                code = re.sub(r"\(\s*\n([^)]*)\)", lambda m: m.group(1).replace("\n", " "), code)
                for module, names in re.findall(
                    r"^from (retrieval[\w.]*) import (.+)$", code, flags=re.M
                ):
                    imported |= {(module, n.strip()) for n in names.split(",") if n.strip()}
    assert len(imported) >= 20
    for module, name in sorted(imported):
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"


def test_readme_links_point_at_files_that_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", _text(README)):
        if not target.startswith("http"):
            assert (REPO / target).exists(), f"README links to {target}"


# --- README ----------------------------------------------------------------------------------


def test_readme_is_a_front_door_not_a_manual() -> None:
    assert len(README.read_bytes()) <= 12_500


def test_readme_quotes_no_figure_that_is_not_checked() -> None:
    """README's figures are the outputs of its console blocks (run) and the generated table."""
    tables = _module("quality_tables", REPO / "benchmarks")
    text = _text(README)
    before, rest = text.split(tables.START, 1)
    prose = docs_snippets.FENCE.sub("", before + rest.split(tables.END, 1)[1])
    prose = re.sub(r"Python \d+\.\d+|https?://\S+", "", prose)  # a version, an address
    assert not re.findall(r"\b\d+\.\d+\b", prose), (
        "README quotes a figure outside its checked parts"
    )


def test_readme_command_table_lists_every_subcommand() -> None:
    table = _text(README).split("## Command line", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `retrieval (\w+)", table, flags=re.M))
    assert named == set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001


def test_readme_quality_table_is_the_results_files() -> None:
    tables = _module("quality_tables", REPO / "benchmarks")
    inside = _text(README).split(tables.START, 1)[1].split(tables.END, 1)[0]
    assert inside.strip() == tables.headline(list(tables.DEFAULT_RESULTS)).strip()
    assert inside.count("\n| data/") == 6


# --- figures come from results files -------------------------------------------------------


def test_benchmark_pages_hold_no_hand_copied_table() -> None:
    for page in sorted((DOCS / "benchmarks").glob("*.md")):
        rows = [
            line
            for line in _text(page).splitlines()
            if line.startswith("|") and re.search(r"\d", line)
        ]
        assert not rows, f"{_name(page)} copies a table by hand: {rows[0]}"


def test_benchmark_pages_quote_no_figure_outside_results_files() -> None:
    """Every decimal on the benchmark pages comes from an included results file (or, on the
    quality page, from its generated tables), none is typed into their prose."""
    pages = sorted(p.name for p in (DOCS / "benchmarks").glob("*.md"))
    assert {"feedback.md", "index.md", "quality.md", "speed.md"} <= set(pages)
    for name in pages:
        prose = docs_snippets.FENCE.sub("", _text(DOCS / "benchmarks" / name))
        prose = re.sub(r'^--8<-- "[^"]+"$', "", prose, flags=re.M)
        # a version (of Python, of the package, of a library), an address
        prose = re.sub(
            r"\b(?:Python|[Vv]ersion|Keras|keras-hub) \d+(?:\.\d+)+|https?://\S+", "", prose
        )
        figures = re.findall(r"\b\d+\.\d+\b", prose)
        assert not figures, f"docs/benchmarks/{name} types figures by hand: {figures}"


def test_benchmark_pages_include_results_files_that_exist() -> None:
    included = []
    for page in sorted((DOCS / "benchmarks").glob("*.md")):
        for path in re.findall(r'^--8<-- "([^"]+)"', _text(page), flags=re.M):
            assert (REPO / path).is_file(), f"{_name(page)} includes {path}"
            included.append(path)
    assert len(included) >= 10


def test_the_quality_page_is_generated_from_the_results() -> None:
    hooks = _module("hooks", BUILD)
    page = hooks.on_page_markdown(_text(DOCS / "benchmarks" / "quality.md"))
    assert "<!-- generated" not in page
    for line in (REPO / "benchmarks" / "results" / "quality_lite.md").read_text().splitlines():
        if line.startswith("| default (configs/default.toml) + tags"):
            test_score = line.split(" | ")[3]
            assert test_score in page


# --- generated reference pages --------------------------------------------------------------


def test_configuration_reference_lists_every_key_with_its_default() -> None:
    import dataclasses

    reference = _module("config_reference", BUILD).reference()
    config = RunConfig()
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if dataclasses.is_dataclass(value):
            assert f"## `[{section.name}]`" in reference
            for key in dataclasses.fields(value):
                assert f"| `{key.name}` |" in reference, f"[{section.name}] {key.name}"
    assert "| `epochs` | integer, at least 0 | `3` |" in reference  # the neural mapping's
    assert '| `loss` | one of "rmse", "triplet", "contrastive" | `"contrastive"` |' in reference


def test_docstring_roles_and_doctests_render_as_markdown() -> None:
    roles = _module("sphinx_roles", BUILD)
    text = roles.rendered(
        "See :class:`~retrieval.core.Gallery` and :func:`load`.\n\n>>> 1 + 1\n2\n\nAfter."
    )
    assert text.startswith("See [`Gallery`][retrieval.core.Gallery] and `load`.")
    assert "```pycon\n>>> 1 + 1\n2\n```\n" in text
    assert text.rstrip().endswith("After.")


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()
    assert (tmp_path / "site" / "notebooks" / "05_exercises" / "index.html").is_file()
