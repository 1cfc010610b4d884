"""The benchmark scripts use the package's public names only, so they measure what users call."""

from __future__ import annotations

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def private_imports(source: str) -> list[str]:
    """``module.name`` for each import of a private package module or a private name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("retrieval"):
            module = node.module or ""
            if any(part.startswith("_") for part in module.split(".")):
                found.append(module)
            found += [f"{module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [
                a.name
                for a in node.names
                if a.name.startswith("retrieval")
                and any(part.startswith("_") for part in a.name.split("."))
            ]
    return found


def test_the_checker_sees_private_imports() -> None:
    assert private_imports("from retrieval.features._extract import get_model") == [
        "retrieval.features._extract"
    ]
    assert private_imports("from retrieval.features import _auto") == ["retrieval.features._auto"]
    assert private_imports("from retrieval.features import get_model") == []


def test_no_benchmark_imports_a_private_name() -> None:
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert scripts
    offenders = {p.name: private_imports(p.read_text(encoding="utf-8")) for p in scripts}
    assert {name: found for name, found in offenders.items() if found} == {}
