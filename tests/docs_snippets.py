"""Run the code blocks of a Markdown page as a reader would, and compare what they print.

A page's blocks run in order, in one folder that holds links to the repository's ``data/``
and ``configs/``, so a later block may use what an earlier one made:

- ```` ```python ````: executed; names carry over to the page's later blocks.
- ```` ```pycon ````: a doctest session in the same names; its shown output is compared.
- ```` ```console ````: each ``$ command`` runs in bash, and its stdout is compared with the
  lines below it up to the next ``$``; ``...`` stands for a variable part (doctest's
  ``ELLIPSIS``), and whitespace runs compare equal.
- ```` ```bash ````: a listing of commands (some need Kaggle, your pictures or a download);
  each ``retrieval`` command in it must parse with the package's command line.
- ```` ```toml ````: a configuration, which must load as a ``RunConfig``.

Any other block (``text``) is not run.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its text and the line of the page it starts on."""

    language: str
    code: str
    line: int


def blocks(text: str) -> list[Block]:
    """The page's fenced blocks, in order."""
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


def commands(listing: str) -> list[str]:
    """The command lines of a shell listing: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", listing)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(shlex.join(words))
    return out


def console_steps(code: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` for each ``$ `` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"console block output before any '$ ' command: {line!r}")
    return [(command, "\n".join(lines) + "\n" if lines else "") for command, lines in steps]


def matches(expected: str, got: str) -> bool:
    """Whether ``got`` is what ``expected`` shows, ``...`` standing for any text."""
    return doctest.OutputChecker().check_output(expected, got, FLAGS)


def prepare_folder(folder: Path) -> None:
    """A working folder that sees the repository's data and configurations."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("data", "configs"):
        link = folder / name
        if not link.exists():
            link.symlink_to(REPO / name, target_is_directory=True)


def environment(home: Path) -> dict[str, str]:
    """The environment commands run in: the interpreter's scripts first, a private home."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["XDG_DATA_HOME"] = str(home / "share")
    env.setdefault("XDG_CACHE_HOME", str(home / "cache"))
    env["PYTHONPATH"] = str(REPO)
    return env


def run_console(block: Block, folder: Path, env: dict[str, str], page: str) -> None:
    """Run each command of a console block and compare its output."""
    for command, expected in console_steps(block.code):
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        where = f"{page}:{block.line}: $ {command}"
        assert done.returncode == 0, f"{where}\nexit {done.returncode}\n{done.stderr[-3000:]}"
        assert matches(expected, done.stdout), (
            f"{where}\n--- shown\n{expected}--- printed\n{done.stdout}"
        )


def run_python(block: Block, namespace: dict, page: str) -> None:
    """Execute a python block in the page's names."""
    code = compile(block.code, f"{page}:{block.line}", "exec")
    exec(code, namespace)  # noqa: S102 - the page's own example code


def run_pycon(block: Block, namespace: dict, page: str) -> None:
    """Run a pycon block as a doctest in the page's names; fail on any difference."""
    test = doctest.DocTestParser().get_doctest(block.code, namespace, page, page, block.line)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)


def run_page(path: Path, folder: Path) -> None:
    """Run every block of one page in ``folder``."""
    page = str(path.relative_to(REPO))
    prepare_folder(folder)
    env = environment(folder / ".home")
    namespace: dict = {"__name__": "__docs__"}
    previous = Path.cwd()
    saved_env = dict(os.environ)
    os.chdir(folder)
    os.environ.update({k: env[k] for k in ("XDG_DATA_HOME", "XDG_CACHE_HOME")})
    try:
        for block in blocks(path.read_text(encoding="utf-8")):
            if block.language == "console":
                run_console(block, folder, env, page)
            elif block.language == "python":
                run_python(block, namespace, page)
            elif block.language == "pycon":
                run_pycon(block, namespace, page)
    finally:
        os.chdir(previous)
        os.environ.clear()
        os.environ.update(saved_env)
