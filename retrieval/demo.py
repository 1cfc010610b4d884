"""The main job on the bundled demo data, step by step, printing where each output is.

Example
-------
>>> from retrieval.demo import run_demo                       # doctest: +SKIP
>>> outputs = run_demo("data/demo", "runs/demo")             # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.data import load_competition


@dataclass
class DemoOutputs:
    """Where the demo put each of its outputs."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)


def run_demo(
    root: str | os.PathLike[str] = "data/demo", out: str | os.PathLike[str] = "runs/demo"
) -> DemoOutputs:
    """Load the demo's train and test parts and print their summaries."""
    root, out = Path(root), Path(out)
    outputs = DemoOutputs(out=out)
    train = load_competition(root, "train")
    answers = root / "answers_test.csv"
    test = load_competition(root, "test", answers=answers if answers.is_file() else None)
    print("== data")
    print(train.summary())
    print(test.summary())
    return outputs
