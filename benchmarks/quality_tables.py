"""The quality study's tables, made from the results files (never copied by hand).

- :func:`block`: for each dataset its heading, a table of the main columns and the targets
  table; the documentation site's quality page is built with it (``docs/_build/hooks.py``).
- :func:`headline`: one table of every dataset's targets rows, README's block between
  ``<!-- quality:start -->`` and ``<!-- quality:end -->``, which this script rewrites.
  ``tests/test_docs.py`` fails when README's block differs from what it writes.

Usage: ``python benchmarks/quality_tables.py [RESULTS.md ...]`` (default: the Lite0 study's
files, demo first).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DEFAULT_RESULTS = (
    REPO / "benchmarks" / "results" / "quality_lite_demo.md",
    REPO / "benchmarks" / "results" / "quality_lite.md",
)
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
SHOWN = ("method", "CV", "test", "R@1", "R@20", "median rank", "vs ridge", "p")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def sections(text: str) -> list[tuple[str, list[list[str]], list[str]]]:
    """Each dataset's heading, its main table's rows (header first) and its targets table."""
    out = []
    for chunk in text.split("### ")[1:]:
        lines = chunk.strip().splitlines()
        heading = lines[0]
        tables: list[list[str]] = [[]]
        for line in lines[1:]:
            if line.startswith("|"):
                tables[-1].append(line)
            elif tables[-1]:
                tables.append([])
        tables = [t for t in tables if t]
        main = [_cells(line) for line in tables[0] if not set(line) <= set("|-: ")]
        out.append((heading, main, tables[1] if len(tables) > 1 else []))
    return out


def block(paths: list[Path]) -> str:
    """The quality page's tables for these results files, one section per dataset."""
    parts = []
    for path in paths:
        for heading, main, targets in sections(path.read_text(encoding="utf-8")):
            header = main[0]
            keep = [
                i
                for i, name in enumerate(header)
                if any(name.startswith(shown) or name == shown for shown in SHOWN)
                and not name.startswith("chosen")
            ]
            rows = [[row[i] for i in keep] for row in main]
            align = ["---" if i == 0 else "---:" for i in range(len(keep))]
            table = [f"| {' | '.join(rows[0])} |", f"| {' | '.join(align)} |"]
            table += [f"| {' | '.join(row)} |" for row in rows[1:]]
            parts.append("\n".join([f"**{heading}** (`{path.name}`)", "", *table, "", *targets]))
    return "\n\n".join(parts)


def headline(paths: list[Path]) -> str:
    """README's table: each dataset's default against ridge and the best peer, without and with tags."""
    rows = [
        "| dataset | tags | ridge | best peer by CV | default | default / ridge (p) | default / best peer (p) |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for path in paths:
        for heading, _, targets in sections(path.read_text(encoding="utf-8")):
            dataset = heading.split(":", 1)[0]
            for line in targets[2:]:
                rows.append(f"| {dataset} {line.strip()}")
    return "\n".join(rows)


def write(paths: list[Path]) -> bool:
    """Replace README's block; whether it changed."""
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    new = f"{before}{START}\n{headline(paths)}\n{END}{after}"
    README.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    given = [Path(p).resolve() for p in sys.argv[1:]] or list(DEFAULT_RESULTS)
    print("README.md " + ("updated" if write(given) else "already up to date"))
